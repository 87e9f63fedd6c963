//! `PHYSREP_ALLOC_CACHE_MB` (the bound of the binary's buffer cache) is checked before any command runs.

use std::process::Command;

fn physrep_with_cache(value: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_physrep"))
        .env("PHYSREP_ALLOC_CACHE_MB", value)
        .arg("--version")
        .output()
        .expect("the physrep binary runs")
}

#[test]
fn a_bad_cache_bound_is_a_clear_error_and_a_number_is_accepted() {
    let bad = physrep_with_cache("lots");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("PHYSREP_ALLOC_CACHE_MB") && err.contains("`lots`"), "{err}");
    for ok in ["0", "512"] {
        let out = physrep_with_cache(ok);
        assert!(out.status.success(), "PHYSREP_ALLOC_CACHE_MB={ok}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
