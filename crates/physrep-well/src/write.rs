//! Writer of Well-layout files (`docs/well-format.md` §7 and §13), one trajectory at a time.
//!
//! # What a caller provides
//! A [`WellFileHeader`]:
//! * `dataset_name` (e.g. `"rayleigh_benard"`) and `n_trajectories` (the file's fixed count);
//! * `parameters`: `(name, value)` in file order (e.g. `[("Rayleigh", 1e8), ("Prandtl", 1.0)]`); each is
//!   written as a root float64 attribute, listed in `@simulation_parameters`, and stored as a 0-d float64
//!   dataset in `scalars/` (both flags False);
//! * `time` `[T]`, `x` `[nx]`, `y` `[ny]`: the actual coordinates (float32, as The Well stores them);
//! * `boundary_conditions`: one [`BoundarySpec`] per boundary (group name such as `y_wall_dirichlet`,
//!   the dimension `"x"`/`"y"`, and the kind PERIODIC / WALL / OPEN);
//! * `fields`: one [`FieldSpec`] per field (name and tensor order 0/1/2; t2 fields are written with
//!   `symmetric = True`, `antisymmetric = False`), in the order the trajectory arrays will come;
//! * `extra_attrs`: any extra root attributes (e.g. `generator`, solver settings), ignored by loaders;
//! * `deflate`: `None` (default, uncompressed) or a gzip level.
//!
//! Then, per trajectory in order, a [`TrajectoryFields`] with one float32 array per field of shape
//! `(T, nx, ny)`, `(T, nx, ny, 2)` or `(T, nx, ny, 2, 2)` (component 0 = x).
//!
//! # What is written
//! Exactly the h5py encodings: vlen UTF-8 strings, int8-enum booleans, int64 `n_trajectories` and
//! `n_spatial_dims`, empty lists as empty float64 arrays. `dimensions/` carries both flags on every
//! coordinate; BC groups have upper-case `bc_type`, `associated_dims` as an array, empty
//! `associated_fields`, both flags False and a `mask` True at both ends; fields are float32
//! `[N, T, nx, ny, 2^order]` with `dim_varying = [True, True]`, `sample_varying = True`,
//! `time_varying = True` (t2 also `symmetric`, `antisymmetric`), chunked so that one frame of one
//! trajectory is one chunk. The file is written as `.<name>.tmp-<pid>` in the target directory and
//! renamed on [`WellFileWriter::finish`]; a writer dropped before `finish` removes its temporary file.

use std::path::{Path, PathBuf};

use hdf5::{Hyperslab, SliceOrIndex};
use ndarray::ArrayViewD;

use crate::error::WellError;
use crate::file::FIELD_GROUPS;
use crate::h5util;

/// Kind of a boundary, written upper-case in `bc_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BcKind {
    Periodic,
    Wall,
    Open,
}

impl BcKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BcKind::Periodic => "PERIODIC",
            BcKind::Wall => "WALL",
            BcKind::Open => "OPEN",
        }
    }

    /// Parses a stored `bc_type` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "PERIODIC" => Some(BcKind::Periodic),
            "WALL" => Some(BcKind::Wall),
            "OPEN" => Some(BcKind::Open),
            _ => None,
        }
    }
}

/// One boundary-condition group.
#[derive(Clone, Debug, PartialEq)]
pub struct BoundarySpec {
    /// Group name, e.g. `x_periodic`, `y_wall_dirichlet`.
    pub name: String,
    /// The dimension it applies to (`"x"` or `"y"`).
    pub dim: String,
    pub kind: BcKind,
}

/// One field.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldSpec {
    pub name: String,
    /// Tensor order: 0 scalar, 1 vector, 2 rank-2 tensor (written with `@symmetric = True`,
    /// `@antisymmetric = False`, as every t2 field of the three datasets).
    pub order: usize,
}

impl FieldSpec {
    /// A field of the given order.
    pub fn new(name: &str, order: usize) -> Self {
        Self { name: name.to_owned(), order }
    }
}

/// Value of an extra root attribute.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Str(String),
    F64(f64),
    I64(i64),
    Bool(bool),
    Strs(Vec<String>),
}

/// Everything about a file except the field data.
#[derive(Clone, Debug, PartialEq)]
pub struct WellFileHeader {
    pub dataset_name: String,
    pub n_trajectories: usize,
    pub parameters: Vec<(String, f64)>,
    pub time: Vec<f32>,
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    pub boundary_conditions: Vec<BoundarySpec>,
    pub fields: Vec<FieldSpec>,
    pub extra_attrs: Vec<(String, AttrValue)>,
    /// gzip level of the field chunks; `None` = uncompressed (fastest to read).
    pub deflate: Option<u8>,
}

/// The field arrays of one trajectory, in header field order, each `(T, nx, ny, 2^order...)`.
#[derive(Clone, Debug)]
pub struct TrajectoryFields<'a> {
    pub fields: Vec<ArrayViewD<'a, f32>>,
}

/// Streams trajectories into a new Well file; see the module documentation.
pub struct WellFileWriter {
    header: WellFileHeader,
    final_path: PathBuf,
    tmp_path: PathBuf,
    file: Option<hdf5::File>,
    written: usize,
}

fn h5err<'a>(path: &'a Path, item: &str) -> impl Fn(hdf5::Error) -> WellError + 'a {
    let item = item.to_owned();
    move |e| WellError::hdf5(path, item.clone(), e)
}

impl WellFileWriter {
    /// Validates `header`, creates the temporary file and writes all metadata.
    pub fn create(path: impl AsRef<Path>, header: WellFileHeader) -> Result<Self, WellError> {
        let final_path = path.as_ref().to_path_buf();
        validate(&final_path, &header)?;
        let dir = final_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| WellError::io(&dir, e))?;
        let tmp_path = physrep_core::fs::temp_path(&final_path);
        let file = hdf5::File::create(&tmp_path).map_err(h5err(&tmp_path, "/"))?;
        let mut w = Self { header, final_path, tmp_path, file: Some(file), written: 0 };
        w.write_metadata()?;
        Ok(w)
    }

    fn write_metadata(&mut self) -> Result<(), WellError> {
        let h = &self.header;
        let p = self.tmp_path.clone();
        let file = self.file.as_ref().expect("open until finish");
        let e = |item: &str| h5err(&p, item);
        let root: &hdf5::Group = file;
        h5util::write_str_attr(root, "dataset_name", &h.dataset_name).map_err(e("@dataset_name"))?;
        h5util::write_str_attr(root, "grid_type", "cartesian").map_err(e("@grid_type"))?;
        h5util::write_i64_attr(root, "n_spatial_dims", 2).map_err(e("@n_spatial_dims"))?;
        h5util::write_i64_attr(root, "n_trajectories", h.n_trajectories as i64).map_err(e("@n_trajectories"))?;
        let pnames: Vec<String> = h.parameters.iter().map(|(n, _)| n.clone()).collect();
        h5util::write_str_list_attr(root, "simulation_parameters", &pnames).map_err(e("@simulation_parameters"))?;
        for (n, v) in &h.parameters {
            h5util::write_f64_attr(root, n, *v).map_err(e(&format!("@{n}")))?;
        }
        for (n, v) in &h.extra_attrs {
            write_root_attr(root, n, v).map_err(e(&format!("@{n}")))?;
        }

        let dims = root.create_group("dimensions").map_err(e("/dimensions"))?;
        h5util::write_str_list_attr(&dims, "spatial_dims", &["x".to_owned(), "y".to_owned()]).map_err(e("/dimensions@spatial_dims"))?;
        for (name, values, time_varying) in [("time", &h.time, true), ("x", &h.x, false), ("y", &h.y, false)] {
            let item = format!("/dimensions/{name}");
            let ds = dims.new_dataset_builder().with_data(values.as_slice()).create(name).map_err(e(&item))?;
            h5util::write_bool_attr(&ds, "sample_varying", false).map_err(e(&item))?;
            h5util::write_bool_attr(&ds, "time_varying", time_varying).map_err(e(&item))?;
        }

        let bcs = root.create_group("boundary_conditions").map_err(e("/boundary_conditions"))?;
        for bc in &h.boundary_conditions {
            let item = format!("/boundary_conditions/{}", bc.name);
            let g = bcs.create_group(&bc.name).map_err(e(&item))?;
            h5util::write_str_attr(&g, "bc_type", bc.kind.as_str()).map_err(e(&item))?;
            h5util::write_str_list_attr(&g, "associated_dims", std::slice::from_ref(&bc.dim)).map_err(e(&item))?;
            h5util::write_empty_list_attr(&g, "associated_fields").map_err(e(&item))?;
            h5util::write_bool_attr(&g, "sample_varying", false).map_err(e(&item))?;
            h5util::write_bool_attr(&g, "time_varying", false).map_err(e(&item))?;
            let n = if bc.dim == "x" { h.x.len() } else { h.y.len() };
            let mask: Vec<bool> = (0..n).map(|i| i == 0 || i == n - 1).collect();
            g.new_dataset_builder().with_data(mask.as_slice()).create("mask").map_err(e(&format!("{item}/mask")))?;
        }

        let sc = root.create_group("scalars").map_err(e("/scalars"))?;
        h5util::write_str_list_attr(&sc, "field_names", &pnames).map_err(e("/scalars@field_names"))?;
        for (n, v) in &h.parameters {
            let item = format!("/scalars/{n}");
            let ds = sc.new_dataset::<f64>().create(n.as_str()).map_err(e(&item))?;
            ds.write_scalar(v).map_err(e(&item))?;
            h5util::write_bool_attr(&ds, "sample_varying", false).map_err(e(&item))?;
            h5util::write_bool_attr(&ds, "time_varying", false).map_err(e(&item))?;
        }

        let (t, nx, ny) = (h.time.len(), h.x.len(), h.y.len());
        for (order, gname) in FIELD_GROUPS.iter().enumerate() {
            let g = root.create_group(gname).map_err(e(&format!("/{gname}")))?;
            let names: Vec<String> = h.fields.iter().filter(|f| f.order == order).map(|f| f.name.clone()).collect();
            h5util::write_str_list_attr(&g, "field_names", &names).map_err(e(&format!("/{gname}@field_names")))?;
            for f in h.fields.iter().filter(|f| f.order == order) {
                let item = format!("/{gname}/{}", f.name);
                let mut shape = vec![h.n_trajectories, t, nx, ny];
                shape.extend(std::iter::repeat_n(2, order));
                let mut chunk = vec![1, 1, nx, ny];
                chunk.extend(std::iter::repeat_n(2, order));
                let mut b = g.new_dataset::<f32>().shape(shape).chunk(chunk);
                if let Some(level) = h.deflate {
                    b = b.deflate(level);
                }
                let ds = b.create(f.name.as_str()).map_err(e(&item))?;
                h5util::write_bools_attr(&ds, "dim_varying", &[true, true]).map_err(e(&item))?;
                h5util::write_bool_attr(&ds, "sample_varying", true).map_err(e(&item))?;
                h5util::write_bool_attr(&ds, "time_varying", true).map_err(e(&item))?;
                if order == 2 {
                    h5util::write_bool_attr(&ds, "symmetric", true).map_err(e(&item))?;
                    h5util::write_bool_attr(&ds, "antisymmetric", false).map_err(e(&item))?;
                }
            }
        }
        Ok(())
    }

    /// Adds an extra root attribute after creation (one known only once the trajectories exist, e.g. their
    /// initial-condition parameters); like [`WellFileHeader::extra_attrs`], ignored by loaders.
    pub fn write_attr(&mut self, name: &str, value: &AttrValue) -> Result<(), WellError> {
        let file = self.file.as_ref().expect("open until finish");
        write_root_attr(file, name, value).map_err(h5err(&self.tmp_path, &format!("@{name}")))
    }

    /// Trajectories written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Writes the next trajectory (index [`written`](Self::written)).
    pub fn write_trajectory(&mut self, traj: &TrajectoryFields) -> Result<(), WellError> {
        let h = &self.header;
        let p = &self.tmp_path;
        if self.written >= h.n_trajectories {
            return Err(WellError::Invalid {
                what: format!("{}: all {} trajectories already written", self.final_path.display(), h.n_trajectories),
            });
        }
        if traj.fields.len() != h.fields.len() {
            return Err(WellError::Invalid {
                what: format!(
                    "{}: trajectory has {} field arrays, header lists {}",
                    self.final_path.display(),
                    traj.fields.len(),
                    h.fields.len()
                ),
            });
        }
        let file = self.file.as_ref().expect("open until finish");
        for (spec, arr) in h.fields.iter().zip(&traj.fields) {
            let gname = FIELD_GROUPS[spec.order];
            let item = format!("/{gname}/{}", spec.name);
            let mut expected = vec![h.time.len(), h.x.len(), h.y.len()];
            expected.extend(std::iter::repeat_n(2, spec.order));
            if arr.shape() != expected.as_slice() {
                return Err(WellError::Shape {
                    path: self.final_path.clone(),
                    item,
                    found: arr.shape().to_vec(),
                    expected: format!("{expected:?}"),
                });
            }
            let ds = file.dataset(&item).map_err(h5err(p, &item))?;
            let mut sel = vec![SliceOrIndex::Index(self.written)];
            for &n in &expected {
                sel.push(SliceOrIndex::SliceCount { start: 0, step: 1, count: n, block: 1 });
            }
            let owned;
            let view = if arr.is_standard_layout() {
                arr.view()
            } else {
                owned = arr.as_standard_layout().into_owned();
                owned.view()
            };
            ds.write_slice(view, Hyperslab::from(sel)).map_err(h5err(p, &item))?;
        }
        self.written += 1;
        Ok(())
    }

    /// Closes the file and renames it into place; fails if fewer trajectories than declared were written.
    pub fn finish(mut self) -> Result<PathBuf, WellError> {
        if self.written != self.header.n_trajectories {
            return Err(WellError::Invalid {
                what: format!("{}: {} of {} trajectories written", self.final_path.display(), self.written, self.header.n_trajectories),
            });
        }
        if let Some(f) = self.file.take() {
            f.flush().map_err(h5err(&self.tmp_path, "/"))?;
            f.close().map_err(h5err(&self.tmp_path, "/"))?;
        }
        std::fs::rename(&self.tmp_path, &self.final_path).map_err(|e| WellError::io(&self.final_path, e))?;
        Ok(self.final_path.clone())
    }
}

impl Drop for WellFileWriter {
    fn drop(&mut self) {
        if let Some(f) = self.file.take() {
            drop(f);
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

fn write_root_attr(root: &hdf5::Location, name: &str, value: &AttrValue) -> hdf5::Result<()> {
    match value {
        AttrValue::Str(s) => h5util::write_str_attr(root, name, s),
        AttrValue::F64(x) => h5util::write_f64_attr(root, name, *x),
        AttrValue::I64(x) => h5util::write_i64_attr(root, name, *x),
        AttrValue::Bool(b) => h5util::write_bool_attr(root, name, *b),
        AttrValue::Strs(s) => h5util::write_str_list_attr(root, name, s),
    }
}

fn validate(path: &Path, h: &WellFileHeader) -> Result<(), WellError> {
    let bad = |msg: String| Err(WellError::Invalid { what: format!("{}: {msg}", path.display()) });
    if h.dataset_name.is_empty() {
        return bad("empty dataset_name".into());
    }
    if h.n_trajectories == 0 || h.time.is_empty() || h.x.is_empty() || h.y.is_empty() {
        return bad(format!(
            "need ≥ 1 trajectory, time, x and y points (got {}, {}, {}, {})",
            h.n_trajectories,
            h.time.len(),
            h.x.len(),
            h.y.len()
        ));
    }
    for f in &h.fields {
        if f.order > 2 || f.name.is_empty() {
            return bad(format!("field {f:?}: order must be 0, 1 or 2 and the name non-empty"));
        }
    }
    for bc in &h.boundary_conditions {
        if bc.dim != "x" && bc.dim != "y" {
            return bad(format!("boundary `{}`: dim must be \"x\" or \"y\", got {:?}", bc.name, bc.dim));
        }
    }
    let mut names: Vec<&str> = h.parameters.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return bad(format!("duplicate parameter names {names:?}"));
    }
    Ok(())
}
