//! `physrep bench jepa-step`.

/// Arguments of `physrep bench jepa-step`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`physrep bench jepa-step` is not implemented yet")
}
