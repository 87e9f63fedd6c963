//! `physrep`: self-supervised representation learning on spatiotemporal physical systems.
//!
//! One subcommand per pipeline stage; each lives in its own file under `cmd/`.

mod cmd;
mod reproduce;

use clap::{Parser, Subcommand};

/// Large activation buffers are recycled instead of being unmapped and faulted in again on every op
/// (`physrep_core::buffer_cache`); `PHYSREP_ALLOC_CACHE_MB` bounds the idle cached bytes (0 turns it off).
#[global_allocator]
static ALLOC: physrep_core::BufferCache = physrep_core::BufferCache::new();

#[derive(Parser)]
#[command(name = "physrep", version, about = "Representation learning for spatiotemporal physical systems", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Describe a Well-layout dataset directory (channels, grid, splits, windows).
    Inspect(cmd::inspect::Args),
    /// Compute The Well's stats.yaml (train split) for a dataset directory.
    Stats(cmd::stats::Args),
    /// Generate a Well-layout dataset with a built-in pseudo-spectral simulator.
    Simulate(cmd::simulate::Args),
    /// Save a PNG strip of frames of every field of one Well file.
    PlotSample(cmd::plot_sample::Args),
    /// Print a model's layer table and parameter counts.
    Summary(cmd::summary::Args),
    /// Pretrain an encoder (jepa, videomae, mpp, disco; supervised: the ceiling).
    Pretrain(cmd::pretrain::Args),
    /// Probe a frozen (or fine-tuned) encoder on the physical parameters.
    Probe(cmd::probe::Args),
    /// Compare two encoders' probes: test-MSE ratio with a paired bootstrap interval.
    Compare(cmd::compare::Args),
    /// Fine-tune an MPP run's AViT end to end on the physical parameters (the paper's MPP protocol).
    Finetune(cmd::finetune::Args),
    /// Run the whole study: simulate, pretrain every method, probe, report.
    Reproduce(cmd::reproduce::Args),
    /// Micro- and macro-benchmarks.
    Bench(cmd::bench::Args),
}

fn main() {
    // A closed pipe on stdout (`physrep inspect DIR | head`) ends the process quietly, as it does other
    // command-line tools, instead of `println!` panicking on the write error: Rust starts programs
    // with SIGPIPE ignored, so the default action is restored here.
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    if let Ok(v) = std::env::var("PHYSREP_ALLOC_CACHE_MB") {
        match v.trim().parse::<usize>() {
            Ok(mb) => ALLOC.set_limit(mb.saturating_mul(1 << 20)),
            Err(_) => {
                eprintln!("error: PHYSREP_ALLOC_CACHE_MB must be a whole number of MiB (0 turns the buffer cache off), got `{v}`");
                std::process::exit(2);
            }
        }
    }
    let cli = match parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Stats(a) => cmd::stats::run(a),
        Command::Simulate(a) => cmd::simulate::run(a),
        Command::PlotSample(a) => cmd::plot_sample::run(a),
        Command::Summary(a) => cmd::summary::run(a),
        Command::Pretrain(a) => cmd::pretrain::run(a),
        Command::Probe(a) => cmd::probe::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Finetune(a) => cmd::finetune::run(a),
        Command::Reproduce(a) => cmd::reproduce::run(a),
        Command::Bench(a) => cmd::bench::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// The command line, with two settings on every subcommand: a negative number is a value (`--seed -1`
/// is then refused by the value's own parser, naming the argument, instead of clap's misleading
/// "use '-- -1'" tip), and a later option overrides an earlier one, so a wrapper script's defaults
/// (`scripts/reproduce.sh` passes `--preset default --out runs/default`) can be overridden.
fn parse<I: IntoIterator<Item = T>, T: Into<std::ffi::OsString> + Clone>(args: I) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let command = Cli::command().mut_subcommands(|c| c.allow_negative_numbers(true).args_override_self(true));
    Cli::from_arg_matches(&command.try_get_matches_from(args)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_options_override_earlier_ones_and_negative_numbers_are_values() {
        let Ok(Cli { command: Command::Reproduce(args) }) =
            parse(["physrep", "reproduce", "--preset", "default", "--out", "a", "--preset", "smoke", "--out", "b"])
        else {
            panic!("reproduce with repeated options did not parse");
        };
        assert_eq!((args.preset.as_str(), args.out.as_path()), ("smoke", std::path::Path::new("b")));
        let Err(err) = parse(["physrep", "simulate", "advection", "--out", "x", "--seed", "-1"]) else {
            panic!("--seed -1 parsed");
        };
        let err = err.to_string();
        assert!(err.contains("--seed") && err.contains("-1") && !err.contains("-- -1"), "{err}");
    }
}
