//! Regression metrics on z-scored labels.

use serde::{Deserialize, Serialize};

use crate::error::EvalError;

/// Mean squared error per label column and averaged over columns (exact per-sample mean).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// MSE of each label column.
    pub per_param: Vec<f64>,
    /// Unweighted mean of `per_param` (= MSE over all n × P entries).
    pub mean: f64,
}

/// MSE of `pred` against `truth`, both row-major `(n, p)`.
pub fn mse(pred: &[f32], truth: &[f32], p: usize) -> Result<Scores, EvalError> {
    if pred.len() != truth.len() || p == 0 || !truth.len().is_multiple_of(p) || truth.is_empty() {
        return Err(EvalError::shape("predictions vs labels", truth.len(), pred.len()));
    }
    let n = truth.len() / p;
    let mut per_param = vec![0.0f64; p];
    for (i, (a, b)) in pred.iter().zip(truth).enumerate() {
        let e = *a as f64 - *b as f64;
        per_param[i % p] += e * e;
    }
    for v in per_param.iter_mut() {
        *v /= n as f64;
    }
    if per_param.iter().any(|v| !v.is_finite()) {
        return Err(EvalError::NonFinite("probe predictions".into()));
    }
    let mean = per_param.iter().sum::<f64>() / p as f64;
    Ok(Scores { per_param, mean })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_param_and_mean() {
        let s = mse(&[1.0, 0.0, 3.0, 0.0], &[0.0, 0.0, 0.0, 2.0], 2).unwrap();
        assert_eq!(s.per_param, vec![5.0, 2.0]);
        assert_eq!(s.mean, 3.5);
        assert!(mse(&[1.0], &[1.0, 2.0], 2).is_err());
    }
}
