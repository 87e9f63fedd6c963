//! [`Fft2`]: the planned 2-D real FFT (rows by realfft, columns by [`Columns`]), with its banded, boxed
//! (dealiased) and pair variants.

use std::sync::Arc;

use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

use super::column_fft::Columns;
use super::{with_avx2, Complex64, Dealias, Grid2};

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
