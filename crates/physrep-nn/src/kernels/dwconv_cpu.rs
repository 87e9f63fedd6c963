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
    let mut y = vec![0.0f32; dm.n * dm.c * plane];
    if plane == 0 {
        return y;
    }
    y.par_chunks_mut(plane).enumerate().for_each_init(
        || vec![0.0f32; padded_len(dm)],
        |scratch, (nc, out)| {
            let c = nc % dm.c;
            let b = bias.map_or(0.0, |b| b[c]);
            out.fill(b);
            let taps = &w[c * dm.taps()..(c + 1) * dm.taps()];
            correlate_plane(&x[nc * plane..(nc + 1) * plane], taps, dm, scratch, out);
        },
    );
    y
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
    gw.par_chunks_mut(taps)
        .zip(gb.par_iter_mut())
        .enumerate()
        .for_each_init(
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
    assert!(
        dm.kd % 2 == 1 && dm.kh % 2 == 1 && dm.kw % 2 == 1,
        "dwconv: kernel sizes must be odd, got {}x{}x{}",
        dm.kd,
        dm.kh,
        dm.kw
    );
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

/// `out += correlate(x_plane, taps)` for one plane (`out` already holds the bias).
fn correlate_plane(x: &[f32], taps: &[f32], dm: DwDims, scratch: &mut [f32], out: &mut [f32]) {
    pad_rows(x, dm, scratch);
    let wp = dm.w + dm.kw - 1;
    let (pd, ph) = (dm.kd / 2, dm.kh / 2);
    for od in 0..dm.d {
        for i in tap_range(od, dm.d, dm.kd) {
            let id = od + i - pd;
            for oh in 0..dm.h {
                let orow = &mut out[(od * dm.h + oh) * dm.w..][..dm.w];
                for j in tap_range(oh, dm.h, dm.kh) {
                    let ih = oh + j - ph;
                    let xrow = &scratch[(id * dm.h + ih) * wp..][..wp];
                    let k = &taps[(i * dm.kh + j) * dm.kw..][..dm.kw];
                    fir_row(orow, xrow, k);
                }
            }
        }
    }
}

/// `part[i,j,l] += Σ_{od,oh,ow} gy[od,oh,ow] · x[od+i−pd, oh+j−ph, ow+l−pw]` for one plane.
fn weight_grad_plane(x: &[f32], gy: &[f32], dm: DwDims, scratch: &mut [f32], part: &mut [f32]) {
    pad_rows(x, dm, scratch);
    let wp = dm.w + dm.kw - 1;
    let (pd, ph) = (dm.kd / 2, dm.kh / 2);
    for od in 0..dm.d {
        for i in tap_range(od, dm.d, dm.kd) {
            let id = od + i - pd;
            for oh in 0..dm.h {
                let grow = &gy[(od * dm.h + oh) * dm.w..][..dm.w];
                for j in tap_range(oh, dm.h, dm.kh) {
                    let ih = oh + j - ph;
                    let xrow = &scratch[(id * dm.h + ih) * wp..][..wp];
                    let k = &mut part[(i * dm.kh + j) * dm.kw..][..dm.kw];
                    dot_row(k, grow, xrow);
                }
            }
        }
    }
}

/// Call `$f` through a copy compiled for the best instruction set the CPU has.
macro_rules! dispatch {
    ($f:ident($($a:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            unsafe fn avx512(out: &mut [f32], x: &[f32], k: &[f32]) { $f(out, x, k) }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2(out: &mut [f32], x: &[f32], k: &[f32]) { $f(out, x, k) }
            if simd_level() >= 2 {
                // SAFETY: the CPU supports AVX-512F (checked once at run time).
                return unsafe { avx512($($a),*) };
            }
            if simd_level() == 1 {
                // SAFETY: the CPU supports AVX2 and FMA (checked once at run time).
                return unsafe { avx2($($a),*) };
            }
        }
        $f($($a),*)
    }};
}

/// `out[o] += Σ_l k[l] · x[o + l]` with `x.len() == out.len() + k.len() − 1`.
fn fir_row(out: &mut [f32], x: &[f32], k: &[f32]) {
    dispatch!(fir_row_impl(out, x, k))
}

/// `k[l] += Σ_o g[o] · x[o + l]` with `x.len() == g.len() + k.len() − 1`.
fn dot_row(k: &mut [f32], g: &[f32], x: &[f32]) {
    dispatch!(dot_row_impl(k, g, x))
}


/// 2 = AVX-512F, 1 = AVX2 + FMA, 0 = portable.
#[cfg(target_arch = "x86_64")]
fn simd_level() -> u8 {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<u8> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        if std::is_x86_feature_detected!("avx512f") {
            2
        } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            1
        } else {
            0
        }
    })
}

#[inline(always)]
fn fir_row_impl(out: &mut [f32], x: &[f32], k: &[f32]) {
    match k.len() {
        7 => fir_const::<7>(out, x, k),
        5 => fir_const::<5>(out, x, k),
        3 => fir_const::<3>(out, x, k),
        1 => fir_const::<1>(out, x, k),
        _ => {
            for (l, &kv) in k.iter().enumerate() {
                for (o, xv) in out.iter_mut().zip(&x[l..]) {
                    *o += kv * xv;
                }
            }
        }
    }
}

#[inline(always)]
fn fir_const<const K: usize>(out: &mut [f32], x: &[f32], k: &[f32]) {
    let k: [f32; K] = k.try_into().expect("kernel row length");
    let n = out.len();
    let x = &x[..n + K - 1];
    for o in 0..n {
        let mut s = out[o];
        for l in 0..K {
            s = k[l].mul_add(x[o + l], s);
        }
        out[o] = s;
    }
}

#[inline(always)]
fn dot_row_impl(k: &mut [f32], g: &[f32], x: &[f32]) {
    // 16 independent partial sums per tap, so the reduction vectorises without reassociating.
    const L: usize = 16;
    let n = g.len();
    let x = &x[..n + k.len() - 1];
    for (l, kv) in k.iter_mut().enumerate() {
        let xs = &x[l..l + n];
        let mut acc = [0.0f32; L];
        let mut gc = g.chunks_exact(L);
        let mut xc = xs.chunks_exact(L);
        for (gb, xb) in (&mut gc).zip(&mut xc) {
            for t in 0..L {
                acc[t] = gb[t].mul_add(xb[t], acc[t]);
            }
        }
        let mut s: f32 = acc.iter().sum();
        for (gv, xv) in gc.remainder().iter().zip(xc.remainder()) {
            s += gv * xv;
        }
        *kv += s;
    }
}
