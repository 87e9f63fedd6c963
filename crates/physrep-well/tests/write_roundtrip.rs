//! Writer: write → read back gives bit-identical data and equal metadata; a fixture file survives a
//! round trip; an unfinished writer leaves no file.

mod common;

use ndarray::{ArrayD, IxDyn};
use physrep_well::write::{AttrValue, BcKind, BoundarySpec, FieldSpec, TrajectoryFields, WellFileHeader, WellFileWriter};
use physrep_well::{Crop, Split, WellDataset, WellFileInfo, WindowSpec, FIELD_GROUPS};

fn header(n_traj: usize) -> WellFileHeader {
    WellFileHeader {
        dataset_name: "rayleigh_benard".into(),
        n_trajectories: n_traj,
        parameters: vec![("Rayleigh".into(), 1e8), ("Prandtl".into(), 2.0)],
        time: (0..20).map(|k| k as f32 * 0.25).collect(),
        x: (0..12).map(|i| 4.0 * i as f32 / 12.0).collect(),
        y: (0..6).map(|j| (1.0 - (std::f32::consts::PI * (j as f32 + 0.5) / 6.0).cos()) / 2.0).collect(),
        boundary_conditions: vec![
            BoundarySpec { name: "x_periodic".into(), dim: "x".into(), kind: BcKind::Periodic },
            BoundarySpec { name: "y_wall_dirichlet".into(), dim: "y".into(), kind: BcKind::Wall },
        ],
        fields: vec![FieldSpec::new("buoyancy", 0), FieldSpec::new("pressure", 0), FieldSpec::new("velocity", 1), FieldSpec::new("D", 2)],
        extra_attrs: vec![("generator".into(), AttrValue::Str("physrep test".into())), ("dt".into(), AttrValue::F64(1e-3))],
        deflate: None,
    }
}

fn traj_data(h: &WellFileHeader, traj: usize) -> Vec<ArrayD<f32>> {
    h.fields
        .iter()
        .enumerate()
        .map(|(fi, f)| {
            let mut shape = vec![h.time.len(), h.x.len(), h.y.len()];
            shape.extend(std::iter::repeat_n(2, f.order));
            let n: usize = shape.iter().product();
            // Arbitrary bit patterns incl. subnormals and negative zero.
            let v: Vec<f32> = (0..n)
                .map(|i| f32::from_bits(((i as u32).wrapping_mul(2654435761) ^ (fi as u32 * 77 + traj as u32)) & 0xBF7F_FFFF))
                .collect();
            ArrayD::from_shape_vec(IxDyn(&shape), v).unwrap()
        })
        .collect()
}

#[test]
fn write_then_read_is_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rayleigh_benard/data/train");
    let path = dir.join("rayleigh_benard_Rayleigh_1e8_Prandtl_2.hdf5");
    let h = header(2);
    let mut w = WellFileWriter::create(&path, h.clone()).unwrap();
    let data: Vec<Vec<ArrayD<f32>>> = (0..2).map(|t| traj_data(&h, t)).collect();
    for d in &data {
        assert!(!path.exists(), "final file must not exist before finish");
        w.write_trajectory(&TrajectoryFields { fields: d.iter().map(|a| a.view()).collect() }).unwrap();
    }
    // An attribute known only after the trajectories (as the generator's `ic_parameters`).
    w.write_attr("ic_parameters", &AttrValue::Strs(vec!["seed=1".into(), "seed=2".into()])).unwrap();
    assert_eq!(w.finish().unwrap(), path);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left behind");

    let info = WellFileInfo::read(&path).unwrap();
    assert_eq!(info.dataset_name, "rayleigh_benard");
    assert_eq!(info.n_trajectories, 2);
    assert_eq!(info.grid_type, "cartesian");
    assert_eq!(info.simulation_parameters, vec!["Rayleigh", "Prandtl"]);
    assert_eq!(info.parameters(), h.parameters);
    assert_eq!(info.time, h.time.iter().map(|&v| v as f64).collect::<Vec<_>>());
    assert_eq!(info.coords[0], h.x.iter().map(|&v| v as f64).collect::<Vec<_>>());
    assert_eq!(info.coords[1], h.y.iter().map(|&v| v as f64).collect::<Vec<_>>());
    assert_eq!(info.spatial_dims, vec!["x", "y"]);
    let bc = &info.boundary_conditions;
    assert_eq!((bc[0].name.as_str(), bc[0].bc_type.as_str()), ("x_periodic", "PERIODIC"));
    assert_eq!((bc[1].name.as_str(), bc[1].bc_type.as_str()), ("y_wall_dirichlet", "WALL"));
    assert_eq!(bc[1].associated_dims, vec!["y"]);
    assert_eq!(bc[1].mask, vec![true, false, false, false, false, true]);
    let names: Vec<(&str, usize)> = info.fields_named.iter().map(|f| (f.name.as_str(), f.order)).collect();
    assert_eq!(names, [("buoyancy", 0), ("pressure", 0), ("velocity", 1), ("D", 2)]);

    // Encodings exactly as h5py: enum bools, vlen strings, int64, 0-d f64 scalars, empty f64 lists.
    let f = hdf5::File::open(&path).unwrap();
    use hdf5::types::{IntSize, TypeDescriptor as TD};
    let td = |a: &hdf5::Attribute| a.dtype().unwrap().to_descriptor().unwrap();
    assert_eq!(td(&f.attr("dataset_name").unwrap()), TD::VarLenUnicode);
    assert_eq!(td(&f.attr("n_trajectories").unwrap()), TD::Integer(IntSize::U8));
    assert_eq!(f.attr("generator").unwrap().read_scalar::<hdf5::types::VarLenUnicode>().unwrap().as_str(), "physrep test");
    let late: Vec<String> =
        f.attr("ic_parameters").unwrap().read_raw::<hdf5::types::VarLenUnicode>().unwrap().iter().map(|s| s.to_string()).collect();
    assert_eq!(late, ["seed=1", "seed=2"]);
    let g = f.group("boundary_conditions/y_wall_dirichlet").unwrap();
    let af = g.attr("associated_fields").unwrap();
    assert_eq!((td(&af), af.shape()), (TD::Float(hdf5::types::FloatSize::U8), vec![0]));
    assert_eq!(td(&g.attr("sample_varying").unwrap()), TD::Boolean);
    assert_eq!(g.attr("associated_dims").unwrap().shape(), vec![1]);
    let sc = f.dataset("scalars/Rayleigh").unwrap();
    assert!(sc.is_scalar());
    assert_eq!(sc.read_scalar::<f64>().unwrap(), 1e8);
    let t2 = f.dataset("t2_fields/D").unwrap();
    assert!(t2.attr("symmetric").unwrap().read_scalar::<bool>().unwrap());
    assert!(!t2.attr("antisymmetric").unwrap().read_scalar::<bool>().unwrap());
    assert_eq!(t2.chunk(), Some(vec![1, 1, 12, 6, 2, 2]));
    assert!(f.dataset("dimensions/x").unwrap().attr("time_varying").is_ok());

    // Data: bit-identical.
    for (ti, d) in data.iter().enumerate() {
        for (fs, arr) in h.fields.iter().zip(d) {
            let ds = f.dataset(&format!("{}/{}", FIELD_GROUPS[fs.order], fs.name)).unwrap();
            let all: ArrayD<f32> = ds.read_dyn().unwrap();
            let got = all.index_axis(ndarray::Axis(0), ti);
            let same = got.iter().zip(arr.iter()).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{} trajectory {ti}", fs.name);
        }
    }
}

#[test]
fn dropped_writer_leaves_no_file_and_wrong_shapes_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.hdf5");
    let h = header(2);
    {
        let mut w = WellFileWriter::create(&path, h.clone()).unwrap();
        let d = traj_data(&h, 0);
        w.write_trajectory(&TrajectoryFields { fields: d.iter().map(|a| a.view()).collect() }).unwrap();
        let bad = ArrayD::<f32>::zeros(IxDyn(&[20, 12, 5]));
        let mut views: Vec<_> = d.iter().map(|a| a.view()).collect();
        views[0] = bad.view();
        let e = w.write_trajectory(&TrajectoryFields { fields: views }).unwrap_err();
        assert!(e.to_string().contains("buoyancy") && e.to_string().contains("[20, 12, 6]"), "{e}");
        // Finishing with 1 of 2 trajectories is an error, and drops the writer.
        assert!(w.finish().is_err());
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "no final and no temporary file");
}

/// A fixture file read completely and written again reads back identical (metadata and data).
#[test]
fn fixture_round_trip() {
    let src_ds = WellDataset::open(common::fixture("active_matter")).unwrap();
    let info = &src_ds.files(Split::Train)[0];
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("active_matter/data/train");
    let out = out_dir.join(info.path.file_name().unwrap());
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
    let h = WellFileHeader {
        dataset_name: info.dataset_name.clone(),
        n_trajectories: info.n_trajectories,
        parameters: info.parameters(),
        time: f32s(&info.time),
        x: f32s(&info.coords[0]),
        y: f32s(&info.coords[1]),
        boundary_conditions: info
            .boundary_conditions
            .iter()
            .map(|b| BoundarySpec { name: b.name.clone(), dim: b.associated_dims[0].clone(), kind: BcKind::parse(&b.bc_type).unwrap() })
            .collect(),
        fields: info.fields_named.iter().map(|f| FieldSpec::new(&f.name, f.order)).collect(),
        extra_attrs: vec![],
        deflate: Some(4),
    };
    let src = hdf5::File::open(&info.path).unwrap();
    let full: Vec<ArrayD<f32>> =
        h.fields.iter().map(|f| src.dataset(&format!("{}/{}", FIELD_GROUPS[f.order], f.name)).unwrap().read_dyn().unwrap()).collect();
    let mut w = WellFileWriter::create(&out, h).unwrap();
    for t in 0..info.n_trajectories {
        w.write_trajectory(&TrajectoryFields { fields: full.iter().map(|a| a.index_axis(ndarray::Axis(0), t)).collect() }).unwrap();
    }
    w.finish().unwrap();

    let back = WellFileInfo::read(&out).unwrap();
    assert_eq!(back.dataset_name, info.dataset_name);
    assert_eq!(back.parameters(), info.parameters());
    assert_eq!(back.time, info.time);
    assert_eq!(back.coords, info.coords);
    assert_eq!(back.fields_h5, info.fields_h5);
    assert_eq!(back.fields_named, info.fields_named);
    let names = |i: &WellFileInfo| {
        i.boundary_conditions.iter().map(|b| (b.name.clone(), b.bc_type.clone(), b.associated_dims.clone())).collect::<Vec<_>>()
    };
    assert_eq!(names(&back), names(info));
    // The whole dataset directory reads the same windows.
    let ds2 = WellDataset::open(tmp.path().join("active_matter")).unwrap();
    assert_eq!(ds2.channel_names(), src_ds.channel_names());
    let spec = WindowSpec::paper("active_matter");
    let w1 = src_ds.windows(Split::Train, &spec).unwrap();
    for w in ds2.windows(Split::Train, &spec).unwrap() {
        assert_eq!(ds2.read_window(&w, &Crop::FULL).unwrap(), src_ds.read_window(&w1[w.trajectory * 3 + w.t0], &Crop::FULL).unwrap());
    }
}
