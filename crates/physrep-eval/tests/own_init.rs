//! `probe_run` with `own_init`: the run's own initial weights (`RUN/init.mpk`) are probed into
//! `RUN/probe-init`, with the same layout as the trained encoder's `RUN/probe`, and give other
//! features (hence other scores) than the encoder after a few updates; a learning curve probes the
//! initial weights and every checkpoint, its first and last points equal to those probes. Fixture:
//! active_matter (12 / 6 / 6 windows), a tiny JEPA run of 6 updates at 32².

use std::path::{Path, PathBuf};

use physrep_eval::evaluate::ProbeKind;
use physrep_eval::learning_curve::learning_curve;
use physrep_eval::{probe_run, ProbeOptions};
use physrep_train::{pretrain, MethodKind, Preset, PretrainOptions};

fn fixture() -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(shared.exists(), "shared fixtures not found at {} (CI always provides ../shared)", shared.display());
    shared.join("fixtures/well/active_matter")
}

/// A tiny JEPA run of 6 updates in `run`, with `extra` overrides.
fn tiny_run(run: &Path, extra: &[&str]) {
    let mut o = PretrainOptions::new(MethodKind::Jepa, fixture(), run);
    o.preset = Some(Preset::Tiny);
    o.overrides = [
        "train.epochs=2",
        "train.max_updates=6",
        "train.micro_batch=4",
        "train.global_batch=4",
        "train.lr=1e-2",
        "train.max_valid_batches=1",
        "method.vicreg.allow_rank_deficient=true",
    ]
    .map(String::from)
    .to_vec();
    o.overrides.extend(extra.iter().map(|s| s.to_string()));
    assert!(pretrain(&o).unwrap().finished);
}

/// Ridge on all windows, 3 epochs, no plots.
fn linear_opts(run: &Path) -> ProbeOptions {
    let mut opts = ProbeOptions {
        run_dir: run.to_path_buf(),
        data_dir: fixture(),
        batch_size: Some(4),
        accum: Some(1),
        plots: false,
        ..Default::default()
    };
    opts.eval.probes = vec![ProbeKind::Linear];
    opts.eval.fractions = vec![1.0];
    opts.eval.train.epochs = 3;
    opts
}

#[test]
fn own_init_probes_the_runs_initial_weights_beside_the_trained_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("jepa");
    tiny_run(&run, &[]);
    let opts = linear_opts(&run);
    let trained = probe_run(&opts).unwrap();
    let init_opts = ProbeOptions { own_init: true, ..opts.clone() };
    let init = probe_run(&init_opts).unwrap();
    for dir in ["probe", "probe-init"] {
        assert!(run.join(dir).join("results.json").exists(), "{dir}/results.json");
    }
    assert!(init.encoder.contains("own init") && !trained.encoder.contains("init"), "{} / {}", init.encoder, trained.encoder);
    let mse = |r: &physrep_eval::ProbeReport| r.results[0].valid.mean;
    assert_ne!(mse(&init), mse(&trained), "the initial and trained encoders gave the same probe score");
    // Same seed → the same initial-weight probe.
    assert_eq!(mse(&probe_run(&init_opts).unwrap()), mse(&init));
    let e = probe_run(&ProbeOptions { random_init: true, ..init_opts }).unwrap_err().to_string();
    assert!(e.contains("exclude"), "{e}");
}

#[test]
fn learning_curve_probes_the_initial_weights_and_every_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("jepa");
    tiny_run(&run, &["train.checkpoint_every=2", "train.keep_checkpoints=0"]);
    let opts = linear_opts(&run);
    let curve = learning_curve(&opts).unwrap();
    let updates: Vec<u64> = curve.points.iter().map(|p| p.update).collect();
    assert_eq!(updates, [0, 2, 4, 6]);
    assert!(run.join("learning-curve.json").exists() && run.join("probe-update-4/results.json").exists());
    // Its ends are the own-init probe and the trained encoder's (the last checkpoint holds the final weights).
    let valid = |r: &physrep_eval::ProbeReport| r.results[0].valid.mean;
    let init = probe_run(&ProbeOptions { own_init: true, ..opts.clone() }).unwrap();
    assert_eq!(curve.points[0].valid_mse, valid(&init));
    assert_eq!(curve.points[3].valid_mse, valid(&probe_run(&opts).unwrap()));
    assert_ne!(curve.points[0].valid_mse, curve.points[3].valid_mse);
    // A checkpoint that was not kept is an error naming the kept ones.
    let e = probe_run(&ProbeOptions { checkpoint: Some(3), ..opts.clone() }).unwrap_err().to_string();
    assert!(e.contains("no checkpoint after 3 updates") && e.contains("[2, 4, 6]"), "{e}");
    assert!(learning_curve(&ProbeOptions { own_init: true, ..opts.clone() }).is_err());
    // Into another directory: the same curve, each point under DIR/update-<u>, nothing new in the run.
    let dir = tmp.path().join("curve");
    let elsewhere = learning_curve(&ProbeOptions { out_dir: Some(dir.clone()), ..opts }).unwrap();
    assert_eq!(elsewhere.points, curve.points);
    assert!(
        dir.join("learning-curve.json").exists()
            && dir.join("update-0/results.json").exists()
            && dir.join("update-6/results.json").exists()
    );
    assert!(!run.join("probe-update-0").exists());
}
