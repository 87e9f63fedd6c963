//! AViT's field embedding, norms and hMLP stem / output (MPP's `spatial_modules.py`).
//!
//! * [`SubsampledLinear`]: `(B, C, N)` → `(B, D/4, N)`, the columns of the C fields present,
//!   rescaled by √(n_states / C);
//! * [`RmsInstanceNorm2d`], [`InstanceNorm2d`]: per sample and channel over `(H, W)` of `(N, C, H, W)`;
//! * [`HmlpStem`]: `(N, D/4, H, W)` → `(N, D, H/p, W/p)`; [`HmlpOutput`]: `(N, D, h, w)` →
//!   `(N, C, h·p, w·p)`.
//!
//! Initialisation draws from burn's global RNG with PyTorch's default bounds, in field order.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::prelude::*;
use burn::tensor::activation::gelu;
use burn::tensor::module::conv_transpose2d;
use burn::tensor::ops::ConvTransposeOptions;
use burn::tensor::Distribution;

/// `U(−1/√fan_in, 1/√fan_in)`: PyTorch's default bound for linear and conv weights and biases.
fn torch_uniform<B: Backend, const D: usize>(shape: [usize; D], fan_in: usize, device: &B::Device) -> Param<Tensor<B, D>> {
    let k = 1.0 / (fan_in as f64).sqrt();
    Param::from_tensor(Tensor::random(shape, Distribution::Uniform(-k, k), device))
}

/// MPP's `SubsampledLinear`: a linear map from a field vocabulary, using only the columns of
/// the fields present, rescaled by √(n_states / n_present) (bias included, as the reference).
#[derive(Module, Debug)]
pub struct SubsampledLinear<B: Backend> {
    /// `(dim_out, n_states)`, PyTorch layout.
    pub weight: Param<Tensor<B, 2>>,
    /// `(dim_out)`.
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> SubsampledLinear<B> {
    pub fn new(n_states: usize, dim_out: usize, device: &B::Device) -> Self {
        Self { weight: torch_uniform([dim_out, n_states], n_states, device), bias: torch_uniform([dim_out], n_states, device) }
    }

    /// `(B, C, N)` with channel c = vocabulary entry c → `(B, dim_out, N)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, c, _] = x.dims();
        let [dim_out, n_states] = self.weight.dims();
        let scale = (n_states as f64 / c as f64).sqrt();
        let w = self.weight.val().narrow(1, 0, c).unsqueeze_dim::<3>(0).expand([b, dim_out, c]);
        (w.matmul(x) + self.bias.val().reshape([1, dim_out, 1])).mul_scalar(scale)
    }
}

/// RMS instance norm: `x / (std over (H, W) + 1e-8) · weight` (unbiased std, no centring).
///
/// The variance is clamped at 1e-36 before the square root (the forward pass is unchanged in f32,
/// since 1e-18 vanishes beside the 1e-8 guard): the derivative of `sqrt` at 0 is infinite, so a
/// spatially constant channel — a uniform field, or a saturated GELU over a 2 × 2 stem output —
/// would otherwise turn every gradient below the norm into NaN (as PyTorch's `std` does).
#[derive(Module, Debug)]
pub struct RmsInstanceNorm2d<B: Backend> {
    pub weight: Param<Tensor<B, 1>>,
}

impl<B: Backend> RmsInstanceNorm2d<B> {
    pub fn new(channels: usize, device: &B::Device) -> Self {
        Self { weight: Param::from_tensor(Tensor::ones([channels], device)) }
    }

    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, c, h, w] = x.dims();
        let std = x.clone().reshape([n, c, h * w]).var(2).clamp_min(1e-36).sqrt().add_scalar(1e-8).reshape([n, c, 1, 1]);
        x / std * self.weight.val().reshape([1, c, 1, 1])
    }
}

/// `nn.InstanceNorm2d(affine=True)`: per sample and channel over (H, W), biased variance, eps 1e-5.
#[derive(Module, Debug)]
pub struct InstanceNorm2d<B: Backend> {
    pub weight: Param<Tensor<B, 1>>,
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> InstanceNorm2d<B> {
    pub fn new(channels: usize, device: &B::Device) -> Self {
        Self { weight: Param::from_tensor(Tensor::ones([channels], device)), bias: Param::from_tensor(Tensor::zeros([channels], device)) }
    }

    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, c, h, w] = x.dims();
        let (var, mean) = x.clone().reshape([n, c, h * w]).var_mean_bias(2);
        let xn = (x - mean.reshape([n, c, 1, 1])) / var.add_scalar(1e-5).sqrt().reshape([n, c, 1, 1]);
        xn * self.weight.val().reshape([1, c, 1, 1]) + self.bias.val().reshape([1, c, 1, 1])
    }
}

pub(super) fn conv<B: Backend>(c_in: usize, c_out: usize, k: usize, bias: bool, device: &B::Device) -> Conv2d<B> {
    Conv2dConfig::new([c_in, c_out], [k, k]).with_stride([k, k]).with_bias(bias).init(device)
}

fn deconv<B: Backend>(c_in: usize, c_out: usize, k: usize, device: &B::Device) -> ConvTranspose2d<B> {
    ConvTranspose2dConfig::new([c_in, c_out], [k, k]).with_stride([k, k]).with_bias(false).init(device)
}

/// hMLP stem: patch size p = (p/4)·2·2, widths D/4 → D/4 → D/4 → D, bias-free convs.
#[derive(Module, Debug)]
pub struct HmlpStem<B: Backend> {
    pub conv1: Conv2d<B>,
    pub norm1: RmsInstanceNorm2d<B>,
    pub conv2: Conv2d<B>,
    pub norm2: RmsInstanceNorm2d<B>,
    pub conv3: Conv2d<B>,
    pub norm3: RmsInstanceNorm2d<B>,
}

impl<B: Backend> HmlpStem<B> {
    pub fn new(patch_size: usize, embed_dim: usize, device: &B::Device) -> Self {
        let d4 = embed_dim / 4;
        Self {
            conv1: conv(d4, d4, patch_size / 4, false, device),
            norm1: RmsInstanceNorm2d::new(d4, device),
            conv2: conv(d4, d4, 2, false, device),
            norm2: RmsInstanceNorm2d::new(d4, device),
            conv3: conv(d4, embed_dim, 2, false, device),
            norm3: RmsInstanceNorm2d::new(embed_dim, device),
        }
    }

    /// `(N, D/4, H, W)` → `(N, D, H/p, W/p)`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = gelu(self.norm1.forward(self.conv1.forward(x)));
        let x = gelu(self.norm2.forward(self.conv2.forward(x)));
        self.norm3.forward(self.conv3.forward(x))
    }
}

/// hMLP output: transposed convs mirroring the stem; the last one selects the fields present.
#[derive(Module, Debug)]
pub struct HmlpOutput<B: Backend> {
    pub deconv1: ConvTranspose2d<B>,
    pub norm1: RmsInstanceNorm2d<B>,
    pub deconv2: ConvTranspose2d<B>,
    pub norm2: RmsInstanceNorm2d<B>,
    /// `(D/4, n_states, p/4, p/4)`, PyTorch transposed-conv layout.
    pub out_kernel: Param<Tensor<B, 4>>,
    /// `(n_states)`.
    pub out_bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> HmlpOutput<B> {
    pub fn new(patch_size: usize, embed_dim: usize, n_states: usize, device: &B::Device) -> Self {
        let (d4, k) = (embed_dim / 4, patch_size / 4);
        // PyTorch computes a transposed conv's fan-in from weight dim 1 (= out channels).
        let fan_in = n_states * k * k;
        Self {
            deconv1: deconv(embed_dim, d4, 2, device),
            norm1: RmsInstanceNorm2d::new(d4, device),
            deconv2: deconv(d4, d4, 2, device),
            norm2: RmsInstanceNorm2d::new(d4, device),
            out_kernel: torch_uniform([d4, n_states, k, k], fan_in, device),
            out_bias: torch_uniform([n_states], fan_in, device),
        }
    }

    /// `(N, D, h, w)` → `(N, C, h·p, w·p)` for the first C fields of the vocabulary.
    pub fn forward(&self, x: Tensor<B, 4>, channels: usize) -> Tensor<B, 4> {
        let x = gelu(self.norm1.forward(self.deconv1.forward(x)));
        let x = gelu(self.norm2.forward(self.deconv2.forward(x)));
        let k = self.out_kernel.dims()[2];
        let weight = self.out_kernel.val().narrow(1, 0, channels);
        let bias = self.out_bias.val().narrow(0, 0, channels);
        conv_transpose2d(x, weight, Some(bias), ConvTransposeOptions::new([k, k], [0, 0], [0, 0], [1, 1], 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A constant channel has zero variance; its gradient through the norm is finite (the std is
    /// treated as locally constant there), and the other channel's gradient matches central finite
    /// differences. Without the clamp both come back NaN.
    #[test]
    fn rms_norm_gradient_is_finite_on_a_constant_channel() {
        type Ad = crate::CpuAutodiff;
        let device = Default::default();
        let norm = RmsInstanceNorm2d::<Ad>::new(2, &device);
        let values = [0.5f32, 0.5, 0.5, 0.5, 1.0, 2.0, 3.0, -1.0];
        let r = Tensor::<Ad, 1>::from_floats([0.3, -0.7, 1.1, 0.2, -0.4, 0.9, 0.6, -1.3], &device).reshape([1, 2, 2, 2]);
        let loss = |v: &[f32]| {
            let x = Tensor::<Ad, 1>::from_floats(v, &device).reshape([1, 2, 2, 2]).require_grad();
            ((norm.forward(x.clone()) * r.clone()).sum(), x)
        };
        let (l, x) = loss(&values);
        let grads = l.backward();
        let g = x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        // Constant channel: d(x / (0 + 1e-8))/dx · r = r · 1e8.
        for (k, rk) in [0.3f32, -0.7, 1.1, 0.2].iter().enumerate() {
            assert!((g[k] - rk * 1e8).abs() <= 1e-5 * (rk * 1e8).abs(), "{k}: {} vs {}", g[k], rk * 1e8);
        }
        let h = 1e-2f32;
        for k in 4..8 {
            let mut up = values;
            up[k] += h;
            let mut down = values;
            down[k] -= h;
            // Channel 1 alone: channel 0's 1e8-scaled term would swamp the difference in f32.
            let f = |v: &[f32]| {
                let x = Tensor::<Ad, 1>::from_floats(v, &device).reshape([1, 2, 2, 2]);
                (norm.forward(x) * r.clone()).narrow(1, 1, 1).sum().into_scalar()
            };
            let fd = (f(&up) - f(&down)) / (2.0 * h);
            assert!((g[k] - fd).abs() <= 2e-3 * (1.0 + fd.abs()), "{k}: {} vs {fd}", g[k]);
        }
    }
}
