//! `physrep probe`: frozen-encoder probes on the physical parameters (`physrep_eval::probe_run`).
//!
//! Writes `RUN/probe/results.json`, `results.md`, predicted-vs-true scatter PNGs per parameter and a
//! data-efficiency plot, and every probe's per-window predictions under `predictions/`. Example:
//! `physrep probe --run runs/am-jepa --data data/active_matter --probe all --fractions 0.1,0.5,1`.
//! The trivial-statistics baseline runs through the same pipeline (`physrep_eval::baseline`):
//! `physrep probe --baseline stats --data data/active_matter --out runs/am-stats [--run RUN]`.

use std::path::PathBuf;

use anyhow::Context;
use physrep_eval::{ProbeKind, ProbeOptions};

/// Arguments of `physrep probe`.
#[derive(clap::Args)]
pub struct Args {
    /// Pretraining run directory (encoder checkpoint + config). With --baseline: optional, the run
    /// whose windows (context frames, resolution) the baseline matches.
    #[arg(long = "run", required_unless_present = "baseline")]
    run: Option<PathBuf>,
    /// Probe a baseline instead of an encoder: `stats` (per-channel moments, radial power spectrum,
    /// lag-1–4 autocorrelation). Needs --out.
    #[arg(long, value_parser = ["stats"])]
    baseline: Option<String>,
    /// Context frames of the baseline's windows (default: the --run's, else 16).
    #[arg(long, requires = "baseline", value_parser = super::at_least_one())]
    frames: Option<usize>,
    /// Well-layout dataset directory.
    #[arg(long)]
    data: PathBuf,
    /// attentive | attentive4 | linear | knn | all (comma-separated list allowed). Default: attentive;
    /// linear,knn with --baseline.
    #[arg(long)]
    probe: Option<String>,
    /// Nested fractions of the probe training windows (default 0.1,0.5,1; with --learning-curve 1).
    #[arg(long, value_delimiter = ',')]
    fractions: Option<Vec<f64>>,
    /// Probe training epochs (paper: 100).
    #[arg(long, value_parser = super::at_least_one())]
    epochs: Option<usize>,
    /// Probe a randomly initialised encoder of the same architecture (the honest control).
    #[arg(long, conflicts_with_all = ["init", "baseline"])]
    random_init: bool,
    /// Probe the run's own initial weights (RUN/init.mpk, the paired control; output RUN/probe-init).
    #[arg(long, conflicts_with = "baseline")]
    init: bool,
    /// Probe the run's checkpoint after N updates (output RUN/probe-update-N).
    #[arg(long, conflicts_with_all = ["init", "random_init", "baseline"])]
    checkpoint: Option<u64>,
    /// Probe the initial weights and every kept checkpoint (default probe: linear, all windows) and
    /// write RUN/learning-curve.{json,png}; pretrain with `train.keep_checkpoints=0` and a
    /// `train.checkpoint_every` to keep the points.
    #[arg(long, conflicts_with_all = ["init", "random_init", "baseline", "checkpoint", "out"])]
    learning_curve: bool,
    /// Probe-input noise σ (default: the paper's per dataset).
    #[arg(long, value_parser = super::non_negative)]
    noise: Option<f32>,
    /// Cached noise draws K cycled over epochs (K = 1 = the paper's code).
    #[arg(long, default_value_t = 1, value_parser = super::at_least_one())]
    noise_draws: usize,
    /// Input resolution (default: the encoder's).
    #[arg(long, value_parser = super::at_least_one())]
    resolution: Option<usize>,
    /// Probe micro-batch size (paper: 32 AM/RB, 64 SF).
    #[arg(long, value_parser = super::at_least_one())]
    batch: Option<usize>,
    /// Micro-batches per update (paper: 256 / batch).
    #[arg(long, value_parser = super::at_least_one())]
    accum: Option<usize>,
    /// Cap on probe training windows (default: the paper's, SF 20,480 / RB 10,240).
    #[arg(long, value_parser = super::at_least_one())]
    max_train_windows: Option<usize>,
    /// Learning rates of the sweep.
    #[arg(long, value_delimiter = ',')]
    sweep_lr: Option<Vec<f64>>,
    /// Weight decays of the sweep.
    #[arg(long, value_delimiter = ',')]
    sweep_wd: Option<Vec<f64>>,
    /// Seed of probe init, order and subsets.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output directory (default RUN/probe, with --init RUN/probe-init, with --checkpoint N RUN/probe-update-N;
    /// with --learning-curve the root of the curve: `DIR/update-<u>/` and `DIR/learning-curve.{json,png}`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip the PNG plots.
    #[arg(long)]
    no_plots: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut opts = ProbeOptions {
        run_dir: args.run.clone().unwrap_or_default(),
        data_dir: args.data.clone(),
        out_dir: args.out.clone(),
        random_init: args.random_init,
        own_init: args.init,
        checkpoint: args.checkpoint,
        noise_std: args.noise,
        noise_draws: args.noise_draws,
        resolution: args.resolution.map(|r| [r, r]),
        max_train_windows: args.max_train_windows,
        batch_size: args.batch,
        accum: args.accum,
        plots: !args.no_plots,
        progress: true,
        ..Default::default()
    };
    let default_probes = match (&args.baseline, args.learning_curve) {
        (Some(_), _) => "linear,knn",
        (None, true) => "linear",
        (None, false) => "attentive",
    };
    opts.eval.probes = ProbeKind::parse_list(args.probe.as_deref().unwrap_or(default_probes))?;
    opts.eval.fractions = args.fractions.clone().unwrap_or_else(|| if args.learning_curve { vec![1.0] } else { vec![0.1, 0.5, 1.0] });
    opts.eval.subset_seed = args.seed;
    opts.eval.train.seed = args.seed;
    if let Some(e) = args.epochs {
        opts.eval.train.epochs = e;
    }
    if let Some(lr) = args.sweep_lr {
        opts.eval.sweep.lrs = lr;
    }
    if let Some(wd) = args.sweep_wd {
        opts.eval.sweep.weight_decays = wd;
    }
    if args.learning_curve {
        let curve =
            physrep_eval::learning_curve::learning_curve(&opts).with_context(|| format!("learning curve of {}", opts.run_dir.display()))?;
        println!("| updates | probe | valid MSE | test MSE |\n|---|---|---|---|");
        for p in &curve.points {
            println!("| {} | {} | {:.4} | {} |", p.update, p.probe, p.valid_mse, p.test_mse.map_or("–".into(), |t| format!("{t:.4}")));
        }
        println!("floor: valid {:.4}, test {}", curve.floor_valid, curve.floor_test.map_or("–".into(), |t| format!("{t:.4}")));
        println!("wrote {}", opts.out_dir.as_ref().unwrap_or(&opts.run_dir).join("learning-curve.json").display());
        return Ok(());
    }
    let report = match &args.baseline {
        Some(_) => physrep_eval::baseline::stats_run(&opts, args.frames),
        None => physrep_eval::probe_run(&opts),
    };
    let what = args.baseline.clone().unwrap_or_else(|| opts.run_dir.display().to_string());
    let report = report.with_context(|| format!("probing {what} on {}", args.data.display()))?;
    let out = opts.out_dir();
    println!("{}", report.to_markdown());
    println!("wrote {}", out.join("results.json").display());
    Ok(())
}
