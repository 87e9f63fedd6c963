//! A pretraining run end to end: resolve the config, prepare the run directory, train, export.
//!
//! Run directory layout (everything written atomically):
//! ```text
//! RUN/config.toml          the resolved PretrainConfig (method + data + train), written first
//! RUN/run.json             RunManifest: method, dataset, channels, clip geometry, update counts
//! RUN/metrics.jsonl        one JSON object per logged update ("kind": "train") and per epoch ("valid")
//! RUN/checkpoints/update-*/{model.mpk, optim.mpk, state.json}
//! RUN/model.mpk            final weights of the whole model (burn named MessagePack, full precision)
//! RUN/encoder.safetensors  the encoder under the reference PyTorch names (JEPA: `encoder.*` of the
//!                          paper's code; VideoMAE: VideoMAE's encoder names, no prefix)
//! RUN/init.mpk             the weights before the first update (`init_model(method, train.seed)`,
//!                          same form as model.mpk): the paired own-init control (`physrep probe --init`)
//! RUN/init-encoder.safetensors  the initial encoder exported like encoder.safetensors (JEPA, VideoMAE)
//! RUN/DONE                 RunSummary as JSON, written last
//! ```
//! The initial weights are written before training starts and never overwritten by a resumed run;
//! when missing (a run made before they were saved) `pretrain --resume` regenerates them, bit for bit,
//! also for a finished run.
//! [`crate::encoders::load_encoder`] rebuilds any method's encoder from such a directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use physrep_core::write_atomic;
use physrep_nn::conv_jepa::save_safetensors;
use physrep_nn::{CpuAutodiff, KernelBackend};
use physrep_well::WellDataset;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{load_module, Checkpoint};
use crate::config::{apply_overrides, merge_toml, DataConfig, Preset, TrainConfig};
use crate::data::{DataSource, Phase};
use crate::error::TrainError;
use crate::method::Method;
use crate::methods::{DiscoMethod, JepaMethod, MethodConfig, MethodKind, MppMethod, SupervisedMethod, VideoMaeMethod};
use crate::trainer::{init_model, save_weights, train, RunControl, INIT_WEIGHTS};
use crate::well_source::WellSource;

/// A whole pretraining run: method, data, optimisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainConfig {
    pub method: MethodConfig,
    pub data: DataConfig,
    pub train: TrainConfig,
}

impl PretrainConfig {
    /// The preset configuration of `method` for the dataset `dataset` (`channels` channels) in `dir`.
    ///
    /// * `paper`: 224², the paper's per-dataset optimisation (§9) with physrep's fixes (§13).
    /// * `default`: as `paper` at 64² (physrep's CPU protocol).
    /// * `small`: 64², the paper's model, global batch 32, 5 epochs (1 warm-up), 16 valid batches.
    /// * `tiny`: 32², a ~23 k-parameter model, micro 2 × accum 2, at most 10 updates — seconds.
    ///
    /// JEPA at 64² (`small`, `default`) trains micro-batches of 16 clips (same global batch) with one
    /// VICReg chunk, so that the chunk has more rows than embedding dimensions
    /// ([`crate::objectives::VicregConfig::check_rows`]); JEPA `tiny` fails that check unless overridden.
    ///
    /// The model is the method's preset ([`MethodConfig::preset`]). VideoMAE keeps its own optimisation
    /// recipe: lr = 1.5e-4 × global_batch / 256 and min_lr = 1e-5 × global_batch / 256 (betas 0.9/0.95,
    /// weight decay 0.05), applied here to the preset's global batch
    /// ([`crate::methods::VideoMaeMethodConfig::apply_recipe`]); epochs, warm-up and batches stay the preset's.
    pub fn preset(preset: Preset, method: MethodKind, dataset: &str, channels: usize, dir: &Path) -> Result<Self, TrainError> {
        let paper = TrainConfig::paper(dataset);
        let data = DataConfig { dir: dir.to_path_buf(), ..DataConfig::default() };
        let (data, train) = match preset {
            Preset::Paper => (data, paper),
            Preset::Medium => (DataConfig { resolution: 64, ..data }, paper),
            Preset::Small => (
                DataConfig { resolution: 64, ..data },
                TrainConfig { epochs: 5, warmup_epochs: 1.0, global_batch: 32, max_valid_batches: Some(16), ..paper },
            ),
            Preset::Tiny => (
                DataConfig { resolution: 32, workers: 1, ..data },
                TrainConfig {
                    epochs: 2,
                    warmup_epochs: 0.0,
                    micro_batch: 2,
                    global_batch: 4,
                    checkpoint_every: 5,
                    max_updates: Some(10),
                    max_valid_batches: Some(2),
                    ..paper
                },
            ),
        };
        let method = MethodConfig::preset(method, preset, channels)?;
        let train = match &method {
            MethodConfig::VideoMae(c) => c.apply_recipe(train),
            // VICReg's rows per chunk at 64² (see `JepaConfig::preset`).
            MethodConfig::Jepa(_) if matches!(preset, Preset::Small | Preset::Medium) => TrainConfig { micro_batch: 16, ..train },
            MethodConfig::Jepa(_) | MethodConfig::Mpp(_) | MethodConfig::Disco(_) | MethodConfig::Supervised(_) => train,
        };
        Ok(PretrainConfig { method, data, train })
    }

    /// Check every section against itself and the data's channel count.
    pub fn validate(&self, channels: usize) -> Result<(), TrainError> {
        self.train.validate()?;
        self.data.validate()?;
        self.method.validate(&self.data, self.train.micro_batch, channels)
    }

    /// Apply `key=value` overrides (see [`apply_overrides`]) and validate.
    pub fn with_overrides<S: AsRef<str>>(self, overrides: &[S], channels: usize) -> Result<Self, TrainError> {
        let cfg: PretrainConfig = apply_overrides(&self, overrides)?;
        cfg.validate(channels)?;
        Ok(cfg)
    }
}

/// What `physrep pretrain` (and `reproduce`) asks for.
#[derive(Clone, Debug)]
pub struct PretrainOptions {
    pub method: MethodKind,
    /// Dataset directory in The Well's layout.
    pub data: PathBuf,
    /// Run directory.
    pub out: PathBuf,
    /// Starting point (`None` = `default` for a new run, the stored config when resuming).
    pub preset: Option<Preset>,
    /// A partial TOML config merged onto the preset.
    pub config_file: Option<PathBuf>,
    /// `key=value` overrides applied last.
    pub overrides: Vec<String>,
    /// Continue the run in `out` from its newest checkpoint.
    pub resume: bool,
    /// Draw a progress bar.
    pub progress: bool,
    /// Stop after this many updates (a simulated interruption; the run stays resumable).
    pub stop_after: Option<u64>,
    /// Where the model trains.
    pub device: Device,
}

/// The compute device of a run. Runs are bit-reproducible on [`Device::Cpu`] only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// burn's flex backend with physrep's CPU kernels.
    #[default]
    Cpu,
    /// burn's CUDA backend (first GPU); needs a build with `--features cuda`. Run on an H200: it trains
    /// and resumes; inference is on par with PyTorch, a training step 7–11× slower (BENCHMARKS.md).
    Cuda,
}

impl PretrainOptions {
    /// A new run of `method` on `data` into `out`, default preset, no overrides.
    pub fn new(method: MethodKind, data: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        PretrainOptions {
            method,
            data: data.into(),
            out: out.into(),
            preset: None,
            config_file: None,
            overrides: Vec::new(),
            resume: false,
            progress: false,
            stop_after: None,
            device: Device::Cpu,
        }
    }
}

impl Device {
    /// Whether this device can run here: an error for `cuda` in a build without the `cuda` feature,
    /// or when burn's CUDA runtime cannot start (no driver library, no GPU), instead of the panic
    /// that the runtime's device thread raises at the first tensor.
    pub fn check(self) -> Result<(), TrainError> {
        match self {
            Device::Cpu => Ok(()),
            #[cfg(not(feature = "cuda"))]
            Device::Cuda => Err(no_cuda()),
            #[cfg(feature = "cuda")]
            Device::Cuda => {
                let probe = || burn::tensor::Tensor::<burn::backend::Cuda, 1>::ones([1], &Default::default()).into_scalar();
                std::panic::catch_unwind(probe).map(|_| ()).map_err(|_| {
                    TrainError::config("device", "burn's CUDA runtime could not start (see the message above): is there an NVIDIA GPU, and are libcuda.so and libnvrtc.so on LD_LIBRARY_PATH?")
                })
            }
        }
    }
}

impl std::str::FromStr for Device {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda),
            _ => Err(TrainError::config("device", format!("unknown device `{s}` (expected cpu or cuda)"))),
        }
    }
}

/// Static facts about a run, written to `RUN/run.json` before training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    pub physrep_version: String,
    pub method: MethodKind,
    pub dataset: String,
    pub data_dir: PathBuf,
    /// Flattened channel names, in the order the encoder sees them.
    pub channel_names: Vec<String>,
    pub label_names: Vec<String>,
    pub context_frames: usize,
    pub target_frames: usize,
    pub resolution: usize,
    pub token_dim: usize,
    pub train_windows: usize,
    pub micro_batches_per_epoch: usize,
    pub accum: usize,
}

/// The outcome of a run (the contents of `RUN/DONE`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    pub method: MethodKind,
    pub dataset: String,
    /// Optimiser updates done.
    pub updates: u64,
    /// Updates of the full schedule.
    pub total_updates: u64,
    /// False when stopped early (`stop_after`); such a run has no `DONE` and can be resumed.
    pub finished: bool,
    /// Mean training loss of the last update.
    pub final_loss: Option<f64>,
    /// Loss of the last validation pass.
    pub final_valid_loss: Option<f64>,
    /// Wall-clock seconds of this invocation.
    pub seconds: f64,
}

/// Paths inside a run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub dir: PathBuf,
}

impl RunDir {
    pub fn new(dir: &Path) -> Self {
        RunDir { dir: dir.to_path_buf() }
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join("run.json")
    }
    pub fn metrics_path(&self) -> PathBuf {
        self.dir.join("metrics.jsonl")
    }
    pub fn checkpoints(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }
    pub fn model_path(&self) -> PathBuf {
        self.dir.join("model.mpk")
    }
    pub fn encoder_safetensors(&self) -> PathBuf {
        self.dir.join("encoder.safetensors")
    }
    pub fn done_path(&self) -> PathBuf {
        self.dir.join("DONE")
    }
    /// The weights before the first update ([`crate::trainer::INIT_WEIGHTS`]).
    pub fn init_model_path(&self) -> PathBuf {
        self.dir.join(INIT_WEIGHTS)
    }
    pub fn init_encoder_safetensors(&self) -> PathBuf {
        self.dir.join("init-encoder.safetensors")
    }

    /// The resolved config stored in `config.toml`.
    pub fn config(&self) -> Result<PretrainConfig, TrainError> {
        let p = self.config_path();
        let text = fs::read_to_string(&p).map_err(|e| TrainError::io(&p, e))?;
        toml::from_str(&text).map_err(|e| TrainError::Format { path: p, message: e.to_string() })
    }

    /// The manifest stored in `run.json`.
    pub fn manifest(&self) -> Result<RunManifest, TrainError> {
        read_json(&self.manifest_path())
    }

    /// The summary stored in `DONE`, if the run finished.
    pub fn summary(&self) -> Result<Option<RunSummary>, TrainError> {
        let p = self.done_path();
        if p.exists() {
            read_json(&p).map(Some)
        } else {
            Ok(None)
        }
    }

    /// An error unless the run finished.
    pub fn require_done(&self) -> Result<(), TrainError> {
        if self.done_path().exists() {
            Ok(())
        } else {
            Err(TrainError::RunDir {
                path: self.dir.clone(),
                message: "has no DONE marker: the run did not finish (continue it with `physrep pretrain --resume`)".into(),
            })
        }
    }
}

fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T, TrainError> {
    let text = fs::read_to_string(p).map_err(|e| TrainError::io(p, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Format { path: p.to_path_buf(), message: e.to_string() })
}

/// Dotted paths whose values differ between two configs (for a clear resume error).
fn config_diff(a: &PretrainConfig, b: &PretrainConfig) -> Vec<String> {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, at: String, out: &mut Vec<String>) {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                for (k, v) in x {
                    let path = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
                    walk(v, y.get(k).unwrap_or(&serde_json::Value::Null), path, out);
                }
            }
            _ if a != b => out.push(format!("{at}: stored {b}, asked {a}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&serde_json::to_value(a).expect("serialise"), &serde_json::to_value(b).expect("serialise"), String::new(), &mut out);
    out
}

/// The configuration a new run with `opts` would use on `ds` (preset → config file → overrides, validated).
pub fn resolve_config(opts: &PretrainOptions, ds: &WellDataset) -> Result<PretrainConfig, TrainError> {
    let preset = opts.preset.unwrap_or(Preset::Medium);
    let mut cfg = PretrainConfig::preset(preset, opts.method, ds.name(), ds.n_channels(), &opts.data)?;
    // The supervised head predicts the dataset's label columns, as the encoder reads its channels.
    if let MethodConfig::Supervised(c) = &mut cfg.method {
        c.num_labels = ds.label_names().len();
    }
    if let Some(path) = &opts.config_file {
        let text = fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        cfg = merge_toml(&cfg, &text, path)?;
    }
    let cfg = cfg.with_overrides(&opts.overrides, ds.n_channels())?;
    if let MethodConfig::Supervised(c) = &cfg.method {
        c.check_labels(ds.label_names())?;
    }
    Ok(cfg)
}

/// Run (or resume) a pretraining run; see the module docs for what it writes.
pub fn pretrain(opts: &PretrainOptions) -> Result<RunSummary, TrainError> {
    opts.device.check()?;
    let started = Instant::now();
    let run = RunDir::new(&opts.out);
    let _lock = physrep_core::DirLock::exclusive(&opts.out, "physrep pretrain")?;
    let ds = Arc::new(WellDataset::open(&opts.data)?);
    let cfg = prepare_run_dir(opts, &run, &ds)?;
    if let Some(done) = run.summary()? {
        on_device(opts.device, &cfg, &run, Job::Exports)?;
        return Ok(done);
    }
    if cfg.train.threads > 0 {
        // The global pool can only be set once per process; a second run keeps the first size.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(cfg.train.threads).build_global();
    }
    let source = WellSource::new(ds.clone(), &cfg.data, cfg.train.micro_batch, cfg.train.noise_std, cfg.train.seed)?;
    let manifest = RunManifest {
        physrep_version: env!("CARGO_PKG_VERSION").to_string(),
        method: cfg.method.kind(),
        dataset: ds.name().to_string(),
        data_dir: opts.data.clone(),
        channel_names: ds.channel_names().to_vec(),
        label_names: ds.label_names().to_vec(),
        context_frames: cfg.data.context_frames,
        target_frames: cfg.data.target_frames,
        resolution: cfg.data.resolution,
        token_dim: cfg.method.token_dim(),
        train_windows: source.train_windows(),
        micro_batches_per_epoch: source.batches_per_epoch(Phase::Train),
        accum: cfg.train.accum(),
    };
    write_atomic(&run.manifest_path(), &serde_json::to_vec_pretty(&manifest).expect("serialise"))?;
    let control = RunControl { resume: opts.resume, stop_after: opts.stop_after, progress: opts.progress };
    let out = on_device(opts.device, &cfg, &run, Job::Train(&source, &control))?.expect("a training job has an outcome");
    let RunOutcome { state, schedule, finished, last_loss, last_valid_loss } = out;
    let summary = RunSummary {
        run_dir: run.dir.clone(),
        method: cfg.method.kind(),
        dataset: ds.name().to_string(),
        updates: state.update,
        total_updates: schedule.total,
        finished,
        final_loss: last_loss,
        final_valid_loss: last_valid_loss,
        seconds: started.elapsed().as_secs_f64(),
    };
    if finished {
        write_atomic(&run.done_path(), &serde_json::to_vec_pretty(&summary).expect("serialise"))?;
    }
    Ok(summary)
}

/// Final weights of the whole model.
/// What [`pretrain`] keeps of a training loop's outcome (the model is saved by then).
struct RunOutcome {
    state: crate::checkpoint::LoopState,
    schedule: crate::engine::LrSchedule,
    finished: bool,
    last_loss: Option<f64>,
    last_valid_loss: Option<f64>,
}

#[cfg(not(feature = "cuda"))]
fn no_cuda() -> TrainError {
    TrainError::config("device", "this build has no CUDA backend; rebuild with `cargo build --release -p physrep-cli --features cuda`")
}

/// What [`run_config`] does with a run's method.
#[derive(Clone, Copy)]
enum Job<'a> {
    /// Train on the data (writing the initial weights first, see [`crate::trainer::INIT_WEIGHTS`]).
    Train(&'a WellSource, &'a RunControl),
    /// Only write what a finished run lacks: its initial weights and the encoder exports of the initial
    /// and the trained weights (a run made before they were saved, or an export deleted).
    Exports,
}

/// [`run_config`] on the backend of `device`.
fn on_device(device: Device, cfg: &PretrainConfig, run: &RunDir, job: Job) -> Result<Option<RunOutcome>, TrainError> {
    match device {
        Device::Cpu => run_config::<CpuAutodiff>(cfg, run, job, &Default::default()),
        #[cfg(feature = "cuda")]
        Device::Cuda => run_config::<burn::backend::Autodiff<burn::backend::Cuda>>(cfg, run, job, &Default::default()),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda => Err(no_cuda()),
    }
}

/// Export a method's encoder as safetensors under its reference names (`None`: no such export).
type Export<'a, M> = Option<&'a dyn Fn(&M, &Path) -> Result<(), TrainError>>;

/// Build `cfg`'s method and run `job` on backend `B` (see [`run_method`]).
fn run_config<B: AutodiffBackend + KernelBackend>(
    cfg: &PretrainConfig,
    run: &RunDir,
    job: Job,
    device: &B::Device,
) -> Result<Option<RunOutcome>, TrainError> {
    let model_err = |e: &dyn std::fmt::Display| TrainError::config("method.model", e.to_string());
    let export_err = |e: &dyn std::fmt::Display| TrainError::Model(e.to_string());
    let train = &cfg.train;
    match &cfg.method {
        MethodConfig::Jepa(c) => {
            let export =
                |m: &<JepaMethod as Method<B>>::Model, p: &Path| save_safetensors(&m.encoder, "encoder", p).map_err(|e| export_err(&e));
            run_method::<B, _>(&JepaMethod { config: c.clone() }, train, run, job, device, Some(&export))
        }
        MethodConfig::Supervised(c) => {
            let export = |m: &<SupervisedMethod as Method<B>>::Model, p: &Path| {
                save_safetensors(&m.encoder, "encoder", p).map_err(|e| export_err(&e))
            };
            run_method::<B, _>(&SupervisedMethod { config: c.clone() }, train, run, job, device, Some(&export))
        }
        MethodConfig::Mpp(c) => run_method::<B, _>(&MppMethod::new(c.clone()).map_err(|e| model_err(&e))?, train, run, job, device, None),
        MethodConfig::Disco(c) => {
            run_method::<B, _>(&DiscoMethod::new(c.clone()).map_err(|e| model_err(&e))?, train, run, job, device, None)
        }
        MethodConfig::VideoMae(c) => {
            let export =
                |m: &<VideoMaeMethod as Method<B>>::Model, p: &Path| m.encoder.save_pytorch_safetensors(p).map_err(|e| export_err(&e));
            run_method::<B, _>(&VideoMaeMethod::new(c.clone()).map_err(|e| model_err(&e))?, train, run, job, device, Some(&export))
        }
    }
}

/// Run `job` for `method`: train (once the schedule has run to its end, save the model, `model.mpk`
/// in inference form, and `export` the encoder beside it), and make sure the initial weights and their
/// encoder export exist.
fn run_method<B: AutodiffBackend, M: Method<B>>(
    method: &M,
    cfg: &TrainConfig,
    run: &RunDir,
    job: Job,
    device: &B::Device,
    export: Export<M::Model>,
) -> Result<Option<RunOutcome>, TrainError> {
    let outcome = match job {
        Job::Train(source, control) => Some(train::<B, _>(method, source, cfg, &run.dir, control, device)?),
        Job::Exports => {
            fs::create_dir_all(&run.dir).map_err(|e| TrainError::io(&run.dir, e))?;
            if !run.init_model_path().exists() {
                save_weights(&init_model(method, cfg.seed, device), &run.init_model_path())?;
            }
            None
        }
    };
    if let Some(export) = export {
        if !run.init_encoder_safetensors().exists() {
            let initial = load_module(init_model(method, cfg.seed, device), &run.init_model_path(), device)?;
            export(&initial, &run.init_encoder_safetensors())?;
        }
        if outcome.is_none() && run.model_path().exists() && !run.encoder_safetensors().exists() {
            let trained = load_module(init_model(method, cfg.seed, device), &run.model_path(), device)?;
            export(&trained, &run.encoder_safetensors())?;
        }
    }
    let Some(out) = outcome else { return Ok(None) };
    if out.finished {
        save_weights(&out.model, &run.model_path())?;
        if let Some(export) = export {
            export(&out.model, &run.encoder_safetensors())?;
        }
    }
    Ok(Some(RunOutcome {
        state: out.state,
        schedule: out.schedule,
        finished: out.finished,
        last_loss: out.last_loss,
        last_valid_loss: out.last_valid_loss,
    }))
}

/// Check that `opts` fits the run directory and write the resolved config of a new run.
fn prepare_run_dir(opts: &PretrainOptions, run: &RunDir, ds: &WellDataset) -> Result<PretrainConfig, TrainError> {
    let err = |message: String| TrainError::RunDir { path: run.dir.clone(), message };
    let stored_exists = run.config_path().exists();
    if !opts.resume {
        // A run that failed or was stopped before its first checkpoint has nothing to resume: a new run replaces it.
        let started = run.done_path().exists() || !Checkpoint::list(&run.checkpoints())?.is_empty();
        if started {
            return Err(err("already holds a run; pass --resume to continue it or choose another --out".into()));
        }
        if stored_exists {
            eprintln!("{}: replacing a run that never reached its first checkpoint", run.dir.display());
        }
        let cfg = resolve_config(opts, ds)?;
        fs::create_dir_all(&run.dir).map_err(|e| TrainError::io(&run.dir, e))?;
        let text = toml::to_string(&cfg).map_err(|e| err(format!("cannot write config.toml: {e}")))?;
        write_atomic(&run.config_path(), text.as_bytes())?;
        return Ok(cfg);
    }
    if !stored_exists {
        return Err(err("has no config.toml to resume from (start a new run without --resume)".into()));
    }
    let stored = run.config()?;
    if stored.method.kind() != opts.method {
        return Err(err(format!("holds a `{}` run, not `{}`", stored.method.kind(), opts.method)));
    }
    let asked = if opts.preset.is_some() || opts.config_file.is_some() {
        resolve_config(opts, ds)?
    } else {
        stored.clone().with_overrides(&opts.overrides, ds.n_channels())?
    };
    let diff = config_diff(&asked, &stored);
    if !diff.is_empty() {
        return Err(err(format!("a resumed run keeps its config, but these values differ: {}", diff.join("; "))));
    }
    Ok(stored)
}
