//! End to end on the Well fixture (`fixtures/well/active_matter`: 16×16 grid, 34 frames, 12/6/6
//! windows) with a tiny randomly initialised conv encoder: extraction + cache, every probe, floors,
//! fractions, results files byte-identical across runs, cache invalidation, label round trip, plots.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use physrep_eval::compare::{compare, ArmPredictions};
use physrep_eval::evaluate::ProbeKind;
use physrep_eval::extract::{extract, ClipSource};
use physrep_eval::predictions::{predictions_path, PredictionTable};
use physrep_eval::sweep::SweepConfig;
use physrep_eval::well_source::WellClips;
use physrep_eval::{probe_run_with, EncoderHandle, ProbeOptions};
use physrep_nn::attentive_probe::AttentiveProbeConfig;
use physrep_nn::{ConvEncoderConfig, Cpu};
use physrep_well::{Preprocess, Split, WellDataset, WindowSpec};

fn shared() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(p.exists(), "shared fixtures not found at {} (CI always provides ../shared)", p.display());
    p
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn probe_run_on_fixture_is_deterministic_and_caches_honestly() {
    let data = shared().join("fixtures/well/active_matter");
    let device = Default::default();
    let cfg = ConvEncoderConfig { in_channels: 11, dims: vec![4, 4, 4, 8, 8], depths: vec![1, 1, 1, 1, 1], ..Default::default() };
    let handle = EncoderHandle {
        encoder: Box::new(cfg.init::<Cpu>(&device).unwrap()),
        id: "tiny-random-test-encoder".into(),
        description: "tiny random conv encoder".into(),
        frames: 16,
        resolution: Some([32, 32]),
    };
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let mut opts = ProbeOptions {
        data_dir: data.clone(),
        out_dir: Some(tmp.path().join("out")),
        cache_dir: Some(cache.clone()),
        noise_draws: 2,
        batch_size: Some(4),
        accum: Some(2),
        ..Default::default()
    };
    opts.eval.probes = ProbeKind::ALL.to_vec();
    opts.eval.fractions = vec![0.5, 1.0];
    opts.eval.attentive = AttentiveProbeConfig { num_heads: 2, mlp_ratio: 2.0, ..Default::default() };
    opts.eval.train.epochs = 3;
    opts.eval.sweep = SweepConfig { lrs: vec![1e-3, 3e-3], weight_decays: vec![0.01] };
    opts.eval.knn_ks = vec![1, 3];

    let report = probe_run_with(&opts, &handle).unwrap();
    assert_eq!(report.dataset, "active_matter");
    assert_eq!(report.label_names, vec!["alpha", "zeta"]);
    let w = &report.windows;
    assert_eq!((w["train"], w["valid"], w["test"]), (12, 6, 6));
    assert_eq!(report.results.len(), 8);
    assert_eq!(report.options["noise_std"], 1.0, "AM probe noise defaults to the paper's σ = 1");
    for r in &report.results {
        assert_eq!(r.train_windows, if r.fraction == 1.0 { 12 } else { 6 });
        assert!(r.floor_valid.mean.is_finite() && r.test.is_some());
    }
    // Train: 2 noise draws; valid and test: 1 each. Exactly the rows written.
    assert_eq!(count_files(&cache), 4);

    let out = opts.out_dir();
    for f in ["scatter_attentive_test_alpha.png", "scatter_knn_test_zeta.png", "data_efficiency.png", "results.md"] {
        assert!(out.join(f).exists(), "missing {f}");
    }
    // Per-window predictions of every (probe, fraction, split), scored exactly as results.json.
    assert_eq!(count_files(&out.join("predictions")), 16);
    for r in &report.results {
        let t = PredictionTable::read_csv(&predictions_path(&out, &r.probe, r.fraction, "test")).unwrap();
        assert_eq!(t.windows.len(), 6);
        let mse = physrep_eval::mse(&t.pred, &t.truth, 2).unwrap();
        assert!((mse.mean - r.test.as_ref().unwrap().mean).abs() < 1e-12, "{}: {} vs {:?}", r.probe, mse.mean, r.test);
    }
    let preds1 = std::fs::read(predictions_path(&out, "attentive", 0.5, "valid")).unwrap();
    let json1 = std::fs::read(out.join("results.json")).unwrap();
    let md1 = std::fs::read(out.join("results.md")).unwrap();
    // Same seed, fresh cache → byte-identical results.
    std::fs::remove_dir_all(&cache).unwrap();
    probe_run_with(&opts, &handle).unwrap();
    assert_eq!(json1, std::fs::read(out.join("results.json")).unwrap(), "results.json differs between runs");
    assert_eq!(md1, std::fs::read(out.join("results.md")).unwrap());
    assert_eq!(preds1, std::fs::read(predictions_path(&out, "attentive", 0.5, "valid")).unwrap());
    // Cached run: nothing new extracted, same bytes.
    probe_run_with(&opts, &handle).unwrap();
    assert_eq!(count_files(&cache), 4);
    assert_eq!(json1, std::fs::read(out.join("results.json")).unwrap());

    // A different noise σ or encoder never reuses those features.
    let mut cheap = opts.clone();
    cheap.eval.probes = vec![ProbeKind::Linear];
    cheap.eval.fractions = vec![1.0];
    cheap.noise_std = Some(0.5);
    probe_run_with(&cheap, &handle).unwrap();
    assert_eq!(count_files(&cache), 8);
    let other = EncoderHandle { id: "another-checkpoint".into(), ..handle };
    probe_run_with(&cheap, &other).unwrap();
    assert_eq!(count_files(&cache), 12);

    // Labels survive extraction and invert to the files' raw parameters.
    let ds = Arc::new(WellDataset::open(&data).unwrap());
    let windows = ds.windows(Split::Valid, &WindowSpec::paper("active_matter")).unwrap();
    let src =
        WellClips::new(ds.clone(), Split::Valid, windows.clone(), Preprocess::paper("active_matter", Some([32, 32]), 0.0), 1).unwrap();
    assert_eq!(src.clip_shape(), [11, 16, 32, 32]);
    let feats = extract(other.encoder.as_ref(), &src, 0, 4, false).unwrap();
    let pnames = ds.parameter_names().to_vec();
    for (i, w) in windows.iter().enumerate() {
        let z: Vec<f64> = feats.row_labels(i).iter().map(|v| *v as f64).collect();
        let raw = ds.label_transform().inverse(&z).unwrap();
        let params = ds.params(Split::Valid, w.file).unwrap();
        for (j, name) in ds.label_names().iter().enumerate() {
            let k = pnames.iter().position(|p| p == name).unwrap();
            assert!((raw[j] - params[k]).abs() <= 1e-5 * params[k].abs().max(1.0), "{name}: {} vs {}", raw[j], params[k]);
        }
    }
}

#[test]
fn stats_baseline_runs_like_an_encoder_and_compares_window_by_window() {
    let data = shared().join("fixtures/well/active_matter");
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = ProbeOptions { data_dir: data, out_dir: Some(tmp.path().join("stats")), noise_std: Some(0.0), ..Default::default() };
    opts.eval.probes = vec![ProbeKind::Linear, ProbeKind::Knn];
    opts.eval.fractions = vec![1.0];
    opts.eval.knn_ks = vec![1, 3];
    let stats = physrep_eval::baseline::stats_run(&opts, Some(16)).unwrap();
    assert_eq!((stats.windows["train"], stats.windows["valid"], stats.windows["test"]), (12, 6, 6));
    assert_eq!(stats.results.iter().map(|r| r.probe.as_str()).collect::<Vec<_>>(), ["linear", "knn"]);
    assert!(stats.results.iter().all(|r| r.test.is_some() && r.test_ci95.is_some()));
    let stats_dir = opts.out_dir();
    let json1 = std::fs::read(stats_dir.join("results.json")).unwrap();
    std::fs::remove_dir_all(stats_dir.join("cache")).unwrap();
    physrep_eval::baseline::stats_run(&opts, Some(16)).unwrap();
    assert_eq!(json1, std::fs::read(stats_dir.join("results.json")).unwrap(), "stats baseline is not deterministic");
    // An output directory is required.
    assert!(physrep_eval::baseline::stats_run(&ProbeOptions { out_dir: None, ..opts.clone() }, Some(16)).is_err());

    // A tiny random encoder on the same windows; the comparison's ratio is the ratio of the two
    // results.json test MSEs (one seed each).
    let device = Default::default();
    let cfg = ConvEncoderConfig { in_channels: 11, dims: vec![4, 4, 4, 8, 8], depths: vec![1, 1, 1, 1, 1], ..Default::default() };
    let handle = EncoderHandle {
        encoder: Box::new(cfg.init::<Cpu>(&device).unwrap()),
        id: "tiny-random-test-encoder".into(),
        description: "tiny random conv encoder".into(),
        frames: 16,
        resolution: Some([32, 32]),
    };
    let enc_opts = ProbeOptions { out_dir: Some(tmp.path().join("enc")), ..opts.clone() };
    let enc = probe_run_with(&enc_opts, &handle).unwrap();
    let load = |name: &str, dir: std::path::PathBuf| ArmPredictions::load(name, &[(0, dir)], "linear", 1.0).unwrap();
    let c = compare("active_matter", "linear", &load("stats", stats_dir), &load("random", enc_opts.out_dir()), 200, 1).unwrap();
    let want = stats.results[0].test.as_ref().unwrap().mean / enc.results[0].test.as_ref().unwrap().mean;
    assert!((c.ratio - want).abs() < 1e-9 * want, "{} vs {want}", c.ratio);
    assert!(c.ci95[0] <= c.ratio && c.ratio <= c.ci95[1]);
    // The fixture's test split is one parameter point (one file).
    assert_eq!((c.clusters, c.windows), (1, 6));
}
