//! `physrep finetune`: MPP's AViT fine-tuned end to end for parameter estimation.
//!
//! Paper: Qu et al., arXiv 2603.13227 (<https://arxiv.org/abs/2603.13227>), MPP baseline
//! (`baselines/mpp_param_estimation.py`; `baselines.md` §3.3). MPP is the one encoder the paper does not
//! probe frozen: the pretrained AViT and an attentive head on its **last time step's tokens** are trained
//! together.
//!
//! What it computes ([`AvitRegressor`]): clip `(B, C, T, H, W)` → AViT trunk → last time step's tokens
//! `(B, (H/p)·(W/p), D)` → the paper's attentive probe (1 query, 8 heads, MLP ratio 4; for AViT-Ti D = 192
//! and P = 2 the head has 408,386 parameters) → predictions `(B, P)` of the z-scored labels. AViT-Ti
//! (7,278,588) + head: 7,686,974 parameters, of which the decoder's are never updated.
//!
//! Recipe ([`FinetuneOptions`], `Default` = the paper's): Adam (lr 1e-5, β (0.9, 0.999), eps 1e-8, no
//! weight decay) on every trained parameter (the AViT's next-frame decoder gets no gradient and stays as
//! loaded, as the paper freezes it); MSE loss; batches of 64 in a seeded order that changes every epoch
//! (the last, smaller batch kept); ReduceLROnPlateau on the valid MSE (mode min, factor 0.5, patience 5,
//! PyTorch's relative threshold 1e-4) — [`Plateau`]; 30 epochs; windows of stride 4 for every dataset,
//! no input noise. Valid is scored after every epoch; the weights of the epoch with the lowest valid MSE
//! are kept ([`BestEpoch`]) and valid **and** test are reported at that epoch (`paper-protocol.md` §13,
//! "reported epoch"; the paper reports that epoch's valid MSE only).
//!
//! Only runs of the `mpp` method are accepted ([`EvalError::NotFinetunable`] otherwise): the paper
//! fine-tunes no other encoder, and physrep's frozen-probe protocol covers the rest.
//!
//! Batch: the paper trains 32 clips per GPU on 2 GPUs with correctly averaged gradients, i.e. 64 clips
//! per update; physrep's default is those 64 clips on one device, as micro-batches of 8 whose gradients
//! are summed ([`batch_gradients`]) so memory stays that of 8 clips.
//!
//! Deviation: the AViT's drop-path (0.2 in the paper's run) is not implemented (`physrep-nn` AViT header).
//!
//! Resumable: after every epoch the model, Adam's state, the best epoch's weights and the curves are
//! written to `OUT/checkpoint/` (a directory replaced atomically). A later call with the same run weights
//! and the same options (the number of epochs aside) continues from there, with results identical to an
//! uninterrupted run; so does a call asking for more epochs than a finished run had.
//!
//! Output (default `RUN/finetune/`): `results.json` / `results.md` ([`ProbeReport`] with one result whose
//! probe is `"finetune"`, with the predict-the-mean floor and the test MSE's bootstrap interval over test
//! trajectories, so `physrep reproduce` picks it up for Table 1) and predicted-vs-true scatters.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsAccumulator, GradientsParams, Optimizer};
use burn::prelude::*;
use physrep_nn::attentive_probe::{AttentiveProbe, AttentiveProbeConfig};
use physrep_nn::avit::Avit;
use physrep_nn::{ClipEncoder, Cpu, CpuAutodiff};
use physrep_train::checkpoint::{load_module, module_bytes, read_record, record_bytes};
use physrep_train::{MethodKind, RunDir};
use physrep_well::{Preprocess, WellDataset, WindowSpec};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::evaluate::Predictions;
use crate::extract::{read_batch, ClipSource};
use crate::features::{file_sha256, sha256_hex, Features};
use crate::metrics::{mse, Scores};
use crate::probes::attentive::epoch_seed;
use crate::probes::mean::MeanProbe;
use crate::probes::Probe;
use crate::report::{ProbeReport, ProbeResult};
use crate::run::{record_predictions, write_plots};
use crate::well_source::{SplitClips, WellClips};

/// The name of fine-tuning results in reports (`ProbeResult::probe`).
pub const FINETUNE_PROBE: &str = "finetune";

/// PyTorch's `ReduceLROnPlateau` settings (mode `min`, relative threshold, no cooldown).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlateauConfig {
    /// New lr = lr · factor.
    pub factor: f64,
    /// Epochs without improvement tolerated before a reduction.
    pub patience: usize,
    /// Relative improvement that counts: `metric < best · (1 − threshold)`.
    pub threshold: f64,
    /// Floor of the lr.
    pub min_lr: f64,
}

impl Default for PlateauConfig {
    /// The paper's factor 0.5 and patience 5 (`baselines.md` §3.3); threshold and floor are PyTorch's defaults.
    fn default() -> Self {
        Self { factor: 0.5, patience: 5, threshold: 1e-4, min_lr: 0.0 }
    }
}

/// ReduceLROnPlateau, stepped once per epoch with the valid loss (PyTorch semantics: the first value
/// sets `best`; an epoch that does not beat `best · (1 − threshold)` is bad; after more than `patience`
/// bad epochs in a row the lr is multiplied by `factor` (not below `min_lr`, and only if it changes by
/// more than 1e-8) and the count restarts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plateau {
    cfg: PlateauConfig,
    lr: f64,
    best: f64,
    bad_epochs: usize,
}

impl Plateau {
    pub fn new(lr: f64, cfg: PlateauConfig) -> Self {
        Self { cfg, lr, best: f64::INFINITY, bad_epochs: 0 }
    }

    /// The lr to use now.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Record an epoch's metric; returns the lr for the next epoch.
    pub fn step(&mut self, metric: f64) -> f64 {
        if metric < self.best * (1.0 - self.cfg.threshold) {
            self.best = metric;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.bad_epochs > self.cfg.patience {
            let new = (self.lr * self.cfg.factor).max(self.cfg.min_lr);
            if self.lr - new > 1e-8 {
                self.lr = new;
            }
            self.bad_epochs = 0;
        }
        self.lr
    }
}

/// The epoch with the lowest valid loss seen so far and what was kept of it (weights, scores).
/// Ties keep the earlier epoch.
#[derive(Clone, Debug)]
pub struct BestEpoch<T> {
    best: Option<(usize, f64, T)>,
}

impl<T> Default for BestEpoch<T> {
    fn default() -> Self {
        Self { best: None }
    }
}

impl<T> BestEpoch<T> {
    /// Offer epoch `epoch` with valid loss `valid`; `keep` is called only when it is the new best.
    /// Returns whether it was.
    pub fn observe(&mut self, epoch: usize, valid: f64, keep: impl FnOnce() -> T) -> bool {
        let better = valid.is_finite() && self.best.as_ref().is_none_or(|(_, b, _)| valid < *b);
        if better {
            self.best = Some((epoch, valid, keep()));
        }
        better
    }

    /// The best epoch, its valid loss and what was kept.
    pub fn best(&self) -> Option<(usize, f64, &T)> {
        self.best.as_ref().map(|(e, v, t)| (*e, *v, t))
    }

    pub fn into_best(self) -> Option<(usize, f64, T)> {
        self.best
    }
}

/// Options of a fine-tuning run. `Default` = the paper's recipe (`baselines.md` §3.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneOptions {
    /// The MPP pretraining run (trained AViT and its config).
    pub run_dir: PathBuf,
    /// The Well-layout dataset directory.
    pub data_dir: PathBuf,
    /// Output directory (default `RUN/finetune`).
    pub out_dir: Option<PathBuf>,
    /// The head (`dim` and `num_outputs` follow the AViT and the labels): 8 heads, MLP ratio 4.
    pub head: AttentiveProbeConfig,
    /// Adam's lr (the start of the plateau schedule) and moments.
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub plateau: PlateauConfig,
    pub epochs: usize,
    /// Clips per update (64 = the paper's 32 per GPU × 2 GPUs).
    pub batch_size: usize,
    /// Clips per forward/backward pass: a batch's micro-batch gradients are summed, each weighted by
    /// its share of the batch, so the update is the whole batch's (up to float rounding) at the memory of
    /// one micro-batch.
    pub micro_batch: usize,
    /// Clips per forward when scoring valid and test.
    pub eval_batch: usize,
    /// Seed of the head's init and of the batch order.
    pub seed: u64,
    /// Cap on training windows (seeded subset, fixed across epochs); `None` = all (the paper).
    pub max_train_windows: Option<usize>,
    /// Window start stride; `None` = 4 (the paper's MPP script, every dataset).
    pub stride: Option<usize>,
    /// Input noise σ; `None` = 0 (the paper's MPP script). With σ > 0 epoch e trains on draw e (fresh
    /// noise every epoch) and valid/test use draw 0.
    pub noise_std: Option<f32>,
    /// Seed of the per-window noise (and of the training-window subset).
    pub noise_seed: u64,
    /// Input resolution; `None` = what the AViT was pretrained on.
    pub resolution: Option<[usize; 2]>,
    /// Write PNG scatters.
    pub plots: bool,
    /// Show a progress bar over epochs.
    pub progress: bool,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        Self {
            run_dir: PathBuf::new(),
            data_dir: PathBuf::new(),
            out_dir: None,
            head: AttentiveProbeConfig { num_heads: 8, mlp_ratio: 4.0, ..AttentiveProbeConfig::default() },
            lr: 1e-5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            plateau: PlateauConfig::default(),
            epochs: 30,
            batch_size: 64,
            micro_batch: 8,
            eval_batch: 32,
            seed: 42,
            max_train_windows: None,
            stride: None,
            noise_std: None,
            noise_seed: 42,
            resolution: None,
            plots: true,
            progress: false,
        }
    }
}

impl FinetuneOptions {
    /// Where results go.
    pub fn out_dir(&self) -> PathBuf {
        self.out_dir.clone().unwrap_or_else(|| self.run_dir.join("finetune"))
    }

    /// Check the numbers before loading anything.
    pub fn validate(&self) -> Result<(), EvalError> {
        let bad = |m: String| Err(EvalError::Config(m));
        if !(self.lr > 0.0) || !(self.eps > 0.0) || !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return bad(format!(
                "fine-tuning Adam: need lr > 0, eps > 0, betas in [0, 1) (lr {}, eps {}, betas ({}, {}))",
                self.lr, self.eps, self.beta1, self.beta2
            ));
        }
        let p = &self.plateau;
        if !(p.factor > 0.0 && p.factor < 1.0 && p.threshold >= 0.0 && p.min_lr >= 0.0) {
            return bad(format!("plateau: need 0 < factor < 1, threshold ≥ 0, min_lr ≥ 0 (got {p:?})"));
        }
        if self.epochs == 0
            || self.batch_size == 0
            || self.micro_batch == 0
            || self.eval_batch == 0
            || self.stride == Some(0)
            || self.max_train_windows == Some(0)
        {
            return bad("epochs, batch_size, micro_batch, eval_batch, stride and max_train_windows must be ≥ 1".into());
        }
        if self.noise_std.is_some_and(|s| !(s >= 0.0) || !s.is_finite()) {
            return bad(format!("noise_std {:?} must be finite and ≥ 0", self.noise_std));
        }
        Ok(())
    }
}

/// The fine-tuned model: AViT trunk + attentive head on the last time step's tokens.
#[derive(Module, Debug)]
pub struct AvitRegressor<B: Backend> {
    pub encoder: Avit<B>,
    pub head: AttentiveProbe<B>,
}

impl<B: Backend> AvitRegressor<B> {
    /// Clips `(B, C, T, H, W)` → predictions `(B, P)`.
    pub fn forward(&self, clips: Tensor<B, 5>) -> Tensor<B, 2> {
        self.head.forward(self.encoder.last_step_tokens(clips))
    }
}

/// Windows `idx` of `src` under noise draw `draw` as tensors `(b, C, T, H, W)` and `(b, P)`.
fn batch<B: Backend>(
    src: &dyn ClipSource,
    idx: &[usize],
    draw: usize,
    device: &B::Device,
) -> Result<(Tensor<B, 5>, Tensor<B, 2>), EvalError> {
    let [c, t, h, w] = src.clip_shape();
    let (x, y) = read_batch(src, idx, draw)?;
    Ok((
        Tensor::from_data(TensorData::new(x, [idx.len(), c, t, h, w]), device),
        Tensor::from_data(TensorData::new(y, [idx.len(), src.label_dim()]), device),
    ))
}

/// Gradient of the mean squared error over the windows `idx` of `src` (noise draw `draw`), computed
/// `micro` windows at a time: each micro-batch's mean loss is weighted by its share of `idx` before
/// backward, so the sum is the whole batch's gradient. Returns it and the batch's loss summed over
/// windows (per-window MSE over the label columns).
pub fn batch_gradients(
    model: &AvitRegressor<CpuAutodiff>,
    src: &dyn ClipSource,
    idx: &[usize],
    micro: usize,
    draw: usize,
) -> Result<(GradientsParams, f64), EvalError> {
    let device = Default::default();
    let mut acc = GradientsAccumulator::<AvitRegressor<CpuAutodiff>>::new();
    let mut sum = 0.0;
    for part in idx.chunks(micro.max(1)) {
        let (x, y) = batch::<CpuAutodiff>(src, part, draw, &device)?;
        let loss = (model.forward(x) - y).powf_scalar(2.0).mean();
        let value = loss.clone().into_scalar().elem::<f64>();
        if !value.is_finite() {
            return Err(EvalError::NonFinite("fine-tuning loss".into()));
        }
        sum += value * part.len() as f64;
        let share = part.len() as f64 / idx.len() as f64;
        acc.accumulate(model, GradientsParams::from_grads(loss.mul_scalar(share).backward(), model));
    }
    Ok((acc.grads(), sum))
}

/// Predictions `(n, P)` of `model` for every window of `src` (draw 0) and their scores.
fn score(model: &AvitRegressor<Cpu>, src: &WellClips, eval_batch: usize) -> Result<(Scores, Vec<f32>, Vec<f32>), EvalError> {
    let device = Default::default();
    let idx: Vec<usize> = (0..src.len()).collect();
    let mut pred = Vec::with_capacity(src.len() * src.label_dim());
    let mut truth = Vec::with_capacity(pred.capacity());
    for chunk in idx.chunks(eval_batch) {
        let (x, y) = batch::<Cpu>(src, chunk, 0, &device)?;
        let out = model.forward(x).into_data().to_vec::<f32>().map_err(|e| EvalError::Data(format!("fine-tuned model output: {e:?}")))?;
        pred.extend(out);
        truth.extend(y.into_data().to_vec::<f32>().map_err(|e| EvalError::Data(format!("labels: {e:?}")))?);
    }
    Ok((mse(&pred, &truth, src.label_dim())?, pred, truth))
}

/// Label-only rows (one zero token each) for the predict-the-train-mean floor.
fn label_rows(src: &WellClips) -> Result<Features, EvalError> {
    let n = src.len();
    Features::new(vec![0.0; n], src.labels()?, [n, 1, 1], src.label_dim())
}

/// Fine-tune the AViT of the MPP run `opts.run_dir` on `opts.data_dir` (see the module docs) and
/// write `results.json`, `results.md` and scatters into [`FinetuneOptions::out_dir`].
pub fn finetune_run(opts: &FinetuneOptions) -> Result<ProbeReport, EvalError> {
    opts.validate()?;
    let train_err = |e: physrep_train::TrainError| EvalError::Config(format!("{}: {e}", opts.run_dir.display()));
    let info = physrep_train::encoder_info(&opts.run_dir).map_err(train_err)?;
    if info.method != MethodKind::Mpp {
        return Err(EvalError::NotFinetunable { path: opts.run_dir.clone(), method: info.method.to_string() });
    }
    let device = Default::default();
    let (encoder, avit) = physrep_train::load_mpp_model::<CpuAutodiff>(&opts.run_dir, &device).map_err(train_err)?;
    let ds = Arc::new(WellDataset::open(&opts.data_dir)?);
    crate::run::check_channels(&opts.run_dir, &info, &ds)?;
    let _lock = physrep_core::DirLock::exclusive(&opts.out_dir(), "physrep finetune")?;
    let name = ds.name().to_string();
    let spec = WindowSpec { context: info.frames, stride: opts.stride.unwrap_or(4), ..WindowSpec::paper(&name) };
    let sigma = opts.noise_std.unwrap_or(0.0);
    let resolution = opts.resolution.or(Some([info.resolution, info.resolution]));
    let sources = SplitClips::new(&ds, &spec, &Preprocess::paper(&name, resolution, sigma), opts.max_train_windows, opts.noise_seed)?;
    let p = ds.label_names().len();
    let [c, t, h, w] = sources.train.clip_shape();
    avit.check_clip([1, c, t, h, w])
        .map_err(|e| EvalError::Config(format!("{} does not fit the AViT of {}: {e}", opts.data_dir.display(), opts.run_dir.display())))?;

    let head_cfg = AttentiveProbeConfig { dim: encoder.token_dim(), num_outputs: p, ..opts.head.clone() };
    let head = head_cfg.init::<CpuAutodiff>(opts.seed, &device)?;
    let mut model = AvitRegressor { encoder, head };
    let mut optim = AdamConfig::new()
        .with_beta_1(opts.beta1 as f32)
        .with_beta_2(opts.beta2 as f32)
        .with_epsilon(opts.eps as f32)
        .init::<CpuAutodiff, AvitRegressor<CpuAutodiff>>();

    let mut resolved = opts.clone();
    resolved.head = head_cfg;
    resolved.stride = Some(spec.stride);
    resolved.noise_std = Some(sigma);
    resolved.resolution = resolution;
    let out = opts.out_dir();
    let ckpt = Checkpoint { dir: out.join("checkpoint"), key: trajectory_key(&resolved)? };
    let mut best = BestEpoch::default();
    let mut state = match ckpt.load(opts.epochs)? {
        Some(state) => {
            model = ckpt.read(model, "model.mpk")?;
            optim = optim.load_record(read_record(&ckpt.dir.join("optim.mpk"), &device).map_err(ckpt.err())?);
            if let Some(b) = &state.best {
                let kept = ckpt.read(model.valid(), "best.mpk")?;
                best.observe(b.epoch, b.valid.mean, || (kept, b.valid.clone(), b.valid_pred.clone(), b.valid_truth.clone()));
            }
            state
        }
        None => Progress {
            key: ckpt.key.clone(),
            plateau: Plateau::new(opts.lr, opts.plateau.clone()),
            train_loss: vec![],
            valid_curve: vec![],
            lrs: vec![],
            best: None,
        },
    };

    let n = sources.train.len();
    let bar = physrep_core::Progress::new(opts.epochs as u64, "fine-tuning", "epochs", opts.progress);
    bar.set_position(state.train_loss.len() as u64);
    for epoch in state.train_loss.len()..opts.epochs {
        let lr = state.plateau.lr();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(epoch_seed(opts.seed, epoch)));
        let mut loss_sum = 0.0;
        for (i, idx) in order.chunks(opts.batch_size).enumerate() {
            let (grads, sum) = batch_gradients(&model, &sources.train, idx, opts.micro_batch, epoch).map_err(|e| match e {
                EvalError::NonFinite(what) => EvalError::NonFinite(format!("{what} at epoch {epoch}, batch {i}")),
                e => e,
            })?;
            loss_sum += sum;
            model = optim.step(lr, model, grads);
        }
        state.train_loss.push(loss_sum / n as f64);
        let snapshot = model.valid();
        let (valid, valid_pred, valid_truth) = score(&snapshot, &sources.valid, opts.eval_batch)?;
        let valid_mean = valid.mean;
        state.valid_curve.push(valid_mean);
        state.lrs.push(lr);
        state.plateau.step(valid_mean);
        if best.observe(epoch, valid_mean, || (snapshot, valid.clone(), valid_pred.clone(), valid_truth.clone())) {
            state.best = Some(BestRecord { epoch, valid, valid_pred, valid_truth });
        }
        if let Some((_, _, kept)) = best.best() {
            ckpt.save(&state, &model, &optim, &kept.0)?;
        }
        bar.set_message(format!("loss {:.4} · valid {valid_mean:.4} · lr {lr:.1e}", state.train_loss[epoch]));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let Progress { train_loss, valid_curve, lrs, plateau, .. } = state;

    let (best_epoch, _, (model, valid, valid_pred, valid_truth)) =
        best.into_best().ok_or_else(|| EvalError::Data("fine-tuning produced no epoch with a finite valid MSE".into()))?;
    let test = sources.test.as_ref().map(|src| score(&model, src, opts.eval_batch)).transpose()?;

    let mut floor = MeanProbe::default();
    let valid_rows = label_rows(&sources.valid)?;
    floor.fit(&[label_rows(&sources.train)?], &valid_rows)?;
    let floor_score = |f: &Features| -> Result<Scores, EvalError> { mse(&floor.predict(f)?, f.labels(), p) };
    let floor_valid = floor_score(&valid_rows)?;
    let floor_test = sources.test.as_ref().map(|src| floor_score(&label_rows(src)?)).transpose()?;

    let hyper: BTreeMap<String, f64> = [
        ("lr", opts.lr),
        ("epochs", opts.epochs as f64),
        ("batch_size", opts.batch_size as f64),
        ("best_epoch", best_epoch as f64),
        ("lr_at_best_epoch", lrs[best_epoch]),
        ("final_lr", plateau.lr()),
        ("plateau_factor", opts.plateau.factor),
        ("plateau_patience", opts.plateau.patience as f64),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut predictions =
        vec![Predictions { probe: FINETUNE_PROBE.into(), fraction: 1.0, split: "valid".into(), pred: valid_pred, truth: valid_truth }];
    if let Some((_, pred, truth)) = &test {
        predictions.push(Predictions {
            probe: FINETUNE_PROBE.into(),
            fraction: 1.0,
            split: "test".into(),
            pred: pred.clone(),
            truth: truth.clone(),
        });
    }
    let mut result = ProbeResult {
        probe: FINETUNE_PROBE.into(),
        fraction: 1.0,
        train_windows: n,
        hyper,
        paper_protocol_valid: Some(valid.clone()),
        valid,
        test: test.map(|t| t.0),
        test_ci95: None,
        floor_valid,
        floor_test,
        sweep: vec![],
        train_loss,
        valid_curve,
    };
    record_predictions(&out, &ds, std::slice::from_mut(&mut result), &predictions, &sources, opts.seed)?;

    let mut windows = BTreeMap::new();
    windows.insert("train".to_string(), n);
    windows.insert("valid".to_string(), sources.valid.len());
    if let Some(t) = &sources.test {
        windows.insert("test".to_string(), t.len());
    }
    let run_name = opts.run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let report = ProbeReport {
        encoder: format!("{run_name} (mpp, fine-tuned end to end)"),
        dataset: name,
        label_names: ds.label_names().to_vec(),
        windows,
        options: serde_json::to_value(&resolved).map_err(|source| EvalError::Json { path: out.join("results.json"), source })?,
        results: vec![result],
    };
    report.write_json(&out.join("results.json"))?;
    report.write_markdown(&out.join("results.md"))?;
    if opts.plots {
        write_plots(&out, &report, &predictions)?;
    }
    Ok(report)
}

/// The best epoch as a checkpoint records it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct BestRecord {
    epoch: usize,
    valid: Scores,
    valid_pred: Vec<f32>,
    valid_truth: Vec<f32>,
}

/// The loop's state after its last finished epoch (`checkpoint/progress.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Progress {
    /// [`trajectory_key`] of the run that wrote it.
    key: String,
    plateau: Plateau,
    /// Per finished epoch: mean training loss, valid MSE, lr used.
    train_loss: Vec<f64>,
    valid_curve: Vec<f64>,
    lrs: Vec<f64>,
    best: Option<BestRecord>,
}

/// Everything that determines the training trajectory epoch by epoch: the AViT's weights and the
/// resolved options, except the number of epochs and where and how results are shown.
fn trajectory_key(resolved: &FinetuneOptions) -> Result<String, EvalError> {
    let weights = file_sha256(&RunDir::new(&resolved.run_dir).model_path())?;
    let opts = FinetuneOptions { epochs: 0, out_dir: None, plots: false, progress: false, ..resolved.clone() };
    let data = resolved.data_dir.canonicalize().unwrap_or_else(|_| resolved.data_dir.clone());
    let json = serde_json::json!({ "weights": weights, "data": data, "options": opts });
    Ok(sha256_hex(json.to_string().as_bytes()))
}

/// With `encode`, every float of `v` becomes `{"f64_bits": IEEE bits}`; without, back. serde_json's
/// default float parser can be one ulp off, which would make a resumed run differ from an uninterrupted
/// one; integers parse exactly.
fn exact_floats(v: serde_json::Value, encode: bool) -> serde_json::Value {
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

/// `OUT/checkpoint/`: `model.mpk`, `optim.mpk`, `best.mpk`, `progress.json`.
struct Checkpoint {
    dir: PathBuf,
    key: String,
}

impl Checkpoint {
    fn err(&self) -> impl Fn(physrep_train::TrainError) -> EvalError + '_ {
        move |e| EvalError::Checkpoint { path: self.dir.clone(), reason: e.to_string() }
    }

    /// The stored progress, if it belongs to this trajectory and has at most `epochs` epochs; a
    /// checkpoint of another run or options is ignored (and replaced after the first epoch).
    fn load(&self, epochs: usize) -> Result<Option<Progress>, EvalError> {
        let path = self.dir.join("progress.json");
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(EvalError::io(&path))?;
        let json = |source| EvalError::Json { path: path.clone(), source };
        let p: Progress = serde_json::from_value(exact_floats(serde_json::from_str(&text).map_err(json)?, false)).map_err(json)?;
        Ok((p.key == self.key && !p.train_loss.is_empty() && p.train_loss.len() <= epochs).then_some(p))
    }

    fn read<B: Backend, M: Module<B>>(&self, model: M, name: &str) -> Result<M, EvalError> {
        load_module(model, &self.dir.join(name), &Default::default()).map_err(self.err())
    }

    /// Write every file into `checkpoint.tmp/`, then swap it for `checkpoint/`.
    fn save(
        &self,
        state: &Progress,
        model: &AvitRegressor<CpuAutodiff>,
        optim: &impl Optimizer<AvitRegressor<CpuAutodiff>, CpuAutodiff>,
        best: &AvitRegressor<Cpu>,
    ) -> Result<(), EvalError> {
        let tmp = self.dir.with_extension("tmp");
        let old = self.dir.with_extension("old");
        for d in [&tmp, &old] {
            if d.exists() {
                std::fs::remove_dir_all(d).map_err(EvalError::io(d))?;
            }
        }
        std::fs::create_dir_all(&tmp).map_err(EvalError::io(&tmp))?;
        let files = [
            ("model.mpk", module_bytes::<CpuAutodiff, _>(model, &tmp).map_err(self.err())?),
            ("optim.mpk", record_bytes::<CpuAutodiff, _>(optim.to_record(), &tmp).map_err(self.err())?),
            ("best.mpk", module_bytes::<Cpu, _>(best, &tmp).map_err(self.err())?),
            ("progress.json", {
                let json = |source| EvalError::Json { path: tmp.join("progress.json"), source };
                serde_json::to_vec(&exact_floats(serde_json::to_value(state).map_err(json)?, true)).map_err(json)?
            }),
        ];
        for (name, bytes) in files {
            let path = tmp.join(name);
            std::fs::write(&path, bytes).map_err(EvalError::io(&path))?;
        }
        if self.dir.exists() {
            std::fs::rename(&self.dir, &old).map_err(EvalError::io(&old))?;
        }
        std::fs::rename(&tmp, &self.dir).map_err(EvalError::io(&self.dir))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(EvalError::io(&old))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected lrs are what PyTorch 2.15's `ReduceLROnPlateau(SGD(lr=1), mode="min", factor=0.5,
    /// patience=2, threshold=1e-4, min_lr=0.2)` gives for the same metric sequence (run once, numbers
    /// copied): reductions after the 3rd bad epoch in a row, count restarted, a gain below the relative
    /// threshold is not an improvement, the floor holds.
    #[test]
    fn plateau_follows_pytorch_semantics() {
        let mut s = Plateau::new(1.0, PlateauConfig { factor: 0.5, patience: 2, threshold: 1e-4, min_lr: 0.2 });
        // best 1.0, 0.9; then 0.89995 is not a relative gain of 1e-4 over 0.9 → bad 1, 2, 3 → halve.
        let lrs: Vec<f64> =
            [1.0, 0.9, 0.89995, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8].iter().map(|&m| s.step(m)).collect();
        assert_eq!(lrs, [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]);
        // At the floor: no further change.
        assert_eq!(s.lr(), 0.2);
    }

    /// Floats survive the checkpoint's JSON bit for bit, including values serde_json's default parser
    /// rounds wrongly (0.41361615725327283 came back one ulp off in a results.json).
    #[test]
    fn checkpoint_floats_round_trip_exactly() {
        let xs = vec![0.41361615725327283f64, 1.0 / 3.0, 1e-300, -2.5e17, 0.1 + 0.2];
        let ys = vec![0.1f32, 3.4028235e38, 1.175_494_4e-38];
        let text = serde_json::to_string(&exact_floats(serde_json::to_value((&xs, &ys, 7u64)).unwrap(), true)).unwrap();
        let back: (Vec<f64>, Vec<f32>, u64) = serde_json::from_value(exact_floats(serde_json::from_str(&text).unwrap(), false)).unwrap();
        assert_eq!(back, (xs, ys, 7));
    }

    #[test]
    fn best_epoch_is_the_first_argmin_and_keeps_that_epochs_snapshot() {
        let valid = [0.9, 0.5, 0.7, 0.5, f64::NAN, 0.6];
        let mut best = BestEpoch::default();
        let mut kept_calls = 0;
        for (epoch, v) in valid.iter().enumerate() {
            best.observe(epoch, *v, || {
                kept_calls += 1;
                format!("weights after epoch {epoch}")
            });
        }
        let (epoch, v, kept) = best.best().unwrap();
        assert_eq!((epoch, v, kept.as_str()), (1, 0.5, "weights after epoch 1"));
        assert_eq!(kept_calls, 2, "a snapshot is taken only for a new best");
        assert!(BestEpoch::<()>::default().best().is_none());
    }

    /// A toy clip source: window i is a smooth ramp scaled by i, labels (i/4, −i/8).
    struct Ramps;
    impl ClipSource for Ramps {
        fn len(&self) -> usize {
            6
        }
        fn clip_shape(&self) -> [usize; 4] {
            [2, 3, 8, 8]
        }
        fn label_dim(&self) -> usize {
            2
        }
        fn read(&self, i: usize, _draw: usize) -> Result<crate::extract::Clip, EvalError> {
            let data = (0..2 * 3 * 64).map(|k| (k as f32 * 0.37 + i as f32).sin() * (1.0 + i as f32)).collect();
            Ok(crate::extract::Clip { data, labels: vec![i as f32 / 4.0, -(i as f32) / 8.0] })
        }
        fn cache_key(&self, _draw: usize) -> crate::features::CacheKey {
            crate::features::CacheKey::default()
        }
    }

    /// Micro-batches of 4 and 2 windows give the gradient of one pass over all 6, for the AViT's stem
    /// and the head, and the same summed loss (a wrong weighting of the smaller part would not).
    #[test]
    fn micro_batch_gradients_sum_to_the_full_batch_gradient() {
        let device = Default::default();
        <CpuAutodiff as Backend>::seed(&device, 75);
        let avit = physrep_nn::avit::AvitConfig { embed_dim: 8, num_heads: 2, processor_blocks: 1, patch_size: 4, ..Default::default() };
        let encoder = avit.init::<CpuAutodiff>(&device).unwrap();
        let head =
            AttentiveProbeConfig { dim: 8, num_heads: 2, mlp_ratio: 2.0, num_outputs: 2, ..Default::default() }.init(1, &device).unwrap();
        let model = AvitRegressor { encoder, head };
        let idx = [0, 1, 2, 3, 4, 5];
        let (full, full_sum) = batch_gradients(&model, &Ramps, &idx, 6, 0).unwrap();
        let (parts, parts_sum) = batch_gradients(&model, &Ramps, &idx, 4, 0).unwrap();
        assert!((full_sum - parts_sum).abs() < 1e-5 * full_sum, "{full_sum} vs {parts_sum}");
        let stem = model.encoder.trunk.embed.conv1.weight.id;
        let linear = model.head.linear.weight.id;
        let close = |a: Vec<f32>, b: Vec<f32>| {
            let scale = a.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
            assert!(scale > 0.0);
            a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 1e-4 * scale)
        };
        let g4 = |g: &GradientsParams, id| g.get::<Cpu, 4>(id).unwrap().into_data().to_vec::<f32>().unwrap();
        let g2 = |g: &GradientsParams, id| g.get::<Cpu, 2>(id).unwrap().into_data().to_vec::<f32>().unwrap();
        assert!(close(g4(&full, stem), g4(&parts, stem)), "stem gradient differs");
        assert!(close(g2(&full, linear), g2(&parts, linear)), "head gradient differs");
    }

    /// The paper's MPP head: D 192, 8 heads, MLP ratio 4, P 2 → 408,386 parameters (`baselines.md` §1).
    #[test]
    fn default_head_is_the_papers_mpp_probe() {
        let cfg = AttentiveProbeConfig { dim: 192, num_outputs: 2, ..FinetuneOptions::default().head };
        let head = cfg.init::<Cpu>(0, &Default::default()).unwrap();
        assert_eq!(head.num_params(), 408_386);
        let encoder = physrep_nn::avit::AvitConfig::default().init::<Cpu>(&Default::default()).unwrap();
        assert_eq!(AvitRegressor { encoder, head }.num_params(), 7_278_588 + 408_386);
        let o = FinetuneOptions::default();
        assert_eq!((o.lr, o.epochs, o.batch_size, o.plateau.factor, o.plateau.patience), (1e-5, 30, 64, 0.5, 5));
        assert!(FinetuneOptions { epochs: 0, ..o.clone() }.validate().is_err());
        assert!(FinetuneOptions { plateau: PlateauConfig { factor: 1.5, ..PlateauConfig::default() }, ..o }.validate().is_err());
    }
}
