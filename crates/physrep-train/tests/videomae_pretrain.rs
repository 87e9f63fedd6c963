//! End to end on the shear_flow fixture (4 channels): a tiny VideoMAE pretrains through `pretrain()`
//! with VideoMAE's lr recipe, writes DONE and `encoder.safetensors`, and the registry rebuilds its ViT
//! encoder, whose frozen features are all tokens after the final norm.

use std::path::{Path, PathBuf};

use physrep_nn::Cpu;
use physrep_train::{
    encoder_info, load_encoder, pretrain, pretrain::resolve_config, MethodConfig, MethodKind, Preset, PretrainOptions, RunDir,
};
use physrep_well::WellDataset;

fn fixture(name: &str) -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(shared.exists(), "fixtures not found: {} must exist (CI provides /work/shared next to the repository)", shared.display());
    shared.join("fixtures/well").join(name)
}

/// shear_flow has 2 train windows (2 files × 1 trajectory × 1 start at stride 4): micro 1 × accum 2 →
/// 1 update per epoch, 3 epochs.
fn opts(out: &Path) -> PretrainOptions {
    let mut o = PretrainOptions::new(MethodKind::VideoMae, fixture("shear_flow"), out);
    o.preset = Some(Preset::Tiny);
    o.overrides =
        ["train.epochs=3", "train.micro_batch=1", "train.global_batch=2", "train.checkpoint_every=2", "train.max_valid_batches=1"]
            .map(String::from)
            .to_vec();
    o
}

#[test]
fn tiny_videomae_pretrains_and_its_encoder_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let summary = pretrain(&opts(dir.path())).unwrap();
    assert!(summary.finished && summary.updates == 3 && summary.total_updates == 3, "{summary:?}");
    assert!(summary.final_loss.is_some_and(f64::is_finite), "{summary:?}");
    let run = RunDir::new(dir.path());
    assert!(run.done_path().exists() && run.encoder_safetensors().exists() && run.model_path().exists());

    // The stored config: the tiny ViT and VideoMAE's lr recipe for the preset's global batch 4.
    let cfg = run.config().unwrap();
    let MethodConfig::VideoMae(c) = &cfg.method else { panic!("stored method {:?}", cfg.method) };
    assert_eq!((c.model.in_chans, c.model.img_size, c.model.patch_size, c.model.embed_dim), (4, 32, 8, 32));
    assert!((cfg.train.lr - 1.5e-4 * 4.0 / 256.0).abs() < 1e-15, "lr {}", cfg.train.lr);
    assert!((cfg.train.min_lr - 1e-5 * 4.0 / 256.0).abs() < 1e-15, "min_lr {}", cfg.train.min_lr);

    // The registry: 16 frames / tubelet 2 × (32 / 8)² = 128 tokens of width 32.
    let info = encoder_info(dir.path()).unwrap();
    assert_eq!((info.method, info.channels, info.frames, info.resolution, info.token_dim), (MethodKind::VideoMae, 4, 16, 32, 32));
    let enc = load_encoder(dir.path()).unwrap();
    assert_eq!(enc.token_dim(), 32);
    let device = Default::default();
    let clips = physrep_nn::seeded::normal::<Cpu, 5>([2, 4, 16, 32, 32], 0.0, 1.0, 159, &device);
    let tokens = enc.encode_tokens(clips.clone()).unwrap();
    assert_eq!(tokens.dims(), [2, 128, 32]);
    let values = tokens.into_data().to_vec::<f32>().unwrap();
    assert!(values.iter().all(|v| v.is_finite()));
    // After the final LayerNorm (γ = 1, β = 0 at init, barely moved by 3 updates at lr ~2e-6) every
    // token has mean ≈ 0 and variance ≈ 1 over its 32 features.
    for token in values.chunks(32) {
        let mean = token.iter().sum::<f32>() / 32.0;
        let var = token.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 32.0;
        assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.1, "token mean {mean}, var {var}");
    }
    // Loading twice gives the same features (weights come from the file, not a fresh init).
    let again = load_encoder(dir.path()).unwrap().encode_tokens(clips).unwrap().into_data().to_vec::<f32>().unwrap();
    assert_eq!(values, again);
}

#[test]
fn videomae_config_must_fit_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let ds = WellDataset::open(fixture("shear_flow")).unwrap();
    let mut o = opts(dir.path());
    o.overrides.push("data.resolution=64".into());
    let e = resolve_config(&o, &ds).unwrap_err().to_string();
    assert!(e.contains("method.model.img_size") && e.contains("64"), "{e}");
    let mut o = opts(dir.path());
    o.overrides.push("method.model.patch_size=12".into());
    let e = resolve_config(&o, &ds).unwrap_err().to_string();
    assert!(e.contains("img_size 32") && e.contains("patch_size 12"), "{e}");
    let mut o = opts(dir.path());
    o.overrides.push("method.model.in_chans=11".into());
    let e = resolve_config(&o, &ds).unwrap_err().to_string();
    assert!(e.contains("method.model.in_chans") && e.contains("4"), "{e}");
}
