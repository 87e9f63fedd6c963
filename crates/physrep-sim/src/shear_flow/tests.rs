//! Tests of the shear-flow solver: exact Taylor–Green decay and pressure, conservation on shear layers, band
//! pruning, the IC family, and a tiny trajectory.

use super::*;

fn cfg(n: usize) -> ShearFlowConfig {
    ShearFlowConfig { nx: n, ny: 2 * n, out_nx: n, out_ny: 2 * n, filter: false, ..ShearFlowConfig::default() }
}

fn fields(c: &ShearFlowConfig, f: impl Fn(f64, f64) -> (f64, f64)) -> (Vec<f64>, Vec<f64>) {
    let g = Grid2::new(c.nx, c.ny, 1.0, 2.0).unwrap();
    let (x, y) = (g.x_coords(), g.y_coords());
    let mut a = vec![0.0; g.n_phys()];
    let mut b = vec![0.0; g.n_phys()];
    for i in 0..c.nx {
        for j in 0..c.ny {
            (a[i * c.ny + j], b[i * c.ny + j]) = f(x[i], y[j]);
        }
    }
    (a, b)
}

/// Taylor–Green: ω = A sin(2πx) sin(2πy) is an exact Navier–Stokes solution decaying as e^{−ν|k|²t}; the
/// tracer s = sin(2πx) sin(2πy) is a streamfunction level-set function (u·∇s = 0) decaying as e^{−D|k|²t}.
#[test]
fn taylor_green_decays_exactly() {
    let c = cfg(16);
    let tau = 2.0 * std::f64::consts::PI;
    let amp = 3.0;
    let (w, s) = fields(&c, |x, y| {
        let m = (tau * x).sin() * (tau * y).sin();
        (amp * m, m)
    });
    let (nu, d) = (0.01, 0.003);
    let mut solver = ShearFlowSolver::from_fields(&c, nu, d, &w, &s, [0.0, 0.0]).unwrap();
    let w0 = solver.vorticity_hat().to_vec();
    let s0 = solver.tracer_hat().to_vec();
    for _ in 0..10 {
        solver.advance_frame().unwrap();
    }
    let t = solver.t;
    assert!((t - 1.0).abs() < 1e-12);
    let k2 = 2.0 * tau * tau;
    let (ew, es) = ((-nu * k2 * t).exp(), (-d * k2 * t).exp());
    let norm: f64 = w0.iter().map(|c| c.norm()).fold(0.0, f64::max);
    let err_w = solver.vorticity_hat().iter().zip(&w0).map(|(a, b)| (a - b * ew).norm()).fold(0.0, f64::max) / norm;
    let norm_s: f64 = s0.iter().map(|c| c.norm()).fold(0.0, f64::max);
    let err_s = solver.tracer_hat().iter().zip(&s0).map(|(a, b)| (a - b * es).norm()).fold(0.0, f64::max) / norm_s;
    assert!(err_w < 1e-8, "vorticity rel. error {err_w:.3e}");
    assert!(err_s < 1e-8, "tracer rel. error {err_s:.3e}");
}

/// The Taylor–Green velocity u = U sin(2πx)cos(2πy), v = −U cos(2πx) sin(2πy) has the exact pressure
/// p = (U²/4)(cos 4πx + cos 4πy).
#[test]
fn pressure_of_taylor_green_is_exact() {
    let c = cfg(16);
    let tau = 2.0 * std::f64::consts::PI;
    let u0 = 0.7;
    let (w, s) = fields(&c, |x, y| (2.0 * tau * u0 * (tau * x).sin() * (tau * y).sin(), 0.0));
    let mut solver = ShearFlowSolver::from_fields(&c, 1e-3, 1e-3, &w, &s, [0.0, 0.0]).unwrap();
    let p = solver.pressure();
    let (u, v) = solver.velocity();
    let g = Grid2::new(c.nx, c.ny, 1.0, 2.0).unwrap();
    let (x, y) = (g.x_coords(), g.y_coords());
    let mut err: f64 = 0.0;
    for i in 0..c.nx {
        for j in 0..c.ny {
            let k = i * c.ny + j;
            let pe = 0.25 * u0 * u0 * ((2.0 * tau * x[i]).cos() + (2.0 * tau * y[j]).cos());
            err = err.max((p[k] - pe).abs());
            err = err.max((u[k] - u0 * (tau * x[i]).sin() * (tau * y[j]).cos()).abs());
            err = err.max((v[k] + u0 * (tau * x[i]).cos() * (tau * y[j]).sin()).abs());
        }
    }
    assert!(err < 1e-12, "max error {err:.3e}");
}

/// Mean vorticity, tracer mass and the mean flow are conserved to round-off on a real shear-layer run;
/// with ν = D = 0 and no filter the 2/3-dealiased dynamics conserve energy and enstrophy (up to the
/// ETDRK4 time error, measured ~1e-9 here).
#[test]
fn conservation_on_shear_layers() {
    let mut c = ShearFlowConfig::preset(Preset::Tiny);
    c.filter = false;
    let ic = ShearFlowIc::from_index(7);
    let mut solver = ShearFlowSolver::new(&c, 1e4, 1.0, ic).unwrap();
    // Inviscid copy of the same state.
    let g = solver.grid().clone();
    let mut fft = Fft2::new(&g);
    let mut w = vec![0.0; g.n_phys()];
    let mut s = vec![0.0; g.n_phys()];
    fft.inverse(solver.vorticity_hat(), &mut w);
    fft.inverse(solver.tracer_hat(), &mut s);
    let mut inviscid = ShearFlowSolver::from_fields(&c, 0.0, 0.0, &w, &s, solver.adv.mean_flow).unwrap();
    let w0 = solver.vorticity_hat()[0];
    let s0 = solver.tracer_hat()[0];
    let energy = |sv: &mut ShearFlowSolver| {
        let (u, v) = sv.velocity();
        u.iter().zip(&v).map(|(a, b)| a * a + b * b).sum::<f64>()
    };
    let enstrophy = |sv: &ShearFlowSolver| sv.vorticity_hat().iter().map(|c| c.norm_sqr()).sum::<f64>();
    let (e0, z0) = (energy(&mut inviscid), enstrophy(&inviscid));
    for _ in 0..5 {
        solver.advance_frame().unwrap();
        inviscid.advance_frame().unwrap();
    }
    let n = g.n_phys() as f64;
    assert!((solver.vorticity_hat()[0] - w0).norm() / n < 1e-14, "mean vorticity drift");
    // Normalised like the mean vorticity (by n, i.e. the drift of the mean tracer): the tracer mass here
    // is a near-cancelling sum (|ŝ₀| ≈ 5e-6 of Σ|s|), so relative to it round-off alone is ~1e-11.
    assert!((solver.tracer_hat()[0] - s0).norm() / n < 1e-14, "tracer mass drift {:e}", (solver.tracer_hat()[0] - s0).norm() / n);
    let (e1, z1) = (energy(&mut inviscid), enstrophy(&inviscid));
    assert!(((e1 - e0) / e0).abs() < 1e-6, "energy drift {:.3e}", (e1 - e0) / e0);
    assert!(((z1 - z0) / z0).abs() < 1e-6, "enstrophy drift {:.3e}", (z1 - z0) / z0);
}

/// The banded transforms of `Advection` (the default) and full transforms give the same trajectory to
/// round-off on a real shear-layer run (filter on).
#[test]
fn band_pruning_is_exact() {
    let c = ShearFlowConfig::preset(Preset::Tiny);
    let ic = ShearFlowIc::from_index(7);
    let mut banded = ShearFlowSolver::new(&c, 1e4, 1.0, ic).unwrap();
    let mut full = ShearFlowSolver::new(&c, 1e4, 1.0, ic).unwrap();
    full.adv.without_band();
    for _ in 0..3 {
        banded.advance_frame().unwrap();
        full.advance_frame().unwrap();
    }
    crate::spectral::assert_fields_agree(&banded.state, &full.state, 2, 1e-12);
}

#[test]
fn ic_family_matches_the_generator() {
    // 40 distinct members; n_shear = 2 places the layers at ±0.5 with signs (−1, +1).
    let all: Vec<_> = (0..40).map(ShearFlowIc::from_index).collect();
    for i in 0..40 {
        for j in 0..i {
            assert_ne!(all[i], all[j]);
        }
    }
    let ic = ShearFlowIc { n_shear: 2, n_blobs: 2, width: 1.0 };
    let (ux, _) = ic.velocity(0.3, 0.0);
    assert!((ux + 0.5).abs() < 1e-3);
    let (ux, _) = ic.velocity(0.3, 0.99);
    assert!((ux - 0.5).abs() < 1e-3);
    let (_, uy) = ic.velocity(0.25, 0.5);
    assert!((uy - 0.1 * (2.0 * std::f64::consts::PI * 0.25).sin()).abs() < 1e-12);
}

#[test]
fn tiny_trajectory_is_finite_and_deterministic() {
    let sys = ShearFlow;
    let p = &sys.param_grid(Preset::Tiny)[0];
    assert_eq!(p.file_name, "shear_flow_Reynolds_5e2_Schmidt_5e-1.hdf5");
    let a = sys.simulate(p, 1, 0, Preset::Tiny).unwrap();
    let b = sys.simulate(p, 1, 0, Preset::Tiny).unwrap();
    assert_eq!(a.fields.len(), 3);
    assert_eq!(a.fields[2].shape(), &[32, 16, 32, 2]);
    for (x, y) in a.fields.iter().zip(&b.fields) {
        assert!(x.iter().all(|v| v.is_finite()));
        assert_eq!(x, y);
    }
    // Velocity std of the order of The Well's (0.40, 0.10).
    let ux: Vec<f32> = a.fields[2].iter().step_by(2).copied().collect();
    let m = ux.iter().sum::<f32>() / ux.len() as f32;
    let sd = (ux.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / ux.len() as f32).sqrt();
    assert!((0.2..0.6).contains(&sd), "u_x std {sd}");
}
