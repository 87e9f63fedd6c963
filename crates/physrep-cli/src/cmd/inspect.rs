//! `physrep inspect DATASET_DIR [--json] [--field-names-order]`: channels, grid, parameters, splits and
//! the paper's default windows (16 + 16 frames, stride active_matter 1, shear_flow / rayleigh_benard 4,
//! else 16) of a Well-layout dataset directory, and the physical check of every file (`physrep_sim::checks`:
//! bound excursion, velocity divergence, Nusselt balance residual, spectral tail; `-` where a file has none).

use std::path::PathBuf;

use physrep_sim::checks::FileCheck;
use physrep_well::{ChannelOrder, Split, WellDataset, WindowSpec};
use serde_json::json;

/// Arguments of `physrep inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// Dataset directory (holding `data/{train,valid,test}`).
    pub dataset_dir: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// List channels in The Well's `field_names` order instead of the paper's HDF5 key order.
    #[arg(long)]
    pub field_names_order: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let order = if args.field_names_order { ChannelOrder::FieldNames } else { ChannelOrder::H5Key };
    let ds = WellDataset::open_with(&args.dataset_dir, order)?;
    let spec = WindowSpec::paper(ds.name());
    let first = Split::ALL.iter().find_map(|&s| ds.files(s).first()).expect("an opened dataset has a file");
    let params: Vec<(String, f64)> = first.parameters();
    let mut splits = serde_json::Map::new();
    for split in Split::ALL {
        splits.insert(
            split.to_string(),
            json!({
                "present": ds.has_split(split),
                "files": ds.files(split).len(),
                "trajectories": ds.trajectories(split),
                "windows": ds.window_count(split, &spec),
            }),
        );
    }
    let mut checks = Vec::new();
    for split in Split::ALL {
        for f in ds.files(split) {
            checks.push((split, f.path.clone(), FileCheck::read(&f.path)?));
        }
    }
    let failed = checks.iter().filter(|(_, _, c)| c.as_ref().is_some_and(|c| !c.passed)).count();
    let unchecked = checks.iter().filter(|(_, _, c)| c.is_none()).count();
    let checks_json: Vec<_> = checks
        .iter()
        .map(|(s, p, c)| json!({"split": s.to_string(), "file": p.file_name().map(|n| n.to_string_lossy()), "check": c}))
        .collect();
    let bcs: Vec<_> =
        first.boundary_conditions.iter().map(|b| json!({"name": b.name, "bc_type": b.bc_type, "dims": b.associated_dims})).collect();
    let report = json!({
        "dataset": ds.name(),
        "dir": ds.dir(),
        "channel_order": format!("{:?}", ds.channel_order()),
        "channels": ds.channel_names(),
        "constant_fields": ds.constant_field_names(),
        "spatial": ds.spatial(),
        "frames": ds.frames(),
        "parameters": ds.parameter_names(),
        "labels": ds.label_names(),
        "boundary_conditions": bcs,
        "stats_yaml": ds.stats().is_some(),
        "window": {"context": spec.context, "target": spec.target, "stride": spec.stride},
        "splits": splits,
        "physical_checks": {"files": checks.len(), "failed": failed, "unchecked": unchecked, "per_file": checks_json},
    });
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let [nx, ny] = ds.spatial();
    println!("dataset      {}  ({})", ds.name(), ds.dir().display());
    println!("grid         {nx} × {ny}, {} frames", ds.frames());
    println!("channels     {} ({:?} order): {}", ds.n_channels(), ds.channel_order(), ds.channel_names().join(", "));
    if !ds.constant_field_names().is_empty() {
        println!("constant     {}", ds.constant_field_names().join(", "));
    }
    let p: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
    println!("parameters   {}  (first file: {})", ds.parameter_names().join(", "), p.join(", "));
    println!("labels       {}", ds.label_names().join(", "));
    let b: Vec<String> = first.boundary_conditions.iter().map(|b| format!("{} ({})", b.name, b.bc_type)).collect();
    println!("boundaries   {}", b.join(", "));
    println!("stats.yaml   {}", if ds.stats().is_some() { "present" } else { "absent" });
    println!("windows      {} + {} frames, stride {}", spec.context, spec.target, spec.stride);
    println!();
    println!("{:<8} {:>7} {:>7} {:>13} {:>9}", "split", "present", "files", "trajectories", "windows");
    for split in Split::ALL {
        println!(
            "{:<8} {:>7} {:>7} {:>13} {:>9}",
            split.as_str(),
            if ds.has_split(split) { "yes" } else { "no" },
            ds.files(split).len(),
            ds.trajectories(split),
            ds.window_count(split, &spec)
        );
    }
    println!();
    println!("physical checks: {} files, {failed} failed, {unchecked} without a check", checks.len());
    for (split, path, c) in &checks {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let line = c.as_ref().map_or("-".to_string(), FileCheck::summary);
        println!("  {:<5} {name:<58} {line}", split.as_str());
        for f in c.iter().flat_map(|c| &c.failures) {
            println!("        {f}");
        }
    }
    Ok(())
}
