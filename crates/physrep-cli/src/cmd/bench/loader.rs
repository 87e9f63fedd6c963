//! `physrep bench loader`.

/// Arguments of `physrep bench loader`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`physrep bench loader` is not implemented yet")
}
