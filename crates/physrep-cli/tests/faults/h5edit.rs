//! Surgical edits of a copied Well file with the `hdf5` crate: one non-finite value, a field
//! replaced by one of another shape or type, a dataset or attribute removed or retyped.
//! Field layout (The Well): `/tN_fields/NAME`, shape (trajectory, time, x, y, 2^N components).

use std::path::Path;

use hdf5::types::{FixedAscii, VarLenUnicode};

/// Runs `f` on the file opened read-write, with no child being forked meanwhile (see `FORK_GUARD`).
fn with_file<T>(path: &Path, f: impl FnOnce(&hdf5::File) -> T) -> T {
    let _guard = super::harness::FORK_GUARD.write().unwrap_or_else(|e| e.into_inner());
    let file = hdf5::File::open_rw(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let r = f(&file);
    file.close().unwrap();
    r
}

/// Sets one element (row-major `index`) of a float field to `value`.
pub fn set_value(path: &Path, field: &str, index: &[usize], value: f32) {
    with_file(path, |f| {
        let ds = f.dataset(field).unwrap();
        let shape = ds.shape();
        assert_eq!(shape.len(), index.len(), "{field}: shape {shape:?}");
        let mut data: Vec<f32> = ds.read_raw().unwrap();
        let flat = index.iter().zip(&shape).fold(0, |acc, (i, n)| acc * n + i);
        data[flat] = value;
        ds.write_raw(&data).unwrap();
    })
}

/// Sets every element of a float field to `value`.
pub fn fill(path: &Path, field: &str, value: f32) {
    with_file(path, |f| {
        let ds = f.dataset(field).unwrap();
        let n: usize = ds.shape().iter().product();
        ds.write_raw(&vec![value; n]).unwrap();
    })
}

/// Writes the attributes a Well field carries (`dim_varying`, `sample_varying`, `time_varying`).
fn field_attrs(ds: &hdf5::Dataset) {
    ds.new_attr::<bool>().shape(2).create("dim_varying").unwrap().write_raw(&[true, true]).unwrap();
    ds.new_attr::<bool>().create("sample_varying").unwrap().write_scalar(&true).unwrap();
    ds.new_attr::<bool>().create("time_varying").unwrap().write_scalar(&true).unwrap();
}

/// Replaces `/group/name` by an f32 dataset of `shape` (all 0.5), with the usual attributes.
pub fn reshape_field(path: &Path, group: &str, name: &str, shape: &[usize]) {
    with_file(path, |f| {
        let g = f.group(group).unwrap();
        g.unlink(name).unwrap();
        let ds = g.new_dataset::<f32>().shape(shape.to_vec()).create(name).unwrap();
        ds.write_raw(&vec![0.5f32; shape.iter().product()]).unwrap();
        field_attrs(&ds);
    })
}

/// Replaces `/group/name` by a fixed-length string dataset of the same shape.
pub fn retype_field_as_text(path: &Path, group: &str, name: &str) {
    with_file(path, |f| {
        let g = f.group(group).unwrap();
        let shape = g.dataset(name).unwrap().shape();
        g.unlink(name).unwrap();
        let ds = g.new_dataset::<FixedAscii<4>>().shape(shape.clone()).create(name).unwrap();
        let v = FixedAscii::<4>::from_ascii(b"abcd").unwrap();
        ds.write_raw(&vec![v; shape.iter().product()]).unwrap();
        field_attrs(&ds);
    })
}

/// Removes a dataset or group.
pub fn unlink(path: &Path, item: &str) {
    with_file(path, |f| f.unlink(item).unwrap())
}

/// Removes a root attribute.
pub fn delete_root_attr(path: &Path, name: &str) {
    with_file(path, |f| f.delete_attr(name).unwrap())
}

/// Replaces a root attribute by a string.
pub fn root_attr_as_string(path: &Path, name: &str, value: &str) {
    with_file(path, |f| {
        f.delete_attr(name).unwrap();
        let v: VarLenUnicode = value.parse().unwrap();
        f.new_attr::<VarLenUnicode>().create(name).unwrap().write_scalar(&v).unwrap();
    })
}

/// Replaces a root attribute by an integer.
pub fn root_attr_as_int(path: &Path, name: &str, value: i64) {
    with_file(path, |f| {
        f.delete_attr(name).unwrap();
        f.new_attr::<i64>().create(name).unwrap().write_scalar(&value).unwrap();
    })
}
