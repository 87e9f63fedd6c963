//! `physrep plot-sample FILE [--out PNG] [--trajectory I] [--frames K]`: a PNG grid of one trajectory of a
//! Well file — one row per channel (The Well's `field_names` flattening), K frames evenly spaced in time as
//! columns, each channel colour-mapped (viridis) over its own min..max. No text is drawn.

use std::path::PathBuf;

use anyhow::Context;
use hdf5::{Hyperslab, SliceOrIndex};
use ndarray::IxDyn;
use physrep_well::{WellFileInfo, FIELD_GROUPS};
use plotters::prelude::*;
use plotters::style::colors::colormaps::{ColorMap, ViridisRGB};

/// Arguments of `physrep plot-sample`.
#[derive(clap::Args)]
pub struct Args {
    /// A Well-layout HDF5 file.
    pub file: PathBuf,
    /// Output PNG (default: FILE with extension .png).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Trajectory index.
    #[arg(long, default_value_t = 0)]
    pub trajectory: usize,
    /// Number of frames (columns), 1–256.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub frames: u16,
    /// Pixels per grid cell, 1–64.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: u32,
}

/// The largest image side written, in pixels.
const MAX_SIDE: u64 = 16_384;

pub fn run(args: Args) -> anyhow::Result<()> {
    let info = WellFileInfo::read(&args.file)?;
    anyhow::ensure!(
        args.trajectory < info.n_trajectories,
        "{}: trajectory {} requested, the file has {}",
        args.file.display(),
        args.trajectory,
        info.n_trajectories
    );
    let file = hdf5::File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    // channels: (values [T, nx, ny] flattened, T)
    let mut channels: Vec<(Vec<f32>, usize)> = Vec::new();
    let (mut nx, mut ny) = (0, 0);
    for field in &info.fields_named {
        let item = format!("/{}/{}", FIELD_GROUPS[field.order], field.name);
        let ds = file.dataset(&item).with_context(|| format!("{}: {item}", args.file.display()))?;
        let mut sel = vec![SliceOrIndex::Index(args.trajectory)];
        for &n in &field.shape[1..] {
            sel.push(SliceOrIndex::SliceCount { start: 0, step: 1, count: n, block: 1 });
        }
        let data =
            ds.read_slice::<f32, _, IxDyn>(Hyperslab::from(sel)).with_context(|| format!("{}: reading {item}", args.file.display()))?;
        let shape = data.shape().to_vec();
        let (t, sx, sy) = if field.time_varying { (shape[0], shape[1], shape[2]) } else { (1, shape[0], shape[1]) };
        (nx, ny) = (sx, sy);
        let comps = field.components();
        let flat: Vec<f32> = data.iter().copied().collect();
        for c in 0..comps {
            let ch: Vec<f32> = (0..t * sx * sy).map(|i| flat[i * comps + c]).collect();
            channels.push((ch, t));
        }
    }
    anyhow::ensure!(!channels.is_empty(), "{}: no fields", args.file.display());
    let names = info.fields_named.iter().flat_map(|f| f.channel_names());
    for ((vals, t), name) in channels.iter().zip(names) {
        if let Some(i) = vals.iter().position(|v| !v.is_finite()) {
            anyhow::bail!(
                "{}: channel `{name}` of trajectory {} holds a non-finite value ({}) at frame {}",
                args.file.display(),
                args.trajectory,
                vals[i],
                (i / (nx * ny)).min(t - 1)
            );
        }
    }
    let k = args.frames as usize;
    let s = args.scale;
    let gap = 2u32;
    let (w64, h64) = ((nx as u64 * s as u64 + 2) * k as u64, (ny as u64 * s as u64 + 2) * channels.len() as u64);
    anyhow::ensure!(
        w64 <= MAX_SIDE && h64 <= MAX_SIDE,
        "--scale {s} with --frames {k}: the image would be {w64}×{h64} pixels; at most {MAX_SIDE} per side (lower --scale or --frames)"
    );
    let (w, h) = (w64 as u32, h64 as u32);
    let out = args.out.unwrap_or_else(|| args.file.with_extension("png"));
    anyhow::ensure!(!out.is_dir(), "--out {}: is a directory; expected the path of a .png file", out.display());
    anyhow::ensure!(
        out.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")),
        "--out {}: expected a .png file name (the image is written as PNG)",
        out.display()
    );
    {
        let root = BitMapBackend::new(&out, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        for (row, (vals, t)) in channels.iter().enumerate() {
            let (lo, hi) = vals.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            let span = if hi > lo { hi - lo } else { 1.0 };
            for col in 0..k {
                let frame = if k == 1 { 0 } else { col * (t - 1) / (k - 1) };
                let (x0, y0) = (col as u32 * (nx as u32 * s + gap), row as u32 * (ny as u32 * s + gap));
                for i in 0..nx {
                    for j in 0..ny {
                        let v = (vals[(frame * nx + i) * ny + j] - lo) / span;
                        let c = ViridisRGB.get_color(v);
                        // x to the right, y upwards
                        let px = x0 + i as u32 * s;
                        let py = y0 + (ny - 1 - j) as u32 * s;
                        root.draw(&Rectangle::new([(px as i32, py as i32), ((px + s) as i32, (py + s) as i32)], c.filled()))?;
                    }
                }
            }
        }
        root.present()?;
    }
    eprintln!("wrote {} ({} channels × {k} frames)", out.display(), channels.len());
    Ok(())
}
