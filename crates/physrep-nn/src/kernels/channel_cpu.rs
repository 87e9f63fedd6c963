//! Direct CPU loops for the ConvNeXt block's per-channel ops at the channels-first ↔ channels-last
//! boundary, on `f32` slices.
//!
//! A conv tensor is `(n, c, s)` channels-first (`s` = every spatial axis flattened); its
//! channels-last twin is `(n, s, c)`.
//!
//! * [`norm_forward`]: LayerNorm over `c` (biased variance, `eps` inside the square root, affine
//!   per channel) of a channels-first input, written channels-first or channels-last.
//! * [`norm_backward`]: its gradients `(gx, gw, gb)`; `gx` is channels-first, `gy` is in the
//!   layout the forward wrote.
//! * [`residual_forward`]: `y[n,c,s] = x[n,c,s] + γ[c] · h[n,s,c]` (layer scale on a
//!   channels-last branch, added to a channels-first stream).
//! * [`residual_backward`]: `gh[n,s,c] = γ[c] · gy[n,c,s]` and `gγ[c] = Σ gy[n,c,s] · h[n,s,c]`
//!   (`gx = gy` needs no kernel).
//!
//! Each op is one pass over tiles of [`TILE`] positions: a tile is gathered into a `(c, TILE)`
//! scratch buffer (a transpose when the source is channels-last), worked on with the position axis
//! innermost (vectorised, AVX-512 / AVX2 picked at run time), and scattered back. Tiles run in
//! parallel with rayon; per-channel parameter gradients are summed per tile and then reduced in a
//! fixed order in `f64`, so results do not depend on the thread count.

use rayon::prelude::*;

/// Positions per tile.
pub const TILE: usize = 64;

/// `(n, c, s)`: batch, channels, flattened spatial positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelDims {
    pub n: usize,
    pub c: usize,
    pub s: usize,
}

impl ChannelDims {
    fn len(&self) -> usize {
        self.n * self.c * self.s
    }
    fn tiles_per_item(&self) -> usize {
        self.s.div_ceil(TILE)
    }
    /// Every tile as `(n, first position, positions)`.
    fn tiles(&self) -> impl IndexedParallelIterator<Item = (usize, usize, usize)> + '_ {
        let per = self.tiles_per_item();
        (0..self.n * per).into_par_iter().map(move |i| {
            let (n, t) = (i / per, i % per);
            let s0 = t * TILE;
            (n, s0, TILE.min(self.s - s0))
        })
    }
}

/// Memory layout of a conv tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `(n, c, s)`.
    ChannelsFirst,
    /// `(n, s, c)`.
    ChannelsLast,
}

/// A tile's `(c, TILE)` scratch buffer.
type Buf = Vec<[f32; TILE]>;

/// Copy positions `s0..s0+len` of item `n` of `src` (laid out as `layout`) into `buf[c][..len]`.
fn gather(src: &[f32], layout: Layout, dm: ChannelDims, n: usize, s0: usize, len: usize, buf: &mut Buf) {
    match layout {
        Layout::ChannelsFirst => {
            for (c, row) in buf.iter_mut().enumerate() {
                row[..len].copy_from_slice(&src[(n * dm.c + c) * dm.s + s0..][..len]);
            }
        }
        Layout::ChannelsLast => {
            let block = &src[(n * dm.s + s0) * dm.c..][..len * dm.c];
            for (t, pos) in block.chunks_exact(dm.c).enumerate() {
                for (row, &v) in buf.iter_mut().zip(pos) {
                    row[t] = v;
                }
            }
        }
    }
}

/// A raw output pointer shared by tiles that write disjoint index sets.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: every use writes only the indices of its own tile, and tiles are disjoint.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// Write `buf[c][..len]` to positions `s0..s0+len` of item `n`, laid out as `layout`.
    ///
    /// # Safety
    /// The destination holds `dm.len()` values and no other thread writes this tile's indices.
    unsafe fn scatter(self, buf: &Buf, layout: Layout, dm: ChannelDims, n: usize, s0: usize, len: usize) {
        match layout {
            Layout::ChannelsFirst => {
                for (c, row) in buf.iter().enumerate() {
                    let dst = self.0.add((n * dm.c + c) * dm.s + s0);
                    std::ptr::copy_nonoverlapping(row.as_ptr(), dst, len);
                }
            }
            Layout::ChannelsLast => {
                let base = self.0.add((n * dm.s + s0) * dm.c);
                for t in 0..len {
                    let dst = base.add(t * dm.c);
                    for (c, row) in buf.iter().enumerate() {
                        *dst.add(c) = row[t];
                    }
                }
            }
        }
    }
}

fn check(what: &str, got: usize, want: usize, dm: ChannelDims) {
    assert_eq!(got, want, "channel kernels: `{what}` has {got} values, expected {want} for {dm:?}");
}

/// One parallel pass over every tile. `tile(scratch, n, s0, len, partial)` gets two `(c, TILE)`
/// scratch buffers and its own `width` partial sums; what it leaves in `scratch.0` is written to
/// the output, laid out as `out`. Returns the output and the partial sums reduced in tile order
/// in `f64` (deterministic for any thread count).
fn tile_pass(
    dm: ChannelDims,
    out: Layout,
    width: usize,
    tile: impl Fn(&mut (Buf, Buf), usize, usize, usize, &mut [f32]) + Sync,
) -> (Vec<f32>, Vec<f32>) {
    let stride = width.max(1);
    let mut partials = vec![0.0f32; dm.n * dm.tiles_per_item() * stride];
    // SAFETY: the tiles cover every (item, position) and each scatter writes all `c` channels of
    // its tile, so every output value is written.
    let y = unsafe {
        super::written_vec(dm.len(), |y| {
            let dst = Out(y.as_mut_ptr().cast::<f32>());
            partials.par_chunks_mut(stride).zip(dm.tiles()).for_each_init(
                || (vec![[0.0f32; TILE]; dm.c], vec![[0.0f32; TILE]; dm.c]),
                |scratch, (part, (n, s0, len))| {
                    tile(scratch, n, s0, len, &mut part[..width]);
                    // SAFETY: `y` holds `dm.len()` values and tiles are disjoint.
                    dst.scatter(&scratch.0, out, dm, n, s0, len);
                },
            )
        })
    };
    let mut acc = vec![0.0f64; width];
    for part in partials.chunks_exact(stride) {
        for (a, &v) in acc.iter_mut().zip(part) {
            *a += f64::from(v);
        }
    }
    (y, acc.into_iter().map(|v| v as f32).collect())
}

/// LayerNorm over channels of a channels-first `x`, written as `out`.
pub fn norm_forward(x: &[f32], w: &[f32], b: &[f32], eps: f32, dm: ChannelDims, out: Layout) -> Vec<f32> {
    check("x", x.len(), dm.len(), dm);
    check("weight", w.len(), dm.c, dm);
    check("bias", b.len(), dm.c, dm);
    let (y, _) = tile_pass(dm, out, 0, |(buf, _), n, s0, len, _| {
        gather(x, Layout::ChannelsFirst, dm, n, s0, len, buf);
        normalize_tile(buf, w, b, eps);
    });
    y
}

/// Gradients `(gx, gw, gb)` of [`norm_forward`]; `gy` is laid out as the forward's output.
pub fn norm_backward(x: &[f32], w: &[f32], gy: &[f32], eps: f32, dm: ChannelDims, gy_layout: Layout) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    check("x", x.len(), dm.len(), dm);
    check("weight", w.len(), dm.c, dm);
    check("output gradient", gy.len(), dm.len(), dm);
    let (gx, sums) = tile_pass(dm, Layout::ChannelsFirst, 2 * dm.c, |(gb, xb), n, s0, len, part| {
        gather(x, Layout::ChannelsFirst, dm, n, s0, len, xb);
        gather(gy, gy_layout, dm, n, s0, len, gb);
        norm_backward_tile(xb, gb, w, eps, len, part);
    });
    let (gw, gb) = sums.split_at(dm.c);
    (gx, gw.to_vec(), gb.to_vec())
}

/// `y = x + γ · hᵀ` with `x` channels-first and `h` channels-last; `y` channels-first.
pub fn residual_forward(x: &[f32], h: &[f32], gamma: &[f32], dm: ChannelDims) -> Vec<f32> {
    check("x", x.len(), dm.len(), dm);
    check("branch", h.len(), dm.len(), dm);
    check("gamma", gamma.len(), dm.c, dm);
    let (y, _) = tile_pass(dm, Layout::ChannelsFirst, 0, |(buf, _), n, s0, len, _| {
        gather(h, Layout::ChannelsLast, dm, n, s0, len, buf);
        for (c, row) in buf.iter_mut().enumerate() {
            let xr = &x[(n * dm.c + c) * dm.s + s0..][..len];
            scale_add(&mut row[..len], gamma[c], xr);
        }
    });
    y
}

/// Gradients `(gh, gγ)` of [`residual_forward`] (`gh` channels-last).
pub fn residual_backward(gy: &[f32], h: &[f32], gamma: &[f32], dm: ChannelDims) -> (Vec<f32>, Vec<f32>) {
    check("output gradient", gy.len(), dm.len(), dm);
    check("branch", h.len(), dm.len(), dm);
    check("gamma", gamma.len(), dm.c, dm);
    tile_pass(dm, Layout::ChannelsLast, dm.c, |(gb, hb), n, s0, len, part| {
        gather(gy, Layout::ChannelsFirst, dm, n, s0, len, gb);
        gather(h, Layout::ChannelsLast, dm, n, s0, len, hb);
        for (c, (g, hr)) in gb.iter_mut().zip(hb.iter()).enumerate() {
            part[c] = dot(&g[..len], &hr[..len]);
            scale(&mut g[..len], gamma[c]);
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Tile bodies (position axis innermost, compiled per instruction set)
// ---------------------------------------------------------------------------------------------

multiversion! {
    /// In place: `buf[c][t] ← (buf[c][t] − μ[t]) / σ[t] · w[c] + b[c]` over the channels of a tile.
    fn normalize_tile(buf: &mut Buf, w: &[f32], b: &[f32], eps: f32) => normalize_tile_impl
}

multiversion! {
    /// One tile of the LayerNorm backward: `gb` holds `gy` on entry and `gx` on exit, `xb` is
    /// overwritten by `x̂`; `part` gets `[Σ_t gy·x̂ (c values), Σ_t gy (c values)]`.
    fn norm_backward_tile(xb: &mut Buf, gb: &mut Buf, w: &[f32], eps: f32, len: usize, part: &mut [f32]) => norm_backward_tile_impl
}

multiversion! {
    /// `a[t] ← x[t] + g · a[t]`.
    fn scale_add(a: &mut [f32], g: f32, x: &[f32]) => scale_add_impl
}

multiversion! {
    /// `a[t] ← g · a[t]`.
    fn scale(a: &mut [f32], g: f32) => scale_impl
}

multiversion! {
    /// `Σ_t a[t] · b[t]`.
    fn dot(a: &[f32], b: &[f32]) -> f32 => dot_impl
}

/// Per-position mean and `1/σ` over the channels of a tile (two passes, biased variance).
#[inline(always)]
fn moments(buf: &Buf, eps: f32) -> ([f32; TILE], [f32; TILE]) {
    let inv_c = 1.0 / buf.len() as f32;
    let mut mean = [0.0f32; TILE];
    for row in buf {
        for t in 0..TILE {
            mean[t] += row[t];
        }
    }
    for m in &mut mean {
        *m *= inv_c;
    }
    let mut var = [0.0f32; TILE];
    for row in buf {
        for t in 0..TILE {
            let d = row[t] - mean[t];
            var[t] = d.mul_add(d, var[t]);
        }
    }
    let mut rstd = [0.0f32; TILE];
    for t in 0..TILE {
        rstd[t] = 1.0 / (var[t] * inv_c + eps).sqrt();
    }
    (mean, rstd)
}

#[inline(always)]
fn normalize_tile_impl(buf: &mut Buf, w: &[f32], b: &[f32], eps: f32) {
    let (mean, rstd) = moments(buf, eps);
    for (c, row) in buf.iter_mut().enumerate() {
        for t in 0..TILE {
            row[t] = ((row[t] - mean[t]) * rstd[t]).mul_add(w[c], b[c]);
        }
    }
}

#[inline(always)]
fn norm_backward_tile_impl(xb: &mut Buf, gb: &mut Buf, w: &[f32], eps: f32, len: usize, part: &mut [f32]) {
    let c_count = xb.len();
    let inv_c = 1.0 / c_count as f32;
    let (mean, rstd) = moments(xb, eps);
    // Positions past `len` hold stale values: zero them so they add nothing to the sums.
    for (xr, gr) in xb.iter_mut().zip(gb.iter_mut()) {
        xr[len..].fill(0.0);
        gr[len..].fill(0.0);
    }
    let mut a = [0.0f32; TILE];
    let mut q = [0.0f32; TILE];
    for (c, (xr, gr)) in xb.iter_mut().zip(gb.iter_mut()).enumerate() {
        let (mut sgx, mut sg) = (0.0f32, 0.0f32);
        for t in 0..TILE {
            let valid = if t < len { 1.0 } else { 0.0 };
            xr[t] = (xr[t] - mean[t]) * rstd[t] * valid;
            sgx = gr[t].mul_add(xr[t], sgx);
            sg += gr[t];
            gr[t] *= w[c];
            a[t] += gr[t];
            q[t] = gr[t].mul_add(xr[t], q[t]);
        }
        part[c] = sgx;
        part[c_count + c] = sg;
    }
    for t in 0..TILE {
        a[t] *= inv_c;
        q[t] *= inv_c;
    }
    for (xr, gr) in xb.iter().zip(gb.iter_mut()) {
        for t in 0..TILE {
            gr[t] = rstd[t] * (gr[t] - a[t] - xr[t] * q[t]);
        }
    }
}

#[inline(always)]
fn scale_add_impl(a: &mut [f32], g: f32, x: &[f32]) {
    for (a, &x) in a.iter_mut().zip(x) {
        *a = g.mul_add(*a, x);
    }
}

#[inline(always)]
fn scale_impl(a: &mut [f32], g: f32) {
    for a in a {
        *a *= g;
    }
}

#[inline(always)]
fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for t in 0..16 {
            acc[t] = x[t].mul_add(y[t], acc[t]);
        }
    }
    acc.iter().sum::<f32>() + tail
}
