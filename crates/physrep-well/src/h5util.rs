//! Small typed helpers over `hdf5` (hdf5-metno) that accept every encoding h5py produces and turn
//! failures into [`WellError`]s naming the file and the object.
//!
//! Reading: strings may be variable-length UTF-8/ASCII or fixed-length ASCII/UTF-8, scalar or 1-D; an
//! empty list is an empty float64 array; booleans are HDF5 enums over int8 (`FALSE = 0`, `TRUE = 1`) or
//! plain integers; numbers may be any integer or float type, scalar (0-d) or of length 1.
//! Writing: exactly what h5py writes (vlen UTF-8 strings, int8-enum booleans, int64, float64, empty
//! float64 arrays for empty lists).

use std::ops::Deref;
use std::path::Path;

use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Attribute, Container, Group, Location};
use ndarray::Array1;

use crate::error::WellError;

/// Longest fixed-length string accepted (bytes).
const MAX_FIXED_STR: usize = 1024;

/// Opens `path` read-only, mapping any failure to [`WellError::NotHdf5`].
pub(crate) fn open_file(path: &Path) -> Result<hdf5::File, WellError> {
    if path.is_dir() {
        return Err(WellError::format(path, "path", "is a directory, expected a Well HDF5 file"));
    }
    if !path.is_file() {
        return Err(WellError::missing(path, "file"));
    }
    hdf5::File::open(path).map_err(|e| WellError::NotHdf5 { path: path.to_path_buf(), detail: e.to_string() })
}

/// Opens the sub-group `name` of `parent` (whose HDF5 path is `parent_name`).
pub(crate) fn group(path: &Path, parent: &Group, name: &str) -> Result<Group, WellError> {
    let full = join(&parent.name(), name);
    if !parent.link_exists(name) {
        return Err(WellError::missing(path, format!("group `{full}`")));
    }
    parent.group(name).map_err(|e| WellError::hdf5(path, full, e))
}

/// Opens the dataset `name` of `parent`.
pub(crate) fn dataset(path: &Path, parent: &Group, name: &str) -> Result<hdf5::Dataset, WellError> {
    let full = join(&parent.name(), name);
    if !parent.link_exists(name) {
        return Err(WellError::missing(path, format!("dataset `{full}`")));
    }
    parent.dataset(name).map_err(|e| WellError::hdf5(path, full, e))
}

/// Opens the attribute `name` of `loc`.
pub(crate) fn attr(path: &Path, loc: &Location, name: &str) -> Result<Attribute, WellError> {
    let owner = loc.name();
    let names = loc.attr_names().map_err(|e| WellError::hdf5(path, owner.clone(), e))?;
    if !names.iter().any(|n| n == name) {
        return Err(WellError::missing(path, format!("attribute `{name}` of `{owner}`")));
    }
    loc.attr(name).map_err(|e| WellError::hdf5(path, format!("{owner}@{name}"), e))
}

/// Whether `loc` has an attribute `name`.
pub(crate) fn has_attr(loc: &Location, name: &str) -> bool {
    loc.attr_names().map(|n| n.iter().any(|x| x == name)).unwrap_or(false)
}

fn join(parent: &str, name: &str) -> String {
    if parent.ends_with('/') {
        format!("{parent}{name}")
    } else {
        format!("{parent}/{name}")
    }
}

fn descriptor(path: &Path, c: &Container, item: &str) -> Result<TypeDescriptor, WellError> {
    c.dtype().and_then(|t| t.to_descriptor()).map_err(|e| WellError::hdf5(path, item, e))
}

/// Reads a string or list of strings (an empty float64 array reads as an empty list).
pub(crate) fn read_strings<C: Deref<Target = Container>>(path: &Path, c: &C, item: &str) -> Result<Vec<String>, WellError> {
    let h5 = |e| WellError::hdf5(path, item, e);
    match descriptor(path, c, item)? {
        TypeDescriptor::VarLenUnicode => Ok(c.read_raw::<VarLenUnicode>().map_err(h5)?.iter().map(|s| s.as_str().to_owned()).collect()),
        TypeDescriptor::VarLenAscii => Ok(c.read_raw::<VarLenAscii>().map_err(h5)?.iter().map(|s| s.as_str().to_owned()).collect()),
        TypeDescriptor::FixedAscii(n) | TypeDescriptor::FixedUnicode(n) if n > MAX_FIXED_STR => {
            Err(WellError::format(path, item, format!("fixed-length string of {n} bytes (at most {MAX_FIXED_STR})")))
        }
        TypeDescriptor::FixedAscii(_) => Ok(c
            .read_raw::<FixedAscii<MAX_FIXED_STR>>()
            .map_err(h5)?
            .iter()
            .map(|s| s.as_str().trim_end_matches('\0').to_owned())
            .collect()),
        TypeDescriptor::FixedUnicode(_) => Ok(c
            .read_raw::<FixedUnicode<MAX_FIXED_STR>>()
            .map_err(h5)?
            .iter()
            .map(|s| s.as_str().trim_end_matches('\0').to_owned())
            .collect()),
        TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) if c.size() == 0 => Ok(Vec::new()),
        other => Err(WellError::format(path, item, format!("expected a string or a list of strings, found {other}"))),
    }
}

/// Reads exactly one string.
pub(crate) fn read_string<C: Deref<Target = Container>>(path: &Path, c: &C, item: &str) -> Result<String, WellError> {
    let mut v = read_strings(path, c, item)?;
    if v.len() != 1 {
        return Err(WellError::Shape { path: path.into(), item: item.into(), found: c.shape(), expected: "one string".into() });
    }
    Ok(v.remove(0))
}

/// Reads booleans (int8 enum, or any integer: non-zero = true).
pub(crate) fn read_bools<C: Deref<Target = Container>>(path: &Path, c: &C, item: &str) -> Result<Vec<bool>, WellError> {
    let h5 = |e| WellError::hdf5(path, item, e);
    match descriptor(path, c, item)? {
        TypeDescriptor::Boolean => c.read_raw::<bool>().map_err(h5),
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
            Ok(c.read_raw::<i64>().map_err(h5)?.into_iter().map(|v| v != 0).collect())
        }
        other => Err(WellError::format(path, item, format!("expected a boolean (int8 enum), found {other}"))),
    }
}

/// Reads exactly one boolean.
pub(crate) fn read_bool<C: Deref<Target = Container>>(path: &Path, c: &C, item: &str) -> Result<bool, WellError> {
    let v = read_bools(path, c, item)?;
    match v.as_slice() {
        [b] => Ok(*b),
        _ => Err(WellError::Shape { path: path.into(), item: item.into(), found: c.shape(), expected: "one boolean".into() }),
    }
}

/// Reads numbers of any integer or float type as f64.
pub(crate) fn read_f64s<C: Deref<Target = Container>>(path: &Path, c: &C, item: &str) -> Result<Vec<f64>, WellError> {
    match descriptor(path, c, item)? {
        TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
            c.read_raw::<f64>().map_err(|e| WellError::hdf5(path, item, e))
        }
        other => Err(WellError::format(path, item, format!("expected a number, found {other}"))),
    }
}

/// Reads exactly one number (0-d, or 1-D of length 1).
pub(crate) fn read_f64<C: Deref<Target = Container>>(path: &Path, c: &C, item: &str) -> Result<f64, WellError> {
    let v = read_f64s(path, c, item)?;
    match v.as_slice() {
        [x] => Ok(*x),
        _ => Err(WellError::Shape { path: path.into(), item: item.into(), found: c.shape(), expected: "a single number".into() }),
    }
}

/// Reads exactly one integer.
pub(crate) fn read_usize<C: Deref<Target = Container>>(path: &Path, c: &C, item: &str) -> Result<usize, WellError> {
    let x = read_f64(path, c, item)?;
    if x < 0.0 || x.fract() != 0.0 || !x.is_finite() {
        return Err(WellError::format(path, item, format!("expected a non-negative integer, found {x}")));
    }
    Ok(x as usize)
}

// ---------------------------------------------------------------- writing (h5py encodings)

fn vlen(s: &str) -> hdf5::Result<VarLenUnicode> {
    s.parse::<VarLenUnicode>().map_err(|e| hdf5::Error::from(e.to_string()))
}

/// Scalar vlen UTF-8 string attribute.
pub(crate) fn write_str_attr(loc: &Location, name: &str, value: &str) -> hdf5::Result<()> {
    loc.new_attr::<VarLenUnicode>().create(name)?.write_scalar(&vlen(value)?)
}

/// 1-D vlen UTF-8 string attribute; an empty list is written as an empty float64 array (as h5py does).
pub(crate) fn write_str_list_attr(loc: &Location, name: &str, values: &[String]) -> hdf5::Result<()> {
    if values.is_empty() {
        return write_empty_list_attr(loc, name);
    }
    let arr: Vec<VarLenUnicode> = values.iter().map(|s| vlen(s)).collect::<hdf5::Result<_>>()?;
    loc.new_attr_builder().with_data(&Array1::from(arr)).create(name)?;
    Ok(())
}

/// Empty list attribute: a float64 array of length 0.
pub(crate) fn write_empty_list_attr(loc: &Location, name: &str) -> hdf5::Result<()> {
    loc.new_attr::<f64>().shape([0usize]).create(name)?;
    Ok(())
}

/// Scalar boolean attribute (int8 enum).
pub(crate) fn write_bool_attr(loc: &Location, name: &str, value: bool) -> hdf5::Result<()> {
    loc.new_attr::<bool>().create(name)?.write_scalar(&value)
}

/// 1-D boolean attribute (int8 enum).
pub(crate) fn write_bools_attr(loc: &Location, name: &str, values: &[bool]) -> hdf5::Result<()> {
    loc.new_attr_builder().with_data(&Array1::from(values.to_vec())).create(name)?;
    Ok(())
}

/// Scalar int64 attribute.
pub(crate) fn write_i64_attr(loc: &Location, name: &str, value: i64) -> hdf5::Result<()> {
    loc.new_attr::<i64>().create(name)?.write_scalar(&value)
}

/// Scalar float64 attribute.
pub(crate) fn write_f64_attr(loc: &Location, name: &str, value: f64) -> hdf5::Result<()> {
    loc.new_attr::<f64>().create(name)?.write_scalar(&value)
}
