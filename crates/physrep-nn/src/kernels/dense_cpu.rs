//! The ConvNeXt block's pointwise layers on the CPU: `y = x·w + b` for row-major `x (M, K)`, `w (K, N)`,
//! `b (N)`, straight into one `gemm` call.
//!
//! burn-flex's matmul allocates a zeroed byte buffer, copies it once more to realign it (`Bytes::from_bytes_vec`)
//! and adds the bias in a separate elementwise pass: three extra sweeps over an `M × 4C` activation
//! (tens to hundreds of MB). Here the output is written once with the bias rows and `gemm` accumulates
//! `x·w` into it (`dst := dst + x·w`).

/// Below this many multiply-adds one thread does the product (burn-flex's threshold).
const PARALLEL_THRESHOLD: usize = 192 * 192 * 192;

/// `y = x·w + b`, `x (m, k)`, `w (k, n)`, `b (n)`, all row-major; `y (m, n)`.
pub fn forward(x: &[f32], w: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    assert!(
        x.len() == m * k && w.len() == k * n && b.len() == n,
        "dense: expected x ({m}, {k}), w ({k}, {n}), b ({n}), got lengths {}, {}, {}",
        x.len(),
        w.len(),
        b.len()
    );
    // The bias rows, written by doubling copies (a few large memcpys, not one per row).
    let mut y = Vec::with_capacity(m * n);
    if m > 0 {
        y.extend_from_slice(b);
    }
    while y.len() < m * n {
        y.extend_from_within(..y.len().min(m * n - y.len()));
    }
    if m == 0 || n == 0 || k == 0 {
        return y;
    }
    let parallelism = if m.saturating_mul(n).saturating_mul(k) >= PARALLEL_THRESHOLD {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: `y` holds m·n initialised values with row stride n; `x` and `w` hold m·k and k·n values
    // with row strides k and n (lengths checked above); unit column strides; no aliasing.
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
    y
}
