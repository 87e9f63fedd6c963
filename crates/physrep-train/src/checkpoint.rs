//! Atomic checkpoints: model weights, optimiser state and the loop's position.
//!
//! Layout: `ROOT/update-00000042/{model.mpk, optim.mpk, state.json, …}` (pretraining: `RUN/checkpoints/`;
//! fine-tuning: `OUT/checkpoints/`). `state.json` holds the [`LoopState`] at its top level, plus the lr
//! policy and the caller's record ([`crate::engine::SavedState`]), floats stored as their IEEE bits
//! ([`exact_floats`]) so a resumed run continues bit for bit. A checkpoint is
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

/// With `encode`, every float of `v` becomes `{"f64_bits": IEEE bits}`; without, back. serde_json's
/// default float parser can be one ulp off, which would make a resumed run differ from an uninterrupted
/// one; integers parse exactly.
pub fn exact_floats(v: serde_json::Value, encode: bool) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) if encode && n.is_f64() => match n.as_f64() {
            Some(x) => serde_json::json!({ "f64_bits": x.to_bits() }),
            None => Value::Number(n),
        },
        Value::Object(o) if !encode && o.len() == 1 && o.get("f64_bits").is_some_and(Value::is_u64) => {
            let bits = o.get("f64_bits").and_then(Value::as_u64).unwrap_or_default();
            serde_json::Number::from_f64(f64::from_bits(bits)).map_or(Value::Null, Value::Number)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|x| exact_floats(x, encode)).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, x)| (k, exact_floats(x, encode))).collect()),
        other => other,
    }
}

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
        self.read_state()
    }

    /// `state.json` read as `T` (floats decoded from their bits, see [`exact_floats`]): the loop position
    /// at its top level, and whatever its writer added beside it (the engine's [`crate::engine::SavedState`]).
    pub fn read_state<T: serde::de::DeserializeOwned>(&self) -> Result<T, TrainError> {
        let p = self.state_path();
        let text = fs::read_to_string(&p).map_err(|e| TrainError::io(&p, e))?;
        let value = serde_json::from_str(&text).map_err(|e| TrainError::Format { path: p.clone(), message: e.to_string() })?;
        serde_json::from_value(exact_floats(value, false)).map_err(|e| TrainError::Format { path: p, message: e.to_string() })
    }

    /// Write the checkpoint of update `update` into `root` atomically: `state.json` and `files` (name,
    /// bytes); prune to the newest `keep` (0 = all).
    pub fn save(root: &Path, update: u64, state_json: &[u8], files: &[(&str, Vec<u8>)], keep: usize) -> Result<Self, TrainError> {
        fs::create_dir_all(root).map_err(|e| TrainError::io(root, e))?;
        let name = format!("{PREFIX}{update:08}");
        let tmp = root.join(format!(".tmp-{name}"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        let staged = Checkpoint { dir: tmp.clone() };
        for (name, bytes) in files {
            write_atomic(&tmp.join(name), bytes)?;
        }
        write_atomic(&staged.state_path(), state_json)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Floats survive a checkpoint's JSON bit for bit, including values serde_json's default parser
    /// rounds wrongly (0.41361615725327283 came back one ulp off in a results.json).
    #[test]
    fn checkpoint_floats_round_trip_exactly() {
        let xs = vec![0.41361615725327283f64, 1.0 / 3.0, 1e-300, -2.5e17, 0.1 + 0.2];
        let ys = vec![0.1f32, 3.4028235e38, 1.175_494_4e-38];
        let text = serde_json::to_string(&exact_floats(serde_json::to_value((&xs, &ys, 7u64)).unwrap(), true)).unwrap();
        let back: (Vec<f64>, Vec<f32>, u64) = serde_json::from_value(exact_floats(serde_json::from_str(&text).unwrap(), false)).unwrap();
        assert_eq!(back, (xs, ys, 7));
    }
}
