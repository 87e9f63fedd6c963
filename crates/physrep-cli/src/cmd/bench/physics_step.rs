//! `physrep bench physics-step`: wall time of one MPP (AViT) or compact-DISCO training step —
//! forward, objective (MPP: NRMSE on the next frame; DISCO: RK4 rollout + normalised MSE),
//! backward, Adam (lr 1e-4). Twins: `bench/torch_avit.py` and `bench/torch_disco.py` with the same
//! flags. Inputs are random normal `(B, C, T, R, R)` clips and `(B, C, R, R)` targets made once.

use std::time::Instant;

use anyhow::Context;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use physrep_nn::avit::{nrmse_loss, AvitConfig};
use physrep_nn::disco::{normalized_mse, DiscoConfig};
use physrep_nn::CpuAutodiff;
use serde_json::json;

/// Arguments of `physrep bench physics-step`.
#[derive(clap::Args)]
pub struct Args {
    /// `mpp` or `disco`.
    #[arg(long, default_value = "mpp")]
    model: String,
    #[arg(long, default_value_t = 2)]
    batch: usize,
    #[arg(long, default_value_t = 4)]
    channels: usize,
    #[arg(long, default_value_t = 8)]
    frames: usize,
    /// Spatial size H = W (multiple of the patch size).
    #[arg(long, default_value_t = 64)]
    res: usize,
    #[arg(long, default_value_t = 192)]
    dim: usize,
    /// Space-time blocks (MPP default 12, DISCO 4).
    #[arg(long)]
    blocks: Option<usize>,
    #[arg(long, default_value_t = 8)]
    patch: usize,
    /// Size of rayon's global thread pool (0 = rayon's default).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Timed steps (after one untimed warm-up step).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Print one JSON line.
    #[arg(long)]
    json: bool,
}

/// Median, min and max of `times` (ms).
fn summary(mut times: Vec<f64>) -> (f64, f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0], times[times.len() - 1])
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.threads > 0 {
        rayon::ThreadPoolBuilder::new().num_threads(args.threads).build_global().context("setting rayon's global thread pool")?;
    }
    anyhow::ensure!(args.steps > 0, "--steps must be at least 1");
    let device = Default::default();
    let clip =
        physrep_nn::seeded::normal::<CpuAutodiff, 5>([args.batch, args.channels, args.frames, args.res, args.res], 0.0, 1.0, 162, &device);
    let target = physrep_nn::seeded::normal::<CpuAutodiff, 4>([args.batch, args.channels, args.res, args.res], 0.0, 1.0, 263, &device);
    let mut times = Vec::with_capacity(args.steps);
    let params;
    match args.model.as_str() {
        "mpp" => {
            let config = AvitConfig {
                embed_dim: args.dim,
                processor_blocks: args.blocks.unwrap_or(12),
                patch_size: args.patch,
                ..AvitConfig::default()
            };
            config.check_clip(clip.dims())?;
            let mut model = config.init::<CpuAutodiff>(&device)?;
            params = model.num_params();
            let mut optim = AdamConfig::new().init();
            for i in 0..=args.steps {
                let t0 = Instant::now();
                let loss = nrmse_loss(model.forward_next(clip.clone()), target.clone());
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-4, model, grads);
                if i > 0 {
                    times.push(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        "disco" => {
            let config = DiscoConfig {
                channels: args.channels,
                embed_dim: args.dim,
                depth: args.blocks.unwrap_or(4),
                patch_size: args.patch,
                ..DiscoConfig::default()
            };
            config.check_clip(clip.dims())?;
            let mut model = config.init::<CpuAutodiff>(&device)?;
            params = model.num_params();
            let mut optim = AdamConfig::new().init();
            for i in 0..=args.steps {
                let t0 = Instant::now();
                let next = model.forward_next(clip.clone());
                let loss = normalized_mse(next.standardized.clone(), next.standardize(target.clone()));
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-4, model, grads);
                if i > 0 {
                    times.push(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        other => anyhow::bail!("unknown --model {other:?}: expected `mpp` or `disco`"),
    }
    let (median, min, max) = summary(times);
    let threads = rayon::current_num_threads();
    if args.json {
        println!(
            "{}",
            json!({"bench": "physics-step", "model": args.model, "batch": args.batch, "channels": args.channels, "frames": args.frames,
                   "res": args.res, "dim": args.dim, "patch": args.patch, "threads": threads, "params": params,
                   "median_ms": median, "min_ms": min, "max_ms": max})
        );
    } else {
        println!(
            "{} step | B{} C{} T{} {}² D{} patch {} threads {} params {params}: median {median:.1} ms (min {min:.1}, max {max:.1})",
            args.model, args.batch, args.channels, args.frames, args.res, args.dim, args.patch, threads
        );
    }
    Ok(())
}
