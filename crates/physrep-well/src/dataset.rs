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
//! self-contained for the [`crate::Loader`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use std::ops::Range;

use ndarray::{Array1, Array4, ArrayViewMut4, Axis};
use serde::{Deserialize, Serialize};

use crate::direct::FrameLayout;
use crate::error::WellError;
use crate::file::{FieldInfo, WellFileInfo, FIELD_GROUPS};
use crate::h5util;
use crate::labels::{LabelScaling, LabelTransform};
use crate::preprocess::{add_noise, resize_bilinear, Crop, Normalization, Preprocess};
use crate::stats::WellStats;

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

/// Open handles of one file.
#[derive(Default)]
struct FileSlot {
    h5: Option<hdf5::File>,
    direct: Option<Arc<DirectFile>>,
}

/// A second descriptor of a file for positioned reads, and each channel field's frame layout.
struct DirectFile {
    fd: std::fs::File,
    layouts: Vec<Option<FrameLayout>>,
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

/// The `*.h5` / `*.hdf5` files under `dir`, recursively. Hidden names are skipped, as The Well skips
/// them: macOS's `._NAME.hdf5` AppleDouble files and physrep's own `.NAME.tmp-PID` files of a writer
/// at work. A symbolic link to a directory is an error rather than followed (a link back up the tree
/// would pull other splits' files into this one); links to files are read.
fn list_h5(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), WellError> {
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
            list_h5(&path, out)?;
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
            let mut paths = Vec::new();
            list_h5(&sdir, &mut paths)?;
            paths.sort();
            for p in paths {
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
        // Every channel the loader normalises needs its statistics, component for component.
        if let Some(st) = &stats {
            for (_, f) in &fields {
                let bad = |msg: String| WellError::Stats { path: stats_path.clone(), msg };
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

    /// Turns the lock-free direct reader on (default) or off (every read through libhdf5).
    pub fn set_direct_io(&mut self, on: bool) {
        self.direct_io = on;
    }

    /// The open handles of a file (opened once, then shared), with its direct-read layouts if enabled.
    fn slot(&self, split: Split, file: usize) -> Result<(hdf5::File, Option<Arc<DirectFile>>), WellError> {
        let mut slot = self.handles[split.index()][file].lock().unwrap_or_else(|p| p.into_inner());
        let path = &self.files(split)[file].path;
        let h5 = match &slot.h5 {
            Some(h) => h.clone(),
            None => {
                let h = h5util::open_file(path)?;
                slot.h5 = Some(h.clone());
                h
            }
        };
        if self.direct_io && slot.direct.is_none() {
            let fd = std::fs::File::open(path).map_err(|e| WellError::io(path, e))?;
            let mut layouts = Vec::new();
            for (gname, field) in &self.fields {
                let item = format!("/{gname}/{}", field.name);
                let ds = h5.dataset(&item).map_err(|e| WellError::hdf5(path, item, e))?;
                layouts.push(FrameLayout::probe(&ds, field));
            }
            slot.direct = Some(Arc::new(DirectFile { fd, layouts }));
        }
        Ok((h5, if self.direct_io { slot.direct.clone() } else { None }))
    }

    /// Checks that `w` lies inside its file and returns the file.
    fn check_window(&self, w: &WindowRef) -> Result<&WellFileInfo, WellError> {
        let f = self.file(w.split, w.file)?;
        let len = w.context + w.target;
        if len > f.frames() {
            return Err(WellError::WindowTooLong { path: f.path.clone(), need: len, frames: f.frames() });
        }
        if w.trajectory.max(w.target_trajectory.unwrap_or(0)) >= f.n_trajectories || w.context == 0 || w.t0 + len > f.frames() {
            return Err(WellError::Invalid {
                what: format!(
                    "{}: window {w:?} outside the file ({} trajectories × {} frames)",
                    f.path.display(),
                    f.n_trajectories,
                    f.frames()
                ),
            });
        }
        Ok(f)
    }

    /// Reads window `w` as `(C, context + target, h, w)` after cropping (no other preprocessing).
    pub fn read_window(&self, w: &WindowRef, crop: &Crop) -> Result<Array4<f32>, WellError> {
        let f = self.check_window(w)?;
        let [xr, yr] = crop.ranges(f.spatial())?;
        let mut out = Array4::<f32>::zeros((self.n_channels(), w.context + w.target, xr.len(), yr.len()));
        self.read_frames_into(w, f, w.t0..w.t0 + w.context + w.target, [xr, yr], out.view_mut())?;
        Ok(out)
    }

    /// Reads frames `t` of `w`'s trajectory, cropped to `[xr, yr]`, into `out` `(C, t.len(), h, w)`
    /// (standard layout). Scalar fields are read straight into their channel plane.
    fn read_frames_into(
        &self,
        w: &WindowRef,
        f: &WellFileInfo,
        t: Range<usize>,
        [xr, yr]: [Range<usize>; 2],
        mut out: ArrayViewMut4<f32>,
    ) -> Result<(), WellError> {
        let (h, wd) = (xr.len(), yr.len());
        let plane = t.len() * h * wd;
        let (h5, direct) = self.slot(w.split, w.file)?;
        let out_s = out.as_slice_mut().ok_or_else(|| WellError::Invalid { what: "output view must be contiguous".into() })?;
        let (mut slab, mut scratch) = (Vec::new(), Vec::new());
        let mut c0 = 0;
        for (fi, (gname, field)) in self.fields.iter().enumerate() {
            let k = field.components();
            let dst: &mut [f32] = if k == 1 {
                &mut out_s[c0 * plane..(c0 + 1) * plane]
            } else {
                slab.resize(plane * k, 0.0);
                &mut slab
            };
            match direct.as_ref().and_then(|d| d.layouts[fi].as_ref().map(|l| (d, l))) {
                Some((d, layout)) => {
                    layout.read(&d.fd, &f.path, field, w.trajectory, t.clone(), xr.clone(), yr.clone(), dst, &mut scratch)?
                }
                None => {
                    let a = crate::file::read_field_slab(&f.path, &h5, gname, field, w.trajectory, t.clone(), xr.clone(), yr.clone())?;
                    dst.copy_from_slice(a.as_slice().ok_or_else(|| WellError::Invalid { what: "non-contiguous HDF5 read".into() })?);
                }
            }
            if !all_finite(dst) {
                return Err(WellError::NonFinite {
                    path: f.path.clone(),
                    field: format!("/{gname}/{}", field.name),
                    trajectory: w.trajectory,
                    t0: w.t0,
                    t1: w.t0 + w.context + w.target,
                });
            }
            if k > 1 {
                // slab (t, x, y, k) → out (c0 + j, t, x, y)
                for (p, chunk) in slab.chunks_exact(k).enumerate() {
                    for (j, &v) in chunk.iter().enumerate() {
                        out_s[(c0 + j) * plane + p] = v;
                    }
                }
            }
            c0 += k;
        }
        Ok(())
    }

    /// Output `[H, W]` of a sample of `w` under `pre` (crop, then resize).
    pub fn sample_hw(&self, w: &WindowRef, pre: &Preprocess) -> Result<[usize; 2], WellError> {
        let f = self.file(w.split, w.file)?;
        let [xr, yr] = pre.crop.ranges(f.spatial())?;
        match pre.resize {
            Some([0, _]) | Some([_, 0]) => Err(WellError::Invalid { what: format!("resize to {:?}", pre.resize) }),
            Some(r) => Ok(r),
            None => Ok([xr.len(), yr.len()]),
        }
    }

    /// Reads and preprocesses window `w`: crop, normalisation, resize, then noise drawn from `noise_seed`.
    pub fn read_sample(&self, w: &WindowRef, pre: &Preprocess, noise_seed: u64) -> Result<Sample, WellError> {
        let [h, wd] = self.sample_hw(w, pre)?;
        let c = self.n_channels();
        let mut context = Array4::<f32>::zeros((c, w.context, h, wd));
        let mut target = Array4::<f32>::zeros((c, w.target, h, wd));
        let labels = self.read_sample_into(w, pre, noise_seed, context.view_mut(), target.view_mut())?;
        Ok(Sample { context, target, labels: labels.iter().map(|&v| v as f32).collect(), params: self.params(w.split, w.file)? })
    }

    /// [`read_sample`](Self::read_sample) into caller-provided views (standard layout) of shape
    /// `(C, context, H, W)` and `(C, target, H, W)` with `[H, W]` = [`sample_hw`](Self::sample_hw);
    /// returns the standardised labels.
    pub fn read_sample_into(
        &self,
        w: &WindowRef,
        pre: &Preprocess,
        noise_seed: u64,
        mut context: ArrayViewMut4<f32>,
        mut target: ArrayViewMut4<f32>,
    ) -> Result<Vec<f64>, WellError> {
        let f = self.check_window(w)?;
        if pre.noise_std < 0.0 || !pre.noise_std.is_finite() {
            return Err(WellError::Invalid { what: format!("noise_std = {}", pre.noise_std) });
        }
        let [xr, yr] = pre.crop.ranges(f.spatial())?;
        let [h, wd] = self.sample_hw(w, pre)?;
        let c = self.n_channels();
        let expect = |n: usize| (c, n, h, wd);
        if context.dim() != expect(w.context) || target.dim() != expect(w.target) {
            return Err(WellError::Invalid {
                what: format!(
                    "output views {:?} / {:?}, expected {:?} / {:?}",
                    context.dim(),
                    target.dim(),
                    expect(w.context),
                    expect(w.target)
                ),
            });
        }
        let t_mid = w.t0 + w.context;
        self.fill_part(w, f, w.t0..t_mid, [xr.clone(), yr.clone()], [h, wd], pre.normalization, context.view_mut())?;
        let tw = WindowRef { trajectory: w.target_trajectory.unwrap_or(w.trajectory), ..*w };
        self.fill_part(&tw, f, t_mid..t_mid + w.target, [xr, yr], [h, wd], pre.normalization, target.view_mut())?;
        add_noise(&mut [context, target], pre.noise_std, noise_seed);
        self.labels(w.split, w.file)
    }

    /// Reads, normalises and (when `[h, wd]` differs from the crop) resizes frames `t` into `part`.
    #[allow(clippy::too_many_arguments)]
    fn fill_part(
        &self,
        w: &WindowRef,
        f: &WellFileInfo,
        t: Range<usize>,
        [xr, yr]: [Range<usize>; 2],
        [h, wd]: [usize; 2],
        norm: Normalization,
        mut part: ArrayViewMut4<f32>,
    ) -> Result<(), WellError> {
        if [h, wd] != [xr.len(), yr.len()] {
            let mut raw = Array4::<f32>::zeros((self.n_channels(), t.len(), xr.len(), yr.len()));
            self.read_frames_into(w, f, t, [xr, yr], raw.view_mut())?;
            self.normalize(raw.view_mut(), norm)?;
            part.assign(&resize_bilinear(raw.view(), [h, wd]));
        } else {
            self.read_frames_into(w, f, t, [xr, yr], part.view_mut())?;
            self.normalize(part, norm)?;
        }
        Ok(())
    }

    fn normalize(&self, mut data: ArrayViewMut4<f32>, norm: Normalization) -> Result<(), WellError> {
        if norm == Normalization::None {
            return Ok(());
        }
        let path = self.dir.join("stats.yaml");
        let stats = self
            .stats
            .as_ref()
            .ok_or_else(|| WellError::Stats { path: path.clone(), msg: "normalisation requested but the file is missing".into() })?;
        let mut c = 0;
        for (_, field) in &self.fields {
            let fs = stats
                .field(&field.name)
                .ok_or_else(|| WellError::Stats { path: path.clone(), msg: format!("no entry for field `{}`", field.name) })?;
            for k in 0..field.components() {
                let (shift, scale) = match norm {
                    Normalization::Rms => (0.0, fs.rms[k].max(1e-4)),
                    _ => (fs.mean[k], fs.std[k].max(1e-4)),
                };
                let (shift, inv) = (shift as f32, (1.0 / scale) as f32);
                data.index_axis_mut(Axis(0), c + k).mapv_inplace(|v| (v - shift) * inv);
            }
            c += field.components();
        }
        Ok(())
    }
}

/// Whether every value is finite (exponent bits not all set), in a form that vectorises.
fn all_finite(v: &[f32]) -> bool {
    v.chunks(64).all(|c| c.iter().fold(0u32, |m, x| m.max(x.to_bits() & 0x7f80_0000)) != 0x7f80_0000)
}

fn label_values(f: &WellFileInfo, names: &[String]) -> Vec<f64> {
    let params = f.parameters();
    names.iter().map(|n| params.iter().find(|(p, _)| p == n).map(|(_, v)| *v).unwrap_or(f64::NAN)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::{BcKind, BoundarySpec, FieldSpec, TrajectoryFields, WellFileHeader, WellFileWriter};
    use ndarray::{ArrayD, Dimension, IxDyn};

    fn fixtures() -> PathBuf {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/well");
        assert!(d.is_dir(), "fixtures not found at {}", d.display());
        d
    }

    /// Direct (pread) and libhdf5 reads agree on every window and crop, and the direct path is really
    /// taken for the writer's one-frame chunks and for contiguous fixture fields (not for gzip ones).
    #[test]
    fn direct_reads_equal_hdf5_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("toy");
        let (t, nx, ny) = (7, 6, 10);
        let h = WellFileHeader {
            dataset_name: "toy".into(),
            n_trajectories: 3,
            parameters: vec![("p".into(), 1.0)],
            time: (0..t).map(|k| k as f32).collect(),
            x: (0..nx).map(|k| k as f32).collect(),
            y: (0..ny).map(|k| k as f32).collect(),
            boundary_conditions: vec![BoundarySpec { name: "x_periodic".into(), dim: "x".into(), kind: BcKind::Periodic }],
            fields: vec![FieldSpec::new("a", 0), FieldSpec::new("b", 1), FieldSpec::new("c", 2)],
            extra_attrs: vec![],
            deflate: None,
        };
        let mut w = WellFileWriter::create(dir.join("data/train/f.hdf5"), h.clone()).unwrap();
        for traj in 0..3 {
            let arrs: Vec<ArrayD<f32>> = h
                .fields
                .iter()
                .map(|f| {
                    let mut shape = vec![t, nx, ny];
                    shape.extend(std::iter::repeat_n(2, f.order));
                    ArrayD::from_shape_fn(IxDyn(&shape), |d| (traj * 100_000 + d.slice().iter().fold(0, |a, &v| a * 13 + v)) as f32)
                })
                .collect();
            w.write_trajectory(&TrajectoryFields { fields: arrs.iter().map(|a| a.view()).collect() }).unwrap();
        }
        w.finish().unwrap();
        let fast = WellDataset::open(&dir).unwrap();
        let (_, d) = fast.slot(Split::Train, 0).unwrap();
        assert!(d.unwrap().layouts.iter().all(|l| matches!(l, Some(FrameLayout::Chunked { ct: 1, .. }))));
        let mut slow = WellDataset::open(&dir).unwrap();
        slow.set_direct_io(false);
        let crops = [Crop::FULL, Crop { x: [0.0, 1.0], y: [0.0, 0.5] }, Crop { x: [0.375, 0.625], y: [0.2, 0.9] }];
        for win in fast.windows(Split::Train, &WindowSpec { context: 2, target: 1, stride: 2 }).unwrap() {
            for c in &crops {
                assert_eq!(fast.read_window(&win, c).unwrap(), slow.read_window(&win, c).unwrap(), "{win:?} {c:?}");
            }
        }

        let (mut direct, mut via_hdf5) = (0, 0);
        for name in ["active_matter", "shear_flow", "rayleigh_benard"] {
            let fast = WellDataset::open(fixtures().join(name)).unwrap();
            let mut slow = WellDataset::open(fixtures().join(name)).unwrap();
            slow.set_direct_io(false);
            for split in Split::ALL {
                for fi in 0..fast.files(split).len() {
                    let (_, d) = fast.slot(split, fi).unwrap();
                    for l in &d.unwrap().layouts {
                        if l.is_some() {
                            direct += 1
                        } else {
                            via_hdf5 += 1
                        }
                    }
                }
                for win in fast.windows(split, &WindowSpec { context: 3, target: 2, stride: 5 }).unwrap() {
                    for c in &crops {
                        assert_eq!(fast.read_window(&win, c).unwrap(), slow.read_window(&win, c).unwrap());
                    }
                }
            }
        }
        assert!(direct > 0 && via_hdf5 > 0, "fixtures cover both paths ({direct} direct, {via_hdf5} via libhdf5)");
    }
}
