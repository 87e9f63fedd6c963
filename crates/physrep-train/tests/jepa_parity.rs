//! PyTorch parity of one conv-JEPA training step (`shared/fixtures/torch/jepa_parity.safetensors`):
//! encoder and predictor outputs, the VICReg loss and its terms, and the gradient of the loss with
//! respect to every parameter, each to 1e-4 relative (max|d| / max|ref| per tensor).

use std::path::PathBuf;

use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn_store::ModuleSnapshot;
use physrep_nn::conv_jepa::{load_safetensors, torch_name};
use physrep_nn::{ConvEncoderConfig, ConvJepa, ConvPredictorConfig, Cpu, CpuAutodiff};
use physrep_train::objectives::{vicreg_with_permutation, VicregConfig};

type AD = CpuAutodiff;

fn fixture() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/torch/jepa_parity.safetensors");
    assert!(p.is_file(), "fixture {} not found (the shared directory must sit next to the repository)", p.display());
    p
}

fn values(st: &safetensors::SafeTensors, name: &str) -> (Vec<f64>, Vec<usize>) {
    let v = st.tensor(name).unwrap_or_else(|_| panic!("fixture tensor {name} missing"));
    let vals = match v.dtype() {
        safetensors::Dtype::F32 => v.data().chunks_exact(4).map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap()))).collect(),
        safetensors::Dtype::F64 => v.data().chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect(),
        safetensors::Dtype::I64 => v.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
        d => panic!("{name}: unexpected dtype {d:?}"),
    };
    (vals, v.shape().to_vec())
}

fn tensor<const D: usize>(st: &safetensors::SafeTensors, name: &str) -> Tensor<AD, D> {
    let (v, s) = values(st, name);
    let v: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, s), &Default::default())
}

fn rel(ours: &[f64], reference: &[f64]) -> f64 {
    assert_eq!(ours.len(), reference.len());
    let d = ours.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let m = reference.iter().map(|b| b.abs()).fold(0.0, f64::max);
    d / m.max(1e-300)
}

fn to_f64<const D: usize, B: Backend>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().convert::<f64>().to_vec().unwrap()
}

#[test]
fn one_training_step_matches_pytorch() {
    let path = fixture();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let dev = Default::default();
    let model = ConvJepa::<AD>::new(&ConvEncoderConfig::default(), &ConvPredictorConfig::default(), &dev).unwrap();
    let model = load_safetensors(model, "", &path).unwrap();

    let e_ctx = model.encoder.forward(tensor(&st, "input.context"));
    let e_tgt = model.encoder.forward(tensor(&st, "input.target"));
    let p = model.predictor.forward(e_ctx.clone());
    for (name, t) in [("expected.encoder_context", &e_ctx), ("expected.encoder_target", &e_tgt), ("expected.predictor", &p)] {
        let e = rel(&to_f64(t.clone()), &values(&st, name).0);
        assert!(e < 1e-4, "{name}: relative error {e:e}");
    }

    let perm: Vec<usize> = values(&st, "input.perm").0.into_iter().map(|v| v as usize).collect();
    let terms = vicreg_with_permutation(p, e_tgt, &perm, &VicregConfig::default());
    let ours = [&terms.loss, &terms.repr_loss, &terms.std_loss, &terms.cov_loss];
    for (name, t) in ["loss", "repr_loss", "std_loss", "cov_loss"].iter().zip(ours) {
        let e = rel(&to_f64(t.clone()), &values(&st, &format!("expected.{name}")).0);
        assert!(e < 1e-4, "{name}: relative error {e:e}");
    }
    let m = terms.metrics();
    let get = |k: &str| m.iter().find(|(n, _)| n == k).unwrap().1;
    assert!((get("std_loss_x") + get("std_loss_y") - get("std_loss")).abs() < 1e-9);
    assert!((get("cov_loss_x") + get("cov_loss_y") - get("cov_loss")).abs() < 1e-6 * get("cov_loss").abs().max(1.0));

    let grads = GradientsParams::from_grads(terms.loss.backward(), &model);
    let snaps = model.valid().collect(None, None, false);
    let mut checked = 0;
    let mut worst = (0.0f64, String::new());
    for snap in snaps {
        let name = torch_name(&snap.full_path()).unwrap();
        let id = snap.tensor_id.unwrap();
        let dims = snap.shape.to_vec();
        let g: Vec<f64> = match dims.len() {
            1 => to_f64(grads.get::<Cpu, 1>(id).unwrap()),
            2 => to_f64(grads.get::<Cpu, 2>(id).unwrap().transpose()), // Linear: burn (in, out)
            4 => to_f64(grads.get::<Cpu, 4>(id).unwrap()),
            5 => to_f64(grads.get::<Cpu, 5>(id).unwrap()),
            r => panic!("{name}: unexpected rank {r}"),
        };
        let e = rel(&g, &values(&st, &format!("grad.{name}")).0);
        if e > worst.0 {
            worst = (e, name.clone());
        }
        assert!(e < 1e-4, "grad of {name}: relative error {e:e}");
        checked += 1;
    }
    let in_file = st.names().iter().filter(|n| n.starts_with("grad.")).count();
    assert_eq!(checked, in_file, "every gradient in the fixture was compared");
    eprintln!("worst gradient relative error {:e} ({})", worst.0, worst.1);
}
