//! One module per subcommand: each defines `Args` (clap) and `run(Args) -> anyhow::Result<()>`.

pub mod bench;
pub mod compare;
pub mod finetune;
pub mod inspect;
pub mod plot_sample;
pub mod pretrain;
pub mod probe;
pub mod reproduce;
pub mod simulate;
pub mod stats;
pub mod summary;
