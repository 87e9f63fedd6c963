//! Unit checks of `physrep_nn::attentive_probe` (kept here so they build with the evaluation crate's
//! dependency set): parameter counts, seeded init and its scaling, the 4-block variant, attention
//! layers against explicit loops, config validation.

use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;
use physrep_nn::attentive_probe::{AttentiveProbe, AttentiveProbeConfig};
use physrep_nn::Cpu;
#[test]
fn parameter_counts_match_the_paper() {
    let device = Default::default();
    let jepa = AttentiveProbeConfig::default().init::<Cpu>(0, &device).unwrap();
    assert_eq!(jepa.num_params(), 445_314);
    let videomae = AttentiveProbeConfig { dim: 384, mlp_ratio: 0.25, ..Default::default() }.init::<Cpu>(0, &device).unwrap();
    assert_eq!(videomae.num_params(), 520_418);
    // MPP (computed in docs/baselines.md §1): D = 192, ratio 4.
    let mpp = AttentiveProbeConfig { dim: 192, mlp_ratio: 4.0, ..Default::default() }.init::<Cpu>(0, &device).unwrap();
    assert_eq!(mpp.num_params(), 408_386);
}

#[test]
fn init_is_seeded_and_scaled() {
    let device = Default::default();
    let cfg = AttentiveProbeConfig::default();
    let a = cfg.init::<Cpu>(7, &device).unwrap();
    let b = cfg.init::<Cpu>(7, &device).unwrap();
    let c = cfg.init::<Cpu>(8, &device).unwrap();
    let w = |p: &AttentiveProbe<Cpu>| p.pooler.cross_attention_block.mlp.fc1.weight.val().into_data().to_vec::<f32>().unwrap();
    assert_eq!(w(&a), w(&b));
    assert_ne!(w(&a), w(&c));
    let std = |v: &[f32]| (v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    let fc1 = w(&a);
    let fc2 = a.pooler.cross_attention_block.mlp.fc2.weight.val().into_data().to_vec::<f32>().unwrap();
    assert!((std(&fc1) - 0.02).abs() < 0.001, "fc1 std {}", std(&fc1));
    assert!((std(&fc2) - 0.02 / 2f64.sqrt()).abs() < 0.001, "fc2 std {}", std(&fc2));
    let head = a.linear.weight.val().into_data().to_vec::<f32>().unwrap();
    let bound = 1.0 / 128f32.sqrt();
    assert!(head.iter().all(|x| x.abs() <= bound));
    assert!(head.iter().any(|x| x.abs() > 0.5 * bound));
}

#[test]
fn four_block_probe_shapes_and_count() {
    let device = Default::default();
    let cfg = AttentiveProbeConfig { dim: 32, num_heads: 4, mlp_ratio: 2.0, self_attn_blocks: 3, ..Default::default() };
    let p = cfg.init::<Cpu>(1, &device).unwrap();
    // Per self-attention block: 2 LN (4·32) + qkv (32·96 + 96) + proj (32·32 + 32) + MLP (32·64 + 64 + 64·32 + 32).
    let block = 4 * 32 + (32 * 96 + 96) + (32 * 32 + 32) + (32 * 64 + 64 + 64 * 32 + 32);
    let cross = 32 + 4 * 32 + (32 * 32 + 32) + (32 * 64 + 64) + (32 * 64 + 64 + 64 * 32 + 32) + (32 * 2 + 2);
    assert_eq!(p.num_params(), 3 * block + cross);
    let x = Tensor::<Cpu, 3>::ones([5, 7, 32], &device);
    assert_eq!(p.forward(x).dims(), [5, 2]);
}

fn values<const D: usize>(t: Tensor<Cpu, D>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

/// `x (n, din) · W (din, dout) + b` with burn's [in, out] weight layout.
fn naive_linear(x: &[f32], l: &Linear<Cpu>, n: usize) -> Vec<f32> {
    let w = values(l.weight.val());
    let b = values(l.bias.as_ref().unwrap().val());
    let (din, dout) = (x.len() / n, b.len());
    (0..n)
        .flat_map(|i| (0..dout).map(move |o| (i, o)))
        .map(|(i, o)| b[o] + (0..din).map(|k| x[i * din + k] * w[k * dout + o]).sum::<f32>())
        .collect()
}

/// Per-head softmax(q kᵀ/√hd) v with explicit loops; q (m, d), k and v (n, d).
fn naive_attention(q: &[f32], k: &[f32], v: &[f32], d: usize, heads: usize) -> Vec<f32> {
    let (m, n, hd) = (q.len() / d, k.len() / d, d / heads);
    let mut out = vec![0.0f32; m * d];
    for h in 0..heads {
        for i in 0..m {
            let s: Vec<f32> =
                (0..n).map(|j| (0..hd).map(|c| q[i * d + h * hd + c] * k[j * d + h * hd + c]).sum::<f32>() / (hd as f32).sqrt()).collect();
            let mx = s.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = s.iter().map(|x| (x - mx).exp()).collect();
            let z: f32 = e.iter().sum();
            for c in 0..hd {
                out[i * d + h * hd + c] = (0..n).map(|j| e[j] / z * v[j * d + h * hd + c]).sum();
            }
        }
    }
    out
}

#[test]
fn attention_layers_match_explicit_loops() {
    let device = Default::default();
    let cfg = AttentiveProbeConfig { dim: 12, num_heads: 3, mlp_ratio: 2.0, self_attn_blocks: 1, init_std: 0.3, ..Default::default() };
    let p = cfg.init::<Cpu>(5, &device).unwrap();
    let (n, d) = (5, 12);
    let x: Vec<f32> = (0..n * d).map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.2).collect();
    let xt = Tensor::<Cpu, 3>::from_data(TensorData::new(x.clone(), [1, n, d]), &device);

    // Self-attention: qkv packed (q, k, v), then output projection.
    let attn = &p.pooler.blocks[0].attn;
    let got = values(attn.forward(xt.clone()));
    let qkv = naive_linear(&x, &attn.qkv, n);
    let part = |o: usize| -> Vec<f32> { (0..n).flat_map(|i| qkv[i * 3 * d + o * d..i * 3 * d + (o + 1) * d].to_vec()).collect() };
    let want = naive_linear(&naive_attention(&part(0), &part(1), &part(2), d, 3), &attn.proj, n);
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() < 1e-4, "self-attention {a} vs {b}");
    }

    // Cross-attention: one query, keys = first D of kv, values = last D, no projection.
    let xa = &p.pooler.cross_attention_block.xattn;
    let q0 = values(p.pooler.query_tokens.val());
    let got = values(xa.forward(p.pooler.query_tokens.val(), xt));
    let q = naive_linear(&q0, &xa.q, 1);
    let kv = naive_linear(&x, &xa.kv, n);
    let k: Vec<f32> = (0..n).flat_map(|i| kv[i * 2 * d..i * 2 * d + d].to_vec()).collect();
    let v: Vec<f32> = (0..n).flat_map(|i| kv[i * 2 * d + d..(i + 1) * 2 * d].to_vec()).collect();
    let want = naive_attention(&q, &k, &v, d, 3);
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() < 1e-4, "cross-attention {a} vs {b}");
    }
}

#[test]
fn bad_config_is_an_error() {
    let device = Default::default();
    let cfg = AttentiveProbeConfig { dim: 30, num_heads: 8, ..Default::default() };
    let err = cfg.init::<Cpu>(0, &device).unwrap_err();
    assert!(err.to_string().contains("num_heads"));
}
