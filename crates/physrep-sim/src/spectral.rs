//! Shared pseudo-spectral machinery: 2-D real FFTs, wavenumber grids, dealiasing masks and the Hou–Li filter.
//!
//! # Layout and transform contract
//! * Physical fields are `nx × ny` row-major `f64` slices, `f[ix * ny + iy]` (y fastest, as Well files).
//! * Spectral fields are `nx × nyh` row-major `Complex64` slices with `nyh = ny / 2 + 1`:
//!   `F[ix * nyh + iy]` holds wavenumbers `(kx[ix], ky[iy])`; x is a full complex FFT in rustfft's ascending
//!   order (`0, 1, …, nx/2, −nx/2+1, …, −1`), y the non-negative half of a real FFT.
//! * [`Fft2::forward`] is **unnormalised**: `F(k) = Σ_x f(x) e^{−ik·x}`. [`Fft2::inverse`] applies the
//!   **explicit 1/(nx·ny)**, so `inverse(forward(f)) = f` to round-off.
//! * Plans and scratch buffers are created once in [`Fft2::new`] / [`Fft2::with_band`]; no transform allocates.
//!   Parallelism is over trajectories (one `Fft2` per solver instance), never inside a transform.
//! * Sizes: any even `nx, ny ≥ 4`. Power-of-two `nx` use the batched, transpose-free column FFT (the fast
//!   path; all production grids); other `nx` a transposed rustfft per column.
//! * Speed-ups with exact contracts: [`Fft2::with_band`] (only the first `band` spectral columns, for
//!   dealiased fields), [`Fft2::dealiased`] (only the box of modes a dealiasing rule keeps, rows included) and
//!   [`Fft2::inverse_pair`] / [`Fft2::forward_pair_from_rows`] (two fields at once through one complex row FFT;
//!   equal to two single transforms to round-off), with [`Fft2::inverse_pair_to_rows_with`] letting the caller
//!   write the spectra straight into the column buffers.
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

impl Dealias {
    /// Whether the rule keeps mode index `m` (absolute) of a direction with `n` points.
    fn keeps(self, m: usize, n: usize) -> bool {
        match self {
            Dealias::None => true,
            Dealias::TwoThirds => 3 * m < n,
            Dealias::Half => 4 * m < n,
        }
    }
}

impl Grid2 {
    /// A grid of `nx × ny` points on `[0,lx) × [0,ly)`.
    pub fn new(nx: usize, ny: usize, lx: f64, ly: f64) -> Result<Self, SimError> {
        if nx < 4 || ny < 4 || !nx.is_multiple_of(2) || !ny.is_multiple_of(2) {
            return Err(SimError::Grid(format!("grid {nx}×{ny}: both sizes must be even and ≥ 4")));
        }
        if !(lx > 0.0 && ly > 0.0 && lx.is_finite() && ly.is_finite()) {
            return Err(SimError::Grid(format!("domain {lx}×{ly}: lengths must be finite and > 0")));
        }
        let nyh = ny / 2 + 1;
        let mut kx = vec![0.0; nx];
        let mut kx2 = vec![0.0; nx];
        let mut mx = vec![0; nx];
        for i in 0..nx {
            let m = if i <= nx / 2 { i as i64 } else { i as i64 - nx as i64 };
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
        Ok(Self { nx, ny, lx, ly, kx, ky, kx2, ky2, mx, my })
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
        (0..self.nx).map(|i| self.lx * i as f64 / self.nx as f64).collect()
    }

    /// Physical coordinates `y_j = ly · j / ny`.
    pub fn y_coords(&self) -> Vec<f64> {
        (0..self.ny).map(|j| self.ly * j as f64 / self.ny as f64).collect()
    }

    /// A 0/1 mask (flat, spectral layout) keeping the modes allowed by `rule`; the Nyquist modes are always
    /// removed when a rule is active.
    pub fn dealias_mask(&self, rule: Dealias) -> Vec<f64> {
        let nyh = self.nyh();
        let keep = |m: usize, n: usize| rule.keeps(m, n);
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

    /// The number of leading y columns (`iy < band`) that [`Grid2::dealias_mask`] can keep: every column
    /// `iy ≥ band` of the mask is zero (`nyh` for [`Dealias::None`]). The band of [`Fft2::with_band`] for
    /// fields dealiased by `rule`.
    pub fn dealias_band(&self, rule: Dealias) -> usize {
        (0..self.nyh()).filter(|&j| rule.keeps(self.my[j], self.ny)).count()
    }

    /// The flat index ranges of the modes [`Grid2::dealias_mask`] keeps, for `fields` spectral fields stacked
    /// one after the other (row `ix` of field `f`: `f·n_spec + ix·nyh + (0..band)` for the kept rows): the
    /// support of a dealiased state ([`crate::etdrk4::Etdrk4::with_support`]).
    pub fn dealias_support(&self, rule: Dealias, fields: usize) -> Vec<std::ops::Range<usize>> {
        let (nyh, band) = (self.nyh(), self.dealias_band(rule));
        let mut out = Vec::new();
        for f in 0..fields {
            for i in 0..self.nx {
                if rule.keeps(self.mx[i], self.nx) {
                    let start = f * self.n_spec() + i * nyh;
                    out.push(start..start + band);
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

/// Runs `f` in a function compiled with AVX2 when the CPU has it (checked at run time), else as is. Callers
/// mark the closure `#[inline(always)]` (otherwise it stays a separate baseline function); the closure and
/// what it inlines (`#[inline(always)]` bodies) then vectorise 4-wide even though the crate is
/// built for baseline x86-64; the operations — no fused multiply-adds are introduced — and hence the results
/// are the same on either path.
#[inline(always)]
pub(crate) fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        unsafe fn run<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { run(f) };
    }
    f()
}

/// A planned 2-D real FFT with reusable scratch (see the module contract).
///
/// The y direction is a real FFT per row (realfft). The x direction (the columns of the row-major spectral
/// array) is, for power-of-two `nx`, a batched radix-4/2 decimation-in-frequency FFT whose butterflies combine
/// whole rows elementwise (`Columns`): no transposes, and the loops vectorise across the contiguous
/// column index. Other even `nx` use rustfft per column on a transposed copy.
///
/// **Band.** [`Fft2::with_band`] restricts the column transforms to the first `band` spectral columns
/// (`0 ≤ iy < band`): [`Fft2::inverse`] treats the input's columns `iy ≥ band` as zero (they are not read),
/// and [`Fft2::forward`] writes exact zeros there. For fields whose spectra vanish on those columns (a
/// dealiased state) and outputs that are masked anyway, this is exact and saves `1 − band/nyh` of the column
/// work; [`Grid2::dealias_band`] gives the band of a dealiasing rule.
///
/// **Box.** [`Fft2::dealiased`] also restricts the x modes (rows `ix`) to those the rule keeps: the inverse
/// treats the other rows as zero (not read), the forward writes exact zeros there. The kept set is then the
/// box [`Grid2::dealias_mask`] keeps, so the forward output *is* the masked output (no mask pass needed) and
/// dealiased inputs lose nothing.
pub struct Fft2 {
    nx: usize,
    ny: usize,
    band: usize,
    /// Whether x mode (row) `ix` is transformed; the others are zero on input and output.
    kept_rows: Vec<bool>,
    r2c: Arc<dyn RealToComplex<f64>>,
    c2r: Arc<dyn ComplexToReal<f64>>,
    columns: Columns,
    row_real: Vec<f64>,
    row_spec: Vec<Complex64>,
    scratch_real: Vec<Complex64>,
    /// Complex y transforms of length `ny` for the pair transforms, with their `nx × ny` buffer.
    row_fwd: Arc<dyn Fft<f64>>,
    row_inv: Arc<dyn Fft<f64>>,
    rows: Vec<Complex64>,
    row_scratch: Vec<Complex64>,
}

impl Fft2 {
    /// Plans the full transforms (`band = nyh`) for `grid` once.
    pub fn new(grid: &Grid2) -> Self {
        Self::with_band(grid, grid.nyh())
    }

    /// Plans transforms restricted to the spectral columns `iy < band` (see the type's doc). Panics unless
    /// `1 ≤ band ≤ nyh` (a programming error, like mismatched slice lengths).
    pub fn with_band(grid: &Grid2, band: usize) -> Self {
        Self::with_box(grid, band, vec![true; grid.nx])
    }

    /// Plans transforms restricted to the modes the dealiasing `rule` keeps: the columns of
    /// [`Grid2::dealias_band`] and the rows whose `|m_x|` the rule keeps (see the type's doc). Exact for
    /// inputs that vanish outside [`Grid2::dealias_mask`]; the forward output is the masked transform.
    pub fn dealiased(grid: &Grid2, rule: Dealias) -> Self {
        let kept_rows = grid.mx.iter().map(|&m| rule.keeps(m, grid.nx)).collect();
        Self::with_box(grid, grid.dealias_band(rule), kept_rows)
    }

    fn with_box(grid: &Grid2, band: usize, kept_rows: Vec<bool>) -> Self {
        let (nx, ny) = (grid.nx, grid.ny);
        let nyh = ny / 2 + 1;
        assert!((1..=nyh).contains(&band), "Fft2::with_band: band {band} outside 1..={nyh}");
        let mut rp = RealFftPlanner::<f64>::new();
        let r2c = rp.plan_fft_forward(ny);
        let c2r = rp.plan_fft_inverse(ny);
        let scratch_real = vec![Complex64::default(); r2c.get_scratch_len().max(c2r.get_scratch_len())];
        let columns = Columns::new(nx, 2 * band);
        let mut cp = FftPlanner::<f64>::new();
        let row_fwd = cp.plan_fft_forward(ny);
        let row_inv = cp.plan_fft_inverse(ny);
        let row_scratch = vec![Complex64::default(); row_fwd.get_inplace_scratch_len().max(row_inv.get_inplace_scratch_len())];
        Self {
            nx,
            ny,
            band,
            kept_rows,
            r2c,
            c2r,
            columns,
            row_real: vec![0.0; ny],
            row_spec: vec![Complex64::default(); nyh],
            scratch_real,
            row_fwd,
            row_inv,
            rows: vec![Complex64::default(); nx * ny],
            row_scratch,
        }
    }

    /// The number of leading spectral columns transformed (`nyh` unless built by [`Fft2::with_band`] or
    /// [`Fft2::dealiased`]).
    pub fn band(&self) -> usize {
        self.band
    }

    /// The factor `1/(nx·ny)` of the inverse transforms (what [`Fft2::inverse_pair_to_rows_with`]'s rows
    /// must include).
    pub fn inverse_scale(&self) -> f64 {
        1.0 / (self.nx * self.ny) as f64
    }

    /// Unnormalised forward transform of a physical field (`nx·ny`) into `out` (`nx·nyh`); columns
    /// `iy ≥ band` and rows outside the box of `out` are set to zero.
    pub fn forward(&mut self, input: &[f64], out: &mut [Complex64]) {
        let (nx, ny, nyh) = (self.nx, self.ny, self.ny / 2 + 1);
        assert_eq!(input.len(), nx * ny, "Fft2::forward: physical length");
        assert_eq!(out.len(), nx * nyh, "Fft2::forward: spectral length");
        with_avx2(
            #[inline(always)]
            || self.forward_impl(input, out),
        )
    }

    #[inline(always)]
    fn forward_impl(&mut self, input: &[f64], out: &mut [Complex64]) {
        let (nx, ny, band) = (self.nx, self.ny, self.band);
        for i in 0..nx {
            self.row_real.copy_from_slice(&input[i * ny..(i + 1) * ny]);
            self.r2c
                .process_with_scratch(&mut self.row_real, &mut self.row_spec, &mut self.scratch_real)
                .expect("realfft forward: lengths are planned");
            self.columns.load_row(i, 0, &self.row_spec[..band], 1.0);
        }
        self.columns.transform(false, band, None);
        self.store_outputs([Some(out), None]);
    }

    /// Writes the transformed column blocks `0..band` into the spectral field `outs[0]` and `band..2·band` into
    /// `outs[1]` (when given), with zeros outside the box.
    #[inline(always)]
    fn store_outputs(&mut self, mut outs: [Option<&mut [Complex64]>; 2]) {
        let (nyh, band, kept_rows) = (self.ny / 2 + 1, self.band, &self.kept_rows);
        let width = if outs[1].is_some() { 2 * band } else { band };
        self.columns.for_each_output(
            width,
            #[inline(always)]
            |i, re, im| {
                for (b, out) in outs.iter_mut().enumerate() {
                    let Some(out) = out else { continue };
                    let (kept, zero) = out[i * nyh..(i + 1) * nyh].split_at_mut(band);
                    if kept_rows[i] {
                        let cols = b * band..(b + 1) * band;
                        for ((c, r), m) in kept.iter_mut().zip(&re[cols.clone()]).zip(&im[cols]) {
                            *c = Complex64::new(*r, *m);
                        }
                    } else {
                        kept.fill(Complex64::default());
                    }
                    zero.fill(Complex64::default());
                }
            },
        );
    }

    /// The physical pair buffer `a + ib` (`nx·ny`, row-major like a physical field): the output of
    /// [`Fft2::inverse_pair_to_rows`], the input of [`Fft2::forward_pair_from_rows`].
    pub fn pair_rows(&self) -> &[Complex64] {
        &self.rows
    }

    /// Mutable access to the pair buffer (fill it with `a + ib` before [`Fft2::forward_pair_from_rows`]).
    pub fn pair_rows_mut(&mut self) -> &mut [Complex64] {
        &mut self.rows
    }

    /// Exchanges the pair buffer with `other` (same length `nx·ny`): keeps the result of an inverse pair
    /// without copying it. Panics on a length mismatch (a programming error).
    pub fn swap_pair_rows(&mut self, other: &mut Vec<Complex64>) {
        assert_eq!(other.len(), self.rows.len(), "Fft2::swap_pair_rows: length");
        std::mem::swap(&mut self.rows, other);
    }

    /// `forward(a, out_a)` and `forward(b, out_b)` at once (equal to round-off) for the two real fields held as
    /// `a + ib` in [`Fft2::pair_rows_mut`]: the rows go through one complex FFT of length `ny` instead of two
    /// real ones, their spectra are split into `A` and `B` straight into the column buffers, and the two column
    /// passes are batched. The pair buffer is overwritten.
    pub fn forward_pair_from_rows(&mut self, out_a: &mut [Complex64], out_b: &mut [Complex64]) {
        let n = self.nx * (self.ny / 2 + 1);
        assert!(out_a.len() == n && out_b.len() == n, "Fft2::forward_pair_from_rows: spectral length");
        with_avx2(
            #[inline(always)]
            || self.forward_pair_impl(out_a, out_b),
        )
    }

    #[inline(always)]
    fn forward_pair_impl(&mut self, out_a: &mut [Complex64], out_b: &mut [Complex64]) {
        let (ny, band) = (self.ny, self.band);
        self.row_fwd.process_with_scratch(&mut self.rows, &mut self.row_scratch);
        for (i, z) in self.rows.chunks_exact(ny).enumerate() {
            let (re, im) = self.columns.input_row_mut(i, 2 * band);
            let ((ra, rb), (ia, ib)) = (re.split_at_mut(band), im.split_at_mut(band));
            // With Z = FFT(a + ib) and W = Z[−k]: A[k] = (Z + W̄)/2, B[k] = (Z − W̄)/(2i).
            for k in 0..band {
                let (zk, w) = (z[k], z[if k == 0 { 0 } else { ny - k }]);
                ra[k] = 0.5 * (zk.re + w.re);
                ia[k] = 0.5 * (zk.im - w.im);
                rb[k] = 0.5 * (zk.im + w.im);
                ib[k] = 0.5 * (w.re - zk.re);
            }
        }
        self.columns.transform(false, 2 * band, None);
        self.store_outputs([Some(out_a), Some(out_b)]);
    }

    /// Inverse transform with the explicit `1/(nx·ny)`; `input` is left unchanged and its columns
    /// `iy ≥ band` (and rows outside the box) are treated as zero.
    pub fn inverse(&mut self, input: &[Complex64], out: &mut [f64]) {
        let (nx, ny, nyh) = (self.nx, self.ny, self.ny / 2 + 1);
        assert_eq!(input.len(), nx * nyh, "Fft2::inverse: spectral length");
        assert_eq!(out.len(), nx * ny, "Fft2::inverse: physical length");
        with_avx2(
            #[inline(always)]
            || self.inverse_impl(input, out),
        )
    }

    #[inline(always)]
    fn inverse_impl(&mut self, input: &[Complex64], out: &mut [f64]) {
        let (ny, nyh, band) = (self.ny, self.ny / 2 + 1, self.band);
        let scale = self.inverse_scale();
        for (i, row) in input.chunks_exact(nyh).enumerate() {
            if self.kept_rows[i] {
                self.columns.load_row(i, 0, &row[..band], scale);
            }
        }
        self.columns.transform(true, band, Some(&self.kept_rows));
        let Self { columns, row_spec, c2r, scratch_real, .. } = self;
        columns.for_each_output(
            band,
            #[inline(always)]
            |i, re, im| {
                for ((c, r), m) in row_spec.iter_mut().zip(re).zip(im) {
                    *c = Complex64::new(*r, *m);
                }
                row_spec[band..].fill(Complex64::default());
                // A real field has real mean and Nyquist y-modes; drop round-off imaginary parts.
                row_spec[0].im = 0.0;
                row_spec[nyh - 1].im = 0.0;
                c2r.process_with_scratch(row_spec, &mut out[i * ny..(i + 1) * ny], scratch_real)
                    .expect("realfft inverse: imaginary parts of DC/Nyquist were zeroed");
            },
        );
    }

    /// `inverse(a, out_a)` and `inverse(b, out_b)` at once (equal to round-off); see
    /// [`Fft2::inverse_pair_to_rows`].
    pub fn inverse_pair(&mut self, a: &[Complex64], b: &[Complex64], out_a: &mut [f64], out_b: &mut [f64]) {
        let np = self.nx * self.ny;
        assert!(out_a.len() == np && out_b.len() == np, "Fft2::inverse_pair: physical length");
        self.inverse_pair_to_rows(a, b);
        with_avx2(
            #[inline(always)]
            || {
                for ((z, a), b) in self.rows.iter().zip(out_a.iter_mut()).zip(out_b.iter_mut()) {
                    *a = z.re;
                    *b = z.im;
                }
            },
        )
    }

    /// The inverses of `a` and `b` as `a + ib` in [`Fft2::pair_rows`]: the two column passes are batched, and
    /// each row of `a + ib` (Hermitian halves completed) goes through one complex FFT of length `ny` instead of
    /// two real ones.
    pub fn inverse_pair_to_rows(&mut self, a: &[Complex64], b: &[Complex64]) {
        let nyh = self.ny / 2 + 1;
        assert!(a.len() == self.nx * nyh && b.len() == self.nx * nyh, "Fft2::inverse_pair_to_rows: spectral length");
        let (band, scale) = (self.band, self.inverse_scale());
        self.inverse_pair_to_rows_with(
            #[inline(always)]
            |i, [ra, ia, rb, ib]| {
                let (a, b) = (&a[i * nyh..i * nyh + band], &b[i * nyh..i * nyh + band]);
                for j in 0..band {
                    ra[j] = a[j].re * scale;
                    ia[j] = a[j].im * scale;
                    rb[j] = b[j].re * scale;
                    ib[j] = b[j].im * scale;
                }
            },
        )
    }

    /// [`Fft2::inverse_pair_to_rows`] with the spectra written straight into the column buffers:
    /// `fill(i, [re_a, im_a, re_b, im_b])` is called once for every row `i` inside the box (the others are
    /// zero) and must overwrite the four slices (length `band`) with the real and imaginary parts of
    /// `a[i, 0..band]` and `b[i, 0..band]` **times [`Fft2::inverse_scale`]**. Saves the caller's spectral
    /// buffers and a copy. Mark the closure `#[inline(always)]` so it is compiled with AVX2 (see `with_avx2`).
    #[inline(always)]
    pub fn inverse_pair_to_rows_with(&mut self, fill: impl FnMut(usize, [&mut [f64]; 4])) {
        with_avx2(
            #[inline(always)]
            || self.inverse_pair_impl(fill),
        )
    }

    #[inline(always)]
    fn inverse_pair_impl(&mut self, mut fill: impl FnMut(usize, [&mut [f64]; 4])) {
        let (nx, ny, nyh, band) = (self.nx, self.ny, self.ny / 2 + 1, self.band);
        for i in 0..nx {
            if self.kept_rows[i] {
                let (re, im) = self.columns.input_row_mut(i, 2 * band);
                let ((ra, rb), (ia, ib)) = (re.split_at_mut(band), im.split_at_mut(band));
                fill(i, [ra, ia, rb, ib]);
            }
        }
        self.columns.transform(true, 2 * band, Some(&self.kept_rows));
        let h = band.min(ny / 2);
        let rows = &mut self.rows;
        self.columns.for_each_output(
            2 * band,
            #[inline(always)]
            |i, re, im| {
                let z = &mut rows[i * ny..(i + 1) * ny];
                let ((ra, rb), (ia, ib)) = (re.split_at(band), im.split_at(band));
                // Modes h..=ny−h are zero (the loop below writes 1..h and ny−h+1..ny).
                z[h..=ny - h].fill(Complex64::default());
                // Z[k] = A[k] + iB[k], Z[−k] = Ā[k] + iB̄[k]; the DC and Nyquist modes of real rows are real (their
                // round-off imaginary parts are dropped, as in `inverse`).
                z[0] = Complex64::new(ra[0], rb[0]);
                for k in 1..h {
                    z[k] = Complex64::new(ra[k] - ib[k], ia[k] + rb[k]);
                    z[ny - k] = Complex64::new(ra[k] + ib[k], rb[k] - ia[k]);
                }
                if band == nyh {
                    z[ny / 2] = Complex64::new(ra[ny / 2], rb[ny / 2]);
                }
            },
        );
        self.row_inv.process_with_scratch(&mut self.rows, &mut self.row_scratch);
    }
}

/// The x-direction transforms of up to `stride` columns (one field's band, or two side by side) held as split
/// real/imaginary `n × stride` row-major buffers: write row `i` ([`Columns::load_row`], or in place through
/// [`Columns::input_row_mut`]), `transform` the first `width` columns, then read output row `i`
/// ([`Columns::for_each_output`]).
struct Columns {
    n: usize,
    stride: usize,
    re: Vec<f64>,
    im: Vec<f64>,
    /// The buffer row holding output row `i` after a transform (bit reversal for the batched DIF).
    out_row: Vec<usize>,
    kind: ColumnFft,
}

/// How the columns are transformed.
enum ColumnFft {
    /// Power-of-two `n`: batched radix-4/2 decimation in frequency over whole rows (see [`Columns::dif`]).
    Batched(Vec<Radix4Pass>),
    /// Other `n`: one rustfft per column of the transposed copy `cols[iy * n + ix]`.
    Transposed { fwd: Arc<dyn Fft<f64>>, inv: Arc<dyn Fft<f64>>, cols: Vec<Complex64>, scratch: Vec<Complex64> },
}

/// One radix-4 pass on blocks of `m` rows: twiddles `(W^k, W^{2k}, W^{3k})` of the forward root
/// `W = e^{−2πi/m}` for `k = 0..m/4`, as `[re, im]` triples (the inverse conjugates them).
struct Radix4Pass {
    m: usize,
    tw: Vec<[[f64; 2]; 3]>,
}

impl Columns {
    /// Column transforms of length `n` for up to `stride` columns.
    fn new(n: usize, stride: usize) -> Self {
        let (out_row, kind) = if n.is_power_of_two() {
            let bits = n.trailing_zeros();
            let bitrev = (0..n).map(|i| i.reverse_bits() >> (usize::BITS - bits)).collect();
            let mut passes = Vec::new();
            let mut m = n;
            while m >= 4 {
                let tw = (0..m / 4)
                    .map(|k| {
                        let root = |p: usize| {
                            let th = -2.0 * std::f64::consts::PI * (p * k) as f64 / m as f64;
                            [th.cos(), th.sin()]
                        };
                        [root(1), root(2), root(3)]
                    })
                    .collect();
                passes.push(Radix4Pass { m, tw });
                m /= 4;
            }
            (bitrev, ColumnFft::Batched(passes))
        } else {
            let mut cp = FftPlanner::<f64>::new();
            let fwd = cp.plan_fft_forward(n);
            let inv = cp.plan_fft_inverse(n);
            let scratch = vec![Complex64::default(); fwd.get_inplace_scratch_len().max(inv.get_inplace_scratch_len())];
            let cols = vec![Complex64::default(); n * stride];
            ((0..n).collect(), ColumnFft::Transposed { fwd, inv, cols, scratch })
        };
        Self { n, stride, re: vec![0.0; n * stride], im: vec![0.0; n * stride], out_row, kind }
    }

    /// Input row `i`, columns `0..width`, as (real, imaginary) slices to write.
    #[inline(always)]
    fn input_row_mut(&mut self, i: usize, width: usize) -> (&mut [f64], &mut [f64]) {
        let cols = i * self.stride..i * self.stride + width;
        (&mut self.re[cols.clone()], &mut self.im[cols])
    }

    /// Calls `f(i, re, im)` with every output row `i` of the last transform (columns `0..width`), in the order
    /// `0, n/2, 1, n/2 + 1, …`. For a batched DIF of odd `log₂ n`, the final radix-2 stage is done here, on
    /// the buffer rows `2p, 2p + 1` (= output rows `p`, `p + n/2`) just before they are handed out, instead of
    /// as a separate pass over the whole buffer (the same operations).
    #[inline(always)]
    fn for_each_output(&mut self, width: usize, mut f: impl FnMut(usize, &[f64], &[f64])) {
        let (n, w) = (self.n, self.stride);
        let radix2 = matches!(self.kind, ColumnFft::Batched(_)) && n.trailing_zeros() % 2 == 1;
        for p in 0..n / 2 {
            let (r0, r1) = (self.out_row[p], self.out_row[p + n / 2]);
            if radix2 {
                debug_assert_eq!((r0 % 2, r1), (0, r0 + 1));
                let (x0, x1) = self.re[r0 * w..(r0 + 2) * w].split_at_mut(w);
                let (y0, y1) = self.im[r0 * w..(r0 + 2) * w].split_at_mut(w);
                for j in 0..width {
                    let (ar, ai, br, bi) = (x0[j], y0[j], x1[j], y1[j]);
                    x0[j] = ar + br;
                    y0[j] = ai + bi;
                    x1[j] = ar - br;
                    y1[j] = ai - bi;
                }
            }
            for (i, r) in [(p, r0), (p + n / 2, r1)] {
                f(i, &self.re[r * w..r * w + width], &self.im[r * w..r * w + width]);
            }
        }
    }

    #[inline(always)]
    fn load_row(&mut self, i: usize, col0: usize, row: &[Complex64], scale: f64) {
        let (re, im) = self.input_row_mut(i, col0 + row.len());
        for ((r, m), c) in re[col0..].iter_mut().zip(&mut im[col0..]).zip(row) {
            *r = c.re * scale;
            *m = c.im * scale;
        }
    }

    /// Transforms columns `0..width`; `loaded[i]` (`None`: all rows) says whether input row `i` was written
    /// since the last transform: the others are taken as zero (and never read).
    #[inline(always)]
    fn transform(&mut self, inverse: bool, width: usize, loaded: Option<&[bool]>) {
        let (n, w) = (self.n, self.stride);
        match &mut self.kind {
            ColumnFft::Batched(passes) => {
                if inverse {
                    dif::<true>(passes, &mut self.re, &mut self.im, (n, w, width), loaded)
                } else {
                    dif::<false>(passes, &mut self.re, &mut self.im, (n, w, width), loaded)
                }
            }
            ColumnFft::Transposed { fwd, inv, cols, scratch } => {
                for (i, _) in loaded.into_iter().flatten().enumerate().filter(|(_, l)| !**l) {
                    self.re[i * w..i * w + width].fill(0.0);
                    self.im[i * w..i * w + width].fill(0.0);
                }
                for i in 0..n {
                    for j in 0..width {
                        cols[j * n + i] = Complex64::new(self.re[i * w + j], self.im[i * w + j]);
                    }
                }
                let plan = if inverse { inv } else { fwd };
                plan.process_with_scratch(&mut cols[..width * n], scratch);
                for i in 0..n {
                    for j in 0..width {
                        let c = cols[j * n + i];
                        self.re[i * w + j] = c.re;
                        self.im[i * w + j] = c.im;
                    }
                }
            }
        }
    }
}

/// Batched decimation-in-frequency FFT of length `n = 2^L` over the rows of split real/imaginary buffers
/// (`n × w`, row-major; the first `width` columns are transformed): every butterfly combines whole rows
/// elementwise with scalar twiddles, so the inner loops are contiguous and vectorise (AVX2 when the CPU has
/// it: see [`with_avx2`]). Radix-4 passes fuse two radix-2 stages each; when `L` is odd the final radix-2
/// stage is left to [`Columns::for_each_output`], which does it row pair by row pair as the output is read. The
/// output is in bit-reversed row order ([`Columns::out_row`]).
///
/// `loaded`: which input rows were written (`None`: all); the others are zero. The first pass reads none of
/// them: butterflies whose `x₁` or `x₂` row is zero skip it, an unwritten `x₀` or `x₃` row is zeroed first.
#[inline(always)]
fn dif<const INV: bool>(
    passes: &[Radix4Pass],
    re: &mut [f64],
    im: &mut [f64],
    (n, w, width): (usize, usize, usize),
    loaded: Option<&[bool]>,
) {
    for (p, pass) in passes.iter().enumerate() {
        let (m, q) = (pass.m, pass.m / 4);
        for b in (0..n).step_by(m) {
            let (re0, re1, re2, re3) = quarters(&mut re[b * w..(b + m) * w], q * w);
            let (im0, im1, im2, im3) = quarters(&mut im[b * w..(b + m) * w], q * w);
            for (k, tw) in pass.tw.iter().enumerate() {
                let rows = k * w..k * w + width;
                let re = [&mut re0[rows.clone()], &mut re1[rows.clone()], &mut re2[rows.clone()], &mut re3[rows.clone()]];
                let im = [&mut im0[rows.clone()], &mut im1[rows.clone()], &mut im2[rows.clone()], &mut im3[rows]];
                let zero = match loaded {
                    Some(l) if p == 0 => [!l[k], !l[k + q], !l[k + 2 * q], !l[k + 3 * q]],
                    _ => [false; 4],
                };
                let [re0, re1, re2, re3] = re;
                let [im0, im1, im2, im3] = im;
                for (z, r, i) in [(zero[0], &mut *re0, &mut *im0), (zero[3], &mut *re3, &mut *im3)] {
                    if z {
                        r.fill(0.0);
                        i.fill(0.0);
                    }
                }
                let (re, im) = ([re0, re1, re2, re3], [im0, im1, im2, im3]);
                match (k == 0, zero[1], zero[2]) {
                    (true, false, false) => radix4::<INV, false, false, false>(re, im, tw),
                    (true, false, true) => radix4::<INV, false, false, true>(re, im, tw),
                    (true, true, false) => radix4::<INV, false, true, false>(re, im, tw),
                    (true, true, true) => radix4::<INV, false, true, true>(re, im, tw),
                    (false, false, false) => radix4::<INV, true, false, false>(re, im, tw),
                    (false, false, true) => radix4::<INV, true, false, true>(re, im, tw),
                    (false, true, false) => radix4::<INV, true, true, false>(re, im, tw),
                    (false, true, true) => radix4::<INV, true, true, true>(re, im, tw),
                }
            }
        }
    }
}

/// Splits a block into its four equal quarters of length `len`.
#[inline(always)]
fn quarters(block: &mut [f64], len: usize) -> (&mut [f64], &mut [f64], &mut [f64], &mut [f64]) {
    let (a, rest) = block.split_at_mut(len);
    let (b, rest) = rest.split_at_mut(len);
    let (c, d) = rest.split_at_mut(len);
    (a, b, c, d)
}

/// One radix-4 DIF butterfly on four rows `x₀..x₃` (two fused radix-2 stages), elementwise over the row:
/// with `t₀ = x₀ + x₂`, `t₁ = x₀ − x₂`, `t₂ = x₁ + x₃`, `d = ρ(x₁ − x₃)`, `ρ = ∓i` (forward/inverse):
/// `x₀ ← t₀ + t₂`, `x₁ ← (t₀ − t₂)W^{2k}`, `x₂ ← (t₁ + d)W^k`, `x₃ ← (t₁ − d)W^{3k}` (twiddles conjugated
/// for the inverse; skipped when `TWIDDLE` is false, i.e. `k = 0`). `Z1` / `Z2`: the rows `x₁` / `x₂` are zero
/// and not read (the sums with them are the other operand, exactly).
#[inline(always)]
fn radix4<const INV: bool, const TWIDDLE: bool, const Z1: bool, const Z2: bool>(
    re: [&mut [f64]; 4],
    im: [&mut [f64]; 4],
    tw: &[[f64; 2]; 3],
) {
    let [r0, r1, r2, r3] = re;
    let [i0, i1, i2, i3] = im;
    let w = r0.len();
    let (r1, r2, r3) = (&mut r1[..w], &mut r2[..w], &mut r3[..w]);
    let (i0, i1, i2, i3) = (&mut i0[..w], &mut i1[..w], &mut i2[..w], &mut i3[..w]);
    let s = if INV { -1.0 } else { 1.0 };
    let [[c1, s1], [c2, s2], [c3, s3]] = *tw;
    let (s1, s2, s3) = (s * s1, s * s2, s * s3);
    for j in 0..w {
        let (t0r, t0i, t1r, t1i) =
            if Z2 { (r0[j], i0[j], r0[j], i0[j]) } else { (r0[j] + r2[j], i0[j] + i2[j], r0[j] - r2[j], i0[j] - i2[j]) };
        let (t2r, t2i, er, ei) =
            if Z1 { (r3[j], i3[j], -r3[j], -i3[j]) } else { (r1[j] + r3[j], i1[j] + i3[j], r1[j] - r3[j], i1[j] - i3[j]) };
        // d = ρ e: ρ = −i forward (d = (e_i, −e_r)), +i inverse (d = (−e_i, e_r)).
        let (dr, di) = if INV { (-ei, er) } else { (ei, -er) };
        let (ur, ui) = (t0r - t2r, t0i - t2i);
        let (vr, vi) = (t1r + dr, t1i + di);
        let (zr, zi) = (t1r - dr, t1i - di);
        r0[j] = t0r + t2r;
        i0[j] = t0i + t2i;
        if TWIDDLE {
            r1[j] = ur * c2 - ui * s2;
            i1[j] = ur * s2 + ui * c2;
            r2[j] = vr * c1 - vi * s1;
            i2[j] = vr * s1 + vi * c1;
            r3[j] = zr * c3 - zi * s3;
            i3[j] = zr * s3 + zi * c3;
        } else {
            r1[j] = ur;
            i1[j] = ui;
            r2[j] = vr;
            i2[j] = vi;
            r3[j] = zr;
            i3[j] = zi;
        }
    }
}

/// Test helper: `fields` equal-length spectral fields stacked in `a` and `b` agree within `rel` of each
/// field's own largest mode (fields can differ in size by orders of magnitude, e.g. RB's vorticity and
/// temperature).
#[cfg(test)]
pub(crate) fn assert_fields_agree(a: &[Complex64], b: &[Complex64], fields: usize, rel: f64) {
    assert_eq!(a.len(), b.len(), "states of different lengths");
    let n = b.len() / fields;
    for (field, (a, b)) in a.chunks_exact(n).zip(b.chunks_exact(n)).enumerate() {
        let norm = b.iter().map(|c| c.norm()).fold(0.0, f64::max);
        let diff = a.iter().zip(b).map(|(a, b)| (a - b).norm()).fold(0.0, f64::max);
        assert!(norm > 0.0 && diff <= rel * norm, "field {field}: max diff {diff:e} (norm {norm:e})");
    }
}

#[cfg(test)]
mod tests {
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
        let dfy = |x: f64, y: f64| {
            -tau * 2.0 / ly * (tau * 3.0 * x).sin() * (tau * 2.0 * y / ly).sin() + tau * 5.0 / ly * (tau * 5.0 * y / ly).cos()
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

    fn random_complex(n: usize, seed: u64) -> Vec<Complex64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| Complex64::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0))).collect()
    }

    /// The batched column transforms (radix-4/2 rows for powers of two, transposed rustfft otherwise) equal
    /// rustfft's 1-D FFT of every column, forward and inverse; also with only some rows loaded (the others
    /// holding junk from before, which must be taken as zero).
    #[test]
    fn column_transforms_equal_rustfft_per_column() {
        for &(nx, w) in &[(4, 3), (8, 5), (16, 1), (32, 7), (64, 9), (128, 43), (256, 4), (6, 4), (12, 5), (48, 3)] {
            let data = random_complex(nx * w, nx as u64);
            let junk = random_complex(nx * w, 99);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(nx as u64 + 1);
            let some: Vec<bool> = (0..nx).map(|_| rng.random_range(0.0..1.0) < 0.6).collect();
            for (inverse, loaded) in [(false, None), (true, None), (true, Some(&some[..]))] {
                let mut cols = Columns::new(nx, w);
                assert_eq!(matches!(cols.kind, ColumnFft::Batched(_)), nx.is_power_of_two());
                let is_loaded = |i: usize| loaded.is_none_or(|l| l[i]);
                for i in 0..nx {
                    cols.load_row(i, 0, &junk[i * w..(i + 1) * w], 1.0);
                    if is_loaded(i) {
                        cols.load_row(i, 0, &data[i * w..(i + 1) * w], 1.0);
                    }
                }
                cols.transform(inverse, w, loaded);
                let mut got = vec![Complex64::default(); nx * w];
                cols.for_each_output(w, |i, re, im| {
                    for (j, (r, m)) in re.iter().zip(im).enumerate() {
                        got[i * w + j] = Complex64::new(*r, *m);
                    }
                });
                let mut planner = FftPlanner::<f64>::new();
                let plan = if inverse { planner.plan_fft_inverse(nx) } else { planner.plan_fft_forward(nx) };
                let (mut err, mut scale) = (0.0f64, 0.0f64);
                for j in 0..w {
                    let mut col: Vec<Complex64> =
                        (0..nx).map(|i| if is_loaded(i) { data[i * w + j] } else { Complex64::default() }).collect();
                    plan.process(&mut col);
                    for i in 0..nx {
                        err = err.max((got[i * w + j] - col[i]).norm());
                        scale = scale.max(col[i].norm());
                    }
                }
                let sparse = loaded.is_some();
                assert!(err <= 1e-13 * scale, "nx {nx}, w {w}, inverse {inverse}, sparse {sparse}: {err:e} vs {scale}");
            }
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
                let err = bx
                    .pair_rows()
                    .iter()
                    .zip(xa.iter().zip(&xb))
                    .map(|(z, (a, b))| (z.re - a).abs().max((z.im - b).abs()))
                    .fold(0.0, f64::max);
                assert!(err <= 1e-14 * scale, "inverse_pair_to_rows_with {nx}×{ny} {rule:?}: {err:e}");
            }
        }
    }

    #[test]
    fn dealias_band_covers_exactly_the_kept_columns() {
        for &(nx, ny) in &[(12, 12), (16, 18), (128, 128), (64, 256), (8, 4)] {
            let g = Grid2::new(nx, ny, 1.0, 1.0).unwrap();
            let nyh = g.nyh();
            for rule in [Dealias::None, Dealias::TwoThirds, Dealias::Half] {
                let mask = g.dealias_mask(rule);
                let band = g.dealias_band(rule);
                let col_kept = |j: usize| (0..nx).any(|i| mask[i * nyh + j] != 0.0);
                assert!(band >= 1 && col_kept(band - 1), "{nx}×{ny} {rule:?}");
                assert!((band..nyh).all(|j| !col_kept(j)), "{nx}×{ny} {rule:?}");
            }
        }
        for &(nx, ny) in &[(12, 12), (16, 18), (64, 32)] {
            let g = Grid2::new(nx, ny, 1.0, 1.0).unwrap();
            for rule in [Dealias::None, Dealias::TwoThirds, Dealias::Half] {
                let mask = g.dealias_mask(rule);
                let mut kept = vec![false; 2 * g.n_spec()];
                for r in g.dealias_support(rule, 2) {
                    kept[r].iter_mut().for_each(|k| *k = true);
                }
                for (k, kept) in kept.iter().enumerate() {
                    assert_eq!(*kept, mask[k % g.n_spec()] != 0.0, "{nx}×{ny} {rule:?} support at {k}");
                }
            }
        }
        let g = Grid2::new(128, 128, 1.0, 1.0).unwrap();
        assert_eq!(g.dealias_band(Dealias::TwoThirds), 43);
        assert_eq!(g.dealias_band(Dealias::Half), 32);
        assert_eq!(g.dealias_band(Dealias::None), 65);
    }

    #[test]
    fn bad_grids_are_rejected() {
        assert!(Grid2::new(3, 8, 1.0, 1.0).is_err());
        assert!(Grid2::new(8, 8, 0.0, 1.0).is_err());
    }
}
