//! Shared pseudo-spectral machinery: 2-D real FFTs, wavenumber grids, dealiasing masks and the Hou–Li filter.
//!
//! # Layout and transform contract
//! * Physical fields are `nx × ny` row-major `f64` slices, `f[ix * ny + iy]` (y fastest, as Well files).
//! * Spectral fields are `nx × nyh` row-major `Complex64` slices with `nyh = ny / 2 + 1`:
//!   `F[ix * nyh + iy]` holds wavenumbers `(kx[ix], ky[iy])`; x is a full complex FFT in rustfft's ascending
//!   order (`0, 1, …, nx/2, −nx/2+1, …, −1`), y the non-negative half of a real FFT.
//! * [`Fft2::forward`] is **unnormalised**: `F(k) = Σ_x f(x) e^{−ik·x}`. [`Fft2::inverse`] applies the
//!   **explicit 1/(nx·ny)**, so `inverse(forward(f)) = f` to round-off.
//! * Plans and scratch buffers are created once in [`Fft2::new`]; no transform allocates. Parallelism is over
//!   trajectories (one `Fft2` per solver instance), never inside a transform.
//! * Sizes: any even `nx, ny ≥ 4`; 2^a·3^b are fastest.
//!
//! # Sine/cosine bases
//! Wall-bounded directions with sine (Dirichlet) or cosine (Neumann) series are realised by odd/even extension
//! to a doubled periodic domain: a sine series `Σ a_m sin(mπy)` on `[0,1]` is the odd, 2-periodic function whose
//! Fourier coefficients are `∓i a_m / 2`, so the same real FFT evaluates DST-I/DCT-I-type transforms (the
//! classic FFT algorithm for them) and parity is preserved exactly by products (odd·even = odd) and by
//! symmetric masks. See `rayleigh_benard` and the parity tests below.

use std::sync::Arc;

pub use num_complex::Complex64;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

use crate::SimError;

/// A doubly periodic (or periodically extended) 2-D grid of `nx × ny` points on `[0,lx) × [0,ly)` with its
/// wavenumbers.
#[derive(Clone, Debug)]
pub struct Grid2 {
    pub nx: usize,
    pub ny: usize,
    pub lx: f64,
    pub ly: f64,
    /// x wavenumbers for first derivatives (length `nx`, Nyquist set to 0 so odd derivatives stay real).
    pub kx: Vec<f64>,
    /// y wavenumbers for first derivatives (length `nyh`, Nyquist set to 0).
    pub ky: Vec<f64>,
    /// Squared x wavenumbers, Nyquist included (length `nx`).
    pub kx2: Vec<f64>,
    /// Squared y wavenumbers, Nyquist included (length `nyh`).
    pub ky2: Vec<f64>,
    /// |signed mode index| in x, `0..=nx/2` (length `nx`), for masks.
    pub mx: Vec<usize>,
    /// Mode index in y, `0..=ny/2` (length `nyh`).
    pub my: Vec<usize>,
}

/// Which modes a dealiasing mask keeps (per direction, a box mask).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Dealias {
    /// Keep everything.
    None,
    /// Orszag's 2/3 rule for quadratic products: keep |m| < n/3 (modes with 3|m| < n).
    TwoThirds,
    /// The 1/2 rule for cubic products: keep |m| < n/4.
    Half,
}

impl Grid2 {
    /// A grid of `nx × ny` points on `[0,lx) × [0,ly)`.
    pub fn new(nx: usize, ny: usize, lx: f64, ly: f64) -> Result<Self, SimError> {
        if nx < 4 || ny < 4 || nx % 2 != 0 || ny % 2 != 0 {
            return Err(SimError::Grid(format!(
                "grid {nx}×{ny}: both sizes must be even and ≥ 4"
            )));
        }
        if !(lx > 0.0 && ly > 0.0 && lx.is_finite() && ly.is_finite()) {
            return Err(SimError::Grid(format!(
                "domain {lx}×{ly}: lengths must be finite and > 0"
            )));
        }
        let nyh = ny / 2 + 1;
        let mut kx = vec![0.0; nx];
        let mut kx2 = vec![0.0; nx];
        let mut mx = vec![0; nx];
        for i in 0..nx {
            let m = if i <= nx / 2 {
                i as i64
            } else {
                i as i64 - nx as i64
            };
            let k = 2.0 * std::f64::consts::PI * m as f64 / lx;
            kx2[i] = k * k;
            kx[i] = if i == nx / 2 { 0.0 } else { k };
            mx[i] = m.unsigned_abs() as usize;
        }
        let mut ky = vec![0.0; nyh];
        let mut ky2 = vec![0.0; nyh];
        let mut my = vec![0; nyh];
        for j in 0..nyh {
            let k = 2.0 * std::f64::consts::PI * j as f64 / ly;
            ky2[j] = k * k;
            ky[j] = if j == ny / 2 { 0.0 } else { k };
            my[j] = j;
        }
        Ok(Self {
            nx,
            ny,
            lx,
            ly,
            kx,
            ky,
            kx2,
            ky2,
            mx,
            my,
        })
    }

    /// Number of stored y modes, `ny/2 + 1`.
    pub fn nyh(&self) -> usize {
        self.ny / 2 + 1
    }

    /// Length of a spectral field, `nx · nyh`.
    pub fn n_spec(&self) -> usize {
        self.nx * self.nyh()
    }

    /// Length of a physical field, `nx · ny`.
    pub fn n_phys(&self) -> usize {
        self.nx * self.ny
    }

    /// |k|² for every spectral index (flat, `nx · nyh`).
    pub fn k_squared(&self) -> Vec<f64> {
        let nyh = self.nyh();
        let mut out = vec![0.0; self.n_spec()];
        for i in 0..self.nx {
            for j in 0..nyh {
                out[i * nyh + j] = self.kx2[i] + self.ky2[j];
            }
        }
        out
    }

    /// Physical coordinates `x_i = lx · i / nx`.
    pub fn x_coords(&self) -> Vec<f64> {
        (0..self.nx)
            .map(|i| self.lx * i as f64 / self.nx as f64)
            .collect()
    }

    /// Physical coordinates `y_j = ly · j / ny`.
    pub fn y_coords(&self) -> Vec<f64> {
        (0..self.ny)
            .map(|j| self.ly * j as f64 / self.ny as f64)
            .collect()
    }

    /// A 0/1 mask (flat, spectral layout) keeping the modes allowed by `rule`; the Nyquist modes are always
    /// removed when a rule is active.
    pub fn dealias_mask(&self, rule: Dealias) -> Vec<f64> {
        let nyh = self.nyh();
        let keep = |m: usize, n: usize| match rule {
            Dealias::None => true,
            Dealias::TwoThirds => 3 * m < n,
            Dealias::Half => 4 * m < n,
        };
        let mut out = vec![0.0; self.n_spec()];
        for i in 0..self.nx {
            for j in 0..nyh {
                if keep(self.mx[i], self.nx) && keep(self.my[j], self.ny) {
                    out[i * nyh + j] = 1.0;
                }
            }
        }
        out
    }

    /// The Hou–Li filter `exp(−36 (|m_x|/m_x,max)^36) · exp(−36 (|m_y|/m_y,max)^36)` with `m_max = n/2`
    /// (flat, spectral layout).
    pub fn hou_li_filter(&self) -> Vec<f64> {
        let nyh = self.nyh();
        let f = |m: usize, n: usize| (-36.0 * (m as f64 / (n as f64 / 2.0)).powi(36)).exp();
        let mut out = vec![0.0; self.n_spec()];
        for i in 0..self.nx {
            for j in 0..nyh {
                out[i * nyh + j] = f(self.mx[i], self.nx) * f(self.my[j], self.ny);
            }
        }
        out
    }

    /// `out = ∂_x f` in spectral space.
    pub fn ddx(&self, f: &[Complex64], out: &mut [Complex64]) {
        let nyh = self.nyh();
        for i in 0..self.nx {
            let ik = Complex64::new(0.0, self.kx[i]);
            for j in 0..nyh {
                out[i * nyh + j] = ik * f[i * nyh + j];
            }
        }
    }

    /// `out = ∂_y f` in spectral space.
    pub fn ddy(&self, f: &[Complex64], out: &mut [Complex64]) {
        let nyh = self.nyh();
        for i in 0..self.nx {
            for j in 0..nyh {
                out[i * nyh + j] = Complex64::new(0.0, self.ky[j]) * f[i * nyh + j];
            }
        }
    }
}

/// A planned 2-D real FFT with reusable scratch (see the module contract).
pub struct Fft2 {
    nx: usize,
    ny: usize,
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    fwd: Arc<dyn Fft<f64>>,
    inv: Arc<dyn Fft<f64>>,
    row_real: Vec<f64>,
    row_spec: Vec<Complex64>,
    cols: Vec<Complex64>,
    scratch_real: Vec<Complex64>,
    scratch_cplx: Vec<Complex64>,
}

impl Fft2 {
    /// Plans the transforms for `grid` once.
    pub fn new(grid: &Grid2) -> Self {
        let (nx, ny) = (grid.nx, grid.ny);
        let mut rp = RealFftPlanner::<f64>::new();
        let r2c = rp.plan_fft_forward(ny);
        let c2r = rp.plan_fft_inverse(ny);
        let mut cp = FftPlanner::<f64>::new();
        let fwd = cp.plan_fft_forward(nx);
        let inv = cp.plan_fft_inverse(nx);
        let scratch_real = vec![
            Complex64::default();
            r2c.get_scratch_len().max(c2r.get_scratch_len())
        ];
        let scratch_cplx = vec![
            Complex64::default();
            fwd.get_inplace_scratch_len()
                .max(inv.get_inplace_scratch_len())
        ];
        let nyh = ny / 2 + 1;
        Self {
            nx,
            ny,
            r2c,
            c2r,
            fwd,
            inv,
            row_real: vec![0.0; ny],
            row_spec: vec![Complex64::default(); nyh],
            cols: vec![Complex64::default(); nx * nyh],
            scratch_real,
            scratch_cplx,
        }
    }

    /// Unnormalised forward transform of a physical field (`nx·ny`) into `out` (`nx·nyh`).
    pub fn forward(&mut self, input: &[f64], out: &mut [Complex64]) {
        let (nx, ny, nyh) = (self.nx, self.ny, self.ny / 2 + 1);
        assert_eq!(input.len(), nx * ny, "Fft2::forward: physical length");
        assert_eq!(out.len(), nx * nyh, "Fft2::forward: spectral length");
        for i in 0..nx {
            self.row_real.copy_from_slice(&input[i * ny..(i + 1) * ny]);
            self.r2c
                .process_with_scratch(
                    &mut self.row_real,
                    &mut self.row_spec,
                    &mut self.scratch_real,
                )
                .expect("realfft forward: lengths are planned");
            // Transpose into column-major (nyh × nx) so the x transforms are contiguous.
            for j in 0..nyh {
                self.cols[j * nx + i] = self.row_spec[j];
            }
        }
        self.fwd
            .process_with_scratch(&mut self.cols, &mut self.scratch_cplx);
        for j in 0..nyh {
            for i in 0..nx {
                out[i * nyh + j] = self.cols[j * nx + i];
            }
        }
    }

    /// Inverse transform with the explicit `1/(nx·ny)`; `input` is left unchanged.
    pub fn inverse(&mut self, input: &[Complex64], out: &mut [f64]) {
        let (nx, ny, nyh) = (self.nx, self.ny, self.ny / 2 + 1);
        assert_eq!(input.len(), nx * nyh, "Fft2::inverse: spectral length");
        assert_eq!(out.len(), nx * ny, "Fft2::inverse: physical length");
        let scale = 1.0 / (nx * ny) as f64;
        for j in 0..nyh {
            for i in 0..nx {
                self.cols[j * nx + i] = input[i * nyh + j] * scale;
            }
        }
        self.inv
            .process_with_scratch(&mut self.cols, &mut self.scratch_cplx);
        for i in 0..nx {
            for j in 0..nyh {
                self.row_spec[j] = self.cols[j * nx + i];
            }
            // A real field has real mean and Nyquist y-modes; drop round-off imaginary parts.
            self.row_spec[0].im = 0.0;
            self.row_spec[nyh - 1].im = 0.0;
            self.c2r
                .process_with_scratch(
                    &mut self.row_spec,
                    &mut out[i * ny..(i + 1) * ny],
                    &mut self.scratch_real,
                )
                .expect("realfft inverse: imaginary parts of DC/Nyquist were zeroed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
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
        let dfy = |x: f64, y: f64| {
            -tau * 2.0 / ly * (tau * 3.0 * x).sin() * (tau * 2.0 * y / ly).sin()
                + tau * 5.0 / ly * (tau * 5.0 * y / ly).cos()
        };
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
                    exact[i * n + j] = f
                        * (tau * tau * ((tau * x[i]).cos().powi(2) - a)
                            + pi * pi * ((pi * y[j]).sin().powi(2) - b));
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
    fn masks_keep_the_expected_modes() {
        let g = Grid2::new(12, 12, 1.0, 1.0).unwrap();
        let m = g.dealias_mask(Dealias::TwoThirds);
        let nyh = g.nyh();
        // 2/3 of 12: keep |m| ≤ 3.
        for i in 0..12 {
            for j in 0..nyh {
                let keep = g.mx[i] <= 3 && g.my[j] <= 3;
                assert_eq!(m[i * nyh + j] == 1.0, keep, "({i},{j})");
            }
        }
        let h = g.dealias_mask(Dealias::Half);
        assert_eq!(h.iter().filter(|&&v| v == 1.0).count(), 5 * 3);
        let f = g.hou_li_filter();
        assert_eq!(f[0], 1.0);
        assert!((f[(6) * nyh] - (-36.0f64).exp()).abs() < 1e-20);
        assert!(f[nyh + 1] > 1.0 - 1e-15);
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

    #[test]
    fn bad_grids_are_rejected() {
        assert!(Grid2::new(3, 8, 1.0, 1.0).is_err());
        assert!(Grid2::new(8, 8, 0.0, 1.0).is_err());
    }
}
