//! Direct CPU loops for the 3-D depthwise convolution on contiguous NCDHW `f32` slices.
//!
//! Stride 1, zero padding `k/2` on each axis (odd kernels: output shape = input shape), one
//! `(kd, kh, kw)` filter and one bias per channel. The 2-D case is `d = kd = 1`.
//!
//! * [`forward`]: `y[n,c,d,h,w] = b[c] + Σ_{i,j,l} w[c,i,j,l] · x[n,c,d+i−pd,h+j−ph,w+l−pw]`.
//! * [`grad_input`]: the same correlation applied to `gy` with the spatially flipped kernel.
//! * [`grad_weight_bias`]: `gw[c,i,j,l] = Σ_{n,d,h,w} gy · x[shifted]`, `gb[c] = Σ gy`.
//!
//! Work is split over `(n, c)` planes (forward, input grad) or channels (weight grad) with rayon.
//! Each plane is copied once into a scratch buffer padded along W, so the inner loop is a
//! branch-free `kw`-tap FIR filter over a row; it is compiled for AVX-512 and AVX2+FMA and picked
//! at run time (a portable build runs everywhere else).

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::simd::simd_level;

/// Shape of one depthwise convolution: input `(n, c, d, h, w)`, kernel `(kd, kh, kw)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DwDims {
    pub n: usize,
    pub c: usize,
    pub d: usize,
    pub h: usize,
    pub w: usize,
    pub kd: usize,
    pub kh: usize,
    pub kw: usize,
}

impl DwDims {
    /// Elements in one `(d, h, w)` plane.
    pub fn plane(&self) -> usize {
        self.d * self.h * self.w
    }
    /// Weights per channel.
    pub fn taps(&self) -> usize {
        self.kd * self.kh * self.kw
    }
}

/// Forward pass; `x` is `(n, c, d, h, w)`, `w` is `(c, kd, kh, kw)`, `bias` is `(c)`.
pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, dm: DwDims) -> Vec<f32> {
    check_lengths(x, w, dm);
    let plane = dm.plane();
    if plane == 0 {
        return Vec::new();
    }
    // SAFETY: the planes partition the output and each is filled with its bias before the taps
    // accumulate into it.
    unsafe {
        super::written_vec(dm.n * dm.c * plane, |y| {
            y.par_chunks_mut(plane).enumerate().for_each_init(
                || vec![0.0f32; padded_len(dm)],
                |scratch, (nc, out)| {
                    let c = nc % dm.c;
                    let out = super::fill_with(out, &[bias.map_or(0.0, |b| b[c])]);
                    let taps = &w[c * dm.taps()..(c + 1) * dm.taps()];
                    correlate_plane(&x[nc * plane..(nc + 1) * plane], taps, dm, scratch, out);
                },
            )
        })
    }
}

/// Gradient with respect to the input, given the output gradient `gy` (same shape as `x`).
pub fn grad_input(gy: &[f32], w: &[f32], dm: DwDims) -> Vec<f32> {
    // The adjoint of a stride-1 correlation with symmetric padding is the correlation with the
    // kernel flipped along every axis.
    let taps = dm.taps();
    let mut flipped = vec![0.0f32; w.len()];
    for c in 0..dm.c {
        for t in 0..taps {
            flipped[c * taps + t] = w[c * taps + (taps - 1 - t)];
        }
    }
    forward(gy, &flipped, None, dm)
}

/// Gradients with respect to the weight `(c, kd, kh, kw)` and the bias `(c)`.
pub fn grad_weight_bias(x: &[f32], gy: &[f32], dm: DwDims) -> (Vec<f32>, Vec<f32>) {
    check_lengths(x, &vec![0.0; dm.c * dm.taps()], dm);
    assert_eq!(gy.len(), x.len(), "dwconv: gy has {} elements, x has {}", gy.len(), x.len());
    let plane = dm.plane();
    let taps = dm.taps();
    let mut gw = vec![0.0f32; dm.c * taps];
    let mut gb = vec![0.0f32; dm.c];
    if plane == 0 {
        return (gw, gb);
    }
    gw.par_chunks_mut(taps).zip(gb.par_iter_mut()).enumerate().for_each_init(
        || vec![0.0f32; padded_len(dm)],
        |scratch, (c, (gw_c, gb_c))| {
            let mut acc = vec![0.0f64; taps];
            let mut bsum = 0.0f64;
            let mut part = vec![0.0f32; taps];
            for n in 0..dm.n {
                let off = (n * dm.c + c) * plane;
                let gyp = &gy[off..off + plane];
                part.fill(0.0);
                weight_grad_plane(&x[off..off + plane], gyp, dm, scratch, &mut part);
                for (a, p) in acc.iter_mut().zip(&part) {
                    *a += f64::from(*p);
                }
                bsum += gyp.iter().map(|&v| f64::from(v)).sum::<f64>();
            }
            for (g, a) in gw_c.iter_mut().zip(&acc) {
                *g = *a as f32;
            }
            *gb_c = bsum as f32;
        },
    );
    (gw, gb)
}

fn check_lengths(x: &[f32], w: &[f32], dm: DwDims) {
    assert!(dm.kd % 2 == 1 && dm.kh % 2 == 1 && dm.kw % 2 == 1, "dwconv: kernel sizes must be odd, got {}x{}x{}", dm.kd, dm.kh, dm.kw);
    assert_eq!(x.len(), dm.n * dm.c * dm.plane(), "dwconv: input length does not match {dm:?}");
    assert_eq!(w.len(), dm.c * dm.taps(), "dwconv: weight length does not match {dm:?}");
}

/// Scratch length: one plane padded by `kw/2` on both sides of every row.
fn padded_len(dm: DwDims) -> usize {
    dm.d * dm.h * (dm.w + dm.kw - 1)
}

/// Copy a `(d, h, w)` plane into `scratch` with `kw/2` zeros on both sides of each row.
fn pad_rows(src: &[f32], dm: DwDims, scratch: &mut [f32]) {
    let pw = dm.kw / 2;
    let wp = dm.w + dm.kw - 1;
    for (row, dst) in src.chunks_exact(dm.w).zip(scratch.chunks_exact_mut(wp)) {
        dst[..pw].fill(0.0);
        dst[pw..pw + dm.w].copy_from_slice(row);
        dst[pw + dm.w..].fill(0.0);
    }
}

/// The valid range of kernel offsets `i` for output index `o` along an axis of length `len`
/// with kernel size `k`: input index `o + i − k/2` must lie in `[0, len)`.
fn tap_range(o: usize, len: usize, k: usize) -> std::ops::Range<usize> {
    let p = k / 2;
    let lo = p.saturating_sub(o);
    let hi = k.min(len + p - o);
    lo..hi
}

multiversion! {
    /// `out += correlate(x_plane, taps)` for one plane (`out` already holds the bias).
    fn correlate_plane(x: &[f32], taps: &[f32], dm: DwDims, scratch: &mut [f32], out: &mut [f32]) => correlate_plane_impl
}

multiversion! {
    /// `part[i,j,l] += Σ_{od,oh,ow} gy[od,oh,ow] · x[od+i−pd, oh+j−ph, ow+l−pw]` for one plane.
    fn weight_grad_plane(x: &[f32], gy: &[f32], dm: DwDims, scratch: &mut [f32], part: &mut [f32]) => weight_grad_plane_impl
}

#[inline(always)]
fn correlate_plane_impl(x: &[f32], taps: &[f32], dm: DwDims, scratch: &mut [f32], out: &mut [f32]) {
    pad_rows(x, dm, scratch);
    match dm.kw {
        7 => correlate_rows::<7>(scratch, taps, dm, out),
        5 => correlate_rows::<5>(scratch, taps, dm, out),
        3 => correlate_rows::<3>(scratch, taps, dm, out),
        1 => correlate_rows::<1>(scratch, taps, dm, out),
        _ => correlate_rows_any(scratch, taps, dm, out),
    }
}

/// For each output row, the (padded input row offset, kernel row offset) pairs that touch it.
#[inline(always)]
fn row_pairs(dm: DwDims, od: usize, oh: usize, pairs: &mut Vec<(usize, usize)>) {
    let wp = dm.w + dm.kw - 1;
    let (pd, ph) = (dm.kd / 2, dm.kh / 2);
    pairs.clear();
    for i in tap_range(od, dm.d, dm.kd) {
        for j in tap_range(oh, dm.h, dm.kh) {
            let (id, ih) = (od + i - pd, oh + j - ph);
            pairs.push(((id * dm.h + ih) * wp, (i * dm.kh + j) * dm.kw));
        }
    }
}

#[inline(always)]
fn correlate_rows<const K: usize>(xp: &[f32], taps: &[f32], dm: DwDims, out: &mut [f32]) {
    let mut pairs = Vec::with_capacity(dm.kd * dm.kh);
    for od in 0..dm.d {
        for oh in 0..dm.h {
            row_pairs(dm, od, oh, &mut pairs);
            let orow = &mut out[(od * dm.h + oh) * dm.w..][..dm.w];
            let mut o = 0;
            o = fir_block::<K, 64>(orow, xp, taps, &pairs, o);
            o = fir_block::<K, 16>(orow, xp, taps, &pairs, o);
            o = fir_block::<K, 8>(orow, xp, taps, &pairs, o);
            fir_block::<K, 1>(orow, xp, taps, &pairs, o);
        }
    }
}

/// `orow[o..o+L] += Σ_pairs Σ_l k[l] · x[o + l]` for as many whole blocks of L outputs as fit
/// from `o`; returns the first output not done. The L accumulators live in registers.
#[inline(always)]
fn fir_block<const K: usize, const L: usize>(orow: &mut [f32], xp: &[f32], taps: &[f32], pairs: &[(usize, usize)], mut o: usize) -> usize {
    while o + L <= orow.len() {
        let mut acc = [0.0f32; L];
        acc.copy_from_slice(&orow[o..o + L]);
        for &(xo, ko) in pairs {
            let xr = &xp[xo + o..][..L + K - 1];
            let kr = &taps[ko..ko + K];
            for l in 0..K {
                let kv = kr[l];
                for t in 0..L {
                    acc[t] = kv.mul_add(xr[l + t], acc[t]);
                }
            }
        }
        orow[o..o + L].copy_from_slice(&acc);
        o += L;
    }
    o
}

fn correlate_rows_any(xp: &[f32], taps: &[f32], dm: DwDims, out: &mut [f32]) {
    let mut pairs = Vec::with_capacity(dm.kd * dm.kh);
    for od in 0..dm.d {
        for oh in 0..dm.h {
            row_pairs(dm, od, oh, &mut pairs);
            let orow = &mut out[(od * dm.h + oh) * dm.w..][..dm.w];
            for &(xo, ko) in &pairs {
                for (l, &kv) in taps[ko..ko + dm.kw].iter().enumerate() {
                    for (o, xv) in orow.iter_mut().zip(&xp[xo + l..]) {
                        *o += kv * xv;
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn weight_grad_plane_impl(x: &[f32], gy: &[f32], dm: DwDims, scratch: &mut [f32], part: &mut [f32]) {
    pad_rows(x, dm, scratch);
    match dm.kw {
        7 => weight_grad_taps::<7>(scratch, gy, dm, part),
        5 => weight_grad_taps::<5>(scratch, gy, dm, part),
        3 => weight_grad_taps::<3>(scratch, gy, dm, part),
        1 => weight_grad_taps::<1>(scratch, gy, dm, part),
        _ => weight_grad_taps_any(scratch, gy, dm, part),
    }
}

/// For every kernel row (i, j): the `K` taps along W are accumulated together while one sweep goes
/// over all output rows the kernel row touches, so each `gy` value is loaded once for `K` FMAs;
/// the `K` vector accumulators are summed across lanes once, at the end.
#[inline(always)]
fn weight_grad_taps<const K: usize>(xp: &[f32], gy: &[f32], dm: DwDims, part: &mut [f32]) {
    let wp = dm.w + dm.kw - 1;
    let (pd, ph) = (dm.kd / 2, dm.kh / 2);
    let mut rows = Vec::with_capacity(dm.d * dm.h);
    for i in 0..dm.kd {
        for j in 0..dm.kh {
            // Output rows whose input row (od + i − pd, oh + j − ph) is inside the plane.
            let ods = pd.saturating_sub(i)..(dm.d + pd).saturating_sub(i).min(dm.d);
            let ohs = ph.saturating_sub(j)..(dm.h + ph).saturating_sub(j).min(dm.h);
            rows.clear();
            for od in ods {
                for oh in ohs.clone() {
                    rows.push(((od * dm.h + oh) * dm.w, ((od + i - pd) * dm.h + (oh + j - ph)) * wp));
                }
            }
            let sums = row_taps::<K>(gy, xp, &rows, dm.w);
            for (p, s) in part[(i * dm.kh + j) * K..][..K].iter_mut().zip(sums) {
                *p += s;
            }
        }
    }
}

/// `Σ_rows Σ_o gy[g + o] · xp[x + o + l]` for `l < K`, over `(g, x)` row offsets.
#[inline(always)]
fn row_taps<const K: usize>(gy: &[f32], xp: &[f32], rows: &[(usize, usize)], w: usize) -> [f32; K] {
    for &(g, x) in rows {
        assert!(g + w <= gy.len() && x + w + K - 1 <= xp.len(), "dwconv: row offsets out of range");
    }
    #[cfg(target_arch = "x86_64")]
    if simd_level() >= 2 {
        // SAFETY: AVX-512F is available (checked at run time) and every row lies inside its slice
        // (asserted above); the loads past `w` are masked.
        return unsafe { row_taps_avx512::<K>(gy.as_ptr(), xp.as_ptr(), rows, w) };
    }
    let mut acc = [[0.0f32; 8]; K];
    let mut tail = [0.0f32; K];
    let full = w / 8 * 8;
    for &(g, x) in rows {
        let (g, x) = (&gy[g..g + w], &xp[x..x + w + K - 1]);
        for blk in (0..full).step_by(8) {
            for (l, a) in acc.iter_mut().enumerate() {
                for t in 0..8 {
                    a[t] = g[blk + t].mul_add(x[blk + l + t], a[t]);
                }
            }
        }
        for o in full..w {
            for (l, a) in tail.iter_mut().enumerate() {
                *a = g[o].mul_add(x[o + l], *a);
            }
        }
    }
    std::array::from_fn(|l| acc[l].iter().sum::<f32>() + tail[l])
}

/// [`row_taps`] with AVX-512 intrinsics: `K` accumulators in registers, a masked last block.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn row_taps_avx512<const K: usize>(gy: *const f32, xp: *const f32, rows: &[(usize, usize)], w: usize) -> [f32; K] {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_maskz_loadu_ps, _mm512_reduce_add_ps, _mm512_setzero_ps};
    // Full-mask loads: unlike `_mm512_loadu_ps` they carry no debug-build pointer checks.
    const ALL: u16 = u16::MAX;
    let (full, rem) = (w / 16, w % 16);
    let last: u16 = (1u16 << rem).wrapping_sub(1);
    let mut acc = [_mm512_setzero_ps(); K];
    for &(g, x) in rows {
        let (g, x) = (gy.add(g), xp.add(x));
        for blk in 0..full {
            let gv = _mm512_maskz_loadu_ps(ALL, g.add(16 * blk));
            for (l, a) in acc.iter_mut().enumerate() {
                *a = _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(ALL, x.add(16 * blk + l)), *a);
            }
        }
        if rem > 0 {
            let gv = _mm512_maskz_loadu_ps(last, g.add(16 * full));
            for (l, a) in acc.iter_mut().enumerate() {
                *a = _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(last, x.add(16 * full + l)), *a);
            }
        }
    }
    std::array::from_fn(|l| _mm512_reduce_add_ps(acc[l]))
}

fn weight_grad_taps_any(xp: &[f32], gy: &[f32], dm: DwDims, part: &mut [f32]) {
    let mut pairs = Vec::with_capacity(dm.kd * dm.kh);
    for od in 0..dm.d {
        for oh in 0..dm.h {
            row_pairs(dm, od, oh, &mut pairs);
            let g = &gy[(od * dm.h + oh) * dm.w..][..dm.w];
            for &(xo, ko) in &pairs {
                for (l, p) in part[ko..ko + dm.kw].iter_mut().enumerate() {
                    *p += g.iter().zip(&xp[xo + l..]).map(|(a, b)| a * b).sum::<f32>();
                }
            }
        }
    }
}
