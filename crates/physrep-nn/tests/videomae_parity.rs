//! Parity of physrep's VideoMAE with its PyTorch twin (`bench/torch_videomae.py fixture …`).
//!
//! The fixture holds tiny weights under VideoMAE's state-dict names, an input clip, a tube mask and the
//! twin's outputs: patch embedding, block 0 on the embedded tokens, the encoder on the visible tokens,
//! the decoder's prediction, the normalised targets, the loss, and the loss gradients of seven
//! parameters (patch embedding, a q bias, a qkv weight, the final norm, encoder_to_decoder, the mask token,
//! the decoder head). Everything must match to 1e-4 relative (max abs error over the max abs expected
//! value).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;
use physrep_nn::videomae::{TokenMask, VideoMae, VideoMaeConfig};
use physrep_nn::{Cpu, CpuAutodiff};

fn fixture_path() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/videomae_parity.safetensors");
    assert!(path.exists(), "missing fixture {} (regenerate with bench/torch_videomae.py fixture)", path.display());
    path
}

/// The twin's `TINY` config.
fn tiny_config() -> VideoMaeConfig {
    VideoMaeConfig {
        in_chans: 2,
        num_frames: 4,
        img_size: 12,
        patch_size: 4,
        tubelet_size: 2,
        embed_dim: 16,
        depth: 2,
        num_heads: 2,
        mlp_ratio: 4.0,
        decoder_embed_dim: 8,
        decoder_depth: 1,
        decoder_num_heads: 2,
        mask_ratio: 0.5,
        norm_eps: 1e-6,
    }
}

/// The fixture's `fixture.*` tensors as (shape, f32 values).
fn fixture_tensors() -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(fixture_path()).expect("read fixture");
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("parse fixture");
    let mut out = HashMap::new();
    for (name, view) in file.tensors() {
        if let Some(key) = name.strip_prefix("fixture.") {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
            let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            out.insert(key.to_string(), (view.shape().to_vec(), values));
        }
    }
    out
}

fn tensor<const D: usize>(t: &HashMap<String, (Vec<usize>, Vec<f32>)>, key: &str) -> Tensor<Cpu, D> {
    let (shape, values) = &t[key];
    Tensor::from_data(TensorData::new(values.clone(), shape.clone()), &Default::default())
}

fn assert_close<const D: usize>(got: Tensor<Cpu, D>, t: &HashMap<String, (Vec<usize>, Vec<f32>)>, key: &str) {
    let (shape, expected) = &t[key];
    assert_eq!(&got.dims().to_vec(), shape, "{key}: shape");
    let got = got.into_data().to_vec::<f32>().unwrap();
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = got.iter().zip(expected).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(err <= 1e-4 * scale, "{key}: max abs error {err} vs scale {scale}");
}

fn mask(t: &HashMap<String, (Vec<usize>, Vec<f32>)>) -> TokenMask {
    let (shape, values) = &t["mask"];
    let flags: Vec<Vec<bool>> = values.chunks(shape[1]).map(|row| row.iter().map(|&v| v > 0.5).collect()).collect();
    TokenMask::from_masked_flags(&flags).unwrap()
}

fn loaded_model() -> VideoMae<Cpu> {
    let mut model = tiny_config().init::<Cpu>(&Default::default()).unwrap();
    let result = model.load_pytorch_safetensors(&fixture_path()).unwrap();
    assert_eq!(result.applied.len(), 49, "every parameter of the twin: {:?}", result.applied);
    model
}

#[test]
fn matches_pytorch_twin() {
    let t = fixture_tensors();
    let model = loaded_model();
    let clip = tensor::<5>(&t, "clip");
    let mask = mask(&t);

    assert_close(model.encoder.patch_embed.forward(clip.clone()), &t, "patch_embed");
    assert_close(model.encoder.blocks[0].forward_rows(model.encoder.embed(clip.clone())), &t, "block0");
    assert_close(model.encoder.forward_visible(clip.clone(), &mask).unwrap(), &t, "encoder_visible");
    assert_close(model.targets(clip.clone(), &mask), &t, "target");
    let (loss, reconstruction) = model.loss(clip, &mask).unwrap();
    assert_close(reconstruction.pred, &t, "pred");
    assert_close(loss, &t, "loss");
}

#[test]
fn encoder_alone_loads_from_the_full_state_dict() {
    let t = fixture_tensors();
    let full = loaded_model();
    let mut encoder = tiny_config().init_encoder::<Cpu>(&Default::default()).unwrap();
    encoder.load_pytorch_safetensors(&fixture_path()).unwrap();
    let clip = tensor::<5>(&t, "clip");
    let a = encoder.forward(clip.clone()).unwrap().into_data();
    let b = full.encoder.forward(clip).unwrap().into_data();
    assert_eq!(a, b);
}

#[test]
fn checkpoint_missing_parameters_is_an_error() {
    let config = VideoMaeConfig { depth: 3, ..tiny_config() };
    let mut encoder = config.init_encoder::<Cpu>(&Default::default()).unwrap();
    let msg = encoder.load_pytorch_safetensors(&fixture_path()).unwrap_err().to_string();
    assert!(msg.contains("videomae_parity.safetensors") && msg.contains("blocks.2"), "{msg}");
}

#[test]
fn gradients_match_pytorch_twin() {
    let t = fixture_tensors();
    let mut model = tiny_config().init::<CpuAutodiff>(&Default::default()).unwrap();
    model.load_pytorch_safetensors(&fixture_path()).unwrap();
    let clip = Tensor::<CpuAutodiff, 5>::from_inner(tensor::<5>(&t, "clip"));
    let (loss, _) = model.loss(clip, &mask(&t)).unwrap();
    let grads = loss.backward();
    let enc = &model.encoder;
    let grad_of = |name: &str| format!("grad.{name}");
    assert_close(enc.patch_embed.proj.weight.val().grad(&grads).unwrap(), &t, &grad_of("encoder.patch_embed.proj.weight"));
    assert_close(enc.blocks[0].attn.q_bias.val().grad(&grads).unwrap(), &t, &grad_of("encoder.blocks.0.attn.q_bias"));
    // burn stores Linear weights as (in, out): transpose to PyTorch's (out, in).
    assert_close(enc.blocks[1].attn.qkv.weight.val().grad(&grads).unwrap().transpose(), &t, &grad_of("encoder.blocks.1.attn.qkv.weight"));
    assert_close(enc.norm.gamma.val().grad(&grads).unwrap(), &t, &grad_of("encoder.norm.weight"));
    assert_close(model.encoder_to_decoder.weight.val().grad(&grads).unwrap().transpose(), &t, &grad_of("encoder_to_decoder.weight"));
    assert_close(model.mask_token.val().grad(&grads).unwrap(), &t, &grad_of("mask_token"));
    let head_bias = model.decoder.head.bias.as_ref().unwrap();
    assert_close(head_bias.val().grad(&grads).unwrap(), &t, &grad_of("decoder.head.bias"));
}

/// The state-dict names of the twin (`fixture.*` excluded), sorted.
fn twin_names() -> Vec<String> {
    let bytes = std::fs::read(fixture_path()).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = file.names().into_iter().filter(|n| !n.starts_with("fixture.")).cloned().collect();
    names.sort();
    names
}

#[test]
fn saved_state_dict_has_the_twins_names_and_round_trips() {
    let t = fixture_tensors();
    let model = loaded_model();
    let dir = std::env::temp_dir().join(format!("physrep-videomae-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("videomae.safetensors");
    model.save_pytorch_safetensors(&path).unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = file.names().into_iter().cloned().collect();
    names.sort();
    assert_eq!(names, twin_names());
    let fixture_bytes = std::fs::read(fixture_path()).unwrap();
    let fixture = safetensors::SafeTensors::deserialize(&fixture_bytes).unwrap();
    for name in &names {
        let (a, b) = (file.tensor(name).unwrap(), fixture.tensor(name).unwrap());
        assert_eq!(a.shape(), b.shape(), "{name}");
        assert_eq!(a.data(), b.data(), "{name}: saved values differ from the loaded ones");
    }

    let mut again = tiny_config().init::<Cpu>(&Default::default()).unwrap();
    again.load_pytorch_safetensors(&path).unwrap();
    let clip = tensor::<5>(&t, "clip");
    let (a, _) = again.loss(clip.clone(), &mask(&t)).unwrap();
    let (b, _) = model.loss(clip, &mask(&t)).unwrap();
    assert_eq!(a.into_data(), b.into_data());
    std::fs::remove_dir_all(&dir).unwrap();
}
