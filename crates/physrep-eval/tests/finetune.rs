//! End-to-end fine-tuning on the Well fixture (`fixtures/well/active_matter`: 16×16 grid, 34 frames;
//! 4 + 16-frame windows at the default stride 4: 16 / 8 / 8 windows): a tiny MPP run (4 context frames at 16², two updates) pretrained
//! here is fine-tuned with its attentive head. The training MSE falls far below the predict-the-mean
//! floor, the trunk trains while the unused decoder stays as pretrained, the reported epoch is the
//! argmin of the valid curve and its test score is that epoch's, runs
//! with the same seed agree, an interrupted run resumes to identical results, and a run of another
//! method is refused with a typed error. (The fixture's valid and test labels lie outside the training
//! range, so valid/test MSEs are only checked for plumbing, not for quality.)

use std::path::{Path, PathBuf};

use burn::prelude::*;
use physrep_eval::finetune::{AvitRegressor, FINETUNE_PROBE};
use physrep_eval::{finetune_run, EvalError, FinetuneOptions, ProbeReport};
use physrep_nn::attentive_probe::AttentiveProbeConfig;
use physrep_nn::Cpu;
use physrep_train::checkpoint::load_module;
use physrep_train::{load_mpp_model, pretrain, MethodKind, Preset, PretrainOptions};
use physrep_well::{Split, WellDataset, WindowSpec};

fn fixture() -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(shared.exists(), "shared fixtures not found at {} (CI always provides ../shared)", shared.display());
    shared.join("fixtures/well/active_matter")
}

/// A finished tiny run of `method` on the fixture (2 updates of 4 windows), with extra `overrides`.
fn tiny_run(method: MethodKind, out: &Path, overrides: &[&str]) {
    let mut o = PretrainOptions::new(method, fixture(), out);
    o.preset = Some(Preset::Tiny);
    let fixed = ["train.epochs=1", "train.max_updates=2", "train.micro_batch=4", "train.global_batch=4", "train.max_valid_batches=1"];
    o.overrides = fixed.iter().chain(overrides).map(|s| s.to_string()).collect();
    let summary = pretrain(&o).unwrap();
    assert!(summary.finished, "{summary:?}");
}

fn options(run: &Path, out: &Path, epochs: usize) -> FinetuneOptions {
    FinetuneOptions {
        run_dir: run.to_path_buf(),
        data_dir: fixture(),
        out_dir: Some(out.to_path_buf()),
        lr: 3e-3,
        epochs,
        batch_size: 2,
        micro_batch: 1,
        eval_batch: 8,
        seed: 3,
        plots: false,
        ..Default::default()
    }
}

/// MSE of predicting the training windows' mean label on the training windows themselves.
fn train_floor() -> f64 {
    let ds = WellDataset::open(fixture()).unwrap();
    let spec = WindowSpec { context: 4, stride: 4, ..WindowSpec::paper("active_matter") };
    let labels: Vec<Vec<f64>> = ds.windows(Split::Train, &spec).unwrap().iter().map(|w| ds.labels(Split::Train, w.file).unwrap()).collect();
    let (n, p) = (labels.len() as f64, labels[0].len());
    let mut total = 0.0;
    for j in 0..p {
        let mean = labels.iter().map(|l| l[j]).sum::<f64>() / n;
        total += labels.iter().map(|l| (l[j] - mean).powi(2)).sum::<f64>() / n;
    }
    total / p as f64
}

#[test]
fn finetuning_fits_the_training_set_reports_the_best_valid_epoch_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("mpp");
    tiny_run(MethodKind::Mpp, &run, &["data.resolution=16", "data.context_frames=4"]);
    let mut opts = options(&run, &tmp.path().join("a"), 8);
    opts.plots = true;
    let report = finetune_run(&opts).unwrap();
    assert_eq!((report.windows["train"], report.windows["valid"], report.windows["test"]), (16, 8, 8));
    assert_eq!(report.results.len(), 1);
    let r = &report.results[0];
    assert_eq!(r.probe, FINETUNE_PROBE);
    assert_eq!((r.train_loss.len(), r.valid_curve.len()), (8, 8));
    // Two training files → two label vectors; the AViT must tell their windows apart, not just learn the mean.
    let floor = train_floor();
    assert!((floor - 0.552).abs() < 0.01, "train floor {floor}");
    assert!(r.train_loss[7] < 0.1 * floor && r.train_loss[7] < r.train_loss[0], "training MSE {:?} vs floor {floor}", r.train_loss);
    // The reported epoch is the first argmin of the valid curve, and valid is reported there.
    let argmin = (0..8).fold(0, |b, i| if r.valid_curve[i] < r.valid_curve[b] { i } else { b });
    assert_eq!(r.hyper["best_epoch"], argmin as f64, "valid curve {:?}", r.valid_curve);
    assert_eq!(r.valid.mean, r.valid_curve[argmin]);
    assert_eq!(r.valid.per_param.len(), 2);
    assert!(r.test.is_some() && r.floor_test.is_some() && r.floor_valid.mean.is_finite());
    let [lo, hi] = r.test_ci95.expect("bootstrap interval of the test MSE");
    assert!(lo <= hi && lo.is_finite() && hi.is_finite(), "{lo} {hi}");
    let out = opts.out_dir();
    for f in ["results.json", "results.md", "scatter_finetune_test_alpha.png"] {
        assert!(out.join(f).exists(), "missing {f}");
    }
    let checkpoint = physrep_train::Checkpoint::latest(&out.join("checkpoints")).unwrap().expect("a checkpoint after every epoch");
    assert!(checkpoint.dir.join("best.mpk").exists(), "the best epoch's weights are checkpointed");
    // results.json holds the report (serde_json's default parser may be one ulp off on floats).
    let back = ProbeReport::read_json(&out.join("results.json")).unwrap();
    assert_eq!((&back.results[0].hyper, back.windows.len()), (&r.hyper, 3));
    assert!((back.results[0].valid.mean - r.valid.mean).abs() <= 1e-15 * r.valid.mean);

    // End to end: the last epoch's weights (checkpoint) have a moved AViT trunk, while the next-frame
    // decoder, which no prediction uses, is exactly as pretrained.
    let device = Default::default();
    let (pretrained, _) = load_mpp_model::<Cpu>(&run, &device).unwrap();
    let head = AttentiveProbeConfig { dim: 32, num_outputs: 2, ..opts.head.clone() }.init::<Cpu>(0, &device).unwrap();
    let shell = AvitRegressor { encoder: pretrained.clone(), head };
    let tuned = load_module(shell, &checkpoint.model_path(), &device).unwrap().encoder;
    let values = |t: Tensor<Cpu, 4>| t.into_data().to_vec::<f32>().unwrap();
    assert_ne!(
        values(tuned.trunk.embed.conv1.weight.val()),
        values(pretrained.trunk.embed.conv1.weight.val()),
        "the AViT stem did not train"
    );
    assert_eq!(values(tuned.debed.out_kernel.val()), values(pretrained.debed.out_kernel.val()), "the unused decoder changed");
    assert_eq!(values(tuned.debed.deconv1.weight.val()), values(pretrained.debed.deconv1.weight.val()));

    // A fresh run stopped right after the selected epoch: same seed → the same curves up to there,
    // and its test score (of the same best epoch) equals the reported one: test is scored with the
    // selected epoch's weights, not the last epoch's.
    let short = options(&run, &tmp.path().join("b"), argmin + 1);
    let p = &finetune_run(&short).unwrap().results[0];
    assert_eq!((&p.train_loss[..], &p.valid_curve[..]), (&r.train_loss[..=argmin], &r.valid_curve[..=argmin]));
    assert_eq!(p.hyper["best_epoch"], argmin as f64);
    assert_eq!(p.test, r.test);
    // Asking the stopped run for all 8 epochs continues from its checkpoint: identical to the
    // uninterrupted run.
    let resumed = finetune_run(&FinetuneOptions { epochs: 8, ..short }).unwrap();
    assert_eq!(resumed.results, report.results, "a resumed run differs from an uninterrupted one");
}

#[test]
fn a_run_of_another_method_is_refused_with_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let jepa = tmp.path().join("jepa");
    tiny_run(MethodKind::Jepa, &jepa, &["method.vicreg.allow_rank_deficient=true"]);
    let opts = FinetuneOptions { run_dir: jepa.clone(), data_dir: fixture(), ..Default::default() };
    match finetune_run(&opts) {
        Err(e @ EvalError::NotFinetunable { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("jepa") && msg.contains(&jepa.display().to_string()), "{msg}");
        }
        other => panic!("expected NotFinetunable, got {other:?}"),
    }
    // Bad options are refused before anything is loaded.
    let bad = FinetuneOptions { batch_size: 0, ..opts };
    assert!(matches!(finetune_run(&bad), Err(EvalError::Config(_))));
}
