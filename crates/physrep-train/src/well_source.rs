//! [`DataSource`] over a Well-layout dataset directory, through `physrep-well`'s prefetching loader.
//!
//! Windows, crop and resize follow the paper (`docs/paper-protocol.md` §2) with the run's resolution,
//! frame counts and stride. Training order: the ChaCha8 shuffle of `seed + epoch` (the same
//! permutation `physrep_well::Loader` draws), computed here so a resumed epoch can start at any
//! micro-batch without reading the skipped ones; incomplete last batch dropped. Noise: fresh per
//! epoch, from `noise_seed(seed, epoch, window)`. Validation: all of `valid` in index order, with
//! the noise of epoch 0 every time, so every epoch sees the same inputs. Views (`data.views`): the paper's
//! same-clip context and target, or `cross_trajectory`, the target frames from another trajectory of the
//! window's file, drawn per epoch from a hash of (seed, epoch, window). Augmentation (`data.augment`):
//! one symmetry per training window and epoch, the same on its context and target ([`crate::augment`]).

use std::sync::Arc;

use physrep_well::{noise_seed, Batch, Loader, LoaderConfig, Preprocess, Split, WellDataset, WindowRef, WindowSpec};

use crate::augment::Symmetries;
use crate::config::{DataConfig, Views};
use crate::data::{epoch_order, BatchIter, DataSource, HostBatch, Phase};
use crate::error::TrainError;

/// A Well dataset cut into micro-batches.
pub struct WellSource {
    ds: Arc<WellDataset>,
    train: Vec<WindowRef>,
    valid: Vec<WindowRef>,
    spec: WindowSpec,
    views: Views,
    /// The training windows' symmetries (`None`: no augmentation, or none the dataset admits).
    symmetries: Option<Symmetries>,
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
        if data.views == Views::CrossTrajectory {
            if let Some(f) = ds.files(Split::Train).iter().find(|f| f.n_trajectories < 2) {
                return Err(TrainError::config(
                    "data.views",
                    format!(
                        "cross_trajectory pairs two trajectories of one file, but the train file {} has {}",
                        f.path.display(),
                        f.n_trajectories
                    ),
                ));
            }
        }
        let symmetries = match data.augment.any() {
            true => Some(Symmetries::new(&ds, &pre.crop, data.augment)?).filter(|s| !s.is_identity()),
            false => None,
        };
        Ok(WellSource {
            ds,
            train,
            valid,
            spec,
            views: data.views,
            symmetries,
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

    /// `w` with its target trajectory for `epoch` under the run's views: for `cross_trajectory`, another
    /// trajectory of its file, uniformly among the others, from a hash of (seed, epoch, window); a file
    /// with one trajectory (a valid file of The Well's split by initial condition) keeps the same clip.
    fn paired(&self, w: WindowRef, epoch: u64) -> WindowRef {
        if self.views == Views::SameClip {
            return w;
        }
        let n = self.ds.files(w.split)[w.file].n_trajectories as u64;
        if n < 2 {
            return w;
        }
        let step = 1 + noise_seed(self.seed ^ PAIR_SALT, epoch, &w) % (n - 1);
        w.with_target_trajectory(((w.trajectory as u64 + step) % n) as usize)
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

/// Salt of the view pairing's hash (independent of the noise drawn from the same seed).
const PAIR_SALT: u64 = 0x5041_4952_5649_4557;
/// Salt of the augmentation's hash.
const AUGMENT_SALT: u64 = 0x4155_474d_454e_5453;

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
                let windows = order[start..].iter().map(|&i| self.paired(self.train[i], epoch)).collect();
                let loader = self.loader(windows, epoch, true);
                if let Some(sym) = self.symmetries.clone() {
                    let seed = self.seed ^ AUGMENT_SALT;
                    return Ok(Box::new(loader.map(move |b| {
                        let mut b = b.map_err(TrainError::from)?;
                        for (i, w) in b.windows.iter().enumerate() {
                            let (h, wd) = (b.context.dim().3, b.context.dim().4);
                            let t = sym.draw(noise_seed(seed, epoch, w), [h, wd]);
                            sym.apply(&t, b.context.index_axis_mut(ndarray::Axis(0), i));
                            sym.apply(&t, b.target.index_axis_mut(ndarray::Axis(0), i));
                        }
                        Ok(host(b))
                    })));
                }
                loader
            }
            Phase::Valid => {
                let start = (skip * self.micro).min(self.valid.len());
                self.loader(self.valid[start..].iter().map(|&w| self.paired(w, 0)).collect(), 0, false)
            }
        };
        Ok(Box::new(loader.map(|b| b.map(host).map_err(TrainError::from))))
    }

    fn clip_shape(&self) -> [usize; 5] {
        [self.ds.n_channels(), self.spec.context, self.spec.target, self.resolution, self.resolution]
    }
}
