//! VideoMAE pretraining as a [`Method`]: tube-masked reconstruction of the context clip.
//!
//! Model and loss: `physrep_nn::videomae` (VideoMAE, Tong et al. 2022, <https://arxiv.org/abs/2203.12602>;
//! spec `docs/baselines.md` §2). Each micro-batch's tube masks come from a ChaCha8 generator seeded with
//! [`StepContext::micro_seed`], so a resumed run draws the same masks as the uninterrupted one. Only the
//! context half of a window (`(B, C, 16, H, W)`) is reconstructed: it is what the probe later embeds.
//!
//! Optimisation (the loop's AdamW, warm-up + cosine): betas (0.9, 0.95), weight decay 0.05, and
//! lr = 1.5e-4 × global batch / 256 ([`VideoMaeMethodConfig::lr_for_batch`]; min lr 1e-5 scaled the same
//! way). Probe settings of the paper for VideoMAE features (`docs/baselines.md` §1) are recorded here so that
//! `reproduce` can pick them: MLP ratio 0.25, noise σ AM/SF/RB 0/0.1/0, dropout SF 0.1 else 0.

use burn::tensor::backend::AutodiffBackend;
use physrep_nn::videomae::{TubeMaskGenerator, VideoMae, VideoMaeConfig};
use physrep_nn::NnError;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::{DataConfig, Preset, TrainConfig};
use crate::error::TrainError;
use crate::method::{clip_error, Method, StepContext, StepOutput, TensorBatch};

/// The paper's probe settings for VideoMAE features (`docs/baselines.md` §1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoMaeProbeConfig {
    /// Probe MLP hidden width / token width (0.25: hidden 96 for D = 384).
    pub mlp_ratio: f64,
    /// Probe input noise σ for active matter, shear flow, Rayleigh–Bénard.
    pub noise_std_am_sf_rb: [f64; 3],
    /// Probe dropout for active matter, shear flow, Rayleigh–Bénard.
    pub dropout_am_sf_rb: [f64; 3],
    /// Probe micro-batch for active matter, shear flow, Rayleigh–Bénard.
    pub batch_am_sf_rb: [usize; 3],
}

impl Default for VideoMaeProbeConfig {
    fn default() -> Self {
        Self { mlp_ratio: 0.25, noise_std_am_sf_rb: [0.0, 0.1, 0.0], dropout_am_sf_rb: [0.0, 0.1, 0.0], batch_am_sf_rb: [32, 64, 32] }
    }
}

/// Everything VideoMAE adds to the shared training config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoMaeMethodConfig {
    /// The encoder/decoder architecture (default ViT-S/16, 11 channels, 16 × 224²).
    pub model: VideoMaeConfig,
    /// Learning rate per 256 samples of global batch (VideoMAE's `--lr 1.5e-4`, scaled linearly).
    pub base_lr: f64,
    /// Minimum learning rate per 256 samples (VideoMAE's `--min_lr 1e-5`).
    pub base_min_lr: f64,
    /// AdamW betas.
    pub betas: [f64; 2],
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// How the probe reads these features.
    pub probe: VideoMaeProbeConfig,
}

impl Default for VideoMaeMethodConfig {
    fn default() -> Self {
        Self {
            model: VideoMaeConfig::default(),
            base_lr: 1.5e-4,
            base_min_lr: 1e-5,
            betas: [0.9, 0.95],
            weight_decay: 0.05,
            probe: VideoMaeProbeConfig::default(),
        }
    }
}

impl VideoMaeMethodConfig {
    /// Peak learning rate for a global batch: `base_lr · batch / 256`.
    pub fn lr_for_batch(&self, global_batch: usize) -> f64 {
        self.base_lr * global_batch as f64 / 256.0
    }

    /// Final learning rate of the cosine for a global batch: `base_min_lr · batch / 256`.
    pub fn min_lr_for_batch(&self, global_batch: usize) -> f64 {
        self.base_min_lr * global_batch as f64 / 256.0
    }

    /// The preset's model for `channels` input channels and 16-frame clips, at the preset's resolution:
    /// * `tiny`: 32², width 32, depth 2, 2 heads, patch 8, decoder 16 / 1 / 2 (~35 k encoder parameters
    ///   for C = 11): 8 × 4² = 128 tokens, 2 visible per slice.
    /// * `small`: 64², ViT-Ti/16 ([`VideoMaeConfig::vit_tiny`]): 8 × 4² = 128 tokens.
    /// * `default`: 64², ViT-S/16 ([`VideoMaeConfig::vit_small`], the paper's model): 128 tokens.
    /// * `paper`: 224², ViT-S/16: 1568 tokens.
    pub fn preset(preset: Preset, channels: usize) -> Self {
        let small = VideoMaeConfig::vit_small(channels);
        let model = match preset {
            Preset::Tiny => VideoMaeConfig {
                img_size: 32,
                patch_size: 8,
                embed_dim: 32,
                depth: 2,
                num_heads: 2,
                decoder_embed_dim: 16,
                decoder_depth: 1,
                decoder_num_heads: 2,
                ..small
            },
            Preset::Small => VideoMaeConfig { img_size: 64, ..VideoMaeConfig::vit_tiny(channels) },
            Preset::Medium => VideoMaeConfig { img_size: 64, ..small },
            Preset::Paper => small,
        };
        Self { model, ..Self::default() }
    }

    /// The VideoMAE optimisation recipe applied to a shared training config: AdamW betas and weight
    /// decay of this config, `lr = base_lr · global_batch / 256`, `min_lr = base_min_lr · global_batch / 256`
    /// for `train.global_batch` as it is now. This is the one place VideoMAE's recipe enters a run
    /// (`PretrainConfig::preset`); an override of `train.global_batch` afterwards does not rescale the lr.
    pub fn apply_recipe(&self, train: TrainConfig) -> TrainConfig {
        TrainConfig {
            lr: self.lr_for_batch(train.global_batch),
            min_lr: self.min_lr_for_batch(train.global_batch),
            beta1: self.betas[0] as f32,
            beta2: self.betas[1] as f32,
            weight_decay: self.weight_decay as f32,
            ..train
        }
    }

    /// Check the model against itself, the data (`channels`, frames, resolution); the error names the field.
    pub fn validate(&self, data: &DataConfig, channels: usize) -> Result<(), TrainError> {
        let m = &self.model;
        m.validate().map_err(|e| TrainError::config("method.model", e.to_string()))?;
        let fit = [
            ("method.model.in_chans", m.in_chans, channels, "the dataset's channel count"),
            ("method.model.num_frames", m.num_frames, data.context_frames, "data.context_frames"),
            ("method.model.img_size", m.img_size, data.resolution, "data.resolution"),
        ];
        for (field, got, want, what) in fit {
            if got != want {
                return Err(TrainError::config(field, format!("must equal {what} = {want}, got {got}")));
            }
        }
        for (field, v) in [("method.base_lr", self.base_lr), ("method.base_min_lr", self.base_min_lr)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(TrainError::config(field, format!("must be finite and ≥ 0, got {v}")));
            }
        }
        Ok(())
    }
}

/// VideoMAE pretraining; build with [`VideoMaeMethod::new`], which validates the config.
#[derive(Clone, Debug)]
pub struct VideoMaeMethod {
    config: VideoMaeMethodConfig,
    masks: TubeMaskGenerator,
}

impl VideoMaeMethod {
    /// Validate the model config and prepare the tube-mask generator.
    pub fn new(config: VideoMaeMethodConfig) -> Result<Self, NnError> {
        config.model.validate()?;
        let masks = TubeMaskGenerator::new(&config.model);
        Ok(Self { config, masks })
    }

    /// The method's config.
    pub fn config(&self) -> &VideoMaeMethodConfig {
        &self.config
    }
}

impl<B: AutodiffBackend> Method<B> for VideoMaeMethod {
    type Model = VideoMae<B>;

    fn name(&self) -> &'static str {
        "videomae"
    }

    fn init(&self, device: &B::Device) -> Self::Model {
        match self.config.model.init(device) {
            Ok(model) => model,
            // `new` validated the config, and `init` fails only on an invalid one.
            Err(e) => unreachable!("validated VideoMAE config rejected: {e}"),
        }
    }

    /// Loss = MSE of the masked tokens' per-patch normalised pixels. Embeddings for collapse
    /// monitoring: the encoder's visible tokens, `(B·N_vis, D)`, detached.
    fn forward(&self, model: &Self::Model, batch: &TensorBatch<B>, ctx: &StepContext) -> Result<StepOutput<B>, TrainError> {
        let clip = batch.context.clone();
        let dims = clip.dims();
        let mut rng = ChaCha8Rng::seed_from_u64(ctx.micro_seed());
        let result = self.masks.sample(clip.dims()[0], &mut rng).and_then(|mask| model.loss(clip, &mask));
        let (loss, reconstruction) = result.map_err(|e| clip_error("context", dims, e))?;
        let [b, n, d] = reconstruction.latent.dims();
        Ok(StepOutput { loss, metrics: Vec::new(), embeddings: Some(reconstruction.latent.detach().reshape([b * n, d])) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::AutodiffModule;
    use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
    use burn::prelude::*;
    use physrep_nn::CpuAutodiff;

    fn tiny() -> VideoMaeMethodConfig {
        VideoMaeMethodConfig {
            model: VideoMaeConfig {
                in_chans: 2,
                num_frames: 4,
                img_size: 16,
                patch_size: 4,
                tubelet_size: 2,
                embed_dim: 32,
                depth: 2,
                num_heads: 2,
                mlp_ratio: 4.0,
                decoder_embed_dim: 16,
                decoder_depth: 1,
                decoder_num_heads: 2,
                mask_ratio: 0.75,
                norm_eps: 1e-6,
            },
            ..VideoMaeMethodConfig::default()
        }
    }

    /// Plane waves with the patch's period and a per-sample, per-channel phase: every patch of a clip
    /// has the same normalised content, which the decoder can only recover from the visible tokens.
    fn periodic_clips<B: Backend>(device: &B::Device) -> Tensor<B, 5> {
        let (b, c, t, h, w) = (4, 2, 4, 16, 16);
        let k = std::f32::consts::TAU / 4.0;
        let mut data = Vec::with_capacity(b * c * t * h * w);
        for s in 0..b {
            for ch in 0..c {
                for f in 0..t {
                    for y in 0..h {
                        for x in 0..w {
                            let phase = 1.1 * s as f32 + 2.3 * ch as f32 + 0.3 * f as f32;
                            let v = (k * x as f32 + phase).sin() + 0.5 * (k * y as f32 - 0.7 * phase).cos();
                            data.push(v);
                        }
                    }
                }
            }
        }
        Tensor::from_data(burn::tensor::TensorData::new(data, [b, c, t, h, w]), device)
    }

    #[test]
    fn config_defaults_are_the_papers() {
        let c = VideoMaeMethodConfig::default();
        assert_eq!(c.model, VideoMaeConfig::vit_small(11));
        assert_eq!(c.betas, [0.9, 0.95]);
        assert_eq!(c.weight_decay, 0.05);
        assert_eq!(c.probe.mlp_ratio, 0.25);
        assert!((c.lr_for_batch(256) - 1.5e-4).abs() < 1e-12);
        assert!((c.lr_for_batch(32) - 1.875e-5).abs() < 1e-12);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<VideoMaeMethodConfig>(&json).unwrap(), c);
    }

    #[test]
    fn invalid_config_is_rejected() {
        let mut c = tiny();
        c.model.num_heads = 3;
        assert!(VideoMaeMethod::new(c).unwrap_err().to_string().contains("num_heads 3"));
    }

    #[test]
    fn masks_derive_from_the_micro_seed() {
        let method = VideoMaeMethod::new(tiny()).unwrap();
        let device = Default::default();
        <CpuAutodiff as Backend>::seed(&device, 5);
        let model = Method::<CpuAutodiff>::init(&method, &device);
        let clip = physrep_nn::seeded::uniform::<CpuAutodiff, 5>([2, 2, 4, 16, 16], 0.0, 1.0, 117, &device);
        let batch = TensorBatch { context: clip.clone(), target: clip, labels: Tensor::zeros([2, 2], &device) };
        let ctx = |micro| StepContext { seed: 1, update: 0, micro };
        let loss = |micro| method.forward(&model, &batch, &ctx(micro)).unwrap().loss.into_scalar();
        assert_eq!(loss(3), loss(3), "same micro-batch index, same mask");
        assert_ne!(loss(3), loss(4), "another micro-batch, another mask");
    }

    /// A minimal explicit loop (AdamW, constant lr) over fixed periodic clips: the reconstruction loss
    /// must fall well below its initial value, and the frozen encoder then yields finite features.
    #[test]
    fn tiny_pretraining_lowers_reconstruction_loss() {
        let method = VideoMaeMethod::new(tiny()).unwrap();
        let device = Default::default();
        <CpuAutodiff as Backend>::seed(&device, 11);
        let mut model = Method::<CpuAutodiff>::init(&method, &device);
        let mut optim =
            AdamWConfig::new().with_beta_1(0.9).with_beta_2(0.95).with_weight_decay(0.05).init::<CpuAutodiff, VideoMae<CpuAutodiff>>();
        let clip = periodic_clips::<CpuAutodiff>(&device);
        let batch = TensorBatch { context: clip.clone(), target: clip.clone(), labels: Tensor::zeros([4, 2], &device) };
        let mut losses = Vec::new();
        for micro in 0..60u64 {
            let out = method.forward(&model, &batch, &StepContext { seed: 0, update: micro, micro }).unwrap();
            losses.push(out.loss.clone().into_scalar());
            let grads = GradientsParams::from_grads(out.loss.backward(), &model);
            model = optim.step(2e-3, model, grads);
        }
        let first: f32 = losses[..5].iter().sum::<f32>() / 5.0;
        let last: f32 = losses[losses.len() - 5..].iter().sum::<f32>() / 5.0;
        assert!(last < 0.3 * first, "loss did not fall enough: first {first}, last {last}, all {losses:?}");

        let features = physrep_nn::ClipEncoder::encode_tokens(&model.valid().encoder, clip.inner()).unwrap();
        assert_eq!(features.dims(), [4, 2 * 16, 32]);
        let values = features.into_data().to_vec::<f32>().unwrap();
        assert!(values.iter().all(|v| v.is_finite()));
    }
}
