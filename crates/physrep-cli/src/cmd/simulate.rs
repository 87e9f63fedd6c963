//! `physrep simulate SYSTEM --out DIR [--preset tiny|small|medium] [--seed N] [--shard I/N] [--params all|LIST | --design lhs:N[xK]]
//! [--allow-unresolved]`:
//! generates `DIR/SYSTEM/data/{train,valid,test}/*.hdf5` and `DIR/SYSTEM/stats.yaml` with the built-in
//! simulators (`physrep_sim::generate`). Reruns skip finished files; sharded runs leave `stats.yaml` to
//! `physrep stats DIR/SYSTEM` once every shard is done.
//!
//! Without `--design`, the preset's parameter grid with The Well's split by initial condition (every point in
//! every split). With `--design lhs:N`, N points of a seeded Latin hypercube in label space (log10 for
//! Reynolds and Rayleigh, linear otherwise) inside the box the preset's grid spans, split by parameter point
//! (≈ 70/15/15 %, all of a point's trajectories in its split; `lhs:NxK` gives each point K trajectories
//! instead of the preset's, the first K of `lhs:N`'s) and recorded in `DIR/SYSTEM/design.json`
//! (`physrep_sim::design`). The probes z-score the labels in the paper's label space: with the paper's
//! constants for `medium` (The Well's grids), with the train split's own mean and std for `tiny` and `small`
//! (files marked `label_scaling = "train"`, `physrep_sim::generate::label_scaling`).
//!
//! A rerun into an existing dataset resumes it (finished files are skipped, temporary files of killed runs
//! removed) when its files were made with the same seed and preset, and is refused otherwise unless `--force`.
//! The dataset directory is locked while the command writes it (shards of one dataset share it).
//!
//! Every file carries its physical check (`physrep_sim::checks`); a failing file stops the run with an error
//! naming it, its parameters and the failed checks, unless `--allow-unresolved`.

use std::path::PathBuf;

use physrep_sim::design::DesignSpec;
use physrep_sim::generate::{parse_shard, GenerateOptions, ParamSelection};
use physrep_sim::Preset;

/// Arguments of `physrep simulate`.
#[derive(clap::Args)]
pub struct Args {
    /// rayleigh_benard, shear_flow, active_matter, gray_scott_reaction_diffusion or advection (the
    /// learnability control: a random field translated at `speed` px/frame).
    pub system: String,
    /// Output root: the dataset goes to OUT/SYSTEM.
    #[arg(long)]
    pub out: PathBuf,
    /// tiny (tests), small (default CPU pipeline) or medium (≈ MiniWell resolution).
    #[arg(long, default_value = "small")]
    pub preset: String,
    /// Global seed; each trajectory's seed derives from it, the file name and the IC index.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Generate only parameter points with index ≡ I (mod N).
    #[arg(long, default_value = "0/1")]
    pub shard: String,
    /// `all`, or a comma-separated list of grid indices or file names.
    #[arg(long, default_value = "all")]
    pub params: String,
    /// `lhs:N`: N parameter points drawn by Latin hypercube inside the preset grid's box (seeded by --seed),
    /// split into train/valid/test by parameter point, instead of the grid; `lhs:NxK`: the same points
    /// with K trajectories (initial conditions) each instead of the preset's.
    #[arg(long, conflicts_with = "params")]
    pub design: Option<String>,
    /// Keep files that fail their physical check (bounds, divergence, Nusselt balance, spectral tail) instead
    /// of stopping with an error; the failure and this flag are recorded in each file.
    #[arg(long)]
    pub allow_unresolved: bool,
    /// Delete an existing dataset in OUT/SYSTEM that was made with another --seed or --preset and generate it
    /// anew (without it, such a rerun is refused: adding to it would mix two datasets).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = GenerateOptions {
        out: args.out,
        preset: args.preset.parse::<Preset>()?,
        seed: args.seed,
        shard: parse_shard(&args.shard)?,
        params: match &args.design {
            Some(d) => ParamSelection::Design(d.parse::<DesignSpec>()?),
            None => args.params.parse::<ParamSelection>()?,
        },
        progress: true,
        allow_unresolved: args.allow_unresolved,
        force: args.force,
    };
    let start = std::time::Instant::now();
    let dir = physrep_sim::generate(&args.system, &opts)?;
    eprintln!("{} written in {:.1} s", dir.display(), start.elapsed().as_secs_f64());
    if !dir.join("stats.yaml").exists() {
        eprintln!("stats.yaml not written yet (sharded or partial run): run `physrep stats {}` when all shards are done", dir.display());
    }
    Ok(())
}
