//! `physrep stats DATASET_DIR [--out FILE]`: The Well's `stats.yaml` of the train split
//! (default output `DATASET_DIR/stats.yaml`, written atomically, and only once every value is finite and
//! every std positive: a NaN in the data is an error naming the file, field, trajectory and frame).

use std::path::PathBuf;

use physrep_well::{moments, WellDataset};

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
    // The dataset is locked while its own stats.yaml is rewritten (a simulate run may be adding files).
    let _lock = match &args.out {
        None => Some(physrep_core::DirLock::exclusive(&args.dataset_dir, "physrep stats")?),
        Some(_) => None,
    };
    let ds = WellDataset::open(&args.dataset_dir)?;
    let st = moments::compute(&ds)?;
    let out = args.out.unwrap_or_else(|| args.dataset_dir.join("stats.yaml"));
    st.write(&out)?;
    eprintln!("wrote {} ({} fields)", out.display(), st.fields.len());
    Ok(())
}
