//! [`DataSource`] over a Well-layout dataset directory, through `physrep-well`'s prefetching loader.
//!
//! Windows, crop and resize follow the paper (`paper-protocol.md` §2) with the run's resolution,
//! frame counts and stride. Training order: the ChaCha8 shuffle of `seed + epoch` (the same
//! permutation `physrep_well::Loader` draws), computed here so a resumed epoch can start at any
//! micro-batch without reading the skipped ones; incomplete last batch dropped. Noise: fresh per
//! epoch, from `noise_seed(seed, epoch, window)`. Validation: all of `valid` in index order, with
//! the noise of epoch 0 every time, so every epoch sees the same inputs.

use std::sync::Arc;

use physrep_well::{Batch, Loader, LoaderConfig, Preprocess, Split, WellDataset, WindowRef, WindowSpec};

use crate::config::DataConfig;
use crate::data::{epoch_order, BatchIter, DataSource, HostBatch, Phase};
use crate::error::TrainError;

/// A Well dataset cut into micro-batches.
pub struct WellSource {
    ds: Arc<WellDataset>,
    train: Vec<WindowRef>,
    valid: Vec<WindowRef>,
    spec: WindowSpec,
    pre: Preprocess,
    micro: usize,
    seed: u64,
    resolution: usize,
    workers: usize,
    prefetch: usize,
}

impl WellSource {
    /// Windows of `train` and (if present) `valid` for `data`, micro-batches of `micro`, noise σ `noise_std`.
    pub fn new(ds: Arc<WellDataset>, data: &DataConfig, micro: usize, noise_std: f32, seed: u64) -> Result<Self, TrainError> {
        let spec = window_spec(&ds, data);
        let train = ds.windows(Split::Train, &spec)?;
        let valid = if ds.has_split(Split::Valid) { ds.windows(Split::Valid, &spec)? } else { Vec::new() };
        let pre = Preprocess::paper(ds.name(), Some([data.resolution, data.resolution]), noise_std);
        Ok(WellSource {
            ds,
            train,
            valid,
            spec,
            pre,
            micro,
            seed,
            resolution: data.resolution,
            workers: data.workers,
            prefetch: data.prefetch,
        })
    }

    /// The dataset.
    pub fn dataset(&self) -> &WellDataset {
        &self.ds
    }

    /// Training windows per epoch.
    pub fn train_windows(&self) -> usize {
        self.train.len()
    }

    fn loader(&self, windows: Vec<WindowRef>, epoch: u64, drop_last: bool) -> Loader {
        let cfg = LoaderConfig {
            batch_size: self.micro,
            shuffle: false,
            drop_last,
            seed: self.seed,
            epoch,
            workers: self.workers,
            prefetch: self.prefetch,
        };
        Loader::new(self.ds.clone(), windows, self.pre.clone(), cfg)
    }
}

/// The run's window spec: its frame counts, its stride or the paper's for this dataset.
pub fn window_spec(ds: &WellDataset, data: &DataConfig) -> WindowSpec {
    let paper = WindowSpec::paper(ds.name());
    WindowSpec { context: data.context_frames, target: data.target_frames, stride: data.stride.unwrap_or(paper.stride) }
}

fn host(b: Batch) -> HostBatch {
    HostBatch { context: b.context, target: b.target, labels: b.labels }
}

impl DataSource for WellSource {
    fn batches_per_epoch(&self, phase: Phase) -> usize {
        match phase {
            Phase::Train => self.train.len() / self.micro,
            Phase::Valid => self.valid.len().div_ceil(self.micro),
        }
    }

    fn batches(&self, phase: Phase, epoch: u64, skip: usize) -> Result<BatchIter<'_>, TrainError> {
        let loader = match phase {
            Phase::Train => {
                let order = epoch_order(self.train.len(), self.seed, epoch);
                let start = (skip * self.micro).min(order.len());
                let windows = order[start..].iter().map(|&i| self.train[i]).collect();
                self.loader(windows, epoch, true)
            }
            Phase::Valid => {
                let start = (skip * self.micro).min(self.valid.len());
                self.loader(self.valid[start..].to_vec(), 0, false)
            }
        };
        Ok(Box::new(loader.map(|b| b.map(host).map_err(TrainError::from))))
    }

    fn clip_shape(&self) -> [usize; 5] {
        [self.ds.n_channels(), self.spec.context, self.spec.target, self.resolution, self.resolution]
    }
}
