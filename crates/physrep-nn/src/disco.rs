//! Compact DISCO — a hypernetwork that writes the weights of a small neural operator, integrated
//! in time.
//!
//! Paper: Morel, Han, Oyallon, "DISCO: learning to DISCover an evolution Operator for
//! multi-physics-agnostic prediction", ICML 2025 (PMLR 267:44750, <https://arxiv.org/abs/2504.19496>);
//! reference code `RudyMorel/DISCO`. Qu et al. (arXiv 2603.13227) probe its 1×D latent.
//! This is the **compact** variant of `docs/baselines.md` §4.3, trained from scratch on simulated data
//! (a declared deviation from the paper's multi-physics DISCO).
//!
//! What it computes, for a context clip `x (B, C, T, H, W)`:
//! 1. hypernetwork trunk (shared with [`crate::avit`]): per-sample per-channel standardisation,
//!    channel adapter over a field vocabulary (column selection + √ rescale), strided hMLP conv
//!    stem (RMS norm per channel, GELU) to `(H/p)·(W/p)` tokens per frame, `depth` factorised
//!    space-time blocks (temporal attention, then axial spatial attention; QK-LayerNorm, T5
//!    relative bias, layer-scale);
//! 2. latent `z = mean over (T, h, w)` of the tokens: `(B, D)` — the probed vector
//!    ([`ClipEncoder`] returns it as one token `(B, 1, D)`);
//! 3. bounded low-rank weight generator: `g = fc2(GELU(fc1(z))) ∈ ℝ^r`,
//!    `θ̃ = θ₀ + g·U` (`U ∈ ℝ^{r×P}`), then per operator layer ℓ
//!    `θ = θ_norm,ℓ · s(θ̃ / θ_norm,ℓ)` with DISCO's signed sigmoid `s(u) = 2·(2σ(u) − 1)`
//!    (slope 1 at 0, bounded by ±2) and `θ_norm,ℓ = 1/√fan_in,ℓ` (the bound of θ₀'s init);
//! 4. operator network: `depth_op − 1` bias-free k×k convs of width `w` with GELU, then a bias-free
//!    1×1 conv back to C channels; circular padding; per-sample weights applied as one grouped
//!    convolution with the batch folded into the groups;
//! 5. the last context frame, re-standardised per sample and channel over space, evolves by
//!    `dx/dt = op_θ(x)` over `t ∈ [0, 1]` with fixed-step RK4 (`rk4_steps` steps, back-propagated
//!    through the unrolled steps): the predicted next frame, in standardised units (de-standardise
//!    with the returned statistics).
//!
//! Shapes: in `(B, C, T, H, W)` (H, W multiples of the patch size); latent `(B, D)`; next frame
//! `(B, C, H, W)`.
//!
//! Parameter count (test `disco_parameter_count`): the default (D 192, 3 heads, 4 blocks, patch 16,
//! 12 states, C 11, generator 192 → 384 → r 16, operator width 32, 4 layers) has a 2,463,632-parameter
//! trunk, an 80,272-parameter generator MLP, P = 21,952 generated operator weights (θ₀) and a
//! 16 × P basis: **2,917,088** in all (the paper's DISCO: ≈170–180 M, dominated by its generator heads).

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, sigmoid};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::avit::{standardize_per_channel, AvitConfig, AvitTrunk};
use crate::layers::mlp_with;
use crate::{ClipEncoder, ClipShapeError, NnError};

/// Hyperparameters of compact DISCO. `Default` follows `docs/baselines.md` §4.3 (d = 192, 4 blocks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoConfig {
    /// Field vocabulary of the channel adapter (channel c uses entry c).
    pub n_states: usize,
    /// Data channels C the operator evolves.
    pub channels: usize,
    /// Token width D (= the latent's size).
    pub embed_dim: usize,
    /// Attention heads.
    pub num_heads: usize,
    /// Space-time blocks of the trunk.
    pub depth: usize,
    /// Patch size of the conv stem (multiple of 4).
    pub patch_size: usize,
    /// Layer-scale initial value.
    pub layer_scale: f64,
    /// Periodic boundaries along [x, y] (relative bias wrap; the operator always pads circularly).
    pub periodic: [bool; 2],
    /// Hidden width of the generator MLP.
    pub generator_hidden: usize,
    /// Rank r of the generated weight update.
    pub rank: usize,
    /// Width of the operator network.
    pub operator_width: usize,
    /// Conv layers of the operator network (≥ 2: `depth − 1` k×k convs, then a 1×1 conv).
    pub operator_depth: usize,
    /// Kernel size of the operator's spatial convs (odd).
    pub kernel_size: usize,
    /// Fixed RK4 steps over t ∈ [0, 1].
    pub rk4_steps: usize,
}

impl Default for DiscoConfig {
    fn default() -> Self {
        Self {
            n_states: 12,
            channels: 11,
            embed_dim: 192,
            num_heads: 3,
            depth: 4,
            patch_size: 16,
            layer_scale: 1e-6,
            periodic: [true, true],
            generator_hidden: 384,
            rank: 16,
            operator_width: 32,
            operator_depth: 4,
            kernel_size: 3,
            rk4_steps: 4,
        }
    }
}

impl DiscoConfig {
    /// The trunk's AViT settings.
    pub fn encoder(&self) -> AvitConfig {
        AvitConfig {
            n_states: self.n_states,
            embed_dim: self.embed_dim,
            num_heads: self.num_heads,
            processor_blocks: self.depth,
            patch_size: self.patch_size,
            layer_scale: self.layer_scale,
            periodic: self.periodic,
            ..AvitConfig::default()
        }
    }

    /// Validate the hyperparameters (clear error naming the field).
    pub fn check(&self) -> Result<(), NnError> {
        self.encoder().check()?;
        if self.channels == 0 || self.channels > self.n_states {
            return Err(NnError::field("channels", self.channels, "1 <= channels <= n_states"));
        }
        for (field, value) in [
            ("generator_hidden", self.generator_hidden),
            ("rank", self.rank),
            ("operator_width", self.operator_width),
            ("rk4_steps", self.rk4_steps),
        ] {
            if value == 0 {
                return Err(NnError::field(field, value, ">= 1"));
            }
        }
        if self.operator_depth < 2 {
            return Err(NnError::field("operator_depth", self.operator_depth, ">= 2"));
        }
        if self.kernel_size.is_multiple_of(2) {
            return Err(NnError::field("kernel_size", self.kernel_size, "an odd number"));
        }
        Ok(())
    }

    /// Check that a context clip `(B, C, T, H, W)` fits this model.
    pub fn check_clip(&self, dims: [usize; 5]) -> Result<(), NnError> {
        self.encoder().check_clip(dims)?;
        if dims[1] != self.channels {
            return Err(NnError::Input { name: "clip", shape: dims.to_vec(), expected: format!("C = channels = {}", self.channels) });
        }
        let (h, w, k) = (dims[3], dims[4], self.kernel_size);
        if h < k / 2 || w < k / 2 {
            return Err(NnError::Input { name: "clip", shape: dims.to_vec(), expected: format!("H, W >= {} for circular padding", k / 2) });
        }
        Ok(())
    }

    /// Operator layer shapes `[c_out, c_in, k, k]`.
    pub fn operator_layers(&self) -> Vec<[usize; 4]> {
        let (c, w, k) = (self.channels, self.operator_width, self.kernel_size);
        let mut layers = vec![[w, c, k, k]];
        for _ in 0..self.operator_depth - 2 {
            layers.push([w, w, k, k]);
        }
        layers.push([c, w, 1, 1]);
        layers
    }

    /// Number P of generated operator weights.
    pub fn operator_params(&self) -> usize {
        self.operator_layers().iter().map(|s| s.iter().product::<usize>()).sum()
    }

    /// Per-weight bound θ_norm (1/√fan_in of its layer), length P.
    fn theta_norm(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.operator_params());
        for [co, ci, k, _] in self.operator_layers() {
            let bound = 1.0 / ((ci * k * k) as f32).sqrt();
            out.extend(std::iter::repeat_n(bound, co * ci * k * k));
        }
        out
    }

    /// Build the model.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Disco<B>, NnError> {
        self.check()?;
        let p = self.operator_params();
        let norm = Tensor::<B, 1>::from_data(TensorData::new(self.theta_norm(), [p]), device);
        // θ₀ ~ U(−θ_norm, θ_norm) per layer (PyTorch's conv init); U ~ N(0, (0.1 θ_norm)² / r).
        let theta0 = Tensor::<B, 1>::random([p], Distribution::Uniform(-1.0, 1.0), device) * norm.clone();
        let basis = Tensor::<B, 2>::random([self.rank, p], Distribution::Normal(0.0, 1.0), device)
            * norm.unsqueeze_dim(0).mul_scalar(0.1 / (self.rank as f64).sqrt());
        Ok(Disco {
            trunk: self.encoder().init_trunk(device)?,
            fc1: LinearConfig::new(self.embed_dim, self.generator_hidden).init(device),
            fc2: LinearConfig::new(self.generator_hidden, self.rank).init(device),
            basis: Param::from_tensor(basis),
            theta0: Param::from_tensor(theta0),
            config: self.clone(),
        })
    }
}

/// The compact DISCO model (see the module documentation).
#[derive(Module, Debug)]
pub struct Disco<B: Backend> {
    pub trunk: AvitTrunk<B>,
    /// Generator MLP, first layer `D → hidden`.
    pub fc1: Linear<B>,
    /// Generator MLP, second layer `hidden → r`.
    pub fc2: Linear<B>,
    /// Low-rank basis `U (r, P)`.
    pub basis: Param<Tensor<B, 2>>,
    /// Shared operator weights `θ₀ (P)`.
    pub theta0: Param<Tensor<B, 1>>,
    #[module(skip)]
    config: DiscoConfig,
}

/// A next-frame prediction in standardised units, with the statistics that standardised it.
pub struct NextFrame<B: Backend> {
    /// Prediction `(B, C, H, W)` in the last context frame's standardised units.
    pub standardized: Tensor<B, 4>,
    /// The last context frame, standardised `(B, C, H, W)` (the persistence forecast).
    pub initial: Tensor<B, 4>,
    /// Per-sample, per-channel mean `(B, C, 1, 1)` of the last context frame.
    pub mean: Tensor<B, 4>,
    /// Per-sample, per-channel std `(B, C, 1, 1)` (+ eps) of the last context frame.
    pub std: Tensor<B, 4>,
    /// The latent `z (B, D)`.
    pub latent: Tensor<B, 2>,
}

impl<B: Backend> NextFrame<B> {
    /// The prediction in data units.
    pub fn frame(&self) -> Tensor<B, 4> {
        self.standardized.clone() * self.std.clone() + self.mean.clone()
    }

    /// A frame in data units → the prediction's standardised units.
    pub fn standardize(&self, frame: Tensor<B, 4>) -> Tensor<B, 4> {
        (frame - self.mean.clone()) / self.std.clone()
    }
}

/// Pad the two trailing axes of `(N, C, H, W)` periodically by `p` on each side.
pub fn circular_pad<B: Backend>(x: Tensor<B, 4>, p: usize) -> Tensor<B, 4> {
    if p == 0 {
        return x;
    }
    let [_, _, h, w] = x.dims();
    let x = Tensor::cat(vec![x.clone().narrow(2, h - p, p), x.clone(), x.narrow(2, 0, p)], 2);
    Tensor::cat(vec![x.clone().narrow(3, w - p, p), x.clone(), x.narrow(3, 0, p)], 3)
}

impl<B: Backend> Disco<B> {
    /// Check that a clip `(B, C, T, H, W)` fits this model (its trunk, channel count and kernel).
    pub fn check_clip(&self, dims: [usize; 5]) -> Result<(), NnError> {
        self.config.check_clip(dims)
    }

    /// The model's configuration.
    pub fn config(&self) -> &DiscoConfig {
        &self.config
    }

    /// Latent `z (B, D)`: trunk tokens averaged over (T, h, w).
    pub fn latent(&self, clip: Tensor<B, 5>) -> Tensor<B, 2> {
        let [b, _, t, _, _] = clip.dims();
        let (tokens, _, _) = self.trunk.forward(clip);
        let [_, d, h, w] = tokens.dims();
        tokens.reshape([b, t, d, h * w]).swap_dims(1, 2).reshape([b, d, t * h * w]).mean_dim(2).reshape([b, d])
    }

    /// Generated, bounded operator weights `θ (B, P)` for latents `z (B, D)`.
    pub fn generate(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        let g = mlp_with(&self.fc1, &self.fc2, z, |t| t);
        let raw = g.matmul(self.basis.val()) + self.theta0.val().unsqueeze_dim(0);
        let norm = self.config().theta_norm();
        let p = norm.len();
        let norm = Tensor::<B, 1>::from_data(TensorData::new(norm, [p]), &raw.device()).unsqueeze_dim::<2>(0);
        bounded(raw, norm)
    }

    /// The operator network `op_θ(x)`: `x (B, C, H, W)` with per-sample weights `θ (B, P)`.
    pub fn operator(&self, x: Tensor<B, 4>, theta: Tensor<B, 2>) -> Tensor<B, 4> {
        let [b, c, h, w] = x.dims();
        let layers = self.config().operator_layers();
        let mut y = x.reshape([1, b * c, h, w]);
        let mut offset = 0;
        for (i, [co, ci, k, _]) in layers.iter().copied().enumerate() {
            let n = co * ci * k * k;
            let weight = theta.clone().narrow(1, offset, n).reshape([b * co, ci, k, k]);
            offset += n;
            y = conv2d(circular_pad(y, k / 2), weight, None, ConvOptions::new([1, 1], [0, 0], [1, 1], b));
            if i + 1 < layers.len() {
                y = gelu(y);
            }
        }
        y.reshape([b, c, h, w])
    }

    /// Integrate `dx/dt = op_θ(x)` over [0, 1] with `rk4_steps` classical RK4 steps.
    pub fn evolve(&self, x0: Tensor<B, 4>, theta: Tensor<B, 2>) -> Tensor<B, 4> {
        rk4(x0, self.config().rk4_steps, |x| self.operator(x, theta.clone()))
    }

    /// Predict the frame after a context clip `(B, C, T, H, W)`.
    pub fn forward_next(&self, clip: Tensor<B, 5>) -> NextFrame<B> {
        let [b, c, t, h, w] = clip.dims();
        let last = clip.clone().narrow(2, t - 1, 1).reshape([b, c, h, w]);
        let (initial, mean, std) = standardize_per_channel(last, 1e-5);
        let latent = self.latent(clip);
        let theta = self.generate(latent.clone());
        let standardized = self.evolve(initial.clone(), theta);
        NextFrame { standardized, initial, mean, std, latent }
    }
}

/// Classical fixed-step RK4 for `dx/dt = f(x)` over t ∈ [0, 1] in `steps` steps (autodiff
/// differentiates through the unrolled steps).
pub fn rk4<B: Backend, const D: usize>(x0: Tensor<B, D>, steps: usize, f: impl Fn(Tensor<B, D>) -> Tensor<B, D>) -> Tensor<B, D> {
    let dt = 1.0 / steps as f64;
    let mut x = x0;
    for _ in 0..steps {
        let k1 = f(x.clone());
        let k2 = f(x.clone() + k1.clone().mul_scalar(dt / 2.0));
        let k3 = f(x.clone() + k2.clone().mul_scalar(dt / 2.0));
        let k4 = f(x.clone() + k3.clone().mul_scalar(dt));
        x = x + (k1 + (k2 + k3).mul_scalar(2.0) + k4).mul_scalar(dt / 6.0);
    }
    x
}

/// DISCO's bounded weights: `norm · s(raw / norm)` with `s(u) = 2·(2σ(u) − 1)`.
pub fn bounded<B: Backend>(raw: Tensor<B, 2>, norm: Tensor<B, 2>) -> Tensor<B, 2> {
    let s = sigmoid(raw / norm.clone()).mul_scalar(4.0).sub_scalar(2.0);
    s * norm
}

/// Per-sample normalised MSE: mean over (sample, channel) of
/// `mean_space((pred − target)²) / (var_space(target) + 1e-3)`; inputs `(B, C, H, W)` in
/// standardised units. Returns shape `[1]`.
pub fn normalized_mse<B: Backend>(pred: Tensor<B, 4>, target: Tensor<B, 4>) -> Tensor<B, 1> {
    let [b, c, h, w] = target.dims();
    let target = target.reshape([b, c, h * w]);
    let var = target.clone().var_bias(2);
    let mse = (pred.reshape([b, c, h * w]) - target).square().mean_dim(2);
    (mse / var.add_scalar(1e-3)).mean()
}

impl<B: Backend> ClipEncoder<B> for Disco<B> {
    fn token_dim(&self) -> usize {
        self.trunk.embed_dim()
    }

    fn encode_tokens(&self, clips: Tensor<B, 5>) -> Result<Tensor<B, 3>, ClipShapeError> {
        let dims = clips.dims();
        self.check_clip(dims).map_err(|e| ClipShapeError::new(dims, e))?;
        Ok(self.latent(clips).unsqueeze_dim(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cpu, CpuAutodiff};
    use burn::module::AutodiffModule;

    fn tiny() -> DiscoConfig {
        DiscoConfig {
            n_states: 4,
            channels: 2,
            embed_dim: 16,
            num_heads: 2,
            depth: 1,
            patch_size: 4,
            generator_hidden: 8,
            rank: 3,
            operator_width: 4,
            operator_depth: 3,
            rk4_steps: 2,
            ..DiscoConfig::default()
        }
    }

    fn formula(c: &DiscoConfig) -> usize {
        let trunk = {
            let a = c.encoder();
            let model = a.init::<Cpu>(&Default::default()).unwrap();
            model.trunk.num_params()
        };
        let p = c.operator_params();
        trunk + (c.embed_dim * c.generator_hidden + c.generator_hidden) + (c.generator_hidden * c.rank + c.rank) + c.rank * p + p
    }

    #[test]
    fn disco_parameter_count() {
        let config = DiscoConfig::default();
        // Operator: 3×3 11→32, 3×3 32→32 twice, 1×1 32→11.
        assert_eq!(config.operator_params(), 9 * 11 * 32 + 2 * 9 * 32 * 32 + 32 * 11);
        assert_eq!(config.operator_params(), 21_952);
        let model = config.init::<Cpu>(&Default::default()).unwrap();
        assert_eq!(model.num_params(), formula(&config));
        assert_eq!(model.trunk.num_params(), 2_463_632);
        assert_eq!(model.num_params(), 2_917_088);
    }

    #[test]
    fn shapes_and_clip_encoder() {
        let config = tiny();
        let device = Default::default();
        let model = config.init::<Cpu>(&device).unwrap();
        assert_eq!(model.num_params(), formula(&config));
        let clip = crate::seeded::normal::<Cpu, 5>([3, 2, 4, 8, 12], 0.0, 1.0, 118, &device);
        config.check_clip(clip.dims()).unwrap();
        let next = model.forward_next(clip.clone());
        assert_eq!(next.standardized.dims(), [3, 2, 8, 12]);
        assert_eq!(next.frame().dims(), [3, 2, 8, 12]);
        assert_eq!(next.latent.dims(), [3, 16]);
        assert_eq!(model.encode_tokens(clip).unwrap().dims(), [3, 1, 16]);
        assert!(config.check_clip([3, 3, 4, 8, 12]).is_err(), "channel count differs from the operator's");
        assert!(matches!(DiscoConfig { operator_depth: 1, ..tiny() }.check(), Err(NnError::ConfigField { field: "operator_depth", .. })));
    }

    #[test]
    fn circular_pad_wraps_indices() {
        let device = Default::default();
        let x = Tensor::<Cpu, 1, Int>::arange(0..12, &device).float().reshape([1, 1, 3, 4]);
        let padded: Vec<f32> = circular_pad(x, 1).into_data().to_vec().unwrap();
        for i in 0..5 {
            for j in 0..6 {
                let (si, sj) = ((i + 2) % 3, (j + 3) % 4);
                assert_eq!(padded[i * 6 + j], (si * 4 + sj) as f32, "at ({i}, {j})");
            }
        }
    }

    #[test]
    fn grouped_operator_matches_a_naive_per_sample_convolution() {
        let config = DiscoConfig { operator_depth: 2, ..tiny() };
        let device = Default::default();
        let model = config.init::<Cpu>(&device).unwrap();
        let (b, c, h, w, width) = (2, 2, 5, 6, config.operator_width);
        let x = crate::seeded::normal::<Cpu, 4>([b, c, h, w], 0.0, 1.0, 248, &device);
        let theta = crate::seeded::normal::<Cpu, 2>([b, config.operator_params()], 0.0, 0.5, 349, &device);
        let got: Vec<f32> = model.operator(x.clone(), theta.clone()).into_data().to_vec().unwrap();
        let xv: Vec<f32> = x.into_data().to_vec().unwrap();
        let tv: Vec<f32> = theta.into_data().to_vec().unwrap();
        let p = config.operator_params();
        for s in 0..b {
            let th = &tv[s * p..(s + 1) * p];
            // Layer 1: 3×3 circular conv c → width.
            let mut hidden = vec![0f32; width * h * w];
            for o in 0..width {
                for i in 0..h {
                    for j in 0..w {
                        let mut acc = 0f32;
                        for ci in 0..c {
                            for di in 0..3 {
                                for dj in 0..3 {
                                    let (ii, jj) = ((i + h + di - 1) % h, (j + w + dj - 1) % w);
                                    acc += th[((o * c + ci) * 3 + di) * 3 + dj] * xv[((s * c + ci) * h + ii) * w + jj];
                                }
                            }
                        }
                        hidden[(o * h + i) * w + j] = acc;
                    }
                }
            }
            let hidden: Vec<f32> =
                gelu(Tensor::<Cpu, 1>::from_data(TensorData::new(hidden, [width * h * w]), &device)).into_data().to_vec().unwrap();
            // Layer 2: 1×1 conv width → c.
            let w2 = &th[width * c * 9..];
            for o in 0..c {
                for ij in 0..h * w {
                    let expected: f32 = (0..width).map(|k| w2[o * width + k] * hidden[k * h * w + ij]).sum();
                    let g = got[(s * c + o) * h * w + ij];
                    assert!((g - expected).abs() < 1e-4, "sample {s} channel {o} pixel {ij}: {g} vs {expected}");
                }
            }
        }
    }

    #[test]
    fn bounded_weights_are_bounded_with_unit_slope_at_zero() {
        let device = Default::default();
        let norm = Tensor::<Cpu, 2>::from_floats([[0.5, 0.5, 0.5, 0.5]], &device);
        let raw = Tensor::<Cpu, 2>::from_floats([[0.0, 1e-3, 100.0, -100.0]], &device);
        let v: Vec<f32> = bounded(raw, norm).into_data().to_vec().unwrap();
        assert_eq!(v[0], 0.0);
        assert!((v[1] - 1e-3).abs() < 1e-6, "slope 1 at 0: {}", v[1]);
        assert!((v[2] - 1.0).abs() < 1e-5 && (v[3] + 1.0).abs() < 1e-5, "saturates at ±2·norm: {v:?}");
    }

    #[test]
    fn rk4_matches_the_exact_solution_at_fourth_order() {
        // dx/dt = λ x on [0, 1]: x(1) = e^λ x0. RK4's global error is O(dt⁴); one step of RK4 is
        // exactly the degree-4 Taylor polynomial of e^{λ dt}.
        let device = Default::default();
        let lambda = -2.0f64;
        let x0 = Tensor::<Cpu, 1>::from_floats([1.0, -0.5, 2.0], &device);
        let err = |steps: usize| {
            let x1 = rk4(x0.clone(), steps, |x| x.mul_scalar(lambda));
            (x1 - x0.clone().mul_scalar(lambda.exp())).abs().max().into_scalar() as f64
        };
        let analytic = |steps: usize| {
            let z = lambda / steps as f64;
            let one_step = 1.0 + z + z.powi(2) / 2.0 + z.powi(3) / 6.0 + z.powi(4) / 24.0;
            2.0 * (one_step.powi(steps as i32) - lambda.exp()).abs()
        };
        for steps in [4, 8] {
            assert!((err(steps) - analytic(steps)).abs() < 2e-6, "{steps} steps: error {} vs the analytic {}", err(steps), analytic(steps));
        }
        let ratio = err(4) / err(8);
        assert!((13.0..22.0).contains(&ratio), "halving the step divides the error by {ratio} (fourth order: ≈ 16)");
    }

    /// Finite differences (central, f32, on the inner backend) against autodiff, along a random
    /// direction, for the generated-operator path: generator MLP → low-rank basis → bounded θ →
    /// grouped-conv operator → unrolled RK4 → normalised MSE.
    #[test]
    fn generated_operator_gradients_match_finite_differences() {
        let device = Default::default();
        let config = tiny();
        let model = config.init::<CpuAutodiff>(&device).unwrap();
        let x0 = crate::seeded::normal::<CpuAutodiff, 4>([2, 2, 6, 6], 0.0, 1.0, 432, &device).require_grad();
        let target = crate::seeded::normal::<CpuAutodiff, 4>([2, 2, 6, 6], 0.0, 1.0, 533, &device);
        let z = crate::seeded::normal::<CpuAutodiff, 2>([2, 16], 0.0, 1.0, 634, &device);
        let loss_of = |m: &Disco<Cpu>, x: Tensor<Cpu, 4>| -> f64 {
            let theta = m.generate(z.clone().inner());
            normalized_mse(m.evolve(x, theta), target.clone().inner()).into_scalar() as f64
        };
        let loss = normalized_mse(model.evolve(x0.clone(), model.generate(z.clone())), target.clone());
        let grads = loss.backward();
        let inner = model.valid();
        let h = 1e-2;
        let check = |name: &str, analytic: f64, plus: f64, minus: f64| {
            let fd = (plus - minus) / (2.0 * h);
            let tol = 2e-3 * analytic.abs().max(fd.abs()) + 1e-4;
            assert!((analytic - fd).abs() < tol, "{name}: autodiff {analytic} vs finite differences {fd}");
        };
        let dot = |a: Tensor<Cpu, 2>, b: Tensor<Cpu, 2>| (a * b).sum().into_scalar() as f64;
        // Basis U (r, P): direction scaled to the parameter's size.
        let u = inner.basis.val();
        let dir = u.random_like(Distribution::Normal(0.0, 1.0)).mul_scalar(u.clone().abs().mean().into_scalar());
        let mut plus = inner.clone();
        plus.basis = Param::from_tensor(u.clone() + dir.clone().mul_scalar(h));
        let mut minus = inner.clone();
        minus.basis = Param::from_tensor(u - dir.clone().mul_scalar(h));
        let x0i = x0.clone().inner();
        check("basis", dot(model.basis.grad(&grads).unwrap(), dir), loss_of(&plus, x0i.clone()), loss_of(&minus, x0i.clone()));
        // Generator first layer (the z → θ path).
        let w = inner.fc1.weight.val();
        let dir = w.random_like(Distribution::Normal(0.0, 1.0)).mul_scalar(w.clone().abs().mean().into_scalar());
        let mut plus = inner.clone();
        plus.fc1.weight = Param::from_tensor(w.clone() + dir.clone().mul_scalar(h));
        let mut minus = inner.clone();
        minus.fc1.weight = Param::from_tensor(w - dir.clone().mul_scalar(h));
        check("fc1.weight", dot(model.fc1.weight.grad(&grads).unwrap(), dir), loss_of(&plus, x0i.clone()), loss_of(&minus, x0i.clone()));
        // Shared offsets θ₀.
        let t0 = inner.theta0.val();
        let dir = t0.random_like(Distribution::Normal(0.0, 1.0)).mul_scalar(t0.clone().abs().mean().into_scalar());
        let mut plus = inner.clone();
        plus.theta0 = Param::from_tensor(t0.clone() + dir.clone().mul_scalar(h));
        let mut minus = inner.clone();
        minus.theta0 = Param::from_tensor(t0 - dir.clone().mul_scalar(h));
        let analytic = (model.theta0.grad(&grads).unwrap() * dir).sum().into_scalar() as f64;
        check("theta0", analytic, loss_of(&plus, x0i.clone()), loss_of(&minus, x0i.clone()));
        // The initial state x0.
        let dir = x0i.random_like(Distribution::Normal(0.0, 1.0));
        let analytic = (x0.grad(&grads).unwrap() * dir.clone()).sum().into_scalar() as f64;
        check("x0", analytic, loss_of(&inner, x0i.clone() + dir.clone().mul_scalar(h)), loss_of(&inner, x0i - dir.mul_scalar(h)));
    }
}
