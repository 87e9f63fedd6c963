//! BCS / Gaussian matching (the paper's optional `model.loss = gaussian_matching`, docs/paper-protocol.md §8).
//!
//! `pred` and `target` are `(B, C, h, w)`; each sample is flattened in `(h, w, c)` order to
//! `x, y ∈ R^{B×D}`. With `A ∈ R^{D×S}` standard normal with unit-norm columns (no gradient):
//!
//! ```text
//! sim   = mean (x − y)²
//! z     = v A                                   (v ∈ {x, y}, shape (B, S))
//! ecf_s(t)  = mean_b exp(i z_bs t),  t_j = linspace(−t_max, t_max, points),  φ(t) = exp(−t²/2)
//! T_s   = trapezoid_j φ(t_j) · |ecf_s(t_j) − φ(t_j)|²      (Epps–Pulley, not multiplied by B)
//! ep_v  = mean_s T_s
//! loss  = sim_coeff · sim + bcs_coeff · (ep_x + ep_y) / 2
//! ```
//!
//! physrep draws a fresh `A` every step from the seed the caller passes (a per-step seed);
//! `fixed_projection = true` reproduces the reference code, which rebuilt its generator with the
//! step counter 0 on every call and so used one matrix for the whole run (seed 0 here; the
//! matrix itself cannot equal PyTorch's, whose generator differs).

use burn::prelude::*;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// BCS coefficients; `Default` is the SF config's (`bcs_coeff 1`, `num_slices 1024`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BcsConfig {
    pub sim_coeff: f64,
    pub bcs_coeff: f64,
    /// Number of random projections S.
    pub num_slices: usize,
    /// Quadrature points on `[−t_max, t_max]`.
    pub num_points: usize,
    pub t_max: f64,
    /// Use the same projection every step (the reference code's behaviour).
    pub fixed_projection: bool,
}

impl Default for BcsConfig {
    fn default() -> Self {
        Self { sim_coeff: 2.0, bcs_coeff: 1.0, num_slices: 1024, num_points: 17, t_max: 4.0, fixed_projection: false }
    }
}

/// The loss and its logged terms (scalar tensors of shape `[1]`).
#[derive(Clone, Debug)]
pub struct BcsTerms<B: Backend> {
    pub loss: Tensor<B, 1>,
    pub repr_loss: Tensor<B, 1>,
    pub bcs_loss: Tensor<B, 1>,
    pub ep_x: Tensor<B, 1>,
    pub ep_y: Tensor<B, 1>,
}

impl<B: Backend> BcsTerms<B> {
    /// The logged sub-terms (everything except `loss`) as `(name, value)`.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let all = [("repr_loss", &self.repr_loss), ("bcs_loss", &self.bcs_loss), ("ep_x", &self.ep_x), ("ep_y", &self.ep_y)];
        let values = Tensor::cat(all.iter().map(|(_, t)| (*t).clone()).collect(), 0).into_data().convert::<f64>();
        let values = values.to_vec::<f64>().expect("f64 data");
        all.iter().zip(values).map(|((n, _), v)| (n.to_string(), v)).collect()
    }
}

/// `A ∈ R^{d×s}`: standard normal entries from `seed` (ChaCha8), columns scaled to unit norm.
pub fn projection<B: Backend>(d: usize, s: usize, seed: u64, device: &B::Device) -> Tensor<B, 2> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut a: Vec<f32> = (0..d * s).map(|_| StandardNormal.sample(&mut rng)).collect();
    for j in 0..s {
        let norm = (0..d).map(|i| f64::from(a[i * s + j]).powi(2)).sum::<f64>().sqrt().max(1e-12);
        for i in 0..d {
            a[i * s + j] = (f64::from(a[i * s + j]) / norm) as f32;
        }
    }
    Tensor::from_data(TensorData::new(a, [d, s]), device)
}

/// BCS of `pred` vs `target` (`(B, C, h, w)` each); `seed` draws the projection unless
/// `cfg.fixed_projection` (then seed 0 every call).
pub fn bcs<B: Backend>(pred: Tensor<B, 4>, target: Tensor<B, 4>, seed: u64, cfg: &BcsConfig) -> BcsTerms<B> {
    assert_eq!(pred.dims(), target.dims(), "bcs: pred and target shapes differ");
    let [b, c, h, w] = pred.dims();
    let x = pred.permute([0, 2, 3, 1]).reshape([b, h * w * c]);
    let y = target.permute([0, 2, 3, 1]).reshape([b, h * w * c]);
    let seed = if cfg.fixed_projection { 0 } else { seed };
    let a = projection::<B>(h * w * c, cfg.num_slices, seed, &x.device());
    bcs_rows(x, y, a, cfg)
}

/// BCS on flattened samples `x`, `y` `(B, D)` with the projection `a` `(D, S)`.
pub fn bcs_rows<B: Backend>(x: Tensor<B, 2>, y: Tensor<B, 2>, a: Tensor<B, 2>, cfg: &BcsConfig) -> BcsTerms<B> {
    let repr = (x.clone() - y.clone()).square().mean();
    let ep_x = epps_pulley(x.matmul(a.clone()), cfg);
    let ep_y = epps_pulley(y.matmul(a), cfg);
    let bcs_loss = (ep_x.clone() + ep_y.clone()) / 2.0;
    let loss = repr.clone() * cfg.sim_coeff + bcs_loss.clone() * cfg.bcs_coeff;
    BcsTerms { loss, repr_loss: repr, bcs_loss, ep_x, ep_y }
}

/// Mean over slices of the Epps–Pulley statistic of projections `z` `(B, S)` against N(0, 1).
fn epps_pulley<B: Backend>(z: Tensor<B, 2>, cfg: &BcsConfig) -> Tensor<B, 1> {
    let device = z.device();
    let m = cfg.num_points.max(2);
    let dt = 2.0 * cfg.t_max / (m - 1) as f64;
    let t: Vec<f64> = (0..m).map(|j| -cfg.t_max + j as f64 * dt).collect();
    let phi: Vec<f32> = t.iter().map(|t| (-t * t / 2.0).exp() as f32).collect();
    // Trapezoid weights times φ(t).
    let wphi: Vec<f32> = (0..m)
        .map(|j| {
            let end = j == 0 || j == m - 1;
            (dt * if end { 0.5 } else { 1.0 }) as f32 * phi[j]
        })
        .collect();
    let tt = Tensor::<B, 1>::from_data(TensorData::new(t.iter().map(|&v| v as f32).collect::<Vec<_>>(), [m]), &device);
    let phi = Tensor::<B, 1>::from_data(TensorData::new(phi, [m]), &device).reshape([1, 1, m]);
    let wphi = Tensor::<B, 1>::from_data(TensorData::new(wphi, [m]), &device).reshape([1, 1, m]);
    let [_, s] = z.dims();
    let zt = z.unsqueeze_dim::<3>(2) * tt.reshape([1, 1, m]); // (B, S, m)
    let re = zt.clone().cos().mean_dim(0); // (1, S, m)
    let im = zt.sin().mean_dim(0);
    let err = (re - phi).square() + im.square();
    (err * wphi).sum_dim(2).reshape([s]).mean()
}
