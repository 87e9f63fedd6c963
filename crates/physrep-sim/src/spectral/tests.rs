//! Tests of the transform contract of [`Fft2`]: round trips, exact derivatives, spectral convergence, the
//! sine-series parity, and the banded, pair and boxed transforms against the full ones.

use super::*;
use rand::{Rng, SeedableRng};

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn round_trip_is_identity_to_machine_precision() {
    for &(nx, ny) in &[(8, 8), (12, 16), (32, 64), (48, 18)] {
        let g = Grid2::new(nx, ny, 1.0, 2.0).unwrap();
        let mut fft = Fft2::new(&g);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let f: Vec<f64> = (0..g.n_phys()).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut s = vec![Complex64::default(); g.n_spec()];
        let mut back = vec![0.0; g.n_phys()];
        fft.forward(&f, &mut s);
        fft.inverse(&s, &mut back);
        assert!(max_abs_diff(&f, &back) < 1e-14, "{nx}×{ny}");
        // Unnormalised forward: the mean mode is the plain sum.
        let sum: f64 = f.iter().sum();
        assert!((s[0].re - sum).abs() < 1e-12);
    }
}

#[test]
fn derivatives_of_trigonometric_polynomial_are_exact() {
    let (nx, ny, lx, ly) = (16, 24, 1.0, 2.0);
    let g = Grid2::new(nx, ny, lx, ly).unwrap();
    let mut fft = Fft2::new(&g);
    let tau = 2.0 * std::f64::consts::PI;
    let (x, y) = (g.x_coords(), g.y_coords());
    let f = |x: f64, y: f64| (tau * 3.0 * x).sin() * (tau * 2.0 * y / ly).cos() + (tau * 5.0 * y / ly).sin();
    let dfx = |x: f64, y: f64| tau * 3.0 * (tau * 3.0 * x).cos() * (tau * 2.0 * y / ly).cos();
    let dfy =
        |x: f64, y: f64| -tau * 2.0 / ly * (tau * 3.0 * x).sin() * (tau * 2.0 * y / ly).sin() + tau * 5.0 / ly * (tau * 5.0 * y / ly).cos();
    let mut phys = vec![0.0; g.n_phys()];
    for i in 0..nx {
        for j in 0..ny {
            phys[i * ny + j] = f(x[i], y[j]);
        }
    }
    let mut s = vec![Complex64::default(); g.n_spec()];
    let mut d = s.clone();
    let mut out = vec![0.0; g.n_phys()];
    fft.forward(&phys, &mut s);
    g.ddx(&s, &mut d);
    fft.inverse(&d, &mut out);
    let mut err: f64 = 0.0;
    for i in 0..nx {
        for j in 0..ny {
            err = err.max((out[i * ny + j] - dfx(x[i], y[j])).abs());
        }
    }
    assert!(err < 1e-12, "d/dx error {err}");
    g.ddy(&s, &mut d);
    fft.inverse(&d, &mut out);
    let mut err: f64 = 0.0;
    for i in 0..nx {
        for j in 0..ny {
            err = err.max((out[i * ny + j] - dfy(x[i], y[j])).abs());
        }
    }
    assert!(err < 1e-12, "d/dy error {err}");
}

/// Spectral convergence: the Laplacian of the smooth periodic function e^{sin(2πx) + cos(πy)} on
/// [0,1)×[0,2) converges exponentially with N until round-off.
#[test]
fn laplacian_converges_spectrally() {
    let tau = 2.0 * std::f64::consts::PI;
    let pi = std::f64::consts::PI;
    let mut errs = Vec::new();
    for &n in &[8usize, 16, 32, 64] {
        let g = Grid2::new(n, n, 1.0, 2.0).unwrap();
        let mut fft = Fft2::new(&g);
        let (x, y) = (g.x_coords(), g.y_coords());
        let mut phys = vec![0.0; g.n_phys()];
        let mut exact = vec![0.0; g.n_phys()];
        for i in 0..n {
            for j in 0..n {
                let (a, b) = ((tau * x[i]).sin(), (pi * y[j]).cos());
                let f = (a + b).exp();
                phys[i * n + j] = f;
                // ∂xx e^{sin τx} = τ²(cos² τx − sin τx) e^…, ∂yy e^{cos πy} = π²(sin² πy − cos πy) e^…
                exact[i * n + j] = f * (tau * tau * ((tau * x[i]).cos().powi(2) - a) + pi * pi * ((pi * y[j]).sin().powi(2) - b));
            }
        }
        let mut s = vec![Complex64::default(); g.n_spec()];
        fft.forward(&phys, &mut s);
        let k2 = g.k_squared();
        for (v, k) in s.iter_mut().zip(&k2) {
            *v *= -k;
        }
        let mut out = vec![0.0; g.n_phys()];
        fft.inverse(&s, &mut out);
        errs.push(max_abs_diff(&out, &exact));
    }
    // Exponential decay: each doubling gains far more than any algebraic order would.
    assert!(errs[1] < errs[0] * 1e-3, "{errs:?}");
    assert!(errs[2] < errs[1] * 1e-5, "{errs:?}");
    assert!(errs[3] < 1e-8, "{errs:?}");
}

#[test]
fn odd_extension_realises_a_sine_series() {
    // f(y) = sin(πy) + 0.3 sin(3πy) on [0,1], oddly extended to [0,2): its derivative is the cosine series
    // π cos(πy) + 0.9π cos(3πy), which is even.
    let (nx, ny) = (4, 32);
    let g = Grid2::new(nx, ny, 1.0, 2.0).unwrap();
    let mut fft = Fft2::new(&g);
    let pi = std::f64::consts::PI;
    let y = g.y_coords();
    let mut phys = vec![0.0; g.n_phys()];
    for i in 0..nx {
        for j in 0..ny {
            phys[i * ny + j] = (pi * y[j]).sin() + 0.3 * (3.0 * pi * y[j]).sin();
        }
    }
    let mut s = vec![Complex64::default(); g.n_spec()];
    fft.forward(&phys, &mut s);
    // Sine series → purely imaginary y-coefficients.
    assert!(s.iter().all(|c| c.re.abs() < 1e-12));
    let mut d = s.clone();
    g.ddy(&s, &mut d);
    let mut out = vec![0.0; g.n_phys()];
    fft.inverse(&d, &mut out);
    for j in 0..ny {
        let e = pi * (pi * y[j]).cos() + 0.9 * pi * (3.0 * pi * y[j]).cos();
        assert!((out[j] - e).abs() < 1e-12);
        // even about y = 1: value at 2 − y equals value at y
        let jr = (ny - j) % ny;
        assert!((out[j] - out[jr]).abs() < 1e-12);
    }
}

/// `with_band(b)`: forward = full forward with columns `iy ≥ b` zeroed; inverse = full inverse of the
/// input with those columns zeroed (bit for bit: the kept columns see the same operations).
#[test]
fn banded_transforms_equal_masked_full_transforms() {
    for &(nx, ny, band) in &[(16, 16, 6), (32, 64, 22), (12, 18, 4), (8, 12, 7)] {
        let g = Grid2::new(nx, ny, 1.0, 2.0).unwrap();
        let nyh = g.nyh();
        let mut full = Fft2::new(&g);
        let mut banded = Fft2::with_band(&g, band);
        assert_eq!((full.band(), banded.band()), (nyh, band));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let f: Vec<f64> = (0..g.n_phys()).map(|_| rng.random_range(-1.0..1.0)).collect();
        let (mut a, mut b) = (vec![Complex64::default(); g.n_spec()], random_complex(g.n_spec(), 5));
        full.forward(&f, &mut a);
        banded.forward(&f, &mut b);
        for k in 0..g.n_spec() {
            let want = if k % nyh < band { a[k] } else { Complex64::default() };
            assert_eq!(b[k], want, "forward {nx}×{ny} band {band} at {k}");
        }
        // Inverse: garbage in the columns beyond the band must be ignored.
        let mut s = random_complex(g.n_spec(), 9);
        let (mut x, mut y) = (vec![0.0; g.n_phys()], vec![0.0; g.n_phys()]);
        banded.inverse(&s, &mut y);
        for k in 0..g.n_spec() {
            if k % nyh >= band {
                s[k] = Complex64::default();
            }
        }
        full.inverse(&s, &mut x);
        assert_eq!(x, y, "inverse {nx}×{ny} band {band}");
    }
}

/// The pair transforms equal two single transforms (full and banded, batched and transposed columns).
#[test]
fn pair_transforms_equal_two_single_transforms() {
    for &(nx, ny, band) in &[(16, 16, 9), (32, 64, 22), (12, 18, 4), (8, 12, 7), (64, 32, 11), (4, 4, 3)] {
        let g = Grid2::new(nx, ny, 1.0, 2.0).unwrap();
        let mut fft = Fft2::with_band(&g, band);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        let mut phys = || -> Vec<f64> { (0..g.n_phys()).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let (a, b) = (phys(), phys());
        let spec = || vec![Complex64::default(); g.n_spec()];
        let (mut sa, mut sb, mut pa, mut pb) = (spec(), spec(), spec(), spec());
        fft.forward(&a, &mut sa);
        fft.forward(&b, &mut sb);
        for ((z, a), b) in fft.pair_rows_mut().iter_mut().zip(&a).zip(&b) {
            *z = Complex64::new(*a, *b);
        }
        fft.forward_pair_from_rows(&mut pa, &mut pb);
        let scale = sa.iter().chain(&sb).map(|c| c.norm()).fold(0.0, f64::max);
        let err = sa.iter().chain(&sb).zip(pa.iter().chain(&pb)).map(|(x, y)| (x - y).norm()).fold(0.0, f64::max);
        assert!(err <= 1e-14 * scale, "forward {nx}×{ny} band {band}: {err:e}");
        // Inverse of spectra with generic (non-Hermitian-consistent) DC/Nyquist entries and garbage beyond
        // the band: both paths drop the same parts.
        let (sa, sb) = (random_complex(g.n_spec(), 1), random_complex(g.n_spec(), 2));
        let (mut xa, mut xb, mut ya, mut yb) = (phys(), phys(), phys(), phys());
        fft.inverse(&sa, &mut xa);
        fft.inverse(&sb, &mut xb);
        fft.inverse_pair(&sa, &sb, &mut ya, &mut yb);
        let scale = xa.iter().chain(&xb).map(|v| v.abs()).fold(0.0, f64::max);
        let err = max_abs_diff(&xa, &ya).max(max_abs_diff(&xb, &yb));
        assert!(err <= 1e-14 * scale, "inverse {nx}×{ny} band {band}: {err:e}");
    }
}

/// `dealiased(rule)`: the forward transforms (single and pair) equal the masked full forward, and the
/// inverse transforms (single, pair, and pair filled in place by `inverse_pair_to_rows_with`) equal the full
/// inverse of the masked input, whatever lies outside the box (single: bit for bit).
#[test]
fn box_transforms_equal_masked_full_transforms() {
    for &(nx, ny) in &[(16, 16), (32, 64), (12, 18), (64, 32), (128, 16)] {
        for rule in [Dealias::TwoThirds, Dealias::Half] {
            let g = Grid2::new(nx, ny, 1.0, 2.0).unwrap();
            let (nyh, mask) = (g.nyh(), g.dealias_mask(rule));
            let mut full = Fft2::new(&g);
            let mut bx = Fft2::dealiased(&g, rule);
            assert_eq!(bx.band(), g.dealias_band(rule));
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
            let mut phys = || -> Vec<f64> { (0..g.n_phys()).map(|_| rng.random_range(-1.0..1.0)).collect() };
            let (f, h) = (phys(), phys());
            let spec = || vec![Complex64::default(); g.n_spec()];
            let (mut fa, mut fb, mut ba, mut pa, mut pb) = (spec(), spec(), random_complex(g.n_spec(), 3), spec(), spec());
            full.forward(&f, &mut fa);
            full.forward(&h, &mut fb);
            bx.forward(&f, &mut ba);
            for k in 0..g.n_spec() {
                assert_eq!(ba[k], fa[k] * mask[k], "forward {nx}×{ny} {rule:?} at {k}");
            }
            for ((z, a), b) in bx.pair_rows_mut().iter_mut().zip(&f).zip(&h) {
                *z = Complex64::new(*a, *b);
            }
            bx.forward_pair_from_rows(&mut pa, &mut pb);
            let scale = fa.iter().chain(&fb).map(|c| c.norm()).fold(0.0, f64::max);
            let want = fa.iter().chain(&fb).zip(mask.iter().chain(&mask)).map(|(c, m)| c * m);
            let err = pa.iter().chain(&pb).zip(want).map(|(x, y)| (x - y).norm()).fold(0.0, f64::max);
            assert!(err <= 1e-14 * scale, "forward pair {nx}×{ny} {rule:?}: {err:e}");
            // Inverse: garbage outside the box is ignored.
            let (sa, sb) = (random_complex(g.n_spec(), 4), random_complex(g.n_spec(), 5));
            let masked = |s: &[Complex64]| -> Vec<Complex64> { s.iter().zip(&mask).map(|(c, m)| c * m).collect() };
            let (ma, mb) = (masked(&sa), masked(&sb));
            let (mut xa, mut xb, mut y) = (phys(), phys(), phys());
            full.inverse(&ma, &mut xa);
            full.inverse(&mb, &mut xb);
            bx.inverse(&sa, &mut y);
            assert_eq!(xa, y, "inverse {nx}×{ny} {rule:?}");
            let scale = xa.iter().chain(&xb).map(|v| v.abs()).fold(0.0, f64::max);
            let (mut ya, mut yb) = (phys(), phys());
            bx.inverse_pair(&sa, &sb, &mut ya, &mut yb);
            let err = max_abs_diff(&xa, &ya).max(max_abs_diff(&xb, &yb));
            assert!(err <= 1e-14 * scale, "inverse pair {nx}×{ny} {rule:?}: {err:e}");
            let (band, sc) = (bx.band(), bx.inverse_scale());
            let mut rows_filled = 0;
            bx.inverse_pair_to_rows_with(|i, [ra, ia, rb, ib]| {
                assert!(rule.keeps(g.mx[i], nx), "row {i} outside the box was asked for");
                rows_filled += 1;
                for j in 0..band {
                    let (a, b) = (sa[i * nyh + j] * sc, sb[i * nyh + j] * sc);
                    (ra[j], ia[j], rb[j], ib[j]) = (a.re, a.im, b.re, b.im);
                }
            });
            assert_eq!(rows_filled, g.mx.iter().filter(|&&m| rule.keeps(m, nx)).count());
            let err =
                bx.pair_rows().iter().zip(xa.iter().zip(&xb)).map(|(z, (a, b))| (z.re - a).abs().max((z.im - b).abs())).fold(0.0, f64::max);
            assert!(err <= 1e-14 * scale, "inverse_pair_to_rows_with {nx}×{ny} {rule:?}: {err:e}");
        }
    }
}
