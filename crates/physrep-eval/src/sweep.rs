//! Attentive-probe hyperparameter sweep: an lr × weight-decay grid trained in parallel (rayon) on
//! cached features, selected on valid (final epoch), reported on test. The paper-protocol number
//! (default lr 1e-3 / wd 0.01, final epoch, valid) is always part of the grid.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::features::Features;
use crate::metrics::{mse, Scores};
use crate::probes::attentive::{AttentiveProbeTrainer, ProbeTrainConfig};
use crate::probes::{FitReport, Probe};
use physrep_nn::attentive_probe::AttentiveProbeConfig;

/// The grid. `Default` = lr {1e-3, 3e-4} × wd {0.01, 0.1}.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepConfig {
    pub lrs: Vec<f64>,
    pub weight_decays: Vec<f64>,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self { lrs: vec![1e-3, 3e-4], weight_decays: vec![0.01, 0.1] }
    }
}

/// One trained grid point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepEntry {
    pub lr: f64,
    pub weight_decay: f64,
    /// Final-epoch valid scores.
    pub valid: Scores,
    /// Test scores (if a test split was given).
    pub test: Option<Scores>,
    pub fit: FitReport,
}

/// All grid points, the one selected on valid, and the paper-protocol point.
#[derive(Debug)]
pub struct SweepOutcome {
    pub entries: Vec<SweepEntry>,
    /// Index of the entry with the lowest final-epoch valid MSE (ties → earlier in grid order).
    pub selected: usize,
    /// Index of the entry with the base config's (lr, wd) — the paper's hyperparameters by default.
    pub paper: usize,
    /// The selected probe, fitted (for predictions and plots).
    pub selected_probe: AttentiveProbeTrainer,
}

/// Train every (lr, wd) of `grid` plus the base config's own (lr, wd), in parallel.
pub fn sweep(
    name: &str,
    arch: &AttentiveProbeConfig,
    base: &ProbeTrainConfig,
    grid: &SweepConfig,
    train: &[Features],
    valid: &Features,
    test: Option<&Features>,
) -> Result<SweepOutcome, EvalError> {
    let mut points: Vec<(f64, f64)> = vec![(base.lr, base.weight_decay)];
    for &lr in &grid.lrs {
        for &wd in &grid.weight_decays {
            if !points.contains(&(lr, wd)) {
                points.push((lr, wd));
            }
        }
    }
    let results: Vec<Result<(SweepEntry, AttentiveProbeTrainer), EvalError>> = points
        .par_iter()
        .map(|&(lr, weight_decay)| {
            let cfg = ProbeTrainConfig { lr, weight_decay, ..base.clone() };
            let mut probe = AttentiveProbeTrainer::new(name, arch.clone(), cfg);
            let fit = probe.fit(train, valid)?;
            let valid_scores = mse(&probe.predict(valid)?, valid.labels(), valid.label_dim())?;
            let test_scores = match test {
                Some(t) => Some(mse(&probe.predict(t)?, t.labels(), t.label_dim())?),
                None => None,
            };
            Ok((SweepEntry { lr, weight_decay, valid: valid_scores, test: test_scores, fit }, probe))
        })
        .collect();
    let mut entries = Vec::with_capacity(results.len());
    let mut probes = Vec::with_capacity(results.len());
    for r in results {
        let (e, p) = r?;
        entries.push(e);
        probes.push(p);
    }
    let selected = (0..entries.len())
        .min_by(|&a, &b| entries[a].valid.mean.total_cmp(&entries[b].valid.mean).then(a.cmp(&b)))
        .expect("grid has the base point");
    let selected_probe = probes.swap_remove(selected);
    Ok(SweepOutcome { entries, selected, paper: 0, selected_probe })
}
