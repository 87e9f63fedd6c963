//! `physrep bench videomae-step`: one VideoMAE training step (tube masking, encoder on visible tokens,
//! decoder, normalised-pixel MSE, backward, AdamW) on random clips, on the CPU backend.
//!
//! Twin: `bench/torch_videomae.py bench` with the same flags. Threads: set `RAYON_NUM_THREADS`.

use std::time::Instant;

use anyhow::Context;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use physrep_nn::videomae::{VideoMae, VideoMaeConfig};
use physrep_nn::CpuAutodiff;
use physrep_train::methods::videomae::{VideoMaeMethod, VideoMaeMethodConfig};
use physrep_train::{Method, StepContext, TensorBatch};

/// Arguments of `physrep bench videomae-step`.
#[derive(clap::Args)]
pub struct Args {
    /// Encoder size: `tiny` (ViT-Ti, 192/12/3) or `small` (ViT-S, 384/12/6).
    #[arg(long, default_value = "small")]
    size: String,
    /// Input channels.
    #[arg(long, default_value_t = 4)]
    chans: usize,
    /// Frame side (a multiple of 16); 16 frames, tubelets 2×16×16.
    #[arg(long, default_value_t = 64)]
    img: usize,
    /// Clips per step.
    #[arg(long, default_value_t = 2)]
    batch: usize,
    /// Timed steps (the median is reported).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Print one JSON line instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let base = match args.size.as_str() {
        "tiny" => VideoMaeConfig::vit_tiny(args.chans),
        "small" => VideoMaeConfig::vit_small(args.chans),
        other => anyhow::bail!("--size {other}: expected tiny or small"),
    };
    let model_config = VideoMaeConfig { img_size: args.img, ..base };
    let method = VideoMaeMethod::new(VideoMaeMethodConfig { model: model_config, ..Default::default() }).context("videomae config")?;
    let device = Default::default();
    <CpuAutodiff as Backend>::seed(&device, 0);
    let mut model: VideoMae<CpuAutodiff> = method.init(&device);
    let c = &method.config();
    let mut optim = AdamWConfig::new()
        .with_beta_1(c.betas[0] as f32)
        .with_beta_2(c.betas[1] as f32)
        .with_weight_decay(c.weight_decay as f32)
        .init::<CpuAutodiff, VideoMae<CpuAutodiff>>();
    let clip = physrep_nn::seeded::normal::<CpuAutodiff, 5>([args.batch, args.chans, 16, args.img, args.img], 0.0, 1.0, 167, &device);
    let batch = TensorBatch { context: clip.clone(), target: clip, labels: Tensor::zeros([args.batch, 2], &device) };
    // Per timed step: [total, forward, backward, optimiser] seconds. Flex is eager, so each phase
    // has finished when its call returns.
    let mut times: Vec<[f64; 4]> = Vec::with_capacity(args.steps);
    let mut loss = f32::NAN;
    for micro in 0..(args.warmup + args.steps) as u64 {
        let start = Instant::now();
        let out = method.forward(&model, &batch, &StepContext { seed: 0, update: micro, micro })?;
        loss = out.loss.clone().into_scalar();
        let forward = start.elapsed().as_secs_f64();
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        let backward = start.elapsed().as_secs_f64() - forward;
        model = optim.step(c.lr_for_batch(256), model, grads);
        let total = start.elapsed().as_secs_f64();
        if micro as usize >= args.warmup {
            times.push([total, forward, backward, total - forward - backward]);
        }
    }
    let median = |k: usize| {
        let mut v: Vec<f64> = times.iter().map(|t| t[k]).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN) * 1e3
    };
    let (median_ms, forward_ms, backward_ms, optim_ms) = (median(0), median(1), median(2), median(3));
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "bench": "videomae-step", "size": args.size, "chans": args.chans, "img": args.img,
                "batch": args.batch, "steps": args.steps, "threads": threads, "median_ms": median_ms,
                "forward_ms": forward_ms, "backward_ms": backward_ms, "optimizer_ms": optim_ms, "loss": loss,
            })
        );
    } else {
        println!(
            "physrep threads={threads} size={} C={} img={} batch={}: median step {median_ms:.1} ms over {} \
             (forward {forward_ms:.1}, backward {backward_ms:.1}, AdamW {optim_ms:.1}; loss {loss:.4})",
            args.size, args.chans, args.img, args.batch, args.steps
        );
    }
    Ok(())
}
