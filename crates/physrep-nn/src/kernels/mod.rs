//! Custom kernels as a burn backend extension: the depthwise 3-D convolution.
//!
//! burn 0.21's flex backend runs a 7×7×7 depthwise `conv3d(groups = C)` through im2col and one
//! GEMM per group (M = 1), about 15× slower than a direct loop. [`DwBackend`] adds the op to a
//! backend: the flex impl runs the direct loops of [`dwconv_cpu`]; `Autodiff<B>` gets a
//! hand-written backward node that calls the input-grad and weight-grad kernels; any other backend
//! (CUDA) uses the default bodies, built from burn's own grouped `conv3d` and its backward ops.
//! See `shared/spec/custom-kernels.md` for the recipe.
//!
//! Shapes: `x (N, C, D, H, W)`, `w (C, 1, kd, kh, kw)` with odd kernel sizes, `b (C)`; stride 1,
//! zero padding `k/2` per axis, so `y` has the shape of `x`. A 2-D depthwise conv is `D = kd = 1`.

pub mod dwconv_cpu;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::backend::Backend;
use burn::tensor::ops::{ConvOptions, FloatTensor};
use burn::tensor::{DType, Shape, Tensor, TensorData, TensorMetadata, TensorPrimitive};

use dwconv_cpu::DwDims;

/// A backend that can run the depthwise 3-D convolution (and its gradients) natively.
///
/// The default bodies ([`fallback_dwconv3d`], [`fallback_dwconv3d_backward`]) use burn's grouped
/// `conv3d` ops, so `impl DwBackend for MyBackend {}` is a complete (if slow) port.
pub trait DwBackend: Backend {
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
}

/// [`DwBackend::dwconv3d`] through burn's `conv3d(groups = C)`.
pub fn fallback_dwconv3d<B: Backend>(x: FloatTensor<B>, w: FloatTensor<B>, b: FloatTensor<B>) -> FloatTensor<B> {
    let opt = conv_options(&w.shape());
    B::conv3d(x, w, Some(b), opt)
}

/// [`DwBackend::dwconv3d_backward`] through burn's `conv3d_{x,weight}_backward` and a sum.
pub fn fallback_dwconv3d_backward<B: Backend>(
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    gy: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let opt = conv_options(&w.shape());
    let c = w.shape()[0];
    let gx = B::conv3d_x_backward(x.clone(), w.clone(), gy.clone(), opt.clone());
    let gw = B::conv3d_weight_backward(x, w, gy.clone(), opt);
    let mut gb = gy;
    for dim in [0, 2, 3, 4] {
        gb = B::float_sum_dim(gb, dim);
    }
    (gx, gw, B::float_reshape(gb, Shape::new([c])))
}

/// burn's `ConvOptions` for the depthwise conv with weight `w (C, 1, kd, kh, kw)`.
fn conv_options(s: &Shape) -> ConvOptions<3> {
    ConvOptions::new([1, 1, 1], [s[2] / 2, s[3] / 2, s[4] / 2], [1, 1, 1], s[0])
}

#[cfg(feature = "cuda")]
impl DwBackend for burn::backend::Cuda {}

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

fn flex_from_vec(v: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape.into()))
}

impl DwBackend for Flex {
    fn dwconv3d(x: FlexTensor, w: FlexTensor, b: FlexTensor) -> FlexTensor {
        let dm = dims_of(&x, &w);
        let y = with_f32(&x, |xs| {
            with_f32(&w, |ws| with_f32(&b, |bs| dwconv_cpu::forward(xs, ws, Some(bs), dm)))
        });
        flex_from_vec(y, x.shape())
    }

    fn dwconv3d_backward(x: FlexTensor, w: FlexTensor, gy: FlexTensor) -> (FlexTensor, FlexTensor, FlexTensor) {
        let dm = dims_of(&x, &w);
        let gx = with_f32(&gy, |g| with_f32(&w, |ws| dwconv_cpu::grad_input(g, ws, dm)));
        let (gw, gb) = with_f32(&x, |xs| with_f32(&gy, |g| dwconv_cpu::grad_weight_bias(xs, g, dm)));
        (flex_from_vec(gx, x.shape()), flex_from_vec(gw, w.shape()), flex_from_vec(gb, [dm.c]))
    }
}

/// Backward node: saves `x` and `w`, produces gradients for `x`, `w` and `b`.
#[derive(Debug)]
struct DwConv3dBackward;

impl<B: DwBackend> Backward<B, 3> for DwConv3dBackward {
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

impl<B: DwBackend, C: CheckpointStrategy> DwBackend for Autodiff<B, C> {
    fn dwconv3d(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        match DwConv3dBackward
            .prepare::<C>([x.node.clone(), w.node.clone(), b.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::dwconv3d(x.primitive.clone(), w.primitive.clone(), b.primitive);
                prep.finish((x.primitive, w.primitive), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::dwconv3d(x.primitive, w.primitive, b.primitive)),
        }
    }

    // `dwconv3d_backward` keeps the default body: only a second-order derivative reaches it.
}

/// Depthwise 3-D convolution `x (N, C, D, H, W)`, `w (C, 1, kd, kh, kw)`, `b (C)` → `(N, C, D, H, W)`.
pub fn dwconv3d<B: DwBackend>(x: Tensor<B, 5>, w: Tensor<B, 5>, b: Tensor<B, 1>) -> Tensor<B, 5> {
    Tensor::from_primitive(TensorPrimitive::Float(B::dwconv3d(
        x.into_primitive().tensor(),
        w.into_primitive().tensor(),
        b.into_primitive().tensor(),
    )))
}

/// The same op through burn's built-in grouped `conv3d` (the reference the kernels are tested
/// against, and the path of backends without a native kernel).
pub fn dwconv3d_reference<B: Backend>(x: Tensor<B, 5>, w: Tensor<B, 5>, b: Tensor<B, 1>) -> Tensor<B, 5> {
    let opt = conv_options(&w.shape());
    burn::tensor::module::conv3d(x, w, Some(b), opt)
}
