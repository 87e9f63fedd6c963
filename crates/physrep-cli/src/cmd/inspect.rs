//! `physrep inspect`.

/// Arguments of `physrep inspect`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`physrep inspect` is not implemented yet")
}
