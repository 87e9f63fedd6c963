//! `physrep stats DATASET_DIR [--out FILE]`: The Well's `stats.yaml` of the train split
//! (default output `DATASET_DIR/stats.yaml`, written atomically).

use std::path::PathBuf;

use physrep_well::{stats, WellDataset};

/// Arguments of `physrep stats`.
#[derive(clap::Args)]
pub struct Args {
    /// Dataset directory (holding `data/train`).
    pub dataset_dir: PathBuf,
    /// Output file (default: DATASET_DIR/stats.yaml).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let ds = WellDataset::open(&args.dataset_dir)?;
    let st = stats::compute(&ds)?;
    let out = args.out.unwrap_or_else(|| args.dataset_dir.join("stats.yaml"));
    st.write(&out)?;
    eprintln!("wrote {} ({} fields)", out.display(), st.fields.len());
    Ok(())
}
