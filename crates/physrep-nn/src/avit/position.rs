//! T5 relative position bias with MPP's periodic wrap (`time_modules.py`, `spatial_modules.py`).
//!
//! [`RelativePositionBias::forward`]: an axis of length L → an additive attention bias
//! `(1, heads, L, L)` from a learned `(num_buckets, heads)` table, bucketed by
//! [`relative_position_bucket`] over the [`relative_positions`] `k − q`.

use burn::nn::{Embedding, EmbeddingConfig};
use burn::prelude::*;
use burn::tensor::TensorData;

/// T5 relative position bias (bidirectional, `num_buckets` buckets, max distance 32), with MPP's
/// periodic wrap of relative positions.
#[derive(Module, Debug)]
pub struct RelativePositionBias<B: Backend> {
    /// `(num_buckets, heads)`.
    pub relative_attention_bias: Embedding<B>,
}

/// Python's `a % b` (result has the sign of `b`).
fn py_mod(a: i64, b: i64) -> i64 {
    ((a % b) + b) % b
}

/// The T5 bucket of a relative position (`memory − query`), as MPP's `_relative_position_bucket`
/// (bidirectional, max distance 32; the log buckets are computed in f32 like the reference).
pub fn relative_position_bucket(relative_position: i64, num_buckets: usize) -> usize {
    let half = (num_buckets / 2) as i64;
    let n = -relative_position;
    let mut ret = if n < 0 { half } else { 0 };
    let n = n.abs();
    let max_exact = half / 2;
    if n < max_exact {
        ret += n;
    } else {
        let max_distance = 32.0f32;
        let large = ((n as f32 / max_exact as f32).ln() / (max_distance / max_exact as f32).ln() * (half - max_exact) as f32) as i64;
        ret += (max_exact + large).min(half - 1);
    }
    ret as usize
}

/// Relative positions `k − q` for a length-`len` axis, wrapped as MPP does when `periodic`.
pub fn relative_positions(len: usize, periodic: bool) -> Vec<i64> {
    let thresh = (len / 2) as i64;
    let mut out = Vec::with_capacity(len * len);
    for q in 0..len as i64 {
        for k in 0..len as i64 {
            let mut r = k - q;
            if periodic && thresh > 0 {
                if r < -thresh {
                    r = py_mod(r, thresh);
                } else if r > thresh {
                    r = -py_mod(-r, thresh);
                }
            }
            out.push(r);
        }
    }
    out
}

impl<B: Backend> RelativePositionBias<B> {
    pub fn new(num_buckets: usize, heads: usize, device: &B::Device) -> Self {
        Self { relative_attention_bias: EmbeddingConfig::new(num_buckets, heads).init(device) }
    }

    /// Bias `(1, heads, len, len)` for an axis of length `len`.
    pub fn forward(&self, len: usize, periodic: bool) -> Tensor<B, 4> {
        let table = self.relative_attention_bias.weight.val();
        let [num_buckets, heads] = table.dims();
        let buckets: Vec<i64> =
            relative_positions(len, periodic).into_iter().map(|r| relative_position_bucket(r, num_buckets) as i64).collect();
        let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(buckets, [len * len]), &table.device());
        table.select(0, idx).reshape([len, len, heads]).permute([2, 0, 1]).unsqueeze_dim(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t5_buckets_match_the_reference_formula() {
        // Bidirectional, 32 buckets: 16 per side, 8 exact, log buckets up to distance 32.
        let b = |r| relative_position_bucket(r, 32);
        assert_eq!([b(0), b(-1), b(-7), b(-8), b(-16), b(-31), b(-100)], [0, 1, 7, 8, 12, 15, 15]);
        assert_eq!([b(1), b(7), b(8), b(16), b(100)], [17, 23, 24, 28, 31]);
        // MPP's periodic wrap (len 8, threshold 4): ±5 → ∓3, ±4 kept.
        let rel = relative_positions(8, true);
        assert_eq!(rel[5], -3); // q 0, k 5 → −3
        assert_eq!(rel[8 * 5], 3); // q 5, k 0 → 3
        assert_eq!(rel[4], 4);
        assert_eq!(relative_positions(8, false)[5], 5);
    }
}
