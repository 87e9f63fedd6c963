//! What the loop consumes: micro-batches on the host, per split, in a seeded per-epoch order.
//!
//! [`DataSource`] abstracts the data so the loop can be tested on synthetic data and run on any
//! Well-layout dataset ([`crate::well_source::WellSource`]). A source is built with its
//! micro-batch size and seed; the loop asks for one epoch at a time and may skip the first
//! micro-batches of an epoch (resume).

use burn::prelude::*;
use ndarray::{Array2, Array5};

use crate::engine::shuffled;
use crate::error::TrainError;
use crate::method::TensorBatch;

/// The two splits pretraining reads (`test` is never touched while training).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Shuffled with `seed + epoch`, incomplete last batch dropped.
    Train,
    /// Fixed order, every window, same noise draw every epoch.
    Valid,
}

/// One micro-batch on the host: `context (B,C,Tc,H,W)`, `target (B,C,Tt,H,W)`, `labels (B,P)`.
#[derive(Clone, Debug)]
pub struct HostBatch {
    pub context: Array5<f32>,
    pub target: Array5<f32>,
    pub labels: Array2<f32>,
}

impl HostBatch {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.context.shape()[0]
    }

    /// True if the batch holds no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copy to `device` as burn tensors.
    pub fn to_tensors<B: Backend>(&self, device: &B::Device) -> TensorBatch<B> {
        TensorBatch {
            context: array_to_tensor(&self.context, device),
            target: array_to_tensor(&self.target, device),
            labels: array_to_tensor(&self.labels, device),
        }
    }
}

fn array_to_tensor<B: Backend, const D: usize, Dim: ndarray::Dimension>(a: &ndarray::Array<f32, Dim>, device: &B::Device) -> Tensor<B, D> {
    let shape = a.shape().to_vec();
    let values: Vec<f32> = a.iter().copied().collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// An iterator over one epoch's micro-batches.
pub type BatchIter<'a> = Box<dyn Iterator<Item = Result<HostBatch, TrainError>> + 'a>;

/// A dataset split into micro-batches.
pub trait DataSource {
    /// Micro-batches per epoch of `phase` (train: complete batches only; valid: all windows).
    fn batches_per_epoch(&self, phase: Phase) -> usize;

    /// The micro-batches of `epoch` (train: order from `seed + epoch`; valid: fixed order and
    /// noise), starting after the first `skip` micro-batches — without reading them.
    fn batches(&self, phase: Phase, epoch: u64, skip: usize) -> Result<BatchIter<'_>, TrainError>;

    /// Clip geometry of the data: `(channels, context frames, target frames, height, width)`.
    fn clip_shape(&self) -> [usize; 5];
}

/// The pretraining order of `n` items in `epoch`: the engine's [`shuffled`] seeded with `seed + epoch`
/// (so it changes every epoch and repeats exactly for the same pair). The probe and fine-tuning mix
/// seed and epoch with [`crate::engine::epoch_seed`] instead; pretraining keeps `seed + epoch`, with which
/// every pretraining result so far was made.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    shuffled(n, seed.wrapping_add(epoch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_order_is_a_seeded_permutation_that_changes_per_epoch() {
        let a = epoch_order(100, 7, 0);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(100, 7, 0));
        assert_ne!(a, epoch_order(100, 7, 1));
        assert_ne!(a, epoch_order(100, 8, 0));
    }
}
