//! `physrep bench sim-grid`: every selected parameter point is timed, the estimate adds up, bad input is a
//! clear error.

use std::process::Command;

fn sim_grid(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_physrep")).args(["bench", "sim-grid"]).args(args).output().expect("the physrep binary runs")
}

#[test]
fn a_tiny_grid_is_timed_point_by_point() {
    let out = sim_grid(&["shear_flow", "--preset", "tiny", "--ics", "2", "--cores", "1", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let points = v["points"].as_array().expect("points");
    assert_eq!(points.len(), 2, "tiny shear_flow has two Reynolds numbers");
    let mut sum = 0.0;
    for p in points {
        let s: Vec<f64> = p["seconds"].as_array().unwrap().iter().map(|t| t.as_f64().unwrap()).collect();
        assert!(s.len() == 2 && s.iter().all(|&t| t > 0.0), "{p}");
        let n: u64 = p["split_counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum();
        // One core: every trajectory of the file one after the other.
        let file = p["wall_s"].as_f64().unwrap();
        assert!((file - n as f64 * (s[0] + s[1]) / 2.0).abs() < 1e-9 * file.max(1.0), "{p}");
        sum += file;
    }
    assert!((v["grid_wall_s"].as_f64().unwrap() - sum).abs() < 1e-9 * sum.max(1.0));
}

#[test]
fn an_unknown_parameter_point_names_the_grid() {
    let out = sim_grid(&["shear_flow", "--preset", "tiny", "--params", "7"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`7`") && err.contains("shear_flow_Reynolds_5e2"), "{err}");
}
