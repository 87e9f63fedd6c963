//! `physrep bench sim-step`.

/// Arguments of `physrep bench sim-step`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`physrep bench sim-step` is not implemented yet")
}
