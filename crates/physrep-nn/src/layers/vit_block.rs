//! The pre-norm ViT block: `x = x + attn(LN1(x))`, then `x = x + MLP(LN2(x))`.
//!
//! Shapes: tokens `(B, N, D)` → `(B, N, D)`. Record paths `norm1.*`, `attn.*` (the attention
//! module's own), `norm2.*`, `mlp.fc1.*`, `mlp.fc2.*`, as timm / VideoMAE / V-JEPA name them.
//!
//! Generic over the attention module `A` ([`TokenMixer`]): VideoMAE's blocks hold a
//! [`QvBiasAttention`], the attentive probe's a
//! [`SelfAttention`]. Two ways to run the MLP keep each caller's numbers:
//! [`PreNormBlock::forward_rows`] (VideoMAE: Linears as 2-D matmuls over the `B·N` rows) and
//! [`PreNormBlock::forward_with`] (probe: burn's rank-3 Linear, with a dropout hook after the
//! attention, after the GELU and after `fc2`).

use burn::nn::LayerNorm;
use burn::prelude::*;

use super::attention::{QvBiasAttention, SelfAttention};
use super::mlp::Mlp;

/// A token-mixing sub-layer `(B, N, D)` → `(B, N, D)` a [`PreNormBlock`] can hold.
pub trait TokenMixer<B: Backend> {
    /// Mix the (normalised) tokens.
    fn mix(&self, x: Tensor<B, 3>) -> Tensor<B, 3>;
}

impl<B: Backend> TokenMixer<B> for QvBiasAttention<B> {
    fn mix(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.forward(x)
    }
}

impl<B: Backend> TokenMixer<B> for SelfAttention<B> {
    fn mix(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.forward(x)
    }
}

/// Pre-norm transformer block (see the module documentation).
#[derive(Module, Debug)]
pub struct PreNormBlock<B: Backend, A: Module<B>> {
    pub norm1: LayerNorm<B>,
    pub attn: A,
    pub norm2: LayerNorm<B>,
    pub mlp: Mlp<B>,
}

impl<B: Backend, A: Module<B> + TokenMixer<B>> PreNormBlock<B, A> {
    /// `(B, N, D)` → `(B, N, D)`, the MLP's Linears over the `B·N` rows (VideoMAE).
    pub fn forward_rows(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.mix(self.norm1.forward(x));
        let m = self.mlp.forward_rows(self.norm2.forward(x.clone()));
        x + m
    }

    /// `(B, N, D)` → `(B, N, D)`, burn's rank-3 Linear in the MLP, `drop` applied to the attention
    /// output and inside the MLP ([`Mlp::forward_with`]); `|t| t` for none (attentive probe).
    pub fn forward_with(&self, x: Tensor<B, 3>, mut drop: impl FnMut(Tensor<B, 3>) -> Tensor<B, 3>) -> Tensor<B, 3> {
        let a = self.attn.mix(self.norm1.forward(x.clone()));
        let x = x + drop(a);
        let m = self.mlp.forward_with(self.norm2.forward(x.clone()), &mut drop);
        x + m
    }
}
