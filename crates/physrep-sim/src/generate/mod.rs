//! Dataset generation: parameter grid → simulated trajectories → Well-layout files + `stats.yaml`.
//!
//! Layout written (docs/well-format.md §1): `OUT/<system>/data/{train,valid,test}/<The Well's file name>` and
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
//! refused unless [`GenerateOptions::force`] (`provenance.rs`). Sharding `--shard I/N` takes the parameter points with index
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
use provenance::check_provenance;

mod provenance;
#[cfg(test)]
mod tests;

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
    for (point, files) in &work {
        write_point(sys, opts, &layout, point, files, &bar, chunk)?;
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

/// Simulates the ICs of one parameter point's pending split files (`files`: path and ICs, train, valid, test)
/// chunk by chunk, streaming each trajectory into its file; the files are checked together and renamed into
/// place only if all pass their physical check (or unresolved files are allowed).
fn write_point(
    sys: &dyn System,
    opts: &GenerateOptions,
    layout: &crate::Layout,
    point: &ParamPoint,
    files: &[(PathBuf, Vec<usize>)],
    bar: &Progress,
    chunk: usize,
) -> Result<(), SimError> {
    let mut writers = files.iter().map(|(path, ics)| create_file(path, layout, point, opts, ics)).collect::<Result<Vec<_>, _>>()?;
    let mut ic_params: Vec<Vec<String>> = vec![Vec::new(); files.len()];
    let spec = CheckSpec::for_point(sys.name(), opts.preset, point, layout);
    let mut checks: Vec<Vec<TrajectoryCheck>> = vec![Vec::new(); files.len()];
    let queue: Vec<(usize, usize)> = files.iter().enumerate().flat_map(|(f, (_, ics))| ics.iter().map(move |&ic| (f, ic))).collect();
    for jobs in queue.chunks(chunk) {
        let trajectories: Vec<(Trajectory, TrajectoryCheck)> = jobs
            .par_iter()
            .map(|&(_, ic)| {
                let seed = derive_seed(opts.seed, &[sys.name(), &point.file_name], ic as u64);
                let t = sys.simulate(point, ic, seed, opts.preset)?;
                let c = check_trajectory(&spec, layout, &t)?;
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
    if let Some((check, (path, _))) = file_checks.iter().zip(files).find(|(c, _)| !c.passed && !opts.allow_unresolved) {
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
    Ok(())
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
