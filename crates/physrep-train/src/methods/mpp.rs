//! MPP pretraining (`docs/baselines.md` §3.2): next-frame prediction with an AViT and the per-field
//! NRMSE objective (spatial MSE / spatial mean of target²), through the shared loop.
//!
//! Input: the batch's `context (B, C, T, H, W)`; target: frame 0 of `target (B, C, Tt, H, W)`.
//! Logged terms: `nrmse` (the loss) and `persistence_nrmse` (the same metric for repeating the
//! last context frame — the bar a forecaster must clear). Collapse monitoring rows: the
//! last-time-step tokens mean-pooled to `(B, D)`. Deviation: MPP trains with Adan/D-Adaptation and
//! 1000 warm-up steps; physrep uses the loop's AdamW + warm-up/cosine schedule.

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use physrep_nn::avit::{nrmse_loss, Avit, AvitConfig};
use physrep_nn::NnError;
use serde::{Deserialize, Serialize};

use crate::config::Preset;
use crate::error::TrainError;
use crate::method::{clip_error, Method, StepContext, StepOutput, TensorBatch};

/// The method's typed config (serde; `Default` = AViT-Ti with patch 16, as released by MPP).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MppPretrainConfig {
    pub model: AvitConfig,
}

impl MppPretrainConfig {
    /// A tiny AViT for tests and smoke runs (D 32, 2 heads, 2 blocks, patch 4).
    pub fn tiny() -> Self {
        Self { model: AvitConfig { embed_dim: 32, num_heads: 2, processor_blocks: 2, patch_size: 4, ..AvitConfig::default() } }
    }

    /// The preset's model: `tiny` (32²) → [`Self::tiny`]; `small` / `default` (64²) → AViT-Ti with
    /// patch 8 (8 × 8 tokens); `paper` (224²) → AViT-Ti with patch 16 (14 × 14 tokens).
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Tiny => Self::tiny(),
            Preset::Small | Preset::Medium => Self { model: AvitConfig { patch_size: 8, ..AvitConfig::default() } },
            Preset::Paper => Self::default(),
        }
    }

    /// Check the config against the data: `channels` fields, `frames` context frames at
    /// `resolution`².
    pub fn validate(&self, channels: usize, frames: usize, resolution: usize) -> Result<(), NnError> {
        self.model.check()?;
        self.model.check_clip([1, channels, frames, resolution, resolution])
    }
}

/// MPP pretraining with a validated config.
#[derive(Clone, Debug)]
pub struct MppMethod {
    config: MppPretrainConfig,
}

impl MppMethod {
    /// Validate the model config.
    pub fn new(config: MppPretrainConfig) -> Result<Self, NnError> {
        config.model.check()?;
        Ok(Self { config })
    }

    /// The model config.
    pub fn config(&self) -> &MppPretrainConfig {
        &self.config
    }
}

/// Frame `k` of a `(B, C, T, H, W)` clip as `(B, C, H, W)`.
pub fn frame<B: Backend>(clip: &Tensor<B, 5>, k: usize) -> Tensor<B, 4> {
    let [b, c, _, h, w] = clip.dims();
    clip.clone().narrow(2, k, 1).reshape([b, c, h, w])
}

/// The last frame of a `(B, C, T, H, W)` clip as `(B, C, H, W)`.
pub fn last_frame<B: Backend>(clip: &Tensor<B, 5>) -> Tensor<B, 4> {
    frame(clip, clip.dims()[2] - 1)
}

impl<B: AutodiffBackend> Method<B> for MppMethod {
    type Model = Avit<B>;

    fn name(&self) -> &'static str {
        "mpp"
    }

    fn init(&self, device: &B::Device) -> Avit<B> {
        self.config.model.init(device).expect("AvitConfig validated in MppMethod::new")
    }

    fn forward(&self, model: &Avit<B>, batch: &TensorBatch<B>, _ctx: &StepContext) -> Result<StepOutput<B>, TrainError> {
        let dims = batch.context.dims();
        model.check_clip(dims).map_err(|e| clip_error("context", dims, e))?;
        let target = frame(&batch.target, 0);
        let persistence = nrmse_loss(last_frame(&batch.context), target.clone()).into_scalar().elem::<f64>();
        let (pred, tokens) = model.forward_next_with_tokens(batch.context.clone());
        let loss = nrmse_loss(pred, target);
        let [b, _, d] = tokens.dims();
        Ok(StepOutput {
            metrics: vec![("nrmse".into(), loss.clone().into_scalar().elem::<f64>()), ("persistence_nrmse".into(), persistence)],
            embeddings: Some(tokens.detach().mean_dim(1).reshape([b, d])),
            loss,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use burn::optim::{AdamConfig, GradientsParams, Optimizer};
    use physrep_nn::CpuAutodiff;

    /// A seeded random batch (its own RNG, so tests running in parallel cannot change it): context
    /// `(2, 3, 4, 16, 16)`, target `(2, 3, 2, 16, 16)`, labels `(2, 2)`, values N(1, 2²).
    pub(crate) fn batch() -> TensorBatch<CpuAutodiff> {
        use rand::{Rng, SeedableRng};
        let device = Default::default();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let normal = rand_distr::Normal::new(1.0f32, 2.0).expect("valid normal");
        let mut draw = |shape: [usize; 5]| {
            let values: Vec<f32> = (0..shape.iter().product::<usize>()).map(|_| rng.sample(normal)).collect();
            Tensor::<CpuAutodiff, 5>::from_data(burn::tensor::TensorData::new(values, shape), &device)
        };
        let context = draw([2, 3, 4, 16, 16]);
        let target = draw([2, 3, 2, 16, 16]);
        TensorBatch { context, target, labels: Tensor::zeros([2, 2], &device) }
    }

    /// Run `steps` Adam updates of `method` on one fixed batch; return the first and last loss.
    pub(crate) fn overfit<M: Method<CpuAutodiff>>(method: &M, steps: usize) -> (f64, f64) {
        let device = Default::default();
        let batch = batch();
        let ctx = StepContext { seed: 0, update: 0, micro: 0 };
        // Seeded and materialised under the loop's init lock: the same weights whatever runs beside it.
        let mut model = crate::trainer::init_model(method, 0, &device);
        let mut optim = AdamConfig::new().init();
        let mut losses = Vec::new();
        for _ in 0..steps {
            let out = method.forward(&model, &batch, &ctx).unwrap();
            losses.push(out.loss.clone().into_scalar() as f64);
            let grads = GradientsParams::from_grads(out.loss.backward(), &model);
            model = optim.step(3e-3, model, grads);
        }
        (losses[0], losses[steps - 1])
    }

    #[test]
    fn forward_reports_loss_persistence_and_embeddings() {
        let method = MppMethod::new(MppPretrainConfig::tiny()).unwrap();
        method.config().validate(3, 4, 16).unwrap();
        assert!(method.config().validate(3, 4, 18).is_err(), "18 is not a multiple of the patch size 4");
        let batch = batch();
        let model = Method::<CpuAutodiff>::init(&method, &Default::default());
        let out = method.forward(&model, &batch, &StepContext { seed: 0, update: 0, micro: 0 }).unwrap();
        let names: Vec<&str> = out.metrics.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["nrmse", "persistence_nrmse"]);
        assert!(out.metrics.iter().all(|(_, v)| v.is_finite() && *v > 0.0));
        let expected = nrmse_loss(last_frame(&batch.context), frame(&batch.target, 0)).into_scalar() as f64;
        assert!((out.metrics[1].1 - expected).abs() < 1e-6);
        assert_eq!(out.embeddings.unwrap().dims(), [2, 32]);
    }

    #[test]
    fn a_few_updates_lower_the_loss_on_a_fixed_batch() {
        let (first, last) = overfit(&MppMethod::new(MppPretrainConfig::tiny()).unwrap(), 15);
        assert!(last < 0.8 * first, "NRMSE {first} → {last}");
    }
}
