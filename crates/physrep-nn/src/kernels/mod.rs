//! Custom kernels as a burn backend extension: the ConvNeXt block's hot ops.
//!
//! [`KernelBackend`] adds these ops (each with its gradients) to a backend:
//!
//! * **Depthwise 3-D convolution.** burn 0.21's flex backend runs a 7×7×7 depthwise
//!   `conv3d(groups = C)` through im2col and one GEMM per group (M = 1), about 15× slower than a
//!   direct loop. Shapes: `x (N, C, D, H, W)`, `w (C, 1, kd, kh, kw)` with odd kernel sizes,
//!   `b (C)`; stride 1, zero padding `k/2` per axis, so `y` has the shape of `x`. A 2-D depthwise
//!   conv is `D = kd = 1`.
//! * **LayerNorm over channels** of a channels-first `x (N, C, D, H, W)`, written channels-first
//!   or channels-last `(N, D, H, W, C)` ([`Layout`]). Composed from burn ops, the permute to
//!   channels-last makes every elementwise op of the norm and of its autodiff backward walk a
//!   strided view through flex's generic iterator: about a third of a JEPA training step.
//! * **Pointwise linear layer** `y = x·w + b`, `x (M, K)`, `w (K, N)`, `b (N)`: one `gemm` call into a
//!   buffer pre-filled with the bias ([`dense_cpu`]) instead of flex's matmul (zeroed, copied to
//!   realign, then a separate bias pass).
//! * **Exact GELU** `x · Φ(x)`: flex evaluates `erf` and `exp` element by element through libm;
//!   [`gelu_cpu`] vectorises both.
//! * **Layer-scaled residual** `y = x + γ · hᵀ`: `x (N, C, D, H, W)` channels-first, the block's
//!   branch `h (N, D, H, W, C)` channels-last, `γ (C)`.
//! * **A whole ConvNeXt block** built from the ops above, optionally with activation checkpointing.
//!
//! The flex impl runs the direct loops of [`dwconv_cpu`], [`channel_cpu`] and [`gelu_cpu`]; `Autodiff<B>` gets
//! hand-written backward nodes that call the gradient kernels; any other backend (CUDA) uses the
//! default bodies, built from burn's own ops. See `shared/spec/custom-kernels.md` for the recipe.

#[macro_use]
mod simd;
pub mod channel_cpu;
pub mod dense_cpu;
pub mod dwconv_cpu;
pub mod gelu_cpu;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::backend::Backend;
use burn::tensor::ops::{ConvOptions, FloatTensor};
use burn::tensor::{DType, Shape, Tensor, TensorData, TensorMetadata, TensorPrimitive};

use channel_cpu::ChannelDims;
pub use channel_cpu::Layout;
use dwconv_cpu::DwDims;

/// A backend that can run the ConvNeXt block's hot ops (and their gradients) natively.
///
/// The default bodies (`fallback_*`) are compositions of burn's own ops, so
/// `impl KernelBackend for MyBackend {}` is a complete (if slower) port.
pub trait KernelBackend: Backend {
    /// `y = dwconv(x, w) + b`; see the module docs for shapes.
    fn dwconv3d(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        fallback_dwconv3d::<Self>(x, w, b)
    }

    /// Gradients `(gx, gw, gb)` given the output gradient `gy`.
    fn dwconv3d_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        gy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        fallback_dwconv3d_backward::<Self>(x, w, gy)
    }

    /// LayerNorm over the channels of `x (N, C, D, H, W)` with weight `w (C)`, bias `b (C)`,
    /// written as `out`.
    fn channel_norm(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>, eps: f64, out: Layout) -> FloatTensor<Self> {
        fallback_channel_norm::<Self>(x, w, b, eps, out)
    }

    /// Gradients `(gx, gw, gb)` of [`Self::channel_norm`]; `gy` is laid out as `out`, `gx` is
    /// channels-first.
    fn channel_norm_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        gy: FloatTensor<Self>,
        eps: f64,
        out: Layout,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        fallback_channel_norm_backward::<Self>(x, w, gy, eps, out)
    }

    /// `x + γ · hᵀ` for `x (N, C, D, H, W)`, `h (N, D, H, W, C)`, `γ (C)`.
    fn layer_scale_residual(x: FloatTensor<Self>, h: FloatTensor<Self>, gamma: FloatTensor<Self>) -> FloatTensor<Self> {
        fallback_layer_scale_residual::<Self>(x, h, gamma)
    }

    /// Gradients `(gh, gγ)` of [`Self::layer_scale_residual`] (the gradient of `x` is `gy`).
    fn layer_scale_residual_backward(
        gy: FloatTensor<Self>,
        h: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        fallback_layer_scale_residual_backward::<Self>(gy, h, gamma)
    }

    /// `x·w + b` for `x (M, K)`, `w (K, N)`, `b (N)`.
    fn dense(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        fallback_dense::<Self>(x, w, b)
    }

    /// Gradients `(gx, gw, gb)` of [`Self::dense`]: `gy·wᵀ`, `xᵀ·gy`, `Σ_rows gy`.
    fn dense_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        gy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        fallback_dense_backward::<Self>(x, w, gy)
    }

    /// The exact (erf) GELU, elementwise.
    fn gelu_exact(x: FloatTensor<Self>) -> FloatTensor<Self> {
        <Self as burn::tensor::ops::ActivationOps<Self>>::gelu(x)
    }

    /// `gy · gelu'(x)` for the exact GELU.
    fn gelu_exact_backward(x: FloatTensor<Self>, gy: FloatTensor<Self>) -> FloatTensor<Self> {
        fallback_gelu_exact_backward::<Self>(x, gy)
    }

    /// A whole ConvNeXt block from the ops above: the output `(N, C, D, H, W)` for input
    /// `x (N, C, D, H, W)`. With `checkpoint` under `Autodiff` the block is one graph node that keeps
    /// only its input and recomputes the rest in the backward pass (one extra block forward per
    /// step, for a fraction of the memory); otherwise every op is recorded as usual.
    fn convnext_block(x: FloatTensor<Self>, p: BlockParams<FloatTensor<Self>>, eps: f64, _checkpoint: bool) -> FloatTensor<Self> {
        // Without autodiff there is nothing to save.
        prim(block_forward::<Self>(tensor(x), &p, eps).0)
    }
}

/// [`KernelBackend::dwconv3d`] through burn's `conv3d(groups = C)`.
pub fn fallback_dwconv3d<B: Backend>(x: FloatTensor<B>, w: FloatTensor<B>, b: FloatTensor<B>) -> FloatTensor<B> {
    let opt = conv_options(&w.shape());
    B::conv3d(x, w, Some(b), opt)
}

/// [`KernelBackend::dwconv3d_backward`] through burn's `conv3d_{x,weight}_backward` and a sum.
pub fn fallback_dwconv3d_backward<B: Backend>(
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    gy: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let opt = conv_options(&w.shape());
    let gx = B::conv3d_x_backward(x.clone(), w.clone(), gy.clone(), opt.clone());
    let gw = B::conv3d_weight_backward(x, w, gy.clone(), opt);
    (gx, gw, sum_except(tensor::<B, 5>(gy), 1))
}

/// [`KernelBackend::dwconv3d_backward`] as two *forward* depthwise convolutions, for backends whose
/// grouped `conv3d_{x,weight}_backward` is slow (burn-cubecl's grouped weight gradient launches one
/// convolution per channel: a JEPA training step at batch 8, 64² took 4.25 s on an H200 that way).
///
/// - `gx = conv3d(gy, flip(w), groups = C)`: the adjoint of a stride-1 "same" cross-correlation with an
///   odd kernel is the correlation with the flipped kernel.
/// - `gw[c] = Σ_n corr(x[n, c], gy[n, c])`: one grouped convolution whose input is `x` as
///   `(1, C·N, D, H, W)` and whose kernel is `gy` as `(C, N, D, H, W)`; padding `k/2` makes its output
///   exactly `(kd, kh, kw)` per channel.
///
/// Falls back to [`fallback_dwconv3d_backward`] for even kernel sizes.
pub fn dwconv3d_backward_by_forward_convs<B: Backend>(
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    gy: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let ws = w.shape();
    if ws.num_dims() != 5 || (2..5).any(|a| ws[a].is_multiple_of(2)) {
        return fallback_dwconv3d_backward::<B>(x, w, gy);
    }
    let opt = conv_options(&ws);
    let [n, c, d, h, wd] = x.shape().dims::<5>();
    let gx = B::conv3d(gy.clone(), prim(tensor::<B, 5>(w).flip([2, 3, 4])), None, opt.clone());
    let input = tensor::<B, 5>(x).swap_dims(0, 1).reshape([1, c * n, d, h, wd]);
    let kernel = tensor::<B, 5>(gy.clone()).swap_dims(0, 1);
    let gw = B::conv3d(prim(input), prim(kernel), None, opt);
    let gw = B::float_reshape(gw, ws);
    (gx, gw, sum_except(tensor::<B, 5>(gy), 1))
}

/// [`KernelBackend::dense`] as burn's matmul plus a broadcast bias.
pub fn fallback_dense<B: Backend>(x: FloatTensor<B>, w: FloatTensor<B>, b: FloatTensor<B>) -> FloatTensor<B> {
    let n = b.shape()[0];
    B::float_add(B::float_matmul(x, w), B::float_reshape(b, Shape::new([1, n])))
}

/// [`KernelBackend::dense_backward`] through burn's matmul and a row sum.
pub fn fallback_dense_backward<B: Backend>(
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    gy: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let n = gy.shape()[1];
    let gx = B::float_matmul(gy.clone(), B::float_transpose(w));
    let gw = B::float_matmul(B::float_transpose(x), gy.clone());
    (gx, gw, B::float_reshape(B::float_sum_dim(gy, 0), Shape::new([n])))
}

/// burn's `ConvOptions` for the depthwise conv with weight `w (C, 1, kd, kh, kw)`.
fn conv_options(s: &Shape) -> ConvOptions<3> {
    ConvOptions::new([1, 1, 1], [s[2] / 2, s[3] / 2, s[4] / 2], [1, 1, 1], s[0])
}

/// A float primitive as a rank-`D` tensor.
fn tensor<B: Backend, const D: usize>(p: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

fn prim<B: Backend, const D: usize>(t: Tensor<B, D>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}

/// `(C)` → `(1, C, 1, 1, 1)`.
fn per_channel<B: Backend>(v: FloatTensor<B>) -> Tensor<B, 5> {
    let v = tensor::<B, 1>(v);
    let c = v.dims()[0];
    v.reshape([1, c, 1, 1, 1])
}

/// Sum over every axis but `axis`: `(…)` → `(C)`.
fn sum_except<B: Backend>(t: Tensor<B, 5>, axis: usize) -> FloatTensor<B> {
    let c = t.dims()[axis];
    let t = (0..5).filter(|&a| a != axis).fold(t, |t, a| t.sum_dim(a));
    prim(t.reshape([c]))
}

/// `(x̂, 1/σ)` of a LayerNorm over axis 1 of `x`.
fn normalized<B: Backend>(x: Tensor<B, 5>, eps: f64) -> (Tensor<B, 5>, Tensor<B, 5>) {
    let xc = x.clone() - x.mean_dim(1);
    let rstd = (xc.clone().square().mean_dim(1) + eps).sqrt().recip();
    (xc * rstd.clone(), rstd)
}

const TO_LAST: [usize; 5] = [0, 2, 3, 4, 1];
const TO_FIRST: [usize; 5] = [0, 4, 1, 2, 3];

/// [`KernelBackend::channel_norm`] composed from burn ops.
pub fn fallback_channel_norm<B: Backend>(x: FloatTensor<B>, w: FloatTensor<B>, b: FloatTensor<B>, eps: f64, out: Layout) -> FloatTensor<B> {
    let (xhat, _) = normalized(tensor::<B, 5>(x), eps);
    let y = xhat * per_channel::<B>(w) + per_channel::<B>(b);
    prim(match out {
        Layout::ChannelsFirst => y,
        Layout::ChannelsLast => y.permute(TO_LAST),
    })
}

/// [`KernelBackend::channel_norm_backward`] composed from burn ops:
/// `gx = (g − mean_c g − x̂ · mean_c(g x̂)) / σ` with `g = gy · w`.
pub fn fallback_channel_norm_backward<B: Backend>(
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    gy: FloatTensor<B>,
    eps: f64,
    out: Layout,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let gy = match out {
        Layout::ChannelsFirst => tensor::<B, 5>(gy),
        Layout::ChannelsLast => tensor::<B, 5>(gy).permute(TO_FIRST),
    };
    let (xhat, rstd) = normalized(tensor::<B, 5>(x), eps);
    let gb = sum_except(gy.clone(), 1);
    let gw = sum_except(gy.clone() * xhat.clone(), 1);
    let g = gy * per_channel::<B>(w);
    let a = g.clone().mean_dim(1);
    let q = (g.clone() * xhat.clone()).mean_dim(1);
    let gx = (g - a - xhat * q) * rstd;
    (prim(gx), gw, gb)
}

/// [`KernelBackend::layer_scale_residual`] composed from burn ops.
pub fn fallback_layer_scale_residual<B: Backend>(x: FloatTensor<B>, h: FloatTensor<B>, gamma: FloatTensor<B>) -> FloatTensor<B> {
    let c = tensor::<B, 1>(gamma.clone()).dims()[0];
    let branch = tensor::<B, 5>(h) * tensor::<B, 1>(gamma).reshape([1, 1, 1, 1, c]);
    prim(tensor::<B, 5>(x) + branch.permute(TO_FIRST))
}

/// [`KernelBackend::layer_scale_residual_backward`] composed from burn ops.
pub fn fallback_layer_scale_residual_backward<B: Backend>(
    gy: FloatTensor<B>,
    h: FloatTensor<B>,
    gamma: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let c = tensor::<B, 1>(gamma.clone()).dims()[0];
    let gy = tensor::<B, 5>(gy).permute(TO_LAST);
    let gg = sum_except(gy.clone() * tensor::<B, 5>(h), 4);
    (prim(gy * tensor::<B, 1>(gamma).reshape([1, 1, 1, 1, c])), gg)
}

/// [`KernelBackend::gelu_exact_backward`] composed from burn ops: `gy · (Φ(x) + x · φ(x))`.
/// (burn's own `gelu_backward` default is the derivative of the tanh approximation.)
pub fn fallback_gelu_exact_backward<B: Backend>(x: FloatTensor<B>, gy: FloatTensor<B>) -> FloatTensor<B> {
    let shape = x.shape();
    let flat = |p: FloatTensor<B>| tensor::<B, 1>(B::float_reshape(p, Shape::new([shape.num_elements()])));
    let x = flat(x);
    let cdf = ((x.clone() * std::f64::consts::FRAC_1_SQRT_2).erf() + 1.0) * 0.5;
    let pdf = (x.clone().square() * -0.5).exp() * (0.5 * std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2);
    B::float_reshape(prim(flat(gy) * (cdf + x * pdf)), shape)
}

#[cfg(feature = "cuda")]
impl KernelBackend for burn::backend::Cuda {
    fn dwconv3d_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        gy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        dwconv3d_backward_by_forward_convs::<Self>(x, w, gy)
    }
}

fn dims_of(x: &FlexTensor, w: &FlexTensor) -> DwDims {
    let (xs, ws) = (x.shape(), w.shape());
    assert!(
        xs.num_dims() == 5 && ws.num_dims() == 5 && ws[1] == 1 && ws[0] == xs[1],
        "dwconv3d: expected x (N, C, D, H, W) and w (C, 1, kd, kh, kw), got x {:?} and w {:?}",
        xs.dims::<5>(),
        ws.dims::<5>()
    );
    DwDims { n: xs[0], c: xs[1], d: xs[2], h: xs[3], w: xs[4], kd: ws[2], kh: ws[3], kw: ws[4] }
}

/// Run `f` on the tensor's `f32` values (zero-copy when contiguous).
fn with_f32<R>(t: &FlexTensor, f: impl FnOnce(&[f32]) -> R) -> R {
    assert_eq!(t.dtype(), DType::F32, "dwconv3d: only f32 tensors are supported, got {:?}", t.dtype());
    match t.as_slice::<f32>() {
        Some(s) => f(s),
        None => f(t.to_contiguous().as_slice::<f32>().expect("contiguous f32 tensor")),
    }
}

/// A vector of `len` values that `fill` writes, without a zeroing pass first (a kernel's output is a
/// fresh 30–130 MB buffer per op; zeroing it cost ~5 % of encoder inference).
///
/// # Safety
/// `fill` must write every element of the slice it is given.
pub(crate) unsafe fn written_vec(len: usize, fill: impl FnOnce(&mut [std::mem::MaybeUninit<f32>])) -> Vec<f32> {
    let mut v: Vec<std::mem::MaybeUninit<f32>> = Vec::with_capacity(len);
    // SAFETY: `MaybeUninit` values need no initialisation, and the capacity is `len`.
    unsafe { v.set_len(len) };
    fill(&mut v);
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: every element was written (the caller's contract); `MaybeUninit<f32>` has the layout of
    // `f32`, and pointer, length and capacity come from a live `Vec` that is not dropped.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<f32>(), v.len(), v.capacity()) }
}

/// Writes `pattern` repeatedly over `out` (a slice of a [`written_vec`] buffer) and returns it as the
/// initialised values it now holds.
pub(crate) fn fill_with<'a>(out: &'a mut [std::mem::MaybeUninit<f32>], pattern: &[f32]) -> &'a mut [f32] {
    assert!(
        out.len().is_multiple_of(pattern.len().max(1)) && (out.is_empty() || !pattern.is_empty()),
        "fill_with: {} values cannot be tiled by a pattern of {}",
        out.len(),
        pattern.len()
    );
    if let [v] = pattern {
        out.fill(std::mem::MaybeUninit::new(*v));
    } else {
        // SAFETY: any initialised `f32` is a valid `MaybeUninit<f32>` (same layout).
        let pattern = unsafe { &*(pattern as *const [f32] as *const [std::mem::MaybeUninit<f32>]) };
        for chunk in out.chunks_exact_mut(pattern.len().max(1)) {
            chunk.copy_from_slice(pattern);
        }
    }
    // SAFETY: the chunks tile `out` (checked above) and each was written in full; `MaybeUninit<f32>` has
    // `f32`'s layout.
    unsafe { &mut *(out as *mut [std::mem::MaybeUninit<f32>] as *mut [f32]) }
}

fn flex_from_vec(v: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape.into()))
}

/// `(n, c, d·h·w)` of a channels-first 5-D tensor.
fn channel_dims(x: &FlexTensor) -> ChannelDims {
    let s = x.shape();
    assert!(s.num_dims() == 5, "channel kernels: expected a (N, C, D, H, W) tensor, got {:?}", s.dims::<5>());
    ChannelDims { n: s[0], c: s[1], s: s[2] * s[3] * s[4] }
}

/// The shape of channels-first `x` laid out as `out`.
fn shape_as(x: &FlexTensor, out: Layout) -> Shape {
    let [n, c, d, h, w] = x.shape().dims::<5>();
    match out {
        Layout::ChannelsFirst => Shape::new([n, c, d, h, w]),
        Layout::ChannelsLast => Shape::new([n, d, h, w, c]),
    }
}

impl KernelBackend for Flex {
    fn dwconv3d(x: FlexTensor, w: FlexTensor, b: FlexTensor) -> FlexTensor {
        let dm = dims_of(&x, &w);
        let y = with_f32(&x, |xs| with_f32(&w, |ws| with_f32(&b, |bs| dwconv_cpu::forward(xs, ws, Some(bs), dm))));
        flex_from_vec(y, x.shape())
    }

    fn dwconv3d_backward(x: FlexTensor, w: FlexTensor, gy: FlexTensor) -> (FlexTensor, FlexTensor, FlexTensor) {
        let dm = dims_of(&x, &w);
        let gx = with_f32(&gy, |g| with_f32(&w, |ws| dwconv_cpu::grad_input(g, ws, dm)));
        let (gw, gb) = with_f32(&x, |xs| with_f32(&gy, |g| dwconv_cpu::grad_weight_bias(xs, g, dm)));
        (flex_from_vec(gx, x.shape()), flex_from_vec(gw, w.shape()), flex_from_vec(gb, [dm.c]))
    }

    fn channel_norm(x: FlexTensor, w: FlexTensor, b: FlexTensor, eps: f64, out: Layout) -> FlexTensor {
        let dm = channel_dims(&x);
        let y = with_f32(&x, |xs| with_f32(&w, |ws| with_f32(&b, |bs| channel_cpu::norm_forward(xs, ws, bs, eps as f32, dm, out))));
        flex_from_vec(y, shape_as(&x, out))
    }

    fn channel_norm_backward(x: FlexTensor, w: FlexTensor, gy: FlexTensor, eps: f64, out: Layout) -> (FlexTensor, FlexTensor, FlexTensor) {
        let dm = channel_dims(&x);
        let (gx, gw, gb) =
            with_f32(&x, |xs| with_f32(&w, |ws| with_f32(&gy, |g| channel_cpu::norm_backward(xs, ws, g, eps as f32, dm, out))));
        (flex_from_vec(gx, x.shape()), flex_from_vec(gw, [dm.c]), flex_from_vec(gb, [dm.c]))
    }

    fn layer_scale_residual(x: FlexTensor, h: FlexTensor, gamma: FlexTensor) -> FlexTensor {
        let dm = channel_dims(&x);
        let y = with_f32(&x, |xs| with_f32(&h, |hs| with_f32(&gamma, |gs| channel_cpu::residual_forward(xs, hs, gs, dm))));
        flex_from_vec(y, x.shape())
    }

    fn layer_scale_residual_backward(gy: FlexTensor, h: FlexTensor, gamma: FlexTensor) -> (FlexTensor, FlexTensor) {
        let dm = channel_dims(&gy);
        let (gh, gg) = with_f32(&gy, |g| with_f32(&h, |hs| with_f32(&gamma, |gs| channel_cpu::residual_backward(g, hs, gs, dm))));
        (flex_from_vec(gh, h.shape()), flex_from_vec(gg, [dm.c]))
    }

    fn dense(x: FlexTensor, w: FlexTensor, b: FlexTensor) -> FlexTensor {
        let (xs, ws) = (x.shape(), w.shape());
        assert!(
            xs.num_dims() == 2 && ws.num_dims() == 2 && xs[1] == ws[0] && b.shape().num_dims() == 1 && b.shape()[0] == ws[1],
            "dense: expected x (M, K), w (K, N), b (N), got {xs:?}, {ws:?}, {:?}",
            b.shape()
        );
        let (m, k, n) = (xs[0], xs[1], ws[1]);
        let y = with_f32(&x, |xv| with_f32(&w, |wv| with_f32(&b, |bv| dense_cpu::forward(xv, wv, bv, m, k, n))));
        flex_from_vec(y, [m, n])
    }

    fn gelu_exact(x: FlexTensor) -> FlexTensor {
        flex_from_vec(with_f32(&x, gelu_cpu::forward), x.shape())
    }

    /// Without autodiff nothing is kept for a backward pass, so the pointwise MLP runs fused per row
    /// tile ([`dense_cpu::mlp_forward`]) instead of materialising its `(M, 4C)` hidden tensors.
    fn convnext_block(x: FlexTensor, p: BlockParams<FlexTensor>, eps: f64, _checkpoint: bool) -> FlexTensor {
        let conv = Self::dwconv3d(x.clone(), p[0].clone(), p[1].clone());
        let normed = Self::channel_norm(conv, p[2].clone(), p[3].clone(), eps, Layout::ChannelsLast);
        let dims = normed.shape();
        let (c, hidden) = (dims[4], p[4].shape()[1]);
        let m = dims.num_elements() / c.max(1);
        let branch = with_f32(&normed, |xv| {
            with_f32(&p[4], |w1| {
                with_f32(&p[5], |b1| with_f32(&p[6], |w2| with_f32(&p[7], |b2| dense_cpu::mlp_forward(xv, [w1, b1, w2, b2], m, c, hidden))))
            })
        });
        Self::layer_scale_residual(x, flex_from_vec(branch, dims), p[8].clone())
    }

    fn gelu_exact_backward(x: FlexTensor, gy: FlexTensor) -> FlexTensor {
        flex_from_vec(with_f32(&x, |xs| with_f32(&gy, |g| gelu_cpu::backward(xs, g))), x.shape())
    }
}

/// Backward node: saves `x` and `w`, produces gradients for `x`, `w` and `b`.
#[derive(Debug)]
struct DwConv3dBackward;

impl<B: KernelBackend> Backward<B, 3> for DwConv3dBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let gy = grads.consume::<B>(&ops.node);
        let (x, w) = ops.state;
        let (gx, gw, gb) = B::dwconv3d_backward(x, w, gy);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, gx);
        }
        if let Some(node) = node_w {
            grads.register::<B>(node.id, gw);
        }
        if let Some(node) = node_b {
            grads.register::<B>(node.id, gb);
        }
    }
}

/// Backward node of the channel LayerNorm: saves `x` and `w`.
#[derive(Debug)]
struct ChannelNormBackward {
    eps: f64,
    out: Layout,
}

impl<B: KernelBackend> Backward<B, 3> for ChannelNormBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let gy = grads.consume::<B>(&ops.node);
        let (x, w) = ops.state;
        let (gx, gw, gb) = B::channel_norm_backward(x, w, gy, self.eps, self.out);
        for (node, g) in [(node_x, gx), (node_w, gw), (node_b, gb)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// Backward node of the layer-scaled residual: saves `h` and `γ`.
#[derive(Debug)]
struct LayerScaleResidualBackward;

impl<B: KernelBackend> Backward<B, 3> for LayerScaleResidualBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_h, node_g] = ops.parents;
        let gy = grads.consume::<B>(&ops.node);
        let (h, gamma) = ops.state;
        if let Some(node) = node_x {
            grads.register::<B>(node.id, gy.clone());
        }
        if node_h.is_some() || node_g.is_some() {
            let (gh, gg) = B::layer_scale_residual_backward(gy, h, gamma);
            for (node, g) in [(node_h, gh), (node_g, gg)] {
                if let Some(node) = node {
                    grads.register::<B>(node.id, g);
                }
            }
        }
    }
}

/// Backward node of the dense layer: saves `x` and `w`.
#[derive(Debug)]
struct DenseBackward;

impl<B: KernelBackend> Backward<B, 3> for DenseBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let gy = grads.consume::<B>(&ops.node);
        let (x, w) = ops.state;
        let (gx, gw, gb) = B::dense_backward(x, w, gy);
        for (node, g) in [(node_x, gx), (node_w, gw), (node_b, gb)] {
            if let Some(node) = node {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// Backward node of the exact GELU: saves `x`.
#[derive(Debug)]
struct GeluExactBackward;

impl<B: KernelBackend> Backward<B, 1> for GeluExactBackward {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let gy = grads.consume::<B>(&ops.node);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, B::gelu_exact_backward(ops.state, gy));
        }
    }
}

impl<B: KernelBackend, C: CheckpointStrategy> KernelBackend for Autodiff<B, C> {
    fn dwconv3d(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        match DwConv3dBackward.prepare::<C>([x.node.clone(), w.node.clone(), b.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::dwconv3d(x.primitive.clone(), w.primitive.clone(), b.primitive);
                prep.finish((x.primitive, w.primitive), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::dwconv3d(x.primitive, w.primitive, b.primitive)),
        }
    }

    fn channel_norm(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>, eps: f64, out: Layout) -> FloatTensor<Self> {
        match (ChannelNormBackward { eps, out }).prepare::<C>([x.node.clone(), w.node.clone(), b.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::channel_norm(x.primitive.clone(), w.primitive.clone(), b.primitive, eps, out);
                prep.finish((x.primitive, w.primitive), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::channel_norm(x.primitive, w.primitive, b.primitive, eps, out)),
        }
    }

    fn layer_scale_residual(x: FloatTensor<Self>, h: FloatTensor<Self>, gamma: FloatTensor<Self>) -> FloatTensor<Self> {
        match LayerScaleResidualBackward.prepare::<C>([x.node.clone(), h.node.clone(), gamma.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::layer_scale_residual(x.primitive, h.primitive.clone(), gamma.primitive.clone());
                prep.finish((h.primitive, gamma.primitive), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::layer_scale_residual(x.primitive, h.primitive, gamma.primitive)),
        }
    }

    fn dense(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        match DenseBackward.prepare::<C>([x.node.clone(), w.node.clone(), b.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::dense(x.primitive.clone(), w.primitive.clone(), b.primitive);
                prep.finish((x.primitive, w.primitive), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::dense(x.primitive, w.primitive, b.primitive)),
        }
    }

    fn gelu_exact(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match GeluExactBackward.prepare::<C>([x.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = B::gelu_exact(x.primitive.clone());
                prep.finish(x.primitive, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gelu_exact(x.primitive)),
        }
    }

    fn convnext_block(x: FloatTensor<Self>, p: BlockParams<FloatTensor<Self>>, eps: f64, checkpoint: bool) -> FloatTensor<Self> {
        if checkpoint {
            checkpointed_block::<B, C>(x, p, eps)
        } else {
            prim(block_forward::<Self>(tensor(x), &p, eps).0)
        }
    }

    // The `*_backward` ops keep their default bodies: only a second-order derivative reaches them.
}

/// Depthwise 3-D convolution `x (N, C, D, H, W)`, `w (C, 1, kd, kh, kw)`, `b (C)` → `(N, C, D, H, W)`.
pub fn dwconv3d<B: KernelBackend>(x: Tensor<B, 5>, w: Tensor<B, 5>, b: Tensor<B, 1>) -> Tensor<B, 5> {
    tensor(B::dwconv3d(prim(x), prim(w), prim(b)))
}

/// The same op through burn's built-in grouped `conv3d` (the reference the kernels are tested
/// against, and the path of backends without a native kernel).
pub fn dwconv3d_reference<B: Backend>(x: Tensor<B, 5>, w: Tensor<B, 5>, b: Tensor<B, 1>) -> Tensor<B, 5> {
    let opt = conv_options(&w.shape());
    burn::tensor::module::conv3d(x, w, Some(b), opt)
}

/// LayerNorm over the channels of `x (N, C, D, H, W)`; same shape out.
pub fn channel_norm<B: KernelBackend>(x: Tensor<B, 5>, w: Tensor<B, 1>, b: Tensor<B, 1>, eps: f64) -> Tensor<B, 5> {
    tensor(B::channel_norm(prim(x), prim(w), prim(b), eps, Layout::ChannelsFirst))
}

/// LayerNorm over the channels of `x (N, C, D, H, W)`, written channels-last `(N, D, H, W, C)`.
pub fn channel_norm_last<B: KernelBackend>(x: Tensor<B, 5>, w: Tensor<B, 1>, b: Tensor<B, 1>, eps: f64) -> Tensor<B, 5> {
    tensor(B::channel_norm(prim(x), prim(w), prim(b), eps, Layout::ChannelsLast))
}

/// `x + γ · hᵀ`: `x (N, C, D, H, W)`, the channels-last branch `h (N, D, H, W, C)`, `γ (C)`.
pub fn layer_scale_residual<B: KernelBackend>(x: Tensor<B, 5>, h: Tensor<B, 5>, gamma: Tensor<B, 1>) -> Tensor<B, 5> {
    tensor(B::layer_scale_residual(prim(x), prim(h), prim(gamma)))
}

/// `x·w + b`: `x (M, K)`, `w (K, N)`, `b (N)` → `(M, N)`.
pub fn dense<B: KernelBackend>(x: Tensor<B, 2>, w: Tensor<B, 2>, b: Tensor<B, 1>) -> Tensor<B, 2> {
    tensor(B::dense(prim(x), prim(w), prim(b)))
}

/// The exact (erf) GELU, elementwise, any shape.
pub fn gelu<B: KernelBackend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    tensor(B::gelu_exact(prim(x)))
}

// ---------------------------------------------------------------------------------------------
// Activation checkpointing of a whole ConvNeXt block
// ---------------------------------------------------------------------------------------------

/// One ConvNeXt block's parameters, in order: depthwise weight `(C, 1, kd, kh, kw)`, depthwise
/// bias `(C)`, norm weight `(C)`, norm bias `(C)`, pwconv1 weight `(C, 4C)`, pwconv1 bias `(4C)`,
/// pwconv2 weight `(4C, C)`, pwconv2 bias `(C)`, layer scale `γ (C)`.
pub type BlockParams<T> = [T; 9];

/// What the block's backward needs from its forward.
struct BlockActivations<B: Backend> {
    /// Depthwise conv output `(N, C, D, H, W)`.
    conv: Tensor<B, 5>,
    /// Normalised rows `(N·D·H·W, C)`.
    normed: Tensor<B, 2>,
    /// pwconv1 output `(N·D·H·W, 4C)`.
    hidden: Tensor<B, 2>,
    /// GELU output `(N·D·H·W, 4C)`.
    act: Tensor<B, 2>,
    /// pwconv2 output (the branch) `(N, D, H, W, C)`.
    branch: Tensor<B, 5>,
}

/// `x + γ · pwconv2(gelu(pwconv1(norm(dwconv(x)))))ᵀ` on backend `B`, with its activations.
fn block_forward<B: KernelBackend>(x: Tensor<B, 5>, p: &BlockParams<FloatTensor<B>>, eps: f64) -> (Tensor<B, 5>, BlockActivations<B>) {
    let conv = dwconv3d(x.clone(), tensor::<B, 5>(p[0].clone()), tensor::<B, 1>(p[1].clone()));
    let normed = channel_norm_last(conv.clone(), tensor::<B, 1>(p[2].clone()), tensor::<B, 1>(p[3].clone()), eps);
    let [n, d, h, w, c] = normed.dims();
    let normed = normed.reshape([n * d * h * w, c]);
    let hidden = dense(normed.clone(), tensor::<B, 2>(p[4].clone()), tensor::<B, 1>(p[5].clone()));
    let act = gelu(hidden.clone());
    let branch = dense(act.clone(), tensor::<B, 2>(p[6].clone()), tensor::<B, 1>(p[7].clone())).reshape([n, d, h, w, c]);
    let y = layer_scale_residual(x, branch.clone(), tensor::<B, 1>(p[8].clone()));
    (y, BlockActivations { conv, normed, hidden, act, branch })
}

/// Gradients `(gx, [g params])` of [`block_forward`] given `gy`, recomputing the activations.
fn block_backward<B: KernelBackend>(
    x: FloatTensor<B>,
    p: &BlockParams<FloatTensor<B>>,
    gy: FloatTensor<B>,
    eps: f64,
) -> (FloatTensor<B>, BlockParams<FloatTensor<B>>) {
    let (_, a) = block_forward::<B>(tensor::<B, 5>(x.clone()), p, eps);
    let [n, d, h, w, c] = a.branch.dims();
    let (g_branch, g_gamma) = B::layer_scale_residual_backward(gy.clone(), prim(a.branch), p[8].clone());
    let g_branch = B::float_reshape(g_branch, Shape::new([n * d * h * w, c]));
    let (g_act, g_w2, g_b2) = B::dense_backward(prim(a.act), p[6].clone(), g_branch);
    let g_hidden = B::gelu_exact_backward(prim(a.hidden), g_act);
    let (g_normed, g_w1, g_b1) = B::dense_backward(prim(a.normed), p[4].clone(), g_hidden);
    let g_normed = B::float_reshape(g_normed, Shape::new([n, d, h, w, c]));
    let (g_conv, g_nw, g_nb) = B::channel_norm_backward(prim(a.conv), p[2].clone(), g_normed, eps, Layout::ChannelsLast);
    let (g_x, g_dw, g_db) = B::dwconv3d_backward(x, p[0].clone(), g_conv);
    let g_x = B::float_add(gy, g_x);
    (g_x, [g_dw, g_db, g_nw, g_nb, g_w1, g_b1, g_w2, g_b2, g_gamma])
}

/// Backward node of the checkpointed block: saves only `x` (and the parameters, which live anyway)
/// and recomputes the block's activations when the gradient arrives.
#[derive(Debug)]
struct BlockCheckpointBackward {
    eps: f64,
}

impl<B: KernelBackend> Backward<B, 10> for BlockCheckpointBackward {
    type State = (FloatTensor<B>, BlockParams<FloatTensor<B>>);

    fn backward(self, ops: Ops<Self::State, 10>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let gy = grads.consume::<B>(&ops.node);
        let (x, p) = ops.state;
        let (gx, gp) = block_backward::<B>(x, &p, gy, self.eps);
        for (node, g) in ops.parents.into_iter().zip(std::iter::once(gx).chain(gp)) {
            if let Some(node) = node {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// [`KernelBackend::convnext_block`] under autodiff: one graph node that saves only its input.
fn checkpointed_block<B: KernelBackend, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    p: BlockParams<FloatTensor<Autodiff<B, C>>>,
    eps: f64,
) -> FloatTensor<Autodiff<B, C>> {
    let nodes = std::array::from_fn(|i| if i == 0 { x.node.clone() } else { p[i - 1].node.clone() });
    let inner = p.map(|t| t.primitive);
    let y = |x: FloatTensor<B>| B::convnext_block(x, inner.clone(), eps, false);
    match (BlockCheckpointBackward { eps }).prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let out = y(x.primitive.clone());
            prep.finish((x.primitive, inner), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(y(x.primitive)),
    }
}

/// A ConvNeXt block ([`KernelBackend::convnext_block`]); `p` as [`BlockParams`], each tensor as
/// its primitive.
pub fn convnext_block<B: KernelBackend>(x: Tensor<B, 5>, p: BlockParams<FloatTensor<B>>, eps: f64, checkpoint: bool) -> Tensor<B, 5> {
    tensor(B::convnext_block(prim(x), p, eps, checkpoint))
}
