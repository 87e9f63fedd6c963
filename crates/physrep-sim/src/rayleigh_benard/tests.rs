//! Tests of the Rayleigh–Bénard solver: linear onset and weakly nonlinear Nusselt number against free-slip
//! theory, sine parity, the exact conduction state, the output column evaluator, band pruning, and a tiny
//! trajectory.

use super::*;
use crate::spectral::Fft2;

const PI: f64 = std::f64::consts::PI;

fn small_cfg(lx: f64, n: usize) -> RayleighBenardConfig {
    RayleighBenardConfig { lx, nx: n, ny: n, out_nx: n, out_ny: n, ..RayleighBenardConfig::default() }
}

/// θ = amp cos(2πx/L_x) sin(πy) on the doubled grid.
fn roll(cfg: &RayleighBenardConfig, amp: f64) -> Vec<f64> {
    let ny2 = 2 * cfg.ny;
    let mut th = vec![0.0; cfg.nx * ny2];
    for i in 0..cfg.nx {
        for j in 0..ny2 {
            let (x, y) = (cfg.lx * i as f64 / cfg.nx as f64, j as f64 / cfg.ny as f64);
            th[i * ny2 + j] = amp * (2.0 * PI * x / cfg.lx).cos() * (PI * y).sin();
        }
    }
    th
}

/// Growth rate of the (1,1) roll measured between t = 20 and t = 60 at Rayleigh `ra`, Pr = 1.
fn measured_growth(lx: f64, ra: f64) -> f64 {
    let cfg = small_cfg(lx, 8);
    let mut s = RayleighBenardSolver::from_theta(&cfg, (1.0 / ra).sqrt(), (1.0 / ra).sqrt(), &roll(&cfg, 1e-12)).unwrap();
    let nyh = s.grid().nyh();
    let amp = |s: &RayleighBenardSolver| s.theta_hat()[nyh + 1].norm();
    while s.t < 20.0 - 1e-9 {
        s.advance_frame().unwrap();
    }
    let a0 = amp(&s);
    while s.t < 60.0 - 1e-9 {
        s.advance_frame().unwrap();
    }
    (amp(&s) / a0).ln() / 40.0
}

/// Largest root of (σ + νq²)(σ + κq²)q² = k² with ν = κ = Ra^{-1/2}.
fn analytic_growth(lx: f64, ra: f64) -> f64 {
    let k = 2.0 * PI / lx;
    let q2 = k * k + PI * PI;
    let d = (1.0 / ra).sqrt() * q2;
    // (σ + d)² = k²/q²
    (k * k / q2).sqrt() - d
}

/// Free-slip linear onset: in a box with L_x = 2√2 the growth rate changes sign within ±1 % of
/// Ra_c = 27π⁴/4 ≈ 657.5, and at 2Ra_c and in the L_x = 4 box (onset 125π⁴/16 ≈ 761.0) the measured rate
/// equals the analytic one.
#[test]
fn linear_onset_matches_free_slip_theory() {
    let lx = 2.0 * 2f64.sqrt();
    let ra_c = 27.0 * PI.powi(4) / 4.0;
    assert!(measured_growth(lx, 0.99 * ra_c) < 0.0);
    assert!(measured_growth(lx, 1.01 * ra_c) > 0.0);
    for &(l, ra) in &[(lx, 2.0 * ra_c), (4.0, 0.99 * 125.0 * PI.powi(4) / 16.0), (4.0, 1.01 * 125.0 * PI.powi(4) / 16.0)] {
        let (m, a) = (measured_growth(l, ra), analytic_growth(l, ra));
        assert!((m - a).abs() < 1e-3 * a.abs().max(1e-3), "L = {l}, Ra = {ra}: σ {m:.6e} vs {a:.6e}");
    }
}

/// Weakly nonlinear free-slip convection (Malkus & Veronis 1958; exactly the Lorenz-model heat flux at
/// leading order): steady rolls at Ra = r·Ra_c carry Nu − 1 = 2(r − 1)/r + O((r − 1)²).
#[test]
fn nusselt_near_onset_matches_weakly_nonlinear_theory() {
    let lx = 2.0 * 2f64.sqrt();
    let ra_c = 27.0 * PI.powi(4) / 4.0;
    let r = 1.05;
    let ra = r * ra_c;
    let mut cfg = small_cfg(lx, 16);
    cfg.dt_out = 1.0;
    let mut s = RayleighBenardSolver::from_theta(&cfg, (1.0 / ra).sqrt(), (1.0 / ra).sqrt(), &roll(&cfg, 1e-2)).unwrap();
    // Steady to 1e-9 in Nu by t ≈ 900 (measured: Nu − 1 = 0.09602 vs 0.09524, an O(ε²) difference).
    while s.t < 900.0 - 1e-9 {
        s.advance_frame().unwrap();
    }
    let nu = s.nusselt();
    let expected = 2.0 * (r - 1.0) / r;
    assert!(((nu - 1.0) - expected).abs() < 0.02 * expected, "Nu − 1 = {:.5}, theory {expected:.5}", nu - 1.0);
    // Below onset the conduction state returns: Nu → 1.
    let ra = 0.9 * ra_c;
    let mut s = RayleighBenardSolver::from_theta(&cfg, (1.0 / ra).sqrt(), (1.0 / ra).sqrt(), &roll(&cfg, 1e-2)).unwrap();
    while s.t < 300.0 - 1e-9 {
        s.advance_frame().unwrap();
    }
    assert!((s.nusselt() - 1.0).abs() < 1e-6);
}

/// The odd/even extension is preserved: θ stays odd about y = 0 and y = 1.
#[test]
fn sine_parity_is_preserved() {
    let cfg = RayleighBenardConfig::preset(Preset::Tiny);
    let mut s = RayleighBenardSolver::new(&cfg, 1e6, 1.0, 0.4, 3).unwrap();
    for _ in 0..8 {
        s.advance_frame().unwrap();
    }
    let g = s.grid().clone();
    let mut th = vec![0.0; g.n_phys()];
    Fft2::new(&g).inverse(s.theta_hat(), &mut th);
    let scale = th.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for i in 0..g.nx {
        for j in 0..g.ny {
            let jr = (g.ny - j) % g.ny;
            assert!((th[i * g.ny + j] + th[i * g.ny + jr]).abs() < 1e-12 * scale);
        }
    }
}

/// A conduction state (θ = 0) is written as b = 1 − y, u = 0 and the exact hydrostatic pressure
/// y − y²/2 − 1/3 at the Chebyshev–Gauss nodes.
#[test]
fn conduction_state_output_is_exact() {
    let cfg = small_cfg(4.0, 8);
    let mut s = RayleighBenardSolver::from_theta(&cfg, 1e-3, 1e-3, &vec![0.0; cfg.nx * 2 * cfg.ny]).unwrap();
    let mut w = RbWriter::new(&s, &cfg);
    let (nx, ny) = (cfg.out_nx, cfg.out_ny);
    let mut b = ArrayD::zeros(IxDyn(&[1, nx, ny]));
    let mut p = ArrayD::zeros(IxDyn(&[1, nx, ny]));
    let mut v = ArrayD::zeros(IxDyn(&[1, nx, ny, 2]));
    w.write(&mut s, 0, &mut b, &mut p, &mut v);
    let y = chebyshev_gauss(ny);
    for i in 0..nx {
        for (j, &yj) in y.iter().enumerate() {
            assert!((b[IxDyn(&[0, i, j])] - (1.0 - yj) as f32).abs() < 1e-6);
            assert!((p[IxDyn(&[0, i, j])] - (yj - yj * yj / 2.0 - 1.0 / 3.0) as f32).abs() < 1e-6);
        }
    }
    assert!(v.iter().all(|x: &f32| *x == 0.0));
}

/// The output evaluator reproduces a known sine/cosine series at arbitrary heights.
#[test]
fn column_evaluator_matches_direct_series() {
    let cfg = small_cfg(4.0, 16);
    let th = roll(&cfg, 0.5);
    let s = RayleighBenardSolver::from_theta(&RayleighBenardConfig { filter: false, ..cfg.clone() }, 1e-3, 1e-3, &th).unwrap();
    let y = chebyshev_gauss(7);
    let mut ev = ColumnEvaluator::new(s.grid(), 8, &y);
    let mut out = vec![0.0; 8 * 7];
    ev.eval(s.theta_hat(), &mut out);
    for i in 0..8 {
        for (j, &yj) in y.iter().enumerate() {
            let x = 4.0 * i as f64 / 8.0;
            let e = 0.5 * (2.0 * PI * x / 4.0).cos() * (PI * yj).sin();
            assert!((out[i * 7 + j] - e).abs() < 1e-12);
        }
    }
}

/// The banded transforms of `Advection` (the default) and full transforms give the same trajectory to
/// round-off on a convecting run.
#[test]
fn band_pruning_is_exact() {
    let cfg = RayleighBenardConfig { nx: 32, ny: 16, out_nx: 32, out_ny: 16, min_substeps: 8, ..RayleighBenardConfig::default() };
    let mut banded = RayleighBenardSolver::new(&cfg, 1e6, 1.0, 0.6, 4).unwrap();
    let mut full = RayleighBenardSolver::new(&cfg, 1e6, 1.0, 0.6, 4).unwrap();
    full.adv.without_band();
    for _ in 0..3 {
        banded.advance_frame().unwrap();
        full.advance_frame().unwrap();
    }
    crate::spectral::assert_fields_agree(&banded.state, &full.state, 2, 1e-12);
}

#[test]
fn tiny_trajectory_is_finite_and_deterministic() {
    let sys = RayleighBenard;
    let grid = sys.param_grid(Preset::Tiny);
    assert_eq!(grid[0].file_name, "rayleigh_benard_Rayleigh_1e4_Prandtl_1.hdf5");
    let a = sys.simulate(&grid[0], 2, 11, Preset::Tiny).unwrap();
    let b = sys.simulate(&grid[0], 2, 11, Preset::Tiny).unwrap();
    assert_eq!(a.fields[0].shape(), &[32, 32, 16]);
    for (x, y) in a.fields.iter().zip(&b.fields) {
        assert!(x.iter().all(|v| v.is_finite()));
        assert_eq!(x, y);
    }
}
