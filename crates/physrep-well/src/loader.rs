//! Seeded batch loader with background prefetching.
//!
//! The window order of an epoch is a ChaCha8 shuffle seeded with `seed + epoch` (or the given order
//! when `shuffle` is off); consecutive runs of `batch_size` windows form batches, the last partial
//! batch dropped when `drop_last`. Batch `i` is built by worker `i mod workers` and handed over through
//! that worker's bounded channel (capacity ⌈prefetch / workers⌉), so at most
//! `workers × (capacity + 1)` batches exist at once and batches arrive in order. Each window's noise is
//! drawn from [`noise_seed`]`(seed, epoch, window)`, so the order *and* content of every batch depend
//! only on the configuration, never on the number of threads. `workers = 0` builds batches in the
//! consuming thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver};
use ndarray::{Array2, Array5, Axis};
use physrep_core::seed::splitmix64;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::{WellDataset, WindowRef};
use crate::error::WellError;
use crate::preprocess::Preprocess;

/// Loader settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderConfig {
    pub batch_size: usize,
    pub shuffle: bool,
    pub drop_last: bool,
    pub seed: u64,
    pub epoch: u64,
    /// Background threads (0 = build batches in the caller's thread).
    pub workers: usize,
    /// Batches prepared ahead, over all workers.
    pub prefetch: usize,
}

impl Default for LoaderConfig {
    /// The paper's training loader: batch 8 per device, shuffled, drop_last; 2 workers, 4 batches ahead.
    fn default() -> Self {
        Self { batch_size: 8, shuffle: true, drop_last: true, seed: 0, epoch: 0, workers: 2, prefetch: 4 }
    }
}

/// A batch: `context (B, C, Tc, H, W)`, `target (B, C, Tt, H, W)`, standardised `labels (B, L)`.
#[derive(Clone, Debug)]
pub struct Batch {
    pub context: Array5<f32>,
    pub target: Array5<f32>,
    pub labels: Array2<f32>,
    pub windows: Vec<WindowRef>,
}

/// The noise seed of one window in one epoch: a SplitMix64 chain over (seed, epoch, split, file,
/// trajectory, t0, context, target[, target trajectory]).
pub fn noise_seed(seed: u64, epoch: u64, w: &WindowRef) -> u64 {
    let parts = [epoch, w.split as u64, w.file as u64, w.trajectory as u64, w.t0 as u64, w.context as u64, w.target as u64];
    let h = parts.iter().fold(splitmix64(seed), |h, &p| splitmix64(h ^ p));
    // A cross-trajectory target (a view pair) is its own window; same-clip windows keep their seeds.
    w.target_trajectory.map_or(h, |t| splitmix64(h ^ (t as u64 + 1)))
}

/// Builds one batch from `windows` (in order), reading every sample straight into the batch arrays.
fn build_batch(ds: &WellDataset, windows: &[WindowRef], pre: &Preprocess, cfg: &LoaderConfig) -> Result<Batch, WellError> {
    let first = windows.first().ok_or_else(|| WellError::Invalid { what: "empty batch".into() })?;
    let [h, w] = ds.sample_hw(first, pre)?;
    let (b, c) = (windows.len(), ds.n_channels());
    let mut context = Array5::<f32>::zeros((b, c, first.context, h, w));
    let mut target = Array5::<f32>::zeros((b, c, first.target, h, w));
    let mut labels = Array2::<f32>::zeros((b, ds.label_names().len()));
    for (i, win) in windows.iter().enumerate() {
        if (win.context, win.target) != (first.context, first.target) || ds.sample_hw(win, pre)? != [h, w] {
            return Err(WellError::Invalid {
                what: format!("window {win:?} differs in length or size from the batch's first window {first:?}"),
            });
        }
        let l = ds.read_sample_into(
            win,
            pre,
            noise_seed(cfg.seed, cfg.epoch, win),
            context.index_axis_mut(Axis(0), i),
            target.index_axis_mut(Axis(0), i),
        )?;
        for (dst, v) in labels.row_mut(i).iter_mut().zip(l) {
            *dst = v as f32;
        }
    }
    Ok(Batch { context, target, labels, windows: windows.to_vec() })
}

struct Shared {
    ds: Arc<WellDataset>,
    batches: Vec<Vec<WindowRef>>,
    pre: Preprocess,
    cfg: LoaderConfig,
}

/// Iterator over the batches of one epoch; see the module documentation.
pub struct Loader {
    shared: Arc<Shared>,
    next: usize,
    receivers: Vec<Receiver<Result<Batch, WellError>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Loader {
    /// Starts loading the epoch `cfg.epoch` of `windows`.
    pub fn new(ds: Arc<WellDataset>, windows: Vec<WindowRef>, pre: Preprocess, cfg: LoaderConfig) -> Self {
        let mut order = windows;
        if cfg.shuffle {
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(cfg.epoch));
            order.shuffle(&mut rng);
        }
        let bs = cfg.batch_size.max(1);
        let batches: Vec<Vec<WindowRef>> = order.chunks(bs).filter(|c| !(cfg.drop_last && c.len() < bs)).map(|c| c.to_vec()).collect();
        let shared = Arc::new(Shared { ds, batches, pre, cfg });
        let stop = Arc::new(AtomicBool::new(false));
        let workers = shared.cfg.workers;
        let mut receivers = Vec::new();
        let mut threads = Vec::new();
        if workers > 0 {
            let cap = shared.cfg.prefetch.div_ceil(workers).max(1);
            for k in 0..workers {
                let (tx, rx) = bounded(cap);
                receivers.push(rx);
                let (shared, stop) = (shared.clone(), stop.clone());
                threads.push(std::thread::spawn(move || {
                    let mut i = k;
                    while i < shared.batches.len() && !stop.load(Ordering::Relaxed) {
                        let b = build_batch(&shared.ds, &shared.batches[i], &shared.pre, &shared.cfg);
                        if tx.send(b).is_err() {
                            break;
                        }
                        i += workers;
                    }
                }));
            }
        }
        Self { shared, next: 0, receivers, stop, threads }
    }

    /// Batches in this epoch.
    pub fn len(&self) -> usize {
        self.shared.batches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shared.batches.is_empty()
    }
}

impl Iterator for Loader {
    type Item = Result<Batch, WellError>;

    fn next(&mut self) -> Option<Self::Item> {
        let i = self.next;
        if i >= self.shared.batches.len() {
            return None;
        }
        self.next += 1;
        let s = &self.shared;
        if self.receivers.is_empty() {
            return Some(build_batch(&s.ds, &s.batches[i], &s.pre, &s.cfg));
        }
        match self.receivers[i % self.receivers.len()].recv() {
            Ok(b) => Some(b),
            Err(_) => Some(Err(WellError::Invalid { what: format!("loader worker for batch {i} stopped unexpectedly") })),
        }
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.receivers.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
