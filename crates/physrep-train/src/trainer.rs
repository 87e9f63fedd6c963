//! Pretraining on the [`crate::engine`]: a [`Method`] on a [`DataSource`], with a run directory.
//!
//! Per micro-batch the engine does forward → loss share → `backward` → accumulate; after exactly
//! `accum` micro-batches one AdamW update with `lr_k` of update `k` (warm-up + cosine, [`LrSchedule`]).
//! Micro-batches left over at an epoch's end (fewer than `accum`) are dropped, never carried into the
//! next epoch (`docs/paper-protocol.md` §13, D4). Each epoch reads the training split in the order of
//! `seed + epoch` (the data source's); the objective's randomness comes from [`StepContext`] alone;
//! nothing else draws random numbers, so a run resumed from a checkpoint repeats the uninterrupted run
//! bit for bit on the CPU (same thread count).
//!
//! Outputs in the run directory: `init.mpk` (the model's exact weights before the first update, see
//! [`INIT_WEIGHTS`]), `metrics.jsonl` (one JSON object per logged update, `"kind": "train"`, and per
//! epoch, `"kind": "valid"`) and `checkpoints/update-*/`.

use std::fs;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::AdamWConfig;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use physrep_core::write_atomic;
use serde_json::{json, Map};

use crate::checkpoint::{module_bytes, LoopState};
use crate::config::TrainConfig;
use crate::data::{DataSource, HostBatch, Phase};
use crate::engine::{Engine, Flow, LrPolicy, LrSchedule, MetricsLog, Micro, Step, Tally, UpdateReport};
use crate::error::TrainError;
use crate::method::{Method, StepContext, StepOutput};

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

/// A [`Method`] as an engine [`Step`]: host batches are copied to the device, then forwarded.
struct MethodStep<'a, B: AutodiffBackend, M> {
    method: &'a M,
    device: &'a B::Device,
}

impl<B: AutodiffBackend, M: Method<B>> Step<B> for MethodStep<'_, B, M> {
    type Model = M::Model;
    type Input = HostBatch;

    fn forward(&self, model: &M::Model, input: &HostBatch, ctx: &StepContext) -> Result<StepOutput<B>, TrainError> {
        self.method.forward(model, &input.to_tensors::<B>(self.device), ctx)
    }
}

fn check_batch(batch: &HostBatch, micro_batch: usize, index: usize, epoch: u64) -> Result<(), TrainError> {
    if batch.len() != micro_batch {
        return Err(TrainError::Shape {
            what: format!("training micro-batch {index} of epoch {epoch}"),
            got: batch.context.shape().to_vec(),
            expected: format!("{micro_batch} samples (train.micro_batch)"),
        });
    }
    Ok(())
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
    let ckpt_root = run_dir.join("checkpoints");
    let (mut engine, metrics_len) = start(method, cfg, run_dir, control.resume, LrPolicy::Cosine(schedule), device)?;
    let mut log = MetricsLog::open(&run_dir.join("metrics.jsonl"), metrics_len)?;
    let step = MethodStep::<B, M> { method, device };
    let samples = (accum * cfg.micro_batch) as f64;
    let bar = physrep_core::Progress::new(schedule.total, "pretrain", "updates", control.progress);
    bar.set_position(engine.state.update);
    let mut last_loss = None;
    let mut last_valid_loss = None;
    let run_started = Instant::now();

    while !engine.finished() {
        let (epoch, start) = (engine.state.epoch, engine.state.batch);
        if start < usable {
            let micros = data.batches(Phase::Train, epoch, start)?.take(usable - start).enumerate().map(|(i, item)| {
                let input = item?;
                check_batch(&input, cfg.micro_batch, start + i, epoch)?;
                let closes_update = (start + i + 1) % accum == 0;
                Ok(Micro { rows: input.len(), update_rows: accum * cfg.micro_batch, closes_update, input })
            });
            let flow = engine.run(&step, micros, |engine, report| {
                let update = engine.state.update;
                last_loss = Some(report.tally.mean_loss());
                if update % cfg.log_every == 0 || update == schedule.total {
                    log.write(&train_record(epoch, update, report, samples, run_started))?;
                }
                bar.set_message(format!("loss {:.4}  {:.1} samples/s", report.tally.mean_loss(), samples / report.seconds));
                bar.inc(1);
                let stopping = control.stop_after == Some(update) && update < schedule.total;
                // A stop always leaves a checkpoint, so `--resume` continues exactly there.
                if update % cfg.checkpoint_every == 0 || update == schedule.total || stopping {
                    engine.save(&ckpt_root, cfg.keep_checkpoints, log.len(), None, &[])?;
                }
                Ok(if stopping { Flow::Stop } else { Flow::Continue })
            })?;
            if flow == Flow::Stop {
                bar.abandon();
                let (state, model) = (engine.state, engine.into_model());
                return Ok(TrainOutcome { model, state, schedule, finished: false, last_loss, last_valid_loss });
            }
            if engine.state.batch < usable && !engine.finished() {
                return Err(TrainError::NoData(format!(
                    "the train split ended after {} of {usable} micro-batches in epoch {epoch}",
                    engine.state.batch
                )));
            }
        }
        // End of the epoch (or of the run): validation, then the next epoch.
        if let Some((valid, batches)) = validate(&engine, &step, data, cfg)? {
            let mut rec = Map::new();
            rec.insert("kind".into(), json!("valid"));
            rec.insert("epoch".into(), json!(engine.state.epoch));
            rec.insert("update".into(), json!(engine.state.update));
            rec.insert("batches".into(), json!(batches));
            valid.write_into(&mut rec);
            last_valid_loss = Some(valid.mean_loss());
            log.write(&rec)?;
        }
        engine.end_epoch(None);
    }
    bar.finish();
    let (state, model) = (engine.state, engine.into_model());
    Ok(TrainOutcome { model, state, schedule, finished: true, last_loss, last_valid_loss })
}

/// AdamW on a method's model.
type AdamW<B, M> = burn::optim::adaptor::OptimizerAdaptor<burn::optim::AdamW, <M as Method<B>>::Model, B>;

/// The engine of a pretraining run.
type PretrainEngine<B, M> = Engine<B, <M as Method<B>>::Model, AdamW<B, M>>;

/// The engine a run starts from, and the byte length of `metrics.jsonl` to keep: with `resume`, the newest
/// intact checkpoint of `RUN/checkpoints` (none: a fresh start); otherwise a fresh start, which removes old
/// checkpoints. Writes `init.mpk` on a fresh start, or where a resumed run lacks it.
fn start<B: AutodiffBackend, M: Method<B>>(
    method: &M,
    cfg: &TrainConfig,
    run_dir: &Path,
    resume: bool,
    policy: LrPolicy,
    device: &B::Device,
) -> Result<(PretrainEngine<B, M>, u64), TrainError> {
    fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
    let ckpt_root = run_dir.join("checkpoints");
    let new_optim = || {
        AdamWConfig::new()
            .with_beta_1(cfg.beta1)
            .with_beta_2(cfg.beta2)
            .with_epsilon(cfg.eps)
            .with_weight_decay(cfg.weight_decay)
            .init::<B, M::Model>()
    };
    let resumed = match resume {
        true => Engine::resume(&ckpt_root, || init_model(method, cfg.seed, device), new_optim, policy.clone(), cfg.seed, device)?,
        false => None,
    };
    let initial = init_model(method, cfg.seed, device);
    let init_path = run_dir.join(INIT_WEIGHTS);
    // A fresh start owns the file (a previous run in this directory may have had another seed).
    if resumed.is_none() || !init_path.exists() {
        save_weights(&initial, &init_path)?;
    }
    Ok(match resumed {
        Some((engine, _, saved)) => (engine, saved.position.metrics_len),
        None => {
            if ckpt_root.exists() {
                fs::remove_dir_all(&ckpt_root).map_err(|e| TrainError::io(&ckpt_root, e))?;
            }
            (Engine::new(initial, new_optim(), policy, cfg.seed), 0)
        }
    })
}

/// The `metrics.jsonl` record of update `update`.
fn train_record(epoch: u64, update: u64, report: &UpdateReport, samples: f64, run_started: Instant) -> Map<String, serde_json::Value> {
    let mut rec = Map::new();
    rec.insert("kind".into(), json!("train"));
    rec.insert("epoch".into(), json!(epoch));
    rec.insert("update".into(), json!(update));
    rec.insert("lr".into(), json!(report.lr));
    rec.insert("grad_norm".into(), json!(report.grad_norm));
    report.tally.write_into(&mut rec);
    rec.insert("samples_per_s".into(), json!(samples / report.seconds));
    rec.insert("elapsed_s".into(), json!(run_started.elapsed().as_secs_f64()));
    rec
}

/// Loss (sample-weighted mean) and collapse statistics on `valid`, with the same inputs every epoch.
fn validate<B, M, O>(
    engine: &Engine<B, M::Model, O>,
    step: &MethodStep<B, M>,
    data: &dyn DataSource,
    cfg: &TrainConfig,
) -> Result<Option<(Tally, usize)>, TrainError>
where
    B: AutodiffBackend,
    M: Method<B>,
    O: burn::optim::Optimizer<M::Model, B>,
{
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
        let out = engine.forward(step, &host, &ctx)?;
        tally.add(host.len() as f64, out.value, &out.terms, out.embeddings.as_ref());
        count += 1;
    }
    Ok((count > 0).then_some((tally, count)))
}
