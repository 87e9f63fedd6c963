//! The predict-the-train-mean floor: every prediction is the mean training label.
//! On z-scored labels whose train mean is ≈ 0 and variance ≈ 1 this scores ≈ 1.0.

use super::{check_fit_inputs, FitReport, Probe};
use crate::error::EvalError;
use crate::features::Features;

/// Predicts the per-column mean of the training labels.
#[derive(Clone, Debug, Default)]
pub struct MeanProbe {
    mean: Option<Vec<f32>>,
}

impl Probe for MeanProbe {
    fn name(&self) -> &str {
        "mean"
    }

    fn fit(&mut self, train: &[Features], valid: &Features) -> Result<FitReport, EvalError> {
        check_fit_inputs(train, valid)?;
        let f = &train[0];
        let p = f.label_dim();
        let mut mean = vec![0.0f64; p];
        for (i, v) in f.labels().iter().enumerate() {
            mean[i % p] += *v as f64;
        }
        self.mean = Some(mean.iter().map(|m| (m / f.len() as f64) as f32).collect());
        Ok(FitReport::default())
    }

    fn predict(&self, x: &Features) -> Result<Vec<f32>, EvalError> {
        let mean = self.mean.as_ref().ok_or_else(|| EvalError::Config("mean probe used before fit".into()))?;
        if mean.len() != x.label_dim() {
            return Err(EvalError::shape("label columns", mean.len(), x.label_dim()));
        }
        Ok((0..x.len()).flat_map(|_| mean.iter().copied()).collect())
    }
}
