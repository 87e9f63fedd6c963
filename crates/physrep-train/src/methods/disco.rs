//! Compact DISCO pretraining (`docs/baselines.md` §4.3): the hypernetwork writes an operator network's
//! weights from the context clip; the last context frame (re-standardised per sample and channel)
//! is integrated over t ∈ [0, 1] with RK4; loss = per-sample normalised next-frame MSE in the
//! standardised units. Trained from scratch on physrep's data (a declared deviation from the
//! paper's multi-physics DISCO).
//!
//! Target: frame 0 of `target (B, C, Tt, H, W)`. Logged terms: `nmse` (the loss) and
//! `persistence_nmse` (the last context frame as the prediction, same metric). Collapse monitoring
//! rows: the latent `z (B, D)` — the vector the paper probes.

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use physrep_nn::disco::{normalized_mse, Disco, DiscoConfig};
use physrep_nn::NnError;
use serde::{Deserialize, Serialize};

use crate::config::Preset;
use crate::error::TrainError;
use crate::method::{clip_error, Method, StepContext, StepOutput, TensorBatch};
use crate::methods::mpp::frame;

/// The method's typed config (serde; `Default` = `docs/baselines.md` §4.3: d 192, 4 blocks, RK4 × 4).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoPretrainConfig {
    pub model: DiscoConfig,
}

impl DiscoPretrainConfig {
    /// A tiny DISCO for tests and smoke runs (D 32, 2 blocks, patch 4, operator width 8).
    pub fn tiny(channels: usize) -> Self {
        Self {
            model: DiscoConfig {
                channels,
                embed_dim: 32,
                num_heads: 2,
                depth: 2,
                patch_size: 4,
                generator_hidden: 32,
                rank: 4,
                operator_width: 8,
                operator_depth: 3,
                ..DiscoConfig::default()
            },
        }
    }

    /// The preset's model for `channels` data channels: `tiny` (32²) → [`Self::tiny`];
    /// `small` / `default` (64²) → the §4.3 default with patch 8; `paper` (224²) → patch 16.
    pub fn preset(preset: Preset, channels: usize) -> Self {
        match preset {
            Preset::Tiny => Self::tiny(channels),
            Preset::Small | Preset::Medium => Self { model: DiscoConfig { channels, patch_size: 8, ..DiscoConfig::default() } },
            Preset::Paper => Self { model: DiscoConfig { channels, ..DiscoConfig::default() } },
        }
    }

    /// Check the config against the data: `channels` fields, `frames` context frames at
    /// `resolution`².
    pub fn validate(&self, channels: usize, frames: usize, resolution: usize) -> Result<(), NnError> {
        self.model.check()?;
        self.model.check_clip([1, channels, frames, resolution, resolution])
    }
}

/// DISCO pretraining with a validated config.
#[derive(Clone, Debug)]
pub struct DiscoMethod {
    config: DiscoPretrainConfig,
}

impl DiscoMethod {
    /// Validate the model config.
    pub fn new(config: DiscoPretrainConfig) -> Result<Self, NnError> {
        config.model.check()?;
        Ok(Self { config })
    }

    /// The model config.
    pub fn config(&self) -> &DiscoPretrainConfig {
        &self.config
    }
}

impl<B: AutodiffBackend> Method<B> for DiscoMethod {
    type Model = Disco<B>;

    fn name(&self) -> &'static str {
        "disco"
    }

    fn init(&self, device: &B::Device) -> Disco<B> {
        self.config.model.init(device).expect("DiscoConfig validated in DiscoMethod::new")
    }

    fn forward(&self, model: &Disco<B>, batch: &TensorBatch<B>, _ctx: &StepContext) -> Result<StepOutput<B>, TrainError> {
        let dims = batch.context.dims();
        model.check_clip(dims).map_err(|e| clip_error("context", dims, e))?;
        let next = model.forward_next(batch.context.clone());
        let target = next.standardize(frame(&batch.target, 0));
        let persistence = normalized_mse(next.initial.clone(), target.clone()).into_scalar().elem::<f64>();
        let loss = normalized_mse(next.standardized, target);
        Ok(StepOutput {
            metrics: vec![("nmse".into(), loss.clone().into_scalar().elem::<f64>()), ("persistence_nmse".into(), persistence)],
            embeddings: Some(next.latent.detach()),
            loss,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::mpp::tests::{batch, overfit};
    use physrep_nn::CpuAutodiff;

    #[test]
    fn forward_reports_loss_persistence_and_latent() {
        let method = DiscoMethod::new(DiscoPretrainConfig::tiny(3)).unwrap();
        method.config().validate(3, 4, 16).unwrap();
        assert!(method.config().validate(2, 4, 16).is_err(), "the operator expects 3 channels");
        let model = Method::<CpuAutodiff>::init(&method, &Default::default());
        let out = method.forward(&model, &batch(), &StepContext { seed: 0, update: 0, micro: 0 }).unwrap();
        let names: Vec<&str> = out.metrics.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["nmse", "persistence_nmse"]);
        assert!(out.metrics.iter().all(|(_, v)| v.is_finite() && *v > 0.0));
        assert_eq!(out.embeddings.unwrap().dims(), [2, 32]);
    }

    #[test]
    fn a_few_updates_lower_the_loss_on_a_fixed_batch() {
        let (first, last) = overfit(&DiscoMethod::new(DiscoPretrainConfig::tiny(3)).unwrap(), 15);
        assert!(last < 0.8 * first, "normalised MSE {first} → {last}");
    }
}
