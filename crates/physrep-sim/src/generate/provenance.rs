//! Resuming safely: files already in a dataset directory must come from the same seed, preset and grid as
//! the run adding to it ([`check_provenance`]).

use std::path::Path;

use physrep_well::Split;

use super::{well_err, GenerateOptions};
use crate::design;
use crate::SimError;

/// Refuse to add to a dataset whose existing files were made with another seed or preset (their root
/// attributes `generator_seed` and `preset`, or another grid): resuming a killed run with other options would
/// otherwise mix two datasets silently. With `opts.force` the old dataset (`data/`, `stats.yaml`,
/// `design.json`) is deleted instead.
pub(super) fn check_provenance(root: &Path, layout: &crate::Layout, opts: &GenerateOptions) -> Result<(), SimError> {
    let mut mismatch = None;
    'splits: for split in Split::ALL {
        let dir = root.join("data").join(split.to_string());
        if !dir.is_dir() {
            continue;
        }
        for path in physrep_well::list_h5(&dir).map_err(well_err)? {
            let made = file_provenance(&path)?;
            let asked = (opts.seed as i64, opts.preset.name().to_string(), [layout.x.len(), layout.y.len()]);
            if made != asked {
                mismatch = Some((path, made));
                break 'splits;
            }
        }
    }
    let Some((path, (seed, preset, grid))) = mismatch else { return Ok(()) };
    if opts.force {
        for p in [root.join("data"), root.join("stats.yaml"), root.join(design::DESIGN_FILE)] {
            let gone = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
            match gone {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(well_err(physrep_well::WellError::Io { path: p, source: e }));
                }
                _ => {}
            }
        }
        return Ok(());
    }
    Err(SimError::Options(format!(
        "{} was generated with seed {seed} at preset {preset} ({}×{} grid), but this run asks seed {} at preset {} ({}×{}): \
         adding to it would mix two datasets; pass --force to delete {} and generate it anew, or choose another --out",
        path.display(),
        grid[0],
        grid[1],
        opts.seed,
        opts.preset.name(),
        layout.x.len(),
        layout.y.len(),
        root.display()
    )))
}

/// `(generator_seed, preset, [nx, ny])` of a generated file.
fn file_provenance(path: &Path) -> Result<(i64, String, [usize; 2]), SimError> {
    let (info, file) = physrep_well::WellFileInfo::read_keeping_file(path).map_err(well_err)?;
    let h5err = |item: &str, e: hdf5::Error| {
        well_err(physrep_well::WellError::Format {
            path: path.to_path_buf(),
            item: item.into(),
            msg: format!("{e} (not a file physrep simulate wrote: pass --force to replace the dataset)"),
        })
    };
    let seed = file.attr("generator_seed").and_then(|a| a.read_scalar::<i64>()).map_err(|e| h5err("generator_seed", e))?;
    let preset = file
        .attr("preset")
        .and_then(|a| a.read_scalar::<hdf5::types::VarLenUnicode>())
        .map(|v| v.as_str().to_string())
        .map_err(|e| h5err("preset", e))?;
    Ok((seed, preset, info.spatial()))
}
