//! `physrep finetune`: fine-tune an MPP run's AViT end to end with an attentive head on the physical
//! parameters (`physrep_eval::finetune_run`; the paper's MPP protocol, `docs/baselines.md` §3.3).
//!
//! Writes `RUN/finetune/results.json`, `results.md` and predicted-vs-true scatters; the reported epoch is
//! the one with the lowest valid MSE, and test is scored with that epoch's weights. Example:
//! `physrep finetune --run runs/am-mpp --data data/active_matter --epochs 30`.

use std::path::PathBuf;

use anyhow::Context;
use physrep_eval::FinetuneOptions;

/// Arguments of `physrep finetune` (defaults: the paper's recipe).
#[derive(clap::Args)]
pub struct Args {
    /// MPP pretraining run directory (trained AViT + config).
    #[arg(long = "run")]
    run: PathBuf,
    /// Well-layout dataset directory.
    #[arg(long)]
    data: PathBuf,
    /// Epochs (paper: 30).
    #[arg(long, value_parser = super::at_least_one())]
    epochs: Option<usize>,
    /// Adam learning rate, start of the plateau schedule (paper: 1e-5).
    #[arg(long, value_parser = super::positive)]
    lr: Option<f64>,
    /// Clips per update (paper: 64 = 32 per GPU × 2 GPUs).
    #[arg(long, value_parser = super::at_least_one())]
    batch: Option<usize>,
    /// Clips per forward/backward pass (gradients summed over the batch; bounds memory).
    #[arg(long, value_parser = super::at_least_one())]
    micro_batch: Option<usize>,
    /// ReduceLROnPlateau patience in epochs (paper: 5).
    #[arg(long, value_parser = super::at_least_one())]
    patience: Option<usize>,
    /// ReduceLROnPlateau factor (paper: 0.5).
    #[arg(long)]
    factor: Option<f64>,
    /// Cap on training windows (seeded subset; default all).
    #[arg(long, value_parser = super::at_least_one())]
    max_train_windows: Option<usize>,
    /// Window start stride (paper's MPP script: 4 for every dataset).
    #[arg(long, value_parser = super::at_least_one())]
    stride: Option<usize>,
    /// Input noise σ (paper's MPP script: 0).
    #[arg(long, value_parser = super::non_negative)]
    noise: Option<f32>,
    /// Input resolution (default: the AViT's pretraining resolution).
    #[arg(long, value_parser = super::at_least_one())]
    resolution: Option<usize>,
    /// Seed of the head's init and of the batch order.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output directory (default RUN/finetune).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip the PNG plots.
    #[arg(long)]
    no_plots: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut opts = FinetuneOptions {
        run_dir: args.run.clone(),
        data_dir: args.data.clone(),
        out_dir: args.out,
        seed: args.seed,
        max_train_windows: args.max_train_windows,
        stride: args.stride,
        noise_std: args.noise,
        resolution: args.resolution.map(|r| [r, r]),
        plots: !args.no_plots,
        progress: true,
        ..Default::default()
    };
    if let Some(e) = args.epochs {
        opts.epochs = e;
    }
    if let Some(lr) = args.lr {
        opts.lr = lr;
    }
    if let Some(b) = args.batch {
        opts.batch_size = b;
    }
    if let Some(m) = args.micro_batch {
        opts.micro_batch = m;
    }
    if let Some(p) = args.patience {
        opts.plateau.patience = p;
    }
    if let Some(f) = args.factor {
        opts.plateau.factor = f;
    }
    let report =
        physrep_eval::finetune_run(&opts).with_context(|| format!("fine-tuning {} on {}", args.run.display(), args.data.display()))?;
    println!("{}", report.to_markdown());
    println!("wrote {}", opts.out_dir().join("results.json").display());
    Ok(())
}
