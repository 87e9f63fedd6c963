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
//! default bodies, built from burn's own ops. See `docs/custom-kernels.md` for the recipe.
//!
//! Files: this one (the [`KernelBackend`] trait and the tensor-level functions); `fallback.rs`
//! (default bodies from burn ops); `flex.rs` (the CPU impl over the direct loops); `cuda.rs` (the
//! CUDA impl, `cuda` feature); `autodiff.rs` (backward nodes, the `Autodiff<B>` impl); `block.rs`
//! (the ConvNeXt block: [`BlockParams`], forward, backward, checkpointing).

#[macro_use]
mod simd;
mod autodiff;
mod block;
pub mod channel_cpu;
#[cfg(feature = "cuda")]
mod cuda;
pub mod dense_cpu;
pub mod dwconv_cpu;
mod fallback;
mod flex;
pub mod gelu_cpu;

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

use block::block_forward;
pub use block::{convnext_block, BlockParams};
pub use channel_cpu::Layout;
pub use fallback::{
    dwconv3d_backward_by_forward_convs, fallback_channel_norm, fallback_channel_norm_backward, fallback_dense, fallback_dense_backward,
    fallback_dwconv3d, fallback_dwconv3d_backward, fallback_gelu_exact_backward, fallback_layer_scale_residual,
    fallback_layer_scale_residual_backward,
};
pub(crate) use flex::{fill_with, written_vec};

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

/// Depthwise 3-D convolution `x (N, C, D, H, W)`, `w (C, 1, kd, kh, kw)`, `b (C)` → `(N, C, D, H, W)`.
pub fn dwconv3d<B: KernelBackend>(x: Tensor<B, 5>, w: Tensor<B, 5>, b: Tensor<B, 1>) -> Tensor<B, 5> {
    tensor(B::dwconv3d(prim(x), prim(w), prim(b)))
}

/// The same op through burn's built-in grouped `conv3d` (the reference the kernels are tested
/// against, and the path of backends without a native kernel).
pub fn dwconv3d_reference<B: Backend>(x: Tensor<B, 5>, w: Tensor<B, 5>, b: Tensor<B, 1>) -> Tensor<B, 5> {
    let opt = fallback::conv_options(&w.shape());
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

/// A float primitive as a rank-`D` tensor.
fn tensor<B: Backend, const D: usize>(p: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

fn prim<B: Backend, const D: usize>(t: Tensor<B, D>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}
