//! Bad-input and fault suite for the `physrep` binary: one table of cases (`faults/cases.rs`), each a
//! scratch directory built from the Well fixtures (`../shared/fixtures/well`, copied, never mutated in
//! place), one command and the expected outcome; plus procedures (`faults/procs.rs`) for faults that
//! are not one command (two writers at once, SIGKILL and rerun).
//!
//! Every case is checked for the invariants of a well-behaved CLI, whatever its expectation:
//! - no panic (exit 101, `panicked at`, `RUST_BACKTRACE` on stderr), no death by a signal, no hang;
//! - a failure prints a line starting with `error:` and exits with the expected code (2: argument
//!   parsing, 1: everything else);
//! - every file present before the command is byte-identical after it unless the case lists it (or a
//!   folder above it) in `may_change`;
//! - no temporary file (a name containing `.tmp`) is left anywhere in the scratch directory.
//!
//! Expensive artefacts (a tiny pretrain run, probed; a half-finished run; a tiny RB run; a simulated
//! tiny dataset) are made once per test in a shared folder and copied into each case's scratch dir.
//! Adding a case is one entry in `cases::all()`.

mod faults {
    pub mod cases;
    pub mod h5edit;
    pub mod harness;
    pub mod procs;
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use faults::harness::{run_case, Ctx, Fault};

#[test]
fn bad_input_suite() {
    let ctx = Arc::new(Ctx::build());
    let mut cases = faults::cases::all();
    cases.extend(faults::procs::all());
    let mut seen = std::collections::HashSet::new();
    for c in &cases {
        assert!(seen.insert(c.name), "duplicate case name {}", c.name);
    }
    let filter = std::env::var("FAULTS_FILTER").ok();
    let cases: Vec<_> = cases.into_iter().filter(|c| filter.as_deref().is_none_or(|f| c.name.contains(f))).collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<(), Fault>)>> = Mutex::new(Vec::new());
    let workers: usize = std::env::var("FAULTS_WORKERS").ok().and_then(|w| w.parse().ok()).unwrap_or(2);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let t = std::time::Instant::now();
                let r = run_case(&ctx, i, case);
                match &r {
                    Ok(()) => println!("ok   {} ({:.1} s)", case.name, t.elapsed().as_secs_f64()),
                    Err(f) => println!("FAIL {}: {}", case.name, f),
                }
                results.lock().unwrap().push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    let failed: Vec<(&str, &Fault)> = results.iter().filter_map(|(i, r)| r.as_ref().err().map(|f| (cases[*i].name, f))).collect();
    let mut kinds = std::collections::BTreeMap::new();
    for (_, f) in &failed {
        *kinds.entry(f.kind.label()).or_insert(0usize) += 1;
    }
    let by_kind: Vec<String> =
        faults::harness::FaultKind::ALL.iter().map(|k| format!("{}: {}", k.label(), kinds.get(k.label()).copied().unwrap_or(0))).collect();
    let line = format!(
        "faults: {} cases, {} passed, {} failed ({})",
        results.len(),
        results.len() - failed.len(),
        failed.len(),
        by_kind.join(", ")
    );
    println!("{line}");
    // Failing cases' scratch dirs are kept for inspection only on request (they hold dataset copies).
    if std::env::var_os("FAULTS_KEEP").is_some() {
        println!("scratch dirs of failing cases kept under {}", ctx.root.display());
    } else {
        ctx.cleanup();
    }
    if !failed.is_empty() {
        let list: Vec<String> = failed.iter().map(|(n, f)| format!("  {n}: {f}")).collect();
        panic!("{line}\n{}", list.join("\n"));
    }
}
