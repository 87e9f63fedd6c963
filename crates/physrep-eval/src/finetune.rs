//! `physrep finetune`: MPP's AViT fine-tuned end to end for parameter estimation.
//!
//! Paper: Qu et al., arXiv 2603.13227 (<https://arxiv.org/abs/2603.13227>), MPP baseline
//! (`baselines/mpp_param_estimation.py`; `docs/baselines.md` §3.3). MPP is the one encoder the paper does not
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
//! are kept ([`BestEpoch`]) and valid **and** test are reported at that epoch (`docs/paper-protocol.md` §13,
//! "reported epoch"; the paper reports that epoch's valid MSE only). The loop is
//! [`physrep_train::engine`]'s, as for pretraining and the attentive probe.
//!
//! Only runs of the `mpp` method are accepted ([`EvalError::NotFinetunable`] otherwise): the paper
//! fine-tunes no other encoder, and physrep's frozen-probe protocol covers the rest.
//!
//! Batch: the paper trains 32 clips per GPU on 2 GPUs with correctly averaged gradients, i.e. 64 clips
//! per update; physrep's default is those 64 clips on one device, as micro-batches of 8 whose losses are
//! weighted by their share of the batch before their gradients are summed ([`Grouping::Batches`]), so
//! memory stays that of 8 clips.
//!
//! Deviation: the AViT's drop-path (0.2 in the paper's run) is not implemented (`physrep-nn` AViT header).
//!
//! Resumable: after every epoch the model, Adam's state, the plateau's state, the best epoch's weights and
//! the curves are written to `OUT/checkpoints/update-N/` (the engine's checkpoint, renamed into place;
//! the newest is kept). A later call with the same run weights
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
use burn::optim::AdamConfig;
use burn::prelude::*;
use physrep_nn::attentive_probe::{AttentiveProbe, AttentiveProbeConfig};
use physrep_nn::avit::Avit;
use physrep_nn::{ClipEncoder, Cpu, CpuAutodiff};
use physrep_train::checkpoint::{load_module, module_bytes};
use physrep_train::engine::{epoch_seed, shuffled, BestEpoch, Engine, Flow, Grouping, LrPolicy, Plateau, PlateauConfig, Step};
use physrep_train::{MethodKind, RunDir, StepContext, StepOutput, TrainError};
use physrep_well::{Preprocess, WellDataset, WindowSpec};
use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::evaluate::Predictions;
use crate::extract::{read_batch, ClipSource};
use crate::features::{file_sha256, sha256_hex, Features};
use crate::metrics::{mse, Scores};
use crate::probes::mean::MeanProbe;
use crate::probes::Probe;
use crate::report::{ProbeReport, ProbeResult};
use crate::run::{record_predictions, write_plots};
use crate::well_source::{SplitClips, WellClips};

/// The name of fine-tuning results in reports (`ProbeResult::probe`).
pub const FINETUNE_PROBE: &str = "finetune";

/// Options of a fine-tuning run. `Default` = the paper's recipe (`docs/baselines.md` §3.3).
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

/// One micro-batch of fine-tuning: windows `idx` of `src` under noise draw `draw`, MSE over labels.
struct FinetuneStep<'a> {
    src: &'a dyn ClipSource,
}

impl Step<CpuAutodiff> for FinetuneStep<'_> {
    type Model = AvitRegressor<CpuAutodiff>;
    type Input = (usize, Vec<usize>);

    fn forward(&self, model: &Self::Model, (draw, idx): &Self::Input, _: &StepContext) -> Result<StepOutput<CpuAutodiff>, TrainError> {
        let (x, y) = batch::<CpuAutodiff>(self.src, idx, *draw, &Default::default()).map_err(|e| TrainError::Data(e.to_string()))?;
        Ok(StepOutput { loss: (model.forward(x) - y).powf_scalar(2.0).mean(), metrics: vec![], embeddings: None })
    }
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
    let (setup, model) = Setup::open(opts)?;
    let trained = train_epochs(opts, &setup, model)?;
    write_report(opts, &setup, trained)
}

/// What a fine-tuning run reads, resolved and checked before any training.
struct Setup {
    ds: Arc<WellDataset>,
    sources: SplitClips,
    /// The options with every default resolved (written into the report).
    resolved: FinetuneOptions,
    _lock: physrep_core::DirLock,
}

impl Setup {
    /// Load the MPP run's AViT, open and window the data, check they fit, and build the regressor (the
    /// pretrained AViT and a freshly seeded head).
    fn open(opts: &FinetuneOptions) -> Result<(Setup, AvitRegressor<CpuAutodiff>), EvalError> {
        let train_err = |e: physrep_train::TrainError| EvalError::Config(format!("{}: {e}", opts.run_dir.display()));
        let info = physrep_train::encoder_info(&opts.run_dir).map_err(train_err)?;
        if info.method != MethodKind::Mpp {
            return Err(EvalError::NotFinetunable { path: opts.run_dir.clone(), method: info.method.to_string() });
        }
        let device = Default::default();
        let (encoder, avit) = physrep_train::load_mpp_model::<CpuAutodiff>(&opts.run_dir, &device).map_err(train_err)?;
        let ds = Arc::new(WellDataset::open(&opts.data_dir)?);
        crate::run::check_channels(&opts.run_dir, &info, &ds)?;
        let lock = physrep_core::DirLock::exclusive(&opts.out_dir(), "physrep finetune")?;
        let name = ds.name().to_string();
        let spec = WindowSpec { context: info.frames, stride: opts.stride.unwrap_or(4), ..WindowSpec::paper(&name) };
        let sigma = opts.noise_std.unwrap_or(0.0);
        let resolution = opts.resolution.or(Some([info.resolution, info.resolution]));
        let sources = SplitClips::new(&ds, &spec, &Preprocess::paper(&name, resolution, sigma), opts.max_train_windows, opts.noise_seed)?;
        let [c, t, h, w] = sources.train.clip_shape();
        avit.check_clip([1, c, t, h, w]).map_err(|e| {
            EvalError::Config(format!("{} does not fit the AViT of {}: {e}", opts.data_dir.display(), opts.run_dir.display()))
        })?;
        let head_cfg = AttentiveProbeConfig { dim: encoder.token_dim(), num_outputs: ds.label_names().len(), ..opts.head.clone() };
        let head = head_cfg.init::<CpuAutodiff>(opts.seed, &device)?;
        let resolved = FinetuneOptions { head: head_cfg, stride: Some(spec.stride), noise_std: Some(sigma), resolution, ..opts.clone() };
        Ok((Setup { ds, sources, resolved, _lock: lock }, AvitRegressor { encoder, head }))
    }
}

/// What the epochs leave: the best epoch, the curves, and the lr after the last epoch.
struct Trained {
    best: BestEpoch<Kept>,
    progress: Progress,
    final_lr: f64,
}

/// Train the epochs not yet done (resuming this trajectory's checkpoint), scoring valid after each and
/// checkpointing the engine, the curves and the best epoch's weights.
fn train_epochs(opts: &FinetuneOptions, setup: &Setup, model: AvitRegressor<CpuAutodiff>) -> Result<Trained, EvalError> {
    let new_optim = || {
        AdamConfig::new()
            .with_beta_1(opts.beta1 as f32)
            .with_beta_2(opts.beta2 as f32)
            .with_epsilon(opts.eps as f32)
            .init::<CpuAutodiff, AvitRegressor<CpuAutodiff>>()
    };
    let key = trajectory_key(&setup.resolved)?;
    let root = opts.out_dir().join("checkpoints");
    let policy = LrPolicy::Plateau(Plateau::new(opts.lr, opts.plateau.clone()));
    let (mut engine, mut progress, mut best) = resume(&root, &key, opts.epochs, &model, new_optim, policy.clone(), opts.seed)?
        .unwrap_or_else(|| {
            let fresh = Progress { key: key.clone(), ..Progress::default() };
            (Engine::new(model, new_optim(), policy, opts.seed), fresh, BestEpoch::default())
        });
    if progress.train_loss.is_empty() && root.exists() {
        // A checkpoint of another run or other options: this trajectory starts over.
        std::fs::remove_dir_all(&root).map_err(EvalError::io(&root))?;
    }

    let sources = &setup.sources;
    let grouping = Grouping::Batches { batch: opts.batch_size, micro: opts.micro_batch };
    let step = FinetuneStep { src: &sources.train };
    let bar = physrep_core::Progress::new(opts.epochs as u64, "fine-tuning", "epochs", opts.progress);
    bar.set_position(progress.train_loss.len() as u64);
    for epoch in progress.train_loss.len()..opts.epochs {
        let lr = engine.policy().lr(0);
        let micros = grouping.split(&shuffled(sources.train.len(), epoch_seed(opts.seed, epoch as u64)));
        let micros = micros.into_iter().map(|m| Ok(m.map_input(|idx| (epoch, idx))));
        engine.run(&step, micros, |_, _| Ok(Flow::Continue))?;
        let snapshot = engine.model().valid();
        let (valid, valid_pred, valid_truth) = score(&snapshot, &sources.valid, opts.eval_batch)?;
        let valid_mean = valid.mean;
        let train_loss = engine.end_epoch(Some(valid_mean)).unwrap_or(f64::NAN);
        progress.train_loss.push(train_loss);
        progress.valid_curve.push(valid_mean);
        progress.lrs.push(lr);
        if best.observe(epoch, valid_mean, || (snapshot, valid.clone(), valid_pred.clone(), valid_truth.clone())) {
            progress.best = Some(BestRecord { epoch, valid, valid_pred, valid_truth });
        }
        if let Some((_, _, kept)) = best.best() {
            let extra = serde_json::to_value(&progress).map_err(|source| EvalError::Json { path: root.join("state.json"), source })?;
            let best_bytes = module_bytes::<Cpu, _>(&kept.0, &root.join("best.mpk"))?;
            engine.save(&root, 1, 0, Some(extra), &[("best.mpk", best_bytes)])?;
        }
        bar.set_message(format!("loss {train_loss:.4} · valid {valid_mean:.4} · lr {lr:.1e}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Trained { best, progress, final_lr: engine.policy().lr(0) })
}

/// Score the best epoch on test, the predict-the-mean floor on valid and test, and write the report,
/// the per-window predictions and the scatters.
fn write_report(opts: &FinetuneOptions, setup: &Setup, trained: Trained) -> Result<ProbeReport, EvalError> {
    let Setup { ds, sources, resolved, .. } = setup;
    let Trained { best, progress: Progress { train_loss, valid_curve, lrs, .. }, final_lr } = trained;
    let (best_epoch, _, (model, valid, valid_pred, valid_truth)) =
        best.into_best().ok_or_else(|| EvalError::Data("fine-tuning produced no epoch with a finite valid MSE".into()))?;
    let test = sources.test.as_ref().map(|src| score(&model, src, opts.eval_batch)).transpose()?;

    let p = ds.label_names().len();
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
        ("final_lr", final_lr),
        ("plateau_factor", opts.plateau.factor),
        ("plateau_patience", opts.plateau.patience as f64),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let prediction = |split: &str, pred: Vec<f32>, truth: Vec<f32>| Predictions {
        probe: FINETUNE_PROBE.into(),
        fraction: 1.0,
        split: split.into(),
        pred,
        truth,
    };
    let mut predictions = vec![prediction("valid", valid_pred, valid_truth)];
    if let Some((_, pred, truth)) = &test {
        predictions.push(prediction("test", pred.clone(), truth.clone()));
    }
    let n = sources.train.len();
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
    let out = opts.out_dir();
    record_predictions(&out, ds, std::slice::from_mut(&mut result), &predictions, sources, opts.seed)?;

    let mut windows = BTreeMap::from([("train".to_string(), n), ("valid".to_string(), sources.valid.len())]);
    if let Some(t) = &sources.test {
        windows.insert("test".to_string(), t.len());
    }
    let run_name = opts.run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let report = ProbeReport {
        encoder: format!("{run_name} (mpp, fine-tuned end to end)"),
        dataset: ds.name().to_string(),
        label_names: ds.label_names().to_vec(),
        windows,
        options: serde_json::to_value(resolved).map_err(|source| EvalError::Json { path: out.join("results.json"), source })?,
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

/// The caller's record in each fine-tuning checkpoint (beside the engine's position and plateau state).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Progress {
    /// [`trajectory_key`] of the run that wrote it.
    key: String,
    /// Per finished epoch: mean training loss, valid MSE, lr used.
    train_loss: Vec<f64>,
    valid_curve: Vec<f64>,
    lrs: Vec<f64>,
    best: Option<BestRecord>,
}

/// The best epoch kept: its inference weights, valid scores, predictions and truth.
type Kept = (AvitRegressor<Cpu>, Scores, Vec<f32>, Vec<f32>);

/// Adam on the regressor.
type AdamOptim = burn::optim::adaptor::OptimizerAdaptor<burn::optim::Adam, AvitRegressor<CpuAutodiff>, CpuAutodiff>;

/// What a resumed fine-tuning continues with: the engine, the record and the best epoch.
type Resumed = (Engine<CpuAutodiff, AvitRegressor<CpuAutodiff>, AdamOptim>, Progress, BestEpoch<Kept>);

/// The engine, the record and the best epoch after the last finished epoch of this trajectory, if `root`
/// holds one with at most `epochs` epochs; a checkpoint of another run or options is ignored (`Ok(None)`).
fn resume(
    root: &std::path::Path,
    key: &str,
    epochs: usize,
    model: &AvitRegressor<CpuAutodiff>,
    new_optim: impl Fn() -> AdamOptim,
    policy: LrPolicy,
    seed: u64,
) -> Result<Option<Resumed>, EvalError> {
    let Some((engine, ck, saved)) = Engine::resume(root, || model.clone(), new_optim, policy, seed, &Default::default())? else {
        return Ok(None);
    };
    let state = ck.state_path();
    let progress: Progress = match saved.extra.map(serde_json::from_value).transpose() {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(None),
        Err(source) => return Err(EvalError::Json { path: state, source }),
    };
    if progress.key != key || progress.train_loss.is_empty() || progress.train_loss.len() > epochs {
        return Ok(None);
    }
    let mut best = BestEpoch::default();
    if let Some(b) = &progress.best {
        let kept = load_module(engine.model().valid(), &ck.dir.join("best.mpk"), &Default::default())?;
        best.observe(b.epoch, b.valid.mean, || (kept, b.valid.clone(), b.valid_pred.clone(), b.valid_truth.clone()));
    }
    Ok(Some((engine, progress, best)))
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// One update over 6 windows computed as micro-batches of 4 and 2 moves every parameter as one pass
    /// over all 6 does (plain SGD, lr 1: the step is the gradient itself), for the AViT's stem and the head,
    /// with the same training loss (a wrong weighting of the smaller part would not).
    #[test]
    fn micro_batches_of_a_batch_give_the_full_batch_update() {
        let device = Default::default();
        <CpuAutodiff as Backend>::seed(&device, 75);
        let avit = physrep_nn::avit::AvitConfig { embed_dim: 8, num_heads: 2, processor_blocks: 1, patch_size: 4, ..Default::default() };
        let encoder = avit.init::<CpuAutodiff>(&device).unwrap();
        let head =
            AttentiveProbeConfig { dim: 8, num_outputs: 2, num_heads: 2, mlp_ratio: 2.0, ..Default::default() }.init(1, &device).unwrap();
        let model = AvitRegressor { encoder, head };
        // Materialise the lazily initialised parameters once, so every clone starts from the same weights.
        physrep_train::checkpoint::parameter_bits(&model);
        let one_update = |micro: usize| {
            let optim = burn::optim::SgdConfig::new().init::<CpuAutodiff, AvitRegressor<CpuAutodiff>>();
            let policy = LrPolicy::Plateau(Plateau::new(1.0, PlateauConfig::default()));
            let mut engine = Engine::new(model.clone(), optim, policy, 0);
            let micros = Grouping::Batches { batch: 6, micro }.split(&[0, 1, 2, 3, 4, 5]);
            let micros = micros.into_iter().map(|m| Ok(m.map_input(|idx| (0, idx))));
            engine.run(&FinetuneStep { src: &Ramps }, micros, |_, _| Ok(Flow::Continue)).unwrap();
            let loss = engine.end_epoch(None).unwrap();
            (engine.into_model().valid(), loss)
        };
        let (full, full_loss) = one_update(6);
        let (parts, parts_loss) = one_update(4);
        assert!((full_loss - parts_loss).abs() < 1e-6 * full_loss, "{full_loss} vs {parts_loss}");
        let moved = |a: Vec<f32>, b: Vec<f32>, start: Vec<f32>| {
            let scale = a.iter().zip(&start).map(|(x, s)| (x - s).abs()).fold(0.0f32, f32::max);
            assert!(scale > 0.0, "the update moved nothing");
            a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 1e-4 * scale)
        };
        let v4 = |t: Tensor<Cpu, 4>| t.into_data().to_vec::<f32>().unwrap();
        let v2 = |t: Tensor<Cpu, 2>| t.into_data().to_vec::<f32>().unwrap();
        let start = model.valid();
        let stem = |m: &AvitRegressor<Cpu>| v4(m.encoder.trunk.embed.conv1.weight.val());
        let linear = |m: &AvitRegressor<Cpu>| v2(m.head.linear.weight.val());
        assert!(moved(stem(&full), stem(&parts), stem(&start)), "stem update differs");
        assert!(moved(linear(&full), linear(&parts), linear(&start)), "head update differs");
    }

    /// The paper's MPP head: D 192, 8 heads, MLP ratio 4, P 2 → 408,386 parameters (`docs/baselines.md` §1).
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
