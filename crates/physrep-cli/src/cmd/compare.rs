//! `physrep compare`: the paired comparison of two encoders' probes (`physrep_eval::compare`): the ratio
//! of their test MSEs with a 95 % interval from a hierarchical bootstrap over seeds, then parameter
//! points (one draw shared by both arms).
//!
//! Each arm is a comma-separated list of probe output directories, one per pretraining seed, in seed
//! order; arms with the same number of directories are paired seed by seed. Example (a run against its
//! own initial weights, three seeds):
//! `physrep compare --a jepa=r0/probe,r1/probe,r2/probe --b jepa-init=r0/probe-init,r1/probe-init,r2/probe-init --probe linear`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use physrep_eval::compare::{compare, ArmPredictions};

/// Arguments of `physrep compare`.
#[derive(clap::Args)]
pub struct Args {
    /// Arm A: `NAME=DIR[,DIR...]`, probe output directories (with `predictions/`), one per seed.
    #[arg(long)]
    a: String,
    /// Arm B, as arm A (`NAME-init` next to arm `NAME` reads "its initialisation").
    #[arg(long)]
    b: String,
    /// The probe whose predictions are compared (attentive, linear, knn, attentive4).
    #[arg(long, default_value = "linear")]
    probe: String,
    /// The probe-training fraction (as in the predictions' file names).
    #[arg(long, default_value_t = 1.0)]
    fraction: f64,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = physrep_eval::bootstrap::RESAMPLES)]
    resamples: usize,
    /// Bootstrap seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Label of the comparison in the output (e.g. the system).
    #[arg(long, default_value = "")]
    system: String,
    /// Print the comparison as JSON instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// `NAME=DIR,DIR,...` → the arm's test predictions, seeds 0, 1, … in the given order.
fn arm(spec: &str, probe: &str, fraction: f64) -> anyhow::Result<ArmPredictions> {
    let Some((name, dirs)) = spec.split_once('=') else {
        bail!("arm `{spec}`: expected NAME=DIR[,DIR...]");
    };
    let dirs: Vec<(u64, PathBuf)> =
        dirs.split(',').filter(|d| !d.is_empty()).enumerate().map(|(i, d)| (i as u64, PathBuf::from(d))).collect();
    if name.is_empty() || dirs.is_empty() {
        bail!("arm `{spec}`: expected NAME=DIR[,DIR...]");
    }
    // One directory per seed: a directory listed twice would count one seed's errors twice.
    for (i, (_, d)) in dirs.iter().enumerate() {
        let same = |e: &PathBuf| e == d || std::fs::canonicalize(e).ok().zip(std::fs::canonicalize(d).ok()).is_some_and(|(x, y)| x == y);
        if dirs[..i].iter().any(|(_, e)| same(e)) {
            bail!("arm `{spec}`: {} is listed twice (give one probe directory per pretraining seed)", d.display());
        }
    }
    ArmPredictions::load(name, &dirs, probe, fraction).with_context(|| format!("arm {name}"))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let a = arm(&args.a, &args.probe, args.fraction)?;
    let b = arm(&args.b, &args.probe, args.fraction)?;
    let c = compare(&args.system, &args.probe, &a, &b, args.resamples, args.seed)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        println!("{}", c.sentence());
        for s in &c.per_seed {
            println!("  seed {}: MSE {:.4} / {:.4} = {:.3}", s.seed, s.mse_a, s.mse_b, s.ratio);
        }
    }
    Ok(())
}
