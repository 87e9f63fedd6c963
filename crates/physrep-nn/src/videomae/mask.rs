//! VideoMAE's token masks: which tokens of each sample the encoder sees ([`TokenMask`]), drawn by
//! tube masking ([`TubeMaskGenerator`]: one random spatial mask per sample, the same for every
//! temporal slice), and the gather of a mask's tokens.
//!
//! Shapes: tokens `(B, N, D)` → visible `(B, N_vis, D)` or masked `(B, N_mask, D)`; token index
//! `i = t·N_spatial + s` in `(t, h, w)` row-major order.

use burn::prelude::*;
use burn::tensor::{Int, TensorData};
use rand::seq::SliceRandom;
use rand::Rng;

use super::VideoMaeConfig;
use crate::NnError;

/// Which tokens of each sample the encoder sees. Every sample has the same number of visible tokens;
/// indices are sorted ascending (VideoMAE's boolean-mask indexing keeps token order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenMask {
    n_tokens: usize,
    visible: Vec<Vec<usize>>,
    masked: Vec<Vec<usize>>,
}

impl TokenMask {
    /// From per-sample flags over all `N` tokens (`true` = masked, as VideoMAE's `bool_masked_pos`).
    pub fn from_masked_flags(flags: &[Vec<bool>]) -> Result<Self, NnError> {
        let Some(first) = flags.first() else {
            return Err(NnError::Mask("no samples".into()));
        };
        let n_tokens = first.len();
        let mut visible = Vec::with_capacity(flags.len());
        let mut masked = Vec::with_capacity(flags.len());
        for (b, row) in flags.iter().enumerate() {
            if row.len() != n_tokens {
                return Err(NnError::Mask(format!("sample {b} has {} flags, sample 0 has {n_tokens}", row.len())));
            }
            let vis: Vec<usize> = (0..n_tokens).filter(|&i| !row[i]).collect();
            let msk: Vec<usize> = (0..n_tokens).filter(|&i| row[i]).collect();
            if b > 0 && vis.len() != visible.first().map_or(0, |v: &Vec<usize>| v.len()) {
                return Err(NnError::Mask(format!("sample {b} has {} visible tokens, sample 0 has {}", vis.len(), visible[0].len())));
            }
            visible.push(vis);
            masked.push(msk);
        }
        if visible[0].is_empty() || masked[0].is_empty() {
            return Err(NnError::Mask(format!(
                "{} visible and {} masked tokens: both must be positive",
                visible[0].len(),
                masked[0].len()
            )));
        }
        Ok(Self { n_tokens, visible, masked })
    }

    /// Number of samples.
    pub fn batch(&self) -> usize {
        self.visible.len()
    }
    /// Tokens per sample `N`.
    pub fn n_tokens(&self) -> usize {
        self.n_tokens
    }
    /// Sorted visible token indices of each sample.
    pub fn visible(&self) -> &[Vec<usize>] {
        &self.visible
    }
    /// Sorted masked token indices of each sample.
    pub fn masked(&self) -> &[Vec<usize>] {
        &self.masked
    }

    fn index_tensor<B: Backend>(rows: &[Vec<usize>], width: usize, device: &B::Device) -> Tensor<B, 3, Int> {
        let (b, k) = (rows.len(), rows[0].len());
        let mut data = Vec::with_capacity(b * k * width);
        for row in rows {
            for &i in row {
                data.extend(std::iter::repeat_n(i as i64, width));
            }
        }
        Tensor::from_data(TensorData::new(data, [b, k, width]), device)
    }
}

/// Gather tokens `(B, N, D)` → `(B, K, D)` at per-sample indices.
pub(super) fn gather_tokens<B: Backend>(x: Tensor<B, 3>, rows: &[Vec<usize>]) -> Tensor<B, 3> {
    let [_, _, d] = x.dims();
    let idx = TokenMask::index_tensor::<B>(rows, d, &x.device());
    x.gather(1, idx)
}

/// VideoMAE's tube masking: one random spatial mask per sample, the same for every temporal slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TubeMaskGenerator {
    /// Temporal slices `T / tubelet`.
    pub slices: usize,
    /// Spatial tokens per slice.
    pub spatial: usize,
    /// Masked spatial tokens per slice.
    pub masked_per_slice: usize,
}

impl TubeMaskGenerator {
    /// The generator for a model config (`masked_per_slice` = `int(ratio · N_spatial)`).
    pub fn new(config: &VideoMaeConfig) -> Self {
        Self { slices: config.temporal_slices(), spatial: config.spatial_tokens(), masked_per_slice: config.masked_per_slice() }
    }

    /// Draw one mask per sample: shuffle the spatial flags (Fisher–Yates), tile them over the slices.
    pub fn sample<R: Rng>(&self, batch: usize, rng: &mut R) -> Result<TokenMask, NnError> {
        let mut flags = Vec::with_capacity(batch);
        for _ in 0..batch {
            let mut spatial: Vec<bool> = (0..self.spatial).map(|i| i >= self.spatial - self.masked_per_slice).collect();
            spatial.shuffle(rng);
            let mut row = Vec::with_capacity(self.slices * self.spatial);
            for _ in 0..self.slices {
                row.extend_from_slice(&spatial);
            }
            flags.push(row);
        }
        TokenMask::from_masked_flags(&flags)
    }
}

pub(super) fn check_mask(mask: &TokenMask, batch: usize, n_tokens: usize) -> Result<(), NnError> {
    if mask.batch() != batch || mask.n_tokens() != n_tokens {
        return Err(NnError::Mask(format!(
            "mask is for {} samples × {} tokens; the clip batch has {batch} samples × {n_tokens} tokens",
            mask.batch(),
            mask.n_tokens()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn tube_mask_same_spatial_mask_every_slice_and_exact_count() {
        let config = VideoMaeConfig { img_size: 64, ..VideoMaeConfig::vit_small(4) };
        let gen = TubeMaskGenerator::new(&config);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mask = gen.sample(5, &mut rng).unwrap();
        let (slices, spatial) = (config.temporal_slices(), config.spatial_tokens());
        for b in 0..5 {
            let vis = &mask.visible()[b];
            assert_eq!(vis.len(), slices * 2, "16 spatial tokens, 14 masked, 2 visible per slice");
            assert_eq!(mask.masked()[b].len(), slices * 14);
            let first: Vec<usize> = vis.iter().filter(|&&i| i < spatial).copied().collect();
            for t in 0..slices {
                let slice: Vec<usize> = vis.iter().filter(|&&i| i / spatial == t).map(|&i| i % spatial).collect();
                assert_eq!(slice, first, "sample {b} slice {t}");
            }
        }
        // Different samples get different masks (with overwhelming probability for 5 draws of C(16,2)).
        assert!(mask.visible().iter().any(|v| v != &mask.visible()[0]));
    }
}
