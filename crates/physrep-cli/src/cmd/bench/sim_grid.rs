//! `physrep bench sim-grid SYSTEM [--preset P] [--params LIST | --design lhs:N] [--ics K] [--cores C] [--json]`: how long a
//! whole parameter grid takes to generate, measured on every parameter point rather than extrapolated from
//! one file. For each selected point it times the first `K` trajectories exactly as `physrep simulate` would
//! compute them (same seeds, same `System::simulate`, nothing written), running them in parallel on rayon's
//! pool (`RAYON_NUM_THREADS`) as generation does, and estimates the point's files on `C` cores as `⌈n / C⌉`
//! trajectory times for its `n` trajectories (`physrep_sim::generate::PointCost`). Use it to size a run, or
//! to split a full-resolution grid over a job array with `physrep simulate --shard I/N`.

use physrep_sim::design::DesignSpec;
use physrep_sim::generate::{time_points, GenerateOptions, ParamSelection};
use physrep_sim::Preset;

/// Arguments of `physrep bench sim-grid`.
#[derive(clap::Args)]
pub struct Args {
    /// rayleigh_benard, shear_flow, active_matter, gray_scott_reaction_diffusion or advection.
    system: String,
    /// tiny, small or medium.
    #[arg(long, default_value = "small")]
    preset: Preset,
    /// `all`, or a comma-separated list of grid indices or file names.
    #[arg(long, default_value = "all")]
    params: ParamSelection,
    /// Time the points of this design (as `physrep simulate --design`, with the same --seed) instead of the grid.
    #[arg(long, conflicts_with = "params")]
    design: Option<DesignSpec>,
    /// Trajectories timed per parameter point (ICs 0..K).
    #[arg(long, default_value_t = 1)]
    ics: usize,
    /// Cores the estimate is for (default: the threads this run uses).
    #[arg(long)]
    cores: Option<usize>,
    /// Global seed (as `physrep simulate --seed`).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON line instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let sys = physrep_sim::generate::system(&args.system)?;
    let params = args.design.map_or(args.params, ParamSelection::Design);
    let all_points = match &params {
        ParamSelection::Design(d) => d.points,
        _ => sys.param_grid(args.preset).len(),
    };
    let opts = GenerateOptions { preset: args.preset, seed: args.seed, params, ..GenerateOptions::default() };
    let cores = args.cores.unwrap_or_else(rayon::current_num_threads).max(1);
    let bar = physrep_core::Progress::new(0, "timing", "trajectories", !args.json);
    let start = std::time::Instant::now();
    let costs = time_points(sys.as_ref(), &opts, args.ics, &bar)?;
    bar.finish_and_clear();
    let measured = start.elapsed().as_secs_f64();
    let total: f64 = costs.iter().map(|c| c.wall_seconds(cores)).sum();
    let cpu: f64 = costs.iter().map(|c| c.seconds_per_trajectory() * c.trajectories() as f64).sum();
    if args.json {
        let points: Vec<serde_json::Value> = costs
            .iter()
            .map(|c| {
                serde_json::json!({
                    "index": c.index,
                    "file": c.point.file_name,
                    "params": c.point.params.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
                    "seconds": c.seconds,
                    "split_counts": c.split_counts,
                    "wall_s": c.wall_seconds(cores),
                })
            })
            .collect();
        let line = serde_json::json!({
            "system": sys.name(),
            "preset": opts.preset.name(),
            "cores": cores,
            "threads": rayon::current_num_threads(),
            "points": points,
            "grid_wall_s": total,
            "grid_cpu_s": cpu,
            "measured_s": measured,
        });
        println!("{line}");
    } else {
        println!(
            "{} ({}), {} of {} points, {} trajectories timed each, estimate for {cores} cores",
            sys.name(),
            opts.preset.name(),
            costs.len(),
            all_points,
            costs.first().map_or(0, |c| c.seconds.len())
        );
        println!("{:>5}  {:<58} {:>12} {:>14} {:>12}", "index", "file", "s/trajectory", "trajectories", "wall s");
        for c in &costs {
            let [t, v, e] = c.split_counts;
            println!(
                "{:>5}  {:<58} {:>12.3} {:>14} {:>12.1}",
                c.index,
                c.point.file_name,
                c.seconds_per_trajectory(),
                format!("{t}/{v}/{e}"),
                c.wall_seconds(cores)
            );
        }
        println!("grid: {:.1} s wall on {cores} cores ({:.2} h), {:.1} CPU s; measured in {measured:.1} s", total, total / 3600.0, cpu);
    }
    Ok(())
}
