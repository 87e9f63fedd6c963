//! `probe_run` with `own_init`: the run's own initial weights (`RUN/init.mpk`) are probed into
//! `RUN/probe-init`, with the same layout as the trained encoder's `RUN/probe`, and give other
//! features (hence other scores) than the encoder after a few updates. Fixture: active_matter
//! (12 / 6 / 6 windows), a tiny JEPA run of 6 updates at 32².

use std::path::{Path, PathBuf};

use physrep_eval::evaluate::ProbeKind;
use physrep_eval::{probe_run, ProbeOptions};
use physrep_train::{pretrain, MethodKind, Preset, PretrainOptions};

fn fixture() -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(
        shared.exists(),
        "shared fixtures not found at {} (CI always provides ../shared)",
        shared.display()
    );
    shared.join("fixtures/well/active_matter")
}

#[test]
fn own_init_probes_the_runs_initial_weights_beside_the_trained_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("jepa");
    let mut o = PretrainOptions::new(MethodKind::Jepa, fixture(), &run);
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
    assert!(pretrain(&o).unwrap().finished);

    let mut opts = ProbeOptions {
        run_dir: run.clone(),
        data_dir: fixture(),
        batch_size: Some(4),
        accum: Some(1),
        plots: false,
        ..Default::default()
    };
    opts.eval.probes = vec![ProbeKind::Linear];
    opts.eval.fractions = vec![1.0];
    opts.eval.train.epochs = 3;
    let trained = probe_run(&opts).unwrap();
    let init_opts = ProbeOptions {
        own_init: true,
        ..opts.clone()
    };
    let init = probe_run(&init_opts).unwrap();
    for dir in ["probe", "probe-init"] {
        assert!(
            run.join(dir).join("results.json").exists(),
            "{dir}/results.json"
        );
    }
    assert!(
        init.encoder.contains("own init") && !trained.encoder.contains("init"),
        "{} / {}",
        init.encoder,
        trained.encoder
    );
    let mse = |r: &physrep_eval::ProbeReport| r.results[0].valid.mean;
    assert_ne!(
        mse(&init),
        mse(&trained),
        "the initial and trained encoders gave the same probe score"
    );
    // Same seed → the same initial-weight probe.
    assert_eq!(mse(&probe_run(&init_opts).unwrap()), mse(&init));
    let e = probe_run(&ProbeOptions {
        random_init: true,
        ..init_opts
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("exclude"), "{e}");
}
