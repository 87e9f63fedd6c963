//! The trivial-statistics baseline (row `stats`): what a probe can read off a clip's one-point,
//! spectral and temporal statistics without any learned representation. An encoder that does not beat
//! it has not shown that it learned more than amplitudes, spectra and decorrelation times.
//!
//! [`StatsEncoder`] is a [`ClipEncoder`] so the baseline runs through exactly the encoders' pipeline
//! (same windows, crop, resolution, noise, cache, probes, `results.json` and per-window predictions).
//! It maps a context clip `(C, T, H, W)` to one token of `C · (8 + K)` features, channel by channel
//! (x = the channel's `(T, H, W)` values, in f64):
//!
//! * moments over T, H, W: mean μ, standard deviation σ (population), skewness `m₃/m₂^1.5` and excess
//!   kurtosis `m₄/m₂² − 3`, with `mₖ` the k-th central moment;
//! * log radially binned power spectrum: per frame the 2-D DFT `F` (unnormalised, as `numpy.fft.fft2`)
//!   and power `|F|² / (H·W)²` (sums to the frame's mean square), averaged over frames; mode
//!   `(ky, kx)` with integer wavenumbers (`fftfreq(n)·n`) goes to bin `round(√(kx² + ky²))`; bins
//!   `1..=K`, `K = min(H, W) / 2`, each the mean power of its modes, reported as `ln(P + 1e-12)`
//!   (bin 0 is μ², already a feature; beyond K the bins are incomplete rings);
//! * temporal autocorrelation at lags L = 1…4: `Σ (x_t − μ)(x_{t+L} − μ) / ((T − L)·H·W·m₂)` over
//!   t < T − L and all pixels.
//!
//! A channel whose variance is below `1e-12` of its mean square (a constant field) has skewness,
//! kurtosis and autocorrelations 0; so has a lag ≥ T. `tests/numpy_stats_features.py` computes the
//! same features with NumPy for the unit test's fixture.

use std::sync::Arc;

use burn::prelude::*;
use physrep_nn::{ClipEncoder, ClipShapeError, Cpu};
use physrep_well::WindowSpec;
use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use crate::error::EvalError;
use crate::report::ProbeReport;
use crate::run::{probe_windows, EncoderHandle, ProbeOptions, ProbeWindows};

/// Temporal autocorrelation lags `1..=LAGS`.
pub const LAGS: usize = 4;
/// Moments per channel (mean, std, skewness, excess kurtosis).
const MOMENTS: usize = 4;
/// Added to the binned power before the logarithm.
const LOG_EPS: f64 = 1e-12;
/// Relative variance below which a channel counts as constant.
const CONSTANT_REL_VAR: f64 = 1e-12;

/// Trivial statistics of clips of one shape `(C, T, H, W)`, as one token per clip.
pub struct StatsEncoder {
    shape: [usize; 4],
    bins: usize,
    fft_w: Arc<dyn Fft<f64>>,
    fft_h: Arc<dyn Fft<f64>>,
}

impl StatsEncoder {
    /// For clips `(C, T, H, W)`; needs C, T ≥ 1 and H, W ≥ 2 (at least one spectral bin).
    pub fn new(clip_shape: [usize; 4]) -> Result<Self, EvalError> {
        let [c, t, h, w] = clip_shape;
        if c == 0 || t == 0 || h < 2 || w < 2 {
            return Err(EvalError::shape("stats baseline clip (C ≥ 1, T ≥ 1, H ≥ 2, W ≥ 2)", "(C, T, H, W)", clip_shape));
        }
        let mut planner = FftPlanner::new();
        Ok(Self { shape: clip_shape, bins: h.min(w) / 2, fft_w: planner.plan_fft_forward(w), fft_h: planner.plan_fft_forward(h) })
    }

    /// Features per channel.
    fn per_channel(&self) -> usize {
        MOMENTS + self.bins + LAGS
    }

    /// The features of one clip (`(C, T, H, W)` row-major), `C · (8 + K)` values, channel-major.
    pub fn features(&self, clip: &[f32]) -> Result<Vec<f64>, EvalError> {
        let [c, t, h, w] = self.shape;
        let n = t * h * w;
        if clip.len() != c * n {
            return Err(EvalError::shape("stats baseline clip", self.shape, clip.len()));
        }
        let mut out = Vec::with_capacity(c * self.per_channel());
        for x in clip.chunks_exact(n) {
            self.channel_features(x, &mut out);
        }
        Ok(out)
    }

    fn channel_features(&self, x: &[f32], out: &mut Vec<f64>) {
        let [_, t, h, w] = self.shape;
        let n = x.len() as f64;
        let mu = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let central = |k: i32| x.iter().map(|&v| (v as f64 - mu).powi(k)).sum::<f64>() / n;
        let (m2, m3, m4) = (central(2), central(3), central(4));
        let mean_square = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / n;
        let varies = m2 > CONSTANT_REL_VAR * mean_square;
        let (skew, kurt) = if varies { (m3 / m2.powf(1.5), m4 / (m2 * m2) - 3.0) } else { (0.0, 0.0) };
        out.extend([mu, m2.sqrt(), skew, kurt]);
        out.extend(self.radial_power(x).into_iter().map(|p| (p + LOG_EPS).ln()));
        let frame = h * w;
        for lag in 1..=LAGS {
            if !varies || lag >= t {
                out.push(0.0);
                continue;
            }
            let s: f64 = (0..(t - lag) * frame).map(|i| (x[i] as f64 - mu) * (x[i + lag * frame] as f64 - mu)).sum();
            out.push(s / (((t - lag) * frame) as f64 * m2));
        }
    }

    /// Mean power per radial bin `1..=K`, averaged over frames.
    fn radial_power(&self, x: &[f32]) -> Vec<f64> {
        let [_, _, h, w] = self.shape;
        let freq = |i: usize, n: usize| {
            if i < n.div_ceil(2) {
                i as f64
            } else {
                i as f64 - n as f64
            }
        };
        let bin_of: Vec<usize> = (0..h * w).map(|i| (freq(i / w, h).hypot(freq(i % w, w))).round() as usize).collect();
        let mut sums = vec![0.0f64; self.bins + 1];
        let mut counts = vec![0usize; self.bins + 1];
        let mut col = vec![Complex::default(); h];
        let norm = ((h * w) as f64).powi(2);
        for f in x.chunks_exact(h * w) {
            let mut buf: Vec<Complex<f64>> = f.iter().map(|&v| Complex::new(v as f64, 0.0)).collect();
            for row in buf.chunks_exact_mut(w) {
                self.fft_w.process(row);
            }
            for j in 0..w {
                for (i, c) in col.iter_mut().enumerate() {
                    *c = buf[i * w + j];
                }
                self.fft_h.process(&mut col);
                for (i, c) in col.iter().enumerate() {
                    let b = bin_of[i * w + j];
                    if b <= self.bins {
                        sums[b] += c.norm_sqr() / norm;
                        counts[b] += 1;
                    }
                }
            }
        }
        // Counts run over frames too: the quotient is the mean over frames and the bin's modes.
        (1..=self.bins).map(|b| sums[b] / counts[b] as f64).collect()
    }
}

impl ClipEncoder<Cpu> for StatsEncoder {
    fn token_dim(&self) -> usize {
        self.shape[0] * self.per_channel()
    }

    /// `(B, C, T, H, W)` → `(B, 1, token_dim)`; a clip of another `(C, T, H, W)` is an error.
    fn encode_tokens(&self, clips: Tensor<Cpu, 5>) -> Result<Tensor<Cpu, 3>, ClipShapeError> {
        let dims = clips.dims();
        let [b, c, t, h, w] = dims;
        if [c, t, h, w] != self.shape {
            let [ec, et, eh, ew] = self.shape;
            return Err(ClipShapeError::new(dims, format!("the statistics are set up for clips (B, {ec}, {et}, {eh}, {ew})")));
        }
        let device = clips.device();
        let data = clips.into_data().to_vec::<f32>().map_err(|e| ClipShapeError::new(dims, format!("{e:?}")))?;
        let feats = data
            .par_chunks_exact(c * t * h * w)
            .map(|clip| self.features(clip))
            .collect::<Result<Vec<Vec<f64>>, _>>()
            .map_err(|e| ClipShapeError::new(dims, e))?;
        let flat: Vec<f32> = feats.into_iter().flatten().map(|v| v as f32).collect();
        Ok(Tensor::from_data(TensorData::new(flat, [b, 1, self.token_dim()]), &device))
    }
}

/// Run the probes of `opts` on the trivial statistics of `opts.data_dir`'s windows, writing
/// `results.json`, `results.md`, per-window predictions and plots into `opts.out_dir` (required).
///
/// The windows match an encoder's: with `opts.run_dir` set, that run's context frames and resolution
/// (`opts.resolution` and `frames` still override); otherwise `frames` (default the paper's 16) at
/// `opts.resolution` (default the native grid after the crop).
pub fn stats_run(opts: &ProbeOptions, frames: Option<usize>) -> Result<ProbeReport, EvalError> {
    if opts.out_dir.is_none() {
        return Err(EvalError::Config("the stats baseline needs an output directory (`out_dir`, `--out`)".into()));
    }
    let (run_frames, resolution) = if opts.run_dir.as_os_str().is_empty() {
        (None, None)
    } else {
        let info = physrep_train::encoder_info(&opts.run_dir).map_err(|e| EvalError::Config(format!("{}: {e}", opts.run_dir.display())))?;
        (Some(info.frames), Some([info.resolution, info.resolution]))
    };
    let frames = frames.or(run_frames).unwrap_or(WindowSpec::paper("").context);
    let windows = ProbeWindows::new(opts, frames, resolution)?;
    let encoder = StatsEncoder::new(crate::extract::ClipSource::clip_shape(&windows.sources.valid))?;
    let handle = EncoderHandle {
        id: format!("trivial-statistics:v1:lags{LAGS}"),
        description: "trivial statistics (per-channel moments, radial power spectrum, lag-1–4 autocorrelation)".into(),
        encoder: Box::new(encoder),
        frames,
        resolution,
    };
    probe_windows(opts, &handle, &windows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture of `tests/numpy_stats_features.py`: (C, T, H, W) = (2, 6, 4, 6), dyadic values.
    fn fixture() -> Vec<f32> {
        let mut x = Vec::new();
        for c in 0..2i64 {
            for t in 0..6i64 {
                for h in 0..4i64 {
                    for w in 0..6i64 {
                        let a = (37 * c + 11 * t + 7 * h + 3 * w).pow(2) % 17;
                        x.push(((a - 8) as f64 / 4.0 + ((t * h + w) % 3) as f64 / 2.0) as f32);
                    }
                }
            }
        }
        x
    }

    /// Printed by `python3 tests/numpy_stats_features.py` (NumPy 2.4): per channel mean, std, skewness,
    /// excess kurtosis, ln power of bins 1..=2, autocorrelation at lags 1..=4.
    const NUMPY: [f64; 20] = [
        0.5017361111111112,
        1.5116723308700897,
        0.02466761182297381,
        -1.3119174964919302,
        -2.9906993868654217,
        -1.9575374937460253,
        0.050856086915805246,
        0.08666651718175213,
        0.3851843742539493,
        -0.40182732118196834,
        0.4930555555555556,
        1.4571258228376323,
        0.016261719409071413,
        -1.2126807275553086,
        -3.1510772426263824,
        -2.001865073047745,
        0.08945646989347447,
        0.11337361164739818,
        0.39941399595702637,
        -0.2801689872123925,
    ];

    #[test]
    fn features_match_numpy() {
        let enc = StatsEncoder::new([2, 6, 4, 6]).unwrap();
        assert_eq!(enc.token_dim(), 20);
        let f = enc.features(&fixture()).unwrap();
        for (i, (got, want)) in f.iter().zip(NUMPY).enumerate() {
            assert!((got - want).abs() <= 1e-10 * want.abs().max(1.0), "feature {i}: {got} vs NumPy {want}");
        }
        // Through the encoder interface: two clips → (2, 1, 20), same numbers in f32.
        let mut two = fixture();
        two.extend(fixture());
        let x = Tensor::<Cpu, 5>::from_data(TensorData::new(two, [2, 2, 6, 4, 6]), &Default::default());
        let y = enc.encode_tokens(x).unwrap();
        assert_eq!(y.dims(), [2, 1, 20]);
        let v = y.into_data().to_vec::<f32>().unwrap();
        assert_eq!(v[20..], v[..20]);
        assert!(v[..20].iter().zip(NUMPY).all(|(a, b)| (*a as f64 - b).abs() <= 1e-6 * b.abs().max(1.0)));
    }

    #[test]
    fn constant_channels_and_bad_shapes() {
        let enc = StatsEncoder::new([1, 3, 2, 2]).unwrap();
        let f = enc.features(&[0.1; 12]).unwrap();
        // Mean 0.1, no spread; the only non-zero mode is k = 0, so bin 1 holds ln(1e-12); no lag-3 pairs.
        assert!((f[0] - 0.1).abs() < 1e-7 && f[1] < 1e-7, "{f:?}");
        assert_eq!(f[2..4], [0.0, 0.0]);
        assert!((f[4] - 1e-12f64.ln()).abs() < 1e-6, "{f:?}");
        assert_eq!(f[5..], [0.0; 4]);
        assert!(enc.features(&[0.0; 11]).is_err());
        assert!(StatsEncoder::new([1, 3, 1, 4]).is_err());
        let wrong = Tensor::<Cpu, 5>::zeros([1, 1, 3, 4, 4], &Default::default());
        let err = enc.encode_tokens(wrong).unwrap_err().to_string();
        assert!(err.contains("[1, 1, 3, 4, 4]") && err.contains("(B, 1, 3, 2, 2)"), "{err}");
    }
}
