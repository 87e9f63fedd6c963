//! `physrep reproduce`: one command from nothing to the paper's Table 1, Table 2 and figures.

use std::path::PathBuf;

use crate::reproduce::{self, Plan};

/// Arguments of `physrep reproduce`.
#[derive(clap::Args)]
pub struct Args {
    /// smoke (< 3 min, CI), default (≤ 15 min on 2 cores), study (issue #16: own-init controls, designs,
    /// 4 seeds; hours on 2 cores), full (MiniWell scale, hours), paper (GPU).
    #[arg(long, default_value = "default")]
    pub(crate) preset: String,
    /// Output directory (rerunning into the same directory skips finished stages).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Read The Well from DIR (`DIR/<system>/data/...`) instead of simulating.
    #[arg(long)]
    well_dir: Option<PathBuf>,
    /// Comma-separated systems (default: active_matter,shear_flow,rayleigh_benard).
    #[arg(long, value_delimiter = ',')]
    systems: Option<Vec<String>>,
    /// Comma-separated methods (default: jepa,videomae,mpp,disco).
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<String>>,
    /// Number of pretraining seeds (default: the preset's).
    #[arg(long)]
    seeds: Option<usize>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut plan = Plan::preset(&args.preset)?.restrict(args.systems, args.methods, args.seeds)?;
    plan.well_dir = args.well_dir;
    let study = reproduce::run(&plan, &args.out)?;
    eprintln!("reproduce: {} results in {:.1} min → {}", study.rows.len(), study.total_wall_s / 60.0, args.out.join("REPORT.md").display());
    Ok(())
}
