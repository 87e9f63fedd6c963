//! `physrep bench jepa-step`: wall time of one conv-JEPA training step (or encoder inference).
//!
//! Train mode: encoder(context) and encoder(target) (same weights, both get gradients),
//! predictor, VICReg (2/40/2, 5 chunks), backward, AdamW (lr 1e-3, betas (0.9, 0.95), eps 1e-8,
//! weight decay 0.05) — the twin of `shared/bench/torch_jepa.py --mode train`. Encode mode: one
//! encoder forward without autodiff (`--mode encode`). Inputs are random normal
//! `(B, C, 16, R, R)` clips made once before timing. `--device cuda` (a build with `--features
//! cuda`) times the same step on burn's CUDA backend; each step ends by reading the loss back,
//! which waits for the GPU, so the times are wall times of finished work.

use std::time::Instant;

use anyhow::{bail, Context};
use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use physrep_nn::kernels::KernelBackend;
use physrep_nn::{ConvEncoderConfig, ConvJepa, ConvPredictorConfig, Cpu, CpuAutodiff};
use physrep_train::objectives::{vicreg, VicregConfig};
use physrep_train::Device;
use serde_json::json;

/// Arguments of `physrep bench jepa-step`.
#[derive(clap::Args)]
pub struct Args {
    /// `train` (full step) or `encode` (encoder forward, no autodiff).
    #[arg(long, default_value = "train")]
    mode: String,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Spatial size H = W (multiple of 16).
    #[arg(long, default_value_t = 64)]
    res: usize,
    /// Input channels.
    #[arg(long, default_value_t = 11)]
    channels: usize,
    /// Size of rayon's global thread pool (0 = rayon's default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Activation checkpointing of the encoder's blocks (`checkpoint_blocks`).
    #[arg(long)]
    checkpoint: bool,
    /// `cpu` or `cuda` (first GPU; needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    device: Device,
    /// Print one JSON line.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.batch == 0 || args.steps == 0 {
        bail!("--batch and --steps must be ≥ 1");
    }
    if args.threads > 0 {
        rayon::ThreadPoolBuilder::new().num_threads(args.threads).build_global().context("setting rayon's global thread pool")?;
    }
    let threads = rayon::current_num_threads();
    let enc_cfg = ConvEncoderConfig { checkpoint_blocks: args.checkpoint, ..ConvEncoderConfig::paper(args.channels) };
    let shape = [args.batch, args.channels, enc_cfg.num_frames, args.res, args.res];
    args.device.check()?;
    let (times_ms, last_value) = match args.device {
        Device::Cpu => time_steps::<CpuAutodiff>(&args, &enc_cfg, shape, &Default::default())?,
        #[cfg(feature = "cuda")]
        Device::Cuda => time_steps::<burn::backend::Autodiff<burn::backend::Cuda>>(&args, &enc_cfg, shape, &Default::default())?,
        #[cfg(not(feature = "cuda"))]
        Device::Cuda => bail!("--device cuda needs a physrep built with `--features cuda`"),
    };
    if !last_value.is_finite() {
        bail!("non-finite loss/output {last_value}");
    }
    let mut sorted = times_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 { sorted[n / 2] } else { 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]) };
    let peak = peak_rss_mb();
    let result = json!({
        "impl": "physrep",
        "device": format!("{:?}", args.device).to_lowercase(),
        "mode": args.mode,
        "batch": args.batch,
        "res": args.res,
        "frames": enc_cfg.num_frames,
        "chans": args.channels,
        "threads": threads,
        "warmup": args.warmup,
        "steps": args.steps,
        "median_ms": median,
        "min_ms": sorted[0],
        "max_ms": sorted[n - 1],
        "times_ms": times_ms,
        "samples_per_s": args.batch as f64 / (median / 1e3),
        "peak_rss_mb": peak,
        "last_value": last_value,
        "checkpoint_blocks": args.checkpoint,
        "params": model_params(args.channels)?,
    });
    if args.json {
        println!("{result}");
    } else {
        println!(
            "jepa {} on {:?} | batch {} res {} chans {} threads {}: median {median:.1} ms (min {:.1}, max {:.1}), {:.3} samples/s, peak RSS {}",
            args.mode,
            args.device,
            args.batch,
            args.res,
            args.channels,
            threads,
            sorted[0],
            sorted[n - 1],
            args.batch as f64 / (median / 1e3),
            peak.map_or("n/a".into(), |p| format!("{p:.0} MB")),
        );
    }
    Ok(())
}

/// Warm-up plus timed steps on backend `B`: the per-step wall times (ms) and the last loss/output.
fn time_steps<B: AutodiffBackend + KernelBackend>(
    args: &Args,
    enc_cfg: &ConvEncoderConfig,
    shape: [usize; 5],
    dev: &B::Device,
) -> anyhow::Result<(Vec<f64>, f64)>
where
    B::InnerBackend: KernelBackend,
{
    B::seed(dev, args.seed);
    let model = ConvJepa::<B>::new(enc_cfg, &ConvPredictorConfig::default(), dev)?;
    model.encoder.check_input(shape).context("input shape")?;
    let ctx = physrep_nn::seeded::normal::<B, 5>(shape, 0.0, 1.0, 167, dev);
    let tgt = physrep_nn::seeded::normal::<B, 5>(shape, 0.0, 1.0, 268, dev);

    let mut times_ms = Vec::with_capacity(args.steps);
    let last_value = match args.mode.as_str() {
        "train" => {
            let mut optim =
                AdamWConfig::new().with_beta_1(0.9).with_beta_2(0.95).with_epsilon(1e-8).with_weight_decay(0.05).init::<B, ConvJepa<B>>();
            let cfg = VicregConfig::default();
            let mut model = model;
            let mut last = f64::NAN;
            for i in 0..args.warmup + args.steps {
                let t0 = Instant::now();
                let e_ctx = model.encoder.forward(ctx.clone());
                let e_tgt = model.encoder.forward(tgt.clone());
                let terms = vicreg(model.predictor.forward(e_ctx), e_tgt, args.seed + i as u64, &cfg);
                let grads = GradientsParams::from_grads(terms.loss.backward(), &model);
                model = optim.step(1e-3, model, grads);
                last = terms.loss.into_scalar().elem::<f64>();
                if i >= args.warmup {
                    times_ms.push(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
            last
        }
        "encode" => {
            let enc = model.encoder.valid();
            let ctx = ctx.inner();
            let mut last = f64::NAN;
            for i in 0..args.warmup + args.steps {
                let t0 = Instant::now();
                let z: Tensor<B::InnerBackend, 4> = enc.forward(ctx.clone());
                last = z.abs().mean().into_scalar().elem::<f64>();
                if i >= args.warmup {
                    times_ms.push(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
            last
        }
        other => bail!("--mode {other}: expected `train` or `encode`"),
    };
    Ok((times_ms, last_value))
}

fn model_params(channels: usize) -> anyhow::Result<serde_json::Value> {
    let dev = Default::default();
    let enc = ConvEncoderConfig::paper(channels).init::<Cpu>(&dev)?;
    let pred = ConvPredictorConfig::default().init::<Cpu>(&dev)?;
    Ok(json!({"encoder": enc.num_params(), "predictor": pred.num_params()}))
}

/// Peak resident set size (VmHWM) in MB, from /proc/self/status (Linux only).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
