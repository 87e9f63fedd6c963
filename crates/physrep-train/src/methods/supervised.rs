//! The supervised ceiling as a pretraining [`Method`]: the JEPA conv encoder trained end to end to
//! regress the physical parameters, so the frozen probes have an upper reference on the same encoder,
//! data and loop.
//!
//! ```text
//! tokens = Enc(context)            (B, C, T, H, W) → (B, D, h, w), the JEPA encoder (`method.encoder`)
//! pooled = mean over the h·w tokens (B, D)
//! pred   = Linear(pooled)          (B, P)
//! loss   = mean over B×P of (pred − labels)²
//! ```
//! `labels (B, P)` are the batch's z-scored physical parameters (the paper's fixed constants, see
//! `physrep_well::labels`), which every training batch carries; the target frames are read but unused.
//! Collapse monitoring gets the encoder's token rows `(B·h·w, D)`. The encoder is exported and loaded
//! like JEPA's (`RUN/encoder.safetensors` under the reference names, `load_encoder`), so the same
//! frozen probes (and `--init`) run on it. Example:
//! `physrep pretrain --method supervised --data DIR --out RUN --preset small`.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use physrep_nn::conv_jepa::{ConvEncoder, ConvEncoderConfig};
use physrep_nn::KernelBackend;
use physrep_nn::NnError;
use serde::{Deserialize, Serialize};

use crate::config::{DataConfig, Preset};
use crate::error::TrainError;
use crate::method::{clip_error, Method, StepContext, StepOutput, TensorBatch};
use crate::methods::jepa::{validate_conv_encoder, JepaConfig};
use crate::objectives::vicreg::token_rows;

/// The supervised model's config: JEPA's encoder and the number of regressed labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisedConfig {
    /// The encoder, exactly as `method.encoder` of JEPA (same presets).
    pub encoder: ConvEncoderConfig,
    /// Label columns P the head predicts; a new run sets it to the dataset's (2 for the paper's three
    /// systems, 1 for `advection`), and a run whose value differs from its data's is refused.
    pub num_labels: usize,
}

impl Default for SupervisedConfig {
    fn default() -> Self {
        SupervisedConfig { encoder: ConvEncoderConfig::default(), num_labels: 2 }
    }
}

impl SupervisedConfig {
    /// The preset's encoder is JEPA's ([`JepaConfig::preset`]) for `channels` input channels.
    pub fn preset(preset: Preset, channels: usize) -> Self {
        SupervisedConfig { encoder: JepaConfig::preset(preset, channels).encoder, ..SupervisedConfig::default() }
    }

    /// Check the encoder against the data (channels, context frames, resolution) and the head.
    pub fn validate(&self, data: &DataConfig, channels: usize) -> Result<(), TrainError> {
        validate_conv_encoder(&self.encoder, data, channels, &[("data.context_frames", data.context_frames)])?;
        if self.num_labels == 0 {
            return Err(TrainError::config("method.num_labels", "must be ≥ 1"));
        }
        Ok(())
    }

    /// Check the head against the dataset's label columns.
    pub fn check_labels(&self, label_names: &[String]) -> Result<(), TrainError> {
        if label_names.len() != self.num_labels {
            return Err(TrainError::config(
                "method.num_labels",
                format!("the dataset has {} label columns {label_names:?}, the head predicts {}", label_names.len(), self.num_labels),
            ));
        }
        Ok(())
    }

    /// A freshly initialised model on `device`.
    pub fn init<B: KernelBackend>(&self, device: &B::Device) -> Result<SupervisedModel<B>, NnError> {
        let encoder = self.encoder.init(device)?;
        let head = LinearConfig::new(self.encoder.out_dim(), self.num_labels).init(device);
        Ok(SupervisedModel { encoder, head })
    }
}

/// Encoder + linear head on the mean token.
#[derive(Module, Debug)]
pub struct SupervisedModel<B: Backend> {
    pub encoder: ConvEncoder<B>,
    pub head: Linear<B>,
}

impl<B: KernelBackend> SupervisedModel<B> {
    /// Clips `(B, C, T, H, W)` → the token map `(B, D, h, w)` and predictions `(B, P)`.
    pub fn forward(&self, clips: Tensor<B, 5>) -> (Tensor<B, 4>, Tensor<B, 2>) {
        let map = self.encoder.forward(clips);
        let pooled = map.clone().mean_dim(3).mean_dim(2).flatten::<2>(1, 3);
        (map, self.head.forward(pooled))
    }
}

/// The supervised [`Method`].
#[derive(Clone, Debug)]
pub struct SupervisedMethod {
    pub config: SupervisedConfig,
}

impl<B: AutodiffBackend + KernelBackend> Method<B> for SupervisedMethod {
    type Model = SupervisedModel<B>;

    fn name(&self) -> &'static str {
        "supervised"
    }

    fn init(&self, device: &B::Device) -> SupervisedModel<B> {
        self.config.init(device).unwrap_or_else(|e| panic!("SupervisedMethod::init on an unvalidated config: {e}"))
    }

    fn forward(&self, model: &SupervisedModel<B>, batch: &TensorBatch<B>, _ctx: &StepContext) -> Result<StepOutput<B>, TrainError> {
        let dims = batch.context.dims();
        model.encoder.check_input(dims).map_err(|e| clip_error("context", dims, e))?;
        let (map, pred) = model.forward(batch.context.clone());
        let loss = (pred - batch.labels.clone()).square().mean();
        Ok(StepOutput { loss, metrics: Vec::new(), embeddings: Some(token_rows(map.detach())) })
    }
}
