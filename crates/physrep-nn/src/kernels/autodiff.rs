//! `Autodiff<B>`'s [`KernelBackend`]: one hand-written backward node per op, calling the inner
//! backend's gradient kernels; the ConvNeXt block either recorded op by op or checkpointed
//! ([`checkpointed_block`]).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::tensor::ops::FloatTensor;

use super::block::{block_forward, checkpointed_block};
use super::{prim, tensor, BlockParams, KernelBackend, Layout};

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
