//! `physrep pretrain --method jepa|videomae --data DIR --out RUN [--preset tiny|small|medium|paper]
//! [--config FILE.toml] [--resume] [--stop-after N] [--device cpu|cuda] [key=value ...]`.
//!
//! Resolves the config (preset → TOML file → `key=value` overrides, validated), writes it to
//! `RUN/config.toml`, trains with the shared loop and writes `RUN/metrics.jsonl`,
//! `RUN/checkpoints/`, `RUN/model.mpk`, `RUN/encoder.safetensors` (JEPA, VideoMAE) and finally `RUN/DONE`.
//! `--resume` continues from the newest checkpoint with the stored config.

use std::path::PathBuf;

use physrep_train::{pretrain, Device, MethodKind, Preset, PretrainOptions};

/// Arguments of `physrep pretrain`.
#[derive(clap::Args)]
pub struct Args {
    /// Pretraining method: jepa, videomae, mpp, disco, supervised (JEPA's encoder regressing the labels).
    #[arg(long)]
    pub method: MethodKind,
    /// Dataset directory in The Well's layout (`DIR/data/{train,valid}/*.h5`).
    #[arg(long)]
    pub data: PathBuf,
    /// Run directory to create (or to continue with --resume).
    #[arg(long)]
    pub out: PathBuf,
    /// Starting configuration: tiny, small, medium (64², the paper's model and optimisation; formerly
    /// `default`, still read) or paper (224²).
    #[arg(long)]
    pub preset: Option<Preset>,
    /// A (partial) TOML config merged onto the preset, same keys as RUN/config.toml.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Continue the run in --out from its newest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many optimiser updates (≥ 1), with a checkpoint there: the run stays resumable.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub stop_after: Option<u64>,
    /// Train on `cpu` (default, bit-reproducible) or `cuda` (first GPU; needs a build with
    /// `--features cuda`).
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Print the resolved config and exit without training.
    #[arg(long)]
    pub dry_run: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Overrides as dotted `key=value` paths, e.g. `train.lr=5e-4 data.resolution=32 method.loss=bcs`.
    pub overrides: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = PretrainOptions {
        method: args.method,
        data: args.data,
        out: args.out,
        preset: args.preset,
        config_file: args.config,
        overrides: args.overrides,
        resume: args.resume,
        progress: !args.quiet,
        stop_after: args.stop_after,
        device: args.device,
    };
    if args.dry_run {
        let ds = physrep_well::WellDataset::open(&opts.data)?;
        let cfg = physrep_train::pretrain::resolve_config(&opts, &ds)?;
        print!("{}", toml::to_string(&cfg)?);
        return Ok(());
    }
    let summary = pretrain(&opts)?;
    println!("{}", serde_json::to_string(&summary)?);
    if !summary.finished {
        eprintln!("stopped after {} of {} updates; continue with --resume", summary.updates, summary.total_updates);
    }
    Ok(())
}
