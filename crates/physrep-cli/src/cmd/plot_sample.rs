//! `physrep plot-sample`.

/// Arguments of `physrep plot-sample`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`physrep plot-sample` is not implemented yet")
}
