//! The paper's conv JEPA as a pretraining [`Method`]: encode context and target with the same
//! encoder, predict the target embedding from the context embedding, VICReg (or BCS) between them.
//!
//! Paper: Qu et al., arXiv 2603.13227, `train_jepa.py:JepaTrainer.pred_fn` (`paper-protocol.md` §6):
//! ```text
//! e_ctx = Enc(context)   (B, C, 16, H, W) → (B, 128, H/16, W/16)
//! e_tgt = Enc(target)    same weights, gradients flow through both passes (no EMA, no stop-grad)
//! p     = Pred(e_ctx)    (B, 128, H/16, W/16)
//! loss  = VICReg(p, e_tgt)   (or BCS, `loss = "bcs"`)
//! ```
//! The objective's row permutation / projections come from [`StepContext::micro_seed`]. Collapse
//! monitoring gets the context embedding's token rows `(B·h·w, 128)`.
//! Model: encoder 2,468,720 (C = 11) / 2,466,928 (C = 4) + predictor 801,664 parameters.
//! Input resolution and noise σ are run settings (`data.resolution`, `train.noise_std`), not
//! part of this config. Example: `physrep pretrain --method jepa --data DIR --out RUN --preset small`.

use burn::tensor::backend::AutodiffBackend;
use physrep_nn::conv_jepa::{ConvEncoderConfig, ConvJepa, ConvPredictorConfig};
use physrep_nn::KernelBackend;
use serde::{Deserialize, Serialize};

use crate::config::{DataConfig, Preset};
use crate::error::TrainError;
use crate::method::{Method, StepContext, StepOutput, TensorBatch};
use crate::objectives::bcs::bcs;
use crate::objectives::vicreg::{token_rows, vicreg};
use crate::objectives::{BcsConfig, VicregConfig};

/// Which objective compares the prediction with the target embedding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JepaLoss {
    /// VICReg on token rows, 2/40/2, 5 chunks (the paper's).
    #[default]
    Vicreg,
    /// Gaussian matching (BCS / Epps–Pulley on random projections), projections redrawn per step.
    Bcs,
}

/// The conv JEPA's model and objective; `Default` is the paper's (11 input channels).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JepaConfig {
    pub encoder: ConvEncoderConfig,
    pub predictor: ConvPredictorConfig,
    pub loss: JepaLoss,
    pub vicreg: VicregConfig,
    pub bcs: BcsConfig,
}

impl Default for JepaConfig {
    fn default() -> Self {
        JepaConfig {
            encoder: ConvEncoderConfig::default(),
            predictor: ConvPredictorConfig::default(),
            loss: JepaLoss::Vicreg,
            vicreg: VicregConfig::default(),
            bcs: BcsConfig::default(),
        }
    }
}

impl JepaConfig {
    /// The preset's model for `channels` input channels: the paper's architecture, except `tiny`
    /// (dims [4, 8, 8, 16, 16], one block per stage, predictor 16 → 32 → 16: ~23 k parameters).
    /// `paper` (batch 8 at 224²) checkpoints its blocks' activations: 11 GB instead of ~43 GB, same
    /// numbers, ~25 % more time.
    pub fn preset(preset: Preset, channels: usize) -> Self {
        let paper = JepaConfig { encoder: ConvEncoderConfig::paper(channels), ..JepaConfig::default() };
        match preset {
            Preset::Tiny => JepaConfig {
                encoder: ConvEncoderConfig { dims: vec![4, 8, 8, 16, 16], depths: vec![1, 1, 1, 1, 1], ..paper.encoder },
                predictor: ConvPredictorConfig { dim: 16, hidden: 32, ..paper.predictor },
                ..paper
            },
            Preset::Small | Preset::Default => paper,
            Preset::Paper => JepaConfig { encoder: ConvEncoderConfig { checkpoint_blocks: true, ..paper.encoder }, ..paper },
        }
    }

    /// Check the model against itself and the data (frames, resolution); the error names the field.
    pub fn validate(&self, data: &DataConfig) -> Result<(), TrainError> {
        self.encoder.validate().map_err(|e| TrainError::config("method.encoder", e.to_string()))?;
        self.predictor.validate().map_err(|e| TrainError::config("method.predictor", e.to_string()))?;
        if self.predictor.dim != self.encoder.out_dim() {
            return Err(TrainError::config(
                "method.predictor.dim",
                format!("must equal the encoder's output width {}, got {}", self.encoder.out_dim(), self.predictor.dim),
            ));
        }
        for (field, frames) in [("data.context_frames", data.context_frames), ("data.target_frames", data.target_frames)] {
            if frames != self.encoder.num_frames {
                return Err(TrainError::config(
                    field,
                    format!("must equal method.encoder.num_frames = {}, got {frames}", self.encoder.num_frames),
                ));
            }
        }
        let patch = self.encoder.patch();
        if data.resolution % patch != 0 {
            return Err(TrainError::config(
                "data.resolution",
                format!("must be a multiple of the encoder's reduction {patch}, got {}", data.resolution),
            ));
        }
        Ok(())
    }
}

/// The conv JEPA [`Method`].
#[derive(Clone, Debug)]
pub struct JepaMethod {
    pub config: JepaConfig,
}

impl<B: AutodiffBackend + KernelBackend> Method<B> for JepaMethod {
    type Model = ConvJepa<B>;

    fn name(&self) -> &'static str {
        "jepa"
    }

    fn init(&self, device: &B::Device) -> ConvJepa<B> {
        ConvJepa::new(&self.config.encoder, &self.config.predictor, device)
            .unwrap_or_else(|e| panic!("JepaMethod::init on an unvalidated config: {e}"))
    }

    fn forward(&self, model: &ConvJepa<B>, batch: &TensorBatch<B>, ctx: &StepContext) -> StepOutput<B> {
        let e_ctx = model.encoder.forward(batch.context.clone());
        let e_tgt = model.encoder.forward(batch.target.clone());
        let embeddings = Some(token_rows(e_ctx.clone().detach()));
        let pred = model.predictor.forward(e_ctx);
        match self.config.loss {
            JepaLoss::Vicreg => {
                let t = vicreg(pred, e_tgt, ctx.micro_seed(), &self.config.vicreg);
                StepOutput { metrics: t.metrics(), loss: t.loss, embeddings }
            }
            JepaLoss::Bcs => {
                let t = bcs(pred, e_tgt, ctx.micro_seed(), &self.config.bcs);
                StepOutput { metrics: t.metrics(), loss: t.loss, embeddings }
            }
        }
    }
}
