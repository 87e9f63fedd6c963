//! Atomic checkpoints: model weights, optimiser state and the loop's position.
//!
//! Layout: `RUN/checkpoints/update-00000042/{model.mpk, optim.mpk, state.json}`. A checkpoint is
//! written into `checkpoints/.tmp-update-…` and renamed into place, so a directory named
//! `update-*` is always complete. Weights and AdamW moments use burn's named MessagePack recorder
//! at full precision: f32 values round-trip bit-exactly and parameter ids are preserved, so the
//! optimiser state re-attaches to the restored parameters.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Record, Recorder};
use physrep_core::write_atomic;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// Where the loop stands; enough to continue bit-identically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoopState {
    /// Current epoch (0-based).
    pub epoch: u64,
    /// Micro-batches of `epoch` already consumed (always a multiple of the accumulation).
    pub batch: usize,
    /// Optimiser updates done.
    pub update: u64,
    /// Micro-batches done in total (the objective's RNG stream index).
    pub micro: u64,
    /// Byte length of `metrics.jsonl` when the checkpoint was taken (later lines are discarded on resume).
    pub metrics_len: u64,
}

const PREFIX: &str = "update-";

/// The recorder of every weight and optimiser file: named MessagePack, full (f32) precision.
type Mpk = NamedMpkBytesRecorder<FullPrecisionSettings>;

/// Serialise a module's weights (full precision, named MessagePack).
pub fn module_bytes<B: Backend, M: Module<B>>(model: &M, path: &Path) -> Result<Vec<u8>, TrainError> {
    record_bytes::<B, _>(model.clone().into_record(), path)
}

/// Serialise any burn record (full precision, named MessagePack).
pub fn record_bytes<B: Backend, R: Record<B>>(record: R, path: &Path) -> Result<Vec<u8>, TrainError> {
    <Mpk as Recorder<B>>::record(&Mpk::default(), record, ())
        .map_err(|e| TrainError::Record { path: path.to_path_buf(), message: e.to_string() })
}

/// Read a burn record written by [`record_bytes`].
pub fn read_record<B: Backend, R: Record<B>>(path: &Path, device: &B::Device) -> Result<R, TrainError> {
    let bytes = fs::read(path).map_err(|e| TrainError::io(path, e))?;
    let len = bytes.len();
    <Mpk as Recorder<B>>::load(&Mpk::default(), bytes, device).map_err(|e| TrainError::Record {
        path: path.to_path_buf(),
        message: format!(
            "cannot decode its {len} bytes: the file is truncated or corrupt, or was written for another model \
             (decoder: {e})"
        ),
    })
}

/// Load weights written by [`module_bytes`] into `model` (same architecture).
pub fn load_module<B: Backend, M: Module<B>>(model: M, path: &Path, device: &B::Device) -> Result<M, TrainError> {
    let record = read_record::<B, M::Record>(path, device)?;
    Ok(model.load_record(record))
}

/// Every float parameter of `module` as f32 bit patterns, in visiting order: what two sets of weights
/// are compared by (the parameter ids a MessagePack file also holds are drawn per process, so equal
/// weights need not give equal files).
pub fn parameter_bits<B: Backend, M: Module<B>>(module: &M) -> Vec<u32> {
    struct Collect(Vec<u32>);
    impl<B: Backend> ModuleVisitor<B> for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let values = param.val().into_data().convert::<f32>().to_vec::<f32>().expect("data converted to f32 reads as f32");
            self.0.extend(values.iter().map(|x| x.to_bits()));
        }
    }
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}

/// One checkpoint directory.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub dir: PathBuf,
}

impl Checkpoint {
    pub fn model_path(&self) -> PathBuf {
        self.dir.join("model.mpk")
    }
    pub fn optim_path(&self) -> PathBuf {
        self.dir.join("optim.mpk")
    }
    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The loop position stored in this checkpoint.
    pub fn state(&self) -> Result<LoopState, TrainError> {
        let p = self.state_path();
        let text = fs::read_to_string(&p).map_err(|e| TrainError::io(&p, e))?;
        serde_json::from_str(&text).map_err(|e| TrainError::Format { path: p, message: e.to_string() })
    }

    /// Write a checkpoint for `state` into `root` atomically; prune to the newest `keep` (0 = all).
    pub fn save(root: &Path, state: &LoopState, model: Vec<u8>, optim: Vec<u8>, keep: usize) -> Result<Self, TrainError> {
        fs::create_dir_all(root).map_err(|e| TrainError::io(root, e))?;
        let name = format!("{PREFIX}{:08}", state.update);
        let tmp = root.join(format!(".tmp-{name}"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        let staged = Checkpoint { dir: tmp.clone() };
        write_atomic(&staged.model_path(), &model)?;
        write_atomic(&staged.optim_path(), &optim)?;
        let json = serde_json::to_vec_pretty(state).expect("LoopState serialises");
        write_atomic(&staged.state_path(), &json)?;
        let final_dir = root.join(&name);
        if final_dir.exists() {
            fs::remove_dir_all(&final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
        }
        fs::rename(&tmp, &final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
        if keep > 0 {
            let all = Self::list(root)?;
            let excess = all.len().saturating_sub(keep);
            for old in all.into_iter().take(excess) {
                fs::remove_dir_all(&old.dir).map_err(|e| TrainError::io(&old.dir, e))?;
            }
        }
        Ok(Checkpoint { dir: final_dir })
    }

    /// Complete checkpoints under `root`, oldest first (none if `root` does not exist).
    pub fn list(root: &Path) -> Result<Vec<Checkpoint>, TrainError> {
        if !root.exists() {
            return Ok(Vec::new());
        }
        let mut found: Vec<(u64, PathBuf)> = Vec::new();
        for entry in fs::read_dir(root).map_err(|e| TrainError::io(root, e))? {
            let entry = entry.map_err(|e| TrainError::io(root, e))?;
            let name = entry.file_name();
            let Some(n) = name.to_str().and_then(|s| s.strip_prefix(PREFIX)).and_then(|s| s.parse::<u64>().ok()) else {
                continue;
            };
            found.push((n, entry.path()));
        }
        found.sort();
        Ok(found.into_iter().map(|(_, dir)| Checkpoint { dir }).collect())
    }

    /// The newest complete checkpoint under `root`.
    pub fn latest(root: &Path) -> Result<Option<Checkpoint>, TrainError> {
        Ok(Self::list(root)?.pop())
    }
}
