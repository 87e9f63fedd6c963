//! The study's report: `REPORT.md`, `results.csv`, `results.json`.
//!
//! Table 1 is MSE on z-scored labels per system × method (valid and test, mean ± sample standard
//! deviation over pretraining seeds), with the predict-the-train-mean floor and the paper's numbers
//! beside it. Table 2 is data efficiency (probe trained on nested fractions of its training set).
//!
//! This file holds the results and the statistics drawn from them; `markdown.rs` renders `REPORT.md`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use physrep_eval::compare::Comparison;
use serde::{Deserialize, Serialize};

use super::stage::write_atomic;
use markdown::markdown;

mod markdown;

/// One probe result of one pretrained encoder (one seed).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResultRow {
    pub system: String,
    pub method: String,
    pub seed: u64,
    /// Which probe produced the numbers (`attentive`, `linear`, `knn`, `finetune`, ...).
    pub probe: String,
    pub valid_mse: f64,
    pub test_mse: f64,
    /// 95 % interval of `test_mse` (bootstrap over test trajectories).
    #[serde(default)]
    pub test_ci95: Option<[f64; 2]>,
    /// Per label column (in `label_names` order).
    pub label_names: Vec<String>,
    pub valid_per_param: Vec<f64>,
    pub test_per_param: Vec<f64>,
    /// Predict-the-train-mean floor on valid and test.
    pub floor_valid: f64,
    pub floor_test: f64,
    /// Data efficiency: (fraction of the probe's training windows, valid MSE, test MSE).
    pub fractions: Vec<(f64, f64, f64)>,
}

/// One run's learning curve: ridge-probe MSE at its initial weights and every kept checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CurveRow {
    pub system: String,
    pub method: String,
    pub seed: u64,
    /// `(updates, valid MSE, test MSE)`, update 0 = the initial weights.
    pub points: Vec<(u64, f64, f64)>,
    pub floor_test: f64,
}

/// Wall time and peak memory of one stage.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageTime {
    pub stage: String,
    pub wall_s: f64,
    pub peak_rss_mb: f64,
    pub cached: bool,
}

/// Everything the report is written from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Study {
    pub preset: String,
    pub data_source: String,
    pub systems: Vec<String>,
    pub methods: Vec<String>,
    pub seeds: Vec<u64>,
    /// Paired comparisons between arms (test-MSE ratios with bootstrap intervals); REPORT.md lists
    /// them first.
    #[serde(default)]
    pub comparisons: Vec<Comparison>,
    pub rows: Vec<ResultRow>,
    /// Learning curves of the first seed's runs (plan `curve_every`).
    #[serde(default)]
    pub curves: Vec<CurveRow>,
    pub stages: Vec<StageTime>,
    /// Figures, relative to the output directory.
    pub figures: Vec<(String, String)>,
    pub total_wall_s: f64,
}

/// Paper Table 1 (Qu et al., Well `valid`, attentive probe; MPP fine-tuned end to end): the system's
/// [`physrep_well::Protocol::paper_mse`].
pub fn paper_table1(system: &str, method: &str) -> Option<f64> {
    physrep_well::Protocol::of_name(system).paper_mse?.of(method)
}

/// Paper Table 2 (shear_flow, probe data 10 / 50 / 100 %).
pub fn paper_table2(method: &str, fraction: f64) -> Option<f64> {
    physrep_well::SystemId::ShearFlow.protocol().paper_data_efficiency?.of(method, fraction)
}

/// Mean and sample standard deviation (0 for a single value).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (m, 0.0);
    }
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

fn fmt_ms(xs: &[f64]) -> String {
    if xs.is_empty() {
        return "—".into();
    }
    let (m, s) = mean_std(xs);
    if xs.len() > 1 {
        format!("{m:.3} ± {s:.3}")
    } else {
        format!("{m:.3}")
    }
}

/// The test MSE of one (system, method, probe) over seeds, with its uncertainty.
pub enum TestSpread {
    /// One seed: the value and its bootstrap 95 % interval over test trajectories.
    Interval(f64, [f64; 2]),
    /// Mean and sample standard deviation over seeds (0 for a single seed without an interval).
    MeanStd(f64, f64),
}

impl TestSpread {
    /// Bar height and whisker `[low, high]`.
    pub fn whisker(&self) -> (f64, [f64; 2]) {
        match *self {
            TestSpread::Interval(v, ci) => (v, ci),
            TestSpread::MeanStd(m, s) => (m, [m - s, m + s]),
        }
    }
}

/// The [`TestSpread`] of `rows` (one per seed): the bootstrap interval for one seed, ± std for several.
pub fn test_spread(rows: &[&ResultRow]) -> TestSpread {
    match (rows, rows.first().and_then(|r| r.test_ci95)) {
        ([r], Some(ci)) => TestSpread::Interval(r.test_mse, ci),
        _ => {
            let (m, s) = mean_std(&rows.iter().map(|r| r.test_mse).collect::<Vec<_>>());
            TestSpread::MeanStd(m, s)
        }
    }
}

fn fmt_test(rows: &[&ResultRow]) -> String {
    match test_spread(rows) {
        TestSpread::Interval(v, [lo, hi]) => format!("{v:.3} [{lo:.3}, {hi:.3}]"),
        TestSpread::MeanStd(..) => fmt_ms(&rows.iter().map(|r| r.test_mse).collect::<Vec<_>>()),
    }
}

/// The rows of (system, method) under its main probe.
pub fn main_rows<'a>(rows: &'a [ResultRow], system: &str, method: &str) -> Vec<&'a ResultRow> {
    let probe = main_probe(rows, system, method);
    rows.iter().filter(|r| r.system == system && r.method == method && r.probe == probe).collect()
}

/// The probe reported in Table 1 for (system, method): end-to-end fine-tuning where it ran (MPP, as
/// the paper), otherwise the frozen attentive probe, otherwise ridge (the statistics baseline).
pub fn main_probe(rows: &[ResultRow], system: &str, method: &str) -> &'static str {
    let ran = |probe: &str| rows.iter().any(|r| r.system == system && r.method == method && r.probe == probe);
    if ran("finetune") {
        "finetune"
    } else if ran("attentive") || !ran("linear") {
        "attentive"
    } else {
        "linear"
    }
}

/// The references that show a system's parameters can be read from its clips at all: the supervised
/// ceiling and the trivial-statistics baseline.
pub const REFERENCES: [&str; 2] = ["supervised", "stats"];

/// Whether `system`'s parameters can be read from its clips: the references (of [`REFERENCES`]) whose
/// main-probe test MSE interval lies below the predict-the-mean floor for every seed. `None` when no
/// reference ran; `Some(empty)` when none beats the floor (not identifiable at this resolution and
/// budget).
pub fn identifiable(study: &Study, system: &str) -> Option<Vec<&'static str>> {
    let ran: Vec<(&'static str, Vec<&ResultRow>)> =
        REFERENCES.iter().map(|r| (*r, main_rows(&study.rows, system, r))).filter(|(_, rows)| !rows.is_empty()).collect();
    if ran.is_empty() {
        return None;
    }
    Some(
        ran.into_iter()
            .filter(|(_, rows)| rows.iter().all(|r| r.test_ci95.map_or(r.test_mse, |ci| ci[1]) < r.floor_test))
            .map(|(name, _)| name)
            .collect(),
    )
}

/// Mean test MSE of (system, method) under its main probe.
fn mean_test(study: &Study, system: &str, method: &str) -> Option<f64> {
    let xs: Vec<f64> = main_rows(&study.rows, system, method).iter().map(|r| r.test_mse).collect();
    (!xs.is_empty()).then(|| mean_std(&xs).0)
}

fn ranking(scores: &[(String, f64)]) -> Vec<String> {
    let mut s = scores.to_vec();
    s.sort_by(|a, b| a.1.total_cmp(&b.1));
    s.into_iter().map(|(m, _)| m).collect()
}

/// The honest comparison paragraph: our ranking vs the paper's, per system.
pub fn comparison_paragraph(study: &Study) -> String {
    let mut out = String::new();
    let mut agree = 0;
    let mut total = 0;
    for system in &study.systems {
        let ours: Vec<(String, f64)> = study
            .methods
            .iter()
            .filter(|m| paper_table1(system, m).is_some())
            .filter_map(|m| mean_test(study, system, m).map(|v| (m.clone(), v)))
            .collect();
        let paper: Vec<(String, f64)> = ours.iter().filter_map(|(m, _)| paper_table1(system, m).map(|v| (m.clone(), v))).collect();
        if ours.len() < 2 || paper.len() != ours.len() {
            continue;
        }
        let (ro, rp) = (ranking(&ours), ranking(&paper));
        // Pairwise agreement of orderings.
        let mut pairs = 0;
        let mut same = 0;
        for i in 0..ours.len() {
            for j in i + 1..ours.len() {
                let (a, b) = (&ours[i], &ours[j]);
                let pa = paper.iter().find(|p| p.0 == a.0).map(|p| p.1);
                let pb = paper.iter().find(|p| p.0 == b.0).map(|p| p.1);
                if let (Some(pa), Some(pb)) = (pa, pb) {
                    pairs += 1;
                    if (a.1 < b.1) == (pa < pb) {
                        same += 1;
                    }
                }
            }
        }
        agree += same;
        total += pairs;
        let _ = writeln!(
            out,
            "- **{system}**: ours (test, best first) {}; the paper's (valid) {}; {same} of {pairs} pairwise orderings agree.",
            ro.join(" < "),
            rp.join(" < ")
        );
    }
    let main: Vec<&ResultRow> = study.rows.iter().filter(|r| r.probe == main_probe(&study.rows, &r.system, &r.method)).collect();
    let beat = main.iter().filter(|r| r.test_mse < r.floor_test).count();
    let _ = writeln!(out, "\n{beat} of {} probed encoders (all seeds) beat the predict-the-train-mean floor on test.", main.len());
    if total > 0 {
        let _ = writeln!(
            out,
            "\nOverall {agree} of {total} pairwise method orderings agree with the paper. The data are physrep's \
             simulated analogues at reduced resolution with small pretraining budgets, not The Well, so absolute \
             numbers are not comparable with the paper's; only orderings and gaps to the floor are."
        );
    } else {
        out.push_str("Too few methods ran to compare rankings with the paper.\n");
    }
    out
}

/// Write `REPORT.md`, `results.csv` and `results.json` into `dir`.
pub fn write(study: &Study, dir: &Path) -> Result<()> {
    write_atomic(&dir.join("results.json"), &serde_json::to_vec_pretty(study)?)?;
    write_atomic(&dir.join("results.csv"), csv(study).as_bytes())?;
    write_atomic(&dir.join("REPORT.md"), markdown(study).as_bytes())?;
    Ok(())
}

fn csv(study: &Study) -> String {
    let mut s = String::from("system,method,seed,probe,valid_mse,test_mse,floor_valid,floor_test,per_param_valid,per_param_test\n");
    for r in &study.rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{:.6},{:.6},{:.6},{:.6},{},{}",
            r.system,
            r.method,
            r.seed,
            r.probe,
            r.valid_mse,
            r.test_mse,
            r.floor_valid,
            r.floor_test,
            r.label_names.iter().zip(&r.valid_per_param).map(|(n, v)| format!("{n}={v:.6}")).collect::<Vec<_>>().join(";"),
            r.label_names.iter().zip(&r.test_per_param).map(|(n, v)| format!("{n}={v:.6}")).collect::<Vec<_>>().join(";"),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(system: &str, method: &str, seed: u64, test: f64) -> ResultRow {
        ResultRow {
            system: system.into(),
            method: method.into(),
            seed,
            probe: "attentive".into(),
            valid_mse: test,
            test_mse: test,
            test_ci95: None,
            label_names: vec!["a".into(), "b".into()],
            valid_per_param: vec![test, test],
            test_per_param: vec![test, test],
            floor_valid: 1.0,
            floor_test: 1.0,
            fractions: vec![(0.5, test * 2.0, test * 2.0), (1.0, test, test)],
        }
    }

    #[test]
    fn one_seed_shows_the_bootstrap_interval_several_show_the_spread() {
        let mut a = row("shear_flow", "jepa", 0, 0.5);
        a.test_ci95 = Some([0.4, 0.7]);
        assert_eq!(fmt_test(&[&a]), "0.500 [0.400, 0.700]");
        let b = row("shear_flow", "jepa", 1, 0.7);
        assert_eq!(fmt_test(&[&a, &b]), "0.600 ± 0.141");
    }

    #[test]
    fn mean_std_is_the_sample_statistic() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert!((m - 2.0).abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
        assert_eq!(mean_std(&[4.0]), (4.0, 0.0));
    }

    #[test]
    fn rankings_are_compared_pairwise_with_the_paper() {
        let study = Study {
            preset: "t".into(),
            data_source: "x".into(),
            systems: vec!["shear_flow".into()],
            methods: vec!["jepa".into(), "videomae".into(), "disco".into()],
            seeds: vec![0],
            comparisons: vec![],
            // ours: jepa 0.2 < videomae 0.3 < disco 0.5; paper: disco 0.13 < jepa 0.38 < videomae 0.67
            rows: vec![row("shear_flow", "jepa", 0, 0.2), row("shear_flow", "videomae", 0, 0.3), row("shear_flow", "disco", 0, 0.5)],
            curves: vec![],
            stages: vec![],
            figures: vec![],
            total_wall_s: 1.0,
        };
        let p = comparison_paragraph(&study);
        // Pairs: (jepa, videomae) agree; (jepa, disco) and (videomae, disco) disagree.
        assert!(p.contains("1 of 3 pairwise"), "{p}");
        assert!(p.contains("3 of 3 probed encoders (all seeds) beat the predict-the-train-mean floor"), "{p}");
        let md = markdown(&study);
        assert!(md.contains("| shear_flow | jepa | attentive | 0.200 | 0.200 | 1.000 / 1.000 | 0.38 |"), "{md}");
        assert!(md.contains("0.57 / 0.4 / 0.38"), "{md}");
    }

    #[test]
    fn comparisons_come_first_and_old_results_still_parse() {
        let mut study = Study {
            preset: "t".into(),
            data_source: "x".into(),
            systems: vec!["rayleigh_benard".into()],
            methods: vec!["jepa".into()],
            seeds: vec![0, 1],
            comparisons: vec![],
            rows: vec![row("rayleigh_benard", "jepa", 0, 0.2)],
            curves: vec![],
            stages: vec![],
            figures: vec![],
            total_wall_s: 1.0,
        };
        assert!(!markdown(&study).contains("## Comparisons"));
        assert!(markdown(&study).contains("Total wall time 0.0 min."));
        // A rerun that reused stages says so, with the time the stages took when they ran.
        study.stages = vec![
            StageTime { stage: "a".into(), wall_s: 60.0, peak_rss_mb: 1.0, cached: true },
            StageTime { stage: "b".into(), wall_s: 30.0, peak_rss_mb: 1.0, cached: false },
        ];
        assert!(
            markdown(&study).contains("1 of 2 stages were reused from an earlier run, and all stages took 1.5 min when they ran."),
            "{}",
            markdown(&study)
        );
        study.stages.clear();
        let mut json = serde_json::to_value(&study).unwrap();
        json.as_object_mut().unwrap().remove("comparisons");
        assert!(serde_json::from_value::<Study>(json).unwrap().comparisons.is_empty());
        study.comparisons.push(Comparison {
            system: "rayleigh_benard".into(),
            probe: "linear".into(),
            a: "jepa".into(),
            b: "jepa-init".into(),
            mse_a: 0.69,
            mse_b: 1.0,
            ratio: 0.69,
            ci95: [0.58, 0.82],
            per_seed: vec![physrep_eval::compare::SeedRatio { seed: 0, mse_a: 0.6, mse_b: 1.0, ratio: 0.6 }],
            seeds_a: vec![0, 1],
            seeds_b: vec![0, 1],
            paired_seeds: true,
            clusters: 36,
            windows: 288,
            resamples: 1000,
        });
        let md = markdown(&study);
        let first = md.find("## Comparisons").expect("comparisons section");
        assert!(first < md.find("## Table 1").unwrap(), "{md}");
        assert!(md.contains("- jepa: test MSE 31 % below its initialisation (95 % CI 18–42 %);"), "{md}");
        assert!(!md.contains("identifiable"), "no ceiling ran: no verdict\n{md}");
        // A ceiling whose interval reaches the floor (1.0): flagged.
        let mut ceiling = row("rayleigh_benard", "supervised", 0, 0.8);
        ceiling.test_ci95 = Some([0.6, 1.05]);
        study.rows.push(ceiling.clone());
        assert!(markdown(&study).contains("**rayleigh_benard: not identifiable at this resolution**"));
        study.rows.last_mut().unwrap().test_ci95 = Some([0.6, 0.95]);
        assert_eq!(identifiable(&study, "rayleigh_benard"), Some(vec!["supervised"]));
        // The statistics baseline (reported under ridge) is a reference too.
        let mut stats = row("rayleigh_benard", "stats", 0, 0.3);
        (stats.probe, stats.test_ci95) = ("linear".into(), Some([0.2, 0.4]));
        study.rows.push(stats);
        assert_eq!(identifiable(&study, "rayleigh_benard"), Some(vec!["supervised", "stats"]));
        assert!(
            markdown(&study).contains("**rayleigh_benard** (identifiable: the test interval of supervised and stats lies below the floor)")
        );
        assert!(md.contains("Per-seed ratios 0: 0.600."), "{md}");
    }
}
