//! The paper's conv JEPA as a pretraining [`Method`]: encode context and target with the same
//! encoder, predict the target embedding from the context embedding, VICReg (or BCS) between them.
//!
//! Paper: Qu et al., arXiv 2603.13227, `train_jepa.py:JepaTrainer.pred_fn` (`docs/paper-protocol.md` §6):
//! ```text
//! e_ctx = Enc(context)   (B, C, 16, H, W) → (B, 128, H/16, W/16)
//! e_tgt = Enc(target)    same weights, gradients flow through both passes (no EMA, no stop-grad)
//! p     = Pred(e_ctx)    (B, 128, H/16, W/16)
//! loss  = VICReg(p, e_tgt)   (or BCS, `loss = "bcs"`)
//! ```
//! With `target = "pooled"` (physrep's option, not the paper's) `p` and `e_tgt` are averaged over
//! their `h×w` tokens before the loss, `(B, 128, 1, 1)` each: the objective then asks only for what
//! the two views share as a whole, not for the target's spatial layout. Paired with
//! `data.views = "cross_trajectory"` (context and target from two initial conditions of one
//! parameter point) what they share is the physics, not the initial condition's pattern.
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
use crate::method::{clip_error, Method, StepContext, StepOutput, TensorBatch};
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

/// What the prediction is compared with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JepaTarget {
    /// The target's token map, token by token (the paper's): VICReg rows are `B·h·w` tokens.
    #[default]
    Tokens,
    /// The target's mean token against the prediction's mean token: VICReg rows are the `B` clips.
    Pooled,
}

/// The conv JEPA's model and objective; `Default` is the paper's (11 input channels).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JepaConfig {
    pub encoder: ConvEncoderConfig,
    pub predictor: ConvPredictorConfig,
    pub loss: JepaLoss,
    pub target: JepaTarget,
    pub vicreg: VicregConfig,
    pub bcs: BcsConfig,
}

impl Default for JepaConfig {
    fn default() -> Self {
        JepaConfig {
            encoder: ConvEncoderConfig::default(),
            predictor: ConvPredictorConfig::default(),
            loss: JepaLoss::Vicreg,
            target: JepaTarget::Tokens,
            vicreg: VicregConfig::default(),
            bcs: BcsConfig::default(),
        }
    }
}

impl JepaConfig {
    /// The preset's model for `channels` input channels: the paper's architecture, except `tiny`
    /// (dims [4, 8, 8, 16, 16], one block per stage, predictor 16 → 32 → 16: ~23 k parameters).
    /// `small` and `default` (64²) use one VICReg chunk instead of 5 (with micro-batches of 16 clips,
    /// see [`crate::pretrain::PretrainConfig::preset`]) so that every chunk has more rows than the
    /// embedding has dimensions; `tiny` at 32² cannot afford that and is refused by validation unless
    /// `method.vicreg.allow_rank_deficient=true` (a toy) or a valid micro-batch / chunk count is given.
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
            // 64² leaves 4×4 tokens per clip: one chunk, so that a micro-batch of 16 clips (set by
            // `PretrainConfig::preset`) gives VICReg 256 rows for 128 dimensions (module docs of vicreg).
            Preset::Small | Preset::Medium => JepaConfig { vicreg: VicregConfig { chunks: 1, ..paper.vicreg.clone() }, ..paper },
            Preset::Paper => JepaConfig { encoder: ConvEncoderConfig { checkpoint_blocks: true, ..paper.encoder }, ..paper },
        }
    }

    /// Check the model against itself, the data (channels, frames, resolution) and the micro-batch
    /// (VICReg's rows per chunk, [`VicregConfig::check_rows`]); the error names the field.
    pub fn validate(&self, data: &DataConfig, channels: usize, micro_batch: usize) -> Result<(), TrainError> {
        let frames = [("data.context_frames", data.context_frames), ("data.target_frames", data.target_frames)];
        validate_conv_encoder(&self.encoder, data, channels, &frames)?;
        self.predictor.validate().map_err(|e| TrainError::config("method.predictor", e.to_string()))?;
        if self.predictor.dim != self.encoder.out_dim() {
            return Err(TrainError::config(
                "method.predictor.dim",
                format!("must equal the encoder's output width {}, got {}", self.encoder.out_dim(), self.predictor.dim),
            ));
        }
        if self.loss == JepaLoss::Vicreg {
            let what = match self.target {
                JepaTarget::Tokens => {
                    let side = data.resolution / self.encoder.patch();
                    format!("train.micro_batch = {micro_batch} × {side}×{side} tokens at data.resolution = {}", data.resolution)
                }
                JepaTarget::Pooled => format!("train.micro_batch = {micro_batch} pooled clips (method.target = pooled)"),
            };
            let side = self.rows_side(data.resolution);
            self.vicreg
                .check_rows(micro_batch * side * side, self.encoder.out_dim(), &what)
                .map_err(|m| TrainError::config("method.vicreg.chunks", m))?;
        }
        Ok(())
    }

    /// The side of the map the loss compares per clip: the token grid, or 1 when pooled.
    fn rows_side(&self, resolution: usize) -> usize {
        match self.target {
            JepaTarget::Tokens => resolution / self.encoder.patch(),
            JepaTarget::Pooled => 1,
        }
    }
}

/// `(B, C, h, w)` → its mean token `(B, C, 1, 1)`.
fn pooled<B: burn::tensor::backend::Backend>(x: burn::tensor::Tensor<B, 4>) -> burn::tensor::Tensor<B, 4> {
    x.mean_dim(3).mean_dim(2)
}

/// Check a conv encoder (`method.encoder`) against itself, the dataset's `channels`, the resolution
/// and the frame counts `frames` (`(field, value)`, each must equal `num_frames`).
pub(crate) fn validate_conv_encoder(
    encoder: &ConvEncoderConfig,
    data: &DataConfig,
    channels: usize,
    frames: &[(&str, usize)],
) -> Result<(), TrainError> {
    encoder.validate().map_err(|e| TrainError::config("method.encoder", e.to_string()))?;
    if encoder.in_channels != channels {
        return Err(TrainError::config(
            "method.encoder.in_channels",
            format!("the dataset has {channels} channels, the encoder expects {}", encoder.in_channels),
        ));
    }
    for &(field, n) in frames {
        if n != encoder.num_frames {
            return Err(TrainError::config(field, format!("must equal method.encoder.num_frames = {}, got {n}", encoder.num_frames)));
        }
    }
    let patch = encoder.patch();
    if !data.resolution.is_multiple_of(patch) {
        return Err(TrainError::config(
            "data.resolution",
            format!("must be a multiple of the encoder's reduction {patch}, got {}", data.resolution),
        ));
    }
    Ok(())
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

    fn forward(&self, model: &ConvJepa<B>, batch: &TensorBatch<B>, ctx: &StepContext) -> Result<StepOutput<B>, TrainError> {
        for (what, clip) in [("context", &batch.context), ("target", &batch.target)] {
            model.encoder.check_input(clip.dims()).map_err(|e| clip_error(what, clip.dims(), e))?;
        }
        let e_ctx = model.encoder.forward(batch.context.clone());
        let e_tgt = model.encoder.forward(batch.target.clone());
        let embeddings = Some(token_rows(e_ctx.clone().detach()));
        let pred = model.predictor.forward(e_ctx);
        let (pred, e_tgt) = match self.config.target {
            JepaTarget::Tokens => (pred, e_tgt),
            JepaTarget::Pooled => (pooled(pred), pooled(e_tgt)),
        };
        Ok(match self.config.loss {
            JepaLoss::Vicreg => {
                let t = vicreg(pred, e_tgt, ctx.micro_seed(), &self.config.vicreg);
                StepOutput { metrics: t.metrics(), loss: t.loss, embeddings }
            }
            JepaLoss::Bcs => {
                let t = bcs(pred, e_tgt, ctx.micro_seed(), &self.config.bcs);
                StepOutput { metrics: t.metrics(), loss: t.loss, embeddings }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use burn::prelude::*;
    use physrep_nn::conv_jepa::ConvJepa;
    use physrep_nn::{ClipEncoder, Cpu};

    use crate::config::Preset;
    use crate::methods::{MethodConfig, MethodKind};
    use crate::pretrain::PretrainConfig;

    fn tiny() -> PretrainConfig {
        PretrainConfig::preset(Preset::Tiny, MethodKind::Jepa, "active_matter", 11, Path::new("/data")).unwrap()
    }

    /// The tiny preset at 32² (micro 2 × 2×2 tokens = 8 rows, 5 chunks of 2 rows, 16 dimensions) is
    /// refused with a message naming the keys, rows, dimensions and fixes; the opt-out is accepted and
    /// recorded; one chunk of micro 8 × 4 = 32 rows passes, 16 rows (= dimensions, rank 15) does not.
    #[test]
    fn vicreg_guard_refuses_rank_deficient_chunks_unless_opted_out() {
        let e = tiny().validate(11).unwrap_err().to_string();
        for part in [
            "method.vicreg.chunks",
            "train.micro_batch = 2",
            "8 rows",
            "2 rows for 16 dimensions",
            "allow_rank_deficient=true",
            "≥ 17 rows",
        ] {
            assert!(e.contains(part), "`{part}` missing from: {e}");
        }
        let ok = tiny().with_overrides(&["method.vicreg.allow_rank_deficient=true"], 11).unwrap();
        assert!(toml::to_string(&ok).unwrap().contains("allow_rank_deficient = true"));
        let one_chunk = |micro: usize| {
            tiny().with_overrides(
                &["method.vicreg.chunks=1".to_string(), format!("train.micro_batch={micro}"), "train.global_batch=16".into()],
                11,
            )
        };
        one_chunk(8).unwrap();
        let e = one_chunk(4).unwrap_err().to_string();
        assert!(e.contains("16 rows for 16 dimensions"), "{e}");
        // BCS has no covariance: no guard.
        tiny().with_overrides(&["method.loss=bcs"], 11).unwrap();
        // The larger presets are valid as they are (64²: micro 16 × 16 tokens in one chunk; 224²: 5 chunks of ≥ 312).
        for preset in [Preset::Small, Preset::Medium, Preset::Paper] {
            let cfg = PretrainConfig::preset(preset, MethodKind::Jepa, "active_matter", 11, Path::new("/data")).unwrap();
            cfg.validate(11).unwrap_or_else(|e| panic!("{preset:?}: {e}"));
            let MethodConfig::Jepa(c) = &cfg.method else { unreachable!() };
            assert!(!c.vicreg.allow_rank_deficient, "{preset:?}");
        }
    }

    /// The smallest chunk of `torch.chunk(1568, 5)` is 312 rows: 311 dimensions pass, 312 do not.
    #[test]
    fn check_rows_uses_the_smallest_chunk() {
        let v = crate::objectives::VicregConfig::default();
        v.check_rows(1568, 311, "paper").unwrap();
        assert!(v.check_rows(1568, 312, "paper").unwrap_err().contains("312 rows for 312 dimensions"));
    }

    /// A 4-stage encoder on 8 + 8 frames: three stride-2 downsamples take 8 frames to 1 and 32² to
    /// 4×4 tokens. These overrides configure it (the predictor's width follows the last stage).
    #[test]
    fn four_stage_encoder_on_eight_plus_eight_frames_gives_four_by_four_tokens() {
        let cfg = tiny()
            .with_overrides(
                &[
                    "method.encoder.dims=[8, 16, 32, 32]",
                    "method.encoder.depths=[1, 1, 1, 1]",
                    "method.encoder.num_frames=8",
                    "method.predictor.dim=32",
                    "data.context_frames=8",
                    "data.target_frames=8",
                    "method.vicreg.chunks=1",
                    "train.micro_batch=4",
                ],
                11,
            )
            .unwrap();
        assert_eq!(cfg.method.token_dim(), 32);
        let MethodConfig::Jepa(c) = &cfg.method else { unreachable!() };
        let model = ConvJepa::<Cpu>::new(&c.encoder, &c.predictor, &Default::default()).unwrap();
        let tokens = model.encoder.encode_tokens(Tensor::<Cpu, 5>::ones([2, 11, 8, 32, 32], &Default::default())).unwrap();
        assert_eq!(tokens.dims(), [2, 16, 32]);
        // 16 frames no longer fit the 4-stage encoder.
        let e = cfg.with_overrides(&["data.context_frames=16"], 11).unwrap_err().to_string();
        assert!(e.contains("data.context_frames"), "{e}");
    }

    /// `target = pooled` compares the clips' mean tokens: the method's loss equals VICReg computed
    /// independently on token rows averaged per clip, with the permutation of the B clip rows; the
    /// statistics guard counts clips, not tokens.
    #[test]
    fn pooled_target_is_vicreg_on_each_clips_mean_token() {
        use crate::method::{Method, StepContext, TensorBatch};
        use crate::objectives::vicreg::{permutation, token_rows, vicreg_rows};
        use physrep_nn::CpuAutodiff;
        let cfg = tiny()
            .with_overrides(&["method.target=pooled", "method.vicreg.chunks=1", "train.micro_batch=32", "train.global_batch=32"], 11)
            .unwrap();
        let e = cfg.clone().with_overrides(&["train.micro_batch=16", "train.global_batch=16"], 11).unwrap_err().to_string();
        assert!(e.contains("16 pooled clips") && e.contains("16 rows for 16 dimensions"), "{e}");
        let MethodConfig::Jepa(c) = cfg.method else { unreachable!() };
        let method = super::JepaMethod { config: c.clone() };
        let device = Default::default();
        let model = Method::<CpuAutodiff>::init(&method, &device);
        let frames = c.encoder.num_frames;
        let (b, res) = (6, 32);
        let clip = |seed| {
            let n = b * 11 * frames * res * res;
            let v: Vec<f32> = (0..n).map(|i| ((i as u64 * 2654435761 + seed) % 1000) as f32 / 500.0 - 1.0).collect();
            Tensor::<CpuAutodiff, 5>::from_data(TensorData::new(v, [b, 11, frames, res, res]), &device)
        };
        let batch = TensorBatch { context: clip(1), target: clip(7), labels: Tensor::zeros([b, 2], &device) };
        let ctx = StepContext { seed: 3, update: 2, micro: 1 };
        let out = method.forward(&model, &batch, &ctx).unwrap();
        let mean_rows = |x: Tensor<CpuAutodiff, 4>| {
            let [n, ch, h, w] = x.dims();
            token_rows(x).reshape([n, h * w, ch]).mean_dim(1).reshape([n, ch])
        };
        let e_ctx = model.encoder.forward(batch.context.clone());
        let e_tgt = model.encoder.forward(batch.target.clone());
        let pred = model.predictor.forward(e_ctx);
        let want = vicreg_rows(mean_rows(pred), mean_rows(e_tgt), &permutation(b, ctx.micro_seed()), &c.vicreg).loss;
        let (got, want) = (out.loss.into_scalar(), want.into_scalar());
        assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "{got} vs {want}");
    }

    /// A batch the encoder cannot take is an error from the method's forward, naming the view, the
    /// shape and what the encoder expects, not a panic inside the model.
    #[test]
    fn a_batch_of_another_channel_count_is_an_error() {
        use crate::method::{Method, StepContext, TensorBatch};
        use physrep_nn::CpuAutodiff;
        let MethodConfig::Jepa(c) = tiny().method else { unreachable!() };
        let frames = c.encoder.num_frames;
        let method = super::JepaMethod { config: c };
        let device = Default::default();
        let model = Method::<CpuAutodiff>::init(&method, &device);
        let clip = || Tensor::<CpuAutodiff, 5>::zeros([2, 4, frames, 32, 32], &device);
        let batch = TensorBatch { context: clip(), target: clip(), labels: Tensor::zeros([2, 2], &device) };
        let err = method.forward(&model, &batch, &StepContext { seed: 0, update: 0, micro: 0 }).unwrap_err().to_string();
        assert!(err.contains("context") && err.contains(&format!("[2, 4, {frames}, 32, 32]")) && err.contains("11"), "{err}");
    }
}
