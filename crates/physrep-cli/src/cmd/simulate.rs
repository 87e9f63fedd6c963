//! `physrep simulate`.

/// Arguments of `physrep simulate`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`physrep simulate` is not implemented yet")
}
