//! Probes on synthetic tokens with a known answer: each token is `3·w + y₁·u + y₂·v + noise` for fixed
//! directions w, u, v, so the labels are a fixed linear function of the (pooled) tokens. (The large
//! fixed component w keeps the per-token LayerNorm scale nearly constant, so the map stays linear
//! after the probe's LayerNorm.) Every probe must
//! beat the predict-the-mean floor by a wide margin, and training must be bit-reproducible.

use physrep_eval::evaluate::{evaluate, EvalConfig, ProbeKind, SplitFeatures};
use physrep_eval::probes::attentive::{AttentiveProbeTrainer, ProbeTrainConfig};
use physrep_eval::probes::mean::MeanProbe;
use physrep_eval::probes::ridge::RidgeProbe;
use physrep_eval::sweep::{sweep, SweepConfig};
use physrep_eval::{mse, Features, Probe};
use physrep_nn::attentive_probe::AttentiveProbeConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

const T: usize = 4;
const D: usize = 16;

fn synthetic(n: usize, seed: u64) -> Features {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut dirs = ChaCha8Rng::seed_from_u64(999);
    let u: Vec<f32> = (0..D).map(|_| dirs.sample(StandardNormal)).collect();
    let v: Vec<f32> = (0..D).map(|_| dirs.sample(StandardNormal)).collect();
    let w: Vec<f32> = (0..D).map(|_| dirs.sample(StandardNormal)).collect();
    let mut tokens = Vec::with_capacity(n * T * D);
    let mut labels = Vec::with_capacity(n * 2);
    for _ in 0..n {
        let y1: f32 = rng.sample(StandardNormal);
        let y2: f32 = rng.sample(StandardNormal);
        for _ in 0..T {
            for k in 0..D {
                let e: f32 = rng.sample(StandardNormal);
                tokens.push(3.0 * w[k] + y1 * u[k] + y2 * v[k] + 0.1 * e);
            }
        }
        labels.extend([y1, y2]);
    }
    Features::new(tokens, labels, [n, T, D], 2).unwrap()
}

fn small_arch() -> AttentiveProbeConfig {
    AttentiveProbeConfig { dim: D, num_heads: 4, mlp_ratio: 4.0, ..Default::default() }
}

fn small_train(epochs: usize) -> ProbeTrainConfig {
    ProbeTrainConfig { epochs, batch_size: 32, accum: 1, lr: 3e-3, eval_every: 0, seed: 7, ..Default::default() }
}

fn floor(train: &Features, valid: &Features) -> f64 {
    let mut m = MeanProbe::default();
    m.fit(std::slice::from_ref(train), valid).unwrap();
    mse(&m.predict(valid).unwrap(), valid.labels(), 2).unwrap().mean
}

#[test]
fn attentive_probe_recovers_a_linear_map_and_is_reproducible() {
    let train = synthetic(384, 1);
    let valid = synthetic(128, 2);
    let floor = floor(&train, &valid);
    assert!(floor > 0.7 && floor < 1.4, "floor {floor}");

    let fit = |seed_shift: u64| {
        let mut p = AttentiveProbeTrainer::new("attentive", small_arch(), ProbeTrainConfig { seed: 7 + seed_shift, ..small_train(40) });
        let rep = p.fit(std::slice::from_ref(&train), &valid).unwrap();
        (p.predict(&valid).unwrap(), rep)
    };
    let (pred, rep) = fit(0);
    let score = mse(&pred, valid.labels(), 2).unwrap().mean;
    assert!(score < 0.05 * floor, "attentive probe MSE {score} vs floor {floor}");
    assert!(rep.train_loss.last().unwrap() < &rep.train_loss[0]);
    assert_eq!(rep.valid_curve.len(), 1, "eval_every 0 → only the final epoch");

    let (again, _) = fit(0);
    assert_eq!(pred, again, "same seed → bit-identical predictions");
    let (other, _) = fit(1);
    assert_ne!(pred, other, "another seed → another probe");
}

#[test]
fn four_block_probe_and_ridge_beat_the_floor() {
    let train = synthetic(256, 3);
    let valid = synthetic(96, 4);
    let floor = floor(&train, &valid);
    let mut p4 = AttentiveProbeTrainer::new("attentive4", AttentiveProbeConfig { self_attn_blocks: 3, ..small_arch() }, small_train(25));
    p4.fit(std::slice::from_ref(&train), &valid).unwrap();
    let s4 = mse(&p4.predict(&valid).unwrap(), valid.labels(), 2).unwrap().mean;
    assert!(s4 < 0.1 * floor, "4-block probe {s4} vs floor {floor}");

    let mut ridge = RidgeProbe::default();
    ridge.fit(std::slice::from_ref(&train), &valid).unwrap();
    let sr = mse(&ridge.predict(&valid).unwrap(), valid.labels(), 2).unwrap().mean;
    assert!(sr < 0.01 * floor, "ridge {sr} vs floor {floor}");
}

#[test]
fn parallel_sweep_equals_sequential_fits_and_selects_on_valid() {
    let train = synthetic(96, 5);
    let valid = synthetic(48, 6);
    let test = synthetic(48, 7);
    let base = small_train(4);
    let grid = SweepConfig { lrs: vec![3e-3, 1e-4], weight_decays: vec![0.01] };
    let out = sweep("attentive", &small_arch(), &base, &grid, std::slice::from_ref(&train), &valid, Some(&test)).unwrap();
    // Base (3e-3, 0.01) is already in the grid: 2 points, base first.
    assert_eq!(out.entries.len(), 2);
    assert_eq!(out.paper, 0);
    assert_eq!((out.entries[0].lr, out.entries[1].lr), (3e-3, 1e-4));
    for e in &out.entries {
        let mut p = AttentiveProbeTrainer::new(
            "attentive",
            small_arch(),
            ProbeTrainConfig { lr: e.lr, weight_decay: e.weight_decay, ..base.clone() },
        );
        p.fit(std::slice::from_ref(&train), &valid).unwrap();
        let v = mse(&p.predict(&valid).unwrap(), valid.labels(), 2).unwrap();
        assert_eq!(v, e.valid, "parallel sweep point lr={} differs from a sequential fit", e.lr);
    }
    let best = out.entries.iter().map(|e| e.valid.mean).fold(f64::INFINITY, f64::min);
    assert_eq!(out.entries[out.selected].valid.mean, best);
}

#[test]
fn evaluate_reports_floors_fractions_and_is_deterministic() {
    let data = SplitFeatures { train: vec![synthetic(120, 8)], valid: synthetic(40, 9), test: Some(synthetic(40, 10)) };
    let cfg = EvalConfig {
        probes: vec![ProbeKind::Attentive, ProbeKind::Linear, ProbeKind::Knn],
        fractions: vec![0.25, 1.0],
        attentive: small_arch(),
        train: small_train(3),
        sweep: SweepConfig { lrs: vec![3e-3], weight_decays: vec![0.01, 0.1] },
        ..Default::default()
    };
    let (a, _) = evaluate(&data, &cfg).unwrap();
    let (b, _) = evaluate(&data, &cfg).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 6);
    assert_eq!(a.iter().map(|r| r.train_windows).collect::<Vec<_>>(), vec![30, 30, 30, 120, 120, 120]);
    for r in &a {
        assert!(r.test.is_some() && r.floor_test.is_some());
        assert!(r.floor_valid.mean > 0.5, "floor {}", r.floor_valid.mean);
    }
    let linear_full = &a[4];
    assert_eq!(linear_full.probe, "linear");
    assert!(linear_full.test.as_ref().unwrap().mean < 0.05 * linear_full.floor_test.as_ref().unwrap().mean);
    assert!(a[3].paper_protocol_valid.is_some() && a[3].sweep.len() == 2);
}
