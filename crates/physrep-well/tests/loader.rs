//! Samples (crop, resize, noise, normalisation) and the batch loader (seeded order, drop_last,
//! reproducibility regardless of worker count).

mod common;

use std::sync::Arc;

use ndarray::s;
use physrep_well::{noise_seed, Crop, Loader, LoaderConfig, Normalization, Preprocess, Split, WellDataset, WindowSpec};

#[test]
fn paper_sample_shapes_crop_and_labels() {
    let ds = WellDataset::open(common::fixture("rayleigh_benard")).unwrap();
    let spec = WindowSpec::paper(ds.name());
    let w = ds.windows(Split::Train, &spec).unwrap()[0];
    // RB 32×8 → middle quarter of x: rows 12..20, all 8 columns; resized to 16×16.
    let pre = Preprocess::paper(ds.name(), Some([16, 16]), 0.0);
    let s = ds.read_sample(&w, &pre, 0).unwrap();
    assert_eq!(s.context.dim(), (4, 16, 16, 16));
    assert_eq!(s.target.dim(), (4, 16, 16, 16));
    assert_eq!(s.params, vec![1e6, 0.1]);
    assert!((s.labels[0] as f64 - (0.1 - 2.69) / 3.38).abs() < 1e-6);
    let raw = ds.read_window(&w, &Crop::FULL).unwrap();
    let crop = ds.read_window(&w, &pre.crop).unwrap();
    assert_eq!(crop, raw.slice(s![.., .., 12..20, ..]));
    // Without resize the crop comes through untouched; context / target split at 16.
    let s2 = ds.read_sample(&w, &Preprocess { resize: None, ..pre.clone() }, 0).unwrap();
    assert_eq!(s2.context, crop.slice(s![.., ..16, .., ..]));
    assert_eq!(s2.target, crop.slice(s![.., 16.., .., ..]));
    // Resize to the same size is skipped (bit-identical).
    let s3 = ds.read_sample(&w, &Preprocess { resize: Some([8, 8]), ..pre.clone() }, 0).unwrap();
    assert_eq!(s3.context, s2.context);
    // Noise: seeded, and different seeds differ.
    let noisy = Preprocess { noise_std: 1.0, ..pre.clone() };
    let a = ds.read_sample(&w, &noisy, 5).unwrap();
    let b = ds.read_sample(&w, &noisy, 5).unwrap();
    let c = ds.read_sample(&w, &noisy, 6).unwrap();
    assert_eq!(a.context, b.context);
    assert_ne!(a.context, c.context);
    let diff = &a.context - &s.context;
    let var = diff.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / diff.len() as f64;
    assert!((var - 1.0).abs() < 0.05, "noise variance {var}");
}

#[test]
fn normalisation_uses_stats_yaml() {
    let ds = WellDataset::open(common::fixture("shear_flow")).unwrap();
    let st = ds.stats().expect("fixture has stats.yaml").clone();
    let w = ds.windows(Split::Train, &WindowSpec::paper(ds.name())).unwrap()[0];
    let raw = ds.read_sample(&w, &Preprocess::default(), 0).unwrap();
    let z = ds.read_sample(&w, &Preprocess { normalization: Normalization::ZScore, ..Default::default() }, 0).unwrap();
    let r = ds.read_sample(&w, &Preprocess { normalization: Normalization::Rms, ..Default::default() }, 0).unwrap();
    // Channel 3 = velocity_y (component 1 of velocity); channel 0 = pressure.
    let v = st.field("velocity").unwrap();
    let p = st.field("pressure").unwrap();
    for (c, mean, std, rms) in [(3, v.mean[1], v.std[1], v.rms[1]), (0, p.mean[0], p.std[0], p.rms[0])] {
        let (x, zz, rr) = (raw.context[[c, 3, 4, 5]] as f64, z.context[[c, 3, 4, 5]] as f64, r.context[[c, 3, 4, 5]] as f64);
        assert!((zz - (x - mean) / std).abs() < 1e-5, "{c}");
        assert!((rr - x / rms).abs() < 1e-5, "{c}");
    }
    // Without stats.yaml normalisation is an error naming the file.
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(&common::fixture("shear_flow"), tmp.path());
    std::fs::remove_file(tmp.path().join("stats.yaml")).unwrap();
    let ds = WellDataset::open(tmp.path()).unwrap();
    let e = ds.read_sample(&w, &Preprocess { normalization: Normalization::ZScore, ..Default::default() }, 0).unwrap_err();
    assert!(e.to_string().contains("stats.yaml"), "{e}");
}

fn collect(ds: &Arc<WellDataset>, cfg: LoaderConfig, pre: &Preprocess) -> Vec<physrep_well::Batch> {
    let windows = ds.windows(Split::Train, &WindowSpec { context: 3, target: 2, stride: 2 }).unwrap();
    Loader::new(ds.clone(), windows, pre.clone(), cfg).map(|b| b.unwrap()).collect()
}

#[test]
fn loader_is_reproducible_for_any_worker_count() {
    let ds = Arc::new(WellDataset::open(common::fixture("active_matter")).unwrap());
    let n = ds.windows(Split::Train, &WindowSpec { context: 3, target: 2, stride: 2 }).unwrap().len();
    assert_eq!(n, 2 * 2 * 15);
    let pre = Preprocess { noise_std: 0.5, resize: Some([8, 8]), ..Default::default() };
    let cfg = LoaderConfig { batch_size: 7, shuffle: true, drop_last: true, seed: 3, epoch: 0, workers: 0, prefetch: 2 };
    let base = collect(&ds, cfg.clone(), &pre);
    assert_eq!(base.len(), n / 7);
    assert_eq!(base[0].context.dim(), (7, 11, 3, 8, 8));
    assert_eq!(base[0].target.dim(), (7, 11, 2, 8, 8));
    assert_eq!(base[0].labels.dim(), (7, 2));
    for workers in [1, 3] {
        let other = collect(&ds, LoaderConfig { workers, prefetch: 3, ..cfg.clone() }, &pre);
        assert_eq!(other.len(), base.len());
        for (a, b) in base.iter().zip(&other) {
            assert_eq!(a.windows, b.windows);
            assert_eq!(a.context, b.context);
            assert_eq!(a.target, b.target);
            assert_eq!(a.labels, b.labels);
        }
    }
    // A sample in a batch equals read_sample with the documented noise seed.
    let w = base[1].windows[2];
    let s = ds.read_sample(&w, &pre, noise_seed(3, 0, &w)).unwrap();
    assert_eq!(base[1].context.slice(s![2, .., .., .., ..]), s.context);
    // Another epoch reshuffles; no shuffle keeps the given order; drop_last off keeps the remainder.
    let e1 = collect(&ds, LoaderConfig { epoch: 1, ..cfg.clone() }, &pre);
    assert_ne!(
        e1.iter().flat_map(|b| b.windows.clone()).collect::<Vec<_>>(),
        base.iter().flat_map(|b| b.windows.clone()).collect::<Vec<_>>()
    );
    let plain = collect(&ds, LoaderConfig { shuffle: false, drop_last: false, ..cfg.clone() }, &pre);
    assert_eq!(plain.len(), n.div_ceil(7));
    assert_eq!(plain.last().unwrap().windows.len(), n % 7);
    let order: Vec<_> = plain.iter().flat_map(|b| b.windows.clone()).collect();
    assert_eq!(order, ds.windows(Split::Train, &WindowSpec { context: 3, target: 2, stride: 2 }).unwrap());
    // Every window appears exactly once per epoch.
    let mut seen: Vec<_> =
        collect(&ds, LoaderConfig { drop_last: false, workers: 2, ..cfg }, &pre).iter().flat_map(|b| b.windows.clone()).collect();
    seen.sort_by_key(|w| (w.file, w.trajectory, w.t0));
    assert_eq!(seen, order);
}

#[test]
fn loader_can_be_dropped_early() {
    let ds = Arc::new(WellDataset::open(common::fixture("active_matter")).unwrap());
    let windows = ds.windows(Split::Train, &WindowSpec { context: 1, target: 1, stride: 1 }).unwrap();
    let mut l =
        Loader::new(ds, windows, Preprocess::default(), LoaderConfig { batch_size: 2, workers: 2, prefetch: 1, ..Default::default() });
    assert!(l.next().unwrap().is_ok());
    drop(l); // must not hang
}
