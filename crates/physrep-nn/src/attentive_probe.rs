//! Attentive probe: one learned query cross-attends to frozen encoder tokens, then a linear head.
//!
//! Paper: Qu et al., *Representation Learning for Spatiotemporal Physical Systems*,
//! <https://arxiv.org/abs/2603.13227> (probe of `attentive_pooler.py`, from V-JEPA,
//! <https://arxiv.org/abs/2404.08471>); the optional self-attention blocks follow V-JEPA 2's 4-block
//! probe (<https://arxiv.org/abs/2506.09985>, `vjepa2/src/models/attentive_pooler.py`).
//!
//! What it computes (`docs/paper-protocol.md` §10.2), for tokens `x (B, N, D)`:
//! ```text
//! x  = Block_i(x)                     for each of `self_attn_blocks` pre-norm ViT blocks (V-JEPA 2 only)
//! xn = LN1(x)                         eps 1e-5; the query is not normalised
//! a  = softmax(Wq q0 · (Wk xn)ᵀ / √hd) · Wv xn     per head; no output projection
//! q  = q0 + a;  q = q + MLP(LN2(q))   MLP: D → ⌊D·ratio⌋ → D, exact GELU
//! y  = Linear(D → P)(q)               (B, P)
//! ```
//! Shapes: tokens `(B, N, D)` in, predictions `(B, P)` out.
//!
//! Parameter names mirror the PyTorch state dict (`pooler.query_tokens`,
//! `pooler.cross_attention_block.{norm1,xattn.q,xattn.kv,norm2,mlp.fc1,mlp.fc2}`,
//! `pooler.blocks.i.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}`, `linear`), so PyTorch
//! safetensors load with `burn_store::PyTorchToBurnAdapter` (Linear weights transposed).
//!
//! Parameter count: 445,314 for the JEPA probe (D = 128, 8 heads, MLP ratio 12, P = 2) =
//! query 128 + LN 2×256 + q 16,512 + kv 33,024 + fc1 198,144 + fc2 196,736 + head 258;
//! 520,418 for VideoMAE's (D = 384, ratio 0.25).
//!
//! Init (seeded, independent of burn's global RNG so parallel probes stay reproducible): query and
//! every pooler Linear weight ~ N(0, 0.02²) truncated at ±2, biases 0, LayerNorms 1/0; each block's
//! residual output weights (`attn.proj`, `mlp.fc2`) divided by √(2·layer) with layer = 1, 2, …
//! (the cross-attention block's `mlp.fc2` gets the last block's index, i.e. /√2 without
//! self-attention blocks); the final Linear keeps PyTorch's default U(±1/√D).
//!
//! Example: `physrep probe --run RUN --data DIR --probe attentive`.

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::layers::PreNormBlock;
pub use crate::layers::{CrossAttention, Mlp, SelfAttention};
use crate::NnError;

/// Hyperparameters of the attentive probe. `Default` = the paper's JEPA probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttentiveProbeConfig {
    /// Token width D.
    pub dim: usize,
    /// Attention heads (D must be divisible by it).
    pub num_heads: usize,
    /// MLP hidden width = ⌊D · mlp_ratio⌋ (12 for JEPA, 0.25 for VideoMAE, 4 for MPP/DISCO).
    pub mlp_ratio: f64,
    /// Self-attention blocks over the tokens before the cross-attention (0 = paper, 3 = V-JEPA 2).
    pub self_attn_blocks: usize,
    /// Number of regressed parameters P.
    pub num_outputs: usize,
    /// Dropout after attention, inside the MLP and before the head (0 for JEPA).
    pub dropout: f64,
    /// Std of the truncated-normal init.
    pub init_std: f64,
}

impl Default for AttentiveProbeConfig {
    fn default() -> Self {
        Self { dim: 128, num_heads: 8, mlp_ratio: 12.0, self_attn_blocks: 0, num_outputs: 2, dropout: 0.0, init_std: 0.02 }
    }
}

/// The model name in [`NnError::Config`] messages ("invalid attentive probe config: …").
const PROBE: &str = "attentive probe";

impl AttentiveProbeConfig {
    /// MLP hidden width ⌊D · ratio⌋ (PyTorch's `int(dim * mlp_ratio)`).
    pub fn mlp_hidden(&self) -> usize {
        (self.dim as f64 * self.mlp_ratio) as usize
    }

    /// Check the config before building a module.
    pub fn validate(&self) -> Result<(), NnError> {
        if self.dim == 0 || self.num_heads == 0 || !self.dim.is_multiple_of(self.num_heads) {
            return Err(NnError::config(PROBE, format!("dim {} must be a positive multiple of num_heads {}", self.dim, self.num_heads)));
        }
        if self.mlp_hidden() == 0 {
            return Err(NnError::config(PROBE, format!("mlp_ratio {} gives an empty MLP at dim {}", self.mlp_ratio, self.dim)));
        }
        if self.num_outputs == 0 {
            return Err(NnError::config(PROBE, "num_outputs must be ≥ 1"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(NnError::config(PROBE, format!("dropout {} not in [0, 1)", self.dropout)));
        }
        if !(self.init_std > 0.0) {
            return Err(NnError::config(PROBE, format!("init_std {} must be > 0", self.init_std)));
        }
        Ok(())
    }

    /// Build a freshly initialised probe; the same `seed` gives the same weights.
    pub fn init<B: Backend>(&self, seed: u64, device: &B::Device) -> Result<AttentiveProbe<B>, NnError> {
        self.validate()?;
        let mut init = Init::<B> { rng: ChaCha8Rng::seed_from_u64(seed), std: self.init_std, device };
        let d = self.dim;
        let hidden = self.mlp_hidden();
        let query_tokens = init.trunc_param([1, 1, d]);
        let mut blocks = Vec::with_capacity(self.self_attn_blocks);
        for i in 0..self.self_attn_blocks {
            let layer = i + 1;
            let attn = SelfAttention {
                qkv: init.trunc_linear(d, 3 * d, 1.0),
                proj: init.trunc_linear(d, d, 1.0 / (2.0 * layer as f64).sqrt()),
                num_heads: self.num_heads,
            };
            blocks.push(SelfAttentionBlock {
                norm1: layer_norm(d, device),
                attn,
                norm2: layer_norm(d, device),
                mlp: init.mlp(d, hidden, layer),
            });
        }
        let xattn = CrossAttention { q: init.trunc_linear(d, d, 1.0), kv: init.trunc_linear(d, 2 * d, 1.0), num_heads: self.num_heads };
        let cross_attention_block = CrossAttentionBlock {
            norm1: layer_norm(d, device),
            xattn,
            norm2: layer_norm(d, device),
            mlp: init.mlp(d, hidden, self.self_attn_blocks.max(1)),
        };
        let linear = init.default_linear(d, self.num_outputs);
        Ok(AttentiveProbe { pooler: AttentivePooler { query_tokens, blocks, cross_attention_block }, linear, dropout: self.dropout })
    }
}

/// The probe: pooler (query + optional self-attention blocks + cross-attention block) and head.
#[derive(Module, Debug)]
pub struct AttentiveProbe<B: Backend> {
    pub pooler: AttentivePooler<B>,
    pub linear: Linear<B>,
    dropout: f64,
}

/// One learned query attending to the tokens.
#[derive(Module, Debug)]
pub struct AttentivePooler<B: Backend> {
    /// `(1, 1, D)`.
    pub query_tokens: Param<Tensor<B, 3>>,
    /// V-JEPA 2 self-attention blocks over the tokens (empty for the paper's probe).
    pub blocks: Vec<SelfAttentionBlock<B>>,
    pub cross_attention_block: CrossAttentionBlock<B>,
}

/// `q = q + xattn(q, LN1(x)); q = q + MLP(LN2(q))`.
#[derive(Module, Debug)]
pub struct CrossAttentionBlock<B: Backend> {
    pub norm1: LayerNorm<B>,
    pub xattn: CrossAttention<B>,
    pub norm2: LayerNorm<B>,
    pub mlp: Mlp<B>,
}

/// Pre-norm ViT block of V-JEPA 2's probe: `x = x + proj(attn(LN1(x))); x = x + MLP(LN2(x))`
/// (the kit's [`PreNormBlock`], run with [`PreNormBlock::forward_with`]).
pub type SelfAttentionBlock<B> = PreNormBlock<B, SelfAttention<B>>;

/// Dropout masks drawn from a caller-owned seeded RNG (training only).
pub struct DropoutRng<'a> {
    pub rng: &'a mut ChaCha8Rng,
    pub p: f64,
}

impl DropoutRng<'_> {
    fn apply<B: Backend, const D: usize>(&mut self, x: Tensor<B, D>) -> Tensor<B, D> {
        if self.p == 0.0 {
            return x;
        }
        let shape = x.shape();
        let n = shape.num_elements();
        let keep = (1.0 / (1.0 - self.p)) as f32;
        let mask: Vec<f32> = (0..n).map(|_| if self.rng.random::<f64>() < self.p { 0.0 } else { keep }).collect();
        let mask = Tensor::<B, D>::from_data(TensorData::new(mask, shape), &x.device());
        x * mask
    }
}

fn maybe_drop<B: Backend, const D: usize>(drop: &mut Option<DropoutRng<'_>>, x: Tensor<B, D>) -> Tensor<B, D> {
    match drop {
        Some(d) => d.apply(x),
        None => x,
    }
}

impl<B: Backend> AttentiveProbe<B> {
    /// Inference: tokens `(B, N, D)` → predictions `(B, P)` (no dropout).
    pub fn forward(&self, tokens: Tensor<B, 3>) -> Tensor<B, 2> {
        self.forward_with(tokens, &mut None)
    }

    /// Training forward: dropout (if configured) with masks from `rng`.
    pub fn forward_train(&self, tokens: Tensor<B, 3>, rng: &mut ChaCha8Rng) -> Tensor<B, 2> {
        let mut drop = (self.dropout > 0.0).then_some(DropoutRng { rng, p: self.dropout });
        self.forward_with(tokens, &mut drop)
    }

    fn forward_with(&self, tokens: Tensor<B, 3>, drop: &mut Option<DropoutRng<'_>>) -> Tensor<B, 2> {
        let q = self.pooler.forward(tokens, drop); // (B, 1, D)
        let [b, _, d] = q.dims();
        let q = maybe_drop(drop, q.reshape([b, d]));
        self.linear.forward(q) // (B, P)
    }
}

impl<B: Backend> AttentivePooler<B> {
    /// Tokens `(B, N, D)` → pooled query `(B, 1, D)`.
    fn forward(&self, tokens: Tensor<B, 3>, drop: &mut Option<DropoutRng<'_>>) -> Tensor<B, 3> {
        let [b, _, d] = tokens.dims();
        let mut x = tokens;
        for block in &self.blocks {
            x = block.forward_with(x, |t| maybe_drop(drop, t));
        }
        let q = self.query_tokens.val().expand([b, 1, d]);
        self.cross_attention_block.forward(q, x, drop)
    }
}

impl<B: Backend> CrossAttentionBlock<B> {
    /// `q (B, M, D)`, `x (B, N, D)` → `(B, M, D)`.
    fn forward(&self, q: Tensor<B, 3>, x: Tensor<B, 3>, drop: &mut Option<DropoutRng<'_>>) -> Tensor<B, 3> {
        let a = self.xattn.forward(q.clone(), self.norm1.forward(x));
        let q = q + maybe_drop(drop, a);
        let m = self.mlp.forward_with(self.norm2.forward(q.clone()), |t| maybe_drop(drop, t));
        q + m
    }
}

fn layer_norm<B: Backend>(d: usize, device: &B::Device) -> LayerNorm<B> {
    LayerNormConfig::new(d).with_epsilon(1e-5).init(device)
}

/// Seeded parameter initialisation.
struct Init<'a, B: Backend> {
    rng: ChaCha8Rng,
    std: f64,
    device: &'a B::Device,
}

impl<B: Backend> Init<'_, B> {
    /// N(0, std²) truncated to [−2, 2] (absolute, as `timm`'s `trunc_normal_`), times `scale`.
    fn trunc_values(&mut self, n: usize, scale: f64) -> Vec<f32> {
        (0..n)
            .map(|_| loop {
                let z: f64 = StandardNormal.sample(&mut self.rng);
                let v = z * self.std;
                if v.abs() <= 2.0 {
                    break (v * scale) as f32;
                }
            })
            .collect()
    }

    fn param<const D: usize>(&self, values: Vec<f32>, shape: [usize; D]) -> Param<Tensor<B, D>> {
        Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), self.device))
    }

    fn trunc_param<const D: usize>(&mut self, shape: [usize; D]) -> Param<Tensor<B, D>> {
        let values = self.trunc_values(shape.iter().product(), 1.0);
        self.param(values, shape)
    }

    /// Linear with truncated-normal weight (burn layout `[in, out]`) times `scale`, zero bias.
    fn trunc_linear(&mut self, d_in: usize, d_out: usize, scale: f64) -> Linear<B> {
        let weight = self.trunc_values(d_in * d_out, scale);
        Linear { weight: self.param(weight, [d_in, d_out]), bias: Some(self.param(vec![0.0; d_out], [d_out])) }
    }

    /// MLP of block `layer` (1-based): fc2 scaled by 1/√(2·layer).
    fn mlp(&mut self, d: usize, hidden: usize, layer: usize) -> Mlp<B> {
        Mlp { fc1: self.trunc_linear(d, hidden, 1.0), fc2: self.trunc_linear(hidden, d, 1.0 / (2.0 * layer as f64).sqrt()) }
    }

    /// PyTorch's default Linear init: weight and bias ~ U(−1/√d_in, 1/√d_in).
    fn default_linear(&mut self, d_in: usize, d_out: usize) -> Linear<B> {
        let bound = 1.0 / (d_in as f64).sqrt();
        let mut uniform = |n: usize| -> Vec<f32> { (0..n).map(|_| (self.rng.random_range(-bound..bound)) as f32).collect() };
        let weight = uniform(d_in * d_out);
        let bias = uniform(d_out);
        Linear { weight: self.param(weight, [d_in, d_out]), bias: Some(self.param(bias, [d_out])) }
    }
}
