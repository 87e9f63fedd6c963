//! `physrep reproduce`: simulate (or read The Well), pretrain every method, probe, report.
//!
//! Layout of the output directory:
//! ```text
//! OUT/plan.json                         the resolved plan
//! OUT/data/<system>/                    simulated Well-layout dataset (stage `data`)
//! OUT/runs/<system>/<method>/seed<k>/   pretraining run (stage `pretrain`), its probe in `probe/`
//!                                       (MPP: also its end-to-end fine-tuning in `finetune/`); for the
//!                                       plan's `init_controls`, the probe of the run's own initial
//!                                       weights in `probe-init/` (rows `<method>-init`); with the
//!                                       plan's `curve_every`, its learning curve in `curve/`
//! OUT/runs/<system>/supervised/seed<k>/ the supervised ceiling (JEPA's encoder trained on the labels)
//! OUT/runs/<system>/stats/probe/        the trivial-statistics baseline (row `stats`)
//! OUT/figures/*.png                     figures of the report
//! OUT/REPORT.md, results.csv, results.json (with paired `comparisons`, see `compare.rs`)
//! ```
//! The arms answer "did pretraining learn the physics?": each trained encoder against its own
//! initialisation (same architecture, same initial weights, so the difference is the pretraining), the
//! trivial statistics every learned encoder should beat, and the supervised ceiling that shows whether
//! the parameters can be read from these clips at all.
//! Every stage is cached by the hash of its resolved config (`stage.rs`): a rerun skips what is done,
//! and a killed run resumes (simulation skips finished files, pretraining resumes from its newest
//! checkpoint, probes reuse cached features).

pub mod compare;
pub mod plan;
pub mod report;
pub mod stage;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use physrep_eval::plots::{self, BarSeries, Curve};
use physrep_train::MethodKind;
use physrep_well::{Split, SystemId, WellDataset, WindowSpec};

pub use plan::Plan;
use plan::TrainPatch;
use report::{CurveRow, ResultRow, StageTime, Study};

/// Run the whole study described by `plan` into `out`.
pub fn run(plan: &Plan, out: &Path) -> Result<Study> {
    let start = Instant::now();
    plan.check()?;
    let _lock = physrep_core::DirLock::exclusive(out, "physrep reproduce")?;
    stage::write_atomic(&out.join("plan.json"), &serde_json::to_vec_pretty(plan)?)?;
    let figures_dir = out.join("figures");
    std::fs::create_dir_all(&figures_dir)?;
    let mut c = Collected { start, stages: Vec::new(), rows: Vec::new(), curves: Vec::new(), figures: Vec::new() };
    for &id in &plan.systems {
        run_system(plan, out, id, &figures_dir, &mut c)?;
    }

    let mut study = Study {
        preset: plan.preset.clone(),
        data_source: match &plan.well_dir {
            Some(d) => format!("The Well at {}", d.display()),
            None => format!("physrep's simulators, preset `{}`", plan.sim_preset.name()),
        },
        systems: plan.systems.iter().map(|s| s.name().to_string()).collect(),
        methods: plan.arms(),
        seeds: plan.seeds.clone(),
        comparisons: compare::study_comparisons(plan, out),
        rows: c.rows,
        curves: c.curves,
        stages: c.stages,
        figures: c.figures,
        total_wall_s: 0.0,
    };
    summary_figures(&mut study, out, &figures_dir)?;
    study.total_wall_s = start.elapsed().as_secs_f64();
    report::write(&study, out)?;
    Ok(study)
}

/// What the stages of a study leave for its report, as they finish.
struct Collected {
    start: Instant,
    stages: Vec<StageTime>,
    rows: Vec<ResultRow>,
    curves: Vec<CurveRow>,
    figures: Vec<(String, String)>,
}

impl Collected {
    /// Keep a finished stage's time, and print one line for it on stderr: the progress of a run whose
    /// output goes to a log file (the bars of the stages themselves show only on a terminal).
    fn record(&mut self, st: &stage::StageRecord, skipped: bool, label: String) {
        let how = if skipped { "cached".to_string() } else { format!("{:.1} s", st.wall_s) };
        eprintln!("reproduce [{:7.1} s] {label}: {how}", self.start.elapsed().as_secs_f64());
        self.stages.push(StageTime { stage: label, wall_s: st.wall_s, peak_rss_mb: st.peak_rss_mb, cached: skipped });
    }
}

/// One system of the study: its data, then per method and seed pretraining, the probes (and the
/// own-init control, MPP's fine-tuning), then the statistics baseline.
fn run_system(plan: &Plan, out: &Path, id: SystemId, figures_dir: &Path, c: &mut Collected) -> Result<()> {
    let system = id.name();
    // 1. Data.
    let data_cfg = DataStage::new(plan, id);
    let data = stage::run(&out.join("stages").join(system).join("data"), "data", &data_cfg, |_| data_cfg.materialise(out))?;
    c.record(&data.record, data.skipped, format!("{system}: data"));
    let data_dir = PathBuf::from(&data.output);
    let data_hash = stage::config_hash(&data_cfg)?;

    let strip = figures_dir.join(format!("frames_{system}.png"));
    if !strip.exists() {
        frame_strip(&data_dir, &strip).with_context(|| format!("frame strip of {system}"))?;
    }
    c.figures.push((format!("{system}: frames of the first training window"), rel(out, &strip)));

    // 2. Pretraining and probes per method and seed (the supervised ceiling as one more method).
    for kind in plan.trained_methods() {
        let method = kind.as_str();
        for &seed in &plan.seeds {
            let run_dir = compare::run_dir(out, system, method, seed);
            let pre_cfg = PretrainStage::new(plan, id, &data_hash, kind, seed);
            let pre = stage::run(&run_dir.join("stage-pretrain"), "pretrain", &pre_cfg, |_| pretrain(&pre_cfg, &data_dir, &run_dir))?;
            c.record(&pre.record, pre.skipped, format!("{system}: pretrain {method} seed {seed}"));
            let pre_hash = stage::config_hash(&pre_cfg)?;

            let probe_cfg = ProbeStage::new(plan, id, pre_hash.clone(), false);
            let probed = stage::run(&run_dir.join("stage-probe"), "probe", &probe_cfg, |_| {
                probe(&probe_cfg, &run_dir, &data_dir, system, method, seed)
            })?;
            c.record(&probed.record, probed.skipped, format!("{system}: probe {method} seed {seed}"));
            c.rows.extend(probed.output);

            // The paired control: the same run's initial weights, probed the same way.
            if plan.init_controls.contains(&kind) {
                let init_cfg = ProbeStage::new(plan, id, pre_hash.clone(), true);
                let arm = format!("{method}-init");
                let probed = stage::run(&run_dir.join("stage-probe-init"), "probe", &init_cfg, |_| {
                    probe(&init_cfg, &run_dir, &data_dir, system, &arm, seed)
                })?;
                c.record(&probed.record, probed.skipped, format!("{system}: probe {arm} seed {seed}"));
                c.rows.extend(probed.output);
            }

            // The learning curve of the first seed's run.
            if let Some(every) = plan.curve_every_for(kind).filter(|_| seed == plan.seeds[0]) {
                let curve_cfg = CurveStage::new(plan, id, pre_hash.clone(), every);
                let curve = stage::run(&run_dir.join("stage-curve"), "curve", &curve_cfg, |_| {
                    learning_curve(&curve_cfg, &run_dir, &data_dir, system, method, seed)
                })?;
                c.record(&curve.record, curve.skipped, format!("{system}: learning curve {method} seed {seed}"));
                c.curves.push(curve.output);
            }

            // MPP as the paper reports it: fine-tuned end to end (Table 1 prefers these rows).
            if kind == MethodKind::Mpp && plan.finetune_epochs > 0 {
                let ft_cfg = FinetuneStage {
                    pretrain: pre_hash.clone(),
                    epochs: plan.finetune_epochs,
                    max_train_windows: plan.finetune_max_train_windows,
                    batch: plan.finetune_batch,
                    lr: plan.finetune_lr,
                };
                let tuned = stage::run(&run_dir.join("stage-finetune"), "finetune", &ft_cfg, |_| {
                    finetune(&ft_cfg, &run_dir, &data_dir, system, seed)
                })?;
                c.record(&tuned.record, tuned.skipped, format!("{system}: fine-tune {method} seed {seed}"));
                c.rows.extend(tuned.output);
            }

            if seed == plan.seeds[0] {
                let metrics = run_dir.join("metrics.jsonl");
                let fig = figures_dir.join(format!("loss_{system}_{method}.png"));
                if metrics.exists() {
                    plots::loss_curves_from_jsonl(&metrics, "update", &["loss"], &fig, false)
                        .with_context(|| format!("loss curve of {}", metrics.display()))?;
                    c.figures.push((format!("{system}: {method} pretraining loss"), rel(out, &fig)));
                }
            }
        }
    }

    curve_figure(id, figures_dir, out, c)?;

    // 3. The trivial-statistics baseline, on the windows of the first method's first run.
    if plan.stats_baseline {
        let first = plan.trained_methods().remove(0);
        let pre_cfg = PretrainStage::new(plan, id, &data_hash, first, plan.seeds[0]);
        let stats_cfg = StatsStage::new(plan, id, stage::config_hash(&pre_cfg)?);
        let run_dir = compare::run_dir(out, system, first.as_str(), plan.seeds[0]);
        let out_dir = compare::probe_dir(out, system, "stats", plan.seeds[0]);
        let probed = stage::run(&out.join("runs").join(system).join("stats").join("stage-probe"), "probe", &stats_cfg, |_| {
            stats_probe(&stats_cfg, &run_dir, &data_dir, &out_dir, system, plan.seeds[0])
        })?;
        c.record(&probed.record, probed.skipped, format!("{system}: probe stats"));
        c.rows.extend(probed.output);
    }
    Ok(())
}

/// The system's learning curves in one figure (test MSE against updates, one line per method, and
/// the floor), when it has any.
fn curve_figure(id: SystemId, figures_dir: &Path, out: &Path, c: &mut Collected) -> Result<()> {
    let system = id.name();
    let rows: Vec<&CurveRow> = c.curves.iter().filter(|r| r.system == system).collect();
    let Some(first) = rows.first() else { return Ok(()) };
    let mut curves: Vec<Curve> =
        rows.iter().map(|r| Curve { name: r.method.clone(), points: r.points.iter().map(|&(u, _, t)| (u as f64, t)).collect() }).collect();
    let last = rows.iter().flat_map(|r| r.points.iter().map(|p| p.0)).max().unwrap_or(0) as f64;
    curves.push(Curve { name: "floor".into(), points: vec![(0.0, first.floor_test), (last, first.floor_test)] });
    let fig = figures_dir.join(format!("learning_curve_{system}.png"));
    plots::line_curves(
        &fig,
        &format!("{system}: ridge probe against pretraining updates (test)"),
        "optimiser updates (0 = initial weights)",
        "MSE (z-scored)",
        &curves,
        false,
    )?;
    c.figures.push((format!("{system}: learning curves"), rel(out, &fig)));
    Ok(())
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Bar chart of Table 1 and data-efficiency curves.
fn summary_figures(study: &mut Study, out: &Path, dir: &Path) -> Result<()> {
    let bars = dir.join("table1_test_mse.png");
    let series: Vec<BarSeries> = study
        .methods
        .iter()
        .map(|m| BarSeries {
            name: m.clone(),
            values: study.systems.iter().map(|s| report::test_spread(&report::main_rows(&study.rows, s, m)).whisker()).collect(),
        })
        .collect();
    let floors: Vec<f64> =
        study.systems.iter().map(|s| study.rows.iter().find(|r| &r.system == s).map_or(f64::NAN, |r| r.floor_test)).collect();
    plots::grouped_bars(&bars, "Parameter-estimation MSE (test)", "MSE (z-scored)", &study.systems, &series, Some(&floors))?;
    let whiskers = if study.seeds.len() > 1 { "mean ± std over seeds" } else { "95 % bootstrap interval" };
    study.figures.push((format!("Table 1 as a bar chart (test MSE, {whiskers}; dashes: predict-the-mean floor)"), rel(out, &bars)));

    for system in study.systems.clone() {
        let curves: Vec<Curve> = study
            .methods
            .iter()
            .filter_map(|m| {
                let probe = report::main_probe(&study.rows, &system, m);
                let rows: Vec<&ResultRow> = study
                    .rows
                    .iter()
                    .filter(|r| r.system == system && &r.method == m && r.probe == probe && !r.fractions.is_empty())
                    .collect();
                let first = rows.first()?;
                let points = first
                    .fractions
                    .iter()
                    .map(|(f, _, _)| {
                        let xs: Vec<f64> =
                            rows.iter().filter_map(|r| r.fractions.iter().find(|x| (x.0 - f).abs() < 1e-12)).map(|x| x.2).collect();
                        (*f * 100.0, report::mean_std(&xs).0)
                    })
                    .collect();
                Some(Curve { name: m.clone(), points })
            })
            .collect();
        if curves.is_empty() {
            continue;
        }
        let fig = dir.join(format!("data_efficiency_{system}.png"));
        plots::line_curves(
            &fig,
            &format!("{system}: data efficiency (test)"),
            "% of probe training windows",
            "MSE (z-scored)",
            &curves,
            false,
        )?;
        study.figures.push((format!("{system}: data efficiency"), rel(out, &fig)));
    }
    // Predicted-vs-true scatters written by the probe runs (first seed).
    for system in study.systems.clone() {
        for m in study.methods.clone() {
            let probe_dir = compare::probe_dir(out, &system, &m, study.seeds[0]);
            let Ok(entries) = std::fs::read_dir(&probe_dir) else { continue };
            let mut pngs: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "png")).collect();
            pngs.sort();
            for p in pngs {
                let name = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                study.figures.push((format!("{system}: {m} {name}"), rel(out, &p)));
            }
        }
    }
    Ok(())
}

/// The data stage's resolved config.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DataStage {
    system: SystemId,
    well_dir: Option<PathBuf>,
    sim_preset: physrep_sim::Preset,
    sim_seed: u64,
    /// `lhs:N`: a parameter design split by point instead of the grid.
    design: Option<String>,
    /// Keep files that fail their physical check (recorded in each file).
    allow_unresolved: bool,
    /// How the labels are standardised (`physrep_sim::generate::label_scaling`; The Well: the paper's).
    label_scaling: physrep_well::LabelScaling,
}

impl DataStage {
    fn new(plan: &Plan, system: SystemId) -> Self {
        DataStage {
            system,
            well_dir: plan.well_dir.clone(),
            sim_preset: plan.sim_preset,
            sim_seed: plan.sim_seed,
            design: if plan.well_dir.is_some() { None } else { plan.designs.get(&system).cloned() },
            // The study keeps the files of systems not resolved yet, each recording its failed checks;
            // every other system's files must pass.
            allow_unresolved: physrep_sim::checks::UNRESOLVED_SYSTEMS.contains(&system.name()),
            label_scaling: match &plan.well_dir {
                None => physrep_sim::generate::label_scaling(plan.sim_preset),
                Some(_) => physrep_well::LabelScaling::Paper,
            },
        }
    }

    /// Simulate the dataset (or check the real one) and return its directory.
    fn materialise(&self, out: &Path) -> Result<String> {
        let dir = match &self.well_dir {
            Some(well) => {
                let dir = well.join(self.system.name());
                WellDataset::open(&dir).with_context(|| format!("opening The Well's {} at {}", self.system, dir.display()))?;
                dir
            }
            None => {
                let params = match &self.design {
                    Some(d) => physrep_sim::ParamSelection::Design(d.parse()?),
                    None => physrep_sim::ParamSelection::All,
                };
                let opts = physrep_sim::GenerateOptions {
                    out: out.join("data"),
                    preset: self.sim_preset,
                    seed: self.sim_seed,
                    params,
                    progress: true,
                    allow_unresolved: self.allow_unresolved,
                    ..Default::default()
                };
                physrep_sim::generate(self.system.name(), &opts)?
            }
        };
        Ok(dir.display().to_string())
    }
}

/// A pretraining stage's resolved config (the data stage's hash pins the data).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct PretrainStage {
    data: String,
    method: MethodKind,
    seed: u64,
    preset: physrep_train::Preset,
    overrides: Vec<String>,
}

impl PretrainStage {
    /// The plan's pretraining of `method` on `system` with `seed`: its overrides, then the input noise
    /// (the paper's σ for the system times the plan's noise scale).
    fn new(plan: &Plan, system: SystemId, data: &str, method: MethodKind, seed: u64) -> Self {
        let mut overrides = plan.train.then(plan.method_train.get(&method).unwrap_or(&TrainPatch::default())).overrides();
        overrides.push(format!("train.noise_std={}", noise_std(plan, system)));
        if let Some(every) = plan.curve_every_for(method) {
            // Every K-th update's weights kept for the learning curve.
            overrides.extend([format!("train.checkpoint_every={every}"), "train.keep_checkpoints=0".to_string()]);
        }
        PretrainStage { data: data.to_string(), method, seed, preset: plan.train_preset, overrides }
    }
}

/// Input-noise σ of `system` under `plan`: the paper's σ times the plan's scale.
fn noise_std(plan: &Plan, system: SystemId) -> f32 {
    system.protocol().probe_noise_std * plan.noise_scale
}

fn pretrain(cfg: &PretrainStage, data_dir: &Path, run_dir: &Path) -> Result<serde_json::Value> {
    let mut opts = physrep_train::pretrain::PretrainOptions::new(cfg.method, data_dir, run_dir);
    opts.preset = Some(cfg.preset);
    opts.overrides = cfg.overrides.clone();
    opts.overrides.push(format!("train.seed={}", cfg.seed));
    // A killed run left checkpoints behind: continue from the newest one.
    opts.resume = run_dir.join("config.toml").exists();
    opts.progress = true;
    let summary = physrep_train::pretrain::pretrain(&opts)?;
    Ok(serde_json::to_value(summary)?)
}

/// The probe's training recipe, part of every probe stage's key: bumped when a code change moves probe
/// results, so that a cached study reruns its probes instead of reporting the older code's numbers.
/// 1 (implicit): until 2026-12-07; 2: warm-up from 0 (`lr·k/W`) on the one optimisation engine.
const PROBE_RECIPE: u32 = 2;

/// A probe stage's resolved config.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ProbeStage {
    /// [`PROBE_RECIPE`].
    recipe: u32,
    pretrain: String,
    /// Probe the run's own initial weights instead of its trained ones.
    init: bool,
    probes: Vec<physrep_eval::ProbeKind>,
    epochs: usize,
    fractions: Vec<f64>,
    max_train_windows: Option<usize>,
    /// Omitted when unset, so that the keys of studies from before it existed stay the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stride: Option<usize>,
    batch: Option<usize>,
    accum: Option<usize>,
    sweep: Option<(Vec<f64>, Vec<f64>)>,
    noise_std: f32,
}

impl ProbeStage {
    fn new(plan: &Plan, system: SystemId, pretrain: String, init: bool) -> Self {
        ProbeStage {
            recipe: PROBE_RECIPE,
            pretrain,
            init,
            probes: plan.probes.clone(),
            epochs: plan.probe_epochs,
            fractions: plan.probe_fractions.clone(),
            max_train_windows: plan.probe_max_train_windows,
            stride: plan.probe_stride,
            batch: plan.probe_batch,
            accum: plan.probe_accum,
            sweep: plan.probe_sweep.clone(),
            noise_std: noise_std(plan, system),
        }
    }
}

fn probe(cfg: &ProbeStage, run_dir: &Path, data_dir: &Path, system: &str, method: &str, seed: u64) -> Result<Vec<ResultRow>> {
    let opts = probe_options(cfg, run_dir, data_dir)?;
    let report = physrep_eval::probe_run(&opts)?;
    Ok(rows_from_report(&report, system, method, seed))
}

/// The probe options of `cfg` on `run_dir`'s encoder (`cfg.init`: its initial weights, into
/// `RUN/probe-init`).
fn probe_options(cfg: &ProbeStage, run_dir: &Path, data_dir: &Path) -> Result<physrep_eval::ProbeOptions> {
    let mut opts = physrep_eval::ProbeOptions {
        run_dir: run_dir.to_path_buf(),
        data_dir: data_dir.to_path_buf(),
        own_init: cfg.init,
        ..Default::default()
    };
    opts.eval.probes = cfg.probes.clone();
    opts.eval.fractions = cfg.fractions.clone();
    opts.eval.train.epochs = cfg.epochs;
    opts.max_train_windows = cfg.max_train_windows;
    opts.stride = cfg.stride;
    opts.batch_size = cfg.batch;
    opts.accum = cfg.accum;
    if let Some((lrs, wds)) = &cfg.sweep {
        opts.eval.sweep = physrep_eval::sweep::SweepConfig { lrs: lrs.clone(), weight_decays: wds.clone() };
    }
    opts.noise_std = Some(cfg.noise_std);
    opts.progress = true;
    Ok(opts)
}

/// A learning-curve stage's resolved config: ridge (the plan's probe settings otherwise) on the run's
/// initial weights and every `every`-th update's checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct CurveStage {
    probe: ProbeStage,
    every: u64,
}

impl CurveStage {
    fn new(plan: &Plan, system: SystemId, pretrain: String, every: u64) -> Self {
        let mut probe = ProbeStage::new(plan, system, pretrain, false);
        probe.probes = vec![physrep_eval::ProbeKind::Linear];
        probe.fractions = vec![1.0];
        CurveStage { probe, every }
    }
}

fn learning_curve(cfg: &CurveStage, run_dir: &Path, data_dir: &Path, system: &str, method: &str, seed: u64) -> Result<CurveRow> {
    let mut opts = probe_options(&cfg.probe, run_dir, data_dir)?;
    opts.out_dir = Some(run_dir.join("curve"));
    let curve = physrep_eval::learning_curve::learning_curve(&opts)?;
    Ok(CurveRow {
        system: system.to_string(),
        method: method.to_string(),
        seed,
        points: curve.points.iter().map(|p| (p.update, p.valid_mse, p.test_mse.unwrap_or(f64::NAN))).collect(),
        floor_test: curve.floor_test.unwrap_or(f64::NAN),
    })
}

/// The statistics baseline's resolved config: the probe settings (ridge and kNN only) and the run
/// whose windows (context frames, resolution) it matches.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StatsStage {
    probe: ProbeStage,
    baseline: String,
}

impl StatsStage {
    fn new(plan: &Plan, system: SystemId, pretrain: String) -> Self {
        let mut probe = ProbeStage::new(plan, system, pretrain, false);
        probe.probes = plan.stats_probes();
        StatsStage { probe, baseline: "trivial-statistics:v1".into() }
    }
}

fn stats_probe(cfg: &StatsStage, run_dir: &Path, data_dir: &Path, out_dir: &Path, system: &str, seed: u64) -> Result<Vec<ResultRow>> {
    let mut opts = probe_options(&cfg.probe, run_dir, data_dir)?;
    opts.out_dir = Some(out_dir.to_path_buf());
    let report = physrep_eval::baseline::stats_run(&opts, None)?;
    Ok(rows_from_report(&report, system, "stats", seed))
}

/// A fine-tuning stage's resolved config (everything else is `FinetuneOptions`' paper defaults).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct FinetuneStage {
    pretrain: String,
    epochs: usize,
    max_train_windows: Option<usize>,
    batch: Option<usize>,
    lr: Option<f64>,
}

fn finetune(cfg: &FinetuneStage, run_dir: &Path, data_dir: &Path, system: &str, seed: u64) -> Result<Vec<ResultRow>> {
    let mut opts = physrep_eval::FinetuneOptions {
        run_dir: run_dir.to_path_buf(),
        data_dir: data_dir.to_path_buf(),
        epochs: cfg.epochs,
        max_train_windows: cfg.max_train_windows,
        progress: true,
        ..Default::default()
    };
    if let Some(b) = cfg.batch {
        opts.batch_size = b;
    }
    if let Some(lr) = cfg.lr {
        opts.lr = lr;
    }
    let report = physrep_eval::finetune_run(&opts)?;
    Ok(rows_from_report(&report, system, "mpp", seed))
}

/// One [`ResultRow`] per probe kind, with the data-efficiency curve from its fractions.
fn rows_from_report(report: &physrep_eval::ProbeReport, system: &str, method: &str, seed: u64) -> Vec<ResultRow> {
    let mut kinds: Vec<String> = report.results.iter().map(|r| r.probe.clone()).collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .filter_map(|kind| {
            let mut rs: Vec<&physrep_eval::ProbeResult> = report.results.iter().filter(|r| r.probe == kind).collect();
            rs.sort_by(|a, b| a.fraction.total_cmp(&b.fraction));
            let full = *rs.last()?;
            let test = full.test.as_ref()?;
            Some(ResultRow {
                system: system.to_string(),
                method: method.to_string(),
                seed,
                probe: kind,
                valid_mse: full.valid.mean,
                test_mse: test.mean,
                test_ci95: full.test_ci95,
                label_names: report.label_names.clone(),
                valid_per_param: full.valid.per_param.clone(),
                test_per_param: test.per_param.clone(),
                floor_valid: full.floor_valid.mean,
                floor_test: full.floor_test.as_ref().map_or(f64::NAN, |s| s.mean),
                fractions: rs.iter().map(|r| (r.fraction, r.valid.mean, r.test.as_ref().map_or(f64::NAN, |s| s.mean))).collect(),
            })
        })
        .collect()
}

/// A frame strip of every channel of the first training window (8 frames).
fn frame_strip(data_dir: &Path, path: &Path) -> Result<()> {
    let ds = Arc::new(WellDataset::open(data_dir)?);
    let spec = WindowSpec { context: 16, target: 0, stride: 16 };
    let windows = ds.windows(Split::Train, &spec)?;
    let w = windows.first().context("no training window")?;
    let crop = physrep_well::Crop::paper(ds.name());
    let clip = ds.read_window(w, &crop)?; // (C, T, H, W)
    let frames: Vec<usize> = (0..clip.dim().1).step_by(2).take(8).collect();
    let channels: Vec<(String, ndarray::Array3<f32>)> = ds
        .channel_names()
        .iter()
        .enumerate()
        .map(|(c, name)| (name.clone(), clip.index_axis(ndarray::Axis(0), c).select(ndarray::Axis(0), &frames)))
        .collect();
    plots::frame_strip(&channels, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use physrep_train::pretrain::PretrainConfig;

    /// A probe stage without a stride keeps the key it had before the field existed (cached studies
    /// stay valid); with one, the key changes.
    #[test]
    fn the_probe_stride_enters_the_stage_key_only_when_set() {
        let plan = Plan::preset("default").unwrap();
        let unset = ProbeStage::new(&plan, SystemId::RayleighBenard, "p".into(), false);
        assert!(!serde_json::to_string(&unset).unwrap().contains("stride"));
        let study = Plan { probe_stride: Some(16), ..plan };
        let set = ProbeStage::new(&study, SystemId::RayleighBenard, "p".into(), false);
        assert_ne!(stage::config_hash(&set).unwrap(), stage::config_hash(&unset).unwrap());
        assert_eq!(probe_options(&set, Path::new("r"), Path::new("d")).unwrap().stride, Some(16));
    }

    /// Every preset's pretraining of every method on every system resolves to a valid config (the
    /// VICReg rows-per-chunk guard included): plan-level overrides reach only the methods they are for.
    #[test]
    fn every_plans_pretraining_configs_validate() {
        for name in ["smoke", "default", "study", "full", "paper"] {
            let plan = Plan::preset(name).unwrap();
            for (system, channels) in SystemId::PAPER.into_iter().chain([plan::CONTROL_SYSTEM]).zip([11, 4, 4, 1]) {
                for method in plan.trained_methods() {
                    let stage = PretrainStage::new(&plan, system, "data", method, 0);
                    let base = PretrainConfig::preset(stage.preset, method, system.name(), channels, Path::new("data")).unwrap();
                    base.with_overrides(&stage.overrides, channels).unwrap_or_else(|e| panic!("{name}/{system}/{method}: {e}"));
                }
            }
        }
    }
}
