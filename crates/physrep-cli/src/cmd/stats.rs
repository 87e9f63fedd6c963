//! `physrep stats`.

/// Arguments of `physrep stats`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`physrep stats` is not implemented yet")
}
