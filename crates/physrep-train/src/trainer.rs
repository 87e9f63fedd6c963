//! The one training loop, written out explicitly (every method shares it).
//!
//! Per micro-batch: forward → loss / accum → `backward` → [`GradientsParams`] → accumulate.
//! After exactly `accum` micro-batches: gradient norm, `lr_k` of update `k`, `optimizer.step`.
//! Micro-batches left over at an epoch's end (fewer than `accum`) are dropped, never carried into
//! the next epoch (`paper-protocol.md` §13, D4). Each epoch reads the training split in the order
//! of `seed + epoch`; the objective's randomness comes from [`StepContext`] alone; nothing else
//! draws random numbers, so a run resumed from a checkpoint repeats the uninterrupted run bit for
//! bit on the CPU (same thread count).
//!
//! Outputs in the run directory: `init.mpk` (the model's exact weights before the first update, see
//! [`INIT_WEIGHTS`]), `metrics.jsonl` (one JSON object per logged update, `"kind": "train"`, and per
//! epoch, `"kind": "valid"`) and `checkpoints/update-*/`.

use std::fs;
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ElementConversion;
use physrep_core::write_atomic;
use serde_json::{json, Map, Value};

use crate::checkpoint::{load_module, module_bytes, read_record, record_bytes, Checkpoint, LoopState};
use crate::config::TrainConfig;
use crate::data::{DataSource, HostBatch, Phase};
use crate::error::TrainError;
use crate::method::{Method, StepContext};
use crate::monitor::{collapse_stats, CollapseStats};
use crate::schedule::LrSchedule;

/// Rows of embeddings kept per update / per validation pass for collapse statistics.
pub const MAX_MONITOR_ROWS: usize = 4096;

/// File of a run directory holding the weights the loop starts from (`init_model(method, seed)`,
/// inference form, named MessagePack): the paired own-init control of a trained encoder. Written
/// atomically before the first update (a fresh start overwrites it); a resumed run keeps an existing file
/// and regenerates a missing one (the same weights bit for bit: [`init_model`] is deterministic for a
/// seed on a given backend; only the parameter ids the file also stores are drawn anew).
pub const INIT_WEIGHTS: &str = "init.mpk";

/// Salt of the validation pass's objective seed (fixed across epochs, distinct from training).
const VALID_SALT: u64 = 0x5641_4C49_4400_0000;

/// How to run (not part of the config: the same config may be run in several ways).
#[derive(Clone, Debug, Default)]
pub struct RunControl {
    /// Continue from the newest checkpoint in `RUN/checkpoints` (fresh start if there is none).
    pub resume: bool,
    /// Stop after this many updates without changing the schedule (a simulated interruption).
    pub stop_after: Option<u64>,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// What a call to [`train`] leaves behind.
pub struct TrainOutcome<M> {
    /// The trained model.
    pub model: M,
    /// Where the loop stopped.
    pub state: LoopState,
    /// The schedule that was followed.
    pub schedule: LrSchedule,
    /// True when the schedule ran to its end (false after `stop_after`).
    pub finished: bool,
    /// Mean training loss of the last update.
    pub last_loss: Option<f64>,
    /// Loss of the last validation pass.
    pub last_valid_loss: Option<f64>,
}

static INIT_LOCK: Mutex<()> = Mutex::new(());

/// Build the method's model from `seed`, with every (lazily initialised) parameter materialised
/// while holding a process-wide lock, so the backend's global RNG cannot be interleaved by other
/// threads and the same seed always gives the same weights.
pub fn init_model<B: AutodiffBackend, M: Method<B>>(method: &M, seed: u64, device: &B::Device) -> M::Model {
    let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    B::seed(device, seed);
    let model = method.init(device);
    model.visit(&mut Materialise);
    model
}

/// Write `model`'s weights (inference form) to `path` atomically.
pub fn save_weights<B: AutodiffBackend, M: AutodiffModule<B>>(model: &M, path: &Path) -> Result<(), TrainError> {
    let bytes = module_bytes::<B::InnerBackend, _>(&model.clone().valid(), path)?;
    Ok(write_atomic(path, &bytes)?)
}

struct Materialise;
impl<B: Backend> ModuleVisitor<B> for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let _ = param.val();
    }
}

/// L2 norm over all parameters of the accumulated gradients.
struct GradNorm<'a, B> {
    grads: &'a GradientsParams,
    sum_sq: f64,
    _b: PhantomData<B>,
}
impl<B: AutodiffBackend> ModuleVisitor<B> for GradNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            self.sum_sq += g.square().sum().into_scalar().elem::<f64>();
        }
    }
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
    t.into_scalar().elem::<f64>()
}

/// Running sums over the micro-batches of one update (or one validation pass).
#[derive(Default)]
struct Tally {
    weight: f64,
    loss: f64,
    terms: Vec<(String, f64)>,
    rows: Vec<f32>,
    dim: usize,
}

impl Tally {
    fn add(&mut self, w: f64, loss: f64, terms: &[(String, f64)], emb: Option<(Vec<f32>, usize)>) {
        self.weight += w;
        self.loss += w * loss;
        for (name, v) in terms {
            match self.terms.iter_mut().find(|(n, _)| n == name) {
                Some((_, acc)) => *acc += w * v,
                None => self.terms.push((name.clone(), w * v)),
            }
        }
        if let Some((rows, dim)) = emb {
            self.dim = dim;
            let room = MAX_MONITOR_ROWS.saturating_sub(self.rows.len() / dim.max(1)) * dim;
            self.rows.extend_from_slice(&rows[..rows.len().min(room)]);
        }
    }

    fn mean_loss(&self) -> f64 {
        self.loss / self.weight
    }

    fn collapse(&self) -> Option<CollapseStats> {
        if self.dim == 0 {
            return None;
        }
        collapse_stats(&self.rows, self.rows.len() / self.dim, self.dim)
    }

    /// `loss`, every term and the collapse statistics into `rec`.
    fn write_into(&self, rec: &mut Map<String, Value>) {
        rec.insert("loss".into(), json!(self.mean_loss()));
        for (name, v) in &self.terms {
            rec.insert(name.clone(), json!(v / self.weight));
        }
        if let Some(c) = self.collapse() {
            rec.insert("emb_std_mean".into(), json!(c.std_mean));
            rec.insert("emb_std_min".into(), json!(c.std_min));
            rec.insert("emb_eff_rank".into(), json!(c.effective_rank));
        }
    }
}

/// Append-only JSONL writer that knows its byte length (stored in checkpoints).
struct MetricsLog {
    path: PathBuf,
    file: fs::File,
    len: u64,
}

impl MetricsLog {
    /// Open `path`, keeping only its first `keep` bytes (0 = start empty).
    fn open(path: &Path, keep: u64) -> Result<Self, TrainError> {
        let file =
            fs::OpenOptions::new().create(true).read(true).write(true).truncate(false).open(path).map_err(|e| TrainError::io(path, e))?;
        let have = file.metadata().map_err(|e| TrainError::io(path, e))?.len();
        if have < keep {
            return Err(TrainError::Format {
                path: path.to_path_buf(),
                message: format!("has {have} bytes but the checkpoint recorded {keep}"),
            });
        }
        file.set_len(keep).map_err(|e| TrainError::io(path, e))?;
        let mut log = MetricsLog { path: path.to_path_buf(), file, len: keep };
        use std::io::Seek;
        log.file.seek(std::io::SeekFrom::Start(keep)).map_err(|e| TrainError::io(&log.path, e))?;
        Ok(log)
    }

    fn write(&mut self, rec: &Map<String, Value>) -> Result<(), TrainError> {
        let mut line = serde_json::to_string(rec).expect("metrics serialise");
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(|e| TrainError::io(&self.path, e))?;
        self.file.flush().map_err(|e| TrainError::io(&self.path, e))?;
        self.len += line.len() as u64;
        Ok(())
    }
}

fn check_finite(term: &str, value: f64, state: &LoopState) -> Result<(), TrainError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(TrainError::NonFinite { term: term.to_string(), value, epoch: state.epoch, update: state.update, micro: state.micro })
    }
}

fn check_batch(batch: &HostBatch, micro_batch: usize, state: &LoopState) -> Result<(), TrainError> {
    if batch.len() != micro_batch {
        return Err(TrainError::Shape {
            what: format!("training micro-batch {} of epoch {}", state.batch, state.epoch),
            got: batch.context.shape().to_vec(),
            expected: format!("{micro_batch} samples (train.micro_batch)"),
        });
    }
    Ok(())
}

/// What [`forward_checked`] returns: the loss to back-propagate, its value, the logged terms, and the
/// embedding rows `(values, width)` for collapse monitoring.
type CheckedStep<B> = (Tensor<B, 1>, f64, Vec<(String, f64)>, Option<(Vec<f32>, usize)>);

/// Forward one batch and read back its loss, terms and embeddings (checked for NaN/Inf).
fn forward_checked<B: AutodiffBackend, M: Method<B>>(
    method: &M,
    model: &M::Model,
    host: &HostBatch,
    ctx: &StepContext,
    state: &LoopState,
    device: &B::Device,
) -> Result<CheckedStep<B>, TrainError> {
    let batch = host.to_tensors::<B>(device);
    let out = method.forward(model, &batch, ctx)?;
    let loss = scalar(out.loss.clone());
    check_finite("loss", loss, state)?;
    for (name, v) in &out.metrics {
        check_finite(name, *v, state)?;
    }
    let emb = out.embeddings.map(|e| {
        let [_, d] = e.dims();
        let rows = e.detach().into_data().convert::<f32>().to_vec::<f32>().expect("f32 embeddings");
        (rows, d)
    });
    Ok((out.loss, loss, out.metrics, emb))
}

/// Train `method` on `data` with `cfg`, writing metrics and checkpoints into `run_dir`.
pub fn train<B: AutodiffBackend, M: Method<B>>(
    method: &M,
    data: &dyn DataSource,
    cfg: &TrainConfig,
    run_dir: &Path,
    control: &RunControl,
    device: &B::Device,
) -> Result<TrainOutcome<M::Model>, TrainError> {
    cfg.validate()?;
    let accum = cfg.accum();
    let n_batches = data.batches_per_epoch(Phase::Train);
    let updates_per_epoch = (n_batches / accum) as u64;
    if updates_per_epoch == 0 {
        return Err(TrainError::NoData(format!(
            "the train split has {n_batches} micro-batches of {} samples; one update needs {accum}",
            cfg.micro_batch
        )));
    }
    let usable = updates_per_epoch as usize * accum;
    let schedule = LrSchedule::new(cfg.lr, cfg.min_lr, cfg.epochs, updates_per_epoch, cfg.warmup_epochs, cfg.max_updates);
    fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
    let ckpt_root = run_dir.join("checkpoints");
    let metrics_path = run_dir.join("metrics.jsonl");

    let new_optim = || {
        AdamWConfig::new()
            .with_beta_1(cfg.beta1)
            .with_beta_2(cfg.beta2)
            .with_epsilon(cfg.eps)
            .with_weight_decay(cfg.weight_decay)
            .init::<B, M::Model>()
    };
    let mut optim = new_optim();
    // The newest checkpoint that reads back whole (a truncated or corrupt newer one is reported and skipped).
    let mut resumed = None;
    if control.resume {
        let checkpoints = Checkpoint::list(&ckpt_root)?;
        let mut unreadable = Vec::new();
        for ck in checkpoints.iter().rev() {
            let restore = || -> Result<_, TrainError> {
                let state = ck.state()?;
                let model = load_module(init_model(method, cfg.seed, device), &ck.model_path(), device)?;
                let optim = new_optim().load_record(read_record::<B, _>(&ck.optim_path(), device)?);
                Ok((model, optim, state))
            };
            match restore() {
                Ok(found) => {
                    eprintln!("resuming from {} (update {})", ck.dir.display(), found.2.update);
                    resumed = Some(found);
                    break;
                }
                Err(e) => {
                    eprintln!("warning: skipping checkpoint {}: {e}", ck.dir.display());
                    unreadable.push(e.to_string());
                }
            }
        }
        // Every checkpoint is damaged: starting over would silently throw the run away.
        if resumed.is_none() && !checkpoints.is_empty() {
            return Err(TrainError::RunDir {
                path: run_dir.to_path_buf(),
                message: format!(
                    "no intact checkpoint to resume from ({}); delete {} to start the run over",
                    unreadable.join("; "),
                    ckpt_root.display()
                ),
            });
        }
    }
    let initial = init_model(method, cfg.seed, device);
    let init_path = run_dir.join(INIT_WEIGHTS);
    // A fresh start owns the file (a previous run in this directory may have had another seed).
    if resumed.is_none() || !init_path.exists() {
        save_weights(&initial, &init_path)?;
    }
    let (mut model, mut state) = match resumed {
        Some((model, restored, state)) => {
            optim = restored;
            (model, state)
        }
        None => {
            if ckpt_root.exists() {
                fs::remove_dir_all(&ckpt_root).map_err(|e| TrainError::io(&ckpt_root, e))?;
            }
            let state = LoopState { epoch: 0, batch: 0, update: 0, micro: 0, metrics_len: 0 };
            (initial, state)
        }
    };
    let mut log = MetricsLog::open(&metrics_path, state.metrics_len)?;

    let bar = physrep_core::Progress::new(schedule.total, "pretrain", "updates", control.progress);
    bar.set_position(state.update);
    let mut accumulator = GradientsAccumulator::<M::Model>::new();
    let mut tally = Tally::default();
    let mut last_loss = None;
    let mut last_valid_loss = None;
    let mut update_started = Instant::now();
    let run_started = Instant::now();

    while state.update < schedule.total {
        if state.batch < usable {
            let batches = data.batches(Phase::Train, state.epoch, state.batch)?;
            for item in batches {
                if state.batch >= usable || state.update >= schedule.total {
                    break;
                }
                let host = item?;
                check_batch(&host, cfg.micro_batch, &state)?;
                let ctx = StepContext { seed: cfg.seed, update: state.update, micro: state.micro };
                let (loss, loss_val, terms, emb) = forward_checked(method, &model, &host, &ctx, &state, device)?;
                tally.add(1.0, loss_val, &terms, emb);
                let grads = loss.div_scalar(accum as f64).backward();
                accumulator.accumulate(&model, GradientsParams::from_grads(grads, &model));
                state.batch += 1;
                state.micro += 1;
                if state.batch % accum != 0 {
                    continue;
                }
                // One optimiser update.
                let grads = accumulator.grads();
                let mut norm = GradNorm::<B> { grads: &grads, sum_sq: 0.0, _b: PhantomData };
                model.visit(&mut norm);
                let grad_norm = norm.sum_sq.sqrt();
                check_finite("grad_norm", grad_norm, &state)?;
                let lr = schedule.lr_at(state.update);
                model = optim.step(lr, model, grads);
                state.update += 1;
                let secs = update_started.elapsed().as_secs_f64();
                update_started = Instant::now();
                last_loss = Some(tally.mean_loss());
                if state.update % cfg.log_every == 0 || state.update == schedule.total {
                    let mut rec = Map::new();
                    rec.insert("kind".into(), json!("train"));
                    rec.insert("epoch".into(), json!(state.epoch));
                    rec.insert("update".into(), json!(state.update));
                    rec.insert("lr".into(), json!(lr));
                    rec.insert("grad_norm".into(), json!(grad_norm));
                    tally.write_into(&mut rec);
                    rec.insert("samples_per_s".into(), json!((accum * cfg.micro_batch) as f64 / secs));
                    rec.insert("elapsed_s".into(), json!(run_started.elapsed().as_secs_f64()));
                    log.write(&rec)?;
                }
                bar.set_message(format!("loss {:.4}  {:.1} samples/s", tally.mean_loss(), (accum * cfg.micro_batch) as f64 / secs));
                bar.inc(1);
                tally = Tally::default();
                let stopping = control.stop_after == Some(state.update) && state.update < schedule.total;
                // A stop always leaves a checkpoint, so `--resume` continues exactly there.
                if state.update % cfg.checkpoint_every == 0 || state.update == schedule.total || stopping {
                    save_checkpoint::<B, M>(&ckpt_root, &state, &model, &optim, &log, cfg.keep_checkpoints)?;
                }
                if stopping {
                    bar.abandon();
                    return Ok(TrainOutcome { model, state, schedule, finished: false, last_loss, last_valid_loss });
                }
            }
            if state.batch < usable && state.update < schedule.total {
                return Err(TrainError::NoData(format!(
                    "the train split ended after {} of {usable} micro-batches in epoch {}",
                    state.batch, state.epoch
                )));
            }
        }
        // End of the epoch (or of the run): validation, then the next epoch.
        if let Some(valid) = validate(method, &model, data, cfg, &state, device)? {
            let mut rec = Map::new();
            rec.insert("kind".into(), json!("valid"));
            rec.insert("epoch".into(), json!(state.epoch));
            rec.insert("update".into(), json!(state.update));
            rec.insert("batches".into(), json!(valid.1));
            valid.0.write_into(&mut rec);
            last_valid_loss = Some(valid.0.mean_loss());
            log.write(&rec)?;
        }
        state.epoch += 1;
        state.batch = 0;
    }
    bar.finish();
    Ok(TrainOutcome { model, state, schedule, finished: true, last_loss, last_valid_loss })
}

fn save_checkpoint<B: AutodiffBackend, M: Method<B>>(
    root: &Path,
    state: &LoopState,
    model: &M::Model,
    optim: &impl Optimizer<M::Model, B>,
    log: &MetricsLog,
    keep: usize,
) -> Result<(), TrainError> {
    let state = LoopState { metrics_len: log.len, ..*state };
    let model_bytes = module_bytes::<B, _>(model, &root.join("model.mpk"))?;
    let optim_bytes = record_bytes::<B, _>(optim.to_record(), &root.join("optim.mpk"))?;
    Checkpoint::save(root, &state, model_bytes, optim_bytes, keep)?;
    Ok(())
}

/// Loss (sample-weighted mean) and collapse statistics on `valid`, with the same inputs every epoch.
fn validate<B: AutodiffBackend, M: Method<B>>(
    method: &M,
    model: &M::Model,
    data: &dyn DataSource,
    cfg: &TrainConfig,
    state: &LoopState,
    device: &B::Device,
) -> Result<Option<(Tally, usize)>, TrainError> {
    let available = data.batches_per_epoch(Phase::Valid);
    let cap = cfg.max_valid_batches.map_or(available, |m| m.min(available));
    if cap == 0 {
        return Ok(None);
    }
    let mut tally = Tally::default();
    let mut count = 0;
    for (i, item) in data.batches(Phase::Valid, 0, 0)?.take(cap).enumerate() {
        let host = item?;
        let ctx = StepContext { seed: cfg.seed ^ VALID_SALT, update: 0, micro: i as u64 };
        let (_, loss, terms, emb) = forward_checked(method, model, &host, &ctx, state, device)?;
        tally.add(host.len() as f64, loss, &terms, emb);
        count += 1;
    }
    Ok((count > 0).then_some((tally, count)))
}
