//! VideoMAE: a ViT over space-time tubelets, pretrained by masked reconstruction with tube masking.
//!
//! Paper: Tong et al., "VideoMAE: Masked Autoencoders are Data-Efficient Learners for Self-Supervised
//! Video Pre-Training", NeurIPS 2022, <https://arxiv.org/abs/2203.12602>. Reference code:
//! `MCG-NJU/VideoMAE` (`modeling_pretrain.py`, `modeling_finetune.py`, `masking_generator.py`,
//! `engine_for_pretraining.py`); physrep spec: `docs/baselines.md` §1–2.
//!
//! What it computes:
//! * [`VideoMaeEncoder`]: Conv3d tubelet embedding (kernel = stride = `(tubelet, p, p)`), plus a fixed 1-D
//!   sinusoidal table (base 10000) over all `N = (T/tubelet)·(H/p)·(W/p)` tokens in `(t, h, w)` row-major
//!   order, then `depth` pre-norm blocks (q and v biases, zero k bias; LayerNorm eps 1e-6; MLP ratio 4;
//!   exact GELU; no layer-scale, no CLS token) and a final LayerNorm.
//!   Frozen features ([`ClipEncoder`]): `(B, C, T, H, W)` → `(B, N, D)`, all tokens, no masking.
//! * [`VideoMae`]: the pretraining model. The encoder sees only the visible tokens of a [`TokenMask`];
//!   `encoder_to_decoder` (no bias) maps them to the decoder width, a learned mask token stands in for
//!   every masked token, the decoder's own sinusoidal table is added to both, and after `decoder_depth`
//!   blocks, a LayerNorm and a linear head, the masked tokens predict `C·tubelet·p²` values each, laid out
//!   `(dt, dy, dx, c)` with the channel fastest (VideoMAE's `(p0 p1 p2 c)`).
//! * [`VideoMae::loss`]: MSE over the masked tokens against per-patch normalised targets: each target patch
//!   is standardised per channel over its `tubelet·p²` pixels by its mean and `sqrt(unbiased var) + 1e-6`
//!   (VideoMAE's `normlize_target`; physrep has no ImageNet de-normalisation, the raw clip is the target).
//! * [`TubeMaskGenerator`]: one random spatial mask per sample, tiled over all temporal slices. As
//!   `masking_generator.py`: masked per slice = `floor(ratio · N_spatial)` (Python's `int()`), so the
//!   encoder sees `N_spatial − floor(ratio · N_spatial)` spatial tokens per slice (= ⌈(1−ratio)·N_spatial⌉
//!   up to floating-point ties): 20 of 196 at 224², 2 of 16 at 64², for ratio 0.9.
//!
//! Parameter paths mirror VideoMAE's pretraining state dict (`encoder.patch_embed.proj.weight`,
//! `encoder.blocks.{i}.attn.{qkv.weight, q_bias, v_bias, proj.*}`, `encoder.blocks.{i}.mlp.fc{1,2}.*`,
//! `encoder.norm.*`, `decoder.blocks.*`, `decoder.norm.*`, `decoder.head.*`, `encoder_to_decoder.weight`,
//! `mask_token`); the encoder alone uses the paths with `encoder.` stripped, as the paper's loader. See
//! [`VideoMaeEncoder::load_pytorch_safetensors`] and [`VideoMae::load_pytorch_safetensors`].
//!
//! Shapes: clip `(B, C, T, H, W)`; tokens `(B, N, D)`; visible tokens `(B, N_vis, D)`; prediction
//! `(B, N_mask, C·tubelet·p²)`.
//!
//! Parameter counts (encoder only; `(computed)` = arithmetic, tested in this file):
//! | size | D / depth / heads | C = 4 | C = 11 |
//! |---|---|---|---|
//! | ViT-S/16 ([`VideoMaeConfig::vit_small`], paper code) | 384 / 12 / 6 | 22,076,544 | 23,452,800 |
//! | ViT-Ti/16 ([`VideoMaeConfig::vit_tiny`], paper text) | 192 / 12 / 3 | 5,729,856 | 6,417,984 |
//!
//! The decoder (192 wide, 4 blocks, 3 heads) adds 1,784,448 + 193·C·2·p² + 384·192 (encoder_to_decoder,
//! ViT-S) + 192 (mask token) parameters.
//!
//! Initialisation (for physrep's own pretraining) follows VideoMAE's pretraining model: Linear weights
//! Xavier-uniform, Linear biases and q/v biases zero, LayerNorm 1/0, Conv3d the framework default
//! (kaiming-uniform, as PyTorch's), mask token normal with std 0.02 (VideoMAE truncates at ±0.02; the
//! truncation is not reproduced).
//!
//! Example: `physrep pretrain --method videomae …` (see `physrep-train`'s `methods::videomae`).

use std::path::Path;

use burn::module::{Initializer, Param};
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn_store::{ApplyResult, BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use serde::{Deserialize, Serialize};

use crate::layers::{linear_rows, patchify, PreNormBlock, QvBiasAttention};
use crate::{ClipEncoder, ClipShapeError, NnError};

mod mask;

pub use crate::layers::{sinusoid_table, Mlp};
use mask::{check_mask, gather_tokens};
pub use mask::{TokenMask, TubeMaskGenerator};

/// VideoMAE's attention: q/v biases, zero k bias, q scaled before the product (the kit's
/// [`QvBiasAttention`]).
pub type Attention<B> = QvBiasAttention<B>;

/// VideoMAE's pre-norm block (`norm1`, `attn`, `norm2`, `mlp`), run with [`PreNormBlock::forward_rows`].
pub type Block<B> = PreNormBlock<B, Attention<B>>;

/// Hyperparameters of the VideoMAE pretraining model. `Default` is the paper code's ViT-S/16 for the
/// 11-channel active-matter data at 16 × 224².
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoMaeConfig {
    /// Input channels C (11 for active matter, 4 for shear flow and Rayleigh–Bénard).
    pub in_chans: usize,
    /// Frames per clip T.
    pub num_frames: usize,
    /// Square frame side H = W.
    pub img_size: usize,
    /// Spatial patch side p.
    pub patch_size: usize,
    /// Frames per tubelet.
    pub tubelet_size: usize,
    /// Encoder width D.
    pub embed_dim: usize,
    /// Encoder blocks.
    pub depth: usize,
    /// Encoder attention heads.
    pub num_heads: usize,
    /// MLP hidden width / width (encoder and decoder).
    pub mlp_ratio: f64,
    /// Decoder width.
    pub decoder_embed_dim: usize,
    /// Decoder blocks.
    pub decoder_depth: usize,
    /// Decoder attention heads.
    pub decoder_num_heads: usize,
    /// Fraction of spatial tokens masked per sample (tube masking).
    pub mask_ratio: f64,
    /// LayerNorm epsilon.
    pub norm_eps: f64,
}

impl Default for VideoMaeConfig {
    fn default() -> Self {
        Self::vit_small(11)
    }
}

impl VideoMaeConfig {
    /// ViT-S/16 (384 / 12 / 6) with VideoMAE-small's decoder (192 / 4 / 3), 16 × 224², tubelets 2×16×16,
    /// mask ratio 0.9: the model of the paper's code.
    pub fn vit_small(in_chans: usize) -> Self {
        Self {
            in_chans,
            num_frames: 16,
            img_size: 224,
            patch_size: 16,
            tubelet_size: 2,
            embed_dim: 384,
            depth: 12,
            num_heads: 6,
            mlp_ratio: 4.0,
            decoder_embed_dim: 192,
            decoder_depth: 4,
            decoder_num_heads: 3,
            mask_ratio: 0.9,
            norm_eps: 1e-6,
        }
    }

    /// ViT-Ti/16 (192 / 12 / 3, DeiT-Tiny dims): the size the paper's text names. Same decoder.
    pub fn vit_tiny(in_chans: usize) -> Self {
        Self { embed_dim: 192, depth: 12, num_heads: 3, ..Self::vit_small(in_chans) }
    }

    /// Check divisibility and ranges; every constructor of a model calls this.
    pub fn validate(&self) -> Result<(), NnError> {
        let err = |m: String| Err(NnError::config("VideoMAE", m));
        let positive = [
            ("in_chans", self.in_chans),
            ("num_frames", self.num_frames),
            ("img_size", self.img_size),
            ("patch_size", self.patch_size),
            ("tubelet_size", self.tubelet_size),
            ("embed_dim", self.embed_dim),
            ("num_heads", self.num_heads),
            ("decoder_embed_dim", self.decoder_embed_dim),
            ("decoder_num_heads", self.decoder_num_heads),
        ];
        for (name, value) in positive {
            if value == 0 {
                return err(format!("{name} must be positive"));
            }
        }
        if !self.img_size.is_multiple_of(self.patch_size) {
            return err(format!("img_size {} is not a multiple of patch_size {}", self.img_size, self.patch_size));
        }
        if !self.num_frames.is_multiple_of(self.tubelet_size) {
            return err(format!("num_frames {} is not a multiple of tubelet_size {}", self.num_frames, self.tubelet_size));
        }
        if !self.embed_dim.is_multiple_of(self.num_heads) {
            return err(format!("embed_dim {} is not divisible by num_heads {}", self.embed_dim, self.num_heads));
        }
        if !self.decoder_embed_dim.is_multiple_of(self.decoder_num_heads) {
            return err(format!(
                "decoder_embed_dim {} is not divisible by decoder_num_heads {}",
                self.decoder_embed_dim, self.decoder_num_heads
            ));
        }
        if !(self.mlp_ratio > 0.0) {
            return err(format!("mlp_ratio {} must be positive", self.mlp_ratio));
        }
        if !(0.0..1.0).contains(&self.mask_ratio) {
            return err(format!("mask_ratio {} must lie in [0, 1)", self.mask_ratio));
        }
        if self.masked_per_slice() == 0 {
            return err(format!(
                "mask_ratio {} masks no token of the {} per slice: the loss would be empty",
                self.mask_ratio,
                self.spatial_tokens()
            ));
        }
        Ok(())
    }

    /// Spatial tokens per temporal slice, `(H/p)²`.
    pub fn spatial_tokens(&self) -> usize {
        (self.img_size / self.patch_size).pow(2)
    }

    /// Temporal slices, `T / tubelet`.
    pub fn temporal_slices(&self) -> usize {
        self.num_frames / self.tubelet_size
    }

    /// All tokens of a clip, `N`.
    pub fn num_tokens(&self) -> usize {
        self.spatial_tokens() * self.temporal_slices()
    }

    /// Masked spatial tokens per slice: `int(mask_ratio · N_spatial)` as VideoMAE's `TubeMaskingGenerator`.
    pub fn masked_per_slice(&self) -> usize {
        (self.mask_ratio * self.spatial_tokens() as f64).floor() as usize
    }

    /// Values predicted per token: `C · tubelet · p²`.
    pub fn patch_values(&self) -> usize {
        self.in_chans * self.tubelet_size * self.patch_size * self.patch_size
    }

    fn mlp_hidden(&self, dim: usize) -> usize {
        (dim as f64 * self.mlp_ratio) as usize
    }

    /// Build the encoder alone (for probing or loading an external checkpoint).
    pub fn init_encoder<B: Backend>(&self, device: &B::Device) -> Result<VideoMaeEncoder<B>, NnError> {
        self.validate()?;
        let blocks = (0..self.depth)
            .map(|_| block(self.embed_dim, self.num_heads, self.mlp_hidden(self.embed_dim), self.norm_eps, device))
            .collect();
        Ok(VideoMaeEncoder {
            patch_embed: PatchEmbed {
                proj: Conv3dConfig::new([self.in_chans, self.embed_dim], [self.tubelet_size, self.patch_size, self.patch_size])
                    .with_stride([self.tubelet_size, self.patch_size, self.patch_size])
                    .init(device),
            },
            blocks,
            norm: LayerNormConfig::new(self.embed_dim).with_epsilon(self.norm_eps).init(device),
            in_chans: self.in_chans,
            num_frames: self.num_frames,
            img_size: self.img_size,
        })
    }

    /// Build the whole pretraining model (encoder, decoder, mask token).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<VideoMae<B>, NnError> {
        let encoder = self.init_encoder(device)?;
        let d = self.decoder_embed_dim;
        let blocks = (0..self.decoder_depth).map(|_| block(d, self.decoder_num_heads, self.mlp_hidden(d), self.norm_eps, device)).collect();
        let decoder = VideoMaeDecoder {
            blocks,
            norm: LayerNormConfig::new(d).with_epsilon(self.norm_eps).init(device),
            head: xavier_linear(d, self.patch_values(), true, device),
        };
        let mask_token = Initializer::Normal { mean: 0.0, std: 0.02 }.init([1, 1, d], device);
        Ok(VideoMae {
            encoder,
            decoder,
            encoder_to_decoder: xavier_linear(self.embed_dim, d, false, device),
            mask_token,
            patch_size: self.patch_size,
            tubelet_size: self.tubelet_size,
        })
    }
}

/// A Linear layer initialised as VideoMAE's `_init_weights`: Xavier-uniform weight, zero bias.
fn xavier_linear<B: Backend>(d_in: usize, d_out: usize, bias: bool, device: &B::Device) -> Linear<B> {
    let mut linear =
        LinearConfig::new(d_in, d_out).with_bias(false).with_initializer(Initializer::XavierUniform { gain: 1.0 }).init(device);
    if bias {
        linear.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
    }
    linear
}

/// A VideoMAE block initialised as `_init_weights` (draws: qkv, proj, fc1, fc2, in that order).
fn block<B: Backend>(dim: usize, heads: usize, hidden: usize, eps: f64, device: &B::Device) -> Block<B> {
    PreNormBlock {
        norm1: LayerNormConfig::new(dim).with_epsilon(eps).init(device),
        attn: QvBiasAttention {
            qkv: xavier_linear(dim, 3 * dim, false, device),
            q_bias: Param::from_tensor(Tensor::zeros([dim], device)),
            v_bias: Param::from_tensor(Tensor::zeros([dim], device)),
            proj: xavier_linear(dim, dim, true, device),
            num_heads: heads,
        },
        norm2: LayerNormConfig::new(dim).with_epsilon(eps).init(device),
        mlp: Mlp { fc1: xavier_linear(dim, hidden, true, device), fc2: xavier_linear(hidden, dim, true, device) },
    }
}

/// Conv3d tubelet embedding (`patch_embed.proj`), computed as an unfold + matmul (stride = kernel).
#[derive(Module, Debug)]
pub struct PatchEmbed<B: Backend> {
    pub proj: Conv3d<B>,
}

impl<B: Backend> PatchEmbed<B> {
    /// `(B, C, T, H, W)` → `(B, N, D)`, tokens in `(t, h, w)` row-major order.
    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 3> {
        let [d, c, kt, kh, kw] = self.proj.weight.dims();
        let patches = patchify(x, kt, kh, false);
        let [b, n, k] = patches.dims();
        debug_assert_eq!(k, c * kt * kh * kw);
        let weight = self.proj.weight.val().reshape([d, k]).transpose();
        let mut y = patches.reshape([b * n, k]).matmul(weight);
        if let Some(bias) = &self.proj.bias {
            y = y + bias.val().reshape([1, d]);
        }
        y.reshape([b, n, d])
    }
}

/// The VideoMAE ViT encoder (parameter paths as VideoMAE's encoder with `encoder.` stripped).
#[derive(Module, Debug)]
pub struct VideoMaeEncoder<B: Backend> {
    pub patch_embed: PatchEmbed<B>,
    pub blocks: Vec<Block<B>>,
    pub norm: LayerNorm<B>,
    in_chans: usize,
    num_frames: usize,
    img_size: usize,
}

impl<B: Backend> VideoMaeEncoder<B> {
    /// Check a clip against the configured `(C, T, H, W)`.
    pub fn check_clip(&self, dims: [usize; 5]) -> Result<(), NnError> {
        let [_, c, t, h, w] = dims;
        if c != self.in_chans || t != self.num_frames || h != self.img_size || w != self.img_size {
            return Err(NnError::ClipShape { got: dims.to_vec(), channels: self.in_chans, frames: self.num_frames, size: self.img_size });
        }
        Ok(())
    }

    /// Tubelet tokens plus the fixed positions: `(B, C, T, H, W)` → `(B, N, D)`, before any block.
    pub fn embed(&self, clip: Tensor<B, 5>) -> Tensor<B, 3> {
        let x = self.patch_embed.forward(clip);
        let [_, n, d] = x.dims();
        x.clone() + sinusoid_table::<B>(n, d, &x.device())
    }

    /// Blocks and final norm over a token set `(B, K, D)` → `(B, K, D)`.
    pub fn forward_tokens(&self, mut x: Tensor<B, 3>) -> Tensor<B, 3> {
        for block in &self.blocks {
            x = block.forward_rows(x);
        }
        self.norm.forward(x)
    }

    /// Encode only the visible tokens: `(B, C, T, H, W)` → `(B, N_vis, D)`.
    pub fn forward_visible(&self, clip: Tensor<B, 5>, mask: &TokenMask) -> Result<Tensor<B, 3>, NnError> {
        self.check_clip(clip.dims())?;
        check_mask(mask, clip.dims()[0], self.num_tokens())?;
        Ok(self.forward_tokens(gather_tokens(self.embed(clip), mask.visible())))
    }

    /// Encode all tokens (no masking): `(B, C, T, H, W)` → `(B, N, D)`.
    pub fn forward(&self, clip: Tensor<B, 5>) -> Result<Tensor<B, 3>, NnError> {
        self.check_clip(clip.dims())?;
        Ok(self.forward_tokens(self.embed(clip)))
    }

    /// Tokens per clip `N`.
    pub fn num_tokens(&self) -> usize {
        let [_, _, kt, p, _] = self.patch_embed.proj.weight.dims();
        (self.num_frames / kt) * (self.img_size / p).pow(2)
    }

    /// Load an encoder from a safetensors file in PyTorch layout: either an encoder state dict or
    /// VideoMAE's full pretraining state dict (`encoder.` prefix stripped, other keys ignored, as the
    /// paper's loader). Every encoder parameter must be present with the right shape.
    pub fn load_pytorch_safetensors(&mut self, path: &Path) -> Result<ApplyResult, NnError> {
        let store = SafetensorsStore::from_file(path).with_key_remapping(r"^encoder\.", "");
        load_checked(self, store, path)
    }

    /// Save the encoder as safetensors with PyTorch layout and VideoMAE's encoder names (no prefix).
    pub fn save_pytorch_safetensors(&self, path: &Path) -> Result<(), NnError> {
        save_pytorch(self, path)
    }
}

fn load_checked<B: Backend, M: ModuleSnapshot<B>>(module: &mut M, store: SafetensorsStore, path: &Path) -> Result<ApplyResult, NnError> {
    let mut store = store.with_from_adapter(PyTorchToBurnAdapter).allow_partial(true);
    let err = |message: String| NnError::Checkpoint { path: path.display().to_string(), message };
    let result = module.load_from(&mut store).map_err(|e| err(e.to_string()))?;
    if !result.errors.is_empty() {
        return Err(err(format!("{:?}", result.errors)));
    }
    if !result.missing.is_empty() {
        let names: Vec<&str> = result.missing.iter().map(|(name, _)| name.as_str()).collect();
        return Err(err(format!("missing parameters {names:?}")));
    }
    Ok(result)
}

impl<B: Backend> ClipEncoder<B> for VideoMaeEncoder<B> {
    fn token_dim(&self) -> usize {
        self.norm.gamma.dims()[0]
    }

    /// All tokens after the final norm, `(B, N, D)`.
    fn encode_tokens(&self, clips: Tensor<B, 5>) -> Result<Tensor<B, 3>, ClipShapeError> {
        let dims = clips.dims();
        self.forward(clips).map_err(|e| ClipShapeError::new(dims, e))
    }
}

/// The VideoMAE decoder (paths `decoder.*`).
#[derive(Module, Debug)]
pub struct VideoMaeDecoder<B: Backend> {
    pub blocks: Vec<Block<B>>,
    pub norm: LayerNorm<B>,
    pub head: Linear<B>,
}

/// What [`VideoMae::forward`] produces.
pub struct Reconstruction<B: Backend> {
    /// Predicted normalised pixels of the masked tokens, `(B, N_mask, C·tubelet·p²)`.
    pub pred: Tensor<B, 3>,
    /// The encoder's output on the visible tokens (after the final norm), `(B, N_vis, D)`.
    pub latent: Tensor<B, 3>,
}

/// The VideoMAE pretraining model.
#[derive(Module, Debug)]
pub struct VideoMae<B: Backend> {
    pub encoder: VideoMaeEncoder<B>,
    pub decoder: VideoMaeDecoder<B>,
    pub encoder_to_decoder: Linear<B>,
    /// `(1, 1, D_dec)`.
    pub mask_token: Param<Tensor<B, 3>>,
    patch_size: usize,
    tubelet_size: usize,
}

impl<B: Backend> VideoMae<B> {
    /// Predict the masked tokens: `(B, C, T, H, W)` → prediction `(B, N_mask, C·tubelet·p²)` (masked
    /// tokens in ascending index order) and the encoder's visible tokens `(B, N_vis, D)`.
    pub fn forward(&self, clip: Tensor<B, 5>, mask: &TokenMask) -> Result<Reconstruction<B>, NnError> {
        let latent = self.encoder.forward_visible(clip, mask)?;
        let x_vis = linear_rows(&self.encoder_to_decoder, latent.clone());
        let [b, n_vis, d] = x_vis.dims();
        let n_mask = mask.masked()[0].len();
        let device = x_vis.device();
        let pos = sinusoid_table::<B>(mask.n_tokens(), d, &device).repeat_dim(0, b);
        let pos_vis = gather_tokens(pos.clone(), mask.visible());
        let pos_mask = gather_tokens(pos, mask.masked());
        let tokens = self.mask_token.val().repeat_dim(0, b).repeat_dim(1, n_mask) + pos_mask;
        let mut x = Tensor::cat(vec![x_vis + pos_vis, tokens], 1);
        for block in &self.decoder.blocks {
            x = block.forward_rows(x);
        }
        let x = x.narrow(1, n_vis, n_mask);
        let pred = linear_rows(&self.decoder.head, self.decoder.norm.forward(x));
        Ok(Reconstruction { pred, latent })
    }

    /// Per-patch normalised targets of the masked tokens: `(B, N_mask, tubelet·p²·C)`.
    pub fn targets(&self, clip: Tensor<B, 5>, mask: &TokenMask) -> Tensor<B, 3> {
        let c = clip.dims()[1];
        let patches = patchify(clip.detach(), self.tubelet_size, self.patch_size, true);
        let [b, n, k] = patches.dims();
        let pixels = k / c;
        let patches: Tensor<B, 4> = patches.reshape([b, n, pixels, c]);
        let (var, mean) = patches.clone().var_mean(2);
        let normed = (patches - mean) / (var.sqrt() + 1e-6);
        gather_tokens(normed.reshape([b, n, k]), mask.masked())
    }

    /// The reconstruction loss (scalar `[1]`: mean over masked tokens and values) and what produced it.
    pub fn loss(&self, clip: Tensor<B, 5>, mask: &TokenMask) -> Result<(Tensor<B, 1>, Reconstruction<B>), NnError> {
        let reconstruction = self.forward(clip.clone(), mask)?;
        let target = self.targets(clip, mask);
        let loss = (reconstruction.pred.clone() - target).powi_scalar(2).mean();
        Ok((loss, reconstruction))
    }

    /// Load VideoMAE's full pretraining state dict (safetensors, PyTorch layout). All parameters must be
    /// present with the right shapes.
    pub fn load_pytorch_safetensors(&mut self, path: &Path) -> Result<ApplyResult, NnError> {
        load_checked(self, SafetensorsStore::from_file(path), path)
    }

    /// Save the whole model as VideoMAE's pretraining state dict (safetensors, PyTorch layout and names).
    pub fn save_pytorch_safetensors(&self, path: &Path) -> Result<(), NnError> {
        save_pytorch(self, path)
    }
}

/// Write a module's parameters as safetensors in PyTorch layout and names, atomically (a temporary
/// file in the same folder, then a rename).
fn save_pytorch<B: Backend, M: ModuleSnapshot<B>>(module: &M, path: &Path) -> Result<(), NnError> {
    let err = |message: String| NnError::Checkpoint { path: path.display().to_string(), message };
    let tmp = physrep_core::fs::temp_path(path);
    let mut store = SafetensorsStore::from_file(&tmp).with_to_adapter(BurnToPyTorchAdapter);
    module.save_into(&mut store).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| err(format!("rename from {}: {e}", tmp.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cpu;
    use burn::module::Module;
    use rand::SeedableRng;

    fn encoder_params(config: &VideoMaeConfig) -> usize {
        config.init_encoder::<Cpu>(&Default::default()).unwrap().num_params()
    }

    fn tiny_config() -> VideoMaeConfig {
        VideoMaeConfig {
            in_chans: 2,
            num_frames: 4,
            img_size: 12,
            patch_size: 4,
            tubelet_size: 2,
            embed_dim: 16,
            depth: 2,
            num_heads: 2,
            mlp_ratio: 4.0,
            decoder_embed_dim: 8,
            decoder_depth: 1,
            decoder_num_heads: 2,
            mask_ratio: 0.5,
            norm_eps: 1e-6,
        }
    }

    #[test]
    fn parameter_counts_match_baselines_spec() {
        assert_eq!(encoder_params(&VideoMaeConfig::vit_small(4)), 22_076_544);
        assert_eq!(encoder_params(&VideoMaeConfig::vit_small(11)), 23_452_800);
        assert_eq!(encoder_params(&VideoMaeConfig::vit_tiny(4)), 5_729_856);
        assert_eq!(encoder_params(&VideoMaeConfig::vit_tiny(11)), 6_417_984);
    }

    #[test]
    fn default_is_paper_vit_small() {
        let c = VideoMaeConfig::default();
        assert_eq!((c.embed_dim, c.depth, c.num_heads, c.decoder_embed_dim, c.decoder_depth), (384, 12, 6, 192, 4));
        assert_eq!(c.num_tokens(), 1568);
        assert_eq!(c.patch_values(), 11 * 2 * 256);
        assert_eq!(c.spatial_tokens() - c.masked_per_slice(), 20);
        let reduced = VideoMaeConfig { img_size: 64, ..c };
        assert_eq!(reduced.spatial_tokens() - reduced.masked_per_slice(), 2);
    }

    #[test]
    fn config_validation_names_the_problem() {
        let bad = VideoMaeConfig { img_size: 100, ..VideoMaeConfig::default() };
        let msg = bad.validate().unwrap_err().to_string();
        assert!(msg.contains("img_size 100"), "{msg}");
        let bad = VideoMaeConfig { mask_ratio: 0.01, img_size: 32, ..VideoMaeConfig::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("masks no token"));
    }

    #[test]
    fn encoder_sees_exactly_the_visible_tokens() {
        let config = tiny_config();
        let device = Default::default();
        let model = config.init::<Cpu>(&device).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mask = TubeMaskGenerator::new(&config).sample(2, &mut rng).unwrap();
        let clip = crate::seeded::uniform::<Cpu, 5>([2, 2, 4, 12, 12], 0.0, 1.0, 31, &device);
        let vis = model.encoder.forward_visible(clip.clone(), &mask).unwrap();
        // 9 spatial tokens, int(0.5·9) = 4 masked, 5 visible, 2 slices.
        assert_eq!(vis.dims(), [2, 10, 16]);
        let pred = model.forward(clip, &mask).unwrap().pred;
        assert_eq!(pred.dims(), [2, 8, config.patch_values()]);
    }

    #[test]
    fn patch_embedding_equals_conv3d() {
        let config = tiny_config();
        let device = Default::default();
        let encoder = config.init_encoder::<Cpu>(&device).unwrap();
        let clip = crate::seeded::uniform::<Cpu, 5>([2, 2, 4, 12, 12], 0.0, 1.0, 32, &device);
        let ours = encoder.patch_embed.forward(clip.clone());
        let conv = encoder.patch_embed.proj.forward(clip).flatten::<3>(2, 4).swap_dims(1, 2);
        ours.into_data().assert_approx_eq::<f32>(&conv.into_data(), burn::tensor::Tolerance::absolute(1e-5));
    }

    #[test]
    fn wrong_clip_shape_is_a_typed_error() {
        let config = tiny_config();
        let encoder = config.init_encoder::<Cpu>(&Default::default()).unwrap();
        let clip = Tensor::<Cpu, 5>::zeros([1, 3, 4, 12, 12], &Default::default());
        let msg = encoder.forward(clip).unwrap_err().to_string();
        assert!(msg.contains("(B, 2, 4, 12, 12)"), "{msg}");
    }
}
