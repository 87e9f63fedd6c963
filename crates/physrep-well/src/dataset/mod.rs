//! A Well-layout dataset directory: `<dir>/data/{train,valid,test}/*.h5|*.hdf5` (sorted paths, searched
//! recursively) plus an optional `<dir>/stats.yaml`; its channel schema, labels and window index.
//!
//! **Channels.** Only time-varying fields become channels: t0 fields, then each t1 field's `_x, _y`,
//! then each t2 field's `_xx, _xy, _yx, _yy`. Inside a group the fields come either in HDF5 key order
//! ([`ChannelOrder::H5Key`], the default: what the paper's code sees, e.g. shear_flow = pressure,
//! tracer, velocity_x, velocity_y) or in `@field_names` order ([`ChannelOrder::FieldNames`], The Well's
//! `WellDataset`: tracer, pressure, …). Time-constant fields are listed by
//! [`WellDataset::constant_field_names`] and are not part of samples.
//!
//! **Parameters and labels.** Parameters are the constant scalars of `scalars/` in `@field_names`
//! order (names as stored, so shear_flow's Reynolds number may be called `Rayleigh`); labels are the
//! constant scalars except `L` in HDF5 key order, transformed by [`LabelTransform`] (the paper's
//! constants for known datasets, train-split z-scoring otherwise).
//!
//! **Windows.** `(file, trajectory, t0)` for t0 = 0, s, 2s, … ≤ T − (context + target), flat order
//! (sorted file, trajectory, t0) as the paper. A sample reads only its hyperslab
//! `[traj, t0 .. t0 + context + target, crop_x, crop_y, …]` of each field: uncompressed float32 fields
//! are read with positioned reads outside libhdf5's global lock (see `direct.rs`), everything else
//! through libhdf5. [`WindowRef`] carries its context and target lengths, so a list of windows is
//!
//! The index is this file; reading windows and samples from it is `read.rs`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndarray::{Array1, Array4};
use serde::{Deserialize, Serialize};

use crate::error::WellError;
use crate::file::{FieldInfo, WellFileInfo, FIELD_GROUPS};
use crate::labels::{LabelScaling, LabelTransform};
use crate::stats::WellStats;
use read::FileSlot;

mod read;

/// A data split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    /// Folder name: `train`, `valid` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Split {
    type Err = WellError;
    fn from_str(s: &str) -> Result<Self, WellError> {
        match s {
            "train" => Ok(Split::Train),
            "valid" | "val" => Ok(Split::Valid),
            "test" => Ok(Split::Test),
            other => Err(WellError::Invalid { what: format!("unknown split `{other}` (train, valid, test)") }),
        }
    }
}

/// Field order inside each `tN_fields` group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelOrder {
    /// HDF5 key order, as the paper's code (h5py iteration). The default.
    #[default]
    H5Key,
    /// `@field_names` order, as The Well's loader.
    FieldNames,
}

/// Window lengths and start stride.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    pub context: usize,
    pub target: usize,
    pub stride: usize,
}

impl WindowSpec {
    /// The paper's windows: 16 context + 16 target frames; start stride active_matter 1, shear_flow and
    /// rayleigh_benard 4, anything else 16.
    pub fn paper(dataset_name: &str) -> Self {
        Self { context: 16, target: 16, stride: crate::Protocol::of_name(dataset_name).stride }
    }

    /// Frames per window.
    pub fn len(&self) -> usize {
        self.context + self.target
    }

    /// Whether a window has no frames (never, for a spec that passes validation).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Windows in a trajectory of `frames` frames (0 if it is too short).
    pub fn count(&self, frames: usize) -> usize {
        if frames < self.len() || self.stride == 0 {
            0
        } else {
            (frames - self.len()) / self.stride + 1
        }
    }
}

/// One window: file index within its split (sorted order), trajectory, first frame, and lengths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WindowRef {
    pub split: Split,
    pub file: usize,
    pub trajectory: usize,
    pub t0: usize,
    pub context: usize,
    pub target: usize,
    /// The trajectory the target frames come from (same frames `t0 + context ..`), when it is not
    /// `trajectory`: a view pair of two initial conditions of one parameter point. `None`: the paper's
    /// context and target from one clip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_trajectory: Option<usize>,
}

impl WindowRef {
    /// The same window with its target frames read from `trajectory`.
    pub fn with_target_trajectory(self, trajectory: usize) -> Self {
        WindowRef { target_trajectory: (trajectory != self.trajectory).then_some(trajectory), ..self }
    }
}

/// One preprocessed window.
#[derive(Clone, Debug)]
pub struct Sample {
    /// `(C, context, H, W)`.
    pub context: Array4<f32>,
    /// `(C, target, H, W)`.
    pub target: Array4<f32>,
    /// Standardised labels (label-name order).
    pub labels: Array1<f32>,
    /// Raw parameters (parameter-name order).
    pub params: Vec<f64>,
}

/// A dataset directory, opened: metadata of every file, no field data.
pub struct WellDataset {
    dir: PathBuf,
    name: String,
    order: ChannelOrder,
    present: [bool; 3],
    files: [Vec<WellFileInfo>; 3],
    handles: [Vec<Mutex<FileSlot>>; 3],
    direct_io: bool,
    /// Time-varying fields in channel order, with their group name.
    fields: Vec<(&'static str, FieldInfo)>,
    constant_fields: Vec<String>,
    channel_names: Vec<String>,
    spatial: [usize; 2],
    frames: usize,
    parameter_names: Vec<String>,
    label_names: Vec<String>,
    label_transform: LabelTransform,
    stats: Option<WellStats>,
}

impl std::fmt::Debug for WellDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WellDataset").field("dir", &self.dir).field("name", &self.name).finish_non_exhaustive()
    }
}

/// The `*.h5` / `*.hdf5` files under `dir`, recursively, in sorted path order: the files of a split
/// folder that [`WellDataset::open`] reads. Hidden names are skipped, as The Well skips them: macOS's
/// `._NAME.hdf5` AppleDouble files and physrep's own `.NAME.tmp-PID` files of a writer at work. A
/// symbolic link to a directory is an error rather than followed (a link back up the tree would pull
/// other splits' files into this one), as is a link that does not resolve; links to files are read.
/// `dir` itself must be a readable directory.
pub fn list_h5(dir: &Path) -> Result<Vec<PathBuf>, WellError> {
    let mut out = Vec::new();
    collect_h5(dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Appends the files [`list_h5`] lists under `dir` to `out`, in directory order.
fn collect_h5(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), WellError> {
    for entry in std::fs::read_dir(dir).map_err(|e| WellError::io(dir, e))? {
        let entry = entry.map_err(|e| WellError::io(dir, e))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let linked = entry.file_type().map_err(|e| WellError::io(&path, e))?.is_symlink();
        if linked {
            if let Err(e) = std::fs::metadata(&path) {
                return Err(WellError::format(
                    &path,
                    "directory entry",
                    format!("is a symbolic link that does not resolve (missing target or a loop): {e}"),
                ));
            }
        }
        if path.is_dir() {
            if linked {
                return Err(WellError::format(
                    &path,
                    "directory entry",
                    "is a symbolic link to a directory; physrep does not follow those (link the files themselves)",
                ));
            }
            collect_h5(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("h5" | "hdf5")) {
            out.push(path);
        }
    }
    Ok(())
}

impl WellDataset {
    /// Opens `dir` with the paper's channel order ([`ChannelOrder::H5Key`]).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, WellError> {
        Self::open_with(dir, ChannelOrder::H5Key)
    }

    /// Opens `dir`, reads every file's metadata and checks that all files share the dataset name,
    /// grid size, channels and parameter names.
    pub fn open_with(dir: impl AsRef<Path>, order: ChannelOrder) -> Result<Self, WellError> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(WellError::missing(&dir, "dataset directory"));
        }
        let mut present = [false; 3];
        let mut files: [Vec<WellFileInfo>; 3] = Default::default();
        for split in Split::ALL {
            let sdir = dir.join("data").join(split.as_str());
            if !sdir.is_dir() {
                continue;
            }
            present[split.index()] = true;
            for p in list_h5(&sdir)? {
                files[split.index()].push(WellFileInfo::read(&p)?);
            }
        }
        if !present.iter().any(|&p| p) {
            return Err(WellError::MissingSplit { dir, split: "train".into() });
        }
        let first = files.iter().flatten().next().ok_or_else(|| WellError::Empty { dir: dir.clone() })?.clone();
        let pick = |f: &WellFileInfo| -> Vec<(&'static str, FieldInfo)> {
            let list = match order {
                ChannelOrder::H5Key => &f.fields_h5,
                ChannelOrder::FieldNames => &f.fields_named,
            };
            list.iter().filter(|x| x.time_varying).map(|x| (FIELD_GROUPS[x.order], x.clone())).collect()
        };
        let fields = pick(&first);
        let channel_names: Vec<String> = fields.iter().flat_map(|(_, f)| f.channel_names()).collect();
        let constant_fields: Vec<String> = first.fields_h5.iter().filter(|f| !f.time_varying).map(|f| f.name.clone()).collect();
        let parameter_names: Vec<String> = first.parameters().into_iter().map(|(n, _)| n).collect();
        let mut label_names: Vec<String> = parameter_names.iter().filter(|n| n.as_str() != "L").cloned().collect();
        label_names.sort();
        check_files_agree(&files, &first, pick, &channel_names, &parameter_names)?;
        let name = first.dataset_name.clone();
        // Every file agrees on its label scaling (checked above): the train files' statistics or the
        // paper's constants (`labels.rs`).
        let scaling = first.label_scaling;
        // Statistics come from the train files (all files if there are none).
        let train_rows = || {
            let source = if files[0].is_empty() { files.iter().flatten().collect::<Vec<_>>() } else { files[0].iter().collect() };
            source.iter().map(|f| label_values(f, &label_names)).collect::<Vec<Vec<f64>>>()
        };
        let label_transform = match (LabelTransform::paper(&name, &label_names), scaling) {
            (Ok(t), LabelScaling::Paper) => t,
            (Ok(t), LabelScaling::Train) => {
                t.refit(&train_rows()).map_err(|e| WellError::format(&first.path, "/scalars", e.to_string()))?
            }
            (Err(WellError::UnknownDataset { .. }), _) => LabelTransform::from_values(&label_names, &train_rows()),
            (Err(e), _) => return Err(WellError::format(&first.path, "/scalars", e.to_string())),
        };
        let stats_path = dir.join("stats.yaml");
        let stats = if stats_path.is_file() { Some(WellStats::read(&stats_path)?) } else { None };
        if let Some(st) = &stats {
            check_stats_cover(st, &stats_path, &fields)?;
        }
        let handles = [0, 1, 2].map(|i| files[i].iter().map(|_| Mutex::new(FileSlot::default())).collect());
        Ok(Self {
            dir,
            name,
            order,
            present,
            handles,
            direct_io: true,
            fields,
            constant_fields,
            channel_names,
            spatial: first.spatial(),
            frames: first.frames(),
            parameter_names,
            label_names,
            label_transform,
            stats,
            files,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// `@dataset_name` of the files.
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn channel_order(&self) -> ChannelOrder {
        self.order
    }
    /// Flattened channel names (time-varying fields only).
    pub fn channel_names(&self) -> &[String] {
        &self.channel_names
    }
    pub fn n_channels(&self) -> usize {
        self.channel_names.len()
    }
    /// Time-constant fields (not in samples).
    pub fn constant_field_names(&self) -> &[String] {
        &self.constant_fields
    }
    /// Stored grid `[nx, ny]`.
    pub fn spatial(&self) -> [usize; 2] {
        self.spatial
    }
    /// Frames per trajectory of the first file.
    pub fn frames(&self) -> usize {
        self.frames
    }
    /// Constant scalars as stored in `scalars/` (`@field_names` order).
    pub fn parameter_names(&self) -> &[String] {
        &self.parameter_names
    }
    /// Label columns: constant scalars except `L`, HDF5 key order.
    pub fn label_names(&self) -> &[String] {
        &self.label_names
    }
    pub fn label_transform(&self) -> &LabelTransform {
        &self.label_transform
    }
    /// Parsed `stats.yaml`, if the directory has one.
    pub fn stats(&self) -> Option<&WellStats> {
        self.stats.as_ref()
    }
    pub fn has_split(&self, split: Split) -> bool {
        self.present[split.index()]
    }
    /// Metadata of the files of `split`, in sorted path order (empty for an absent split).
    pub fn files(&self, split: Split) -> &[WellFileInfo] {
        &self.files[split.index()]
    }
    /// Trajectories in `split` (0 for an absent split).
    pub fn trajectories(&self, split: Split) -> usize {
        self.files(split).iter().map(|f| f.n_trajectories).sum()
    }
    /// Time-varying fields in channel order with their group (`t0_fields`, …).
    pub fn fields(&self) -> &[(&'static str, FieldInfo)] {
        &self.fields
    }

    fn require_split(&self, split: Split) -> Result<(), WellError> {
        if self.has_split(split) {
            Ok(())
        } else {
            Err(WellError::MissingSplit { dir: self.dir.clone(), split: split.to_string() })
        }
    }

    /// Number of windows in `split` (0 for an absent split or trajectories shorter than a window).
    pub fn window_count(&self, split: Split, spec: &WindowSpec) -> usize {
        self.files(split).iter().map(|f| f.n_trajectories * spec.count(f.frames())).sum()
    }

    /// Every window of `split` in (sorted file, trajectory, t0) order.
    pub fn windows(&self, split: Split, spec: &WindowSpec) -> Result<Vec<WindowRef>, WellError> {
        self.require_split(split)?;
        if spec.context == 0 || spec.stride == 0 {
            return Err(WellError::Invalid { what: format!("window spec {spec:?}: context and stride must be ≥ 1") });
        }
        let mut out = Vec::new();
        for (fi, f) in self.files(split).iter().enumerate() {
            if f.frames() < spec.len() {
                return Err(WellError::WindowTooLong { path: f.path.clone(), need: spec.len(), frames: f.frames() });
            }
            for trajectory in 0..f.n_trajectories {
                for t0 in (0..=f.frames() - spec.len()).step_by(spec.stride) {
                    out.push(WindowRef {
                        split,
                        file: fi,
                        trajectory,
                        t0,
                        context: spec.context,
                        target: spec.target,
                        target_trajectory: None,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Raw parameters of a file (parameter-name order).
    pub fn params(&self, split: Split, file: usize) -> Result<Vec<f64>, WellError> {
        let f = self.file(split, file)?;
        Ok(f.parameters().into_iter().map(|(_, v)| v).collect())
    }

    /// Standardised labels of a file.
    pub fn labels(&self, split: Split, file: usize) -> Result<Vec<f64>, WellError> {
        let f = self.file(split, file)?;
        self.label_transform.forward(&label_values(f, &self.label_names)).map_err(|e| WellError::format(&f.path, "/scalars", e.to_string()))
    }

    fn file(&self, split: Split, file: usize) -> Result<&WellFileInfo, WellError> {
        self.require_split(split)?;
        self.files(split).get(file).ok_or_else(|| WellError::Invalid {
            what: format!("{}: split `{split}` has {} files, index {file} requested", self.dir.display(), self.files(split).len()),
        })
    }
}

/// Checks that every file agrees with `first` on what the files of one dataset share: dataset name, label
/// scaling, grid size, channel list (fields as `pick` orders them) and parameter names.
fn check_files_agree(
    files: &[Vec<WellFileInfo>; 3],
    first: &WellFileInfo,
    pick: impl Fn(&WellFileInfo) -> Vec<(&'static str, FieldInfo)>,
    channel_names: &[String],
    parameter_names: &[String],
) -> Result<(), WellError> {
    for f in files.iter().flatten() {
        let mismatch = |what: &str, found: String, expected: String| WellError::Mismatch {
            path: f.path.clone(),
            what: what.into(),
            found,
            first: first.path.clone(),
            expected,
        };
        if f.dataset_name != first.dataset_name {
            return Err(mismatch("dataset_name", f.dataset_name.clone(), first.dataset_name.clone()));
        }
        if f.label_scaling != first.label_scaling {
            return Err(mismatch("@label_scaling", format!("{:?}", f.label_scaling), format!("{:?}", first.label_scaling)));
        }
        if f.spatial() != first.spatial() {
            return Err(mismatch("spatial size", format!("{:?}", f.spatial()), format!("{:?}", first.spatial())));
        }
        let ch: Vec<String> = pick(f).iter().flat_map(|(_, x)| x.channel_names()).collect();
        if ch != channel_names {
            return Err(mismatch("channel list", format!("{ch:?}"), format!("{channel_names:?}")));
        }
        let pn: Vec<String> = f.parameters().into_iter().map(|(n, _)| n).collect();
        if pn != parameter_names {
            return Err(mismatch("parameter names", format!("{pn:?}"), format!("{parameter_names:?}")));
        }
    }
    Ok(())
}

/// Checks that `stats.yaml` (read from `stats_path`) has every channel the loader normalises, component
/// for component.
fn check_stats_cover(st: &WellStats, stats_path: &Path, fields: &[(&'static str, FieldInfo)]) -> Result<(), WellError> {
    for (_, f) in fields {
        let bad = |msg: String| WellError::Stats { path: stats_path.to_path_buf(), msg };
        let entry = st.field(&f.name).ok_or_else(|| bad(format!("no entry for field `{}` of the data", f.name)))?;
        if entry.mean.len() != f.components() {
            return Err(bad(format!(
                "field `{}` has {} components in the data, {} in stats.yaml",
                f.name,
                f.components(),
                entry.mean.len()
            )));
        }
    }
    Ok(())
}

fn label_values(f: &WellFileInfo, names: &[String]) -> Vec<f64> {
    let params = f.parameters();
    names.iter().map(|n| params.iter().find(|(p, _)| p == n).map(|(_, v)| *v).unwrap_or(f64::NAN)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `*.h5` and `*.hdf5` files, recursively and sorted; hidden names and other extensions skipped; a
    /// linked file read, a linked directory or a dangling link refused.
    #[test]
    fn list_h5_lists_well_files_and_refuses_linked_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("train");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for name in ["b.hdf5", "a.h5", "sub/c.hdf5", "._a.hdf5", ".b.hdf5.tmp-1", "notes.txt", "d.hdf5.bak"] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let elsewhere = tmp.path().join("z.hdf5");
        std::fs::write(&elsewhere, b"").unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.join("linked.hdf5")).unwrap();
        let names: Vec<PathBuf> = list_h5(&dir).unwrap().iter().map(|p| p.strip_prefix(&dir).unwrap().to_path_buf()).collect();
        let want: Vec<PathBuf> = ["a.h5", "b.hdf5", "linked.hdf5", "sub/c.hdf5"].iter().map(PathBuf::from).collect();
        assert_eq!(names, want);
        std::os::unix::fs::symlink(dir.join("sub"), dir.join("loop")).unwrap();
        let e = list_h5(&dir).unwrap_err().to_string();
        assert!(e.contains("is a symbolic link to a directory"), "{e}");
        std::fs::remove_file(dir.join("loop")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("gone"), dir.join("dangling.hdf5")).unwrap();
        let e = list_h5(&dir).unwrap_err().to_string();
        assert!(e.contains("does not resolve"), "{e}");
        assert!(list_h5(&tmp.path().join("missing")).is_err());
    }
}
