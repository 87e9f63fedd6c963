//! `physrep bench am-trajectory`: wall-clock seconds for one active_matter trajectory at a given grid,
//! plus the field statistics (mean, std over frames and grid) to compare with The Well's `stats.yaml`.

use std::time::Instant;

use physrep_sim::active_matter::{simulate, ActiveMatterConfig};
use physrep_sim::Preset;

/// Arguments of `physrep bench am-trajectory`.
#[derive(clap::Args)]
pub struct Args {
    /// Preset the other settings come from (tiny, small, medium).
    #[arg(long, default_value = "small")]
    preset: Preset,
    /// Grid points per side (default: the preset's).
    #[arg(long)]
    res: Option<usize>,
    /// Solver steps per output frame (default: the preset's).
    #[arg(long)]
    steps_per_frame: Option<usize>,
    /// Stored frames (default: the preset's).
    #[arg(long)]
    frames: Option<usize>,
    #[arg(long, default_value_t = 9.0)]
    zeta: f64,
    #[arg(long, default_value_t = -3.0, allow_hyphen_values = true)]
    alpha: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON line instead of a table.
    #[arg(long)]
    json: bool,
}

/// Mean and standard deviation of an iterator of f32 values (accumulated in f64).
fn mean_std(values: impl Iterator<Item = f32>) -> (f64, f64) {
    let (mut n, mut s, mut s2) = (0usize, 0.0f64, 0.0f64);
    for v in values {
        let v = v as f64;
        n += 1;
        s += v;
        s2 += v * v;
    }
    let m = s / n.max(1) as f64;
    (m, (s2 / n.max(1) as f64 - m * m).max(0.0).sqrt())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let base = ActiveMatterConfig::preset(args.preset);
    let cfg = ActiveMatterConfig {
        n: args.res.unwrap_or(base.n),
        steps_per_frame: args.steps_per_frame.unwrap_or(base.steps_per_frame),
        frames: args.frames.unwrap_or(base.frames),
        ..base
    };
    let start = Instant::now();
    let out = simulate(&cfg, args.zeta, args.alpha, args.seed, 0)?;
    let seconds = start.elapsed().as_secs_f64();
    // Components are the fastest axes (C order): velocity stride 2, tensors stride 4 (xx, xy, yx, yy).
    let (d, e, u) = (out.d.as_slice(), out.e.as_slice(), out.velocity.as_slice());
    let (Some(d), Some(e), Some(u)) = (d, e, u) else {
        anyhow::bail!("active_matter output arrays are not contiguous");
    };
    let comp = |a: &[f32], k: usize, stride: usize| mean_std(a.iter().skip(k).step_by(stride).copied());
    let stats = [
        ("concentration", mean_std(out.concentration.iter().copied())),
        ("velocity_x", comp(u, 0, 2)),
        ("velocity_y", comp(u, 1, 2)),
        ("D_xx", comp(d, 0, 4)),
        ("D_xy", comp(d, 1, 4)),
        ("D_yy", comp(d, 3, 4)),
        ("E_xx", comp(e, 0, 4)),
        ("E_xy", comp(e, 1, 4)),
    ];
    let steps = (cfg.frames - 1) * cfg.steps_per_frame;
    if args.json {
        let fields: serde_json::Map<String, serde_json::Value> =
            stats.iter().map(|(k, (m, s))| (k.to_string(), serde_json::json!({"mean": m, "std": s}))).collect();
        println!(
            "{}",
            serde_json::json!({
                "bench": "am-trajectory", "res": cfg.n, "frames": cfg.frames,
                "steps_per_frame": cfg.steps_per_frame, "zeta": args.zeta, "alpha": args.alpha,
                "seconds": seconds, "ms_per_step": 1e3 * seconds / steps as f64, "fields": fields,
            })
        );
    } else {
        println!(
            "active_matter {0}x{0}, {1} frames x {2} steps, zeta {3}, alpha {4}: {5:.2} s ({6:.3} ms/step)",
            cfg.n,
            cfg.frames,
            cfg.steps_per_frame,
            args.zeta,
            args.alpha,
            seconds,
            1e3 * seconds / steps as f64
        );
        println!("{:<14} {:>12} {:>12}", "field", "mean", "std");
        for (k, (m, s)) in stats {
            println!("{k:<14} {m:>12.4e} {s:>12.4e}");
        }
    }
    Ok(())
}
