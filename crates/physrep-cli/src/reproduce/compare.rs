//! Paired comparisons between arms of the study ([`physrep_eval::compare`]), computed from the test
//! predictions every probe run saves under `probe/predictions/`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use physrep_eval::compare::{compare, ArmPredictions, Comparison};

use super::Plan;

/// Seed of the comparisons' bootstrap.
const BOOTSTRAP_SEED: u64 = 42;

/// The probe output directory of `method`'s run with `seed` under the study directory `out`
/// (`random`, the random-init control, has a single run).
pub fn probe_dir(out: &Path, system: &str, method: &str, seed: u64) -> PathBuf {
    let runs = out.join("runs").join(system).join(method);
    if method == "random" {
        runs.join("probe")
    } else {
        runs.join(format!("seed{seed}")).join("probe")
    }
}

/// Arm `a` vs arm `b` on `system` under `probe` at data `fraction`, over `seeds` (the random control
/// contributes its one run, as the first seed).
pub fn comparison(out: &Path, system: &str, probe: &str, fraction: f64, a: &str, b: &str, seeds: &[u64]) -> Result<Comparison> {
    let arm = |method: &str| {
        let seeds = if method == "random" { &seeds[..seeds.len().min(1)] } else { seeds };
        let dirs: Vec<(u64, PathBuf)> = seeds.iter().map(|&s| (s, probe_dir(out, system, method, s))).collect();
        ArmPredictions::load(method, &dirs, probe, fraction)
    };
    Ok(compare(system, probe, &arm(a)?, &arm(b)?, physrep_eval::bootstrap::RESAMPLES, BOOTSTRAP_SEED)?)
}

/// The pairs the plan ran: JEPA against its random-init control (same architecture), per system and
/// probe, at the largest probe fraction. A pair whose predictions are missing (e.g. probe stages cached
/// before predictions were saved) is skipped with a warning.
pub fn study_comparisons(plan: &Plan, out: &Path) -> Vec<Comparison> {
    let mut found = Vec::new();
    if !(plan.random_control && plan.methods.iter().any(|m| m == "jepa")) {
        return found;
    }
    let fraction = plan.probe_fractions.iter().copied().fold(f64::NAN, f64::max);
    for system in &plan.systems {
        for probe in &plan.probes {
            match comparison(out, system, probe, fraction, "jepa", "random", &plan.seeds) {
                Ok(c) => found.push(c),
                Err(e) => eprintln!("warning: comparison jepa vs random ({system}, {probe}) skipped: {e:#}"),
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
        let out = tempfile::tempdir().unwrap();
        let windows: Vec<WindowId> = (0..4).map(|i| WindowId { file: format!("p{i}.hdf5"), trajectory: 0, t0: 0, cluster: i }).collect();
        let truth = vec![0.0f32; 4];
        let write = |method: &str, seed: u64, err: f32| {
            let t = PredictionTable::new(vec!["a".into()], windows.clone(), truth.clone(), vec![err; 4]).unwrap();
            t.write_csv(&predictions_path(&probe_dir(out.path(), "sys", method, seed), "linear", 1.0, "test")).unwrap();
        };
        write("jepa", 0, 0.5);
        write("jepa", 1, 0.5);
        write("random", 0, 1.0);
        let c = comparison(out.path(), "sys", "linear", 1.0, "jepa", "random", &[0, 1]).unwrap();
        assert_eq!((c.ratio, c.ci95, c.seeds_a.clone(), c.seeds_b.clone()), (0.25, [0.25, 0.25], vec![0, 1], vec![0]));
        assert!(comparison(out.path(), "sys", "knn", 1.0, "jepa", "random", &[0, 1]).is_err());
    }
}
