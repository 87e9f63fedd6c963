//! Every kind of bad input gives a typed error naming the file and what was expected — never a panic.

mod common;

use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use physrep_well::write::{BcKind, BoundarySpec, FieldSpec, TrajectoryFields, WellFileHeader, WellFileWriter};
use physrep_well::{Crop, LabelTransform, Preprocess, Split, WellDataset, WellError, WindowRef, WindowSpec};

/// Writes a 1-trajectory file with one t0 and one t1 field, values from `value(t, i, j)`.
fn write_small(path: &Path, nx: usize, ny: usize, frames: usize, value: impl Fn(usize, usize, usize) -> f32) {
    let h = WellFileHeader {
        dataset_name: "toy".into(),
        n_trajectories: 1,
        parameters: vec![("nu".into(), 0.5)],
        time: (0..frames).map(|k| k as f32).collect(),
        x: (0..nx).map(|i| i as f32).collect(),
        y: (0..ny).map(|j| j as f32).collect(),
        boundary_conditions: vec![BoundarySpec { name: "x_periodic".into(), dim: "x".into(), kind: BcKind::Periodic }],
        fields: vec![FieldSpec::new("u", 0), FieldSpec::new("v", 1)],
        extra_attrs: vec![],
        deflate: None,
    };
    let u = ArrayD::from_shape_fn(IxDyn(&[frames, nx, ny]), |d| value(d[0], d[1], d[2]));
    let v = ArrayD::from_shape_fn(IxDyn(&[frames, nx, ny, 2]), |d| d[3] as f32);
    let mut w = WellFileWriter::create(path, h).unwrap();
    w.write_trajectory(&TrajectoryFields { fields: vec![u.view(), v.view()] }).unwrap();
    w.finish().unwrap();
}

fn toy_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("toy");
    write_small(&dir.join("data/train/a.hdf5"), 4, 3, 8, |t, i, j| (t + i + j) as f32);
    dir
}

fn mentions(e: &WellError, parts: &[&str]) {
    let msg = e.to_string();
    for p in parts {
        assert!(msg.contains(p), "error `{msg}` should mention `{p}`");
    }
}

#[test]
fn missing_split_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = toy_dir(tmp.path());
    let ds = WellDataset::open(&dir).unwrap();
    let e = ds.windows(Split::Valid, &WindowSpec { context: 1, target: 1, stride: 1 }).unwrap_err();
    assert!(matches!(e, WellError::MissingSplit { .. }));
    mentions(&e, &["toy", "data/valid"]);
    // A directory without any split folder cannot be opened.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(empty.join("data")).unwrap();
    let e = WellDataset::open(&empty).unwrap_err();
    assert!(matches!(e, WellError::MissingSplit { .. }), "{e}");
    let e = WellDataset::open(tmp.path().join("nowhere")).unwrap_err();
    mentions(&e, &["nowhere"]);
}

#[test]
fn file_that_is_not_hdf5() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = toy_dir(tmp.path());
    std::fs::write(dir.join("data/train/b.hdf5"), b"this is not an HDF5 file\n").unwrap();
    let e = WellDataset::open(&dir).unwrap_err();
    assert!(matches!(e, WellError::NotHdf5 { .. }), "{e}");
    mentions(&e, &["b.hdf5", "HDF5"]);
}

#[test]
fn truncated_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("am");
    common::copy_dir(&common::fixture("active_matter"), &dir);
    let victim = dir.join("data/train/active_matter_L_10.0_zeta_9.0_alpha_-3.0.hdf5");
    let len = std::fs::metadata(&victim).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&victim).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let e = WellDataset::open(&dir).unwrap_err();
    mentions(&e, &["zeta_9.0_alpha_-3.0.hdf5"]);
}

#[test]
fn missing_group_and_missing_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = toy_dir(tmp.path());
    let file = dir.join("data/train/a.hdf5");
    {
        let f = hdf5::File::open_rw(&file).unwrap();
        f.unlink("t1_fields/v").unwrap();
    }
    let e = WellDataset::open(&dir).unwrap_err();
    assert!(matches!(e, WellError::Missing { .. }), "{e}");
    mentions(&e, &["a.hdf5", "/t1_fields/v", "field_names"]);
    {
        let f = hdf5::File::open_rw(&file).unwrap();
        f.unlink("scalars").unwrap();
    }
    let e = WellDataset::open(&dir).unwrap_err();
    mentions(&e, &["a.hdf5", "group `/scalars`"]);
}

#[test]
fn wrong_rank() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = toy_dir(tmp.path());
    let file = dir.join("data/train/a.hdf5");
    {
        let f = hdf5::File::open_rw(&file).unwrap();
        f.unlink("t0_fields/u").unwrap();
        let g = f.group("t0_fields").unwrap();
        g.new_dataset::<f32>().shape([1, 8, 12]).create("u").unwrap();
    }
    let e = WellDataset::open(&dir).unwrap_err();
    assert!(matches!(e, WellError::Shape { .. }), "{e}");
    mentions(&e, &["a.hdf5", "/t0_fields/u", "[1, 8, 12]", "[1, 8, 4, 3]", "rank"]);
}

#[test]
fn mismatched_spatial_size_between_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = toy_dir(tmp.path());
    write_small(&dir.join("data/valid/b.hdf5"), 5, 3, 8, |_, _, _| 0.0);
    let e = WellDataset::open(&dir).unwrap_err();
    assert!(matches!(e, WellError::Mismatch { .. }), "{e}");
    mentions(&e, &["b.hdf5", "a.hdf5", "[5, 3]", "[4, 3]"]);
}

#[test]
fn nan_or_inf_in_a_window() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("toy");
    write_small(&dir.join("data/train/a.hdf5"), 4, 3, 8, |t, i, j| {
        if (t, i, j) == (5, 2, 1) {
            f32::NAN
        } else if t == 7 {
            f32::INFINITY
        } else {
            1.0
        }
    });
    let ds = WellDataset::open(&dir).unwrap();
    let w = ds.windows(Split::Train, &WindowSpec { context: 2, target: 1, stride: 1 }).unwrap();
    assert_eq!(w.len(), 6);
    // Frames 0..5 are clean; 3..6 holds the NaN; 5..8 the NaN and the Infs.
    assert!(ds.read_sample(&w[0], &Preprocess::default(), 0).is_ok());
    let e = ds.read_sample(&w[3], &Preprocess::default(), 0).unwrap_err();
    assert!(matches!(e, WellError::NonFinite { .. }), "{e}");
    mentions(&e, &["a.hdf5", "/t0_fields/u", "trajectory 0", "frames 3..6"]);
}

#[test]
fn unknown_dataset_name() {
    let e = LabelTransform::paper("toy", &["nu".to_string()]).unwrap_err();
    assert!(matches!(e, WellError::UnknownDataset { .. }));
    mentions(&e, &["toy", "label"]);
    // The dataset itself opens: labels fall back to train-split z-scoring.
    let tmp = tempfile::tempdir().unwrap();
    let ds = WellDataset::open(toy_dir(tmp.path())).unwrap();
    assert_eq!(ds.label_names(), ["nu"]);
}

#[test]
fn window_longer_than_the_trajectory() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = WellDataset::open(toy_dir(tmp.path())).unwrap();
    let e = ds.windows(Split::Train, &WindowSpec { context: 5, target: 4, stride: 1 }).unwrap_err();
    assert!(matches!(e, WellError::WindowTooLong { need: 9, frames: 8, .. }), "{e}");
    mentions(&e, &["a.hdf5", "9 frames", "8 frames"]);
    let w = WindowRef { split: Split::Train, file: 0, trajectory: 0, t0: 0, context: 5, target: 4, target_trajectory: None };
    assert!(matches!(ds.read_window(&w, &Crop::FULL).unwrap_err(), WellError::WindowTooLong { .. }));
    let w = WindowRef { split: Split::Train, file: 0, trajectory: 1, t0: 0, context: 1, target: 1, target_trajectory: None };
    mentions(&ds.read_window(&w, &Crop::FULL).unwrap_err(), &["a.hdf5", "1 trajectories"]);
}
