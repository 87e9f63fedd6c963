//! The CPU (burn `flex`) [`KernelBackend`]: every op runs the direct loops of `dwconv_cpu`,
//! `channel_cpu`, `dense_cpu` and `gelu_cpu` on the tensors' `f32` values; plus the buffer helpers
//! those loops write through ([`written_vec`], [`fill_with`]).

use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::{DType, Shape, TensorData, TensorMetadata};

use super::channel_cpu::{self, ChannelDims};
use super::dwconv_cpu::{self, DwDims};
use super::{dense_cpu, gelu_cpu, BlockParams, KernelBackend, Layout};

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
        let conv = Self::dwconv3d(x.clone(), p.dw_weight.clone(), p.dw_bias.clone());
        let normed = Self::channel_norm(conv, p.norm_weight.clone(), p.norm_bias.clone(), eps, Layout::ChannelsLast);
        let dims = normed.shape();
        let (c, hidden) = (dims[4], p.w1.shape()[1]);
        let m = dims.num_elements() / c.max(1);
        let branch = with_f32(&normed, |xv| {
            with_f32(&p.w1, |w1| {
                with_f32(&p.b1, |b1| with_f32(&p.w2, |w2| with_f32(&p.b2, |b2| dense_cpu::mlp_forward(xv, [w1, b1, w2, b2], m, c, hidden))))
            })
        });
        Self::layer_scale_residual(x, flex_from_vec(branch, dims), p.gamma.clone())
    }

    fn gelu_exact_backward(x: FlexTensor, gy: FlexTensor) -> FlexTensor {
        flex_from_vec(with_f32(&x, |xs| with_f32(&gy, |g| gelu_cpu::backward(xs, g))), x.shape())
    }
}
