//! The contract between a pretraining method and the optimisation engine ([`crate::engine`]).

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::error::TrainError;

/// One micro-batch on the device: windows of `context` and `target` frames plus z-scored labels.
///
/// Shapes: `context (B, C, Tc, H, W)`, `target (B, C, Tt, H, W)`, `labels (B, P)`.
#[derive(Clone, Debug)]
pub struct TensorBatch<B: Backend> {
    pub context: Tensor<B, 5>,
    pub target: Tensor<B, 5>,
    pub labels: Tensor<B, 2>,
}

/// What one micro-batch's forward pass produces.
#[derive(Debug)]
pub struct StepOutput<B: Backend> {
    /// The scalar loss to back-propagate (shape `[1]`).
    pub loss: Tensor<B, 1>,
    /// Named scalar terms to log (e.g. `repr_loss`, `std_loss`, `cov_loss`); the loop adds `loss`.
    pub metrics: Vec<(String, f64)>,
    /// Rows of embeddings `(N, D)` for collapse monitoring (per-dimension std, effective rank), if any.
    pub embeddings: Option<Tensor<B, 2>>,
}

/// A self-supervised pretraining method: its model and the loss of one micro-batch.
pub trait Method<B: AutodiffBackend> {
    /// The trainable module (e.g. encoder + predictor).
    type Model: AutodiffModule<B> + Clone;

    /// Short name used in run directories and reports (`jepa`, `videomae`, `mpp`, `disco`).
    fn name(&self) -> &'static str;

    /// Build a freshly initialised model on `device` (burn's default init is seeded by `B::seed`).
    fn init(&self, device: &B::Device) -> Self::Model;

    /// Forward pass and loss of one micro-batch. Randomness inside the objective (VICReg's row
    /// permutation, VideoMAE's tube masks, BCS projections) must derive from `ctx` alone, so a
    /// resumed run repeats the uninterrupted one exactly. A batch the model cannot take (another
    /// channel count, frame count or resolution) is an error naming the shapes, never a panic.
    fn forward(&self, model: &Self::Model, batch: &TensorBatch<B>, ctx: &StepContext) -> Result<StepOutput<B>, TrainError>;
}

/// The error of a clip `dims` that a model refuses, with the model's own account of what it expects.
pub fn clip_error(what: &str, dims: [usize; 5], model_error: impl std::fmt::Display) -> TrainError {
    TrainError::Shape { what: what.into(), got: dims.to_vec(), expected: model_error.to_string() }
}

/// Where the loop is when it calls [`Method::forward`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepContext {
    /// The run's seed.
    pub seed: u64,
    /// Optimiser update index (0-based).
    pub update: u64,
    /// Global micro-batch index (0-based, counts across epochs).
    pub micro: u64,
}

impl StepContext {
    /// A seed unique to this micro-batch, for the objective's own RNG.
    pub fn micro_seed(&self) -> u64 {
        // SplitMix64's finaliser of (seed, micro): decorrelates neighbouring indices.
        physrep_core::seed::mix64(self.seed ^ self.micro.wrapping_mul(physrep_core::seed::GAMMA))
    }
}
