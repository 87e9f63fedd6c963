//! End to end on the active_matter fixture: a tiny conv JEPA pretrains through `pretrain()`,
//! lowers its loss without collapsing, resumes bit-identically after an interruption, and its
//! encoder loads back through the method registry.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use physrep_nn::Cpu;
use physrep_train::{encoder_info, load_encoder, pretrain, Device, MethodKind, Preset, PretrainOptions, RunDir};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(shared.exists(), "fixtures not found: {} must exist (CI provides /work/shared next to the repository)", shared.display());
    shared.join("fixtures/well").join(name)
}

/// 12 train windows (2 files × 2 trajectories × 3 starts), micro 4 → 3 updates per epoch, 4 epochs.
fn opts(out: &Path) -> PretrainOptions {
    let mut o = PretrainOptions::new(MethodKind::Jepa, fixture("active_matter"), out);
    o.preset = Some(Preset::Tiny);
    o.overrides = [
        "train.epochs=4",
        "train.max_updates=12",
        "train.micro_batch=4",
        "train.global_batch=4",
        "train.checkpoint_every=5",
        "train.lr=4e-3",
        "train.max_valid_batches=2",
        // 4 × 2×2 tokens = 16 rows in 5 chunks of 4 for 16 dimensions: a toy, kept as the paper's code.
        "method.vicreg.allow_rank_deficient=true",
    ]
    .map(String::from)
    .to_vec();
    o
}

fn records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .map(|mut r: Value| {
            let o = r.as_object_mut().unwrap();
            o.remove("samples_per_s");
            o.remove("elapsed_s");
            r
        })
        .collect()
}

#[test]
fn tiny_jepa_trains_without_collapse_resumes_exactly_and_exports_its_encoder() {
    let full = tempfile::tempdir().unwrap();
    let summary = pretrain(&opts(full.path())).unwrap();
    assert!(summary.finished && summary.updates == 12 && summary.total_updates == 12, "{summary:?}");
    let recs = records(full.path());
    let train: Vec<&Value> = recs.iter().filter(|r| r["kind"] == "train").collect();
    let valid: Vec<&Value> = recs.iter().filter(|r| r["kind"] == "valid").collect();
    assert_eq!((train.len(), valid.len()), (12, 4));
    let loss = |r: &Value| r["loss"].as_f64().unwrap();
    let head: f64 = train[..3].iter().map(|r| loss(r)).sum::<f64>() / 3.0;
    let tail: f64 = train[9..].iter().map(|r| loss(r)).sum::<f64>() / 3.0;
    assert!(tail < 0.95 * head, "training loss should fall: first 3 updates {head:.4}, last 3 {tail:.4}");
    eprintln!("train loss {head:.4} → {tail:.4}; valid {:?}", valid.iter().map(|r| loss(r)).collect::<Vec<_>>());
    assert!(valid.iter().all(|r| loss(r).is_finite() && r["emb_eff_rank"].as_f64().is_some()));
    for key in ["repr_loss", "std_loss", "cov_loss", "std_loss_x", "cov_loss_y", "grad_norm", "lr"] {
        assert!(train[5][key].as_f64().is_some(), "{key} logged: {}", train[5]);
    }
    // No collapse: every embedding dimension keeps spread, the spectrum is not rank one.
    let last = valid[3];
    let (std_min, rank) = (last["emb_std_min"].as_f64().unwrap(), last["emb_eff_rank"].as_f64().unwrap());
    assert!(std_min > 0.05 && rank > 2.0, "collapse: std_min {std_min}, effective rank {rank}");

    // Interrupted after update 7 (last checkpoint 5), resumed: identical metrics and weights.
    let part = tempfile::tempdir().unwrap();
    let mut o = opts(part.path());
    o.stop_after = Some(7);
    let s = pretrain(&o).unwrap();
    assert!(!s.finished && s.updates == 7);
    assert!(!RunDir::new(part.path()).done_path().exists());
    let e = load_encoder(part.path()).err().expect("an unfinished run has no encoder").to_string();
    assert!(e.contains("DONE"), "{e}");
    let mut o = opts(part.path());
    o.resume = true;
    let s = pretrain(&o).unwrap();
    assert!(s.finished && s.updates == 12);
    assert_eq!(records(part.path()), recs, "resumed metrics differ from the uninterrupted run");
    let a = std::fs::read(RunDir::new(full.path()).encoder_safetensors()).unwrap();
    let b = std::fs::read(RunDir::new(part.path()).encoder_safetensors()).unwrap();
    assert!(a == b, "resumed encoder weights differ from the uninterrupted run");

    // The registry rebuilds the encoder: geometry from run.json, tokens (B, (32/16)², 16).
    let info = encoder_info(full.path()).unwrap();
    assert_eq!((info.method, info.channels, info.frames, info.resolution, info.token_dim), (MethodKind::Jepa, 11, 16, 32, 16));
    let enc = load_encoder(full.path()).unwrap();
    let clips = Tensor::<Cpu, 5>::ones([2, 11, 16, 32, 32], &Default::default());
    let tokens = enc.encode_tokens(clips.clone()).unwrap();
    assert_eq!(tokens.dims(), [2, 4, 16]);
    let again = load_encoder(part.path()).unwrap().encode_tokens(clips).unwrap();
    assert_eq!(tokens.into_data().to_vec::<f32>().unwrap(), again.into_data().to_vec::<f32>().unwrap());

    // A finished run is not trained again; a second new run into it is refused.
    let mut o = opts(full.path());
    o.resume = true;
    assert_eq!(pretrain(&o).unwrap().updates, 12);
    let e = pretrain(&opts(full.path())).unwrap_err().to_string();
    assert!(e.contains("--resume"), "{e}");
}

#[test]
fn bad_runs_fail_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Resume without a run.
    let mut o = opts(dir.path());
    o.resume = true;
    let e = pretrain(&o).unwrap_err().to_string();
    assert!(e.contains("config.toml"), "{e}");
    // An invalid override is rejected before anything is written.
    let mut o = opts(dir.path());
    o.overrides.push("data.resolution=24".into());
    let e = pretrain(&o).unwrap_err().to_string();
    assert!(e.contains("data.resolution") && e.contains("16"), "{e}");
    assert!(!RunDir::new(dir.path()).config_path().exists());
    // The encoder must match the data's channels.
    let mut o = opts(dir.path());
    o.overrides.push("method.encoder.in_channels=4".into());
    let e = pretrain(&o).unwrap_err().to_string();
    assert!(e.contains("method.encoder.in_channels") && e.contains("11"), "{e}");
    // Frames must fit the encoder.
    let mut o = opts(dir.path());
    o.overrides.push("data.context_frames=8".into());
    let e = pretrain(&o).unwrap_err().to_string();
    assert!(e.contains("data.context_frames"), "{e}");
    // Resuming with a changed value is refused, naming it.
    let mut o = opts(dir.path());
    o.stop_after = Some(1);
    pretrain(&o).unwrap();
    let mut o = opts(dir.path());
    o.resume = true;
    o.overrides.push("train.lr=1e-2".into());
    let e = pretrain(&o).unwrap_err().to_string();
    assert!(e.contains("train.lr"), "{e}");
}

/// Without the `cuda` feature, asking for the GPU is a clear error before anything is written.
#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_device_without_the_feature_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut o = opts(&out);
    o.device = Device::Cuda;
    let err = pretrain(&o).expect_err("a CPU-only build cannot train on CUDA").to_string();
    assert!(err.contains("device") && err.contains("--features cuda"), "{err}");
    assert!(!out.exists(), "nothing may be written for a run that cannot start");
    assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda);
    assert!("gpu".parse::<Device>().is_err());
}
