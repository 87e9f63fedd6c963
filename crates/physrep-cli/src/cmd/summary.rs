//! `physrep summary`.

/// Arguments of `physrep summary`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`physrep summary` is not implemented yet")
}
