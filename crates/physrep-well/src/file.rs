//! Metadata of one Well file (`docs/well-format.md` §2–6), read without touching field data, and the
//! hyperslab reader used for windows.
//!
//! Accepted layout: root attributes `dataset_name`, `n_trajectories`, `n_spatial_dims` (= 2), optional
//! `grid_type` and `simulation_parameters`; groups `dimensions/` (`time`, one coordinate dataset per
//! name in `@spatial_dims`), `boundary_conditions/` (one subgroup per boundary), `scalars/` and
//! `t0_fields/`, `t1_fields/`, `t2_fields/`. Fields must be sample-varying and cover the full grid; a
//! field with `time_varying = False` is a *constant* field (shape `[N, nx, ny, 2^order]`), kept apart
//! from the time-varying channels exactly as The Well's `constant_fields`.

use std::path::{Path, PathBuf};

use hdf5::plist::group_create::LinkCreationOrder;
use hdf5::{Group, Hyperslab, IndexType, IterationOrder, SliceOrIndex};
use ndarray::{ArrayD, IxDyn};

use crate::error::WellError;
use crate::h5util;

/// The three field groups, in channel order.
pub const FIELD_GROUPS: [&str; 3] = ["t0_fields", "t1_fields", "t2_fields"];

/// One field of a `tN_fields` group.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldInfo {
    /// Core name (e.g. `velocity`).
    pub name: String,
    /// Tensor order: 0 (t0), 1 (t1) or 2 (t2).
    pub order: usize,
    /// False for a constant field (no time axis).
    pub time_varying: bool,
    /// Dataset shape as stored.
    pub shape: Vec<usize>,
}

impl FieldInfo {
    /// Number of components, `2^order`.
    pub fn components(&self) -> usize {
        1 << self.order
    }

    /// Flattened channel names: `name`, `name_x, name_y`, or `name_xx, name_xy, name_yx, name_yy`.
    pub fn channel_names(&self) -> Vec<String> {
        match self.order {
            0 => vec![self.name.clone()],
            1 => ["x", "y"].iter().map(|c| format!("{}_{c}", self.name)).collect(),
            _ => ["xx", "xy", "yx", "yy"].iter().map(|c| format!("{}_{c}", self.name)).collect(),
        }
    }
}

/// One boundary-condition subgroup.
#[derive(Clone, Debug, PartialEq)]
pub struct BoundaryCondition {
    /// Subgroup name, e.g. `y_wall_dirichlet`.
    pub name: String,
    /// `PERIODIC`, `WALL` or `OPEN` (as stored).
    pub bc_type: String,
    /// Dimension names the boundary applies to.
    pub associated_dims: Vec<String>,
    /// The `mask` dataset (empty if absent).
    pub mask: Vec<bool>,
}

/// One dataset of the `scalars/` group.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalarInfo {
    pub name: String,
    /// Constant scalars hold one value; time-varying ones all of them (first trajectory if sample-varying).
    pub values: Vec<f64>,
    pub time_varying: bool,
}

/// Everything about one Well file except the field data.
#[derive(Clone, Debug)]
pub struct WellFileInfo {
    pub path: PathBuf,
    pub dataset_name: String,
    pub grid_type: String,
    pub n_trajectories: usize,
    /// Root `@simulation_parameters` (empty if absent).
    pub simulation_parameters: Vec<String>,
    /// Root `@label_scaling` (physrep's simulated subsets; absent in The Well: the paper's constants).
    pub label_scaling: crate::labels::LabelScaling,
    /// `dimensions/@spatial_dims`, e.g. `["x", "y"]`.
    pub spatial_dims: Vec<String>,
    /// Time values (first trajectory if sample-varying).
    pub time: Vec<f64>,
    /// Coordinates along each spatial dimension.
    pub coords: [Vec<f64>; 2],
    pub boundary_conditions: Vec<BoundaryCondition>,
    /// `scalars/` datasets in HDF5 key order.
    pub scalars: Vec<ScalarInfo>,
    /// `scalars/@field_names` (file order).
    pub scalar_field_names: Vec<String>,
    /// Fields of t0, t1, t2 (in that group order), each group in HDF5 key order.
    pub fields_h5: Vec<FieldInfo>,
    /// Fields of t0, t1, t2, each group in its `@field_names` order.
    pub fields_named: Vec<FieldInfo>,
}

impl WellFileInfo {
    /// Frames per trajectory.
    pub fn frames(&self) -> usize {
        self.time.len()
    }

    /// Grid size `[nx, ny]`.
    pub fn spatial(&self) -> [usize; 2] {
        [self.coords[0].len(), self.coords[1].len()]
    }

    /// Constant scalars (the PDE parameters) in `@field_names` order, as `(name, value)`.
    pub fn parameters(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        for name in &self.scalar_field_names {
            if let Some(s) = self.scalars.iter().find(|s| &s.name == name && !s.time_varying) {
                out.push((s.name.clone(), s.values[0]));
            }
        }
        // Scalars present but not listed in @field_names still count, after the listed ones.
        for s in &self.scalars {
            if !s.time_varying && !out.iter().any(|(n, _)| n == &s.name) {
                out.push((s.name.clone(), s.values[0]));
            }
        }
        out
    }

    /// Reads the metadata of `path` and validates every field's shape.
    pub fn read(path: &Path) -> Result<Self, WellError> {
        Self::read_keeping_file(path).map(|(info, _)| info)
    }

    /// [`read`](Self::read), also handing back the open file (to read further attributes without opening
    /// it again).
    pub fn read_keeping_file(path: &Path) -> Result<(Self, hdf5::File), WellError> {
        let file = h5util::open_file(path)?;
        let info = Self::from_file(path, &file)?;
        Ok((info, file))
    }

    pub(crate) fn from_file(path: &Path, file: &hdf5::File) -> Result<Self, WellError> {
        let root: &Group = file;
        let dataset_name = h5util::read_string(path, &h5util::attr(path, root, "dataset_name")?, "@dataset_name")?;
        let n_trajectories = h5util::read_usize(path, &h5util::attr(path, root, "n_trajectories")?, "@n_trajectories")?;
        let n_dims = h5util::read_usize(path, &h5util::attr(path, root, "n_spatial_dims")?, "@n_spatial_dims")?;
        if n_dims != 2 {
            return Err(WellError::format(path, "@n_spatial_dims", format!("physrep reads 2-D data, found {n_dims}")));
        }
        let grid_type = if h5util::has_attr(root, "grid_type") {
            h5util::read_string(path, &h5util::attr(path, root, "grid_type")?, "@grid_type")?
        } else {
            "cartesian".to_owned()
        };
        let simulation_parameters = if h5util::has_attr(root, "simulation_parameters") {
            h5util::read_strings(path, &h5util::attr(path, root, "simulation_parameters")?, "@simulation_parameters")?
        } else {
            Vec::new()
        };
        let scaling_attr = crate::labels::LABEL_SCALING_ATTR;
        let label_scaling = if h5util::has_attr(root, scaling_attr) {
            let value = h5util::read_string(path, &h5util::attr(path, root, scaling_attr)?, "@label_scaling")?;
            crate::labels::LabelScaling::from_attr(Some(&value)).map_err(|e| WellError::format(path, "@label_scaling", e))?
        } else {
            crate::labels::LabelScaling::Paper
        };

        let Dimensions { spatial_dims, time, coords } = read_dimensions(path, root)?;
        let boundary_conditions = read_boundary_conditions(path, root)?;
        let (scalars, scalar_field_names) = read_scalars(path, root)?;
        let (fields_h5, fields_named) = read_fields(path, root, n_trajectories, time.len(), [coords[0].len(), coords[1].len()])?;

        Ok(Self {
            path: path.to_path_buf(),
            dataset_name,
            grid_type,
            n_trajectories,
            simulation_parameters,
            label_scaling,
            spatial_dims,
            time,
            coords,
            boundary_conditions,
            scalars,
            scalar_field_names,
            fields_h5,
            fields_named,
        })
    }
}

/// What `/dimensions` holds.
struct Dimensions {
    spatial_dims: Vec<String>,
    time: Vec<f64>,
    coords: [Vec<f64>; 2],
}

/// `/dimensions`: the two spatial axis names, the frame times (of the first trajectory when stored per
/// trajectory) and the coordinates of each axis.
fn read_dimensions(path: &Path, root: &Group) -> Result<Dimensions, WellError> {
    let dims = h5util::group(path, root, "dimensions")?;
    let spatial_dims = h5util::read_strings(path, &h5util::attr(path, &dims, "spatial_dims")?, "/dimensions@spatial_dims")?;
    if spatial_dims.len() != 2 {
        return Err(WellError::format(path, "/dimensions@spatial_dims", format!("expected 2 names, found {spatial_dims:?}")));
    }
    let time_ds = h5util::dataset(path, &dims, "time")?;
    let time_shape = time_ds.shape();
    let time_all = h5util::read_f64s(path, &time_ds, "/dimensions/time")?;
    let time = match time_shape.as_slice() {
        [_] => time_all,
        [_, t] => time_all[..*t].to_vec(),
        _ => {
            return Err(WellError::Shape {
                path: path.into(),
                item: "/dimensions/time".into(),
                found: time_shape,
                expected: "[T] or [n_trajectories, T]".into(),
            })
        }
    };
    let mut coords: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for (k, d) in spatial_dims.iter().enumerate() {
        let ds = h5util::dataset(path, &dims, d)?;
        let item = format!("/dimensions/{d}");
        if ds.ndim() != 1 {
            return Err(WellError::Shape { path: path.into(), item, found: ds.shape(), expected: "[n] (1-D coordinates)".into() });
        }
        coords[k] = h5util::read_f64s(path, &ds, &item)?;
    }

    Ok(Dimensions { spatial_dims, time, coords })
}

/// `/boundary_conditions`: one entry per group, with its type, axes and mask.
fn read_boundary_conditions(path: &Path, root: &Group) -> Result<Vec<BoundaryCondition>, WellError> {
    let mut boundary_conditions = Vec::new();
    let bcg = h5util::group(path, root, "boundary_conditions")?;
    for name in member_names_h5(path, &bcg)? {
        let g = h5util::group(path, &bcg, &name)?;
        let item = format!("/boundary_conditions/{name}");
        let bc_type = h5util::read_string(path, &h5util::attr(path, &g, "bc_type")?, &format!("{item}@bc_type"))?;
        let associated_dims = if h5util::has_attr(&g, "associated_dims") {
            h5util::read_strings(path, &h5util::attr(path, &g, "associated_dims")?, &format!("{item}@associated_dims"))?
        } else {
            Vec::new()
        };
        let mask = if g.link_exists("mask") {
            h5util::read_bools(path, &h5util::dataset(path, &g, "mask")?, &format!("{item}/mask"))?
        } else {
            Vec::new()
        };
        boundary_conditions.push(BoundaryCondition { name, bc_type, associated_dims, mask });
    }

    Ok(boundary_conditions)
}

/// `/scalars`: every scalar (constant or time series) and the names listed in `@field_names`.
fn read_scalars(path: &Path, root: &Group) -> Result<(Vec<ScalarInfo>, Vec<String>), WellError> {
    let sg = h5util::group(path, root, "scalars")?;
    let scalar_field_names = if h5util::has_attr(&sg, "field_names") {
        h5util::read_strings(path, &h5util::attr(path, &sg, "field_names")?, "/scalars@field_names")?
    } else {
        Vec::new()
    };
    let mut scalars = Vec::new();
    for name in member_names_h5(path, &sg)? {
        let item = format!("/scalars/{name}");
        let ds = h5util::dataset(path, &sg, &name)?;
        let flagged = if h5util::has_attr(&ds, "time_varying") {
            h5util::read_bool(path, &h5util::attr(path, &ds, "time_varying")?, &format!("{item}@time_varying"))?
        } else {
            false
        };
        let values = h5util::read_f64s(path, &ds, &item)?;
        let time_varying = flagged || values.len() > 1;
        if values.is_empty() {
            return Err(WellError::Shape { path: path.into(), item, found: ds.shape(), expected: "a 0-d scalar or a [T] series".into() });
        }
        scalars.push(ScalarInfo { name, values, time_varying });
    }

    Ok((scalars, scalar_field_names))
}

/// The `t0_fields`, `t1_fields`, `t2_fields` groups: every field in HDF5 key order, and in the order of
/// `@field_names` (listed first, then the rest), each checked against the file's shape.
fn read_fields(
    path: &Path,
    root: &Group,
    n_trajectories: usize,
    frames: usize,
    [nx, ny]: [usize; 2],
) -> Result<(Vec<FieldInfo>, Vec<FieldInfo>), WellError> {
    let mut fields_h5 = Vec::new();
    let mut fields_named = Vec::new();
    for (order, gname) in FIELD_GROUPS.iter().enumerate() {
        let g = h5util::group(path, root, gname)?;
        let listed = if h5util::has_attr(&g, "field_names") {
            h5util::read_strings(path, &h5util::attr(path, &g, "field_names")?, &format!("/{gname}@field_names"))?
        } else {
            Vec::new()
        };
        let keys = member_names_h5(path, &g)?;
        let mut infos = Vec::new();
        for name in &keys {
            infos.push(read_field_info(path, &g, gname, name, order, n_trajectories, frames, [nx, ny])?);
        }
        for name in &listed {
            if !keys.contains(name) {
                return Err(WellError::missing(path, format!("dataset `/{gname}/{name}` (listed in @field_names)")));
            }
        }
        let mut named: Vec<FieldInfo> = listed.iter().filter_map(|n| infos.iter().find(|f| &f.name == n).cloned()).collect();
        for f in &infos {
            if !listed.contains(&f.name) {
                named.push(f.clone());
            }
        }
        fields_h5.extend(infos);
        fields_named.extend(named);
    }

    Ok((fields_h5, fields_named))
}

#[allow(clippy::too_many_arguments)]
fn read_field_info(
    path: &Path,
    g: &Group,
    gname: &str,
    name: &str,
    order: usize,
    n_traj: usize,
    frames: usize,
    [nx, ny]: [usize; 2],
) -> Result<FieldInfo, WellError> {
    let item = format!("/{gname}/{name}");
    let ds = h5util::dataset(path, g, name)?;
    let flag = |attr: &str, default: bool| -> Result<bool, WellError> {
        if h5util::has_attr(&ds, attr) {
            h5util::read_bool(path, &h5util::attr(path, &ds, attr)?, &format!("{item}@{attr}"))
        } else {
            Ok(default)
        }
    };
    let time_varying = flag("time_varying", true)?;
    let sample_varying = flag("sample_varying", true)?;
    let dim_varying = if h5util::has_attr(&ds, "dim_varying") {
        h5util::read_bools(path, &h5util::attr(path, &ds, "dim_varying")?, &format!("{item}@dim_varying"))?
    } else {
        vec![true, true]
    };
    if !sample_varying || dim_varying.iter().any(|d| !d) {
        return Err(WellError::format(
            path,
            &item,
            format!(
                "only sample-varying fields on the full grid are supported (sample_varying={sample_varying}, dim_varying={dim_varying:?})"
            ),
        ));
    }
    let dtype = ds.dtype().and_then(|t| t.to_descriptor()).map_err(|e| WellError::hdf5(path, &item, e))?;
    if !matches!(dtype, hdf5::types::TypeDescriptor::Float(_)) {
        return Err(WellError::format(path, &item, format!("expected float32 data, found {dtype}")));
    }
    let mut expected = vec![n_traj];
    if time_varying {
        expected.push(frames);
    }
    expected.extend([nx, ny]);
    expected.extend(std::iter::repeat_n(2, order));
    let shape = ds.shape();
    if shape != expected {
        let what = if shape.len() != expected.len() { "rank" } else { "size" };
        return Err(WellError::Shape {
            path: path.into(),
            item,
            found: shape,
            expected: format!(
                "{expected:?} ([n_trajectories{}, nx, ny{}]; wrong {what})",
                if time_varying { ", T" } else { "" },
                ", 2".repeat(order)
            ),
        });
    }
    Ok(FieldInfo { name: name.to_owned(), order, time_varying, shape })
}

/// Member names of a group in the order h5py iterates them: creation order when the group tracks it,
/// otherwise by name (byte order).
pub(crate) fn member_names_h5(path: &Path, g: &Group) -> Result<Vec<String>, WellError> {
    let h5 = |e| WellError::hdf5(path, g.name(), e);
    let tracked = g.create_plist().map_err(h5)?.link_creation_order() != LinkCreationOrder::Untracked;
    let mut names = Vec::new();
    let index = if tracked { IndexType::CreationOrder } else { IndexType::Name };
    g.iter_visit(index, IterationOrder::Increasing, |name, _| {
        names.push(name.to_owned());
        Ok(())
    })
    .map_err(h5)?;
    if !tracked {
        names.sort();
    }
    Ok(names)
}

/// Reads `field[traj, t0..t1, x0..x1, y0..y1, ...]` (time axis omitted for constant fields) as f32,
/// shape `[t1 - t0 (or absent), x1 - x0, y1 - y0, components...]`.
#[allow(clippy::too_many_arguments)] // a hyperslab: file, group, field, trajectory and three ranges
pub(crate) fn read_field_slab(
    path: &Path,
    file: &hdf5::File,
    gname: &str,
    field: &FieldInfo,
    traj: usize,
    t: std::ops::Range<usize>,
    x: std::ops::Range<usize>,
    y: std::ops::Range<usize>,
) -> Result<ArrayD<f32>, WellError> {
    let item = format!("/{gname}/{}", field.name);
    let ds = file.dataset(&item).map_err(|e| WellError::hdf5(path, &item, e))?;
    let count = |r: &std::ops::Range<usize>| SliceOrIndex::SliceCount { start: r.start, step: 1, count: r.end - r.start, block: 1 };
    let mut sel = vec![SliceOrIndex::Index(traj)];
    if field.time_varying {
        sel.push(count(&t));
    }
    sel.push(count(&x));
    sel.push(count(&y));
    for _ in 0..field.order {
        sel.push(SliceOrIndex::SliceCount { start: 0, step: 1, count: 2, block: 1 });
    }
    ds.read_slice::<f32, _, IxDyn>(Hyperslab::from(sel)).map_err(|e| WellError::hdf5(path, item, e))
}
