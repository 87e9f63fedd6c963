//! AViT — the axial vision transformer of Multiple Physics Pretraining (MPP).
//!
//! Paper: McCabe et al., "Multiple Physics Pretraining for Spatiotemporal Surrogate Models",
//! NeurIPS 2024 (<https://arxiv.org/abs/2310.02994>); reference code
//! `PolymathicAI/multiple_physics_pretraining` (`models/avit.py`, `spatial_modules.py`,
//! `time_modules.py`, `shared_modules.py`). Used by Qu et al. (arXiv 2603.13227) as the
//! fine-tuned physics-modelling baseline (`docs/baselines.md` §3).
//!
//! What it computes, for a clip `x (B, C, T, H, W)` (channels first, as every physrep encoder):
//! 1. per-sample, per-channel standardisation over (T, H, W) (unbiased std + 1e-7, statistics
//!    detached) — RevIN-like;
//! 2. field embedding `SubsampledLinear(n_states → D/4)`: channel c uses vocabulary column c,
//!    output scaled by √(n_states / C) (bias included, as the reference);
//! 3. hMLP stem: conv(k p/4, s p/4) → RMSInstanceNorm → GELU → conv(k2, s2) → RMSIN → GELU →
//!    conv(k2, s2, D/4 → D) → RMSIN, all convs bias-free: `(B·T, D, H/p, W/p)` tokens;
//! 4. `processor_blocks` × [`SpaceTimeBlock`]: temporal attention over T at each spatial token
//!    (InstanceNorm, 1×1-conv QKV, q/k LayerNorm, T5 relative bias, layer-scale), then axial
//!    spatial attention (x- and y-attention averaged, RMSIN, 1×1 output conv, layer-scale,
//!    MLP ×4 with RMSIN, layer-scale);
//! 5. hMLP output (transposed convs mirroring the stem) on the **last time step only**, then
//!    de-standardisation: the predicted next frame `(B, C, H, W)`. The reference decodes every
//!    step and keeps the last; decoding is per frame, so the result is identical.
//!
//! As a [`ClipEncoder`] it returns the last time step's tokens `(B, (H/p)·(W/p), D)` in row-major
//! (h, w) order — what the paper's MPP fine-tuning feeds its attentive probe.
//!
//! Parameter count (test `avit_ti_parameter_count`, against a hand formula and against the PyTorch
//! twin `bench/torch_avit.py --count`): AViT-Ti (D 192, 3 heads, 12 blocks, patch 16, n_states 12)
//! has **7,278,588** parameters. The reference PyTorch module also holds the unused bias of every
//! RMSInstanceNorm (7,296 values: **7,285,884** in all; the MPP paper quotes ≈7.6 M); physrep omits
//! those dead parameters. The reference's drop-path (0.2, linear over depth) is not implemented
//! (declared deviation; physrep pretrains and fine-tunes without it).
//!
//! Boundary flags: `periodic = [x, y]` selects the relative-bias wrap-around per spatial axis
//! (the paper's fine-tuning passes periodic for every dataset, also RB; physrep defaults to
//! that and lets a run pass wall flags).
//!
//! Files: this one (config, trunk, model, attention blocks); `stem.rs` (field embedding, norms,
//! hMLP stem and output); `position.rs` (T5 relative position bias). The MLP and the biased
//! scaled dot-product attention come from [`crate::layers`].

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

mod position;
mod stem;

pub use crate::layers::Mlp;
use crate::layers::{biased_attention, grid_to_tokens};
use crate::{ClipEncoder, ClipShapeError, NnError};
pub use position::{relative_position_bucket, relative_positions, RelativePositionBias};
use stem::conv;
pub use stem::{HmlpOutput, HmlpStem, InstanceNorm2d, RmsInstanceNorm2d, SubsampledLinear};

/// Hyperparameters of an AViT. `Default` is AViT-Ti as released by MPP (patch 16, 12 states).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AvitConfig {
    /// Size of the field vocabulary of the embedding (`n_states`); channel c uses entry c.
    pub n_states: usize,
    /// Token width D.
    pub embed_dim: usize,
    /// Attention heads (head dim D / heads).
    pub num_heads: usize,
    /// Number of space-time blocks.
    pub processor_blocks: usize,
    /// Patch size p of the hMLP stem (multiple of 4: first conv k = s = p/4, then two k2 s2).
    pub patch_size: usize,
    /// MLP hidden width as a multiple of D.
    pub mlp_ratio: usize,
    /// Layer-scale initial value.
    pub layer_scale: f64,
    /// Buckets of the T5 relative position bias (half per direction).
    pub rel_pos_buckets: usize,
    /// Periodic boundaries along [x (W axis), y (H axis)] for the spatial relative bias.
    pub periodic: [bool; 2],
}

impl Default for AvitConfig {
    fn default() -> Self {
        Self {
            n_states: 12,
            embed_dim: 192,
            num_heads: 3,
            processor_blocks: 12,
            patch_size: 16,
            mlp_ratio: 4,
            layer_scale: 1e-6,
            rel_pos_buckets: 32,
            periodic: [true, true],
        }
    }
}

impl AvitConfig {
    /// Validate the hyperparameters (clear error naming the field).
    pub fn check(&self) -> Result<(), NnError> {
        if self.n_states == 0 {
            return Err(NnError::field("n_states", self.n_states, ">= 1"));
        }
        if self.embed_dim == 0 || !self.embed_dim.is_multiple_of(4) {
            return Err(NnError::field("embed_dim", self.embed_dim, "a positive multiple of 4"));
        }
        if self.num_heads == 0 || !self.embed_dim.is_multiple_of(self.num_heads) {
            return Err(NnError::field("num_heads", self.num_heads, "a divisor of embed_dim"));
        }
        if self.patch_size < 4 || !self.patch_size.is_multiple_of(4) {
            return Err(NnError::field("patch_size", self.patch_size, "a multiple of 4 (4, 8, 16, ...)"));
        }
        if self.mlp_ratio == 0 {
            return Err(NnError::field("mlp_ratio", self.mlp_ratio, ">= 1"));
        }
        if self.rel_pos_buckets < 4 || !self.rel_pos_buckets.is_multiple_of(2) {
            return Err(NnError::field("rel_pos_buckets", self.rel_pos_buckets, "an even number >= 4"));
        }
        Ok(())
    }

    /// Check that a clip `(B, C, T, H, W)` fits this model.
    pub fn check_clip(&self, dims: [usize; 5]) -> Result<(), NnError> {
        check_clip(dims, self.patch_size, self.n_states)
    }

    /// Build the trunk shared by AViT and compact DISCO (embedding, stem, blocks).
    pub fn init_trunk<B: Backend>(&self, device: &B::Device) -> Result<AvitTrunk<B>, NnError> {
        self.check()?;
        let blocks = (0..self.processor_blocks)
            .map(|_| SpaceTimeBlock::new(self.embed_dim, self.num_heads, self.mlp_ratio, self.layer_scale, self.rel_pos_buckets, device))
            .collect();
        Ok(AvitTrunk {
            space_bag: SubsampledLinear::new(self.n_states, self.embed_dim / 4, device),
            embed: HmlpStem::new(self.patch_size, self.embed_dim, device),
            blocks,
            periodic_x: self.periodic[0],
            periodic_y: self.periodic[1],
        })
    }

    /// Build the model (weights from burn's seeded default initialisers, PyTorch-like bounds).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Avit<B>, NnError> {
        Ok(Avit { trunk: self.init_trunk(device)?, debed: HmlpOutput::new(self.patch_size, self.embed_dim, self.n_states, device) })
    }
}

/// Field embedding, hMLP stem and space-time blocks: clip → tokens (shared with compact DISCO).
#[derive(Module, Debug)]
pub struct AvitTrunk<B: Backend> {
    pub space_bag: SubsampledLinear<B>,
    pub embed: HmlpStem<B>,
    pub blocks: Vec<SpaceTimeBlock<B>>,
    periodic_x: bool,
    periodic_y: bool,
}

/// Check that a clip `(B, C, T, H, W)` fits an AViT trunk of patch size `p` and `n_states` fields.
fn check_clip(dims: [usize; 5], p: usize, n_states: usize) -> Result<(), NnError> {
    let [b, c, t, h, w] = dims;
    let bad = |expected: String| NnError::Input { name: "clip", shape: dims.to_vec(), expected };
    if b == 0 || t == 0 {
        return Err(bad("(B, C, T, H, W) with B >= 1 and T >= 1".into()));
    }
    if c == 0 || c > n_states {
        return Err(bad(format!("1 <= C <= n_states = {n_states}")));
    }
    if h % p != 0 || w % p != 0 || (h / p) * (w / p) < 2 {
        return Err(bad(format!("H and W multiples of the patch size {p}, at least 2 patches")));
    }
    Ok(())
}

/// The AViT model (see the module documentation).
#[derive(Module, Debug)]
pub struct Avit<B: Backend> {
    pub trunk: AvitTrunk<B>,
    pub debed: HmlpOutput<B>,
}

impl<B: Backend> Avit<B> {
    /// Check that a clip `(B, C, T, H, W)` fits this model's patch size and field vocabulary.
    pub fn check_clip(&self, dims: [usize; 5]) -> Result<(), NnError> {
        check_clip(dims, self.trunk.patch_size(), self.trunk.n_states())
    }
}

/// Per-sample, per-channel statistics over every axis after the first two of a `(B, C, …)` tensor.
///
/// Returns `(x_std, mean, std)` with `x_std = (x − mean) / std`; `std` is the unbiased standard
/// deviation plus `eps`; `mean` and `std` are detached and keep singleton axes for broadcasting.
pub fn standardize_per_channel<B: Backend, const D: usize>(x: Tensor<B, D>, eps: f64) -> (Tensor<B, D>, Tensor<B, D>, Tensor<B, D>) {
    let dims = x.dims();
    let (b, c) = (dims[0], dims[1]);
    let flat: Tensor<B, 3> = x.clone().detach().reshape([b as i32, c as i32, -1]);
    let (var, mean) = flat.var_mean(2);
    let mut stat_shape = [1usize; D];
    stat_shape[0] = b;
    stat_shape[1] = c;
    let mean: Tensor<B, D> = mean.reshape(stat_shape);
    let std: Tensor<B, D> = var.sqrt().add_scalar(eps).reshape(stat_shape);
    ((x - mean.clone()) / std.clone(), mean, std)
}

impl<B: Backend> AvitTrunk<B> {
    /// Standardise, embed and process a clip: returns the tokens `(B·T, D, h, w)` (b-major) and
    /// the per-sample statistics `(mean, std)` of shape `(B, C, 1, 1, 1)`.
    pub fn forward(&self, clip: Tensor<B, 5>) -> (Tensor<B, 4>, Tensor<B, 5>, Tensor<B, 5>) {
        let [b, c, t, h, w] = clip.dims();
        let (x, mean, std) = standardize_per_channel(clip, 1e-7);
        // (B, C, T·H·W) → (B, D/4, T·H·W) → (B·T, D/4, H, W)
        let e = self.space_bag.forward(x.reshape([b, c, t * h * w]));
        let d4 = e.dims()[1];
        let e = e.reshape([b, d4, t, h, w]).swap_dims(1, 2).reshape([b * t, d4, h, w]);
        let mut tokens = self.embed.forward(e);
        for block in &self.blocks {
            tokens = block.forward(tokens, t, [self.periodic_x, self.periodic_y]);
        }
        (tokens, mean, std)
    }

    /// Token width D.
    pub fn embed_dim(&self) -> usize {
        self.embed.conv3.weight.dims()[0]
    }

    /// Patch size p (tokens per frame = (H/p)·(W/p)).
    pub fn patch_size(&self) -> usize {
        let [_, _, k, _] = self.embed.conv1.weight.dims();
        4 * k
    }

    /// Vocabulary size of the field embedding.
    pub fn n_states(&self) -> usize {
        self.space_bag.weight.dims()[1]
    }
}

impl<B: Backend> Avit<B> {
    /// The last time step's tokens `(B, D, h, w)` of a trunk output `(B·T, D, h, w)`.
    fn last_step(tokens: Tensor<B, 4>, t: usize) -> Tensor<B, 4> {
        let [bt, d, h, w] = tokens.dims();
        tokens.reshape([bt / t, t, d, h, w]).narrow(1, t - 1, 1).reshape([bt / t, d, h, w])
    }

    /// MPP's next-frame prediction: clip `(B, C, T, H, W)` → frame `(B, C, H, W)` in data units.
    pub fn forward_next(&self, clip: Tensor<B, 5>) -> Tensor<B, 4> {
        self.forward_next_with_tokens(clip).0
    }

    /// [`Self::forward_next`] and the last time step's tokens `(B, h·w, D)` from the same pass.
    pub fn forward_next_with_tokens(&self, clip: Tensor<B, 5>) -> (Tensor<B, 4>, Tensor<B, 3>) {
        let [b, c, t, _, _] = clip.dims();
        let (tokens, mean, std) = self.trunk.forward(clip);
        let last = Self::last_step(tokens, t);
        let frame = self.debed.forward(last.clone(), c) * std.reshape([b, c, 1, 1]) + mean.reshape([b, c, 1, 1]);
        (frame, grid_to_tokens(last))
    }

    /// Last-time-step tokens `(B, h·w, D)`, row-major over (h, w): the probe's input.
    pub fn last_step_tokens(&self, clip: Tensor<B, 5>) -> Tensor<B, 3> {
        let t = clip.dims()[2];
        let (tokens, _, _) = self.trunk.forward(clip);
        grid_to_tokens(Self::last_step(tokens, t))
    }
}

/// MPP's objective: per sample and field, the spatial MSE divided by the spatial mean of target²
/// (+ 1e-7), averaged over samples and fields. `pred`, `target`: `(B, C, H, W)`; returns `[1]`.
pub fn nrmse_loss<B: Backend>(pred: Tensor<B, 4>, target: Tensor<B, 4>) -> Tensor<B, 1> {
    let [b, c, h, w] = target.dims();
    let target = target.reshape([b, c, h * w]);
    let scale = target.clone().square().mean_dim(2).add_scalar(1e-7);
    let mse = (pred.reshape([b, c, h * w]) - target).square().mean_dim(2);
    (mse / scale).mean()
}

impl<B: Backend> ClipEncoder<B> for Avit<B> {
    fn token_dim(&self) -> usize {
        self.trunk.embed_dim()
    }

    fn encode_tokens(&self, clips: Tensor<B, 5>) -> Result<Tensor<B, 3>, ClipShapeError> {
        let dims = clips.dims();
        self.check_clip(dims).map_err(|e| ClipShapeError::new(dims, e))?;
        Ok(self.last_step_tokens(clips))
    }
}

/// Split the last axis `3·hd` into q, k, v, with per-head LayerNorm on q and k.
fn split_qkv<B: Backend, const D: usize>(x: Tensor<B, D>, qnorm: &LayerNorm<B>, knorm: &LayerNorm<B>) -> [Tensor<B, D>; 3] {
    let hd = x.dims()[D - 1] / 3;
    let q = qnorm.forward(x.clone().narrow(D - 1, 0, hd));
    let k = knorm.forward(x.clone().narrow(D - 1, hd, hd));
    [q, k, x.narrow(D - 1, 2 * hd, hd)]
}

/// Temporal attention over T at each spatial token (MPP's `AttentionBlock`), with residual.
#[derive(Module, Debug)]
pub struct TemporalAttention<B: Backend> {
    pub norm1: InstanceNorm2d<B>,
    pub norm2: InstanceNorm2d<B>,
    pub gamma: Param<Tensor<B, 1>>,
    pub input_head: Conv2d<B>,
    pub output_head: Conv2d<B>,
    pub qnorm: LayerNorm<B>,
    pub knorm: LayerNorm<B>,
    pub rel_pos_bias: RelativePositionBias<B>,
    num_heads: usize,
}

impl<B: Backend> TemporalAttention<B> {
    fn new(dim: usize, heads: usize, layer_scale: f64, buckets: usize, device: &B::Device) -> Self {
        Self {
            norm1: InstanceNorm2d::new(dim, device),
            norm2: InstanceNorm2d::new(dim, device),
            gamma: Param::from_tensor(Tensor::full([dim], layer_scale, device)),
            input_head: conv(dim, 3 * dim, 1, true, device),
            output_head: conv(dim, dim, 1, true, device),
            qnorm: LayerNormConfig::new(dim / heads).init(device),
            knorm: LayerNormConfig::new(dim / heads).init(device),
            rel_pos_bias: RelativePositionBias::new(buckets, heads, device),
            num_heads: heads,
        }
    }

    /// `(B·T, D, h, w)` (b-major) → same shape.
    pub fn forward(&self, x: Tensor<B, 4>, t: usize) -> Tensor<B, 4> {
        let [bt, d, h, w] = x.dims();
        let (b, heads, hd, hw) = (bt / t, self.num_heads, d / self.num_heads, h * w);
        let qkv = self.input_head.forward(self.norm1.forward(x.clone()));
        // (B, T, he, 3hd, hw) → (B, hw, he, T, 3hd)
        let qkv = qkv.reshape([b, t, heads, 3 * hd, hw]).permute([0, 4, 2, 1, 3]).reshape([b * hw, heads, t, 3 * hd]);
        let [q, k, v] = split_qkv(qkv, &self.qnorm, &self.knorm);
        let a = biased_attention(q, k, v, self.rel_pos_bias.forward(t, false));
        // (B, hw, he, T, hd) → (B, T, he, hd, hw)
        let a = a.reshape([b, hw, heads, t, hd]).permute([0, 3, 2, 4, 1]).reshape([bt, d, h, w]);
        let a = self.output_head.forward(self.norm2.forward(a));
        a * self.gamma.val().reshape([1, d, 1, 1]) + x
    }
}

/// Axial spatial attention (x and y averaged) + MLP (MPP's `AxialAttentionBlock`), with residuals.
#[derive(Module, Debug)]
pub struct AxialAttention<B: Backend> {
    pub norm1: RmsInstanceNorm2d<B>,
    pub norm2: RmsInstanceNorm2d<B>,
    pub gamma_att: Param<Tensor<B, 1>>,
    pub gamma_mlp: Param<Tensor<B, 1>>,
    pub input_head: Conv2d<B>,
    pub output_head: Conv2d<B>,
    pub qnorm: LayerNorm<B>,
    pub knorm: LayerNorm<B>,
    pub rel_pos_bias: RelativePositionBias<B>,
    pub mlp: Mlp<B>,
    pub mlp_norm: RmsInstanceNorm2d<B>,
    num_heads: usize,
}

impl<B: Backend> AxialAttention<B> {
    fn new(dim: usize, heads: usize, mlp_ratio: usize, layer_scale: f64, buckets: usize, device: &B::Device) -> Self {
        Self {
            norm1: RmsInstanceNorm2d::new(dim, device),
            norm2: RmsInstanceNorm2d::new(dim, device),
            gamma_att: Param::from_tensor(Tensor::full([dim], layer_scale, device)),
            gamma_mlp: Param::from_tensor(Tensor::full([dim], layer_scale, device)),
            input_head: conv(dim, 3 * dim, 1, true, device),
            output_head: conv(dim, dim, 1, true, device),
            qnorm: LayerNormConfig::new(dim / heads).init(device),
            knorm: LayerNormConfig::new(dim / heads).init(device),
            rel_pos_bias: RelativePositionBias::new(buckets, heads, device),
            mlp: Mlp::with_default_init(dim, mlp_ratio * dim, device),
            mlp_norm: RmsInstanceNorm2d::new(dim, device),
            num_heads: heads,
        }
    }

    /// `(N, D, h, w)` → same shape; `periodic = [x, y]`.
    pub fn forward(&self, x: Tensor<B, 4>, periodic: [bool; 2]) -> Tensor<B, 4> {
        let [n, d, h, w] = x.dims();
        let (heads, hd) = (self.num_heads, d / self.num_heads);
        let qkv = self.input_head.forward(self.norm1.forward(x.clone()));
        // (N, he, 3hd, h, w) → (N, he, h, w, 3hd)
        let qkv: Tensor<B, 5> = qkv.reshape([n, heads, 3 * hd, h, w]).permute([0, 1, 3, 4, 2]);
        let [q, k, v] = split_qkv(qkv, &self.qnorm, &self.knorm);
        // Along x (W): (N, h, he, w, hd) sequences.
        let to_x = |t: Tensor<B, 5>| t.permute([0, 2, 1, 3, 4]).reshape([n * h, heads, w, hd]);
        let xx = biased_attention(to_x(q.clone()), to_x(k.clone()), to_x(v.clone()), self.rel_pos_bias.forward(w, periodic[0]));
        let xx = xx.reshape([n, h, heads, w, hd]).permute([0, 2, 4, 1, 3]).reshape([n, d, h, w]);
        // Along y (H): (N, w, he, h, hd) sequences.
        let to_y = |t: Tensor<B, 5>| t.permute([0, 3, 1, 2, 4]).reshape([n * w, heads, h, hd]);
        let xy = biased_attention(to_y(q), to_y(k), to_y(v), self.rel_pos_bias.forward(h, periodic[1]));
        let xy = xy.reshape([n, w, heads, h, hd]).permute([0, 2, 4, 3, 1]).reshape([n, d, h, w]);
        let a = self.output_head.forward(self.norm2.forward((xx + xy).div_scalar(2.0)));
        let x = a * self.gamma_att.val().reshape([1, d, 1, 1]) + x;
        let m = self.mlp.forward(x.clone().permute([0, 2, 3, 1])).permute([0, 3, 1, 2]);
        self.mlp_norm.forward(m) * self.gamma_mlp.val().reshape([1, d, 1, 1]) + x
    }
}

/// One processor block: temporal attention, then axial spatial attention + MLP.
#[derive(Module, Debug)]
pub struct SpaceTimeBlock<B: Backend> {
    pub temporal: TemporalAttention<B>,
    pub spatial: AxialAttention<B>,
}

impl<B: Backend> SpaceTimeBlock<B> {
    pub fn new(dim: usize, heads: usize, mlp_ratio: usize, layer_scale: f64, buckets: usize, device: &B::Device) -> Self {
        Self {
            temporal: TemporalAttention::new(dim, heads, layer_scale, buckets, device),
            spatial: AxialAttention::new(dim, heads, mlp_ratio, layer_scale, buckets, device),
        }
    }

    /// `(B·T, D, h, w)` (b-major) → same shape.
    pub fn forward(&self, x: Tensor<B, 4>, t: usize, periodic: [bool; 2]) -> Tensor<B, 4> {
        self.spatial.forward(self.temporal.forward(x, t), periodic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cpu;
    use burn::tensor::Tolerance;

    fn tiny() -> AvitConfig {
        AvitConfig { n_states: 4, embed_dim: 32, num_heads: 2, processor_blocks: 2, patch_size: 4, ..AvitConfig::default() }
    }

    /// Parameters of an AViT counted by hand from the reference module list.
    fn formula(c: &AvitConfig) -> usize {
        let (e, e4, n, hd, k) = (c.embed_dim, c.embed_dim / 4, c.n_states, c.embed_dim / c.num_heads, c.patch_size / 4);
        let rel = c.rel_pos_buckets * c.num_heads;
        let space_bag = e4 * n + e4;
        let stem = e4 * e4 * k * k + e4 + e4 * e4 * 4 + e4 + e4 * e * 4 + e;
        let temporal = 2 * e + 2 * e + e + (3 * e * e + 3 * e) + (e * e + e) + 4 * hd + rel;
        let spatial = e
            + e
            + e
            + e
            + (3 * e * e + 3 * e)
            + (e * e + e)
            + 4 * hd
            + rel
            + (e * c.mlp_ratio * e + c.mlp_ratio * e)
            + (c.mlp_ratio * e * e + e)
            + e;
        let debed = e * e4 * 4 + e4 + e4 * e4 * 4 + e4 + e4 * n * k * k + n;
        space_bag + stem + c.processor_blocks * (temporal + spatial) + debed
    }

    #[test]
    fn avit_ti_parameter_count() {
        let config = AvitConfig::default();
        let model = config.init::<Cpu>(&Default::default()).unwrap();
        assert_eq!(model.num_params(), formula(&config));
        // The reference PyTorch AViT-Ti (bench/torch_avit.py --count) minus its unused RMS-norm biases.
        assert_eq!(model.num_params(), 7_278_588);
    }

    #[test]
    fn shapes_and_clip_encoder() {
        let config = tiny();
        let device = Default::default();
        let model = config.init::<Cpu>(&device).unwrap();
        assert_eq!(model.num_params(), formula(&config));
        let clip = crate::seeded::normal::<Cpu, 5>([2, 3, 4, 16, 24], 0.0, 1.0, 114, &device);
        config.check_clip(clip.dims()).unwrap();
        assert_eq!(model.forward_next(clip.clone()).dims(), [2, 3, 16, 24]);
        assert_eq!(model.encode_tokens(clip).unwrap().dims(), [2, 4 * 6, 32]);
        assert_eq!(model.token_dim(), 32);
    }

    #[test]
    fn bad_configs_and_clips_are_errors() {
        let bad = AvitConfig { patch_size: 6, ..tiny() };
        assert!(matches!(bad.check(), Err(NnError::ConfigField { field: "patch_size", .. })));
        let bad = AvitConfig { num_heads: 5, ..tiny() };
        assert!(matches!(bad.init::<Cpu>(&Default::default()), Err(NnError::ConfigField { field: "num_heads", .. })));
        assert!(tiny().check_clip([1, 5, 4, 16, 16]).is_err(), "more channels than the vocabulary");
        assert!(tiny().check_clip([1, 3, 4, 18, 16]).is_err(), "H not a multiple of p");
        assert!(tiny().check_clip([1, 3, 4, 4, 4]).is_err(), "a single patch");
    }

    #[test]
    fn batch_items_are_independent() {
        let device = Default::default();
        let model = tiny().init::<Cpu>(&device).unwrap();
        let clip = crate::seeded::normal::<Cpu, 5>([3, 2, 3, 8, 12], 0.0, 1.0, 236, &device);
        let all = model.encode_tokens(clip.clone()).unwrap();
        let one = model.encode_tokens(clip.narrow(0, 1, 1)).unwrap();
        // A clip whose height is no multiple of the patch is an error naming the shape, not a panic.
        let odd = crate::seeded::normal::<Cpu, 5>([1, 2, 3, 9, 12], 0.0, 1.0, 237, &device);
        let err = model.encode_tokens(odd).unwrap_err().to_string();
        assert!(err.contains("[1, 2, 3, 9, 12]") && err.contains("patch size"), "{err}");
        all.narrow(0, 1, 1).into_data().assert_approx_eq::<f32>(&one.into_data(), Tolerance::absolute(1e-4));
    }

    #[test]
    fn prediction_is_equivariant_to_per_channel_affine_maps() {
        // The RevIN-style normalisation makes f(a·x + b) = a·f(x) + b per channel (a > 0).
        let device = Default::default();
        let model = tiny().init::<Cpu>(&device).unwrap();
        let clip = crate::seeded::normal::<Cpu, 5>([2, 2, 3, 8, 8], 0.0, 1.0, 347, &device);
        let scale = Tensor::<Cpu, 1>::from_floats([3.0, 0.5], &device).reshape([1, 2, 1, 1, 1]);
        let shift = Tensor::<Cpu, 1>::from_floats([-2.0, 10.0], &device).reshape([1, 2, 1, 1, 1]);
        let y = model.forward_next(clip.clone());
        let y2 = model.forward_next(clip * scale.clone() + shift.clone());
        let expected = y * scale.reshape([1, 2, 1, 1]) + shift.reshape([1, 2, 1, 1]);
        y2.into_data().assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-3));
    }
}
