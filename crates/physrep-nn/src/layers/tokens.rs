//! Token helpers: Linear layers over token rows, tubelet patchify, the fixed sinusoidal position
//! table, and channels-first maps to token sequences.
//!
//! Shapes: tokens `(B, N, D)`; clips `(B, C, T, H, W)`; channels-first maps `(B, D, h, w)`.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::TensorData;

/// A Linear layer over tokens `(B, N, d_in)` → `(B, N, d_out)`, applied as one 2-D matmul over the
/// `B·N` rows (burn's rank-3 `linear` broadcasts the weight per batch and sums per-batch weight
/// gradients, which is several times slower on the CPU backend).
pub fn linear_rows<B: Backend>(linear: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [b, n, d] = x.dims();
    let y = linear.forward(x.reshape([b * n, d]));
    let d_out = y.dims()[1];
    y.reshape([b, n, d_out])
}

/// Cut a clip `(B, C, T, H, W)` into tubelets `(B, N, tubelet, p, p, C)` flattened per token as
/// `(B, N, tubelet·p²·C)` when `channel_last`, else `(B, N, C·tubelet·p²)` (Conv3d's weight order);
/// tokens in `(t, h, w)` row-major order, `N = (T/tubelet)·(H/p)·(W/p)`.
pub fn patchify<B: Backend>(x: Tensor<B, 5>, tubelet: usize, p: usize, channel_last: bool) -> Tensor<B, 3> {
    let [b, c, t, h, w] = x.dims();
    let (t2, hp, wp) = (t / tubelet, h / p, w / p);
    let x: Tensor<B, 8> = x.reshape([b, c, t2, tubelet, hp, p, wp, p]);
    let x = if channel_last { x.permute([0, 2, 4, 6, 3, 5, 7, 1]) } else { x.permute([0, 2, 4, 6, 1, 3, 5, 7]) };
    x.reshape([b, t2 * hp * wp, c * tubelet * p * p])
}

/// The fixed sinusoidal table of VideoMAE's `get_sinusoid_encoding_table`, `(1, n, d)`: entry `(pos, j)`
/// is `sin` (even j) or `cos` (odd j) of `pos / 10000^(2⌊j/2⌋/d)`, computed in f64 then cast to f32.
pub fn sinusoid_table<B: Backend>(n: usize, d: usize, device: &B::Device) -> Tensor<B, 3> {
    let mut values = Vec::with_capacity(n * d);
    for pos in 0..n {
        for j in 0..d {
            let angle = pos as f64 / 10000f64.powf((2 * (j / 2)) as f64 / d as f64);
            let v = if j % 2 == 0 { angle.sin() } else { angle.cos() };
            values.push(v as f32);
        }
    }
    Tensor::from_data(TensorData::new(values, [1, n, d]), device)
}

/// A channels-first map `(B, D, h, w)` as tokens `(B, h·w, D)`, row-major over `(h, w)`.
pub fn grid_to_tokens<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 3> {
    let [b, d, h, w] = x.dims();
    x.reshape([b, d, h * w]).swap_dims(1, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cpu;

    #[test]
    fn sinusoid_table_matches_formula() {
        let t = sinusoid_table::<Cpu>(5, 6, &Default::default()).into_data().to_vec::<f32>().unwrap();
        // pos 3, j = 3: cos(3 / 10000^(2/6)).
        let expected = (3.0f64 / 10000f64.powf(2.0 / 6.0)).cos() as f32;
        assert!((t[3 * 6 + 3] - expected).abs() < 1e-7);
        assert_eq!(t[0], 0.0);
        assert_eq!(t[1], 1.0);
    }
}
