//! `physrep bench NAME`: one file per benchmark. Results print as a table, or one JSON line with `--json`.

mod am_trajectory;
mod jepa_step;
mod loader;
mod physics_step;
mod sim_grid;
mod sim_step;
mod videomae_step;

/// Arguments of `physrep bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    which: Which,
}

#[derive(clap::Subcommand)]
enum Which {
    /// Seconds for one active_matter trajectory, with field statistics.
    AmTrajectory(am_trajectory::Args),
    /// One JEPA training step (both encoder passes, predictor, VICReg, backward, AdamW).
    JepaStep(jepa_step::Args),
    /// One MPP (AViT) or compact-DISCO training step (forward, objective, backward, Adam).
    PhysicsStep(physics_step::Args),
    /// Windows/s of the Well loader on a dataset directory.
    Loader(loader::Args),
    /// Wall time of a whole simulated parameter grid, timed on every parameter point.
    SimGrid(sim_grid::Args),
    /// Time per solver step of a simulator at a given resolution.
    SimStep(sim_step::Args),
    /// One VideoMAE training step (tube masking, encoder, decoder, masked MSE, backward, AdamW).
    VideomaeStep(videomae_step::Args),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.which {
        Which::AmTrajectory(a) => am_trajectory::run(a),
        Which::JepaStep(a) => jepa_step::run(a),
        Which::Loader(a) => loader::run(a),
        Which::PhysicsStep(a) => physics_step::run(a),
        Which::SimGrid(a) => sim_grid::run(a),
        Which::SimStep(a) => sim_step::run(a),
        Which::VideomaeStep(a) => videomae_step::run(a),
    }
}
