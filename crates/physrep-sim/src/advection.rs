//! `advection`: a learnability control. A parameter that no single frame reveals, but that predicting the
//! next frames from the previous ones requires.
//!
//! A Gaussian random field `u₀` on a periodic `n × n` pixel domain is translated rigidly along +x at `speed`
//! pixels per frame: `u(x, y, t) = u₀(x − speed·t, y)`. Coordinates are in pixels (`x_i = i`, `y_j = j`) and
//! time in frames (`t_k = k`), so `speed` is the velocity in the file's own units; the one label is `speed`
//! (z-scored linearly: `(speed − 0.55)/0.26`, the mean and std of the uniform distribution on the `small`
//! range 0.1–1.0, by `physrep_well::LabelTransform::paper` for `medium`; with the train split's own mean
//! and std for `tiny` and `small`, as every system's, see `generate::label_scaling`). The direction is fixed (+x) so that the label is one
//! number the context determines exactly.
//!
//! **The field.** White Gaussian noise `w` (`n²` independent N(0, 1) values from the trajectory seed)
//! filtered in Fourier space: `û₀(k) = c·√P(|k|)·ŵ(k)` with `P(k) = k⁻³·exp(−2(k/k₀)²)` for `k = |m|`, `m` the
//! integer mode index (cycles per domain), `P = 0` for the mean and the Nyquist rows and columns, and
//! `c² = n² / Σ_m P(|m|)`, so that every pixel has variance exactly 1 over the ensemble (the spatial variance
//! of one field scatters around 1: `P` puts most power in the few largest modes). Isotropic by construction.
//!
//! **The motion** is exact: `û(k, t) = û₀(k)·exp(−i·k_x·speed·t)`, a Fourier phase shift with no time
//! stepping, so frame `t` is the band-limited translate of frame 0 by `speed·t` pixels (a whole-pixel shift
//! for integral `speed·t`). As no Nyquist mode is excited, the translate is a real field and
//! `|û(k, t)| = |û₀(k)|`: every frame's mean (0), variance and power spectrum are those of frame 0, whatever
//! the speed, given the same seed. A model can therefore tell speeds apart only by comparing frames.
//!
//! Field in files: `tracer` `(T, n, n)` (t0 field, f32), x and y periodic.

use ndarray::{ArrayD, IxDyn};
use num_complex::Complex64;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::design::well_file_name;
use crate::spectral::{Fft2, Grid2};
use crate::system::{Boundary, BoundaryKind, FieldSpec, Layout, ParamPoint, Preset, System, Trajectory};
use crate::SimError;
use physrep_well::SystemId;

/// Settings of one preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdvectionConfig {
    /// Pixels per side (even, ≥ 4).
    pub n: usize,
    /// Frames per trajectory (frame k at t = k).
    pub frames: usize,
    /// The grid's speeds in pixels per frame (one file each); designs sample their min..max.
    pub speeds: Vec<f64>,
    /// Trajectories (initial conditions) per speed.
    pub ics: usize,
    /// Spectral cut-off `k₀` in cycles per domain (`P(k) = k⁻³·exp(−2(k/k₀)²)`).
    pub k0: f64,
}

impl AdvectionConfig {
    /// The settings of a preset. `k₀ = 6·n/32`, so the field's correlation length is the same number of
    /// pixels at every size and the speeds (px/frame) mean the same motion.
    pub fn preset(p: Preset) -> Self {
        let tenths: Vec<f64> = (1..=10).map(|i| i as f64 / 10.0).collect();
        match p {
            Preset::Tiny => Self { n: 16, frames: 32, speeds: vec![0.25, 0.5, 1.0], ics: 4, k0: 3.0 },
            Preset::Small => Self { n: 32, frames: 80, speeds: tenths, ics: 8, k0: 6.0 },
            Preset::Medium => Self { n: 64, frames: 128, speeds: tenths, ics: 20, k0: 12.0 },
        }
    }
}

/// The power spectrum `P(k) = k⁻³·exp(−2(k/k₀)²)` at `k > 0` (0 at `k = 0`), `k` in cycles per domain.
pub fn spectrum(k: f64, k0: f64) -> f64 {
    if k > 0.0 {
        k.powi(-3) * (-2.0 * (k / k0).powi(2)).exp()
    } else {
        0.0
    }
}

/// The initial field's spectrum `û₀` (layout of [`Fft2`]) on the `n × n` pixel grid of `cfg`, from `seed`.
pub fn initial_spectrum(cfg: &AdvectionConfig, grid: &Grid2, fft: &mut Fft2, seed: u64) -> Vec<Complex64> {
    let n = cfg.n;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let noise: Vec<f64> = (0..n * n).map(|_| StandardNormal.sample(&mut rng)).collect();
    let mut spec = vec![Complex64::default(); grid.n_spec()];
    fft.forward(&noise, &mut spec);
    let nyh = grid.nyh();
    // The mode index of every spectral entry, with P = 0 on the Nyquist rows and columns.
    let power = |i: usize, j: usize| {
        let (mx, my) = (grid.mx[i], grid.my[j]);
        if 2 * mx == n || 2 * my == n {
            0.0
        } else {
            spectrum(((mx * mx + my * my) as f64).sqrt(), cfg.k0)
        }
    };
    // Σ over all n² modes: the stored half (j = 0..nyh) counts twice except the self-conjugate column j = 0.
    let total: f64 = (0..n).flat_map(|i| (0..nyh).map(move |j| (i, j))).map(|(i, j)| power(i, j) * if j == 0 { 1.0 } else { 2.0 }).sum();
    let c = (n * n) as f64 / total;
    for i in 0..n {
        for j in 0..nyh {
            spec[i * nyh + j] *= (c * power(i, j)).sqrt();
        }
    }
    spec
}

/// The `frames` frames (`n·n` each, y fastest) of the field of `seed` translated at `speed` px/frame.
pub fn advect(cfg: &AdvectionConfig, speed: f64, seed: u64) -> Result<Vec<Vec<f64>>, SimError> {
    if !speed.is_finite() {
        return Err(SimError::Options(format!("advection: speed {speed} is not finite")));
    }
    let n = cfg.n;
    let grid = Grid2::new(n, n, n as f64, n as f64)?;
    let mut fft = Fft2::new(&grid);
    let u0 = initial_spectrum(cfg, &grid, &mut fft, seed);
    let nyh = grid.nyh();
    let mut shifted = u0.clone();
    let mut frames = Vec::with_capacity(cfg.frames);
    for t in 0..cfg.frames {
        // kx is 2π·m/n per pixel (Nyquist 0, where û₀ vanishes anyway).
        let shift = speed * t as f64;
        for i in 0..n {
            let phase = Complex64::from_polar(1.0, -grid.kx[i] * shift);
            for j in 0..nyh {
                shifted[i * nyh + j] = u0[i * nyh + j] * phase;
            }
        }
        let mut frame = vec![0.0; n * n];
        fft.inverse(&shifted, &mut frame);
        frames.push(frame);
    }
    Ok(frames)
}

/// The `advection` [`System`].
pub struct Advection;

impl System for Advection {
    fn name(&self) -> &'static str {
        SystemId::Advection.name()
    }

    fn param_grid(&self, preset: Preset) -> Vec<ParamPoint> {
        AdvectionConfig::preset(preset)
            .speeds
            .into_iter()
            .map(|v| {
                let params = vec![("speed".to_string(), v)];
                ParamPoint { file_name: well_file_name(SystemId::Advection.name(), &params), params }
            })
            .collect()
    }

    fn ics_per_point(&self, preset: Preset) -> usize {
        AdvectionConfig::preset(preset).ics
    }

    fn layout(&self, preset: Preset) -> Layout {
        let cfg = AdvectionConfig::preset(preset);
        let pixels: Vec<f64> = (0..cfg.n).map(|i| i as f64).collect();
        Layout {
            dataset_name: SystemId::Advection.name().into(),
            time: (0..cfg.frames).map(|k| k as f64).collect(),
            x: pixels.clone(),
            y: pixels,
            boundaries: vec![
                Boundary { name: "x_periodic".into(), dim: "x".into(), kind: BoundaryKind::Periodic },
                Boundary { name: "y_periodic".into(), dim: "y".into(), kind: BoundaryKind::Periodic },
            ],
            fields: vec![FieldSpec::new("tracer", 0)],
            attrs: vec![
                ("generator".into(), format!("physrep-sim {} advection", env!("CARGO_PKG_VERSION"))),
                (
                    "solver".into(),
                    format!(
                        "exact Fourier phase shift of a unit-variance Gaussian random field, P(k) = k^-3 exp(-2 (k/{})^2), along +x; x, y in pixels, t in frames",
                        cfg.k0
                    ),
                ),
            ],
        }
    }

    fn simulate(&self, p: &ParamPoint, _ic: usize, seed: u64, preset: Preset) -> Result<Trajectory, SimError> {
        let cfg = AdvectionConfig::preset(preset);
        let speed = p.require(SystemId::Advection.name(), "speed")?;
        let frames = advect(&cfg, speed, seed)?;
        let n = cfg.n;
        let data: Vec<f32> = frames.iter().flatten().map(|&v| v as f32).collect();
        let tracer = ArrayD::from_shape_vec(IxDyn(&[cfg.frames, n, n]), data).expect("frames × n × n values");
        Ok(Trajectory { fields: vec![tracer], ic_params: Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(n: usize, frames: usize) -> AdvectionConfig {
        AdvectionConfig { n, frames, speeds: vec![0.5], ics: 1, k0: 6.0 * n as f64 / 32.0 }
    }

    /// Mean, variance and the radially binned power spectrum of one frame, the spectrum by a naive DFT
    /// (independent of the FFT the generator uses).
    fn frame_statistics(f: &[f64], n: usize) -> (f64, f64, Vec<f64>) {
        let mean = f.iter().sum::<f64>() / (n * n) as f64;
        let var = f.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n * n) as f64;
        let mut radial = vec![0.0; n];
        for a in 0..n {
            for b in 0..n {
                let mut z = Complex64::default();
                for i in 0..n {
                    for j in 0..n {
                        let arg = -2.0 * std::f64::consts::PI * ((a * i + b * j) % n) as f64 / n as f64;
                        z += f[i * n + j] * Complex64::from_polar(1.0, arg);
                    }
                }
                let (ma, mb) = (a.min(n - a), b.min(n - b));
                radial[((ma * ma + mb * mb) as f64).sqrt().round() as usize] += z.norm_sqr();
            }
        }
        (mean, var, radial)
    }

    /// The parameter is invisible in single frames: same seed, two speeds, per-frame statistics equal to
    /// round-off (and equal to those of frame 0).
    #[test]
    fn speed_leaves_single_frame_statistics_unchanged() {
        let c = cfg(16, 6);
        let slow = advect(&c, 0.137, 9).unwrap();
        let fast = advect(&c, 0.911, 9).unwrap();
        let (m0, v0, s0) = frame_statistics(&slow[0], 16);
        assert!(v0 > 0.05, "a non-trivial field: variance {v0}");
        for frames in [&slow, &fast] {
            for f in frames.iter() {
                let (m, v, s) = frame_statistics(f, 16);
                assert!(m.abs() < 1e-14, "mean {m}");
                assert!((m - m0).abs() < 1e-14 && (v - v0).abs() < 1e-13 * v0, "var {v} vs {v0}");
                for (a, b) in s.iter().zip(&s0) {
                    assert!((a - b).abs() < 1e-11 * s0.iter().sum::<f64>(), "spectrum {a} vs {b}");
                }
            }
        }
        // The frames themselves differ: the speed is in the dynamics.
        let d: f64 = slow[5].iter().zip(&fast[5]).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(d > 0.1, "{d}");
    }

    /// Frame k is frame 0 rolled by speed·k pixels along x where that is a whole number of pixels.
    #[test]
    fn frames_are_exact_translates() {
        let n = 16;
        for (speed, step) in [(0.5, 2usize), (1.0, 1), (-0.25, 4), (3.0, 1)] {
            let frames = advect(&cfg(n, 9), speed, 4).unwrap();
            for k in (0..9).step_by(step) {
                let s = (speed * k as f64).round() as i64;
                for i in 0..n {
                    let src = (i as i64 - s).rem_euclid(n as i64) as usize;
                    for j in 0..n {
                        let (a, b) = (frames[k][i * n + j], frames[0][src * n + j]);
                        assert!((a - b).abs() < 1e-12, "speed {speed} frame {k} ({i},{j}): {a} vs {b}");
                    }
                }
            }
        }
        // Non-integral shifts compose: speed v at frame 2k is speed 2v at frame k.
        let (a, b) = (advect(&cfg(n, 7), 0.3, 1).unwrap(), advect(&cfg(n, 4), 0.6, 1).unwrap());
        for k in 0..4 {
            let d = a[2 * k].iter().zip(&b[k]).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
            assert!(d < 1e-12, "{d}");
        }
    }

    /// Unit variance over the ensemble at t = 0: the mean spatial variance of M fields is 1 within four
    /// standard errors. With p_m = P(|m|)/Σ P, a field's spatial variance is Σ_pairs 2·p_m·E_m with E_m
    /// independent Exp(1), so its standard deviation is √(2·Σ_m p_m²).
    #[test]
    fn initial_field_has_unit_variance() {
        let (n, fields) = (32usize, 400u64);
        let c = cfg(n, 1);
        let mut p = Vec::new();
        for a in -(n as i64) / 2 + 1..(n as i64) / 2 {
            for b in -(n as i64) / 2 + 1..(n as i64) / 2 {
                p.push(spectrum(((a * a + b * b) as f64).sqrt(), c.k0));
            }
        }
        let total: f64 = p.iter().sum();
        let sd = (2.0 * p.iter().map(|x| (x / total).powi(2)).sum::<f64>()).sqrt();
        let mean_var = (0..fields)
            .map(|seed| {
                let f = &advect(&c, 0.0, seed).unwrap()[0];
                f.iter().map(|v| v * v).sum::<f64>() / (n * n) as f64
            })
            .sum::<f64>()
            / fields as f64;
        let se = sd / (fields as f64).sqrt();
        assert!((mean_var - 1.0).abs() < 4.0 * se, "mean variance {mean_var}, standard error {se}");
        assert!(se < 0.03, "the test resolves a 10 % error: se {se}");
    }

    #[test]
    fn system_writes_the_speed_and_one_tracer_field() {
        let grid = Advection.param_grid(Preset::Small);
        assert_eq!(grid.len(), 10);
        assert_eq!(grid[0].file_name, "advection_speed_0.1.hdf5");
        assert_eq!(grid[9].file_name, "advection_speed_1.0.hdf5");
        let t = Advection.simulate(&Advection.param_grid(Preset::Tiny)[1], 0, 3, Preset::Tiny).unwrap();
        assert_eq!(t.fields.len(), 1);
        assert_eq!(t.fields[0].shape(), [32, 16, 16]);
        let expect = advect(&AdvectionConfig::preset(Preset::Tiny), 0.5, 3).unwrap();
        assert_eq!(t.fields[0][[31, 2, 5]], expect[31][2 * 16 + 5] as f32);
        let bad = ParamPoint { params: vec![("speed".into(), f64::NAN)], file_name: "x.hdf5".into() };
        assert!(Advection.simulate(&bad, 0, 0, Preset::Tiny).is_err());
    }
}
