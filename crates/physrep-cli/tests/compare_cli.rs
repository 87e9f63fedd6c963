//! `physrep compare` on hand-made predictions: the printed ratio and interval are those of the errors
//! written, seeds are paired by position, and a malformed arm is a clear error.

use std::process::Command;

use physrep_eval::predictions::{predictions_path, PredictionTable, WindowId};

fn physrep(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_physrep")).args(args).output().expect("physrep runs")
}

#[test]
fn compare_prints_the_paired_ratio() {
    let dir = std::env::temp_dir().join(format!("physrep-compare-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let windows: Vec<WindowId> =
        (0..6).map(|i| WindowId { file: format!("p{}.hdf5", i / 2), trajectory: i % 2, t0: 0, cluster: i / 2 }).collect();
    // Arm A errs by 0.5 on every window, arm B by 1.0: MSE ratio 0.25 on every resample.
    let write = |name: &str, err: f32| {
        let t = PredictionTable::new(vec!["speed".into()], windows.clone(), vec![0.0; 6], vec![err; 6]).unwrap();
        let out = dir.join(name);
        t.write_csv(&predictions_path(&out, "linear", 1.0, "test")).unwrap();
        out.display().to_string()
    };
    let (a0, a1, b0, b1) = (write("a0", 0.5), write("a1", 0.5), write("b0", 1.0), write("b1", 1.0));
    let out = physrep(&["compare", "--a", &format!("jepa={a0},{a1}"), "--b", &format!("jepa-init={b0},{b1}"), "--probe", "linear"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("jepa: test MSE 75 % below its initialisation (95 % CI 75–75 %); MSE ratio 0.250 [0.250, 0.250], linear probe, 2 paired seeds, 3 parameter points (6 test windows)"), "{text}");
    assert!(text.contains("seed 1: MSE 0.2500 / 1.0000 = 0.250"), "{text}");
    // A missing probe and a malformed arm are errors that say what is wrong.
    let out = physrep(&["compare", "--a", &format!("jepa={a0}"), "--b", &format!("jepa-init={b0}"), "--probe", "knn"]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("knn_1_test.csv"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = physrep(&["compare", "--a", &a0, "--b", &b0]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("expected NAME=DIR"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
