//! Parity of the attentive probe with the PyTorch reference (`fixtures/torch/probe_parity.safetensors`,
//! computed in float64 from float32 weights): output, MSE loss and every parameter gradient to 1e-4
//! relative. Weights load by their PyTorch names through burn-store's PyTorch adapter.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn_store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use physrep_nn::attentive_probe::{AttentiveProbe, AttentiveProbeConfig};
use physrep_nn::CpuAutodiff;
use safetensors::tensor::{Dtype, SafeTensors};

fn shared() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(p.exists(), "shared fixtures not found at {} (CI always provides ../shared)", p.display());
    p
}

fn read_f64(st: &SafeTensors, name: &str) -> (Vec<f64>, Vec<usize>) {
    let t = st.tensor(name).unwrap_or_else(|e| panic!("fixture tensor {name}: {e}"));
    let data: Vec<f64> = match t.dtype() {
        Dtype::F32 => t.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        Dtype::F64 => t.data().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
        other => panic!("fixture tensor {name}: unexpected dtype {other:?}"),
    };
    (data, t.shape().to_vec())
}

/// max |got − want| ≤ tol · max |want| (plus a tiny absolute floor for all-zero references).
fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = got.iter().zip(want).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(err <= tol * scale + 1e-12, "{what}: max abs error {err:e} vs scale {scale:e} (rel {:e})", err / scale);
}

fn to_f64<const D: usize, B: Backend>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().convert::<f64>().to_vec::<f64>().unwrap()
}

#[test]
fn attentive_probe_matches_pytorch() {
    let path = shared().join("fixtures/torch/probe_parity.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let device = Default::default();

    let mut probe: AttentiveProbe<CpuAutodiff> = AttentiveProbeConfig::default().init(0, &device).unwrap();
    let mut store =
        SafetensorsStore::from_file(&path).with_from_adapter(PyTorchToBurnAdapter).with_key_remapping(r"^probe\.", "").allow_partial(true);
    let result = probe.load_from(&mut store).expect("load probe weights");
    assert!(result.errors.is_empty(), "load errors: {:?}", result.errors);
    assert!(result.missing.is_empty(), "missing: {:?}", result.missing);
    assert_eq!(result.applied.len(), 15, "applied: {:?}", result.applied);

    let (tokens, tshape) = read_f64(&st, "input.tokens");
    let (target, _) = read_f64(&st, "input.target");
    let tokens: Tensor<CpuAutodiff, 3> = Tensor::from_data(
        TensorData::new(tokens.iter().map(|v| *v as f32).collect::<Vec<_>>(), [tshape[0], tshape[1], tshape[2]]),
        &device,
    );
    let target: Tensor<CpuAutodiff, 2> =
        Tensor::from_data(TensorData::new(target.iter().map(|v| *v as f32).collect::<Vec<_>>(), [4, 2]), &device);

    let out = probe.forward(tokens);
    assert_close("output", &to_f64(out.clone()), &read_f64(&st, "expected.output").0, 1e-4);
    let loss = (out - target).powf_scalar(2.0).mean();
    assert_close("loss", &to_f64(loss.clone()), &read_f64(&st, "expected.loss").0, 1e-4);

    let grads = loss.backward();
    let cab = &probe.pooler.cross_attention_block;
    // (PyTorch name, burn parameter, is a Linear weight stored [in, out] in burn).
    let params: Vec<(&str, Tensor<CpuAutodiff, 2>, bool)> = vec![
        ("pooler.query_tokens", probe.pooler.query_tokens.val().reshape([1, 128]), false),
        ("pooler.cross_attention_block.norm1.weight", cab.norm1.gamma.val().unsqueeze(), false),
        ("pooler.cross_attention_block.norm1.bias", cab.norm1.beta.as_ref().unwrap().val().unsqueeze(), false),
        ("pooler.cross_attention_block.norm2.weight", cab.norm2.gamma.val().unsqueeze(), false),
        ("pooler.cross_attention_block.norm2.bias", cab.norm2.beta.as_ref().unwrap().val().unsqueeze(), false),
        ("pooler.cross_attention_block.xattn.q.weight", cab.xattn.q.weight.val(), true),
        ("pooler.cross_attention_block.xattn.q.bias", cab.xattn.q.bias.as_ref().unwrap().val().unsqueeze(), false),
        ("pooler.cross_attention_block.xattn.kv.weight", cab.xattn.kv.weight.val(), true),
        ("pooler.cross_attention_block.xattn.kv.bias", cab.xattn.kv.bias.as_ref().unwrap().val().unsqueeze(), false),
        ("pooler.cross_attention_block.mlp.fc1.weight", cab.mlp.fc1.weight.val(), true),
        ("pooler.cross_attention_block.mlp.fc1.bias", cab.mlp.fc1.bias.as_ref().unwrap().val().unsqueeze(), false),
        ("pooler.cross_attention_block.mlp.fc2.weight", cab.mlp.fc2.weight.val(), true),
        ("pooler.cross_attention_block.mlp.fc2.bias", cab.mlp.fc2.bias.as_ref().unwrap().val().unsqueeze(), false),
        ("linear.weight", probe.linear.weight.val(), true),
        ("linear.bias", probe.linear.bias.as_ref().unwrap().val().unsqueeze(), false),
    ];
    // Gradients are taken on the parameter tensors themselves (reshape/unsqueeze views are not tracked
    // separately), so look each one up through the original parameter.
    let grad_of = |name: &str| -> Option<Vec<f64>> {
        let cab = &probe.pooler.cross_attention_block;
        let g1 = |p: &burn::module::Param<Tensor<CpuAutodiff, 1>>| p.val().grad(&grads).map(to_f64);
        let g2 = |p: &burn::module::Param<Tensor<CpuAutodiff, 2>>| p.val().grad(&grads).map(|g| to_f64(g.transpose()));
        match name {
            "pooler.query_tokens" => probe.pooler.query_tokens.val().grad(&grads).map(to_f64),
            "pooler.cross_attention_block.norm1.weight" => g1(&cab.norm1.gamma),
            "pooler.cross_attention_block.norm1.bias" => g1(cab.norm1.beta.as_ref()?),
            "pooler.cross_attention_block.norm2.weight" => g1(&cab.norm2.gamma),
            "pooler.cross_attention_block.norm2.bias" => g1(cab.norm2.beta.as_ref()?),
            "pooler.cross_attention_block.xattn.q.weight" => g2(&cab.xattn.q.weight),
            "pooler.cross_attention_block.xattn.q.bias" => g1(cab.xattn.q.bias.as_ref()?),
            "pooler.cross_attention_block.xattn.kv.weight" => g2(&cab.xattn.kv.weight),
            "pooler.cross_attention_block.xattn.kv.bias" => g1(cab.xattn.kv.bias.as_ref()?),
            "pooler.cross_attention_block.mlp.fc1.weight" => g2(&cab.mlp.fc1.weight),
            "pooler.cross_attention_block.mlp.fc1.bias" => g1(cab.mlp.fc1.bias.as_ref()?),
            "pooler.cross_attention_block.mlp.fc2.weight" => g2(&cab.mlp.fc2.weight),
            "pooler.cross_attention_block.mlp.fc2.bias" => g1(cab.mlp.fc2.bias.as_ref()?),
            "linear.weight" => g2(&probe.linear.weight),
            "linear.bias" => g1(probe.linear.bias.as_ref()?),
            _ => None,
        }
    };
    for (name, value, is_linear) in &params {
        // Weights themselves loaded correctly (PyTorch [out, in] vs burn [in, out]).
        let (want_w, _) = read_f64(&st, &format!("probe.{name}"));
        let got_w = if *is_linear { to_f64(value.clone().transpose()) } else { to_f64(value.clone()) };
        assert_close(&format!("weight {name}"), &got_w, &want_w, 0.0);
        let got = grad_of(name).unwrap_or_else(|| panic!("no gradient for {name}"));
        assert_close(&format!("grad {name}"), &got, &read_f64(&st, &format!("grad.probe.{name}")).0, 1e-4);
    }
}
