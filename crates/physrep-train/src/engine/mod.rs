//! The one optimisation engine: pretraining ([`crate::train`]), the attentive probe and MPP's end-to-end
//! fine-tuning (`physrep-eval`) all drive it.
//!
//! A caller supplies a [`Step`] (the forward pass and loss of one micro-batch), a burn optimiser, an
//! [`LrPolicy`] and, per epoch, a sequence of [`Micro`]s in a seeded order ([`Grouping`],
//! [`shuffled`]/[`epoch_seed`], or a streaming data source). The engine does the rest, the same way for
//! every caller:
//!
//! - per micro-batch: forward → check the loss and every logged term are finite → scale the loss by the
//!   micro-batch's share of its update's rows → backward → accumulate (exact accumulation: the update's
//!   gradient is the mean over its rows however it is split);
//! - per update: the gradient's L2 norm (checked finite), the policy's lr of update `k`, one optimiser
//!   step; the caller sees an [`UpdateReport`] and may stop;
//! - per epoch: the rows-weighted mean training loss, the policy's epoch step (reduce-on-plateau);
//! - [`BestEpoch`] keeps the weights of the epoch with the lowest valid loss;
//! - checkpoints: model, optimiser state, the loop position, the policy's state and the caller's own
//!   record, in one directory renamed into place ([`crate::checkpoint`]); [`Engine::resume`] restarts from
//!   the newest intact one, skipping damaged ones, and a resumed run repeats the uninterrupted one bit
//!   for bit on the CPU.
//!
//! Nothing in the engine draws random numbers: a step's randomness derives from its [`StepContext`].

mod batches;
mod best;
mod metrics;
mod policy;

use std::marker::PhantomData;
use std::path::Path;
use std::time::Instant;

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::record::Record;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ElementConversion;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use batches::{epoch_seed, shuffled, Grouping, Micro};
pub use best::BestEpoch;
pub use metrics::{MetricsLog, Tally, MAX_MONITOR_ROWS};
pub use policy::{LrPolicy, LrSchedule, Plateau, PlateauConfig, MAX_WARMUP_FRACTION};

use crate::checkpoint::{exact_floats, load_module, module_bytes, read_record, record_bytes, Checkpoint, LoopState};
use crate::error::TrainError;
use crate::method::{StepContext, StepOutput};

/// The forward pass and loss of one micro-batch, for a model the engine optimises.
pub trait Step<B: AutodiffBackend> {
    /// The trained module.
    type Model: AutodiffModule<B>;
    /// What one micro-batch is made of.
    type Input;

    /// Loss (shape `[1]`), logged terms and optional embedding rows of `input`. Randomness must derive
    /// from `ctx` (or state the step owns and replays identically), never from a global RNG.
    fn forward(&self, model: &Self::Model, input: &Self::Input, ctx: &StepContext) -> Result<StepOutput<B>, TrainError>;
}

/// A forward pass whose loss and terms were checked finite: the loss to back-propagate and its value,
/// the logged terms and the embedding rows `(values, width)` for collapse monitoring.
pub struct Checked<B: Backend> {
    pub loss: Tensor<B, 1>,
    pub value: f64,
    pub terms: Vec<(String, f64)>,
    pub embeddings: Option<(Vec<f32>, usize)>,
}

/// What one optimiser update did.
#[derive(Clone, Debug)]
pub struct UpdateReport {
    /// The lr it used.
    pub lr: f64,
    /// L2 norm of its gradient over all parameters.
    pub grad_norm: f64,
    /// Its micro-batches' losses, terms and embeddings (each micro-batch weighted 1).
    pub tally: Tally,
    /// Wall time since the previous update (or the engine's start).
    pub seconds: f64,
}

/// Whether a caller's per-update hook lets the epoch go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// What a checkpoint's `state.json` holds: the loop position (at the top level, as the loop's own
/// checkpoints always had it), the lr policy's state and the caller's record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedState {
    #[serde(flatten)]
    pub position: LoopState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<LrPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

/// The engine: a model, its optimiser, the lr policy and where the loop stands.
pub struct Engine<B: AutodiffBackend, M: AutodiffModule<B>, O: Optimizer<M, B>> {
    /// `None` only while an optimiser step owns the model.
    model: Option<M>,
    optim: O,
    policy: LrPolicy,
    /// The loop position; `metrics_len` is filled in when a checkpoint is written.
    pub state: LoopState,
    /// The run's seed, passed to every step in its [`StepContext`].
    seed: u64,
    accumulator: GradientsAccumulator<M>,
    update: Tally,
    epoch_loss: f64,
    epoch_rows: usize,
    clock: Instant,
    _backend: PhantomData<B>,
}

impl<B: AutodiffBackend, M: AutodiffModule<B>, O: Optimizer<M, B>> Engine<B, M, O> {
    /// A fresh start (epoch 0, no update yet).
    pub fn new(model: M, optim: O, policy: LrPolicy, seed: u64) -> Self {
        Self::at(model, optim, policy, seed, LoopState { epoch: 0, batch: 0, update: 0, micro: 0, metrics_len: 0 })
    }

    fn at(model: M, optim: O, policy: LrPolicy, seed: u64, state: LoopState) -> Self {
        Engine {
            model: Some(model),
            optim,
            policy,
            state,
            seed,
            accumulator: GradientsAccumulator::new(),
            update: Tally::default(),
            epoch_loss: 0.0,
            epoch_rows: 0,
            clock: Instant::now(),
            _backend: PhantomData,
        }
    }

    /// The model as trained so far.
    pub fn model(&self) -> &M {
        self.model.as_ref().expect("the engine holds its model between updates")
    }

    /// The model, ending the engine.
    pub fn into_model(self) -> M {
        self.model.expect("the engine holds its model between updates")
    }

    /// The lr policy (with its state).
    pub fn policy(&self) -> &LrPolicy {
        &self.policy
    }

    /// True once a planned policy's last update is done.
    pub fn finished(&self) -> bool {
        self.policy.total().is_some_and(|t| self.state.update >= t)
    }

    /// Forward `input` (no backward) and check its loss and terms are finite.
    pub fn forward<S: Step<B, Model = M>>(&self, step: &S, input: &S::Input, ctx: &StepContext) -> Result<Checked<B>, TrainError> {
        let out = step.forward(self.model(), input, ctx)?;
        let value = out.loss.clone().into_scalar().elem::<f64>();
        self.check_finite("loss", value)?;
        for (name, v) in &out.metrics {
            self.check_finite(name, *v)?;
        }
        let embeddings = out.embeddings.map(|e| {
            let [_, d] = e.dims();
            (e.detach().into_data().convert::<f32>().to_vec::<f32>().expect("embeddings converted to f32 read as f32"), d)
        });
        Ok(Checked { loss: out.loss, value, terms: out.metrics, embeddings })
    }

    /// Forward, backward and accumulate one micro-batch (see the module docs).
    pub fn micro<S: Step<B, Model = M>>(&mut self, step: &S, micro: &Micro<S::Input>) -> Result<(), TrainError> {
        let ctx = StepContext { seed: self.seed, update: self.state.update, micro: self.state.micro };
        let out = self.forward(step, &micro.input, &ctx)?;
        self.update.add(1.0, out.value, &out.terms, out.embeddings.as_ref());
        self.epoch_loss += out.value * micro.rows as f64;
        self.epoch_rows += micro.rows;
        let model = self.model.as_ref().expect("the engine holds its model between updates");
        let grads = out.loss.div_scalar(micro.update_rows as f64 / micro.rows as f64).backward();
        let grads = GradientsParams::from_grads(grads, model);
        self.accumulator.accumulate(model, grads);
        self.state.batch += 1;
        self.state.micro += 1;
        Ok(())
    }

    /// One optimiser step with the accumulated gradient and the policy's lr of this update.
    pub fn update(&mut self) -> Result<UpdateReport, TrainError> {
        let grads = self.accumulator.grads();
        let mut norm = GradNorm::<B> { grads: &grads, sum_sq: 0.0, _b: PhantomData };
        self.model().visit(&mut norm);
        let grad_norm = norm.sum_sq.sqrt();
        self.check_finite("grad_norm", grad_norm)?;
        let lr = self.policy.lr(self.state.update);
        let model = self.model.take().expect("the engine holds its model between updates");
        self.model = Some(self.optim.step(lr, model, grads));
        self.state.update += 1;
        let seconds = self.clock.elapsed().as_secs_f64();
        self.clock = Instant::now();
        Ok(UpdateReport { lr, grad_norm, tally: std::mem::take(&mut self.update), seconds })
    }

    /// Run the micro-batches of one epoch (or what is left of it), stepping after each update's last
    /// one and then calling `after`; stops early when the policy's plan is done or `after` says so.
    pub fn run<S, I>(
        &mut self,
        step: &S,
        micros: I,
        mut after: impl FnMut(&mut Self, &UpdateReport) -> Result<Flow, TrainError>,
    ) -> Result<Flow, TrainError>
    where
        S: Step<B, Model = M>,
        I: IntoIterator<Item = Result<Micro<S::Input>, TrainError>>,
    {
        for micro in micros {
            if self.finished() {
                break;
            }
            let micro = micro?;
            self.micro(step, &micro)?;
            if micro.closes_update {
                let report = self.update()?;
                if after(self, &report)? == Flow::Stop {
                    return Ok(Flow::Stop);
                }
            }
        }
        Ok(Flow::Continue)
    }

    /// Close the epoch: returns its rows-weighted mean training loss (`None` if it trained on nothing
    /// since the engine started or resumed), steps the policy with the valid loss `valid`, and moves to
    /// the next epoch.
    pub fn end_epoch(&mut self, valid: Option<f64>) -> Option<f64> {
        let loss = (self.epoch_rows > 0).then(|| self.epoch_loss / self.epoch_rows as f64);
        self.epoch_loss = 0.0;
        self.epoch_rows = 0;
        self.policy.end_epoch(valid);
        self.state.epoch += 1;
        self.state.batch = 0;
        loss
    }

    fn check_finite(&self, term: &str, value: f64) -> Result<(), TrainError> {
        if value.is_finite() {
            return Ok(());
        }
        let s = &self.state;
        Err(TrainError::NonFinite { term: term.to_string(), value, epoch: s.epoch, update: s.update, micro: s.micro })
    }

    /// Write a checkpoint of the model, the optimiser, the loop position (with `metrics_len`), the
    /// policy, the caller's `extra` record and `files` (name, bytes) into `root/update-N/`; keep the
    /// newest `keep` (0 = all).
    pub fn save(
        &self,
        root: &Path,
        keep: usize,
        metrics_len: u64,
        extra: Option<Value>,
        files: &[(&str, Vec<u8>)],
    ) -> Result<Checkpoint, TrainError>
    where
        O::Record: Record<B>,
    {
        let state = SavedState { position: LoopState { metrics_len, ..self.state }, policy: Some(self.policy.clone()), extra };
        let state_path = root.join("state.json");
        let json = serde_json::to_value(&state).map_err(|e| TrainError::Format { path: state_path.clone(), message: e.to_string() })?;
        let json = serde_json::to_vec_pretty(&exact_floats(json, true)).expect("a JSON value serialises");
        let mut all = vec![
            ("model.mpk", module_bytes::<B, _>(self.model(), &root.join("model.mpk"))?),
            ("optim.mpk", record_bytes::<B, _>(self.optim.to_record(), &root.join("optim.mpk"))?),
        ];
        all.extend(files.iter().map(|(name, bytes)| (*name, bytes.clone())));
        Checkpoint::save(root, self.state.update, &json, &all, keep)
    }

    /// Continue from the newest intact checkpoint under `root`: `init` builds a model of the right
    /// architecture, `optim` a fresh optimiser, `policy` the policy to use when a checkpoint stored none.
    /// A damaged newer checkpoint is reported and skipped; `Ok(None)` when there is no checkpoint; an
    /// error when every checkpoint is damaged (starting over would silently throw the run away).
    pub fn resume(
        root: &Path,
        init: impl Fn() -> M,
        optim: impl Fn() -> O,
        policy: LrPolicy,
        seed: u64,
        device: &B::Device,
    ) -> Result<Option<(Self, Checkpoint, SavedState)>, TrainError>
    where
        O::Record: Record<B>,
    {
        let checkpoints = Checkpoint::list(root)?;
        let mut unreadable = Vec::new();
        for ck in checkpoints.iter().rev() {
            let restore = || -> Result<_, TrainError> {
                let saved: SavedState = ck.read_state()?;
                let model = load_module(init(), &ck.model_path(), device)?;
                let optim = optim().load_record(read_record::<B, _>(&ck.optim_path(), device)?);
                Ok((model, optim, saved))
            };
            match restore() {
                Ok((model, optim, saved)) => {
                    eprintln!("resuming from {} (update {})", ck.dir.display(), saved.position.update);
                    let policy = saved.policy.clone().unwrap_or(policy);
                    let engine = Self::at(model, optim, policy, seed, LoopState { metrics_len: 0, ..saved.position });
                    return Ok(Some((engine, ck.clone(), saved)));
                }
                Err(e) => {
                    eprintln!("warning: skipping checkpoint {}: {e}", ck.dir.display());
                    unreadable.push(e.to_string());
                }
            }
        }
        if checkpoints.is_empty() {
            return Ok(None);
        }
        Err(TrainError::RunDir {
            path: root.to_path_buf(),
            message: format!("no intact checkpoint to resume from ({}); delete {} to start over", unreadable.join("; "), root.display()),
        })
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
