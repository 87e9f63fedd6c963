//! Reads every fixture file and checks shapes, channel lists, parameters, labels and window counts.

mod common;

use ndarray::{s, ArrayD, IxDyn};
use physrep_well::{ChannelOrder, Crop, Split, WellDataset, WellFileInfo, WindowSpec};

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn active_matter() {
    let ds = WellDataset::open(common::fixture("active_matter")).unwrap();
    assert_eq!(ds.name(), "active_matter");
    assert_eq!(
        ds.channel_names(),
        strings(&["concentration", "velocity_x", "velocity_y", "D_xx", "D_xy", "D_yx", "D_yy", "E_xx", "E_xy", "E_yx", "E_yy"])
    );
    assert_eq!(ds.spatial(), [16, 16]);
    assert_eq!(ds.frames(), 34);
    assert_eq!(ds.parameter_names(), strings(&["L", "zeta", "alpha"]));
    assert_eq!(ds.label_names(), strings(&["alpha", "zeta"]));
    let spec = WindowSpec::paper("active_matter");
    assert_eq!(spec, WindowSpec { context: 16, target: 16, stride: 1 });
    for (split, files) in [(Split::Train, 2), (Split::Valid, 1), (Split::Test, 1)] {
        assert_eq!(ds.files(split).len(), files);
        assert_eq!(ds.trajectories(split), 2 * files);
        let w = ds.windows(split, &spec).unwrap();
        assert_eq!(w.len(), 2 * files * 3, "{split}");
        assert_eq!(ds.window_count(split, &spec), w.len());
    }
    // Sorted files: zeta_1.0_alpha_-1.0 before zeta_9.0_alpha_-3.0.
    assert_eq!(ds.params(Split::Train, 0).unwrap(), vec![10.0, 1.0, -1.0]);
    assert_eq!(ds.params(Split::Train, 1).unwrap(), vec![10.0, 9.0, -3.0]);
    let l = ds.labels(Split::Train, 0).unwrap();
    assert!((l[0] - 2.0 / 1.41).abs() < 1e-12 && (l[1] + 8.0 / 5.16).abs() < 1e-12);
    // Field-names order is identical for AM.
    let fnames = WellDataset::open_with(common::fixture("active_matter"), ChannelOrder::FieldNames).unwrap();
    assert_eq!(fnames.channel_names(), ds.channel_names());
}

#[test]
fn shear_flow_orders_and_rayleigh_name() {
    let ds = WellDataset::open(common::fixture("shear_flow")).unwrap();
    assert_eq!(ds.channel_names(), strings(&["pressure", "tracer", "velocity_x", "velocity_y"]));
    let well = WellDataset::open_with(common::fixture("shear_flow"), ChannelOrder::FieldNames).unwrap();
    assert_eq!(well.channel_names(), strings(&["tracer", "pressure", "velocity_x", "velocity_y"]));
    assert_eq!(ds.spatial(), [16, 32]);
    assert_eq!(ds.frames(), 34);
    assert_eq!(ds.parameter_names(), strings(&["Rayleigh", "Schmidt"]));
    assert_eq!(ds.label_names(), strings(&["Rayleigh", "Schmidt"]));
    let spec = WindowSpec::paper("shear_flow");
    assert_eq!(spec.stride, 4);
    assert_eq!(ds.windows(Split::Train, &spec).unwrap().len(), 2);
    assert_eq!(ds.windows(Split::Valid, &spec).unwrap().len(), 1);
    assert_eq!(ds.windows(Split::Test, &spec).unwrap().len(), 1);
    // Re = 1e4, Sc = 0.1 for the first train file.
    assert_eq!(ds.params(Split::Train, 0).unwrap(), vec![1e4, 0.1]);
    let l = ds.labels(Split::Train, 0).unwrap();
    assert!((l[0] - (4.0 - 4.85) / 0.61).abs() < 1e-12 && (l[1] - (0.1 - 2.69) / 3.38).abs() < 1e-12);

    // Same data, two channel orders: pressure and tracer swap.
    let w = ds.windows(Split::Train, &spec).unwrap()[0];
    let a = ds.read_window(&w, &Crop::FULL).unwrap();
    let b = well.read_window(&w, &Crop::FULL).unwrap();
    assert_eq!(a.slice(s![0, .., .., ..]), b.slice(s![1, .., .., ..]));
    assert_eq!(a.slice(s![1, .., .., ..]), b.slice(s![0, .., .., ..]));
    assert_eq!(a.slice(s![2.., .., .., ..]), b.slice(s![2.., .., .., ..]));
}

#[test]
fn rayleigh_benard() {
    let ds = WellDataset::open(common::fixture("rayleigh_benard")).unwrap();
    assert_eq!(ds.channel_names(), strings(&["buoyancy", "pressure", "velocity_x", "velocity_y"]));
    assert_eq!(ds.spatial(), [32, 8]);
    assert_eq!(ds.parameter_names(), strings(&["Rayleigh", "Prandtl"]));
    assert_eq!(ds.label_names(), strings(&["Prandtl", "Rayleigh"]));
    assert_eq!(ds.params(Split::Train, 0).unwrap(), vec![1e6, 0.1]);
    let l = ds.labels(Split::Valid, 0).unwrap();
    assert!((l[0] - (10.0 - 2.69) / 3.38).abs() < 1e-12 && (l[1] - 2.0 / 1.41).abs() < 1e-12);
    let spec = WindowSpec::paper("rayleigh_benard");
    assert_eq!(ds.windows(Split::Train, &spec).unwrap().len(), 2);
    let f = &ds.files(Split::Train)[0];
    let names: Vec<&str> = f.boundary_conditions.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["x_periodic", "y_wall_dirichlet"]);
    assert_eq!(f.boundary_conditions[1].bc_type, "WALL");
    assert_eq!(f.boundary_conditions[1].associated_dims, strings(&["y"]));
}

#[test]
fn dummy_dataset_from_the_wells_own_writer() {
    let ds = WellDataset::open(common::fixture("dummy_dataset")).unwrap();
    assert_eq!(ds.name(), "dummy_dataset");
    assert!(ds.has_split(Split::Train) && !ds.has_split(Split::Valid) && !ds.has_split(Split::Test));
    assert_eq!(ds.channel_names(), strings(&["field_x", "field_y"]));
    assert_eq!(ds.constant_field_names(), strings(&["constant_field"]));
    assert_eq!(ds.spatial(), [32, 32]);
    assert_eq!(ds.frames(), 10);
    assert_eq!(ds.parameter_names(), strings(&["a", "b"]));
    assert_eq!(ds.params(Split::Train, 0).unwrap(), vec![0.25, 0.75]);
    let f = &ds.files(Split::Train)[0];
    let tv: Vec<&str> = f.scalars.iter().filter(|s| s.time_varying).map(|s| s.name.as_str()).collect();
    assert_eq!(tv, ["time_varying_scalar"]);
    assert_eq!(f.time.len(), 10);
    assert!((f.time[9] - 1.0).abs() < 1e-6);
    // The paper's 16 + 16 windows do not fit in 10 frames: counted as 0, listed as an error.
    let paper = WindowSpec::paper("dummy_dataset");
    assert_eq!(paper.stride, 16);
    assert_eq!(ds.window_count(Split::Train, &paper), 0);
    assert!(ds.windows(Split::Train, &paper).is_err());
    // The Well's upstream test: windows of 1 + 1 frames, stride 1 → 2 · 9.
    let spec = WindowSpec { context: 1, target: 1, stride: 1 };
    assert_eq!(ds.windows(Split::Train, &spec).unwrap().len(), 18);
    // Unknown dataset: labels z-scored from the train files (one file: mean = value, std 1).
    assert_eq!(ds.labels(Split::Train, 0).unwrap(), vec![0.0, 0.0]);
}

/// Every fixture file: metadata agrees with the directory table, and every window read through the
/// hyperslab path equals the same region cut out of a full read of each dataset.
#[test]
fn every_fixture_file_reads_consistently() {
    let mut n_files = 0;
    let (mut chunked_deflate, mut contiguous) = (0, 0);
    for name in ["active_matter", "shear_flow", "rayleigh_benard", "dummy_dataset"] {
        let ds = WellDataset::open(common::fixture(name)).unwrap();
        for split in Split::ALL {
            for (fi, info) in ds.files(split).iter().enumerate() {
                n_files += 1;
                let again = WellFileInfo::read(&info.path).unwrap();
                assert_eq!(again.fields_h5, info.fields_h5);
                let h5 = hdf5::File::open(&info.path).unwrap();
                let spec = WindowSpec { context: 2, target: 1, stride: 3 };
                for w in ds.windows(split, &spec).unwrap().into_iter().filter(|w| w.file == fi) {
                    let win = ds.read_window(&w, &Crop::FULL).unwrap();
                    let mut c = 0;
                    for (g, field) in ds.fields() {
                        let d = h5.dataset(&format!("{g}/{}", field.name)).unwrap();
                        if d.filters().is_empty() && !d.is_chunked() {
                            contiguous += 1;
                        } else if !d.filters().is_empty() {
                            chunked_deflate += 1;
                        }
                        let full: ArrayD<f32> = d.read_dyn().unwrap();
                        let comps = field.components();
                        let full = full
                            .into_shape_with_order(IxDyn(&[
                                info.n_trajectories,
                                info.frames(),
                                info.spatial()[0],
                                info.spatial()[1],
                                comps,
                            ]))
                            .unwrap();
                        for k in 0..comps {
                            let want = full.slice(s![w.trajectory, w.t0..w.t0 + 3, .., .., k]);
                            assert_eq!(win.slice(s![c + k, .., .., ..]), want, "{} {g}/{} comp {k}", info.path.display(), field.name);
                        }
                        c += comps;
                    }
                }
            }
        }
    }
    assert_eq!(n_files, 13);
    assert!(chunked_deflate > 0 && contiguous > 0, "fixtures should cover both layouts ({chunked_deflate}, {contiguous})");
}
