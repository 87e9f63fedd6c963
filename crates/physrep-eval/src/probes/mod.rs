//! Probes on frozen features, all behind one fit/predict interface ([`Probe`]).
//!
//! * [`mean::MeanProbe`] — the predict-the-train-mean floor (≈ 1.0 on z-scored labels).
//! * [`ridge::RidgeProbe`] — closed-form ridge on standardised mean-pooled tokens, λ chosen on valid.
//! * [`knn::KnnProbe`] — k nearest neighbours on standardised mean-pooled tokens, k chosen on valid.
//! * [`attentive::AttentiveProbeTrainer`] — the paper's attentive probe (or V-JEPA 2's 4-block one),
//!   trained with AdamW, warm-up + cosine, accumulation (`docs/paper-protocol.md` §10.3, §13).

pub mod attentive;
pub mod knn;
pub mod mean;
pub mod ridge;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::features::Features;

/// What a fit chose and how it went.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Hyperparameters in effect (chosen on valid, or fixed), e.g. `lambda`, `k`, `lr`, `weight_decay`.
    pub hyper: BTreeMap<String, f64>,
    /// Mean training loss per epoch (iterative probes).
    pub train_loss: Vec<f64>,
    /// Valid MSE (mean over parameters) per epoch, or per candidate for selection-based probes.
    pub valid_curve: Vec<f64>,
}

/// A regressor from features to labels.
pub trait Probe: Send {
    /// Short name for reports (`attentive`, `linear`, `knn`, `attentive4`, `mean`).
    fn name(&self) -> &str;
    /// Fit on `train` (one feature set per cached noise draw, same windows and labels, cycled over
    /// epochs; `train.len() == 1` without noise), selecting hyperparameters on `valid` if the probe has any.
    fn fit(&mut self, train: &[Features], valid: &Features) -> Result<FitReport, EvalError>;
    /// Predictions `(n, p)` row-major for `x`.
    fn predict(&self, x: &Features) -> Result<Vec<f32>, EvalError>;
}

/// Common checks on a fit's inputs: at least one non-empty draw, consistent shapes.
pub(crate) fn check_fit_inputs(train: &[Features], valid: &Features) -> Result<(), EvalError> {
    let first = train.first().ok_or_else(|| EvalError::Data("no training features".into()))?;
    if first.is_empty() {
        return Err(EvalError::Data("empty training set".into()));
    }
    for f in train.iter().chain(std::iter::once(valid)) {
        if (f.tokens_per_row(), f.dim(), f.label_dim()) != (first.tokens_per_row(), first.dim(), first.label_dim()) {
            return Err(EvalError::shape(
                "probe features (tokens, dim, labels)",
                (first.tokens_per_row(), first.dim(), first.label_dim()),
                (f.tokens_per_row(), f.dim(), f.label_dim()),
            ));
        }
    }
    for f in &train[1..] {
        if f.len() != first.len() || f.labels() != first.labels() {
            return Err(EvalError::Data("noise draws must share windows and labels".into()));
        }
    }
    Ok(())
}

/// Per-column mean and std (population, floored) of row-major `(n, d)` data, in f64.
pub(crate) fn standardiser(x: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = x.len() / d;
    let mut mean = vec![0.0; d];
    for row in x.chunks_exact(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut var = vec![0.0; d];
    for row in x.chunks_exact(d) {
        for k in 0..d {
            var[k] += (row[k] - mean[k]).powi(2);
        }
    }
    let scale = var.iter().map(|v| {
        let s = (v / n as f64).sqrt();
        if s > 1e-12 {
            s
        } else {
            1.0
        }
    });
    (mean, scale.collect())
}

/// Apply a standardiser in place.
pub(crate) fn standardise(x: &mut [f64], mean: &[f64], scale: &[f64]) {
    let d = mean.len();
    for row in x.chunks_exact_mut(d) {
        for k in 0..d {
            row[k] = (row[k] - mean[k]) / scale[k];
        }
    }
}
