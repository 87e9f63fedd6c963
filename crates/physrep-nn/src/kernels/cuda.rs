//! The CUDA backend's [`KernelBackend`]: burn's ops, except the depthwise conv backward, which runs as
//! two forward convolutions ([`dwconv3d_backward_by_forward_convs`]).

use burn::tensor::ops::FloatTensor;

use super::{dwconv3d_backward_by_forward_convs, KernelBackend};

impl KernelBackend for burn::backend::Cuda {
    fn dwconv3d_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        gy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        dwconv3d_backward_by_forward_convs::<Self>(x, w, gy)
    }
}
