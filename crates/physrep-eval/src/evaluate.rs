//! Probe evaluation on already-extracted features: for every data fraction (nested seeded subsets of
//! the training windows) fit the floor and each requested probe, select on valid, score valid and test.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::features::Features;
use crate::metrics::{mse, Scores};
use crate::probes::attentive::ProbeTrainConfig;
use crate::probes::knn::KnnProbe;
use crate::probes::mean::MeanProbe;
use crate::probes::ridge::RidgeProbe;
use crate::probes::Probe;
use crate::report::{ProbeResult, SweepPoint};
use crate::subsets::nested_subset;
use crate::sweep::{sweep, SweepConfig};
use physrep_nn::attentive_probe::AttentiveProbeConfig;

/// Which probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// The paper's attentive probe (1 query, 1 cross-attention block).
    Attentive,
    /// V-JEPA 2's 4-block probe (3 self-attention blocks + cross-attention).
    Attentive4,
    /// Closed-form ridge on mean-pooled tokens.
    Linear,
    /// kNN on mean-pooled tokens.
    Knn,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 4] = [ProbeKind::Attentive, ProbeKind::Attentive4, ProbeKind::Linear, ProbeKind::Knn];

    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Attentive => "attentive",
            ProbeKind::Attentive4 => "attentive4",
            ProbeKind::Linear => "linear",
            ProbeKind::Knn => "knn",
        }
    }

    /// Parse `attentive|attentive4|linear|knn|all`, comma-separated lists allowed.
    pub fn parse_list(s: &str) -> Result<Vec<ProbeKind>, EvalError> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "all" {
                out.extend(ProbeKind::ALL);
            } else {
                out.push(part.parse()?);
            }
        }
        out.dedup();
        if out.is_empty() {
            return Err(EvalError::Config(format!("no probe in {s:?}")));
        }
        Ok(out)
    }
}

impl FromStr for ProbeKind {
    type Err = EvalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProbeKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| EvalError::Config(format!("unknown probe {s:?} (expected attentive, attentive4, linear, knn or all)")))
    }
}

impl std::fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything about fitting probes on features. `Default` = the paper's protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    pub probes: Vec<ProbeKind>,
    /// Nested fractions of the probe training windows.
    pub fractions: Vec<f64>,
    /// Seed of the subsets (probe seeds come from `train.seed`).
    pub subset_seed: u64,
    /// Architecture of the attentive probe (`dim` and `num_outputs` follow the features).
    pub attentive: AttentiveProbeConfig,
    /// Self-attention blocks of the `attentive4` probe.
    pub attentive4_blocks: usize,
    pub train: ProbeTrainConfig,
    pub sweep: SweepConfig,
    pub ridge_lambdas: Vec<f64>,
    pub knn_ks: Vec<usize>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            probes: vec![ProbeKind::Attentive],
            fractions: vec![0.1, 0.5, 1.0],
            subset_seed: 42,
            attentive: AttentiveProbeConfig::default(),
            attentive4_blocks: 3,
            train: ProbeTrainConfig::default(),
            sweep: SweepConfig::default(),
            ridge_lambdas: RidgeProbe::default().lambdas,
            knn_ks: KnnProbe::default().ks,
        }
    }
}

/// Features of the splits: `train` holds one set per cached noise draw (same windows and labels).
pub struct SplitFeatures {
    pub train: Vec<Features>,
    pub valid: Features,
    pub test: Option<Features>,
}

/// Predictions of a reported probe (for scatter plots).
pub struct Predictions {
    pub probe: String,
    pub fraction: f64,
    pub split: String,
    pub pred: Vec<f32>,
    pub truth: Vec<f32>,
}

fn score(probe: &dyn Probe, f: &Features) -> Result<(Scores, Vec<f32>), EvalError> {
    let pred = probe.predict(f)?;
    Ok((mse(&pred, f.labels(), f.label_dim())?, pred))
}

/// Fit the floor and every probe for every fraction. Returns the results (fraction-major, probes in
/// the configured order) and the predictions of each reported probe on valid and test.
pub fn evaluate(data: &SplitFeatures, cfg: &EvalConfig) -> Result<(Vec<ProbeResult>, Vec<Predictions>), EvalError> {
    let first = data.train.first().ok_or_else(|| EvalError::Data("no training features".into()))?;
    let mut results = Vec::new();
    let mut predictions = Vec::new();
    for &fraction in &cfg.fractions {
        let idx = nested_subset(first.len(), fraction, cfg.subset_seed)?;
        let train: Vec<Features> = data.train.iter().map(|f| f.select(&idx)).collect();
        let mut floor = MeanProbe::default();
        floor.fit(&train, &data.valid)?;
        let floor_valid = score(&floor, &data.valid)?.0;
        let floor_test = data.test.as_ref().map(|t| score(&floor, t).map(|s| s.0)).transpose()?;
        for &kind in &cfg.probes {
            let mut result = ProbeResult {
                probe: kind.name().to_string(),
                fraction,
                train_windows: idx.len(),
                hyper: Default::default(),
                valid: floor_valid.clone(),
                test: None,
                test_ci95: None,
                floor_valid: floor_valid.clone(),
                floor_test: floor_test.clone(),
                paper_protocol_valid: None,
                sweep: vec![],
                train_loss: vec![],
                valid_curve: vec![],
            };
            let fitted: Box<dyn Probe> = match kind {
                ProbeKind::Attentive | ProbeKind::Attentive4 => {
                    let arch = AttentiveProbeConfig {
                        self_attn_blocks: if kind == ProbeKind::Attentive4 { cfg.attentive4_blocks } else { 0 },
                        ..cfg.attentive.clone()
                    };
                    let out = sweep(kind.name(), &arch, &cfg.train, &cfg.sweep, &train, &data.valid, data.test.as_ref())?;
                    let sel = &out.entries[out.selected];
                    result.hyper = sel.fit.hyper.clone();
                    result.train_loss = sel.fit.train_loss.clone();
                    result.valid_curve = sel.fit.valid_curve.clone();
                    result.paper_protocol_valid = Some(out.entries[out.paper].valid.clone());
                    result.sweep = out
                        .entries
                        .iter()
                        .enumerate()
                        .map(|(i, e)| SweepPoint {
                            lr: e.lr,
                            weight_decay: e.weight_decay,
                            valid_mean: e.valid.mean,
                            test_mean: e.test.as_ref().map(|s| s.mean),
                            selected: i == out.selected,
                        })
                        .collect();
                    Box::new(out.selected_probe)
                }
                ProbeKind::Linear => {
                    let mut p = RidgeProbe::new(cfg.ridge_lambdas.clone());
                    let fit = p.fit(&train, &data.valid)?;
                    result.hyper = fit.hyper;
                    result.valid_curve = fit.valid_curve;
                    Box::new(p)
                }
                ProbeKind::Knn => {
                    let mut p = KnnProbe::new(cfg.knn_ks.clone());
                    let fit = p.fit(&train, &data.valid)?;
                    result.hyper = fit.hyper;
                    result.valid_curve = fit.valid_curve;
                    Box::new(p)
                }
            };
            let (valid_scores, valid_pred) = score(fitted.as_ref(), &data.valid)?;
            result.valid = valid_scores;
            predictions.push(Predictions {
                probe: kind.name().into(),
                fraction,
                split: "valid".into(),
                pred: valid_pred,
                truth: data.valid.labels().to_vec(),
            });
            if let Some(t) = &data.test {
                let (s, pred) = score(fitted.as_ref(), t)?;
                result.test = Some(s);
                predictions.push(Predictions {
                    probe: kind.name().into(),
                    fraction,
                    split: "test".into(),
                    pred,
                    truth: t.labels().to_vec(),
                });
            }
            results.push(result);
        }
    }
    Ok((results, predictions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_kind_parsing() {
        assert_eq!(ProbeKind::parse_list("all").unwrap(), ProbeKind::ALL.to_vec());
        assert_eq!(ProbeKind::parse_list("knn, linear").unwrap(), vec![ProbeKind::Knn, ProbeKind::Linear]);
        assert!(ProbeKind::parse_list("mlp").unwrap_err().to_string().contains("unknown probe"));
    }
}
