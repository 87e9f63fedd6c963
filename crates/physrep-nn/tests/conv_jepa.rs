//! The conv JEPA encoder and predictor: parameter counts, shapes, token order, safetensors
//! round trip, and forward parity with the PyTorch fixture.

use std::path::PathBuf;

use burn::module::Module;
use burn::prelude::*;
use physrep_nn::conv_jepa::{load_safetensors, save_safetensors, torch_name};
use physrep_nn::{ClipEncoder, ConvEncoderConfig, ConvJepa, ConvPredictorConfig, Cpu};

fn shared() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(p.is_dir(), "shared directory {} not found (fixtures live there)", p.display());
    p
}

fn fixture_tensor<const D: usize>(st: &safetensors::SafeTensors, name: &str) -> Tensor<Cpu, D> {
    let v = st.tensor(name).unwrap_or_else(|_| panic!("fixture tensor {name} missing"));
    assert_eq!(v.dtype(), safetensors::Dtype::F32, "{name}");
    let vals: Vec<f32> = v.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Tensor::from_data(TensorData::new(vals, v.shape().to_vec()), &Default::default())
}

fn rel_err<const D: usize>(a: Tensor<Cpu, D>, b: Tensor<Cpu, D>) -> f32 {
    let d = (a - b.clone()).abs().max().into_scalar();
    d / b.abs().max().into_scalar()
}

#[test]
fn parameter_counts_match_the_reference() {
    let dev = Default::default();
    let enc11 = ConvEncoderConfig::paper(11).init::<Cpu>(&dev).unwrap();
    let enc4 = ConvEncoderConfig::paper(4).init::<Cpu>(&dev).unwrap();
    let pred = ConvPredictorConfig::default().init::<Cpu>(&dev).unwrap();
    assert_eq!(enc11.num_params(), 2_468_720);
    assert_eq!(enc4.num_params(), 2_466_928);
    assert_eq!(pred.num_params(), 801_664);
}

#[test]
fn every_parameter_has_a_distinct_torch_name() {
    let model = ConvJepa::<Cpu>::new(&ConvEncoderConfig::default(), &ConvPredictorConfig::default(), &Default::default()).unwrap();
    let mut names: Vec<String> = burn_store::ModuleSnapshot::collect(&model, None, None, false)
        .iter()
        .map(|s| torch_name(&s.full_path()).unwrap_or_else(|| panic!("no torch name for {}", s.full_path())))
        .collect();
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n);
    assert!(names.contains(&"encoder.downsample_layers.0.1.weight".to_string()));
    assert!(names.contains(&"encoder.res_blocks.4.2.conv.weight".to_string()));
    assert!(names.contains(&"predictor.conv.1.pwconv2.bias".to_string()));
}

#[test]
fn shapes_and_token_order() {
    let dev = Default::default();
    let enc = ConvEncoderConfig::paper(4).init::<Cpu>(&dev).unwrap();
    let x = physrep_nn::seeded::normal::<Cpu, 5>([2, 4, 16, 32, 48], 0.0, 1.0, 161, &dev);
    let y = enc.forward(x.clone());
    assert_eq!(y.dims(), [2, 128, 2, 3]);
    let tokens = enc.encode_tokens(x).unwrap();
    assert_eq!(tokens.dims(), [2, 6, 128]);
    // Token (h, w) = (1, 2) is row 1·3 + 2 = 5.
    let a = y.slice([0..2, 0..128, 1..2, 2..3]).reshape([2, 128]);
    let b = tokens.slice([0..2, 5..6, 0..128]).reshape([2, 128]);
    assert_eq!(rel_err(a, b), 0.0);
    let pred = ConvPredictorConfig::default().init::<Cpu>(&dev).unwrap();
    assert_eq!(pred.forward(enc.forward(Tensor::zeros([1, 4, 16, 16, 16], &dev))).dims(), [1, 128, 1, 1]);
    assert!(enc.check_input([1, 4, 8, 16, 16]).is_err());
    assert!(enc.check_input([1, 4, 16, 20, 16]).is_err());
    assert!(enc.check_input([1, 11, 16, 16, 16]).is_err());
    // Through the probe interface a wrong channel count is an error, never a panic.
    let err = enc.encode_tokens(Tensor::zeros([1, 11, 16, 16, 16], &dev)).unwrap_err().to_string();
    assert!(err.contains("[1, 11, 16, 16, 16]") && err.contains("(B ≥ 1, 4, 16, H, W)"), "{err}");
}

#[test]
fn invalid_configs_are_rejected() {
    let dev = Default::default();
    let bad_frames = ConvEncoderConfig { num_frames: 8, ..Default::default() };
    assert!(bad_frames.init::<Cpu>(&dev).is_err());
    let bad_depths = ConvEncoderConfig { depths: vec![1, 1], ..Default::default() };
    assert!(bad_depths.init::<Cpu>(&dev).is_err());
    let bad_pred = ConvPredictorConfig { dim: 64, ..Default::default() };
    assert!(ConvJepa::<Cpu>::new(&ConvEncoderConfig::default(), &bad_pred, &dev).is_err());
}

/// Loading the PyTorch fixture and writing it back reproduces every tensor byte for byte (names,
/// shapes, Linear transposes, 2-D kernels); the predictor on the fixture's encoder output matches
/// PyTorch. (Encoder outputs and gradients: `physrep-train/tests/jepa_parity.rs`.)
#[test]
fn pytorch_weights_round_trip_and_predictor_parity() {
    let path = shared().join("fixtures/torch/jepa_parity.safetensors");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let dev = Default::default();
    let fresh = ConvJepa::<Cpu>::new(&ConvEncoderConfig::default(), &ConvPredictorConfig::default(), &dev).unwrap();
    let model = load_safetensors(fresh, "", &path).unwrap();

    let p = model.predictor.forward(fixture_tensor::<4>(&st, "expected.encoder_context"));
    let e = rel_err(p, fixture_tensor::<4>(&st, "expected.predictor"));
    assert!(e < 1e-4, "predictor: relative error {e}");

    let dir = std::env::temp_dir().join(format!("physrep-nn-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let check_file = |out: &std::path::Path, prefixes: &[&str]| {
        let written = std::fs::read(out).unwrap();
        let wst = safetensors::SafeTensors::deserialize(&written).unwrap();
        let want: Vec<String> = st.names().into_iter().filter(|n| prefixes.iter().any(|p| n.starts_with(p))).cloned().collect();
        assert_eq!(wst.names().len(), want.len(), "tensors written under {prefixes:?}");
        for name in want {
            let (a, b) = (wst.tensor(&name).unwrap(), st.tensor(&name).unwrap());
            assert_eq!(a.shape(), b.shape(), "{name}");
            assert!(a.data() == b.data(), "{name}: values differ after the round trip");
        }
    };
    let out = dir.join("jepa.safetensors");
    save_safetensors(&model, "", &out).unwrap();
    check_file(&out, &["encoder.", "predictor."]);
    // An encoder alone loads and saves under the `encoder` prefix.
    let enc = load_safetensors(ConvEncoderConfig::default().init::<Cpu>(&dev).unwrap(), "encoder", &path).unwrap();
    let out = dir.join("enc.safetensors");
    save_safetensors(&enc, "encoder", &out).unwrap();
    check_file(&out, &["encoder."]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn loading_reports_missing_and_misshaped_tensors() {
    let dev = Default::default();
    let dir = std::env::temp_dir().join(format!("physrep-nn-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pred = ConvPredictorConfig::default().init::<Cpu>(&dev).unwrap();
    let out = dir.join("pred.safetensors");
    save_safetensors(&pred, "predictor", &out).unwrap();
    // The predictor file has no encoder tensors.
    let enc = ConvEncoderConfig::default().init::<Cpu>(&dev).unwrap();
    let err = load_safetensors(enc, "encoder", &out).unwrap_err().to_string();
    assert!(err.contains("missing tensor `encoder.downsample_layers.0.0.bias`") || err.contains("missing tensor"), "{err}");
    // A predictor with another width finds the right names with the wrong shapes.
    let small = ConvPredictorConfig { hidden: 64, ..Default::default() }.init::<Cpu>(&dev).unwrap();
    let err = load_safetensors(small, "predictor", &out).unwrap_err().to_string();
    assert!(err.contains("shape"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Activation checkpointing changes memory, not maths: the same output, input gradient and
/// parameter gradients as the fully recorded graph (both 3-D and 2-D stages, non-trivial γ).
#[test]
fn checkpointed_blocks_give_the_same_values_and_gradients() {
    use burn::module::Param;
    use physrep_nn::CpuAutodiff as AD;
    let cfg = ConvEncoderConfig {
        in_channels: 3,
        dims: vec![4, 8],
        depths: vec![2, 1],
        num_frames: 2,
        layer_scale_init: 0.7, // large enough that the branches matter
        ..ConvEncoderConfig::default()
    };
    let dev = Default::default();
    let plain = cfg.init::<AD>(&dev).unwrap();
    // Perturb the norm and bias parameters away from their 1/0 init so every gradient is generic.
    let mut seed = 500;
    let plain = {
        struct Jitter<'a>(&'a mut u64);
        impl burn::module::ModuleMapper<AD> for Jitter<'_> {
            fn map_float<const D: usize>(&mut self, param: Param<Tensor<AD, D>>) -> Param<Tensor<AD, D>> {
                *self.0 += 1;
                let (id, t, mapper) = param.consume();
                let noise = physrep_nn::seeded::normal::<AD, D>(t.dims(), 0.0, 0.2, *self.0, &t.device());
                Param::from_mapped_value(id, Tensor::from_inner(t.inner() + noise.inner()).require_grad(), mapper)
            }
        }
        plain.map(&mut Jitter(&mut seed))
    };
    let ckpt = plain.clone().with_checkpointing(true);
    let x = physrep_nn::seeded::normal::<AD, 5>([2, 3, 2, 16, 16], 0.0, 1.0, 9, &dev);
    let r = physrep_nn::seeded::normal::<AD, 4>([2, 8, 8, 8], 0.0, 1.0, 10, &dev);
    let run = |enc: &physrep_nn::ConvEncoder<AD>| {
        let x = x.clone().require_grad();
        let y = enc.forward(x.clone());
        let grads = (y.clone() * r.clone()).sum().backward();
        let mut params = Vec::new();
        enc.visit(&mut Collect { grads: &grads, out: &mut params });
        (y.inner(), x.grad(&grads).unwrap(), params)
    };
    struct Collect<'a> {
        grads: &'a <AD as burn::tensor::backend::AutodiffBackend>::Gradients,
        out: &'a mut Vec<Vec<f32>>,
    }
    impl burn::module::ModuleVisitor<AD> for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AD, D>>) {
            let g = param.val().grad(self.grads).expect("every parameter gets a gradient");
            self.out.push(g.into_data().to_vec().unwrap());
        }
    }
    let (y0, gx0, gp0) = run(&plain);
    let (y1, gx1, gp1) = run(&ckpt);
    assert!(rel_err(y1, y0) < 1e-6);
    assert!(rel_err(gx1, gx0) < 1e-5);
    assert_eq!(gp0.len(), gp1.len());
    for (i, (a, b)) in gp1.iter().zip(&gp0).enumerate() {
        let d = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        let m = b.iter().map(|y| y.abs()).fold(0.0f32, f32::max);
        assert!(d <= 1e-5 * m.max(1e-30), "parameter {i}: max difference {d}, max |grad| {m}");
    }
}
