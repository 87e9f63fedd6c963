//! `physrep probe` as a library call: embed a dataset's splits through a frozen encoder (cached),
//! evaluate the probes, write `results.json`, `results.md` and plots under `RUN/probe/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use physrep_nn::{ClipEncoder, Cpu};
use physrep_well::{Preprocess, WellDataset, WindowRef, WindowSpec};
use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::evaluate::{evaluate, EvalConfig, Predictions, SplitFeatures};
use crate::extract::extract_cached;
use crate::features::{FeatureCache, Features};
use crate::plots::{line_curves, scatter_pred_true, Curve};
use crate::predictions::{window_ids, write_predictions};
use crate::report::{ProbeReport, ProbeResult};
use crate::well_source::{SplitClips, WellClips};

/// Options of a probe run. `Default` = the paper's protocol (physrep fixes, `docs/paper-protocol.md` §13).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeOptions {
    /// The pretraining run directory (encoder checkpoint and config).
    pub run_dir: PathBuf,
    /// The Well-layout dataset directory.
    pub data_dir: PathBuf,
    /// Output directory (default `RUN/probe`).
    pub out_dir: Option<PathBuf>,
    /// Probe a randomly initialised encoder of the same architecture (the honest control).
    pub random_init: bool,
    /// Probe the run's own initial weights (`RUN/init.mpk`, the paired control of the trained encoder);
    /// results go to `RUN/probe-init` unless `out_dir` says otherwise.
    pub own_init: bool,
    /// Probe the run's checkpoint after this many updates (`RUN/checkpoints/update-…`, a point of a
    /// learning curve); results go to `RUN/probe-update-<N>` unless `out_dir` says otherwise.
    pub checkpoint: Option<u64>,
    /// Probes, fractions, probe training and sweep.
    pub eval: EvalConfig,
    /// Probe-input noise σ; `None` = the paper's per-dataset value (AM 1.0, SF 1.0, RB 0, else 0).
    pub noise_std: Option<f32>,
    /// K cached noise draws of the training windows, cycled over epochs (K = 1 = the paper's code).
    pub noise_draws: usize,
    /// Seed of the per-window noise.
    pub noise_seed: u64,
    /// Input resolution; `None` = what the encoder was trained on.
    pub resolution: Option<[usize; 2]>,
    /// Cap on probe training windows (seeded random subset, fixed across epochs); `None` = the paper's
    /// (SF 20,480, RB 10,240, otherwise all).
    pub max_train_windows: Option<usize>,
    /// Window start stride; `None` = the paper's per dataset.
    pub stride: Option<usize>,
    /// Probe micro-batch; `None` = the paper's (SF 64, otherwise 32). Overrides `eval.train`.
    pub batch_size: Option<usize>,
    /// Micro-batches per update; `None` = 256 / batch (paper). Overrides `eval.train`.
    pub accum: Option<usize>,
    /// Clips per encoder forward during extraction.
    pub extract_batch: usize,
    /// Feature cache directory (default `OUT/cache`).
    pub cache_dir: Option<PathBuf>,
    /// Write PNG plots.
    pub plots: bool,
    /// Show progress bars.
    pub progress: bool,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            run_dir: PathBuf::new(),
            data_dir: PathBuf::new(),
            out_dir: None,
            random_init: false,
            own_init: false,
            checkpoint: None,
            eval: EvalConfig::default(),
            noise_std: None,
            noise_draws: 1,
            noise_seed: 42,
            resolution: None,
            max_train_windows: None,
            stride: None,
            batch_size: None,
            accum: None,
            extract_batch: 8,
            cache_dir: None,
            plots: true,
            progress: false,
        }
    }
}

impl ProbeOptions {
    /// Where results go.
    pub fn out_dir(&self) -> PathBuf {
        self.out_dir.clone().unwrap_or_else(|| {
            self.run_dir.join(match (self.own_init, self.checkpoint) {
                (true, _) => "probe-init".to_string(),
                (false, Some(update)) => format!("probe-update-{update}"),
                (false, None) => "probe".to_string(),
            })
        })
    }
}

/// A frozen encoder and what it expects.
pub struct EncoderHandle {
    pub encoder: Box<dyn ClipEncoder<Cpu>>,
    /// Identity for the feature cache (checkpoint SHA-256, or a random-init description with seed).
    pub id: String,
    /// Human-readable description for reports.
    pub description: String,
    /// Context frames per clip.
    pub frames: usize,
    /// Resolution the encoder was trained at (`None` = native grid).
    pub resolution: Option<[usize; 2]>,
}

/// Load the encoder of a finished pretraining run (or, with `random_init`, a freshly initialised encoder
/// of the same architecture, seeded by `eval.train.seed`; with `own_init`, the run's own initial
/// weights) and run the probes.
pub fn probe_run(opts: &ProbeOptions) -> Result<ProbeReport, EvalError> {
    let train_err = |e: physrep_train::TrainError| EvalError::Config(format!("{}: {e}", opts.run_dir.display()));
    let info = physrep_train::encoder_info(&opts.run_dir).map_err(train_err)?;
    let run = physrep_train::RunDir::new(&opts.run_dir);
    let run_name = opts.run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if [opts.random_init, opts.own_init, opts.checkpoint.is_some()].iter().filter(|x| **x).count() > 1 {
        return Err(EvalError::Config(
            "random_init, own_init and checkpoint (--random-init, --init, --checkpoint) exclude each other".into(),
        ));
    }
    let handle = if let Some(update) = opts.checkpoint {
        let model = physrep_train::checkpoint_model(&opts.run_dir, update).map_err(train_err)?;
        let encoder = physrep_train::load_checkpoint_encoder(&opts.run_dir, &model).map_err(train_err)?;
        EncoderHandle {
            encoder,
            id: format!("checkpoint:{}", crate::features::file_sha256(&model)?),
            description: format!("{run_name} ({}, after {update} updates)", info.method),
            frames: info.frames,
            resolution: Some([info.resolution, info.resolution]),
        }
    } else if opts.own_init {
        let encoder = physrep_train::load_init_encoder(&opts.run_dir).map_err(train_err)?;
        EncoderHandle {
            encoder,
            id: format!("own-init:{}", crate::features::file_sha256(&run.init_model_path())?),
            description: format!("{run_name} ({}, own init)", info.method),
            frames: info.frames,
            resolution: Some([info.resolution, info.resolution]),
        }
    } else if opts.random_init {
        let cfg = run.config().map_err(train_err)?;
        let seed = opts.eval.train.seed;
        let encoder = physrep_train::random_encoder(&opts.run_dir, seed).map_err(train_err)?;
        let arch = serde_json::to_string(&cfg.method).map_err(|source| EvalError::Json { path: run.config_path(), source })?;
        EncoderHandle {
            encoder,
            id: format!("random-init:{}:seed{seed}", crate::features::sha256_hex(arch.as_bytes())),
            description: format!("{run_name} ({}, random init, seed {seed})", info.method),
            frames: info.frames,
            resolution: Some([info.resolution, info.resolution]),
        }
    } else {
        let encoder = physrep_train::load_encoder(&opts.run_dir).map_err(train_err)?;
        EncoderHandle {
            encoder,
            id: crate::features::file_sha256(&run.model_path())?,
            description: format!("{run_name} ({})", info.method),
            frames: info.frames,
            resolution: Some([info.resolution, info.resolution]),
        }
    };
    let windows = ProbeWindows::new(opts, handle.frames, handle.resolution)?;
    check_channels(&opts.run_dir, &info, &windows.ds)?;
    probe_windows(opts, &handle, &windows)
}

/// A run's encoder reads the fields it was trained on, in the same order: probing it on another
/// system's data (or another channel layout) is refused before anything is embedded.
pub(crate) fn check_channels(run_dir: &Path, info: &physrep_train::EncoderInfo, ds: &WellDataset) -> Result<(), EvalError> {
    if ds.channel_names() == info.channel_names.as_slice() {
        return Ok(());
    }
    Err(EvalError::Config(format!(
        "{} was trained on `{}` data with {} channels [{}], but {} (`{}`) has {} channels [{}]: probe a run on data of the fields it was trained on",
        run_dir.display(),
        info.dataset,
        info.channel_names.len(),
        info.channel_names.join(", "),
        ds.dir().display(),
        ds.name(),
        ds.n_channels(),
        ds.channel_names().join(", ")
    )))
}

/// Run the probes with an already-loaded encoder.
pub fn probe_run_with(opts: &ProbeOptions, enc: &EncoderHandle) -> Result<ProbeReport, EvalError> {
    let windows = ProbeWindows::new(opts, enc.frames, enc.resolution)?;
    probe_windows(opts, enc, &windows)
}

/// The dataset, windows and preprocessing of a probe run for an encoder of `frames` context frames
/// (the paper's window spec otherwise, `opts.stride` overriding the stride), with the options'
/// noise σ, resolution (`opts.resolution`, else the encoder's) and training-window cap resolved.
pub(crate) struct ProbeWindows {
    pub(crate) ds: Arc<WellDataset>,
    spec: WindowSpec,
    sigma: f32,
    resolution: Option<[usize; 2]>,
    cap: Option<usize>,
    pub(crate) sources: SplitClips,
}

impl ProbeWindows {
    pub(crate) fn new(opts: &ProbeOptions, frames: usize, encoder_resolution: Option<[usize; 2]>) -> Result<Self, EvalError> {
        if opts.noise_draws == 0 || opts.extract_batch == 0 {
            return Err(EvalError::Config("noise_draws and extract_batch must be ≥ 1".into()));
        }
        let ds = Arc::new(WellDataset::open(&opts.data_dir)?);
        let name = ds.name().to_string();
        let mut spec = WindowSpec::paper(&name);
        spec.context = frames;
        if let Some(s) = opts.stride {
            spec.stride = s;
        }
        let protocol = physrep_well::Protocol::of_name(&name);
        let sigma = opts.noise_std.unwrap_or(protocol.probe_noise_std);
        let resolution = opts.resolution.or(encoder_resolution);
        let pre = Preprocess::paper(&name, resolution, sigma);
        let cap = opts.max_train_windows.or(protocol.probe_max_train_windows);
        let sources = SplitClips::new(&ds, &spec, &pre, cap, opts.noise_seed)?;
        Ok(Self { ds, spec, sigma, resolution, cap, sources })
    }
}

/// Embed `w`'s windows through `enc` (cached), evaluate the probes and write the results, the
/// per-window predictions ([`crate::predictions`]) and the plots.
pub(crate) fn probe_windows(opts: &ProbeOptions, enc: &EncoderHandle, w: &ProbeWindows) -> Result<ProbeReport, EvalError> {
    let (ds, sources) = (&w.ds, &w.sources);
    let name = ds.name().to_string();
    let out = opts.out_dir();
    let _lock = physrep_core::DirLock::exclusive(&out, "physrep probe")?;
    let cache = FeatureCache::new(opts.cache_dir.clone().unwrap_or_else(|| out.join("cache")));

    let embed = |src: &WellClips, draw: usize| -> Result<Features, EvalError> {
        extract_cached(&cache, &enc.id, enc.encoder.as_ref(), src, draw, opts.extract_batch, opts.progress)
    };
    let draws = if w.sigma > 0.0 { opts.noise_draws } else { 1 };
    let train = (0..draws).map(|k| embed(&sources.train, k)).collect::<Result<Vec<_>, _>>()?;
    let valid = embed(&sources.valid, 0)?;
    let test = sources.test.as_ref().map(|src| embed(src, 0)).transpose()?;

    let data = SplitFeatures { train, valid, test };
    let mut eval_cfg = opts.eval.clone();
    let batch = opts.batch_size.unwrap_or(physrep_well::Protocol::of_name(&name).probe_batch);
    eval_cfg.train.batch_size = batch;
    eval_cfg.train.accum = opts.accum.unwrap_or((256 / batch.max(1)).max(1));
    let (mut results, predictions) = evaluate(&data, &eval_cfg)?;
    record_predictions(&out, ds, &mut results, &predictions, sources, opts.eval.train.seed)?;
    let mut windows = std::collections::BTreeMap::new();
    windows.insert("train".to_string(), data.train[0].len());
    windows.insert("valid".to_string(), data.valid.len());
    if let Some(t) = &data.test {
        windows.insert("test".to_string(), t.len());
    }
    let mut resolved = opts.clone();
    resolved.noise_std = Some(w.sigma);
    resolved.resolution = w.resolution;
    resolved.max_train_windows = w.cap;
    resolved.stride = Some(w.spec.stride);
    resolved.batch_size = Some(eval_cfg.train.batch_size);
    resolved.accum = Some(eval_cfg.train.accum);
    resolved.eval = eval_cfg;
    let report = ProbeReport {
        encoder: enc.description.clone(),
        dataset: name,
        label_names: ds.label_names().to_vec(),
        windows,
        options: serde_json::to_value(&resolved).map_err(|source| EvalError::Json { path: out.join("results.json"), source })?,
        results,
    };
    report.write_json(&out.join("results.json"))?;
    report.write_markdown(&out.join("results.md"))?;
    if opts.plots {
        write_plots(&out, &report, &predictions)?;
    }
    Ok(report)
}

/// Attach the test intervals to `results` ([`add_test_intervals`]) and save every entry of
/// `predictions` per window under `out/predictions/` (rows in `sources`' window order).
pub(crate) fn record_predictions(
    out: &Path,
    ds: &WellDataset,
    results: &mut [ProbeResult],
    predictions: &[Predictions],
    sources: &SplitClips,
    seed: u64,
) -> Result<(), EvalError> {
    let test_windows = sources.test.as_ref().map_or(&[][..], |src| src.windows());
    add_test_intervals(results, predictions, test_windows, ds.label_names().len(), seed)?;
    write_predictions(out, ds.label_names(), predictions, &window_ids(ds, sources.valid.windows())?, &window_ids(ds, test_windows)?)
}

/// Attach to every result with test predictions the 95 % interval of its test MSE, bootstrapping
/// test trajectories (rows are in `test_windows` order).
fn add_test_intervals(
    results: &mut [ProbeResult],
    predictions: &[Predictions],
    test_windows: &[WindowRef],
    p: usize,
    seed: u64,
) -> Result<(), EvalError> {
    let groups: Vec<usize> = test_windows.iter().map(|w| (w.file << 32) | w.trajectory).collect();
    for r in results.iter_mut() {
        let pr = predictions.iter().find(|x| x.split == "test" && x.probe == r.probe && x.fraction == r.fraction);
        if let Some(pr) = pr {
            r.test_ci95 = Some(crate::bootstrap::cluster_ci95(&pr.pred, &pr.truth, p, &groups, crate::bootstrap::RESAMPLES, seed)?);
        }
    }
    Ok(())
}

/// Scatter per (probe, parameter) at the largest fraction on test (valid if there is no test), and a
/// data-efficiency curve per probe when several fractions were run.
pub(crate) fn write_plots(out: &Path, report: &ProbeReport, predictions: &[Predictions]) -> Result<(), EvalError> {
    let p = report.label_names.len();
    let top = report.results.iter().map(|r| r.fraction).fold(0.0f64, f64::max);
    let has_test = predictions.iter().any(|x| x.split == "test");
    let split = if has_test { "test" } else { "valid" };
    for pr in predictions.iter().filter(|x| x.fraction == top && x.split == split) {
        for (j, pname) in report.label_names.iter().enumerate() {
            let pick = |v: &[f32]| v.iter().skip(j).step_by(p).copied().collect::<Vec<f32>>();
            let path = out.join(format!("scatter_{}_{}_{}.png", pr.probe, split, sanitize(pname)));
            let title = format!("{} · {} · {} ({split})", report.dataset, pr.probe, pname);
            scatter_pred_true(&path, &title, &pick(&pr.truth), &pick(&pr.pred))?;
        }
    }
    let fractions: Vec<f64> = {
        let mut f: Vec<f64> = report.results.iter().map(|r| r.fraction).collect();
        f.sort_by(f64::total_cmp);
        f.dedup();
        f
    };
    if fractions.len() > 1 {
        let mut curves = Vec::new();
        let mut names: Vec<&str> = report.results.iter().map(|r| r.probe.as_str()).collect();
        names.dedup();
        let metric = |s: &crate::metrics::Scores| s.mean;
        for name in &names {
            let points = report
                .results
                .iter()
                .filter(|r| r.probe == *name)
                .map(|r| (r.fraction, r.test.as_ref().map_or(metric(&r.valid), metric)))
                .collect();
            curves.push(Curve { name: name.to_string(), points });
        }
        let floor = report
            .results
            .iter()
            .filter(|r| r.probe == names[0])
            .map(|r| (r.fraction, r.floor_test.as_ref().map_or(r.floor_valid.mean, |s| s.mean)))
            .collect();
        curves.push(Curve { name: "predict-the-mean".into(), points: floor });
        let title = format!("{}: data efficiency ({split})", report.dataset);
        line_curves(&out.join("data_efficiency.png"), &title, "fraction of probe training windows", "MSE (z-scored)", &curves, true)?;
    }
    Ok(())
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}
