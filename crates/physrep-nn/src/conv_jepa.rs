//! The paper's convolutional JEPA: a 3-D ConvNeXt encoder and a small 2-D conv predictor.
//!
//! Paper: Qu et al., *Representation Learning for Spatiotemporal Physical Systems*,
//! arXiv 2603.13227 (code: `helenqu/physical-representation-learning`,
//! `physics_jepa/utils/model_utils.py:ConvEncoder`, `ConvPredictor`). Protocol notes:
//! `docs/paper-protocol.md` §4–5.
//!
//! **Encoder** `(B, C, 16, H, W)` → `(B, 128, H/16, W/16)`, H and W multiples of 16:
//! stem Conv3d(C→16, k=(1,4,4), 'same' = H/W padded 1 before and 2 after) → channels-first
//! LayerNorm; then for stages 1–4: channels-first LayerNorm → Conv3d(k=2, s=2). Each stage ends
//! with residual ConvNeXt blocks (depthwise 7³ conv → LayerNorm → Linear(d→4d) → GELU →
//! Linear(4d→d) → layer scale γ → + residual). After the last downsample T = 1 and the last stage
//! is 2-D (depthwise 7×7). Dims [16, 32, 64, 128, 128], blocks [3, 3, 3, 9, 3].
//! Parameters: 2,468,720 (C = 11) / 2,466,928 (C = 4).
//!
//! **Predictor** `(B, 128, h, w)` → `(B, 128, h, w)`: Conv2d(128→256, k=2, pad 1) → 2-D block(256)
//! → Conv2d(256→128, k=2). Parameters: 801,664.
//!
//! Parameter paths mirror the reference PyTorch state dict through [`torch_name`]
//! (`encoder.downsample_layers.0.0.weight`, `encoder.res_blocks.3.8.pwconv1.weight`,
//! `predictor.conv.1.gamma`, …); [`load_safetensors`] / [`save_safetensors`] read and write
//! that layout (Linear weights transposed, 2-D depthwise kernels stored `(C, 1, 7, 7)`).
//!
//! Example: `physrep summary --method jepa --channels 11 --res 224`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::module::{Initializer, Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig, Conv3d, Conv3dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn_store::{ModuleSnapshot, TensorSnapshot};
use serde::{Deserialize, Serialize};

use crate::kernels::{channel_norm, convnext_block, BlockParams, KernelBackend};
use crate::{ClipEncoder, ClipShapeError, NnError};

/// The model name in [`NnError::Config`] messages ("invalid conv JEPA config: …").
const JEPA: &str = "conv JEPA";

// ---------------------------------------------------------------------------------------------
// Configs
// ---------------------------------------------------------------------------------------------

/// Encoder hyperparameters; `Default` is the paper's (11 input channels, 16 frames).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvEncoderConfig {
    /// Input channels C (11 active_matter, 4 shear_flow / rayleigh_benard).
    pub in_channels: usize,
    /// Channel width of each stage.
    pub dims: Vec<usize>,
    /// Residual blocks per stage.
    pub depths: Vec<usize>,
    /// Frames per clip; must reach T = 1 after `dims.len() − 1` stride-2 downsamples.
    pub num_frames: usize,
    /// Depthwise kernel size (odd).
    pub kernel_size: usize,
    /// Initial layer-scale γ.
    pub layer_scale_init: f64,
    /// LayerNorm ε (channels-first and in-block).
    pub norm_eps: f64,
    /// Activation checkpointing: each residual block keeps only its input for the backward pass
    /// and recomputes the rest (about +25 % step time, a fraction of the activation memory). Not
    /// in the paper (its code needs ~100 GB at batch 8, 224²); off by default. Results are the same.
    pub checkpoint_blocks: bool,
}

impl Default for ConvEncoderConfig {
    fn default() -> Self {
        Self {
            in_channels: 11,
            dims: vec![16, 32, 64, 128, 128],
            depths: vec![3, 3, 3, 9, 3],
            num_frames: 16,
            kernel_size: 7,
            layer_scale_init: 1e-6,
            norm_eps: 1e-6,
            checkpoint_blocks: false,
        }
    }
}

/// Predictor hyperparameters; `Default` is the paper's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvPredictorConfig {
    /// Embedding width (the encoder's last dim).
    pub dim: usize,
    /// Width of the hidden 2-D block.
    pub hidden: usize,
    pub kernel_size: usize,
    pub layer_scale_init: f64,
    pub norm_eps: f64,
}

impl Default for ConvPredictorConfig {
    fn default() -> Self {
        Self { dim: 128, hidden: 256, kernel_size: 7, layer_scale_init: 1e-6, norm_eps: 1e-6 }
    }
}

impl ConvEncoderConfig {
    /// The paper's encoder for `in_channels` input channels.
    pub fn paper(in_channels: usize) -> Self {
        Self { in_channels, ..Self::default() }
    }

    /// Check the config; returns the number of frames left before the 2-D stage (always 1).
    pub fn validate(&self) -> Result<(), NnError> {
        let err = |m: String| Err(NnError::config(JEPA, m));
        if self.in_channels == 0 {
            return err("in_channels must be ≥ 1".into());
        }
        if self.dims.len() < 2 || self.dims.len() != self.depths.len() {
            return err(format!("dims ({}) and depths ({}) must have the same length ≥ 2", self.dims.len(), self.depths.len()));
        }
        if self.dims.contains(&0) {
            return err(format!("dims must be positive, got {:?}", self.dims));
        }
        if self.kernel_size.is_multiple_of(2) {
            return err(format!("kernel_size must be odd, got {}", self.kernel_size));
        }
        let mut t = self.num_frames;
        for _ in 1..self.dims.len() {
            t /= 2;
        }
        if t != 1 {
            return err(format!(
                "num_frames = {} leaves T = {t} after {} stride-2 downsamples; the last stage needs T = 1",
                self.num_frames,
                self.dims.len() - 1
            ));
        }
        Ok(())
    }

    /// Spatial reduction factor of the encoder (16 for the paper's 5 stages).
    pub fn patch(&self) -> usize {
        1 << (self.dims.len() - 1)
    }

    /// Output token width.
    pub fn out_dim(&self) -> usize {
        *self.dims.last().expect("validated config has dims")
    }

    /// Build a freshly initialised encoder (PyTorch's default init; γ = `layer_scale_init`).
    pub fn init<B: KernelBackend>(&self, device: &B::Device) -> Result<ConvEncoder<B>, NnError> {
        self.validate()?;
        let d = &self.dims;
        let stem_conv = Conv3dConfig::new([self.in_channels, d[0]], [1, 4, 4]).init(device);
        let stem_norm = ChannelNorm::new(d[0], self.norm_eps, device);
        let downsample = (1..d.len())
            .map(|i| Downsample {
                norm: ChannelNorm::new(d[i - 1], self.norm_eps, device),
                conv: Conv3dConfig::new([d[i - 1], d[i]], [2, 2, 2]).with_stride([2, 2, 2]).init(device),
            })
            .collect();
        let last = d.len() - 1;
        let stages = (0..d.len())
            .map(|s| {
                let kd = if s == last { 1 } else { self.kernel_size };
                (0..self.depths[s])
                    .map(|_| Block::new(d[s], [kd, self.kernel_size, self.kernel_size], self.layer_scale_init, self.norm_eps, device))
                    .collect()
            })
            .collect();
        Ok(ConvEncoder {
            stem_conv,
            stem_norm,
            downsample,
            stages,
            patch: self.patch(),
            num_frames: self.num_frames,
            checkpoint_blocks: self.checkpoint_blocks,
        })
    }
}

impl ConvPredictorConfig {
    pub fn validate(&self) -> Result<(), NnError> {
        if self.dim == 0 || self.hidden == 0 || self.kernel_size.is_multiple_of(2) {
            return Err(NnError::config(JEPA, format!("predictor needs dim, hidden ≥ 1 and an odd kernel_size, got {self:?}")));
        }
        Ok(())
    }

    pub fn init<B: KernelBackend>(&self, device: &B::Device) -> Result<ConvPredictor<B>, NnError> {
        self.validate()?;
        Ok(ConvPredictor {
            expand: Conv2dConfig::new([self.dim, self.hidden], [2, 2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device),
            block: Block::new(self.hidden, [1, self.kernel_size, self.kernel_size], self.layer_scale_init, self.norm_eps, device),
            project: Conv2dConfig::new([self.hidden, self.dim], [2, 2]).init(device),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------------------------

/// LayerNorm over dim 1 of `(B, C, *spatial)`: biased variance, affine per channel.
#[derive(Module, Debug)]
pub struct ChannelNorm<B: Backend> {
    pub weight: Param<Tensor<B, 1>>,
    pub bias: Param<Tensor<B, 1>>,
    eps: f64,
}

impl<B: Backend> ChannelNorm<B> {
    fn new(channels: usize, eps: f64, device: &B::Device) -> Self {
        Self { weight: Initializer::Ones.init([channels], device), bias: Initializer::Zeros.init([channels], device), eps }
    }
}

impl<B: KernelBackend> ChannelNorm<B> {
    /// `(B, C, D, H, W)` → same shape.
    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        channel_norm(x, self.weight.val(), self.bias.val(), self.eps)
    }
}

/// ConvNeXt block on `(B, C, D, H, W)`; a 2-D block is `D = 1` with a `(1, k, k)` kernel.
#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    /// Depthwise kernel `(C, 1, kd, kh, kw)`.
    pub dw_weight: Param<Tensor<B, 5>>,
    pub dw_bias: Param<Tensor<B, 1>>,
    pub norm: ChannelNorm<B>,
    pub pwconv1: Linear<B>,
    pub pwconv2: Linear<B>,
    pub gamma: Param<Tensor<B, 1>>,
}

impl<B: Backend> Block<B> {
    fn new(dim: usize, k: [usize; 3], layer_scale: f64, eps: f64, device: &B::Device) -> Self {
        let fan_in = k[0] * k[1] * k[2];
        let init = Initializer::KaimingUniform { gain: 1.0 / 3f64.sqrt(), fan_out_only: false };
        Self {
            dw_weight: init.init_with([dim, 1, k[0], k[1], k[2]], Some(fan_in), Some(fan_in), device),
            dw_bias: init.init_with([dim], Some(fan_in), Some(fan_in), device),
            norm: ChannelNorm::new(dim, eps, device),
            pwconv1: LinearConfig::new(dim, 4 * dim).init(device),
            pwconv2: LinearConfig::new(4 * dim, dim).init(device),
            gamma: Initializer::Constant { value: layer_scale }.init([dim], device),
        }
    }
}

impl<B: KernelBackend> Block<B> {
    /// `(B, C, D, H, W)` → same shape. With `checkpoint`, autodiff keeps only the block's input for
    /// the backward pass and recomputes the rest (same values).
    pub fn forward(&self, x: Tensor<B, 5>, checkpoint: bool) -> Tensor<B, 5> {
        let prim = |t: Tensor<B, 1>| t.into_primitive().tensor();
        let prim2 = |t: Tensor<B, 2>| t.into_primitive().tensor();
        let bias = |l: &Linear<B>| l.bias.as_ref().expect("pwconv layers have a bias").val();
        let params = BlockParams {
            dw_weight: self.dw_weight.val().into_primitive().tensor(),
            dw_bias: prim(self.dw_bias.val()),
            norm_weight: prim(self.norm.weight.val()),
            norm_bias: prim(self.norm.bias.val()),
            w1: prim2(self.pwconv1.weight.val()),
            b1: prim(bias(&self.pwconv1)),
            w2: prim2(self.pwconv2.weight.val()),
            b2: prim(bias(&self.pwconv2)),
            gamma: prim(self.gamma.val()),
        };
        convnext_block(x, params, self.norm.eps, checkpoint)
    }
}

/// Channels-first LayerNorm then a stride-2 Conv3d(k = 2).
#[derive(Module, Debug)]
pub struct Downsample<B: Backend> {
    pub norm: ChannelNorm<B>,
    pub conv: Conv3d<B>,
}

// ---------------------------------------------------------------------------------------------
// Encoder and predictor
// ---------------------------------------------------------------------------------------------

/// The conv JEPA encoder; see the module docs.
#[derive(Module, Debug)]
pub struct ConvEncoder<B: Backend> {
    pub stem_conv: Conv3d<B>,
    pub stem_norm: ChannelNorm<B>,
    /// Downsample layers before stages 1, 2, ….
    pub downsample: Vec<Downsample<B>>,
    /// Residual blocks of each stage (the last stage is 2-D).
    pub stages: Vec<Vec<Block<B>>>,
    patch: usize,
    num_frames: usize,
    checkpoint_blocks: bool,
}

impl<B: KernelBackend> ConvEncoder<B> {
    /// Check a clip shape `(B, C, T, H, W)` against the encoder.
    pub fn check_input(&self, dims: [usize; 5]) -> Result<(), NnError> {
        let c = self.stem_conv.weight.dims()[1];
        let [b, ci, t, h, w] = dims;
        if b == 0 || ci != c || t != self.num_frames || h == 0 || w == 0 || h % self.patch != 0 || w % self.patch != 0 {
            return Err(NnError::InputShape {
                got: dims.to_vec(),
                expected: format!("(B ≥ 1, {c}, {}, H, W) with H, W positive multiples of {}", self.num_frames, self.patch),
            });
        }
        Ok(())
    }

    /// `(B, C, T, H, W)` → `(B, D, H/16, W/16)`. Panics with [`Self::check_input`]'s message on a
    /// bad shape.
    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 4> {
        if let Err(e) = self.check_input(x.dims()) {
            panic!("ConvEncoder::forward: {e}");
        }
        // 'same' padding of the (1, 4, 4) stem: H and W get 1 before, 2 after; T none.
        let x = x.pad([(0, 0), (1, 2), (1, 2)], burn::tensor::ops::PadMode::Constant(0.0));
        let mut x = self.stem_norm.forward(self.stem_conv.forward(x));
        for (s, blocks) in self.stages.iter().enumerate() {
            if s > 0 {
                let down = &self.downsample[s - 1];
                x = down.conv.forward(down.norm.forward(x));
            }
            for block in blocks {
                x = block.forward(x, self.checkpoint_blocks);
            }
        }
        let [b, d, t, h, w] = x.dims();
        debug_assert_eq!(t, 1);
        x.reshape([b, d, h, w])
    }

    /// The same encoder with activation checkpointing of its blocks switched on or off.
    pub fn with_checkpointing(mut self, on: bool) -> Self {
        self.checkpoint_blocks = on;
        self
    }

    /// Token width D of the output.
    pub fn out_dim(&self) -> usize {
        self.downsample.last().map_or(self.stem_conv.weight.dims()[0], |d| d.conv.weight.dims()[0])
    }
}

impl<B: KernelBackend> ClipEncoder<B> for ConvEncoder<B> {
    fn token_dim(&self) -> usize {
        self.out_dim()
    }

    /// Tokens `(B, h·w, D)` in row-major `(h, w)` order.
    fn encode_tokens(&self, clips: Tensor<B, 5>) -> Result<Tensor<B, 3>, ClipShapeError> {
        let dims = clips.dims();
        self.check_input(dims).map_err(|e| ClipShapeError::new(dims, e))?;
        Ok(self.forward(clips).flatten::<3>(2, 3).swap_dims(1, 2))
    }
}

/// The conv JEPA predictor; see the module docs.
#[derive(Module, Debug)]
pub struct ConvPredictor<B: Backend> {
    pub expand: Conv2d<B>,
    pub block: Block<B>,
    pub project: Conv2d<B>,
}

impl<B: KernelBackend> ConvPredictor<B> {
    /// `(B, D, h, w)` → `(B, D, h, w)`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = self.expand.forward(x); // (B, hidden, h+1, w+1)
        let [b, c, h, w] = x.dims();
        let x = self.block.forward(x.reshape([b, c, 1, h, w]), false).reshape([b, c, h, w]);
        self.project.forward(x)
    }
}

/// Encoder and predictor together (parameter paths `encoder.*`, `predictor.*`).
#[derive(Module, Debug)]
pub struct ConvJepa<B: Backend> {
    pub encoder: ConvEncoder<B>,
    pub predictor: ConvPredictor<B>,
}

impl<B: KernelBackend> ConvJepa<B> {
    pub fn new(enc: &ConvEncoderConfig, pred: &ConvPredictorConfig, device: &B::Device) -> Result<Self, NnError> {
        if enc.out_dim() != pred.dim {
            return Err(NnError::config(
                JEPA,
                format!("predictor dim {} differs from the encoder's output width {}", pred.dim, enc.out_dim()),
            ));
        }
        Ok(Self { encoder: enc.init(device)?, predictor: pred.init(device)? })
    }
}

// ---------------------------------------------------------------------------------------------
// PyTorch names and safetensors
// ---------------------------------------------------------------------------------------------

/// The reference PyTorch state-dict name of a burn parameter path of [`ConvEncoder`] (prefix
/// `encoder.`) or [`ConvPredictor`] (prefix `predictor.`), or `None` for an unknown path.
pub fn torch_name(burn_path: &str) -> Option<String> {
    let parts: Vec<&str> = burn_path.split('.').collect();
    let block = |rest: &[&str]| -> Option<String> {
        Some(match rest {
            ["dw_weight"] => "conv.weight".into(),
            ["dw_bias"] => "conv.bias".into(),
            ["norm", p @ ("weight" | "bias")] => format!("norm.{p}"),
            [l @ ("pwconv1" | "pwconv2"), p @ ("weight" | "bias")] => format!("{l}.{p}"),
            ["gamma"] => "gamma".into(),
            _ => return None,
        })
    };
    let name = match parts.as_slice() {
        ["encoder", "stem_conv", p @ ("weight" | "bias")] => format!("encoder.downsample_layers.0.0.{p}"),
        ["encoder", "stem_norm", p @ ("weight" | "bias")] => format!("encoder.downsample_layers.0.1.{p}"),
        ["encoder", "downsample", i, layer, p @ ("weight" | "bias")] => {
            let i: usize = i.parse().ok()?;
            let slot = match *layer {
                "norm" => 0,
                "conv" => 1,
                _ => return None,
            };
            format!("encoder.downsample_layers.{}.{slot}.{p}", i + 1)
        }
        ["encoder", "stages", s, b, rest @ ..] => format!("encoder.res_blocks.{s}.{b}.{}", block(rest)?),
        ["predictor", "expand", p @ ("weight" | "bias")] => format!("predictor.conv.0.{p}"),
        ["predictor", "block", rest @ ..] => format!("predictor.conv.1.{}", block(rest)?),
        ["predictor", "project", p @ ("weight" | "bias")] => format!("predictor.conv.2.{p}"),
        _ => return None,
    };
    Some(name)
}

/// How a burn tensor is laid out in the PyTorch file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TorchLayout {
    /// Same shape and order.
    Same,
    /// Linear weight: burn `(in, out)`, PyTorch `(out, in)`.
    Transposed,
    /// 2-D depthwise kernel: burn `(C, 1, 1, k, k)`, PyTorch `(C, 1, k, k)`.
    DropDepth,
}

fn torch_layout(burn_path: &str, burn_shape: &[usize]) -> TorchLayout {
    let is_linear = burn_path.ends_with("weight") && (burn_path.contains(".pwconv1.") || burn_path.contains(".pwconv2."));
    if is_linear {
        TorchLayout::Transposed
    } else if burn_path.ends_with("dw_weight") && burn_shape.len() == 5 && burn_shape[2] == 1 {
        TorchLayout::DropDepth
    } else {
        TorchLayout::Same
    }
}

fn torch_shape(layout: TorchLayout, s: &[usize]) -> Vec<usize> {
    match layout {
        TorchLayout::Same => s.to_vec(),
        TorchLayout::Transposed => vec![s[1], s[0]],
        TorchLayout::DropDepth => vec![s[0], s[1], s[3], s[4]],
    }
}

/// Transpose a row-major `(r, c)` matrix.
fn transpose(v: &[f32], r: usize, c: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = v[i * c + j];
        }
    }
    out
}

/// The parameters of `module` under `prefix` (`"encoder"`, `"predictor"`, or `""` for a module
/// whose own paths already start with `encoder.` / `predictor.`), as `(torch name, snapshot)`.
fn torch_snapshots<B: Backend, M: Module<B>>(module: &M, prefix: &str) -> Vec<(String, TensorSnapshot)> {
    module
        .collect(None, None, false)
        .into_iter()
        .map(|snap| {
            let path = if prefix.is_empty() { snap.full_path() } else { format!("{prefix}.{}", snap.full_path()) };
            let name = torch_name(&path).unwrap_or_else(|| panic!("conv JEPA: no PyTorch name for parameter `{path}`"));
            (name, snap)
        })
        .collect()
}

/// Write the parameters of `module` (an encoder with `prefix = "encoder"`, a predictor with
/// `"predictor"`, or a [`ConvJepa`] with `""`) to `path` under the reference PyTorch names.
pub fn save_safetensors<B: Backend, M: Module<B>>(module: &M, prefix: &str, path: &Path) -> Result<(), NnError> {
    let mut tensors: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (name, snap) in torch_snapshots(module, prefix) {
        let shape = snap.shape.to_vec();
        let data = snap.to_data().map_err(|e| NnError::Apply { path: path.display().to_string(), message: format!("{e:?}") })?;
        let values: Vec<f32> =
            data.convert::<f32>().to_vec().map_err(|e| NnError::Apply { path: path.display().to_string(), message: format!("{e:?}") })?;
        let layout = torch_layout(&snap.full_path(), &shape);
        let values = if layout == TorchLayout::Transposed { transpose(&values, shape[0], shape[1]) } else { values };
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        tensors.insert(name, (torch_shape(layout, &shape), bytes));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(name, (shape, bytes))| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes).expect("shape and byte length agree");
            (name.clone(), view)
        })
        .collect();
    let format_err = |message: String| NnError::Format { path: path.display().to_string(), message };
    let bytes = safetensors::serialize(views, &None).map_err(|e| format_err(e.to_string()))?;
    physrep_core::write_atomic(path, &bytes).map_err(|e| format_err(e.to_string()))
}

/// Load the parameters of `module` (see [`save_safetensors`] for `prefix`) from a safetensors file
/// with the reference PyTorch names. Every parameter must be present with the right shape, and the
/// file must hold no other tensor under the module's top-level prefixes (`encoder.`/`predictor.`);
/// tensors under other prefixes (`input.*`, `expected.*`, …) are ignored.
pub fn load_safetensors<B: Backend, M: Module<B>>(module: M, prefix: &str, path: &Path) -> Result<M, NnError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| NnError::Io { path: p.clone(), source })?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| NnError::Format { path: p.clone(), message: e.to_string() })?;
    let mut module = module;
    let mut snapshots = Vec::new();
    let mut used: HashMap<String, ()> = HashMap::new();
    let mut roots: Vec<String> = Vec::new();
    for (name, snap) in torch_snapshots(&module, prefix) {
        let root = name.split('.').next().unwrap_or_default().to_string();
        if !roots.contains(&root) {
            roots.push(root);
        }
        let shape = snap.shape.to_vec();
        let layout = torch_layout(&snap.full_path(), &shape);
        let expected = torch_shape(layout, &shape);
        let view = st.tensor(&name).map_err(|_| NnError::MissingTensor { path: p.clone(), name: name.clone() })?;
        if view.dtype() != safetensors::Dtype::F32 || view.shape() != expected.as_slice() {
            return Err(NnError::TensorShape {
                path: p.clone(),
                name,
                got: view.shape().to_vec(),
                dtype: format!("{:?}", view.dtype()),
                expected,
            });
        }
        let values: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let values = if layout == TorchLayout::Transposed { transpose(&values, shape[1], shape[0]) } else { values };
        let data = TensorData::new(values, shape.clone());
        snapshots.push(TensorSnapshot::from_data(
            data,
            snap.path_stack.clone().unwrap_or_default(),
            snap.container_stack.clone().unwrap_or_default(),
            snap.tensor_id.unwrap_or_default(),
        ));
        used.insert(name, ());
    }
    let unused: Vec<String> = st
        .names()
        .into_iter()
        .filter(|n| roots.iter().any(|r| n.starts_with(&format!("{r}."))) && !used.contains_key(*n))
        .cloned()
        .collect();
    if !unused.is_empty() {
        let mut unused = unused;
        unused.sort();
        return Err(NnError::UnusedTensors { path: p, prefix: roots.join(", "), names: unused });
    }
    let result = module.apply(snapshots, None, None, false);
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(NnError::Apply { path: p, message: format!("errors {:?}, missing {:?}", result.errors, result.missing) });
    }
    Ok(module)
}
