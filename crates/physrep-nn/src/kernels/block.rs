//! The whole ConvNeXt block `x + γ · pwconv2(gelu(pwconv1(norm(dwconv(x)))))ᵀ` from the kernel
//! ops: its parameters ([`BlockParams`]), forward with activations, backward by recomputation, and
//! the activation-checkpointed autodiff node. Shapes: `x (N, C, D, H, W)`, rows `(N·D·H·W, C)`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Shape, Tensor};

use super::{channel_norm_last, dense, dwconv3d, gelu, layer_scale_residual, prim, tensor, KernelBackend, Layout};

/// One ConvNeXt block's parameters, each tensor as `T` (a primitive, a node, a gradient).
#[derive(Clone, Debug)]
pub struct BlockParams<T> {
    /// Depthwise conv weight `(C, 1, kd, kh, kw)`.
    pub dw_weight: T,
    /// Depthwise conv bias `(C)`.
    pub dw_bias: T,
    /// Channel LayerNorm weight `(C)`.
    pub norm_weight: T,
    /// Channel LayerNorm bias `(C)`.
    pub norm_bias: T,
    /// pwconv1 weight `(C, 4C)` (burn layout `[in, out]`).
    pub w1: T,
    /// pwconv1 bias `(4C)`.
    pub b1: T,
    /// pwconv2 weight `(4C, C)`.
    pub w2: T,
    /// pwconv2 bias `(C)`.
    pub b2: T,
    /// Layer scale `γ (C)`.
    pub gamma: T,
}

impl<T> BlockParams<T> {
    /// From the nine tensors in field order (the order of the autodiff node's parents after `x`).
    pub fn from_array([dw_weight, dw_bias, norm_weight, norm_bias, w1, b1, w2, b2, gamma]: [T; 9]) -> Self {
        Self { dw_weight, dw_bias, norm_weight, norm_bias, w1, b1, w2, b2, gamma }
    }

    /// The nine tensors in field order.
    pub fn into_array(self) -> [T; 9] {
        [self.dw_weight, self.dw_bias, self.norm_weight, self.norm_bias, self.w1, self.b1, self.w2, self.b2, self.gamma]
    }

    /// The nine tensors in field order, borrowed.
    pub fn as_array(&self) -> [&T; 9] {
        [&self.dw_weight, &self.dw_bias, &self.norm_weight, &self.norm_bias, &self.w1, &self.b1, &self.w2, &self.b2, &self.gamma]
    }

    /// Apply `f` to every tensor, in field order.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> BlockParams<U> {
        BlockParams::from_array(self.into_array().map(f))
    }
}

/// What the block's backward needs from its forward.
pub(super) struct BlockActivations<B: Backend> {
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
pub(super) fn block_forward<B: KernelBackend>(
    x: Tensor<B, 5>,
    p: &BlockParams<FloatTensor<B>>,
    eps: f64,
) -> (Tensor<B, 5>, BlockActivations<B>) {
    let conv = dwconv3d(x.clone(), tensor::<B, 5>(p.dw_weight.clone()), tensor::<B, 1>(p.dw_bias.clone()));
    let normed = channel_norm_last(conv.clone(), tensor::<B, 1>(p.norm_weight.clone()), tensor::<B, 1>(p.norm_bias.clone()), eps);
    let [n, d, h, w, c] = normed.dims();
    let normed = normed.reshape([n * d * h * w, c]);
    let hidden = dense(normed.clone(), tensor::<B, 2>(p.w1.clone()), tensor::<B, 1>(p.b1.clone()));
    let act = gelu(hidden.clone());
    let branch = dense(act.clone(), tensor::<B, 2>(p.w2.clone()), tensor::<B, 1>(p.b2.clone())).reshape([n, d, h, w, c]);
    let y = layer_scale_residual(x, branch.clone(), tensor::<B, 1>(p.gamma.clone()));
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
    let (g_branch, g_gamma) = B::layer_scale_residual_backward(gy.clone(), prim(a.branch), p.gamma.clone());
    let g_branch = B::float_reshape(g_branch, Shape::new([n * d * h * w, c]));
    let (g_act, g_w2, g_b2) = B::dense_backward(prim(a.act), p.w2.clone(), g_branch);
    let g_hidden = B::gelu_exact_backward(prim(a.hidden), g_act);
    let (g_normed, g_w1, g_b1) = B::dense_backward(prim(a.normed), p.w1.clone(), g_hidden);
    let g_normed = B::float_reshape(g_normed, Shape::new([n, d, h, w, c]));
    let (g_conv, g_nw, g_nb) = B::channel_norm_backward(prim(a.conv), p.norm_weight.clone(), g_normed, eps, Layout::ChannelsLast);
    let (g_x, g_dw, g_db) = B::dwconv3d_backward(x, p.dw_weight.clone(), g_conv);
    let g_x = B::float_add(gy, g_x);
    (
        g_x,
        BlockParams {
            dw_weight: g_dw,
            dw_bias: g_db,
            norm_weight: g_nw,
            norm_bias: g_nb,
            w1: g_w1,
            b1: g_b1,
            w2: g_w2,
            b2: g_b2,
            gamma: g_gamma,
        },
    )
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
        for (node, g) in ops.parents.into_iter().zip(std::iter::once(gx).chain(gp.into_array())) {
            if let Some(node) = node {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// [`KernelBackend::convnext_block`] under autodiff: one graph node that saves only its input.
pub(super) fn checkpointed_block<B: KernelBackend, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    p: BlockParams<FloatTensor<Autodiff<B, C>>>,
    eps: f64,
) -> FloatTensor<Autodiff<B, C>> {
    let params = p.as_array();
    let nodes = std::array::from_fn(|i| if i == 0 { x.node.clone() } else { params[i - 1].node.clone() });
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
