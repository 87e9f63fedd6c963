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
//! symmetric masks. See `rayleigh_benard` and the parity test in `spectral/tests.rs`.
//!
//! # Files
//! * `grid.rs`: [`Grid2`] and [`Dealias`] (wavenumbers, derivatives, masks, the Hou–Li filter).
//! * `fft2.rs`: [`Fft2`], the planned 2-D transform (rows, and its band / box / pair variants).
//! * `column_fft.rs`: the batched x-direction (column) FFT the transform runs on.
//! * `tests.rs`: the transform contract tests.

mod column_fft;
mod fft2;
mod grid;
#[cfg(test)]
mod tests;

pub use fft2::Fft2;
pub use grid::{Dealias, Grid2};
pub use num_complex::Complex64;

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

/// Test helper: `n` random complex numbers with parts in `[-1, 1)`, seeded.
#[cfg(test)]
fn random_complex(n: usize, seed: u64) -> Vec<Complex64> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| Complex64::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0))).collect()
}
