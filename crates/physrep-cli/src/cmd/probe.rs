//! `physrep probe`.

/// Arguments of `physrep probe`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`physrep probe` is not implemented yet")
}
