//! `physrep simulate --design`: a design of the tiny advection preset is generated, split by parameter point
//! and readable by `physrep inspect`; a design with `--params`, or a too small one, is a clear error.

use std::process::Command;

fn physrep(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_physrep")).args(args).output().expect("the physrep binary runs")
}

#[test]
fn a_design_is_generated_split_by_point_and_inspected() {
    let out = std::env::temp_dir().join(format!("physrep-cli-design-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = physrep(&["simulate", "advection", "--preset", "tiny", "--design", "lhs:4", "--seed", "3", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = out.join("advection");
    assert!(dir.join("design.json").is_file());
    let o = physrep(&["inspect", dir.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(v["labels"], serde_json::json!(["speed"]));
    // 4 points: 2 train, 1 valid, 1 test, each point's 4 trajectories in one file.
    for (split, files) in [("train", 2), ("valid", 1), ("test", 1)] {
        assert_eq!(v["splits"][split]["files"], files, "{split}: {v}");
        assert_eq!(v["splits"][split]["trajectories"], 4 * files, "{split}: {v}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_designs_are_clear_errors() {
    let o = physrep(&["simulate", "advection", "--design", "lhs:4", "--params", "1", "--out", "unused"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--params"));
    let o = physrep(&["simulate", "advection", "--design", "lhs:2", "--out", "unused"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("lhs:2") && err.contains("N ≥ 3"), "{err}");
    assert!(!std::path::Path::new("unused").exists());
}
