//! Exact (erf) GELU and its derivative on `f32` slices, vectorised.
//!
//! `gelu(x) = x · Φ(x)`, `gelu'(x) = Φ(x) + x · φ(x)` with the normal CDF `Φ` and density `φ`.
//! burn-flex evaluates `erf` and `exp` one element at a time through `libm` (about 15 % of a JEPA
//! training step). Here both are straight-line `f32` arithmetic that the compiler vectorises:
//!
//! * `Φ(x) = ½ erfc(−x/√2)`, with `erfc(z) = P(t) · e^{−z²}`, `t = 1/(1 + p z)` for `z ≥ 0`
//!   (Abramowitz & Stegun 7.1.26, |error of erf| ≤ 1.5e-7) and `erfc(−z) = 2 − erfc(z)`.
//! * `e^y = 2^n · e^r`, `n = ⌊y log₂e + ½⌋`, `|r| ≤ ln2/2`, `e^r` by its degree-7 Taylor
//!   polynomial (truncation ≤ 5e-9 relative), `2^n` built from the exponent bits.

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// Elements per parallel work item.
const CHUNK: usize = 1 << 14;

/// `gelu(x)` elementwise.
pub fn forward(x: &[f32]) -> Vec<f32> {
    // SAFETY: the output chunks pair up with input chunks of the same length, and `forward_chunk`
    // writes one output per input.
    unsafe { super::written_vec(x.len(), |y| y.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(y, x)| forward_chunk(x, y))) }
}

/// `y ← gelu(y)` elementwise, on the calling thread.
pub fn forward_in_place(y: &mut [f32]) {
    in_place_chunk(y);
}

/// `gy · gelu'(x)` elementwise.
pub fn backward(x: &[f32], gy: &[f32]) -> Vec<f32> {
    assert_eq!(x.len(), gy.len(), "gelu backward: x has {} values, the gradient {}", x.len(), gy.len());
    // SAFETY: as in `forward`, one output per input, chunk by chunk.
    unsafe {
        super::written_vec(x.len(), |gx| {
            gx.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK).zip(gy.par_chunks(CHUNK))).for_each(|(gx, (x, gy))| backward_chunk(x, gy, gx))
        })
    }
}

multiversion! {
    fn forward_chunk(x: &[f32], y: &mut [MaybeUninit<f32>]) => forward_chunk_impl
}

multiversion! {
    fn in_place_chunk(y: &mut [f32]) => in_place_chunk_impl
}

multiversion! {
    fn backward_chunk(x: &[f32], gy: &[f32], gx: &mut [MaybeUninit<f32>]) => backward_chunk_impl
}

#[inline(always)]
fn forward_chunk_impl(x: &[f32], y: &mut [MaybeUninit<f32>]) {
    for (y, &x) in y.iter_mut().zip(x) {
        y.write(x * normal_cdf_pdf(x).0);
    }
}

#[inline(always)]
fn in_place_chunk_impl(y: &mut [f32]) {
    for y in y.iter_mut() {
        *y *= normal_cdf_pdf(*y).0;
    }
}

#[inline(always)]
fn backward_chunk_impl(x: &[f32], gy: &[f32], gx: &mut [MaybeUninit<f32>]) {
    for (gx, (&x, &g)) in gx.iter_mut().zip(x.iter().zip(gy)) {
        let (cdf, pdf) = normal_cdf_pdf(x);
        gx.write(g * x.mul_add(pdf, cdf));
    }
}

/// `(Φ(x), φ(x))`.
#[inline(always)]
pub fn normal_cdf_pdf(x: f32) -> (f32, f32) {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [0.254_829_6, -0.284_496_72, 1.421_413_8, -1.453_152_1, 1.061_405_4];
    const INV_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let z = x.abs() * INV_SQRT_2;
    let t = 1.0 / P.mul_add(z, 1.0);
    let poly = t * A[4].mul_add(t, A[3]).mul_add(t, A[2]).mul_add(t, A[1]).mul_add(t, A[0]);
    let gauss = exp(-z * z); // e^{−x²/2}
    let half_erfc = 0.5 * poly * gauss; // Φ(−|x|)
    let cdf = if x < 0.0 { half_erfc } else { 1.0 - half_erfc };
    (cdf, INV_SQRT_2PI * gauss)
}

/// `e^y` for `y ≤ 0` down to the smallest normal (inputs below −87 give ≈ 1.6e-38).
#[inline(always)]
fn exp(y: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 = LN2_HI + LN2_LO, LN2_HI = 355/512 so that n · LN2_HI is exact for |n| < 2^8.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let y = y.max(-87.0);
    let n = y.mul_add(LOG2E, 0.5).floor();
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, y));
    let mut p: f32 = 1.0 / 5040.0;
    for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = p.mul_add(r, c);
    }
    // 2^n from its biased exponent n + 127 ∈ [1, 254], read out of the mantissa of 2^23 + (n + 127)
    // (bit arithmetic only: `as i32` would scalarise the loop with its saturation checks).
    let biased = (n + 127.0 + 8_388_608.0).to_bits() - 0x4B00_0000;
    p * f32::from_bits(biased << 23)
}
