//! Paired comparisons between arms of the study ([`physrep_eval::compare`]), computed from the test
//! predictions every probe run saves under `predictions/`.
//!
//! Arms and where their probes live under the study directory `OUT`:
//! `<method>` → `runs/<system>/<method>/seed<k>/probe`, `<method>-init` (the run's own initial weights)
//! → `runs/<system>/<method>/seed<k>/probe-init`, `stats` (one deterministic run) →
//! `runs/<system>/stats/probe`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use physrep_eval::compare::{compare, ArmPredictions, Comparison};
use physrep_eval::ProbeKind;
use physrep_train::MethodKind;

use super::Plan;

/// Seed of the comparisons' bootstrap.
const BOOTSTRAP_SEED: u64 = 42;

/// The pretraining run directory of `method` (seed `seed`) on `system` under the study directory `out`.
pub fn run_dir(out: &Path, system: &str, method: &str, seed: u64) -> PathBuf {
    out.join("runs").join(system).join(method).join(format!("seed{seed}"))
}

/// The probe output directory of arm `arm` (seed `seed`) on `system` under the study directory `out`.
pub fn probe_dir(out: &Path, system: &str, arm: &str, seed: u64) -> PathBuf {
    match arm.strip_suffix("-init") {
        _ if arm == "stats" => out.join("runs").join(system).join("stats").join("probe"),
        Some(method) => run_dir(out, system, method, seed).join("probe-init"),
        None => run_dir(out, system, arm, seed).join("probe"),
    }
}

/// Arm `a` vs arm `b` on `system` under `probe` at data `fraction`, over `seeds` (`stats`
/// contributes its one run, as the first seed).
pub fn comparison(out: &Path, system: &str, probe: &str, fraction: f64, a: &str, b: &str, seeds: &[u64]) -> Result<Comparison> {
    let arm = |name: &str| {
        let seeds = if name == "stats" { &seeds[..seeds.len().min(1)] } else { seeds };
        let dirs: Vec<(u64, PathBuf)> = seeds.iter().map(|&s| (s, probe_dir(out, system, name, s))).collect();
        ArmPredictions::load(name, &dirs, probe, fraction)
    };
    Ok(compare(system, probe, &arm(a)?, &arm(b)?, physrep_eval::bootstrap::RESAMPLES, BOOTSTRAP_SEED)?)
}

/// The pairs a plan answers its questions with, for one probe: every method against its own
/// initialisation, JEPA against VideoMAE (the paper's headline), and JEPA against the trivial
/// statistics (where the baseline ran this probe).
pub fn pairs(plan: &Plan, probe: ProbeKind) -> Vec<(String, String)> {
    let has = |m: MethodKind| plan.methods.contains(&m);
    let mut pairs: Vec<(String, String)> =
        plan.methods.iter().filter(|m| plan.init_controls.contains(m)).map(|m| (m.to_string(), format!("{m}-init"))).collect();
    if has(MethodKind::Jepa) && has(MethodKind::VideoMae) {
        pairs.push(("jepa".into(), "videomae".into()));
    }
    if has(MethodKind::Jepa) && plan.stats_baseline && plan.stats_probes().contains(&probe) {
        pairs.push(("jepa".into(), "stats".into()));
    }
    pairs
}

/// Every pair of [`pairs`] per system and probe, at the largest probe fraction. A pair whose
/// predictions are missing is skipped with a warning.
pub fn study_comparisons(plan: &Plan, out: &Path) -> Vec<Comparison> {
    let mut found = Vec::new();
    let fraction = plan.probe_fractions.iter().copied().fold(f64::NAN, f64::max);
    for system in &plan.systems {
        for &probe in &plan.probes {
            for (a, b) in pairs(plan, probe) {
                match comparison(out, system.name(), probe.name(), fraction, &a, &b, &plan.seeds) {
                    Ok(c) => found.push(c),
                    Err(e) => eprintln!("warning: comparison {a} vs {b} ({system}, {probe}) skipped: {e:#}"),
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use physrep_eval::predictions::{predictions_path, PredictionTable, WindowId};

    #[test]
    fn reads_the_study_layout() {
        let out = std::env::temp_dir().join(format!("physrep-compare-layout-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let windows: Vec<WindowId> = (0..4).map(|i| WindowId { file: format!("p{i}.hdf5"), trajectory: 0, t0: 0, cluster: i }).collect();
        let truth = vec![0.0f32; 4];
        let write = |arm: &str, seed: u64, err: f32| {
            let t = PredictionTable::new(vec!["a".into()], windows.clone(), truth.clone(), vec![err; 4]).unwrap();
            t.write_csv(&predictions_path(&probe_dir(&out, "sys", arm, seed), "linear", 1.0, "test")).unwrap();
        };
        for seed in [0, 1] {
            write("jepa", seed, 0.5);
            write("jepa-init", seed, 1.0);
        }
        write("stats", 0, 0.25);
        assert!(probe_dir(&out, "sys", "jepa-init", 1).ends_with("runs/sys/jepa/seed1/probe-init"));
        let c = comparison(&out, "sys", "linear", 1.0, "jepa", "jepa-init", &[0, 1]).unwrap();
        assert_eq!((c.ratio, c.ci95, c.seeds_a.clone(), c.paired_seeds), (0.25, [0.25, 0.25], vec![0, 1], true));
        let c = comparison(&out, "sys", "linear", 1.0, "jepa", "stats", &[0, 1]).unwrap();
        assert_eq!((c.ratio, c.seeds_b.clone()), (4.0, vec![0]));
        assert!(comparison(&out, "sys", "knn", 1.0, "jepa", "jepa-init", &[0, 1]).is_err());
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn the_default_plan_compares_each_control_and_the_headline() {
        let plan = Plan::preset("default").unwrap();
        let linear = pairs(&plan, ProbeKind::Linear);
        for pair in [("jepa", "jepa-init"), ("videomae", "videomae-init"), ("jepa", "videomae"), ("jepa", "stats")] {
            assert!(linear.contains(&(pair.0.into(), pair.1.into())), "{pair:?} missing from {linear:?}");
        }
        assert!(!pairs(&plan, ProbeKind::Attentive).iter().any(|(_, b)| b == "stats"), "stats runs no attentive probe");
    }
}
