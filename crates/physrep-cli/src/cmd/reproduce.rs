//! `physrep reproduce`.

/// Arguments of `physrep reproduce`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`physrep reproduce` is not implemented yet")
}
