//! The ConvNeXt block's pointwise layers on the CPU: `y = x·w + b` for row-major `x (M, K)`, `w (K, N)`,
//! `b (N)`, straight into one `gemm` call.
//!
//! burn-flex's matmul allocates a zeroed byte buffer, copies it once more to realign it (`Bytes::from_bytes_vec`)
//! and adds the bias in a separate elementwise pass: three extra sweeps over an `M × 4C` activation
//! (tens to hundreds of MB). Here the output is written once with the bias rows and `gemm` accumulates
//! `x·w` into it (`dst := dst + x·w`).
//!
//! [`mlp_forward`] is the block's whole pointwise MLP `gelu(x·w₁ + b₁)·w₂ + b₂` for inference: row tiles
//! run through both products and the GELU while the `(rows, 4C)` hidden tile stays in cache, so the
//! `M × 4C` hidden and activation tensors are never materialised.

/// Below this many multiply-adds one thread does the product (burn-flex's threshold).
const PARALLEL_THRESHOLD: usize = 192 * 192 * 192;

/// Rows per tile of [`mlp_forward`]: the `(rows, 4C)` hidden tile is 256 KB at C = 64.
const MLP_ROWS: usize = 256;

/// `y = x·w + b`, `x (m, k)`, `w (k, n)`, `b (n)`, all row-major; `y (m, n)`.
pub fn forward(x: &[f32], w: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    check(x, w, b, m, k, n);
    let mut y = Vec::new();
    fill_rows(&mut y, b, m);
    let parallelism =
        if m.saturating_mul(n).saturating_mul(k) >= PARALLEL_THRESHOLD { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    accumulate(&mut y, x, w, m, k, n, parallelism);
    y
}

/// `gelu(x·w₁ + b₁)·w₂ + b₂` for `x (m, c)`, `w₁ (c, h)`, `b₁ (h)`, `w₂ (h, c)`, `b₂ (c)`; `(m, c)` out.
/// Parallel over tiles of `MLP_ROWS` rows, each tile's products on one thread.
pub fn mlp_forward(x: &[f32], [w1, b1, w2, b2]: [&[f32]; 4], m: usize, c: usize, h: usize) -> Vec<f32> {
    use rayon::prelude::*;
    check(x, w1, b1, m, c, h);
    check(&[], w2, b2, 0, h, c);
    let tile = MLP_ROWS * c.max(1);
    // SAFETY: the output tiles pair up with the input tiles; each tile's rows are all written with
    // `b₂` before the second product accumulates into them.
    unsafe {
        super::written_vec(m * c, |y| {
            y.par_chunks_mut(tile).zip(x.par_chunks(tile)).for_each_init(
                || Vec::with_capacity(MLP_ROWS * h),
                |hidden, (y, x)| {
                    let rows = x.len() / c;
                    fill_rows(hidden, b1, rows);
                    accumulate(hidden, x, w1, rows, c, h, gemm::Parallelism::None);
                    super::gelu_cpu::forward_in_place(hidden);
                    let y = super::fill_with(y, b2);
                    accumulate(y, hidden, w2, rows, h, c, gemm::Parallelism::None);
                },
            )
        })
    }
}

fn check(x: &[f32], w: &[f32], b: &[f32], m: usize, k: usize, n: usize) {
    assert!(
        x.len() == m * k && w.len() == k * n && b.len() == n,
        "dense: expected x ({m}, {k}), w ({k}, {n}), b ({n}), got lengths {}, {}, {}",
        x.len(),
        w.len(),
        b.len()
    );
}

/// Replaces `y` by `rows` copies of `b`, written by doubling copies (a few large memcpys, not one per row).
fn fill_rows(y: &mut Vec<f32>, b: &[f32], rows: usize) {
    let len = rows * b.len();
    y.clear();
    if rows > 0 {
        y.extend_from_slice(b);
    }
    while y.len() < len {
        y.extend_from_within(..y.len().min(len - y.len()));
    }
}

/// `y += x·w` for `x (m, k)`, `w (k, n)`, `y (m, n)`, all row-major and contiguous.
fn accumulate(y: &mut [f32], x: &[f32], w: &[f32], m: usize, k: usize, n: usize, parallelism: gemm::Parallelism) {
    assert!(y.len() == m * n && x.len() == m * k && w.len() == k * n, "dense: inconsistent gemm operands");
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // SAFETY: `y` holds m·n initialised values with row stride n; `x` and `w` hold m·k and k·n values
    // with row strides k and n (checked above); unit column strides; `y` is borrowed mutably, so it
    // aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            y.as_mut_ptr(),
            1,
            n as isize,
            true,
            x.as_ptr(),
            1,
            k as isize,
            w.as_ptr(),
            1,
            n as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        );
    }
}
