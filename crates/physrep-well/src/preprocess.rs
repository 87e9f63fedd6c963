//! Preprocessing of a window, as the paper (`docs/paper-protocol.md` §2.3–2.6): spatial crop given as
//! *fractions of the domain*, optional normalisation from `stats.yaml`, exact bilinear resize
//! (`align_corners = False`, no antialiasing), optional i.i.d. Gaussian input noise.
//!
//! Order: crop (at read time, so only the needed hyperslab is read) → normalise → resize → noise.

use ndarray::{Array4, ArrayView4, ArrayViewMut4};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::WellError;

/// A crop as fractions `[lo, hi)` of the domain along each stored spatial axis (x, y).
/// Index range along an axis of `n` points: `round(lo·n) .. round(hi·n)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Crop {
    pub x: [f64; 2],
    pub y: [f64; 2],
}

impl Crop {
    /// The whole domain.
    pub const FULL: Crop = Crop { x: [0.0, 1.0], y: [0.0, 1.0] };

    /// The paper's crop of a dataset ([`crate::Protocol::crop`]): shear_flow all x and the first half of
    /// y (256×512 → 256×256); rayleigh_benard (and `_uniform`) the middle quarter of x; every other
    /// dataset (active_matter included) the full domain.
    pub fn paper(dataset_name: &str) -> Self {
        crate::Protocol::of_name(dataset_name).crop
    }

    /// Index ranges `[x, y]` on a grid of `[nx, ny]` points.
    pub fn ranges(&self, [nx, ny]: [usize; 2]) -> Result<[std::ops::Range<usize>; 2], WellError> {
        let axis = |f: [f64; 2], n: usize, name: &str| {
            let ok = (0.0..=1.0).contains(&f[0]) && (0.0..=1.0).contains(&f[1]) && f[0] < f[1];
            let (lo, hi) = ((f[0] * n as f64).round() as usize, (f[1] * n as f64).round() as usize);
            if !ok || hi <= lo {
                return Err(WellError::Invalid { what: format!("crop along {name} {f:?} of {n} points is empty or outside [0, 1]") });
            }
            Ok(lo..hi)
        };
        Ok([axis(self.x, nx, "x")?, axis(self.y, ny, "y")?])
    }
}

/// Field normalisation from `stats.yaml` (per core field, broadcast over components), as The Well:
/// z-score `(x − mean) / max(std, 1e-4)`, RMS `x / max(rms, 1e-4)`. The paper uses none (the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Normalization {
    #[default]
    None,
    ZScore,
    Rms,
}

/// Everything applied to a window after it is located.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    pub crop: Crop,
    /// Output `[H, W]` of the bilinear resize; `None` (or equal to the cropped size) skips it.
    pub resize: Option<[usize; 2]>,
    /// σ of the i.i.d. N(0, σ²) noise added to every element of context and target (0 = none).
    pub noise_std: f32,
    pub normalization: Normalization,
}

impl Default for Preprocess {
    /// Full domain, no resize, no noise, no normalisation.
    fn default() -> Self {
        Self { crop: Crop::FULL, resize: None, noise_std: 0.0, normalization: Normalization::None }
    }
}

impl Preprocess {
    /// The paper's preprocessing for `dataset_name` ([`Crop::paper`], no normalisation) with the given
    /// resize (224×224 in the paper) and noise σ (AM 1.0, SF 1.0, RB 0 in the paper).
    pub fn paper(dataset_name: &str, resize: Option<[usize; 2]>, noise_std: f32) -> Self {
        Self { crop: Crop::paper(dataset_name), resize, noise_std, normalization: Normalization::None }
    }
}

/// Source indices and weights of a 1-D bilinear resize from `n_in` to `n_out` points
/// (`src = max(0, (d + ½)·n_in/n_out − ½)`, `i1 = min(i0 + 1, n_in − 1)`), computed in float32 exactly as
/// PyTorch's CPU kernel does (scale `n_in/n_out` rounded to f32 first), so outputs match it to rounding.
fn resize_taps(n_in: usize, n_out: usize) -> Vec<(usize, usize, f32)> {
    let scale = n_in as f32 / n_out as f32;
    (0..n_out)
        .map(|d| {
            let src = (scale * (d as f32 + 0.5) - 0.5).max(0.0);
            let i0 = (src.floor() as usize).min(n_in - 1);
            let i1 = (i0 + 1).min(n_in - 1);
            (i0, i1, (src - i0 as f32).clamp(0.0, 1.0))
        })
        .collect()
}

/// Bilinear resize of every `(c, t)` image of `x: (C, T, H, W)` to `(C, T, oh, ow)`, exactly as
/// `torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=False)`.
pub fn resize_bilinear(x: ArrayView4<f32>, [oh, ow]: [usize; 2]) -> Array4<f32> {
    let (c, t, h, w) = x.dim();
    let th = resize_taps(h, oh);
    let tw = resize_taps(w, ow);
    let mut out = Array4::<f32>::zeros((c, t, oh, ow));
    let mut rows = vec![0f32; h * ow];
    for ci in 0..c {
        for ti in 0..t {
            let img = x.slice(ndarray::s![ci, ti, .., ..]);
            // Along W.
            for r in 0..h {
                let src = img.row(r);
                let dst = &mut rows[r * ow..(r + 1) * ow];
                for (d, &(i0, i1, wt)) in dst.iter_mut().zip(&tw) {
                    *d = (1.0 - wt) * src[i0] + wt * src[i1];
                }
            }
            // Along H.
            let mut o = out.slice_mut(ndarray::s![ci, ti, .., ..]);
            for (r, &(i0, i1, wt)) in th.iter().enumerate() {
                let (a, b) = (&rows[i0 * ow..(i0 + 1) * ow], &rows[i1 * ow..(i1 + 1) * ow]);
                for (j, v) in o.row_mut(r).iter_mut().enumerate() {
                    *v = (1.0 - wt) * a[j] + wt * b[j];
                }
            }
        }
    }
    out
}

/// Adds i.i.d. N(0, σ²) noise to every element of each array in turn, from one ChaCha8 stream seeded
/// with `seed` (so context and target get independent draws).
pub fn add_noise(arrays: &mut [ArrayViewMut4<f32>], std: f32, seed: u64) {
    if std == 0.0 {
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for a in arrays.iter_mut() {
        for v in a.iter_mut() {
            let z: f32 = StandardNormal.sample(&mut rng);
            *v += std * z;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array4;

    #[test]
    fn crop_fractions_match_the_paper_indices() {
        let [x, y] = Crop::paper("shear_flow").ranges([256, 512]).unwrap();
        assert_eq!((x, y), (0..256, 0..256));
        let [x, y] = Crop::paper("rayleigh_benard").ranges([512, 128]).unwrap();
        assert_eq!((x, y), (192..320, 0..128));
        // Reduced resolution keeps the same physical region.
        let [x, _] = Crop::paper("rayleigh_benard").ranges([128, 32]).unwrap();
        assert_eq!(x, 48..80);
        assert!(Crop { x: [0.5, 0.5], y: [0.0, 1.0] }.ranges([8, 8]).is_err());
    }

    #[test]
    fn resize_is_identity_on_equal_sizes_and_exact_on_linear_ramps() {
        let x = Array4::from_shape_fn((2, 3, 5, 7), |(c, t, i, j)| (c * 100 + t * 10) as f32 + i as f32 * 0.5 - j as f32);
        assert_eq!(resize_bilinear(x.view(), [5, 7]), x);
        // Upsampling a linear ramp by 2: interior outputs lie on the ramp at src = (d + ½)/2 − ½.
        let r = Array4::from_shape_fn((1, 1, 4, 4), |(_, _, i, j)| (i + 10 * j) as f32);
        let o = resize_bilinear(r.view(), [8, 8]);
        for d in 0..8 {
            let src = ((d as f64 + 0.5) / 2.0 - 0.5).clamp(0.0, 3.0);
            assert!((o[[0, 0, d, 0]] as f64 - src).abs() < 1e-6);
            assert!((o[[0, 0, 0, d]] as f64 - 10.0 * src).abs() < 1e-5);
        }
    }

    #[test]
    fn resize_matches_hand_computed_torch_values() {
        // torch.nn.functional.interpolate(torch.arange(16.).view(1,1,4,4), size=(3,3),
        // mode="bilinear", align_corners=False): src = (d+½)·4/3 − ½ = 1/6, 3/2, 17/6.
        let r = Array4::from_shape_fn((1, 1, 4, 4), |(_, _, i, j)| (4 * i + j) as f32);
        let o = resize_bilinear(r.view(), [3, 3]);
        let s = [1.0 / 6.0, 1.5, 17.0 / 6.0];
        for a in 0..3 {
            for b in 0..3 {
                assert!((o[[0, 0, a, b]] as f64 - (4.0 * s[a] + s[b])).abs() < 1e-5, "{a},{b}");
            }
        }
    }

    /// Expected values from PyTorch 2.15 (`F.interpolate(x, size, mode="bilinear",
    /// align_corners=False, antialias=False)`, float32) on `x[i, j] = ((7i + 3j) mod 11) / 4`.
    /// (On randn inputs at the paper's shapes 256→224 and 128→224 the max difference was 4.8e-7.)
    #[test]
    fn resize_matches_pytorch() {
        type Case<'a> = ((usize, usize), (usize, usize), &'a [f32]);
        let cases: [Case; 2] = [
            (
                (5, 7),
                (3, 4),
                &[
                    0.864_583_3,
                    1.260_416_7,
                    0.96875,
                    1.135_416_6,
                    1.03125,
                    2.0,
                    0.90625,
                    2.21875,
                    1.770_833_4,
                    0.677_083_5,
                    1.187_499_8,
                    1.239_583_3,
                ],
            ),
            (
                (3, 4),
                (5, 6),
                &[
                    0.0,
                    0.375,
                    0.87500006,
                    1.375,
                    1.875,
                    2.25,
                    0.700_000_05,
                    1.075,
                    1.391_666_7,
                    1.1583333,
                    1.4749999,
                    1.8499999,
                    1.75,
                    2.125,
                    2.166_666_5,
                    0.833_333_25,
                    0.875,
                    1.25,
                    1.149_999_9,
                    1.524_999_9,
                    1.841_666_6,
                    1.608_333_5,
                    1.100_000_1,
                    0.649_999_86,
                    0.75,
                    1.125,
                    1.625,
                    2.125,
                    1.25,
                    0.25,
                ],
            ),
        ];
        for ((h, w), (oh, ow), want) in cases {
            let x = Array4::from_shape_fn((1, 1, h, w), |(_, _, i, j)| ((i * 7 + j * 3) % 11) as f32 / 4.0);
            let y = resize_bilinear(x.view(), [oh, ow]);
            for (a, b) in y.iter().zip(want) {
                assert!((a - b).abs() <= 1e-6, "{h}x{w} -> {oh}x{ow}: {a} vs torch {b}");
            }
        }
    }

    #[test]
    fn noise_is_seeded_and_has_the_requested_std() {
        let mut a = Array4::<f32>::zeros((2, 4, 32, 32));
        let mut b = Array4::<f32>::zeros((2, 4, 32, 32));
        add_noise(&mut [a.view_mut(), b.view_mut()], 0.5, 7);
        let mut a2 = Array4::<f32>::zeros((2, 4, 32, 32));
        let mut b2 = Array4::<f32>::zeros((2, 4, 32, 32));
        add_noise(&mut [a2.view_mut(), b2.view_mut()], 0.5, 7);
        assert_eq!(a, a2);
        assert_ne!(a, b);
        let n = a.len() as f64;
        let mean = a.iter().map(|&v| v as f64).sum::<f64>() / n;
        let std = (a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(mean.abs() < 0.02 && (std - 0.5).abs() < 0.02, "mean {mean} std {std}");
    }
}
