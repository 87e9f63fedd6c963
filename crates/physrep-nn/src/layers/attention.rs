//! Multi-head scaled dot-product attention: one computation, three parameterisations.
//!
//! Shapes: tokens `(B, L, D)`; per-head tensors `(B, H, L, hd)` with `hd = D / H`.
//!
//! * [`scaled_dot_product`]: `softmax(q·kᵀ/√hd)·v` per head. Two callers scale at different points
//!   and keep their own floating-point order ([`ScaleOrder`]): VideoMAE multiplies q by `hd^-½`
//!   before the product (as its PyTorch code), the attentive probe divides the scores by `√hd` after
//!   it (as V-JEPA's pooler).
//! * [`biased_attention`]: burn's fused `attention` with an additive bias `(1, H, L, L)` broadcast
//!   over the batch (AViT's temporal and axial attention with its T5 relative position bias).
//! * Modules (record paths in brackets):
//!   [`QvBiasAttention`] (VideoMAE, `attn.{qkv.weight, q_bias, v_bias, proj.*}`: qkv without bias,
//!   learned q and v biases, zero k bias; Linears over token rows),
//!   [`SelfAttention`] (probe blocks, `attn.{qkv, proj}`: qkv with bias),
//!   [`CrossAttention`] (probe pooler, `xattn.{q, kv}`: queries attend to tokens, no output
//!   projection).

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

use super::tokens::linear_rows;

/// Where [`scaled_dot_product`] applies the `1/√hd` scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleOrder {
    /// `(q · hd^-½) · kᵀ` (VideoMAE).
    Query,
    /// `(q · kᵀ) / √hd` (attentive probe).
    Scores,
}

/// `(B, L, D)` → `(B, H, L, D/H)`.
pub fn split_heads<B: Backend>(x: Tensor<B, 3>, heads: usize) -> Tensor<B, 4> {
    let [b, l, d] = x.dims();
    x.reshape([b, l, heads, d / heads]).swap_dims(1, 2)
}

/// Part `i` of width `d` of packed projections `(B, L, n·d)` (q, k, v or k, v), split into heads.
fn packed_heads<B: Backend>(packed: &Tensor<B, 3>, i: usize, d: usize, heads: usize) -> Tensor<B, 4> {
    split_heads(packed.clone().narrow(2, i * d, d), heads)
}

/// `(B, H, L, hd)` → `(B, L, H·hd)`.
pub fn merge_heads<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 3> {
    let [b, h, l, hd] = x.dims();
    x.swap_dims(1, 2).reshape([b, l, h * hd])
}

/// `softmax(q·kᵀ/√hd, keys)·v` per head: `q (B, H, M, hd)`, `k, v (B, H, N, hd)` → `(B, H, M, hd)`.
pub fn scaled_dot_product<B: Backend>(q: Tensor<B, 4>, k: Tensor<B, 4>, v: Tensor<B, 4>, order: ScaleOrder) -> Tensor<B, 4> {
    let hd = q.dims()[3];
    let scores = match order {
        ScaleOrder::Query => (q * (hd as f64).powf(-0.5)).matmul(k.swap_dims(2, 3)),
        ScaleOrder::Scores => q.matmul(k.swap_dims(2, 3)).div_scalar((hd as f64).sqrt()),
    };
    softmax(scores, 3).matmul(v)
}

/// Scaled dot-product attention with an additive bias `(1, H, L, L)` broadcast over the batch:
/// `q, k, v (N, H, L, hd)` → `(N, H, L, hd)` (burn's fused kernel).
pub fn biased_attention<B: Backend>(q: Tensor<B, 4>, k: Tensor<B, 4>, v: Tensor<B, 4>, bias: Tensor<B, 4>) -> Tensor<B, 4> {
    let [n, heads, l, _] = q.dims();
    attention(q, k, v, None, Some(bias.expand([n, heads, l, l])), AttentionModuleOptions::default())
}

/// Multi-head self-attention with VideoMAE's q/v biases (the k bias is fixed at zero).
#[derive(Module, Debug)]
pub struct QvBiasAttention<B: Backend> {
    /// `(3D, D)` in PyTorch layout, no bias.
    pub qkv: Linear<B>,
    pub q_bias: Param<Tensor<B, 1>>,
    pub v_bias: Param<Tensor<B, 1>>,
    pub proj: Linear<B>,
    pub(crate) num_heads: usize,
}

impl<B: Backend> QvBiasAttention<B> {
    /// `(B, N, D)` → `(B, N, D)`; Linears over the `B·N` rows, q scaled before the product.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, n, d] = x.dims();
        let h = self.num_heads;
        let hd = d / h;
        let device = x.device();
        let bias = Tensor::cat(vec![self.q_bias.val(), Tensor::zeros([d], &device), self.v_bias.val()], 0);
        let qkv = linear_rows(&self.qkv, x) + bias.reshape([1, 1, 3 * d]);
        let qkv: Tensor<B, 5> = qkv.reshape([b, n, 3, h, hd]);
        let part = |i: usize| qkv.clone().narrow(2, i, 1).reshape([b, n, h, hd]).swap_dims(1, 2);
        let (q, k, v) = (part(0), part(1), part(2));
        let out = merge_heads(scaled_dot_product(q, k, v, ScaleOrder::Query));
        linear_rows(&self.proj, out)
    }
}

/// Multi-head self-attention with output projection (q, k, v packed in that order, qkv with bias).
#[derive(Module, Debug)]
pub struct SelfAttention<B: Backend> {
    pub qkv: Linear<B>,
    pub proj: Linear<B>,
    pub(crate) num_heads: usize,
}

impl<B: Backend> SelfAttention<B> {
    /// `(B, N, D)` → `(B, N, D)`; scores divided by `√hd`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let d = x.dims()[2];
        let qkv = self.qkv.forward(x); // (B, N, 3D)
        let [q, k, v] = [0, 1, 2].map(|i| packed_heads(&qkv, i, d, self.num_heads));
        self.proj.forward(merge_heads(scaled_dot_product(q, k, v, ScaleOrder::Scores)))
    }
}

/// Multi-head cross-attention without output projection.
#[derive(Module, Debug)]
pub struct CrossAttention<B: Backend> {
    pub q: Linear<B>,
    /// First D outputs are the keys, last D the values.
    pub kv: Linear<B>,
    pub(crate) num_heads: usize,
}

impl<B: Backend> CrossAttention<B> {
    /// `q (B, M, D)`, normalised tokens `x (B, N, D)` → `(B, M, D)`; scores divided by `√hd`.
    pub fn forward(&self, q: Tensor<B, 3>, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let d = q.dims()[2];
        let q = split_heads(self.q.forward(q), self.num_heads);
        let kv = self.kv.forward(x); // (B, N, 2D)
        let [k, v] = [0, 1].map(|i| packed_heads(&kv, i, d, self.num_heads));
        merge_heads(scaled_dot_product(q, k, v, ScaleOrder::Scores))
    }
}
