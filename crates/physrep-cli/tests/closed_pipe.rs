//! A reader that stops early (`physrep inspect DIR | head -1`) ends `physrep` quietly, as it ends other
//! command-line tools: no panic message, no error exit, at most death by SIGPIPE.

use std::process::{Command, Stdio};

#[test]
fn a_closed_stdout_is_not_a_panic() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/well/active_matter");
    assert!(fixture.exists(), "fixtures not found: {}", fixture.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_physrep"))
        .arg("inspect")
        .arg(&fixture)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("physrep runs");
    // Close the read end before physrep writes: its first write meets a closed pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "physrep panicked on a closed pipe:\n{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert!(out.status.success() || out.status.signal() == Some(libc::SIGPIPE), "{:?}\n{stderr}", out.status);
    }
}
