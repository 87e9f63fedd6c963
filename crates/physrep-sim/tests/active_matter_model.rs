//! Validation of the active-matter solver against independent oracles (spec `docs/simulators.md` §6.8):
//! linear growth rate of the isotropic state, a manufactured Stokes flow, incompressibility, PSD-ness of
//! D, conservation of ⟨c⟩, determinism and blow-up reporting.

use num_complex::Complex64;
use physrep_sim::active_matter::closure::Sym2;
use physrep_sim::active_matter::{file_name, initial_condition, simulate, stokes, ActiveMatter, ActiveMatterConfig, Run};
use physrep_sim::spectral::{Fft2, Grid2};
use physrep_sim::{Preset, SimError, System};

/// Tiny-preset settings without the realizability limiter, so the raw scheme is tested.
fn small_cfg(n: usize, steps_per_frame: usize) -> ActiveMatterConfig {
    ActiveMatterConfig { n, steps_per_frame, frames: 9, realizability_limit: None, ..ActiveMatterConfig::preset(Preset::Tiny) }
}

/// Largest order parameter s = (λ_max − λ_min)/c over the grid.
fn max_order(snap: &physrep_sim::active_matter::model::Snapshot) -> f64 {
    let mut m: f64 = 0.0;
    for p in 0..snap.c.len() {
        let (lo, hi) = Sym2::new(snap.d[0][p], snap.d[1][p], snap.d[2][p]).eigenvalues();
        m = m.max((hi - lo) / snap.c[p]);
    }
    m
}

/// The limiter keeps an under-resolved run (16², ζ = 9, α = −5) nearly realizable, conserves ⟨c⟩, and
/// leaves a resolved run (32², ζ = 1) bit-identical.
#[test]
fn realizability_limiter_bounds_order_and_is_inert_when_resolved() {
    let run_max_s = |cfg: &ActiveMatterConfig, zeta: f64, alpha: f64, frames: usize| {
        let grid = Grid2::new(cfg.n, cfg.n, cfg.length, cfg.length).unwrap();
        let mut run = Run::new(cfg, zeta, alpha, &initial_condition(cfg, &grid, 42)).unwrap();
        let c0 = run.state[0];
        let mut max_s: f64 = 0.0;
        for _ in 0..frames {
            for _ in 0..cfg.steps_per_frame {
                assert!(run.step());
            }
            max_s = max_s.max(max_order(&run.snapshot()));
        }
        assert!((run.state[0] - c0).norm() < 1e-10, "mean c not conserved");
        (max_s, run.state)
    };
    let raw = small_cfg(16, 10);
    let limited = ActiveMatterConfig { realizability_limit: Some(0.999), ..raw.clone() };
    let (s_raw, _) = run_max_s(&raw, 9.0, -5.0, 12);
    let (s_lim, _) = run_max_s(&limited, 9.0, -5.0, 12);
    assert!(s_raw > 1.5, "the raw under-resolved run should overshoot (max s {s_raw})");
    assert!(s_lim < 1.2, "limited run max s {s_lim}");
    let raw32 = small_cfg(32, 20);
    let lim32 = ActiveMatterConfig { realizability_limit: Some(0.999), ..raw32.clone() };
    let (_, a) = run_max_s(&raw32, 1.0, -1.0, 8);
    let (_, b) = run_max_s(&lim32, 1.0, -1.0, 8);
    assert_eq!(a, b);
}

fn uniform(n: usize, v: f64) -> Vec<f64> {
    vec![v; n * n]
}

/// A homogeneous traceless perturbation δ of D = (c/2)I grows as e^{σt}, σ = ζc − 4d_R, whatever the
/// closure (u ≡ 0 for a homogeneous state). c = 1 and c = 1.4 both checked.
#[test]
fn homogeneous_perturbation_grows_at_linear_rate() {
    for &(zeta, c) in &[(1.0, 1.0), (3.0, 1.4), (17.0, 1.0)] {
        let n = 16;
        let cfg = ActiveMatterConfig { steps_per_frame: 100, dt_out: 1.0 / zeta, ..small_cfg(n, 100) };
        let delta = 1e-8;
        let (a, b) = (0.8 * delta, -0.6 * delta);
        let d0 = [uniform(n, c / 2.0 + a), uniform(n, b), uniform(n, c / 2.0 - a)];
        let mut run = Run::new(&cfg, zeta, -3.0, &d0).unwrap();
        let t = cfg.dt_out;
        for _ in 0..cfg.steps_per_frame {
            assert!(run.step());
        }
        let snap = run.snapshot();
        let sigma = zeta * c - 4.0 * cfg.d_r;
        let growth = (sigma * t).exp();
        let q1 = 0.5 * (snap.d[0][5] - snap.d[2][5]);
        let q2 = snap.d[1][5];
        assert!((q1 / (a * growth) - 1.0).abs() < 1e-6, "ζ = {zeta}: q1 ratio {}", q1 / (a * growth));
        assert!((q2 / (b * growth) - 1.0).abs() < 1e-6, "ζ = {zeta}: q2 ratio {}", q2 / (b * growth));
        assert!((snap.c[7] - c).abs() < 1e-13);
        assert!(snap.u[0].iter().chain(&snap.u[1]).all(|v| v.abs() < 1e-14));
    }
}

/// Linear theory with hydrodynamics (derived here): about D₀ = (c/2)I a shear mode
/// δD_xy = δ cos(kx) drives the flow u_y(x) and grows at
/// σ_xy = ζc − 4d_R − d_T k² − cA / (4(1 + βc/8)), A = α − ζβc/2
/// (flow terms (c/2)E, stress Σ_xy = A δD_xy + (βc/4)E_xy, Stokes E_xy = −Σ_xy/2), while a normal-stress
/// mode δ(D_xx − D_yy) = 2δ cos(kx) drives no flow and grows at ζc − 4d_R − d_T k². Checks the sign
/// conventions of ∇u, the stress, the Stokes solve and the isotropic closure together.
#[test]
fn plane_wave_perturbation_grows_at_hydrodynamic_rate() {
    let n = 16;
    let (zeta, alpha, c) = (1.0, -3.0, 1.0);
    let cfg = |spf: usize| ActiveMatterConfig { dt_out: 1.0, ..small_cfg(n, spf) };
    let grid = Grid2::new(n, n, 10.0, 10.0).unwrap();
    let k = 2.0 * std::f64::consts::PI * 2.0 / 10.0;
    let delta = 1e-8;
    let xs = grid.x_coords();
    let wave = |offset: f64, scale: f64| -> Vec<f64> {
        let mut v = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                v[i * n + j] = offset + scale * (k * xs[i]).cos();
            }
        }
        v
    };
    let (beta, d_r, d_t) = (cfg(1).beta, cfg(1).d_r, cfg(1).d_t);
    let a = alpha - zeta * beta * c / 2.0;
    let base = zeta * c - 4.0 * d_r - d_t * k * k;
    let sigma_xy = base - c * a / (4.0 * (1.0 + beta * c / 8.0));
    let h = c / 2.0;
    let run_to_one = |spf: usize, d0: [Vec<f64>; 3]| {
        let mut run = Run::new(&cfg(spf), zeta, alpha, &d0).unwrap();
        for _ in 0..spf {
            assert!(run.step());
        }
        run.snapshot()
    };
    // Shear mode: the lagged-E fixed point makes the error first order in dt, so check the error
    // itself and that it halves with dt (convergence to the linear theory).
    let shear = [wave(h, 0.0), wave(0.0, delta), wave(h, 0.0)];
    let errs: Vec<f64> = [100, 200]
        .iter()
        .map(|&spf| {
            let s = run_to_one(spf, shear.clone());
            let max_ux = s.u[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let max_uy = s.u[1].iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(max_uy > 1e-9 && max_ux < 1e-6 * max_uy, "flow must be u_y(x) only: {max_ux:e}, {max_uy:e}");
            s.d[1][0] / (delta * sigma_xy.exp()) - 1.0
        })
        .collect();
    assert!(errs[0].abs() < 1e-4, "shear mode (σ = {sigma_xy}): relative errors {errs:?}");
    let order = errs[0] / errs[1];
    assert!((1.7..2.3).contains(&order), "shear mode: error ratio {order} for dt halved ({errs:?})");
    // Normal-stress mode: no flow, so no fixed-point lag.
    let s = run_to_one(100, [wave(h, delta), wave(0.0, 0.0), wave(h, -delta)]);
    let ratio = 0.5 * (s.d[0][0] - s.d[2][0]) / (delta * base.exp());
    assert!((ratio - 1.0).abs() < 1e-6, "normal mode: amplitude ratio {ratio} (σ = {base})");
    assert!(s.u[0].iter().chain(&s.u[1]).all(|v| v.abs() < 1e-14), "normal mode must drive no flow");
}

/// Manufactured Stokes flow: for a divergence-free u = (∂_yψ, −∂_xψ) and any q, the stress
/// Σ = −(∇u + ∇uᵀ) + qI has ∇·Σ = −∇²u + ∇q, so the solver must return u itself.
#[test]
fn stokes_solver_recovers_manufactured_flow() {
    let (n, l) = (32, 10.0);
    let grid = Grid2::new(n, n, l, l).unwrap();
    let mut fft = Fft2::new(&grid);
    let k = 2.0 * std::f64::consts::PI / l;
    // ψ = 0.3 sin(kx) cos(2ky) + 0.2 cos(3kx + 2ky + 0.4)
    let u_exact = |x: f64, y: f64| {
        let th = 3.0 * k * x + 2.0 * k * y + 0.4;
        let psi_x = 0.3 * k * (k * x).cos() * (2.0 * k * y).cos() - 0.2 * 3.0 * k * th.sin();
        let psi_y = -0.3 * 2.0 * k * (k * x).sin() * (2.0 * k * y).sin() - 0.2 * 2.0 * k * th.sin();
        (psi_y, -psi_x)
    };
    // ∇u entries (G_ij = ∂_j u_i) analytically.
    let grad = |x: f64, y: f64| {
        let th = 3.0 * k * x + 2.0 * k * y + 0.4;
        let (s1, c1, s2, c2) = ((k * x).sin(), (k * x).cos(), (2.0 * k * y).sin(), (2.0 * k * y).cos());
        let psi_xx = -0.3 * k * k * s1 * c2 - 0.2 * 9.0 * k * k * th.cos();
        let psi_xy = -0.3 * 2.0 * k * k * c1 * s2 - 0.2 * 6.0 * k * k * th.cos();
        let psi_yy = -0.3 * 4.0 * k * k * s1 * c2 - 0.2 * 4.0 * k * k * th.cos();
        [psi_xy, psi_yy, -psi_xx, -psi_xy] // (xx, xy, yx, yy)
    };
    let q = |x: f64, y: f64| (k * (x + 2.0 * y)).cos() + 0.5;
    let (xs, ys) = (grid.x_coords(), grid.y_coords());
    let np = grid.n_phys();
    let mut sig = [vec![0.0; np], vec![0.0; np], vec![0.0; np]];
    for i in 0..n {
        for j in 0..n {
            let g = grad(xs[i], ys[j]);
            let p = i * n + j;
            let qq = q(xs[i], ys[j]);
            sig[0][p] = -2.0 * g[0] + qq;
            sig[1][p] = -(g[1] + g[2]);
            sig[2][p] = -2.0 * g[3] + qq;
        }
    }
    let ns = grid.n_spec();
    let mut sh = [vec![Complex64::default(); ns], vec![Complex64::default(); ns], vec![Complex64::default(); ns]];
    for c in 0..3 {
        fft.forward(&sig[c], &mut sh[c]);
    }
    let mut ux = vec![Complex64::default(); ns];
    let mut uy = ux.clone();
    stokes::solve(&grid, stokes::SpecSym { xx: &sh[0], xy: &sh[1], yy: &sh[2] }, &mut ux, &mut uy);
    let mut gh: [Vec<Complex64>; 4] = std::array::from_fn(|_| vec![Complex64::default(); ns]);
    {
        let [a, b, c, d] = &mut gh;
        stokes::gradient(&grid, &ux, &uy, [a, b, c, d]);
    }
    let mut phys = vec![0.0; np];
    let mut gphys: [Vec<f64>; 4] = std::array::from_fn(|_| vec![0.0; np]);
    for c in 0..4 {
        fft.inverse(&gh[c], &mut gphys[c]);
    }
    let mut err_u: f64 = 0.0;
    let mut err_g: f64 = 0.0;
    let mut max_tr: f64 = 0.0;
    for (comp, uh) in [&ux, &uy].into_iter().enumerate() {
        fft.inverse(uh, &mut phys);
        for i in 0..n {
            for j in 0..n {
                let (ex, ey) = u_exact(xs[i], ys[j]);
                let e = if comp == 0 { ex } else { ey };
                err_u = err_u.max((phys[i * n + j] - e).abs());
            }
        }
    }
    for i in 0..n {
        for j in 0..n {
            let p = i * n + j;
            let g = grad(xs[i], ys[j]);
            for c in 0..4 {
                err_g = err_g.max((gphys[c][p] - g[c]).abs());
            }
            max_tr = max_tr.max((gphys[0][p] + gphys[3][p]).abs());
        }
    }
    assert!(err_u < 1e-13, "velocity error {err_u:e}");
    assert!(err_g < 1e-12, "gradient error {err_g:e}");
    assert!(max_tr < 1e-13, "tr E = ∇·u = {max_tr:e}");
}

/// Over a nonlinear run from the seeded IC into the ordered state (ζ = 1, α = −1 on 32², where the
/// unstable band |k| < √((ζ − 4d_R)/d_T) = 4 is resolved): tr E = 0 (incompressibility), D symmetric
/// PSD with eigenvalues in [0, c], ⟨c⟩ conserved to round-off, and a flow actually develops.
#[test]
fn resolved_run_keeps_invariants() {
    let cfg = ActiveMatterConfig { frames: 17, ..small_cfg(32, 20) };
    let grid = Grid2::new(cfg.n, cfg.n, cfg.length, cfg.length).unwrap();
    let d0 = initial_condition(&cfg, &grid, 42);
    let mut run = Run::new(&cfg, 1.0, -1.0, &d0).unwrap();
    let np = grid.n_phys() as f64;
    let mean_c0 = run.state[0].re / np;
    assert!((mean_c0 - 1.0).abs() < 1e-3);
    let (mut max_u, mut max_s): (f64, f64) = (0.0, 0.0);
    for frame in 1..cfg.frames {
        for _ in 0..cfg.steps_per_frame {
            assert!(run.step());
        }
        let s = run.snapshot();
        let (mut max_tr, mut max_e): (f64, f64) = (0.0, 0.0);
        let (mut min_ratio, mut max_ratio) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in 0..grid.n_phys() {
            max_tr = max_tr.max((s.e[0][p] + s.e[2][p]).abs());
            max_e = max_e.max(s.e[0][p].abs()).max(s.e[1][p].abs());
            let d = Sym2::new(s.d[0][p], s.d[1][p], s.d[2][p]);
            let (lo, hi) = d.eigenvalues();
            min_ratio = min_ratio.min(lo / s.c[p]);
            max_ratio = max_ratio.max(hi / s.c[p]);
            max_u = max_u.max(s.u[0][p].abs());
        }
        max_s = max_s.max(max_order(&s));
        assert!(max_tr <= 1e-12 * max_e, "frame {frame}: tr E {max_tr:e} (|E| {max_e:e})");
        assert!(min_ratio >= 0.0 && max_ratio <= 1.0, "frame {frame}: eigenvalues/c in [{min_ratio}, {max_ratio}]");
        let mean_c = run.state[0].re / np;
        assert!((mean_c - mean_c0).abs() < 1e-13, "frame {frame}: <c> drifted by {:e}", mean_c - mean_c0);
    }
    assert!(max_u > 0.1, "no flow developed (max |u| = {max_u:e})");
    assert!(max_s > 0.8, "the suspension did not order (max s = {max_s})");
}

#[test]
fn same_seed_same_trajectory_and_seeds_differ() {
    let cfg = ActiveMatterConfig { frames: 3, ..small_cfg(16, 10) };
    let a = simulate(&cfg, 5.0, -2.0, 7, 0).unwrap();
    let b = simulate(&cfg, 5.0, -2.0, 7, 0).unwrap();
    let c = simulate(&cfg, 5.0, -2.0, 8, 0).unwrap();
    assert_eq!(a.d, b.d);
    assert_eq!(a.e, b.e);
    assert_ne!(a.d, c.d);
}

#[test]
fn blow_up_is_a_typed_error_naming_the_run() {
    // dt = 2 with ζ = 17 is far beyond the explicit stability limit.
    let cfg = ActiveMatterConfig { frames: 40, dt_out: 2.0, ..small_cfg(16, 1) };
    match simulate(&cfg, 17.0, -5.0, 1, 3) {
        Err(SimError::BlowUp { params, time, ic, .. }) => {
            assert!(params.contains("zeta=17") && params.contains("alpha=-5"), "{params}");
            assert_eq!(ic, 3);
            assert!(time > 0.0 && time <= 40.0 * 2.0);
        }
        other => panic!("expected a blow-up error, got {other:?}"),
    }
}

#[test]
fn tiny_preset_trajectory_has_well_shapes() {
    let sys = ActiveMatter;
    let grid = sys.param_grid(Preset::Tiny);
    assert_eq!(grid[0].file_name, "active_matter_L_10.0_zeta_1.0_alpha_-1.0.hdf5");
    assert_eq!(file_name(17.0, -5.0), "active_matter_L_10.0_zeta_17.0_alpha_-5.0.hdf5");
    assert_eq!(grid[0].params.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["L", "zeta", "alpha"]);
    assert_eq!(sys.param_grid(Preset::Medium).len(), 45);
    let layout = sys.layout(Preset::Tiny);
    assert!(layout.time.len() >= 32);
    assert_eq!(layout.time[4], 1.0);
    // The extreme point of the grid, to check the tiny preset is stable there.
    let p = grid.iter().find(|p| p.get("zeta") == Some(17.0) && p.get("alpha") == Some(-5.0)).unwrap();
    let traj = sys.simulate(p, 0, 123, Preset::Tiny).unwrap();
    let (t, n) = (layout.time.len(), layout.x.len());
    assert_eq!(traj.fields[0].shape(), &[t, n, n]);
    assert_eq!(traj.fields[1].shape(), &[t, n, n, 2]);
    assert_eq!(traj.fields[2].shape(), &[t, n, n, 2, 2]);
    assert_eq!(traj.fields[3].shape(), &[t, n, n, 2, 2]);
    let d = &traj.fields[2];
    let mean_c: f64 = traj.fields[0].iter().map(|&v| v as f64).sum::<f64>() / traj.fields[0].len() as f64;
    assert!((mean_c - 1.0).abs() < 1e-3, "mean c {mean_c}");
    for idx in [[t - 1, 3, 5], [t / 2, 0, 7]] {
        let [f, i, j] = idx;
        assert_eq!(d[[f, i, j, 0, 1]], d[[f, i, j, 1, 0]]);
        assert!((d[[f, i, j, 0, 0]] + d[[f, i, j, 1, 1]] - traj.fields[0][[f, i, j]]).abs() < 1e-6);
    }
    // The nematic instability must have ordered the suspension by the last frame.
    let last = t - 1;
    let mut q: f64 = 0.0;
    for i in 0..n {
        for j in 0..n {
            let a = (d[[last, i, j, 0, 0]] - d[[last, i, j, 1, 1]]) as f64;
            let b = 2.0 * d[[last, i, j, 0, 1]] as f64;
            q = q.max((a * a + b * b).sqrt());
        }
    }
    assert!(q > 0.3, "order parameter at the end {q}");
}
