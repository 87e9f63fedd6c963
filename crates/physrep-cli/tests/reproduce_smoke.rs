//! `physrep reproduce --preset smoke` end to end: simulate the paper's three systems and the advection
//! control (on a design), pretrain every method and the supervised ceiling, probe them and their own
//! initial weights, probe the statistics baseline, fine-tune MPP, compare the arms and write the report. Checks the report's contents, that a rerun reuses every
//! stage, and that a run killed part-way finishes, when rerun, with the same numbers as the uninterrupted one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn physrep(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_physrep")).args(args).output().expect("physrep runs")
}

fn pngs_under(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            n += pngs_under(&p);
        } else if p.extension().is_some_and(|e| e == "png") {
            n += 1;
        }
    }
    n
}

#[test]
fn smoke_preset_writes_every_table_and_figure_and_resumes_from_its_stages() {
    let out = std::env::temp_dir().join(format!("physrep-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let out_s = out.to_str().unwrap();
    let run = physrep(&["reproduce", "--preset", "smoke", "--out", out_s]);
    assert!(run.status.success(), "reproduce failed:\n{}", String::from_utf8_lossy(&run.stderr));

    let report = std::fs::read_to_string(out.join("REPORT.md")).expect("REPORT.md");
    for method in ["jepa", "videomae", "mpp", "disco"] {
        assert!(report.contains(&format!("| {method} |")), "REPORT.md lacks a Table 1 row for {method}:\n{report}");
    }
    for section in ["## Table 1", "## Table 2", "## Where our ranking agrees", "## Wall time and peak memory"] {
        assert!(report.contains(section), "REPORT.md lacks {section}");
    }
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let rows = results["rows"].as_array().expect("results.json rows");
    for system in ["active_matter", "shear_flow", "rayleigh_benard"] {
        for method in ["jepa", "videomae", "mpp", "disco"] {
            assert!(
                rows.iter().any(|r| r["system"] == system && r["method"] == method && r["test_mse"].as_f64().is_some_and(f64::is_finite)),
                "no finite test MSE for {system}/{method}"
            );
        }
    }
    // The study's arms on every system, the control included: own-init controls, the supervised
    // ceiling and the statistics baseline (ridge), and the paired comparisons, reported first.
    for system in ["active_matter", "shear_flow", "rayleigh_benard", "advection"] {
        for (arm, probe) in
            [("jepa", "linear"), ("jepa-init", "attentive"), ("videomae-init", "linear"), ("supervised", "attentive"), ("stats", "linear")]
        {
            assert!(
                rows.iter().any(|r| r["system"] == system
                    && r["method"] == arm
                    && r["probe"] == probe
                    && r["test_mse"].as_f64().is_some_and(f64::is_finite)),
                "no finite {probe} test MSE for {system}/{arm}"
            );
        }
        assert!(
            out.join(format!("runs/{system}/jepa/seed0/probe-init/predictions/linear_1_test.csv")).exists(),
            "{system}: own-init predictions"
        );
    }
    let comparisons = results["comparisons"].as_array().expect("results.json comparisons");
    for (a, b) in [("jepa", "jepa-init"), ("videomae", "videomae-init"), ("jepa", "videomae"), ("jepa", "stats")] {
        assert!(
            comparisons.iter().any(|c| c["system"] == "advection"
                && c["probe"] == "linear"
                && c["a"] == a
                && c["b"] == b
                && c["ci95"][1].as_f64().is_some_and(f64::is_finite)),
            "no {a} vs {b} comparison on the control"
        );
    }
    assert!(
        report.find("## Comparisons").is_some_and(|c| c < report.find("## Table 1").unwrap()),
        "comparisons do not come first:\n{report}"
    );
    // The control is simulated on a design split by parameter point.
    assert!(out.join("data/advection/design.json").exists());

    // Learning curves: JEPA's and VideoMAE's first runs probed with ridge at their initial weights and
    // every kept checkpoint, the first point equal to the run's own-init ridge row.
    let curves = results["curves"].as_array().expect("results.json has curves");
    for system in ["active_matter", "shear_flow", "rayleigh_benard", "advection"] {
        for method in ["jepa", "videomae"] {
            let c = curves
                .iter()
                .find(|c| c["system"] == system && c["method"] == method)
                .unwrap_or_else(|| panic!("no curve {system}/{method}"));
            let points = c["points"].as_array().unwrap();
            assert!(points.len() >= 2 && points[0][0] == 0 && points[1][0].as_u64() > Some(0), "{system}/{method}: {points:?}");
            let init_ridge = rows
                .iter()
                .find(|r| r["system"] == system && r["method"] == format!("{method}-init") && r["probe"] == "linear")
                .expect("an own-init ridge row");
            assert_eq!(points[0][1], init_ridge["valid_mse"], "{system}/{method}: the curve starts at the own-init probe");
        }
        assert!(out.join(format!("figures/learning_curve_{system}.png")).exists());
    }
    assert!(report.contains("## Learning curves"), "REPORT.md lacks the learning curves");

    // MPP is fine-tuned end to end as the paper (after its frozen probe), and Table 1 reports that row.
    for system in ["active_matter", "shear_flow", "rayleigh_benard"] {
        assert!(
            rows.iter().any(|r| r["system"] == system
                && r["method"] == "mpp"
                && r["probe"] == "finetune"
                && r["test_mse"].as_f64().is_some_and(f64::is_finite)),
            "no finite fine-tuning row for {system}/mpp"
        );
        assert!(
            rows.iter().any(|r| r["system"] == system && r["method"] == "mpp" && r["probe"] == "attentive"),
            "{system}/mpp lost its frozen probe row"
        );
        assert!(
            report.contains(&format!("| {system} | mpp | finetune |")),
            "Table 1 does not report MPP's fine-tuning for {system}:\n{report}"
        );
    }
    assert!(out.join("runs/active_matter/mpp/seed0/finetune/results.json").exists());
    assert!(out.join("results.csv").exists());
    assert!(pngs_under(&out) >= 3, "fewer than three PNG figures under {}", out.display());

    // A rerun finds every stage done and reproduces the same numbers.
    let again = physrep(&["reproduce", "--preset", "smoke", "--out", out_s]);
    assert!(again.status.success(), "rerun failed:\n{}", String::from_utf8_lossy(&again.stderr));
    let results2: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["rows"], results2["rows"], "a rerun changed the results");
    assert!(results2["stages"].as_array().unwrap().iter().all(|s| s["cached"] == true), "a rerun recomputed a stage");

    // Kill a second run part-way (SIGKILL: no chance to clean up), rerun it: same numbers.
    let killed = out.with_extension("killed");
    let _ = std::fs::remove_dir_all(&killed);
    let total_s = results["total_wall_s"].as_f64().expect("total_wall_s");
    let mut child = Command::new(env!("CARGO_BIN_EXE_physrep"))
        .args(["reproduce", "--preset", "smoke", "--out", killed.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("physrep starts");
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < 0.4 * total_s && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let finished_early = child.try_wait().unwrap().is_some();
    child.kill().ok();
    child.wait().unwrap();
    assert!(!finished_early, "the run finished before it could be killed");
    assert!(!killed.join("results.json").exists(), "the killed run wrote its results");
    let resumed = physrep(&["reproduce", "--preset", "smoke", "--out", killed.to_str().unwrap()]);
    assert!(resumed.status.success(), "resumed run failed:\n{}", String::from_utf8_lossy(&resumed.stderr));
    let results3: serde_json::Value = serde_json::from_slice(&std::fs::read(killed.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["rows"], results3["rows"], "the killed and resumed run differs from the uninterrupted one");
    assert!(results3["stages"].as_array().unwrap().iter().any(|s| s["cached"] == true), "the resumed run reused no stage");
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&killed).unwrap();
}
