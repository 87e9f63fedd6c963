//! The layer kit the transformer models share: one MLP, one scaled dot-product attention with the
//! three multi-head modules built on it, one pre-norm ViT block and the token helpers.
//!
//! | file | what | used by |
//! |---|---|---|
//! | [`mlp`] | `fc1 → exact GELU → fc2` ([`Mlp`], [`mlp_with`]) | VideoMAE, AViT, DISCO's generator, attentive probe |
//! | [`attention`] | [`scaled_dot_product`], [`biased_attention`], head split/merge, [`QvBiasAttention`], [`SelfAttention`], [`CrossAttention`] | VideoMAE, AViT, attentive probe |
//! | [`vit_block`] | [`PreNormBlock`]: `x + attn(LN1 x)`, then `x + MLP(LN2 x)` | VideoMAE (encoder and decoder), attentive probe (V-JEPA 2 blocks) |
//! | [`tokens`] | [`linear_rows`], [`patchify`], [`sinusoid_table`], [`grid_to_tokens`] | VideoMAE, AViT, DISCO |
//!
//! Nothing here initialises parameters on its own: each model builds the Linears of these modules
//! its own way (Xavier for VideoMAE, burn's PyTorch-like default for AViT, a seeded truncated normal
//! for the probe), in the order it always did, so a seed gives the same weights as before.
//!
//! Where two models ran the same layer with a different order of floating-point operations, both
//! orders are kept (a flag or a second function, named in each item's documentation): every model's
//! numbers are bit-identical to what it computed before the kit.
//!
//! Module field names are the parameter record paths (`norm1`, `attn.qkv`, `mlp.fc1`, …): they are
//! the names in `.mpk` checkpoints, safetensors exports and the PyTorch parity fixtures, and must not
//! change.

pub mod attention;
pub mod mlp;
pub mod tokens;
pub mod vit_block;

pub use attention::{
    biased_attention, merge_heads, scaled_dot_product, split_heads, CrossAttention, QvBiasAttention, ScaleOrder, SelfAttention,
};
pub use mlp::{mlp_with, Mlp};
pub use tokens::{grid_to_tokens, linear_rows, patchify, sinusoid_table};
pub use vit_block::{PreNormBlock, TokenMixer};
