//! `physrep pretrain`.

/// Arguments of `physrep pretrain`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`physrep pretrain` is not implemented yet")
}
