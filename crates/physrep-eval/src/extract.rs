//! Embedding extraction: run a frozen [`ClipEncoder`] over every window of a split.
//!
//! The data side is abstracted by [`ClipSource`] (a list of windows that can be read as context clips
//! `(C, T, H, W)` with their labels, under a given noise draw), so extraction and caching are tested
//! without files and work with any encoder (JEPA, VideoMAE, MPP, DISCO). Rows are read in parallel
//! (rayon), encoded in batches, and stored exactly (no padding rows).

use burn::prelude::*;
use physrep_nn::{ClipEncoder, Cpu};
use rayon::prelude::*;

use crate::error::EvalError;
use crate::features::{CacheKey, FeatureCache, Features};

/// One clip and its labels.
pub struct Clip {
    /// Context frames `(C, T, H, W)` row-major.
    pub data: Vec<f32>,
    /// z-scored labels `(P,)`.
    pub labels: Vec<f32>,
}

/// A fixed list of windows of one split that can be read as clips.
pub trait ClipSource: Sync {
    /// Number of windows (rows).
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// `(C, T, H, W)` of every clip.
    fn clip_shape(&self) -> [usize; 4];
    /// Number of label columns P.
    fn label_dim(&self) -> usize;
    /// Read window `i` under noise draw `draw` (the source derives a per-window seed from it;
    /// without noise every draw is identical).
    fn read(&self, i: usize, draw: usize) -> Result<Clip, EvalError>;
    /// Everything that determines the clips of `draw`: dataset, file list, windows, preprocessing,
    /// noise σ and seed, draw index. The encoder's identity is added by the caller.
    fn cache_key(&self, draw: usize) -> CacheKey;
}

/// Encode every window of `src` under `draw`, `batch` clips at a time.
pub fn extract(
    encoder: &dyn ClipEncoder<Cpu>,
    src: &dyn ClipSource,
    draw: usize,
    batch: usize,
    progress: bool,
) -> Result<Features, EvalError> {
    let n = src.len();
    if n == 0 {
        return Err(EvalError::Data("no windows to embed".into()));
    }
    if batch == 0 {
        return Err(EvalError::Config("extraction batch must be ≥ 1".into()));
    }
    let [c, t, h, w] = src.clip_shape();
    let p = src.label_dim();
    let device = Default::default();
    let bar = physrep_core::Progress::new(n as u64, "embedding", "windows", progress);
    let mut tokens = Vec::new();
    let mut labels = Vec::with_capacity(n * p);
    let mut token_shape: Option<(usize, usize)> = None;
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(batch) {
        let (data, y) = read_batch(src, chunk, draw)?;
        labels.extend(y);
        let x = Tensor::<Cpu, 5>::from_data(TensorData::new(data, [chunk.len(), c, t, h, w]), &device);
        let y = encoder
            .encode_tokens(x)
            .map_err(|e| EvalError::Config(format!("{e} (a probe's --resolution must be one the encoder takes)")))?;
        let [b, nt, d] = y.dims();
        if b != chunk.len() || d != encoder.token_dim() || token_shape.is_some_and(|s| s != (nt, d)) {
            return Err(EvalError::shape("encoder tokens", (chunk.len(), token_shape, encoder.token_dim()), (b, nt, d)));
        }
        token_shape = Some((nt, d));
        let v = y.into_data().to_vec::<f32>().map_err(|e| EvalError::Data(format!("encoder output: {e:?}")))?;
        if v.iter().any(|x| !x.is_finite()) {
            return Err(EvalError::NonFinite(format!("encoder tokens of windows {}..={}", chunk[0], chunk[chunk.len() - 1])));
        }
        tokens.extend(v);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let (nt, d) = token_shape.expect("n > 0");
    Features::new(tokens, labels, [n, nt, d], p)
}

/// Windows `idx` of `src` under noise draw `draw`, read in parallel (rayon) and stacked in `idx` order:
/// clips `(len(idx), C, T, H, W)` and labels `(len(idx), P)`, both row-major. A clip or label vector
/// of the wrong length is a shape error naming the window.
pub fn read_batch(src: &dyn ClipSource, idx: &[usize], draw: usize) -> Result<(Vec<f32>, Vec<f32>), EvalError> {
    let clip_len: usize = src.clip_shape().iter().product();
    let p = src.label_dim();
    let clips: Vec<Clip> = idx.par_iter().map(|&i| src.read(i, draw)).collect::<Result<_, _>>()?;
    let mut data = Vec::with_capacity(idx.len() * clip_len);
    let mut labels = Vec::with_capacity(idx.len() * p);
    for (k, clip) in clips.iter().enumerate() {
        if clip.data.len() != clip_len || clip.labels.len() != p {
            return Err(EvalError::shape(format!("clip of window {}", idx[k]), (clip_len, p), (clip.data.len(), clip.labels.len())));
        }
        data.extend_from_slice(&clip.data);
        labels.extend_from_slice(&clip.labels);
    }
    Ok((data, labels))
}

/// [`extract`] through `cache`: the key is the source's key for `draw` plus `encoder_id`
/// (e.g. the checkpoint's SHA-256).
pub fn extract_cached(
    cache: &FeatureCache,
    encoder_id: &str,
    encoder: &dyn ClipEncoder<Cpu>,
    src: &dyn ClipSource,
    draw: usize,
    batch: usize,
    progress: bool,
) -> Result<Features, EvalError> {
    let key = src.cache_key(draw).with("encoder", encoder_id);
    cache.get_or_compute(&key, || extract(encoder, src, draw, batch, progress))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Tokens = per-frame spatial means of channel 0 (T tokens of width C).
    struct MeanEncoder;
    impl ClipEncoder<Cpu> for MeanEncoder {
        fn token_dim(&self) -> usize {
            2
        }
        fn encode_tokens(&self, clips: Tensor<Cpu, 5>) -> Result<Tensor<Cpu, 3>, physrep_nn::ClipShapeError> {
            let [b, c, t, h, w] = clips.dims();
            Ok(clips.reshape([b, c, t, h * w]).mean_dim(3).reshape([b, c, t]).swap_dims(1, 2))
        }
    }

    struct Toy {
        n: usize,
        sigma: f32,
        reads: AtomicUsize,
    }
    impl ClipSource for Toy {
        fn len(&self) -> usize {
            self.n
        }
        fn clip_shape(&self) -> [usize; 4] {
            [2, 3, 2, 2]
        }
        fn label_dim(&self) -> usize {
            1
        }
        fn read(&self, i: usize, draw: usize) -> Result<Clip, EvalError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let noise = self.sigma * (draw as f32 + 1.0);
            Ok(Clip { data: (0..24).map(|k| i as f32 + k as f32 * 0.1 + noise).collect(), labels: vec![i as f32] })
        }
        fn cache_key(&self, draw: usize) -> CacheKey {
            CacheKey::default().with("toy_n", self.n).with("noise_std", self.sigma).with("draw", draw)
        }
    }

    #[test]
    fn extracts_every_row_in_order_and_caches() {
        let src = Toy { n: 5, sigma: 0.0, reads: AtomicUsize::new(0) };
        let f = extract(&MeanEncoder, &src, 0, 2, false).unwrap();
        assert_eq!((f.len(), f.tokens_per_row(), f.dim(), f.label_dim()), (5, 3, 2, 1));
        assert_eq!(f.row_labels(3), &[3.0]);
        // Window 3, frame 1, channel 0 = mean of 3 + 0.1·k for k = 4..8 → 3 + 0.55.
        assert!((f.row_tokens(3)[2] - 3.55).abs() < 1e-5);

        let dir = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(dir.path());
        let src = Toy { n: 5, sigma: 1.0, reads: AtomicUsize::new(0) };
        let a = extract_cached(&cache, "ckpt-a", &MeanEncoder, &src, 0, 4, false).unwrap();
        assert_eq!(src.reads.load(Ordering::SeqCst), 5);
        let b = extract_cached(&cache, "ckpt-a", &MeanEncoder, &src, 0, 4, false).unwrap();
        assert_eq!(a, b);
        assert_eq!(src.reads.load(Ordering::SeqCst), 5, "second call hits the cache");
        // Another checkpoint, another draw or another σ recomputes.
        let c = extract_cached(&cache, "ckpt-b", &MeanEncoder, &src, 0, 4, false).unwrap();
        assert_eq!(src.reads.load(Ordering::SeqCst), 10);
        assert_eq!(a, c);
        let d = extract_cached(&cache, "ckpt-a", &MeanEncoder, &src, 1, 4, false).unwrap();
        assert_eq!(src.reads.load(Ordering::SeqCst), 15);
        assert_ne!(a, d);
        let src2 = Toy { n: 5, sigma: 0.5, reads: AtomicUsize::new(0) };
        let e = extract_cached(&cache, "ckpt-a", &MeanEncoder, &src2, 0, 4, false).unwrap();
        assert_eq!(src2.reads.load(Ordering::SeqCst), 5);
        assert_ne!(a, e);
    }
}
