//! physrep-nn: burn modules for physrep (conv JEPA, VideoMAE, AViT, DISCO, probes) and fast CPU kernels.
//!
//! Every model lives in its own file with a doc header (paper link, tensor shapes, parameter count).
//! Parameter paths mirror the reference PyTorch state dicts so safetensors weights load unchanged.
//! The transformer parts they share (MLP, attention, pre-norm ViT block, token helpers) live in
//! [`layers`]; every fallible call returns the one error type [`NnError`].

use burn::prelude::*;

pub mod attentive_probe;
pub mod avit;
pub mod conv_jepa;
pub mod disco;
pub mod error;
pub mod kernels;
pub mod layers;
pub mod seeded;
pub mod videomae;

pub use conv_jepa::{ConvEncoder, ConvEncoderConfig, ConvJepa, ConvPredictor, ConvPredictorConfig};
pub use error::NnError;
pub use kernels::{dwconv3d, KernelBackend};

/// The default CPU backend (burn's `flex`).
pub type Cpu = burn::backend::Flex;
/// The default CPU backend with autodiff, for training.
pub type CpuAutodiff = burn::backend::Autodiff<Cpu>;

/// Anything that maps a context clip to a set of tokens: the interface every probe consumes.
///
/// Input: `(B, C, T, H, W)` (channels first, as the paper's code). Output: `(B, N, D)` tokens.
/// JEPA: N = (H/16)·(W/16), D = 128. VideoMAE: N = (T/2)·(H/p)·(W/p). DISCO: N = 1.
pub trait ClipEncoder<B: Backend> {
    /// Token width D.
    fn token_dim(&self) -> usize;
    /// Encode a batch of clips `(B, C, T, H, W)` into tokens `(B, N, D)`; a clip of a shape the
    /// encoder cannot take (other channels, frames or resolution) is an error saying what it expects.
    fn encode_tokens(&self, clips: Tensor<B, 5>) -> Result<Tensor<B, 3>, ClipShapeError>;
}

/// A clip an encoder cannot take: its shape and the encoder's own account of what it expects.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the encoder cannot take a clip of shape {got:?} (B, C, T, H, W): {reason}")]
pub struct ClipShapeError {
    pub got: Vec<usize>,
    pub reason: String,
}

impl ClipShapeError {
    /// The error for a clip of shape `got`, explained by a model's own shape error.
    pub fn new(got: [usize; 5], reason: impl std::fmt::Display) -> Self {
        Self { got: got.to_vec(), reason: reason.to_string() }
    }
}
