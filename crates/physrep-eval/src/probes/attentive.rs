//! Training the attentive probe (paper §10.3 with physrep's fixes, `docs/paper-protocol.md` §13).
//!
//! Trained on [`physrep_train::engine`]: AdamW (lr 1e-3, wd 0.01, β (0.9, 0.999), eps 1e-8) on the probe
//! only; MSE; micro-batches of `batch_size` rows in a seeded order that changes every epoch; an update
//! after exactly `accum` micro-batches, each weighted by its share of the update's rows (leftovers at an
//! epoch's end dropped, D4); linear warm-up from 0 (`lr · k / W`; 2 epochs, capped at 20 % of updates) then
//! cosine to `min_lr`, update k using lr_k ([`LrSchedule`], the same schedule as pretraining); 100
//! epochs; the final epoch is reported. With K cached noise draws, epoch e trains on draw e mod K (K = 1
//! is the paper's code). Dropout draws from one ChaCha8 stream seeded from `seed`, in micro-batch order.

use std::cell::RefCell;
use std::collections::BTreeMap;

use burn::module::AutodiffModule;
use burn::optim::AdamWConfig;
use burn::prelude::*;
use physrep_nn::attentive_probe::{AttentiveProbe, AttentiveProbeConfig};
use physrep_nn::{Cpu, CpuAutodiff};
use physrep_train::engine::{epoch_seed, shuffled, Engine, Flow, Grouping, LrPolicy, LrSchedule, Step};
use physrep_train::{StepContext, StepOutput, TrainError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{check_fit_inputs, FitReport, Probe};
use crate::error::EvalError;
use crate::features::Features;

/// Optimisation of a trained probe. `Default` = the paper's JEPA probe recipe on AM/RB.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeTrainConfig {
    pub lr: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub epochs: usize,
    /// Rows per micro-batch (paper: 32 for AM/RB, 64 for SF).
    pub batch_size: usize,
    /// Micro-batches per update (paper: 256 / batch_size). Clamped to the micro-batches of one epoch
    /// for tiny training sets (recorded as `accum` in the fit report).
    pub accum: usize,
    /// Linear warm-up length in epochs (capped at `warmup_cap` of all updates).
    pub warmup_epochs: f64,
    pub warmup_cap: f64,
    pub min_lr: f64,
    /// Compute valid MSE every this many epochs (and always after the last); 0 = only at the end.
    pub eval_every: usize,
    /// Rows per inference batch.
    pub eval_batch: usize,
    pub seed: u64,
}

impl Default for ProbeTrainConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            epochs: 100,
            batch_size: 32,
            accum: 8,
            warmup_epochs: 2.0,
            warmup_cap: 0.2,
            min_lr: 0.0,
            eval_every: 1,
            eval_batch: 256,
            seed: 42,
        }
    }
}

impl ProbeTrainConfig {
    pub fn validate(&self) -> Result<(), EvalError> {
        let bad = |m: String| Err(EvalError::Config(m));
        if !(self.lr > 0.0) || !(self.min_lr >= 0.0) || self.min_lr > self.lr {
            return bad(format!("need 0 ≤ min_lr ≤ lr, lr > 0 (lr {}, min_lr {})", self.lr, self.min_lr));
        }
        if !(self.weight_decay >= 0.0) {
            return bad(format!("weight_decay {} < 0", self.weight_decay));
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) || !(self.eps > 0.0) {
            return bad(format!("betas ({}, {}) must lie in [0, 1), eps > 0", self.beta1, self.beta2));
        }
        if self.epochs == 0 || self.batch_size == 0 || self.accum == 0 || self.eval_batch == 0 {
            return bad("epochs, batch_size, accum and eval_batch must be ≥ 1".into());
        }
        if !(self.warmup_epochs >= 0.0) || !(0.0..1.0).contains(&self.warmup_cap) {
            return bad(format!("warm-up {} epochs / cap {} invalid", self.warmup_epochs, self.warmup_cap));
        }
        Ok(())
    }
}

/// An attentive probe plus its training recipe, behind the [`Probe`] interface.
#[derive(Debug)]
pub struct AttentiveProbeTrainer {
    name: String,
    /// Architecture; `dim` is overwritten by the features' token width at fit time.
    pub arch: AttentiveProbeConfig,
    pub train: ProbeTrainConfig,
    model: Option<AttentiveProbe<Cpu>>,
}

impl AttentiveProbeTrainer {
    /// `name` appears in reports (`attentive`, `attentive4`).
    pub fn new(name: impl Into<String>, arch: AttentiveProbeConfig, train: ProbeTrainConfig) -> Self {
        Self { name: name.into(), arch, train, model: None }
    }

    /// The fitted module.
    pub fn model(&self) -> Option<&AttentiveProbe<Cpu>> {
        self.model.as_ref()
    }
}

/// Rows `idx` of `f` as tensors `(b, t, d)` and `(b, p)`.
fn batch_tensors<B: Backend>(f: &Features, idx: &[usize], device: &B::Device) -> (Tensor<B, 3>, Tensor<B, 2>) {
    let (t, d, p) = (f.tokens_per_row(), f.dim(), f.label_dim());
    let mut x = Vec::with_capacity(idx.len() * t * d);
    let mut y = Vec::with_capacity(idx.len() * p);
    for &i in idx {
        x.extend_from_slice(f.row_tokens(i));
        y.extend_from_slice(f.row_labels(i));
    }
    (Tensor::from_data(TensorData::new(x, [idx.len(), t, d]), device), Tensor::from_data(TensorData::new(y, [idx.len(), p]), device))
}

/// Predictions of `model` for all rows of `f`, in batches of `batch`.
fn predict_with(model: &AttentiveProbe<Cpu>, f: &Features, batch: usize) -> Result<Vec<f32>, EvalError> {
    let device = Default::default();
    let idx: Vec<usize> = (0..f.len()).collect();
    let mut out = Vec::with_capacity(f.len() * f.label_dim());
    for chunk in idx.chunks(batch) {
        let (x, _) = batch_tensors::<Cpu>(f, chunk, &device);
        let y = model.forward(x).into_data();
        out.extend(y.to_vec::<f32>().map_err(|e| EvalError::Data(format!("probe output: {e:?}")))?);
    }
    if out.iter().any(|v| !v.is_finite()) {
        return Err(EvalError::NonFinite("attentive probe predictions".into()));
    }
    Ok(out)
}

/// One micro-batch of the probe's training: rows `idx` of noise draw `draw`, dropout from one seeded stream.
struct ProbeStep<'a> {
    draws: &'a [Features],
    dropout: RefCell<ChaCha8Rng>,
}

impl Step<CpuAutodiff> for ProbeStep<'_> {
    type Model = AttentiveProbe<CpuAutodiff>;
    type Input = (usize, Vec<usize>);

    fn forward(&self, model: &Self::Model, (draw, idx): &Self::Input, _: &StepContext) -> Result<StepOutput<CpuAutodiff>, TrainError> {
        let (x, y) = batch_tensors::<CpuAutodiff>(&self.draws[*draw], idx, &Default::default());
        let pred = model.forward_train(x, &mut self.dropout.borrow_mut());
        Ok(StepOutput { loss: (pred - y).powf_scalar(2.0).mean(), metrics: vec![], embeddings: None })
    }
}

impl Probe for AttentiveProbeTrainer {
    fn name(&self) -> &str {
        &self.name
    }

    fn fit(&mut self, train: &[Features], valid: &Features) -> Result<FitReport, EvalError> {
        check_fit_inputs(train, valid)?;
        self.train.validate()?;
        let cfg = &self.train;
        let arch = AttentiveProbeConfig { dim: train[0].dim(), num_outputs: train[0].label_dim(), ..self.arch.clone() };
        let model = arch.init::<CpuAutodiff>(cfg.seed, &Default::default())?;
        let optim = AdamWConfig::new()
            .with_beta_1(cfg.beta1 as f32)
            .with_beta_2(cfg.beta2 as f32)
            .with_epsilon(cfg.eps as f32)
            .with_weight_decay(cfg.weight_decay as f32)
            .init::<CpuAutodiff, AttentiveProbe<CpuAutodiff>>();

        let n = train[0].len();
        let grouping = Grouping::Accumulate { micro: cfg.batch_size, accum: cfg.accum };
        let (accum, updates_per_epoch) = (grouping.accum(n), grouping.updates_per_epoch(n));
        let total = cfg.epochs * updates_per_epoch;
        let schedule =
            LrSchedule::with_warmup_cap(cfg.lr, cfg.min_lr, total as u64, updates_per_epoch as u64, cfg.warmup_epochs, cfg.warmup_cap);
        let mut engine = Engine::new(model, optim, LrPolicy::Cosine(schedule), cfg.seed);
        let step = ProbeStep { draws: train, dropout: RefCell::new(ChaCha8Rng::seed_from_u64(epoch_seed(cfg.seed, u64::MAX))) };
        let mut report = FitReport::default();
        for epoch in 0..cfg.epochs {
            let draw = epoch % train.len();
            let micros = grouping.split(&shuffled(n, epoch_seed(cfg.seed, epoch as u64)));
            let micros = micros.into_iter().map(|m| Ok(m.map_input(|idx| (draw, idx))));
            engine.run(&step, micros, |_, _| Ok(Flow::Continue))?;
            report.train_loss.push(engine.end_epoch(None).unwrap_or(f64::NAN));
            let last = epoch + 1 == cfg.epochs;
            if last || (cfg.eval_every > 0 && (epoch + 1) % cfg.eval_every == 0) {
                let pred = predict_with(&engine.model().valid(), valid, cfg.eval_batch)?;
                report.valid_curve.push(crate::metrics::mse(&pred, valid.labels(), valid.label_dim())?.mean);
            }
        }
        let hyper: BTreeMap<String, f64> = [
            ("lr", cfg.lr),
            ("weight_decay", cfg.weight_decay),
            ("epochs", cfg.epochs as f64),
            ("batch_size", cfg.batch_size as f64),
            ("accum", accum as f64),
            ("updates", total as f64),
            ("warmup_updates", schedule.warmup as f64),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        report.hyper = hyper;
        self.model = Some(engine.into_model().valid());
        Ok(report)
    }

    fn predict(&self, x: &Features) -> Result<Vec<f32>, EvalError> {
        let model = self.model.as_ref().ok_or_else(|| EvalError::Config(format!("{} probe used before fit", self.name)))?;
        predict_with(model, x, self.train.eval_batch)
    }
}
