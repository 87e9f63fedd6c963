//! The x-direction (column) transforms behind [`Fft2`](super::Fft2): `Columns` holds up to `stride` columns as
//! split real/imaginary row-major buffers and transforms them with a batched, transpose-free radix-4/2
//! decimation-in-frequency FFT whose butterflies combine whole rows (power-of-two lengths), or with rustfft per
//! column of a transposed copy (other lengths).

use std::sync::Arc;

use rustfft::{Fft, FftPlanner};

use super::Complex64;

/// The x-direction transforms of up to `stride` columns (one field's band, or two side by side) held as split
/// real/imaginary `n × stride` row-major buffers: write row `i` ([`Columns::load_row`], or in place through
/// [`Columns::input_row_mut`]), `transform` the first `width` columns, then read output row `i`
/// ([`Columns::for_each_output`]).
pub(super) struct Columns {
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
    pub(super) fn new(n: usize, stride: usize) -> Self {
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
    pub(super) fn input_row_mut(&mut self, i: usize, width: usize) -> (&mut [f64], &mut [f64]) {
        let cols = i * self.stride..i * self.stride + width;
        (&mut self.re[cols.clone()], &mut self.im[cols])
    }

    /// Calls `f(i, re, im)` with every output row `i` of the last transform (columns `0..width`), in the order
    /// `0, n/2, 1, n/2 + 1, …`. For a batched DIF of odd `log₂ n`, the final radix-2 stage is done here, on
    /// the buffer rows `2p, 2p + 1` (= output rows `p`, `p + n/2`) just before they are handed out, instead of
    /// as a separate pass over the whole buffer (the same operations).
    #[inline(always)]
    pub(super) fn for_each_output(&mut self, width: usize, mut f: impl FnMut(usize, &[f64], &[f64])) {
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
    pub(super) fn load_row(&mut self, i: usize, col0: usize, row: &[Complex64], scale: f64) {
        let (re, im) = self.input_row_mut(i, col0 + row.len());
        for ((r, m), c) in re[col0..].iter_mut().zip(&mut im[col0..]).zip(row) {
            *r = c.re * scale;
            *m = c.im * scale;
        }
    }

    /// Transforms columns `0..width`; `loaded[i]` (`None`: all rows) says whether input row `i` was written
    /// since the last transform: the others are taken as zero (and never read).
    #[inline(always)]
    pub(super) fn transform(&mut self, inverse: bool, width: usize, loaded: Option<&[bool]>) {
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
/// it: see [`with_avx2`](super::with_avx2)). Radix-4 passes fuse two radix-2 stages each; when `L` is odd the final radix-2
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectral::random_complex;
    use rand::{Rng, SeedableRng};

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
}
