//! Dataset generation: parameter grid → simulated trajectories → Well-layout files + `stats.yaml`.
//!
//! Layout written (well-format §1): `OUT/<system>/data/{train,valid,test}/<The Well's file name>` and
//! `OUT/<system>/stats.yaml` (train split, `physrep_well::moments`). For the preset's grid, per parameter file
//! the IC indices `0..ics_per_point` are shuffled with a seeded RNG and cut into train/valid/test by
//! [`System::split_counts`] (80/10/10 as The Well); each split file holds its trajectories in increasing IC
//! order. For a continuous design ([`ParamSelection::Design`], `crate::design`) the parameter points are split
//! instead: every trajectory of a point goes to the point's split, and the design is recorded in
//! `OUT/<system>/design.json`. Every trajectory has its own seed derived from (global seed, system, file name, IC index), so
//! results do not depend on thread count, sharding or resumption: same seed → bit-identical files.
//!
//! Resumption: files are written atomically by `physrep_well::write` (temporary file + rename), and a split
//! file that already exists is skipped; temporary files of killed runs are removed. Existing files must have
//! been made with the same seed and preset (root attributes `generator_seed`, `preset`), else the run is
//! refused unless [`GenerateOptions::force`]. Sharding `--shard I/N` takes the parameter points with index
//! ≡ I mod N; the dataset is locked (`physrep_core::DirLock`: exclusively, or shared between shards, each
//! holding its own shard's lock), and whichever run completes the whole selection writes `stats.yaml`.
//! A blow-up aborts with [`SimError::BlowUp`] (parameters, IC, time) and leaves no partial file.
//!
//! Every file carries its physical check (`crate::checks`, root attributes `physical_check*`); a file that
//! fails it aborts with [`SimError::Unresolved`] (file, parameters, failed checks) and is not written, unless
//! [`GenerateOptions::allow_unresolved`].

use std::path::{Path, PathBuf};

use physrep_core::DirLock;
use physrep_core::Progress;
use physrep_well::write::{AttrValue, TrajectoryFields, WellFileHeader, WellFileWriter};
use physrep_well::{LabelScaling, Split, WellDataset, LABEL_SCALING_ATTR};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;

use crate::active_matter::ActiveMatter;
use crate::advection::Advection;
use crate::checks::{check_trajectory, CheckSpec, FileCheck, TrajectoryCheck};
use crate::design::{self, Design, DesignSpec};
use crate::gray_scott::GrayScott;
use crate::rayleigh_benard::RayleighBenard;
use crate::shear_flow::ShearFlow;
use crate::system::{ParamPoint, Preset, System, Trajectory};
use crate::SimError;

/// Names accepted by [`system`].
/// How the labels of a preset's files are standardised (`physrep_well::labels`): `tiny` and `small`
/// cover narrower, resolved parameter ranges than The Well, so their labels are z-scored with their own
/// train split's statistics; `medium` keeps The Well's grids and the paper's constants.
pub fn label_scaling(preset: Preset) -> LabelScaling {
    match preset {
        Preset::Tiny | Preset::Small => LabelScaling::Train,
        Preset::Medium => LabelScaling::Paper,
    }
}

pub const SYSTEM_NAMES: [&str; 5] = ["rayleigh_benard", "shear_flow", "active_matter", "gray_scott_reaction_diffusion", "advection"];

/// The simulator for a Well dataset name.
pub fn system(name: &str) -> Result<Box<dyn System>, SimError> {
    match name {
        "rayleigh_benard" => Ok(Box::new(RayleighBenard)),
        "shear_flow" => Ok(Box::new(ShearFlow)),
        "active_matter" => Ok(Box::new(ActiveMatter)),
        "gray_scott_reaction_diffusion" => Ok(Box::new(GrayScott)),
        "advection" => Ok(Box::new(Advection)),
        _ => Err(SimError::Options(format!("unknown system `{name}` (expected one of {})", SYSTEM_NAMES.join(", ")))),
    }
}

/// Which parameter points to generate.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ParamSelection {
    /// The whole grid of the preset.
    #[default]
    All,
    /// Indices into the preset's grid (`"3"`) or file names with or without `.hdf5`.
    List(Vec<String>),
    /// A continuous design inside the box of the preset's grid, split by parameter point (`crate::design`).
    Design(DesignSpec),
}

impl std::str::FromStr for ParamSelection {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        if s == "all" {
            return Ok(ParamSelection::All);
        }
        let items: Vec<String> = s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
        if items.is_empty() {
            return Err(SimError::Options(format!("--params `{s}`: expected `all` or a comma-separated list")));
        }
        Ok(ParamSelection::List(items))
    }
}

/// Options of [`generate`].
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Output root; the dataset goes to `out/<system>`.
    pub out: PathBuf,
    pub preset: Preset,
    /// Global seed (combined with system, file and IC index per trajectory).
    pub seed: u64,
    /// `(I, N)`: this process generates parameter points with index ≡ I (mod N).
    pub shard: (usize, usize),
    pub params: ParamSelection,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Keep files that fail their physical check (`crate::checks`; recorded in the file) instead of failing.
    pub allow_unresolved: bool,
    /// Delete an existing dataset made with another seed or preset and generate it anew, instead of refusing.
    pub force: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            out: PathBuf::from("data"),
            preset: Preset::Small,
            seed: 0,
            shard: (0, 1),
            params: ParamSelection::All,
            progress: false,
            allow_unresolved: false,
            force: false,
        }
    }
}

/// Parses `I/N` (0 ≤ I < N).
pub fn parse_shard(s: &str) -> Result<(usize, usize), SimError> {
    let bad = || SimError::Options(format!("--shard `{s}`: expected I/N with 0 ≤ I < N"));
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// A stable 64-bit hash (FNV-1a over the parts, finalised by SplitMix64) for deriving seeds.
pub fn derive_seed(seed: u64, parts: &[&str], index: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    let mut eat = |b: u8| {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for p in parts {
        p.bytes().for_each(&mut eat);
        eat(0xff);
    }
    index.to_le_bytes().into_iter().for_each(&mut eat);
    physrep_core::seed::splitmix64(h)
}

/// The IC indices of each split (train, valid, test) of one parameter file, each sorted.
pub fn split_ics(sys: &dyn System, preset: Preset, point: &ParamPoint, seed: u64) -> Result<[Vec<usize>; 3], SimError> {
    let n = sys.ics_per_point(preset);
    let counts = sys.split_counts(preset);
    if counts.iter().sum::<usize>() != n {
        return Err(SimError::Options(format!("{}: split counts {counts:?} do not sum to {n} ICs per file", sys.name())));
    }
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(derive_seed(seed, &[sys.name(), &point.file_name, "split"], 0));
    idx.shuffle(&mut rng);
    let mut out: [Vec<usize>; 3] = Default::default();
    let mut start = 0;
    for (s, &c) in counts.iter().enumerate() {
        out[s] = idx[start..start + c].to_vec();
        out[s].sort_unstable();
        start += c;
    }
    Ok(out)
}

/// A parameter point to generate: its index in the preset's grid or the design, and its IC indices per split.
#[derive(Clone, Debug)]
struct Planned {
    index: usize,
    point: ParamPoint,
    ics: [Vec<usize>; 3],
}

/// The points of `points` that shard `(I, N)` generates: index ≡ I (mod N).
fn shard_of(points: Vec<Planned>, (si, sn): (usize, usize)) -> Result<Vec<Planned>, SimError> {
    if sn == 0 || si >= sn {
        return Err(SimError::Options(format!("shard {si}/{sn}: expected 0 ≤ I < N")));
    }
    Ok(points.into_iter().filter(|p| p.index % sn == si).collect())
}

/// Selects the parameter points of `opts` (every shard's) with their IC indices per split, and the design
/// they come from, if any.
fn selected_points(sys: &dyn System, opts: &GenerateOptions) -> Result<(Vec<Planned>, Option<Design>), SimError> {
    let grid = sys.param_grid(opts.preset);
    let mut design = None;
    let chosen: Vec<(usize, ParamPoint)> = match &opts.params {
        ParamSelection::All => grid.into_iter().enumerate().collect(),
        ParamSelection::Design(spec) => {
            let d = design.insert(Design::lhs(sys, opts.preset, *spec, opts.seed)?);
            d.points.iter().map(|p| p.point.clone()).enumerate().collect()
        }
        ParamSelection::List(items) => {
            let mut out = Vec::new();
            for item in items {
                let pos = match item.parse::<usize>() {
                    Ok(i) if i < grid.len() => Some(i),
                    Ok(_) => None,
                    Err(_) => grid.iter().position(|p| p.file_name == *item || p.file_name.trim_end_matches(".hdf5") == item),
                };
                let i = pos.ok_or_else(|| {
                    SimError::Options(format!(
                        "--params: `{item}` is neither an index < {} nor a file name of {} ({}, …)",
                        grid.len(),
                        sys.name(),
                        grid.first().map(|p| p.file_name.as_str()).unwrap_or("")
                    ))
                })?;
                if !out.iter().any(|(j, _)| *j == i) {
                    out.push((i, grid[i].clone()));
                }
            }
            out
        }
    };
    let points = chosen
        .into_iter()
        .map(|(index, point)| {
            let ics = match &design {
                Some(d) => d.ics(index),
                None => split_ics(sys, opts.preset, &point, opts.seed)?,
            };
            Ok(Planned { index, point, ics })
        })
        .collect::<Result<_, SimError>>()?;
    Ok((points, design))
}

/// Generates the files of `system` for `opts`; returns the dataset directory `out/<system>`.
pub fn generate(system_name: &str, opts: &GenerateOptions) -> Result<PathBuf, SimError> {
    let sys = system(system_name)?;
    generate_with(sys.as_ref(), opts)
}

/// Trajectories simulated at once per rayon thread: each chunk is simulated in parallel (work-stealing inside
/// it), then written in IC order, so memory holds at most `CHUNK_PER_THREAD × threads` trajectories however
/// large a split file is (Gray–Scott `medium`: 160 × 131 MB in one train file).
const CHUNK_PER_THREAD: usize = 4;

/// [`generate`] for any [`System`] implementation.
///
/// Per parameter point, the ICs of all its pending split files (train, then valid, then test) form one queue
/// worked through in chunks, so small valid/test files do not leave cores idle; each trajectory is streamed
/// into its file as its chunk completes, and each file is renamed into place once complete.
pub fn generate_with(sys: &dyn System, opts: &GenerateOptions) -> Result<PathBuf, SimError> {
    let root = opts.out.join(sys.name());
    let (all_points, design) = selected_points(sys, opts)?;
    let points = shard_of(all_points.iter().map(Planned::clone).collect(), opts.shard)?;
    let command = format!("physrep simulate {} --shard {}/{}", sys.name(), opts.shard.0, opts.shard.1);
    // One writer of the whole dataset at a time; shards of one run side by side (each locks its own part).
    let _locks = if opts.shard.1 == 1 {
        vec![DirLock::exclusive(&root, &command)?]
    } else {
        vec![
            DirLock::shared(&root, &command)?,
            DirLock::exclusive_part(&root, &format!("shard-{}-of-{}", opts.shard.0, opts.shard.1), &command)?,
        ]
    };
    let layout = sys.layout(opts.preset);
    check_provenance(&root, &layout, opts)?;
    for split in Split::ALL {
        physrep_core::fs::remove_stale_temps(&root.join("data").join(split.to_string()))?;
    }
    physrep_core::fs::remove_stale_temps(&root)?;
    design::record(&root, design.as_ref())?;
    // Every split file of the selected points with its ICs, and the work list per point: the files not yet on disk.
    let split_files = |p: &Planned| -> Vec<(PathBuf, Vec<usize>)> {
        Split::ALL
            .iter()
            .zip(&p.ics)
            .filter(|(_, ics)| !ics.is_empty())
            .map(|(s, ics)| (root.join("data").join(s.to_string()).join(&p.point.file_name), ics.clone()))
            .collect()
    };
    let mut work = Vec::new();
    for p in &points {
        let files: Vec<(PathBuf, Vec<usize>)> = split_files(p).into_iter().filter(|(path, _)| !path.exists()).collect();
        if !files.is_empty() {
            work.push((p.point.clone(), files));
        }
    }
    let total: usize = work.iter().flat_map(|(_, files)| files.iter().map(|f| f.1.len())).sum();
    let bar = Progress::new(total as u64, sys.name(), "trajectories", opts.progress);
    let chunk = CHUNK_PER_THREAD * rayon::current_num_threads().max(1);
    for (point, files) in work {
        let mut writers = files.iter().map(|(path, ics)| create_file(path, &layout, &point, opts, ics)).collect::<Result<Vec<_>, _>>()?;
        let mut ic_params: Vec<Vec<String>> = vec![Vec::new(); files.len()];
        let spec = CheckSpec::for_point(sys.name(), opts.preset, &point, &layout);
        let mut checks: Vec<Vec<TrajectoryCheck>> = vec![Vec::new(); files.len()];
        let queue: Vec<(usize, usize)> = files.iter().enumerate().flat_map(|(f, (_, ics))| ics.iter().map(move |&ic| (f, ic))).collect();
        for jobs in queue.chunks(chunk) {
            let trajectories: Vec<(Trajectory, TrajectoryCheck)> = jobs
                .par_iter()
                .map(|&(_, ic)| {
                    let seed = derive_seed(opts.seed, &[sys.name(), &point.file_name], ic as u64);
                    let t = sys.simulate(&point, ic, seed, opts.preset)?;
                    let c = check_trajectory(&spec, &layout, &t)?;
                    bar.inc(1);
                    Ok((t, c))
                })
                .collect::<Result<_, SimError>>()?;
            for (&(f, _), (t, c)) in jobs.iter().zip(trajectories) {
                checks[f].push(c);
                let views = TrajectoryFields { fields: t.fields.iter().map(|a| a.view()).collect() };
                writers[f].write_trajectory(&views).map_err(well_err)?;
                ic_params[f].push(t.ic_params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","));
            }
        }
        // Every split file of the point is checked before any is renamed into place.
        let file_checks: Vec<FileCheck> = checks.iter().map(|c| FileCheck::from_trajectories(c, opts.allow_unresolved)).collect();
        if let Some((check, (path, _))) = file_checks.iter().zip(&files).find(|(c, _)| !c.passed && !opts.allow_unresolved) {
            return Err(SimError::Unresolved {
                file: path.display().to_string(),
                params: point.describe(),
                failures: check.failures.join("; "),
            });
        }
        for ((mut w, params), check) in writers.into_iter().zip(ic_params).zip(&file_checks) {
            check.write(&mut w).map_err(well_err)?;
            w.write_attr("ic_parameters", &AttrValue::Strs(params)).map_err(well_err)?;
            if let Some(v) = label_scaling(opts.preset).attr() {
                w.write_attr(LABEL_SCALING_ATTR, &AttrValue::Str(v.into())).map_err(well_err)?;
            }
            w.finish().map_err(well_err)?;
        }
    }
    bar.finish();
    // stats.yaml once every selected file of every shard exists: the last shard to finish writes it (two
    // finishing together write the same bytes, atomically).
    let complete = all_points.iter().all(|p| split_files(p).iter().all(|(path, _)| path.exists()));
    if complete {
        let ds = WellDataset::open(&root).map_err(well_err)?;
        let stats = physrep_well::moments::compute(&ds).map_err(well_err)?;
        stats.write(&root.join("stats.yaml")).map_err(well_err)?;
    }
    Ok(root)
}

/// The measured cost of one parameter point: seconds per trajectory of its first ICs (see [`time_points`]).
#[derive(Clone, Debug)]
pub struct PointCost {
    /// Index in the preset's grid (or the design).
    pub index: usize,
    pub point: ParamPoint,
    /// Wall seconds of each timed trajectory (IC 0, 1, …), in IC order.
    pub seconds: Vec<f64>,
    /// Trajectories per split file (train, valid, test) the point's full files hold (a design point has all
    /// of them in one split).
    pub split_counts: [usize; 3],
}

impl PointCost {
    /// Mean wall seconds per trajectory.
    pub fn seconds_per_trajectory(&self) -> f64 {
        self.seconds.iter().sum::<f64>() / self.seconds.len().max(1) as f64
    }

    /// Trajectories the point's three split files hold.
    pub fn trajectories(&self) -> usize {
        self.split_counts.iter().sum()
    }

    /// Estimated wall seconds for the point's three split files on `cores` cores: [`generate_with`] works
    /// through all of a point's trajectories on `cores` threads in chunks that are multiples of `cores`, so
    /// `⌈n / cores⌉` trajectory times for `n` trajectories.
    pub fn wall_seconds(&self, cores: usize) -> f64 {
        self.trajectories().div_ceil(cores.max(1)) as f64 * self.seconds_per_trajectory()
    }
}

/// Times `ics` trajectories (ICs `0..ics`, seeds as generation derives them) of every parameter point that
/// `opts` selects, with the same `System::simulate` calls [`generate`] makes and nothing written. The
/// trajectories run in parallel on rayon's pool, as generation runs them, so each time includes the
/// contention of a loaded machine; `bar` gets the number of trajectories to time as its length and advances
/// after each (pass [`Progress::hidden`] for none). A grid's
/// cost on `c` cores is then the sum of [`PointCost::wall_seconds`]: a measurement of every point's
/// cost rather than an extrapolation from one file (the CFL-limited step count varies across the grid).
pub fn time_points(sys: &dyn System, opts: &GenerateOptions, ics: usize, bar: &Progress) -> Result<Vec<PointCost>, SimError> {
    let points = shard_of(selected_points(sys, opts)?.0, opts.shard)?;
    let ics = ics.clamp(1, sys.ics_per_point(opts.preset));
    let jobs: Vec<(usize, usize)> = (0..points.len()).flat_map(|p| (0..ics).map(move |ic| (p, ic))).collect();
    bar.set_length(jobs.len() as u64);
    let seconds: Vec<f64> = jobs
        .par_iter()
        .map(|&(p, ic)| {
            let point = &points[p].point;
            let seed = derive_seed(opts.seed, &[sys.name(), &point.file_name], ic as u64);
            let start = std::time::Instant::now();
            sys.simulate(point, ic, seed, opts.preset)?;
            bar.inc(1);
            Ok(start.elapsed().as_secs_f64())
        })
        .collect::<Result<_, SimError>>()?;
    Ok(points
        .into_iter()
        .zip(seconds.chunks(ics))
        .map(|(p, s)| PointCost { index: p.index, split_counts: p.ics.each_ref().map(Vec::len), point: p.point, seconds: s.to_vec() })
        .collect())
}

/// Recomputes `stats.yaml` of a generated dataset (e.g. after sharded runs finished).
pub fn write_stats(dataset_dir: &Path) -> Result<PathBuf, SimError> {
    let ds = WellDataset::open(dataset_dir).map_err(well_err)?;
    let stats = physrep_well::moments::compute(&ds).map_err(well_err)?;
    let path = dataset_dir.join("stats.yaml");
    stats.write(&path).map_err(well_err)?;
    Ok(path)
}

fn well_err(e: physrep_well::WellError) -> SimError {
    SimError::Well(Box::new(e))
}

/// Opens the (temporary) file of one split with every attribute but `ic_parameters`, which
/// [`generate_with`] adds once the trajectories exist.
/// Refuse to add to a dataset whose existing files were made with another seed or preset (their root
/// attributes `generator_seed` and `preset`, or another grid): resuming a killed run with other options would
/// otherwise mix two datasets silently. With `opts.force` the old dataset (`data/`, `stats.yaml`,
/// `design.json`) is deleted instead.
fn check_provenance(root: &Path, layout: &crate::Layout, opts: &GenerateOptions) -> Result<(), SimError> {
    let mut mismatch = None;
    'splits: for split in Split::ALL {
        let dir = root.join("data").join(split.to_string());
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "hdf5") && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        files.sort();
        for path in files {
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
    let info = physrep_well::WellFileInfo::read(path).map_err(well_err)?;
    let h5err = |item: &str, e: hdf5::Error| {
        well_err(physrep_well::WellError::Format {
            path: path.to_path_buf(),
            item: item.into(),
            msg: format!("{e} (not a file physrep simulate wrote: pass --force to replace the dataset)"),
        })
    };
    let file = hdf5::File::open(path).map_err(|e| h5err("/", e))?;
    let seed = file.attr("generator_seed").and_then(|a| a.read_scalar::<i64>()).map_err(|e| h5err("generator_seed", e))?;
    let preset = file
        .attr("preset")
        .and_then(|a| a.read_scalar::<hdf5::types::VarLenUnicode>())
        .map(|v| v.as_str().to_string())
        .map_err(|e| h5err("preset", e))?;
    Ok((seed, preset, info.spatial()))
}

fn create_file(
    path: &Path,
    layout: &crate::Layout,
    point: &ParamPoint,
    opts: &GenerateOptions,
    ics: &[usize],
) -> Result<WellFileWriter, SimError> {
    let mut extra: Vec<(String, AttrValue)> = layout.attrs.iter().map(|(k, v)| (k.clone(), AttrValue::Str(v.clone()))).collect();
    extra.push(("preset".into(), AttrValue::Str(opts.preset.name().into())));
    extra.push(("generator_seed".into(), AttrValue::I64(opts.seed as i64)));
    extra.push(("ic_indices".into(), AttrValue::Strs(ics.iter().map(|i| i.to_string()).collect())));
    let header = WellFileHeader {
        dataset_name: layout.dataset_name.clone(),
        n_trajectories: ics.len(),
        parameters: point.params.clone(),
        time: layout.time.iter().map(|&v| v as f32).collect(),
        x: layout.x.iter().map(|&v| v as f32).collect(),
        y: layout.y.iter().map(|&v| v as f32).collect(),
        boundary_conditions: layout.boundaries.clone(),
        fields: layout.fields.clone(),
        extra_attrs: extra,
        deflate: None,
    };
    WellFileWriter::create(path, header).map_err(well_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("physrep-sim-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn read_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        for s in ["train", "valid", "test"] {
            let mut files: Vec<_> = std::fs::read_dir(dir.join("data").join(s)).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            for f in files {
                out.push((f.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&f).unwrap()));
            }
        }
        out
    }

    #[test]
    fn splits_are_a_seeded_partition() {
        let sys = crate::shear_flow::ShearFlow;
        let p = &sys.param_grid(Preset::Medium)[3];
        let s = split_ics(&sys, Preset::Medium, p, 1).unwrap();
        assert_eq!([s[0].len(), s[1].len(), s[2].len()], [32, 4, 4]);
        let mut all: Vec<usize> = s.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
        assert_eq!(s, split_ics(&sys, Preset::Medium, p, 1).unwrap());
        assert_ne!(s, split_ics(&sys, Preset::Medium, p, 2).unwrap());
        let rb = crate::rayleigh_benard::RayleighBenard;
        let s = split_ics(&rb, Preset::Medium, &rb.param_grid(Preset::Medium)[0], 0).unwrap();
        assert_eq!([s[0].len(), s[1].len(), s[2].len()], [40, 5, 5]);
        let gs = GrayScott;
        let s = split_ics(&gs, Preset::Medium, &gs.param_grid(Preset::Medium)[0], 0).unwrap();
        assert_eq!([s[0].len(), s[1].len(), s[2].len()], [160, 20, 20]);
    }

    #[test]
    fn options_parse_and_reject_bad_input() {
        assert_eq!(parse_shard("1/4").unwrap(), (1, 4));
        assert!(parse_shard("4/4").is_err() && parse_shard("x").is_err() && parse_shard("0/0").is_err());
        assert_eq!("all".parse::<ParamSelection>().unwrap(), ParamSelection::All);
        assert!(system("navier_stokes").is_err());
        let opts =
            GenerateOptions { params: ParamSelection::List(vec!["nope".into()]), preset: Preset::Tiny, ..GenerateOptions::default() };
        let err = selected_points(&ShearFlow, &opts).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn point_costs_cover_the_selection_and_estimate_split_rounds() {
        let opts = GenerateOptions {
            preset: Preset::Tiny,
            params: ParamSelection::List(vec!["1".into(), "0".into()]),
            ..GenerateOptions::default()
        };
        let bar = Progress::hidden();
        let costs = time_points(&ShearFlow, &opts, 2, &bar).unwrap();
        assert_eq!((bar.length(), bar.position()), (Some(4), 4));
        assert_eq!(costs.iter().map(|c| c.index).collect::<Vec<_>>(), [1, 0]);
        let grid = ShearFlow.param_grid(Preset::Tiny);
        for c in &costs {
            assert_eq!(c.point, grid[c.index]);
            assert_eq!(c.seconds.len(), 2);
            assert!(c.seconds.iter().all(|&t| t > 0.0), "{:?}", c.seconds);
            assert_eq!(c.split_counts, ShearFlow.split_counts(Preset::Tiny));
        }
        // Rounds of parallel trajectories: the 8 + 1 + 1 trajectories of a point on 3 cores are 4 rounds.
        let c = PointCost { index: 0, point: grid[0].clone(), seconds: vec![1.0, 3.0], split_counts: [8, 1, 1] };
        assert_eq!(c.seconds_per_trajectory(), 2.0);
        assert_eq!(c.trajectories(), 10);
        assert_eq!(c.wall_seconds(3), 8.0);
        assert_eq!(c.wall_seconds(1), 20.0);
        assert_eq!(c.wall_seconds(0), 20.0);
    }

    /// A design end to end: one file per point in the point's split with all its trajectories and its values
    /// as scalars, `design.json`, stats; two shards write the same bytes as one run; a rerun with another
    /// design into the same directory is an error and writes nothing.
    #[test]
    fn designs_generate_split_by_parameter_point() {
        let out = tmpdir("design");
        let spec: DesignSpec = "lhs:7".parse().unwrap();
        let opts = GenerateOptions {
            out: out.clone(),
            preset: Preset::Tiny,
            seed: 2,
            params: ParamSelection::Design(spec),
            ..GenerateOptions::default()
        };
        let dir = generate("advection", &opts).unwrap();
        let design: Design = serde_json::from_str(&std::fs::read_to_string(dir.join(design::DESIGN_FILE)).unwrap()).unwrap();
        assert_eq!(design, Design::lhs(&Advection, Preset::Tiny, spec, 2).unwrap());
        let ds = WellDataset::open(&dir).unwrap();
        let ics = Advection.ics_per_point(Preset::Tiny);
        let mut seen = Vec::new();
        for split in Split::ALL {
            let expected: Vec<&design::DesignPoint> = design.points.iter().filter(|p| p.split == split).collect();
            assert_eq!(ds.files(split).len(), expected.len(), "{split}");
            assert_eq!(ds.trajectories(split), expected.len() * ics, "{split}");
            for (f, info) in ds.files(split).iter().enumerate() {
                let name = info.path.file_name().unwrap().to_str().unwrap();
                let p = expected.iter().find(|p| p.point.file_name == name).expect("a design file");
                assert_eq!(ds.params(split, f).unwrap(), [p.point.get("speed").unwrap()]);
                seen.push(name.to_string());
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 7, "every point in exactly one split");
        assert!(dir.join("stats.yaml").exists());
        let whole = read_bytes(&dir);
        // The same design in two shards.
        let sharded = tmpdir("design-shards");
        for i in 0..2 {
            generate("advection", &GenerateOptions { out: sharded.clone(), shard: (i, 2), ..opts.clone() }).unwrap();
        }
        assert_eq!(read_bytes(&sharded.join("advection")), whole);
        // The last shard to finish wrote stats.yaml, as the single run did.
        assert_eq!(std::fs::read(sharded.join("advection/stats.yaml")).unwrap(), std::fs::read(dir.join("stats.yaml")).unwrap());
        // Another design (seed), or the grid, into the same directory: refused, nothing written.
        let e = generate("advection", &GenerateOptions { seed: 3, ..opts.clone() }).unwrap_err().to_string();
        assert!(e.contains("generated with seed 2") && e.contains("--force"), "{e}");
        let e = generate("advection", &GenerateOptions { params: ParamSelection::All, ..opts.clone() }).unwrap_err().to_string();
        assert!(e.contains("grid"), "{e}");
        assert_eq!(read_bytes(&dir), whole);
        std::fs::remove_dir_all(&out).unwrap();
        std::fs::remove_dir_all(&sharded).unwrap();
    }

    /// Every system's `tiny` preset: files in the Well layout that the `physrep-well` reader opens, with
    /// stats.yaml and their physical check; a rerun skips existing files; the same seed reproduces
    /// bit-identical files. Rayleigh–Bénard, shear flow and advection pass their checks in every file; active
    /// matter and Gray–Scott `tiny` fail theirs and are kept with the flag.
    #[test]
    fn tiny_presets_generate_readable_reproducible_datasets() {
        for name in SYSTEM_NAMES {
            let out = tmpdir(name);
            let opts =
                GenerateOptions { out: out.clone(), preset: Preset::Tiny, seed: 5, allow_unresolved: true, ..GenerateOptions::default() };
            let dir = generate(name, &opts).unwrap();
            let ds = WellDataset::open(&dir).unwrap();
            assert_eq!(ds.name(), name);
            for s in Split::ALL {
                assert!(ds.trajectories(s) >= 1, "{name} {s}");
            }
            assert!(ds.frames() >= 32);
            // The attribute written after streaming the trajectories: one entry per trajectory of the file.
            let train = dir.join("data/train").join(&system(name).unwrap().param_grid(Preset::Tiny)[0].file_name);
            let f = hdf5::File::open(&train).unwrap();
            let n = f.attr("n_trajectories").unwrap().read_scalar::<i64>().unwrap() as usize;
            let ic_params = f.attr("ic_parameters").unwrap().read_raw::<hdf5::types::VarLenUnicode>().unwrap();
            assert_eq!(ic_params.len(), n, "{name}: ic_parameters per trajectory");
            let check = FileCheck::read(&train).unwrap().expect("a physical check");
            assert_eq!(check.trajectories, n);
            assert!(check.allow_unresolved);
            assert_eq!(f.attr("physical_check_passed").unwrap().read_scalar::<bool>().unwrap(), check.passed);
            // `tiny` labels are z-scored with the train split's own statistics, in the paper's label space.
            assert_eq!(f.attr(LABEL_SCALING_ATTR).unwrap().read_scalar::<hdf5::types::VarLenUnicode>().unwrap().as_str(), "train");
            let z: Vec<Vec<f64>> = (0..ds.files(Split::Train).len()).map(|i| ds.labels(Split::Train, i).unwrap()).collect();
            for j in 0..z[0].len() {
                let mean = z.iter().map(|r| r[j]).sum::<f64>() / z.len() as f64;
                let var = z.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / z.len() as f64;
                assert!(mean.abs() < 1e-9 && (var < 1e-12 || (var - 1.0).abs() < 1e-9), "{name} label {j}: mean {mean}, var {var}");
            }
            // The resolved presets pass at every point and initial condition, in every split.
            if !crate::checks::UNRESOLVED_SYSTEMS.contains(&name) {
                for s in Split::ALL {
                    for info in ds.files(s) {
                        let c = FileCheck::read(&info.path).unwrap().expect("a physical check");
                        assert!(c.passed, "{name} {s} {}: {:?}", info.path.display(), c.failures);
                    }
                }
            }
            let stats = physrep_well::stats::WellStats::read(&dir.join("stats.yaml")).unwrap();
            let first = &system(name).unwrap().layout(Preset::Tiny).fields[0].name;
            assert!(stats.field(first).is_some(), "{name}: stats for {first}");
            let before = read_bytes(&dir);
            // Resume: nothing to do, nothing changes.
            generate(name, &opts).unwrap();
            assert_eq!(before, read_bytes(&dir));
            // Regenerate one file from scratch (as after a kill): bit-identical.
            let victim = dir.join("data/train").join(&system(name).unwrap().param_grid(Preset::Tiny)[0].file_name);
            std::fs::remove_file(&victim).unwrap();
            generate(name, &opts).unwrap();
            assert_eq!(before, read_bytes(&dir), "{name}: regenerated file differs");
            std::fs::remove_dir_all(&out).unwrap();
        }
    }

    /// Rayleigh–Bénard at Ra 1e7 on the `tiny` grid: generation stops with an error naming the file, the
    /// parameters and the failed check, and writes nothing; with `allow_unresolved` the file is kept and says so.
    #[test]
    fn unresolved_files_are_refused_unless_allowed() {
        struct CoarseRb;
        impl System for CoarseRb {
            fn name(&self) -> &'static str {
                "rayleigh_benard"
            }
            fn param_grid(&self, _: Preset) -> Vec<ParamPoint> {
                let params = vec![("Rayleigh".into(), 1e7), ("Prandtl".into(), 1.0)];
                vec![ParamPoint { params, file_name: "rayleigh_benard_Rayleigh_1e7_Prandtl_1.hdf5".into() }]
            }
            fn ics_per_point(&self, preset: Preset) -> usize {
                RayleighBenard.ics_per_point(preset)
            }
            fn layout(&self, preset: Preset) -> crate::Layout {
                RayleighBenard.layout(preset)
            }
            fn simulate(&self, p: &ParamPoint, ic: usize, seed: u64, preset: Preset) -> Result<Trajectory, SimError> {
                RayleighBenard.simulate(p, ic, seed, preset)
            }
        }
        let out = tmpdir("unresolved");
        let mut opts = GenerateOptions { out: out.clone(), preset: Preset::Tiny, ..GenerateOptions::default() };
        let err = generate_with(&CoarseRb, &opts).unwrap_err();
        assert!(matches!(err, SimError::Unresolved { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("Rayleigh_1e7_Prandtl_1.hdf5") && msg.contains("Rayleigh=10000000") && msg.contains("bound: buoyancy"),
            "{msg}"
        );
        let train = out.join("rayleigh_benard/data/train/rayleigh_benard_Rayleigh_1e7_Prandtl_1.hdf5");
        for split in ["train", "valid", "test"] {
            let dir = out.join("rayleigh_benard/data").join(split);
            assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "{split}: nothing written");
        }
        opts.allow_unresolved = true;
        generate_with(&CoarseRb, &opts).unwrap();
        let check = FileCheck::read(&train).unwrap().unwrap();
        assert!(!check.passed && check.allow_unresolved && check.bound_excursion > crate::checks::BOUND_TOL, "{check:?}");
        std::fs::remove_dir_all(&out).unwrap();
    }
}
