//! `physrep bench jepa-step`: one tiny timed step on the CPU, and `--device cuda` in a build without the
//! `cuda` feature is a clear error.

use std::process::Command;

fn jepa_step(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_physrep")).args(["bench", "jepa-step"]).args(args).output().expect("the physrep binary runs")
}

#[test]
fn a_cpu_train_step_reports_a_finite_loss() {
    let out = jepa_step(&["--batch", "1", "--res", "16", "--channels", "2", "--steps", "1", "--warmup", "0", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(v["device"], "cpu");
    assert_eq!((v["mode"].as_str(), v["batch"].as_u64(), v["res"].as_u64()), (Some("train"), Some(1), Some(16)));
    let loss = v["last_value"].as_f64().expect("a loss");
    assert!(loss.is_finite() && loss > 0.0, "VICReg loss {loss}");
    assert_eq!(v["times_ms"].as_array().map(Vec::len), Some(1));
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_the_feature_is_a_clear_error() {
    let out = jepa_step(&["--device", "cuda", "--steps", "1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--features cuda"), "{err}");
}
