//! Bingham closure tests against independent oracles: trapezoidal quadrature of the Bingham
//! distribution over the circle (spectrally accurate for periodic analytic integrands) and exact
//! algebraic identities.

use physrep_sim::active_matter::closure::{bessel_ratio, invert_bessel_ratio, scaled_bessel_i, BinghamClosure, Sym2};

const QUAD_POINTS: usize = 20_000;

/// ⟨f(φ)⟩ under ψ(φ) ∝ exp(κ cos 2(φ − θ)) by the trapezoidal rule.
fn bingham_mean(kappa: f64, theta: f64, f: impl Fn(f64) -> f64) -> f64 {
    let mut num = 0.0;
    let mut den = 0.0;
    for m in 0..QUAD_POINTS {
        let phi = 2.0 * std::f64::consts::PI * m as f64 / QUAD_POINTS as f64;
        let w = (kappa * ((2.0 * (phi - theta)).cos() - 1.0)).exp();
        num += f(phi) * w;
        den += w;
    }
    num / den
}

#[test]
fn scaled_bessel_matches_quadrature_on_both_branches() {
    // e^{-x} I_ν(x) = (1/π) ∫₀^π e^{x(cos t − 1)} cos(νt) dt.
    for &x in &[1e-3, 0.5, 3.0, 24.9, 25.1, 60.0, 400.0] {
        for nu in 0..4u32 {
            let n = 20_000;
            let mut sum = 0.0;
            for m in 0..n {
                let t = std::f64::consts::PI * (m as f64 + 0.5) / n as f64;
                sum += (x * (t.cos() - 1.0)).exp() * (nu as f64 * t).cos();
            }
            let quad = sum / n as f64;
            let got = scaled_bessel_i(nu, x);
            let scale = scaled_bessel_i(0, x);
            assert!((got - quad).abs() <= 1e-13 * scale, "I_{nu}({x}): series {got:e} vs quadrature {quad:e}");
        }
    }
}

#[test]
fn bessel_ratio_inversion_matches_quadrature() {
    let closure = BinghamClosure::new();
    for &kappa in &[1e-4, 0.01, 0.3, 1.0, 2.5, 7.0, 20.0, 24.99, 25.01, 80.0, 500.0, 3000.0] {
        let s = bingham_mean(kappa, 0.0, |phi| (2.0 * phi).cos());
        let m4 = bingham_mean(kappa, 0.0, |phi| (4.0 * phi).cos());
        let a = bessel_ratio(kappa);
        assert!((a - s).abs() < 1e-13, "A({kappa}) = {a} vs quadrature {s}");
        let k_inv = invert_bessel_ratio(s);
        assert!((k_inv - kappa).abs() <= 1e-8 * kappa.max(1.0), "inverse of A at s = {s}: {k_inv} vs {kappa}");
        let m4_table = closure.m4(s);
        assert!((m4_table - m4).abs() < 1e-11, "m4({s}) table {m4_table} vs quadrature {m4} (kappa {kappa})");
    }
    // Limits: m4(0) = 0, m4 → 1 as s → 1, monotone in between.
    assert_eq!(closure.m4(0.0), 0.0);
    assert!((closure.m4(1.0) - 1.0).abs() < 1e-10);
    let mut prev = -1.0;
    for i in 0..=1000 {
        let v = closure.m4(i as f64 / 1000.0);
        assert!(v >= prev, "m4 not monotone at s = {}", i as f64 / 1000.0);
        prev = v;
    }
}

fn sample_tensors() -> Vec<Sym2> {
    // PSD tensors from isotropic to nearly aligned, various orientations and concentrations.
    let mut out = Vec::new();
    for &(c, s, theta) in &[
        (1.0f64, 0.0f64, 0.0f64),
        (1.0, 1e-6, 0.3),
        (0.7, 0.05, 1.1),
        (1.3, 0.4, -0.7),
        (1.0, 0.8, 2.0),
        (2.0, 0.97, 0.25),
        (1.0, 0.9995, -1.4),
    ] {
        let a: f64 = s * (2.0f64 * theta).cos();
        let b: f64 = s * (2.0f64 * theta).sin();
        out.push(Sym2::new(c * (1.0 + a) / 2.0, c * b / 2.0, c * (1.0 - a) / 2.0));
    }
    out
}

#[test]
fn fourth_moment_matches_bingham_quadrature() {
    let closure = BinghamClosure::new();
    for d in sample_tensors() {
        let c = d.trace();
        let a = (d.xx - d.yy) / c;
        let b = 2.0 * d.xy / c;
        let s = (a * a + b * b).sqrt();
        let theta = 0.5 * b.atan2(a);
        let kappa = invert_bessel_ratio(s);
        let q = |f: &dyn Fn(f64, f64) -> f64| c * bingham_mean(kappa, theta, |phi| f(phi.cos(), phi.sin()));
        // The quadrature's second moment reproduces D (checks the inversion and the frame).
        assert!((q(&|x, _| x * x) - d.xx).abs() < 1e-11);
        assert!((q(&|x, y| x * y) - d.xy).abs() < 1e-11);
        let sm = closure.fourth_moment(&d);
        let want = [
            (sm.xxxx, q(&|x, _| x.powi(4))),
            (sm.xxxy, q(&|x, y| x.powi(3) * y)),
            (sm.xxyy, q(&|x, y| x * x * y * y)),
            (sm.xyyy, q(&|x, y| x * y.powi(3))),
            (sm.yyyy, q(&|_, y| y.powi(4))),
        ];
        for (got, exp) in want {
            assert!((got - exp).abs() < 1e-10 * c, "S for D = {d:?}: {got} vs quadrature {exp}");
        }
    }
}

#[test]
fn closure_contraction_identity_and_trace_cancellation() {
    let closure = BinghamClosure::new();
    for d in sample_tensors() {
        let sm = closure.fourth_moment(&d);
        let pt = sm.partial_trace();
        for (got, want) in [(pt.xx, d.xx), (pt.xy, d.xy), (pt.yy, d.yy)] {
            assert!((got - want).abs() < 1e-15 * d.trace().max(1.0), "S_ijkk = D_ij violated");
        }
        // tr(D·D − S:D) = 0 and tr(∇u·D + D·∇uᵀ − 2E:S) = 0 for any ∇u.
        let sd = sm.contract(&d);
        assert!((d.square().trace() - sd.trace()).abs() < 1e-14);
        let (g11, g12, g21) = (0.37, -1.2, 0.8); // ∇u with tr = 0 (g22 = −g11)
        let e = Sym2::new(g11, 0.5 * (g12 + g21), -g11);
        // tr(∇u·D + D·∇uᵀ) = 2 tr(∇u·D) = 2 Σ_ij g_ij D_ji.
        let tr_gd = 2.0 * (g11 * d.xx + g12 * d.xy + g21 * d.xy - g11 * d.yy);
        let tr_es = 2.0 * sm.contract(&e).trace();
        assert!((tr_gd - tr_es).abs() < 1e-14, "trace terms do not cancel: {tr_gd} vs {tr_es}");
    }
}
