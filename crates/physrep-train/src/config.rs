//! Typed, validated configuration of pretraining (optimisation and data), and `key=value` overrides.
//!
//! Each value has exactly one home; `Default` gives the paper's values for active_matter (AM) and
//! [`TrainConfig::paper`] the paper's per-dataset values (`docs/paper-protocol.md` §9). A whole run
//! (method + data + train) is [`crate::pretrain::PretrainConfig`]. Overrides are dotted paths onto
//! the serde form (`train.lr=5e-4`, `data.resolution=32`, `method.loss=bcs`).
//!
//! Validation also checks settings that only make sense together. One of them: JEPA's VICReg needs
//! every chunk of `train.micro_batch` × tokens-per-clip rows (split `method.vicreg.chunks` ways) to
//! hold more rows than the embedding has dimensions, or its covariance is rank-deficient and its
//! off-diagonal penalty biased (`crate::objectives::vicreg`); `method.vicreg.allow_rank_deficient=true`
//! accepts such a toy config and stays recorded in the run's `config.toml`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// Optimisation settings of pretraining on the engine (AdamW + warm-up/cosine + accumulation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Peak learning rate (AM 1e-3; SF, RB 1e-4).
    pub lr: f64,
    /// Final learning rate of the cosine (1e-6).
    pub min_lr: f64,
    /// Training epochs (AM 30, SF 6, RB 30).
    pub epochs: u64,
    /// Linear warm-up from 0, in epochs, capped at 20 % of all updates (AM 2, SF, RB 6).
    pub warmup_epochs: f64,
    /// Samples per forward/backward pass (8, the paper's per-device batch).
    pub micro_batch: usize,
    /// Samples per optimiser update (256); accumulation = global / micro.
    pub global_batch: usize,
    /// AdamW β₁ (0.9).
    pub beta1: f32,
    /// AdamW β₂ (0.95).
    pub beta2: f32,
    /// AdamW ε (1e-8).
    pub eps: f32,
    /// AdamW decoupled weight decay on all parameters (0.05).
    pub weight_decay: f32,
    /// Std of i.i.d. Gaussian input noise added to context and target, train and valid (AM, SF 1.0; RB 0).
    pub noise_std: f32,
    /// Seed of everything: initialisation, data order, noise, the objective's randomness.
    pub seed: u64,
    /// Write a checkpoint every this many updates (and always at the end).
    pub checkpoint_every: u64,
    /// Keep only the newest this many checkpoints (0 = keep all).
    pub keep_checkpoints: usize,
    /// Write a metrics record every this many updates.
    pub log_every: u64,
    /// Optional cap on the number of updates (the schedule is computed for the capped total).
    pub max_updates: Option<u64>,
    /// Optional cap on validation batches per epoch (None = all of `valid`).
    pub max_valid_batches: Option<usize>,
    /// Compute threads (rayon pool size; 0 = all cores).
    pub threads: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        let am = physrep_well::SystemId::ActiveMatter.protocol().pretrain;
        TrainConfig {
            lr: am.lr,
            min_lr: 1e-6,
            epochs: am.epochs,
            warmup_epochs: am.warmup_epochs,
            micro_batch: 8,
            global_batch: 256,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.05,
            noise_std: am.noise_std,
            seed: 42,
            checkpoint_every: 100,
            keep_checkpoints: 3,
            log_every: 1,
            max_updates: None,
            max_valid_batches: None,
            threads: 0,
        }
    }
}

impl TrainConfig {
    /// Micro-batches per optimiser update.
    pub fn accum(&self) -> usize {
        self.global_batch.checked_div(self.micro_batch).unwrap_or(0)
    }

    /// The paper's per-dataset optimisation values (§9, from [`physrep_well::Protocol::pretrain`]); unknown
    /// datasets get AM's. The paper configures SF with 6 warm-up epochs of 6 (never applied, defect D3);
    /// physrep caps warm-up at 20 % of the updates (`docs/paper-protocol.md` §13), so SF's is 1.2 epochs and
    /// its lr still decays.
    pub fn paper(dataset: &str) -> Self {
        let r = physrep_well::Protocol::of_name(dataset).pretrain;
        TrainConfig { lr: r.lr, epochs: r.epochs, warmup_epochs: r.warmup_epochs, noise_std: r.noise_std, ..TrainConfig::default() }
    }

    /// Check ranges and consistency; the error names the field.
    pub fn validate(&self) -> Result<(), TrainError> {
        let f = |name: &str| format!("train.{name}");
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(TrainError::config(f("lr"), format!("must be finite and > 0, got {}", self.lr)));
        }
        if !(self.min_lr.is_finite() && self.min_lr >= 0.0 && self.min_lr <= self.lr) {
            return Err(TrainError::config(f("min_lr"), format!("must be in [0, lr = {}], got {}", self.lr, self.min_lr)));
        }
        if self.epochs == 0 {
            return Err(TrainError::config(f("epochs"), "must be ≥ 1"));
        }
        if !(self.warmup_epochs.is_finite() && self.warmup_epochs >= 0.0 && self.warmup_epochs < self.epochs as f64) {
            return Err(TrainError::config(
                f("warmup_epochs"),
                format!("must be in [0, epochs = {}), got {}", self.epochs, self.warmup_epochs),
            ));
        }
        if self.micro_batch == 0 {
            return Err(TrainError::config(f("micro_batch"), "must be ≥ 1"));
        }
        if self.global_batch < self.micro_batch || !self.global_batch.is_multiple_of(self.micro_batch) {
            return Err(TrainError::config(
                f("global_batch"),
                format!("must be a positive multiple of micro_batch = {} (accumulation ≥ 1), got {}", self.micro_batch, self.global_batch),
            ));
        }
        for (name, v) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return Err(TrainError::config(f(name), format!("must be in [0, 1), got {v}")));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(TrainError::config(f("eps"), format!("must be > 0, got {}", self.eps)));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(TrainError::config(f("weight_decay"), format!("must be ≥ 0, got {}", self.weight_decay)));
        }
        if !(self.noise_std.is_finite() && self.noise_std >= 0.0) {
            return Err(TrainError::config(f("noise_std"), format!("must be ≥ 0, got {}", self.noise_std)));
        }
        if self.checkpoint_every == 0 {
            return Err(TrainError::config(f("checkpoint_every"), "must be ≥ 1 update"));
        }
        if self.log_every == 0 {
            return Err(TrainError::config(f("log_every"), "must be ≥ 1 update"));
        }
        if self.max_updates == Some(0) {
            return Err(TrainError::config(f("max_updates"), "must be ≥ 1 when set"));
        }
        if self.max_valid_batches == Some(0) {
            return Err(TrainError::config(f("max_valid_batches"), "must be ≥ 1 when set (omit it to skip no batch)"));
        }
        Ok(())
    }
}

/// Which data, at which resolution, in which windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Dataset directory in The Well's layout (`DIR/data/{train,valid}/*.h5`).
    pub dir: PathBuf,
    /// Square input resolution after crop + bilinear resize (paper 224; a multiple of 16).
    pub resolution: usize,
    /// Context frames (16).
    pub context_frames: usize,
    /// Target frames (16).
    pub target_frames: usize,
    /// Window stride; `None` = the paper's per dataset (AM 1, SF/RB 4, else 16).
    pub stride: Option<usize>,
    /// How a training window's context and target are paired (`same_clip`, the paper's, or
    /// `cross_trajectory`).
    pub views: Views,
    /// Symmetry augmentation of training windows (`crate::augment`); off: the paper's.
    pub augment: crate::augment::Augment,
    /// Background loader threads.
    pub workers: usize,
    /// Batches prepared ahead (bounded memory).
    pub prefetch: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dir: PathBuf::new(),
            resolution: 224,
            context_frames: 16,
            target_frames: 16,
            stride: None,
            views: Views::SameClip,
            augment: crate::augment::Augment::default(),
            workers: 2,
            prefetch: 2,
        }
    }
}

impl DataConfig {
    /// Check ranges; the error names the field.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.resolution == 0 || !self.resolution.is_multiple_of(16) {
            return Err(TrainError::config(
                "data.resolution",
                format!("must be a positive multiple of 16 (the encoder downsamples by 16), got {}", self.resolution),
            ));
        }
        if self.context_frames == 0 || self.target_frames == 0 {
            return Err(TrainError::config("data.context_frames", "context and target frames must be ≥ 1"));
        }
        if self.stride == Some(0) {
            return Err(TrainError::config("data.stride", "must be ≥ 1 when set"));
        }
        if self.prefetch == 0 {
            return Err(TrainError::config("data.prefetch", "must be ≥ 1"));
        }
        Ok(())
    }
}

/// How the context and target of a training window are paired.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Views {
    /// The paper's: the target frames follow the context frames in the same trajectory.
    #[default]
    SameClip,
    /// The target frames (same times) come from another trajectory of the same file, i.e. another
    /// initial condition at the same physical parameters, drawn afresh every epoch (validation: epoch
    /// 0's draw). What the two views share is then the parameter point, not the initial condition's
    /// pattern, the pairing that let VICReg recover cosmological parameters from small CNNs. Needs ≥ 2
    /// trajectories in every train file; a valid file with one keeps the same clip.
    CrossTrajectory,
}

/// Named starting points for a run's configuration: the model and schedule they size, on the same
/// scale as the simulator's presets (`tiny` < `small` < `medium`) plus the paper's full scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Tests and smoke runs: 16², tiny model, micro 2 × accum 2, a few updates, seconds on a CPU.
    Tiny,
    /// A short CPU run: 64², the paper's model, global batch 32, 5 epochs.
    Small,
    /// physrep's CPU protocol: 64², the paper's model and optimisation (global 256, per-dataset lr/epochs).
    /// Called `default` before 2026-12-07; that name is still read.
    #[serde(alias = "default")]
    Medium,
    /// The paper as intended: 224², everything as §9 with physrep's fixes (§13).
    Paper,
}

impl Preset {
    /// Every preset, in increasing size.
    pub const ALL: [Preset; 4] = [Preset::Tiny, Preset::Small, Preset::Medium, Preset::Paper];
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preset::Tiny => "tiny",
            Preset::Small => "small",
            Preset::Medium => "medium",
            Preset::Paper => "paper",
        })
    }
}

impl FromStr for Preset {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `default` is this preset's former name (configs and scripts written before 2026-12-07).
        let s = if s == "default" { "medium" } else { s };
        Preset::ALL
            .into_iter()
            .find(|p| p.to_string() == s)
            .ok_or_else(|| TrainError::config("preset", format!("unknown preset `{s}` (expected tiny, small, medium or paper)")))
    }
}

/// Apply `key=value` overrides (dotted paths onto the serde form of `cfg`).
///
/// Values are parsed as TOML values (`1e-3`, `true`, `[16, 32]`, `"text"`); anything that is not
/// a TOML value is taken as a bare string (`method.loss=bcs`). Unknown keys are errors naming the
/// keys known at that level. The caller validates the result.
pub fn apply_overrides<T: Serialize + DeserializeOwned, S: AsRef<str>>(cfg: &T, overrides: &[S]) -> Result<T, TrainError> {
    let mut value = serde_json::to_value(cfg).expect("configs serialise");
    for spec in overrides {
        apply_override(&mut value, spec.as_ref())?;
    }
    serde_json::from_value(value).map_err(|e| TrainError::Override {
        spec: overrides.iter().map(|s| s.as_ref()).collect::<Vec<_>>().join(" "),
        message: e.to_string(),
    })
}

/// Merge a (partial) TOML document onto the serde form of `cfg` (unknown keys are errors).
pub fn merge_toml<T: Serialize + DeserializeOwned>(cfg: &T, text: &str, origin: &Path) -> Result<T, TrainError> {
    let patch: toml::Value = toml::from_str(text).map_err(|e| TrainError::Format { path: origin.to_path_buf(), message: e.to_string() })?;
    let mut value = serde_json::to_value(cfg).expect("configs serialise");
    merge(&mut value, toml_to_json(patch), origin, "")?;
    serde_json::from_value(value).map_err(|e| TrainError::Format { path: origin.to_path_buf(), message: e.to_string() })
}

fn apply_override(root: &mut serde_json::Value, spec: &str) -> Result<(), TrainError> {
    let err = |message: String| TrainError::Override { spec: spec.to_string(), message };
    let (key, raw) = spec.split_once('=').ok_or_else(|| err("expected key=value".into()))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(err("empty key".into()));
    }
    let parsed = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => toml_to_json(t.remove("v").expect("parsed key")),
        Err(_) => serde_json::Value::String(raw.to_string()),
    };
    let mut node = root;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let obj = node.as_object_mut().ok_or_else(|| err(format!("`{}` is not a section", parts[..i].join("."))))?;
        if !obj.contains_key(*part) {
            let mut known: Vec<&String> = obj.keys().collect();
            known.sort();
            let known: Vec<&str> = known.into_iter().map(|s| s.as_str()).collect();
            return Err(err(format!("unknown key `{}` (known here: {})", parts[..=i].join("."), known.join(", "))));
        }
        let child = obj.get_mut(*part).expect("checked");
        if i + 1 == parts.len() {
            *child = parsed;
            return Ok(());
        }
        node = child;
    }
    unreachable!("split yields at least one part")
}

fn merge(dst: &mut serde_json::Value, patch: serde_json::Value, origin: &Path, at: &str) -> Result<(), TrainError> {
    match patch {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
                let obj = dst
                    .as_object_mut()
                    .ok_or_else(|| TrainError::Format { path: origin.to_path_buf(), message: format!("`{at}` is not a section") })?;
                let child = obj
                    .get_mut(&k)
                    .ok_or_else(|| TrainError::Format { path: origin.to_path_buf(), message: format!("unknown key `{path}`") })?;
                if v.is_object() && child.is_object() {
                    merge(child, v, origin, &path)?;
                } else {
                    *child = v;
                }
            }
            Ok(())
        }
        other => {
            *dst = other;
            Ok(())
        }
    }
}

fn toml_to_json(v: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => J::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Both {
        data: DataConfig,
        train: TrainConfig,
    }

    fn checked(overrides: &[&str]) -> Result<Both, TrainError> {
        let both = apply_overrides(&Both { data: DataConfig::default(), train: TrainConfig::default() }, overrides)?;
        both.train.validate()?;
        both.data.validate()?;
        Ok(both)
    }

    #[test]
    fn defaults_are_the_papers_am_values() {
        let t = TrainConfig::default();
        assert_eq!((t.lr, t.min_lr, t.epochs, t.warmup_epochs), (1e-3, 1e-6, 30, 2.0));
        assert_eq!((t.beta1, t.beta2, t.eps, t.weight_decay), (0.9, 0.95, 1e-8, 0.05));
        assert_eq!((t.micro_batch, t.global_batch, t.accum()), (8, 256, 32));
        assert_eq!(t.noise_std, 1.0);
        t.validate().unwrap();
        let rb = TrainConfig::paper("rayleigh_benard");
        assert_eq!((rb.lr, rb.epochs, rb.warmup_epochs, rb.noise_std), (1e-4, 30, 6.0, 0.0));
        let sf = TrainConfig::paper("shear_flow");
        assert_eq!((sf.lr, sf.epochs, sf.warmup_epochs, sf.noise_std), (1e-4, 6, 1.2, 1.0));
        sf.validate().expect("the shear_flow paper config is valid");
        let d = DataConfig::default();
        assert_eq!((d.resolution, d.context_frames, d.target_frames, d.stride), (224, 16, 16, None));
    }

    #[test]
    fn overrides_apply_typed_values_and_reject_bad_ones() {
        let c = checked(&["train.lr=5e-4", "data.resolution=32", "train.max_updates=3", "train.seed=7"]).unwrap();
        assert_eq!((c.train.lr, c.data.resolution, c.train.max_updates, c.train.seed), (5e-4, 32, Some(3), 7));
        let c = checked(&["data.stride=\"4\""]);
        assert!(c.is_err(), "a string stride must not deserialise");
        let c = checked(&["data.dir=/some/where"]).unwrap();
        assert_eq!(c.data.dir, PathBuf::from("/some/where"));

        let e = checked(&["data.resolution=40"]).unwrap_err().to_string();
        assert!(e.contains("data.resolution") && e.contains("multiple of 16"), "{e}");
        let e = checked(&["train.global_batch=3"]).unwrap_err().to_string();
        assert!(e.contains("train.global_batch") && e.contains("accumulation"), "{e}");
        let e = checked(&["train.warmup_epochs=30"]).unwrap_err().to_string();
        assert!(e.contains("train.warmup_epochs"), "{e}");
        let e = checked(&["train.lrr=1"]).unwrap_err().to_string();
        assert!(e.contains("unknown key `train.lrr`") && e.contains("min_lr"), "{e}");
        let e = checked(&["train.epochs=two"]).unwrap_err().to_string();
        assert!(e.contains("train.epochs=two"), "{e}");
        let e = checked(&["train.lr"]).unwrap_err().to_string();
        assert!(e.contains("key=value"), "{e}");
    }

    #[test]
    fn toml_patch_merges_and_round_trips() {
        let base = Both { data: DataConfig::default(), train: TrainConfig::default() };
        let c = merge_toml(&base, "[train]\nepochs = 3\nlr = 2e-3\n", Path::new("my.toml")).unwrap();
        assert_eq!((c.train.epochs, c.train.lr, c.train.micro_batch), (3, 2e-3, 8));
        let text = toml::to_string(&c).unwrap();
        let back: Both = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
        let e = merge_toml(&base, "[train]\nepoch = 3\n", Path::new("my.toml")).unwrap_err().to_string();
        assert!(e.contains("my.toml") && e.contains("train.epoch"), "{e}");
    }

    #[test]
    fn presets_are_named_on_one_size_scale_and_the_old_name_is_read() {
        let names: Vec<String> = Preset::ALL.iter().map(|p| p.to_string()).collect();
        assert_eq!(names, ["tiny", "small", "medium", "paper"]);
        for p in Preset::ALL {
            assert_eq!(p.to_string().parse::<Preset>().unwrap(), p);
        }
        assert_eq!("default".parse::<Preset>().unwrap(), Preset::Medium);
        assert_eq!(serde_json::from_str::<Preset>("\"default\"").unwrap(), Preset::Medium);
        assert_eq!(serde_json::to_string(&Preset::Medium).unwrap(), "\"medium\"");
        assert!("huge".parse::<Preset>().unwrap_err().to_string().contains("tiny, small, medium or paper"));
    }
}
