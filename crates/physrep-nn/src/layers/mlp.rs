//! The two-layer MLP of every transformer here: `fc2(GELU(fc1(x)))`, exact (erf) GELU.
//!
//! Shapes: `(…, D)` → `(…, hidden)` → `(…, D_out)`, channels last, any rank. Record paths
//! `fc1.{weight, bias}`, `fc2.{weight, bias}` (PyTorch's `mlp.fc1`, `mlp.fc2`; burn stores Linear
//! weights `[in, out]`).
//!
//! Three ways to run it, each keeping one caller's exact operations:
//! * [`Mlp::forward`]: burn's `Linear::forward` on the tensor as given (AViT, channels-last maps);
//! * [`Mlp::forward_with`]: the same with a hook after the GELU and after `fc2` (the attentive
//!   probe's dropout; the identity hook gives `forward`);
//! * [`Mlp::forward_rows`]: each Linear as one 2-D matmul over the `B·N` rows of `(B, N, D)` tokens
//!   ([`linear_rows`]; VideoMAE).
//!
//! [`mlp_with`] is the same computation on two loose Linears, for a model whose record keeps them at
//! its top level (DISCO's generator, `fc1` and `fc2`).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::gelu;

use super::tokens::linear_rows;

/// Two-layer GELU MLP (see the module documentation).
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    pub fc1: Linear<B>,
    pub fc2: Linear<B>,
}

impl<B: Backend> Mlp<B> {
    /// `D → hidden → D` with burn's default Linear init (PyTorch-like bounds, burn's global RNG;
    /// draws fc1's weight and bias, then fc2's). AViT's MLP.
    pub fn with_default_init(dim: usize, hidden: usize, device: &B::Device) -> Self {
        Self { fc1: LinearConfig::new(dim, hidden).init(device), fc2: LinearConfig::new(hidden, dim).init(device) }
    }

    /// `(…, D)` → `(…, D_out)`.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        mlp_with(&self.fc1, &self.fc2, x, |t| t)
    }

    /// `(…, D)` → `(…, D_out)`, with `hook` applied after the GELU and after `fc2` (dropout).
    pub fn forward_with<const D: usize>(&self, x: Tensor<B, D>, hook: impl FnMut(Tensor<B, D>) -> Tensor<B, D>) -> Tensor<B, D> {
        mlp_with(&self.fc1, &self.fc2, x, hook)
    }

    /// Tokens `(B, N, D)` → `(B, N, D_out)`, each Linear as one matmul over the `B·N` rows.
    pub fn forward_rows(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let hidden = gelu(linear_rows(&self.fc1, x));
        linear_rows(&self.fc2, hidden)
    }
}

/// `hook(fc2(hook(GELU(fc1(x)))))` on two loose Linears; `|t| t` for the plain MLP.
pub fn mlp_with<B: Backend, const D: usize>(
    fc1: &Linear<B>,
    fc2: &Linear<B>,
    x: Tensor<B, D>,
    mut hook: impl FnMut(Tensor<B, D>) -> Tensor<B, D>,
) -> Tensor<B, D> {
    let h = hook(gelu(fc1.forward(x)));
    hook(fc2.forward(h))
}
