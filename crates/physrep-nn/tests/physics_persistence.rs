//! Persistence baselines for the physics-modelling models: a tiny AViT (MPP objective) and a tiny
//! compact DISCO, trained for a few hundred Adam steps on smooth advecting waves, must predict the
//! next frame of **held-out** clips better than persistence (repeating the last context frame),
//! under each model's own training metric.

use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use physrep_nn::avit::{nrmse_loss, AvitConfig};
use physrep_nn::disco::{normalized_mse, DiscoConfig};
use physrep_nn::{Cpu, CpuAutodiff};

const N: usize = 16;
const CHANNELS: usize = 2;
const CONTEXT: usize = 4;
/// Advection velocity in pixels per frame (x, y); the same for every clip.
const VELOCITY: [f64; 2] = [1.0, 0.5];

/// SplitMix64: a tiny deterministic generator for the synthetic clips.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `batch` clips of two-mode periodic waves advected at [`VELOCITY`]: context `(B, C, 4, 16, 16)`
/// and the next frame `(B, C, 16, 16)`, a different draw for every `seed`.
fn waves<B: Backend>(batch: usize, seed: u64, device: &B::Device) -> (Tensor<B, 5>, Tensor<B, 4>) {
    let mut rng = Rng(seed);
    let frames = CONTEXT + 1;
    let mut data = vec![0f32; batch * CHANNELS * frames * N * N];
    for b in 0..batch {
        for c in 0..CHANNELS {
            let mut modes = Vec::new();
            for _ in 0..2 {
                let (mut k, mut l) = (0i32, 0i32);
                while k == 0 && l == 0 {
                    k = (rng.next() * 5.0) as i32 - 2;
                    l = (rng.next() * 5.0) as i32 - 2;
                }
                modes.push((k as f64, l as f64, 0.5 + rng.next(), std::f64::consts::TAU * rng.next()));
            }
            let offset = 2.0 * rng.next() - 1.0;
            for t in 0..frames {
                for i in 0..N {
                    for j in 0..N {
                        let (x, y) = (j as f64 - VELOCITY[0] * t as f64, i as f64 - VELOCITY[1] * t as f64);
                        let v: f64 =
                            modes.iter().map(|(k, l, a, p)| a * (std::f64::consts::TAU * (k * x + l * y) / N as f64 + p).sin()).sum();
                        data[((((b * CHANNELS + c) * frames) + t) * N + i) * N + j] = (v + offset) as f32;
                    }
                }
            }
        }
    }
    let all = Tensor::<B, 5>::from_data(TensorData::new(data, [batch, CHANNELS, frames, N, N]), device);
    (all.clone().narrow(2, 0, CONTEXT), all.narrow(2, CONTEXT, 1).reshape([batch, CHANNELS, N, N]))
}

fn last_frame<B: Backend>(context: Tensor<B, 5>) -> Tensor<B, 4> {
    let [b, c, t, h, w] = context.dims();
    context.narrow(2, t - 1, 1).reshape([b, c, h, w])
}

#[test]
fn mpp_beats_persistence_on_advecting_waves() {
    let device = Default::default();
    CpuAutodiff::seed(&device, 7);
    let config = AvitConfig { n_states: 4, embed_dim: 48, num_heads: 2, processor_blocks: 2, patch_size: 4, ..AvitConfig::default() };
    let mut model = config.init::<CpuAutodiff>(&device).unwrap();
    let mut optim = AdamConfig::new().init();
    for step in 0..150u64 {
        let (context, target) = waves::<CpuAutodiff>(8, 1000 + step, &device);
        let loss = nrmse_loss(model.forward_next(context), target);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(3e-3, model, grads);
    }
    let model = model.valid();
    let (context, target) = waves::<Cpu>(32, 1, &device);
    let persistence = nrmse_loss(last_frame(context.clone()), target.clone()).into_scalar();
    let mpp = nrmse_loss(model.forward_next(context), target).into_scalar();
    eprintln!("held-out NRMSE: MPP {mpp:.4}, persistence {persistence:.4}");
    assert!(mpp < 0.7 * persistence, "MPP {mpp} does not beat persistence {persistence}");
}

#[test]
fn disco_beats_persistence_on_advecting_waves() {
    let device = Default::default();
    CpuAutodiff::seed(&device, 7);
    let config = DiscoConfig {
        n_states: 4,
        channels: CHANNELS,
        embed_dim: 16,
        num_heads: 2,
        depth: 1,
        patch_size: 4,
        generator_hidden: 16,
        rank: 4,
        operator_width: 8,
        operator_depth: 3,
        rk4_steps: 4,
        ..DiscoConfig::default()
    };
    let mut model = config.init::<CpuAutodiff>(&device).unwrap();
    let mut optim = AdamConfig::new().init();
    for step in 0..60u64 {
        let (context, target) = waves::<CpuAutodiff>(8, 1000 + step, &device);
        let next = model.forward_next(context);
        let loss = normalized_mse(next.standardized.clone(), next.standardize(target));
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(3e-3, model, grads);
    }
    let model = model.valid();
    let (context, target) = waves::<Cpu>(32, 1, &device);
    let next = model.forward_next(context);
    let target = next.standardize(target);
    let persistence = normalized_mse(next.initial.clone(), target.clone()).into_scalar();
    let disco = normalized_mse(next.standardized.clone(), target).into_scalar();
    eprintln!("held-out normalised MSE: DISCO {disco:.4}, persistence {persistence:.4}");
    assert!(disco < 0.7 * persistence, "DISCO {disco} does not beat persistence {persistence}");
}
