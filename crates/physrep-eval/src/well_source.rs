//! [`ClipSource`] over windows of a Well-layout dataset split (`physrep-well`).
//!
//! Clip = the **context** frames of a window after the paper's preprocessing (crop, resize, noise);
//! the target half is never embedded (paper §10.1). Noise of draw `k` uses
//! `physrep_well::noise_seed(seed, k, window)`: a fixed per-window seed, so evaluation splits (always
//! draw 0) see the same inputs for every epoch and method, and training draws 0..K differ.

use std::path::Path;
use std::sync::Arc;

use physrep_well::{noise_seed, Preprocess, Split, WellDataset, WindowRef, WindowSpec};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::EvalError;
use crate::extract::{Clip, ClipSource};
use crate::features::{sha256_hex, CacheKey};

/// The windows of one split, read through the dataset with fixed preprocessing.
pub struct WellClips {
    ds: Arc<WellDataset>,
    split: Split,
    windows: Vec<WindowRef>,
    pre: Preprocess,
    seed: u64,
    clip_shape: [usize; 4],
    files: String,
}

impl WellClips {
    /// `windows` must all belong to `split`. Reads the first window once to learn the clip shape.
    pub fn new(ds: Arc<WellDataset>, split: Split, windows: Vec<WindowRef>, pre: Preprocess, seed: u64) -> Result<Self, EvalError> {
        let first = windows.first().ok_or_else(|| EvalError::Data(format!("{}: split `{split}` has no windows", ds.dir().display())))?;
        if let Some(w) = windows.iter().find(|w| w.split != split) {
            return Err(EvalError::Config(format!("window {w:?} is not in split `{split}`")));
        }
        let s = ds.read_sample(first, &pre, 0)?;
        let (c, t, h, w) = s.context.dim();
        let files = file_list(ds.dir(), ds.files(split).iter().map(|f| f.path.as_path()))?;
        Ok(Self { ds, split, windows, pre, seed, clip_shape: [c, t, h, w], files })
    }

    pub fn windows(&self) -> &[WindowRef] {
        &self.windows
    }

    pub fn dataset(&self) -> &WellDataset {
        &self.ds
    }

    /// The z-scored labels of every window, row-major `(len, P)`, from the files' scalars (no clip is read).
    pub fn labels(&self) -> Result<Vec<f32>, EvalError> {
        let mut out = Vec::with_capacity(self.windows.len() * self.ds.label_names().len());
        for w in &self.windows {
            out.extend(self.ds.labels(self.split, w.file)?.into_iter().map(|v| v as f32));
        }
        Ok(out)
    }
}

/// The clip sources of a probe or fine-tuning run: the training windows (optionally a seeded subset),
/// all of valid, and all of test where the dataset has a test split, with one preprocessing and noise seed.
pub struct SplitClips {
    pub train: WellClips,
    pub valid: WellClips,
    pub test: Option<WellClips>,
}

impl SplitClips {
    /// Windows of `spec` in every split of `ds`; at most `max_train` training windows (a subset drawn
    /// with `seed`, fixed across epochs; `None` = all).
    pub fn new(ds: &Arc<WellDataset>, spec: &WindowSpec, pre: &Preprocess, max_train: Option<usize>, seed: u64) -> Result<Self, EvalError> {
        let clips = |split: Split, windows: Vec<WindowRef>| WellClips::new(ds.clone(), split, windows, pre.clone(), seed);
        let train = clips(Split::Train, capped(ds.windows(Split::Train, spec)?, max_train, seed))?;
        let valid = clips(Split::Valid, ds.windows(Split::Valid, spec)?)?;
        let test = if ds.has_split(Split::Test) { Some(clips(Split::Test, ds.windows(Split::Test, spec)?)?) } else { None };
        Ok(Self { train, valid, test })
    }
}

/// A seeded random subset of `m` windows (sorted back into flat order), fixed across epochs.
fn capped(mut windows: Vec<WindowRef>, cap: Option<usize>, seed: u64) -> Vec<WindowRef> {
    match cap {
        Some(m) if m < windows.len() => {
            let mut idx: Vec<usize> = (0..windows.len()).collect();
            idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            let mut keep = idx[..m].to_vec();
            keep.sort_unstable();
            let all = std::mem::take(&mut windows);
            keep.into_iter().map(|i| all[i]).collect()
        }
        _ => windows,
    }
}

/// `name:size` of every file, relative to the dataset dir — part of the cache key.
fn file_list<'a>(dir: &Path, files: impl Iterator<Item = &'a Path>) -> Result<String, EvalError> {
    let mut out = Vec::new();
    for f in files {
        let meta = std::fs::metadata(f).map_err(EvalError::io(f))?;
        let rel = f.strip_prefix(dir).unwrap_or(f);
        out.push(format!("{}:{}", rel.display(), meta.len()));
    }
    Ok(out.join(","))
}

impl ClipSource for WellClips {
    fn len(&self) -> usize {
        self.windows.len()
    }

    fn clip_shape(&self) -> [usize; 4] {
        self.clip_shape
    }

    fn label_dim(&self) -> usize {
        self.ds.label_names().len()
    }

    fn read(&self, i: usize, draw: usize) -> Result<Clip, EvalError> {
        let w = self.windows.get(i).ok_or_else(|| EvalError::Data(format!("window index {i} of {}", self.windows.len())))?;
        let s = self.ds.read_sample(w, &self.pre, noise_seed(self.seed, draw as u64, w))?;
        let data = s.context.as_standard_layout().iter().copied().collect();
        Ok(Clip { data, labels: s.labels.to_vec() })
    }

    fn cache_key(&self, draw: usize) -> CacheKey {
        let windows = serde_json::to_string(&self.windows).expect("windows serialise");
        let pre = serde_json::to_string(&self.pre).expect("preprocess serialises");
        let dir = self.ds.dir().canonicalize().unwrap_or_else(|_| self.ds.dir().to_path_buf());
        // Without noise every draw is the same clip.
        let draw = if self.pre.noise_std > 0.0 { draw.to_string() } else { "noise-free".into() };
        CacheKey::default()
            .with("dataset", dir.display())
            .with("files", &self.files)
            .with("split", self.split)
            .with("windows", sha256_hex(windows.as_bytes()))
            .with("preprocess", pre)
            .with("noise_seed", self.seed)
            .with("draw", draw)
            .with("channel_order", format!("{:?}", self.ds.channel_order()))
    }
}
