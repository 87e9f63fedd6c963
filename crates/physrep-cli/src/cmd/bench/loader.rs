//! `physrep bench loader DATASET_DIR [--batch B] [--workers N] [--json]`: windows/s of the Well loader
//! over the paper's windows of one split (crop as the paper; resize and noise optional). A warm-up pass
//! over the same windows runs first (page cache), then the timed pass. `--synthesize-gb G` first writes
//! a synthetic rayleigh_benard-layout dataset of about G GB into DATASET_DIR (512×128, 200 frames,
//! 4 channels; for benchmarks only). Twin: `bench/h5py_loader.py`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use physrep_well::synthetic::{write_dataset, SyntheticSpec};
use physrep_well::{Loader, LoaderConfig, Preprocess, Split, WellDataset, WindowSpec};
use serde_json::json;

/// Arguments of `physrep bench loader`.
#[derive(clap::Args)]
pub struct Args {
    /// Dataset directory (holding `data/<split>`).
    pub dataset_dir: PathBuf,
    /// Windows per batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Background loader threads (0 = in the calling thread).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Batches prepared ahead over all workers.
    #[arg(long, default_value_t = 4)]
    pub prefetch: usize,
    /// Split to read.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Resize to this size (square) after the crop; default: no resize.
    #[arg(long)]
    pub resize: Option<usize>,
    /// Input-noise σ.
    #[arg(long, default_value_t = 0.0)]
    pub noise: f32,
    /// Read every field through libhdf5 (no direct pread path).
    #[arg(long)]
    pub hdf5_only: bool,
    /// Skip the warm-up pass.
    #[arg(long)]
    pub no_warmup: bool,
    /// First write a synthetic rayleigh_benard-layout dataset of about this many GB into DATASET_DIR.
    #[arg(long)]
    pub synthesize_gb: Option<f64>,
    /// One JSON line instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(gb) = args.synthesize_gb {
        let (frames, grid) = (200, [512, 128]);
        let per_traj = (frames * grid[0] * grid[1] * 4 * 4) as f64;
        let trajectories = ((gb * 1e9) / per_traj).ceil().max(1.0) as usize;
        let t = Instant::now();
        let paths = write_dataset(
            &args.dataset_dir,
            &SyntheticSpec {
                dataset_name: "rayleigh_benard".into(),
                files: [1, 0, 0],
                trajectories_per_file: trajectories,
                frames,
                grid,
                seed: 0,
            },
        )?;
        let bytes: u64 = paths.iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).sum();
        eprintln!(
            "wrote {} file(s), {:.2} GB, {trajectories} trajectories in {:.1} s",
            paths.len(),
            bytes as f64 / 1e9,
            t.elapsed().as_secs_f64()
        );
    }
    let split: Split = args.split.parse()?;
    let mut ds = WellDataset::open(&args.dataset_dir)?;
    ds.set_direct_io(!args.hdf5_only);
    let ds = Arc::new(ds);
    let windows = ds.windows(split, &WindowSpec::paper(ds.name()))?;
    let pre = Preprocess::paper(ds.name(), args.resize.map(|r| [r, r]), args.noise);
    let cfg = LoaderConfig {
        batch_size: args.batch,
        shuffle: false,
        drop_last: false,
        seed: 0,
        epoch: 0,
        workers: args.workers,
        prefetch: args.prefetch,
    };
    let pass = || -> anyhow::Result<(usize, usize, f64)> {
        let t = Instant::now();
        let (mut n, mut bytes) = (0, 0);
        for b in Loader::new(ds.clone(), windows.clone(), pre.clone(), cfg.clone()) {
            let b = b?;
            n += b.windows.len();
            bytes += (b.context.len() + b.target.len()) * 4;
        }
        Ok((n, bytes, t.elapsed().as_secs_f64()))
    };
    if !args.no_warmup {
        pass()?;
    }
    let (n, bytes, secs) = pass()?;
    let wps = n as f64 / secs;
    let mbps = bytes as f64 / secs / 1e6;
    if args.json {
        println!(
            "{}",
            json!({
                "bench": "loader", "dataset": ds.name(), "split": split.to_string(), "windows": n,
                "batch": args.batch, "workers": args.workers, "direct_io": !args.hdf5_only,
                "resize": args.resize, "noise": args.noise, "seconds": secs, "windows_per_s": wps, "mb_per_s": mbps,
            })
        );
    } else {
        println!(
            "loader  {} {split}: {n} windows in {secs:.3} s = {wps:.1} windows/s ({mbps:.0} MB/s of float32 output), batch {}, workers {}, {}",
            ds.name(),
            args.batch,
            args.workers,
            if args.hdf5_only { "libhdf5 reads" } else { "direct reads" }
        );
    }
    Ok(())
}
