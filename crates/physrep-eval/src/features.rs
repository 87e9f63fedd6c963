//! Frozen-encoder features of one split and their on-disk cache.
//!
//! A [`Features`] holds tokens `(N, T, D)` and z-scored labels `(N, P)`; row `i` is window `i` of the
//! split. The cache stores exactly the rows written (no padding, unlike the paper's code, D9) as a
//! safetensors file named by the SHA-256 of a [`CacheKey`]; the full key is stored in the file's
//! metadata and checked on load, so a changed setting never reuses a stale cache.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::EvalError;

/// Tokens `(n, t, d)` and labels `(n, p)`, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    tokens: Vec<f32>,
    labels: Vec<f32>,
    n: usize,
    t: usize,
    d: usize,
    p: usize,
}

impl Features {
    /// Wrap buffers; fails unless `tokens.len() == n·t·d` and `labels.len() == n·p`, or on NaN/Inf.
    pub fn new(tokens: Vec<f32>, labels: Vec<f32>, [n, t, d]: [usize; 3], p: usize) -> Result<Self, EvalError> {
        if tokens.len() != n * t * d {
            return Err(EvalError::shape("feature tokens", [n, t, d], tokens.len()));
        }
        if labels.len() != n * p {
            return Err(EvalError::shape("feature labels", [n, p], labels.len()));
        }
        if let Some(i) = tokens.iter().position(|x| !x.is_finite()) {
            return Err(EvalError::NonFinite(format!("feature tokens (row {})", i / (t * d).max(1))));
        }
        if let Some(i) = labels.iter().position(|x| !x.is_finite()) {
            return Err(EvalError::NonFinite(format!("labels (row {})", i / p.max(1))));
        }
        Ok(Self { tokens, labels, n, t, d, p })
    }

    /// Number of rows (windows).
    pub fn len(&self) -> usize {
        self.n
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    /// Tokens per row.
    pub fn tokens_per_row(&self) -> usize {
        self.t
    }
    /// Token width.
    pub fn dim(&self) -> usize {
        self.d
    }
    /// Label columns.
    pub fn label_dim(&self) -> usize {
        self.p
    }
    /// All tokens, row-major `(n, t, d)`.
    pub fn tokens(&self) -> &[f32] {
        &self.tokens
    }
    /// All labels, row-major `(n, p)`.
    pub fn labels(&self) -> &[f32] {
        &self.labels
    }
    /// Tokens of row `i`, `(t, d)`.
    pub fn row_tokens(&self, i: usize) -> &[f32] {
        let s = self.t * self.d;
        &self.tokens[i * s..(i + 1) * s]
    }
    /// Labels of row `i`.
    pub fn row_labels(&self, i: usize) -> &[f32] {
        &self.labels[i * self.p..(i + 1) * self.p]
    }

    /// The rows `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Features {
        let mut tokens = Vec::with_capacity(idx.len() * self.t * self.d);
        let mut labels = Vec::with_capacity(idx.len() * self.p);
        for &i in idx {
            tokens.extend_from_slice(self.row_tokens(i));
            labels.extend_from_slice(self.row_labels(i));
        }
        Features { tokens, labels, n: idx.len(), t: self.t, d: self.d, p: self.p }
    }

    /// Rows of several feature sets stacked (same t, d, p).
    pub fn concat(parts: &[Features]) -> Result<Features, EvalError> {
        let first = parts.first().ok_or_else(|| EvalError::Data("no feature sets to concatenate".into()))?;
        let mut tokens = Vec::new();
        let mut labels = Vec::new();
        let mut n = 0;
        for f in parts {
            if (f.t, f.d, f.p) != (first.t, first.d, first.p) {
                return Err(EvalError::shape("concatenated features", (first.t, first.d, first.p), (f.t, f.d, f.p)));
            }
            tokens.extend_from_slice(&f.tokens);
            labels.extend_from_slice(&f.labels);
            n += f.n;
        }
        Ok(Features { tokens, labels, n, t: first.t, d: first.d, p: first.p })
    }

    /// Mean over tokens: `(n, d)` row-major, accumulated in f64.
    pub fn pooled(&self) -> Vec<f64> {
        let mut out = vec![0.0f64; self.n * self.d];
        for i in 0..self.n {
            let row = self.row_tokens(i);
            let o = &mut out[i * self.d..(i + 1) * self.d];
            for tok in 0..self.t {
                for (k, v) in row[tok * self.d..(tok + 1) * self.d].iter().enumerate() {
                    o[k] += *v as f64;
                }
            }
            for v in o.iter_mut() {
                *v /= self.t as f64;
            }
        }
        out
    }
}

/// Everything that determines a feature set. Serialised canonically (sorted keys) and hashed.
///
/// Conventional entries: `encoder` (SHA-256 of the checkpoint file, or a random-init description),
/// `dataset` (directory and file list with sizes), `split`, `windows` (window spec and the exact
/// window list hash), `preprocess` (crop, resolution, noise σ), `noise_seed`, `draw`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheKey(pub BTreeMap<String, String>);

impl CacheKey {
    /// Add an entry (builder style).
    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.0.insert(key.to_string(), value.to_string());
        self
    }

    /// Canonical JSON of the key.
    pub fn canonical(&self) -> String {
        serde_json::to_string(&self.0).expect("string map serialises")
    }

    /// Hex SHA-256 of the canonical JSON.
    pub fn hash(&self) -> String {
        sha256_hex(self.canonical().as_bytes())
    }
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of a file's contents (streamed).
pub fn file_sha256(path: &Path) -> Result<String, EvalError> {
    let mut f = std::fs::File::open(path).map_err(EvalError::io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(EvalError::io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A directory of cached feature sets.
#[derive(Clone, Debug)]
pub struct FeatureCache {
    dir: PathBuf,
}

const KEY_META: &str = "physrep.cache_key";

impl FeatureCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Where the features for `key` live.
    pub fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.safetensors", key.hash()))
    }

    /// Load the features stored under `key`, `Ok(None)` if absent. A file whose stored key differs
    /// (or that is malformed) is an error, never silently reused.
    pub fn load(&self, key: &CacheKey) -> Result<Option<Features>, EvalError> {
        let path = self.path(key);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&path).map_err(EvalError::io(&path))?;
        let st_err = |e: safetensors::SafeTensorError| EvalError::Safetensors { path: path.clone(), reason: e.to_string() };
        let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(st_err)?;
        let stored = meta.metadata().as_ref().and_then(|m| m.get(KEY_META)).cloned();
        if stored.as_deref() != Some(key.canonical().as_str()) {
            return Err(EvalError::Cache { path, reason: format!("stored key {stored:?} differs from requested {}", key.canonical()) });
        }
        let st = SafeTensors::deserialize(&bytes).map_err(st_err)?;
        let tokens = st.tensor("tokens").map_err(st_err)?;
        let labels = st.tensor("labels").map_err(st_err)?;
        let (ts, ls) = (tokens.shape().to_vec(), labels.shape().to_vec());
        if ts.len() != 3 || ls.len() != 2 || ls[0] != ts[0] || tokens.dtype() != Dtype::F32 || labels.dtype() != Dtype::F32 {
            return Err(EvalError::Cache { path, reason: format!("tensors tokens {ts:?} / labels {ls:?} are not (N,T,D) / (N,P) f32") });
        }
        let f = Features::new(le_f32(tokens.data()), le_f32(labels.data()), [ts[0], ts[1], ts[2]], ls[1]);
        f.map(Some).map_err(|e| EvalError::Cache { path, reason: e.to_string() })
    }

    /// Store `features` under `key` atomically (temp file in the cache dir, then rename).
    pub fn store(&self, key: &CacheKey, features: &Features) -> Result<PathBuf, EvalError> {
        std::fs::create_dir_all(&self.dir).map_err(EvalError::io(&self.dir))?;
        let path = self.path(key);
        let tok_bytes = f32_le(&features.tokens);
        let lab_bytes = f32_le(&features.labels);
        let st_err = |e: safetensors::SafeTensorError| EvalError::Safetensors { path: path.clone(), reason: e.to_string() };
        let views = vec![
            ("tokens", TensorView::new(Dtype::F32, vec![features.n, features.t, features.d], &tok_bytes).map_err(st_err)?),
            ("labels", TensorView::new(Dtype::F32, vec![features.n, features.p], &lab_bytes).map_err(st_err)?),
        ];
        let meta: HashMap<String, String> = [(KEY_META.to_string(), key.canonical())].into();
        let bytes = safetensors::serialize(views, &Some(meta)).map_err(st_err)?;
        physrep_core::write_atomic(&path, &bytes)?;
        Ok(path)
    }

    /// Load `key`, or compute, store and return it.
    pub fn get_or_compute(&self, key: &CacheKey, compute: impl FnOnce() -> Result<Features, EvalError>) -> Result<Features, EvalError> {
        if let Some(f) = self.load(key)? {
            return Ok(f);
        }
        let f = compute()?;
        self.store(key, &f)?;
        Ok(f)
    }
}

fn f32_le(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn le_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize, seed: f32) -> Features {
        let tokens = (0..n * 3 * 2).map(|i| i as f32 * 0.5 + seed).collect();
        let labels = (0..n * 2).map(|i| -(i as f32) + seed).collect();
        Features::new(tokens, labels, [n, 3, 2], 2).unwrap()
    }

    #[test]
    fn shape_and_nan_checks() {
        assert!(Features::new(vec![0.0; 5], vec![0.0; 2], [1, 3, 2], 2).is_err());
        assert!(Features::new(vec![0.0; 6], vec![0.0; 3], [1, 3, 2], 2).is_err());
        let err = Features::new(vec![0.0, f32::NAN, 0.0, 0.0, 0.0, 0.0], vec![0.0; 2], [1, 3, 2], 2).unwrap_err();
        assert!(err.to_string().contains("non-finite"));
    }

    #[test]
    fn pooled_and_select() {
        let f = toy(2, 0.0);
        // row 0 tokens: [0,.5],[1,1.5],[2,2.5] → mean [1, 1.5]
        assert_eq!(&f.pooled()[..2], &[1.0, 1.5]);
        let s = f.select(&[1, 0]);
        assert_eq!(s.row_tokens(0), f.row_tokens(1));
        assert_eq!(s.row_labels(1), f.row_labels(0));
    }

    #[test]
    fn cache_round_trip_and_key_sensitivity() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(dir.path());
        let key = CacheKey::default().with("encoder", "abc").with("noise_std", 1.0).with("draw", 0);
        assert!(cache.load(&key).unwrap().is_none());
        let f = toy(5, 0.25);
        cache.store(&key, &f).unwrap();
        assert_eq!(cache.load(&key).unwrap().unwrap(), f);
        // A different σ, checkpoint or draw is a different key: no stale reuse.
        for k in [key.clone().with("noise_std", 0.5), key.clone().with("encoder", "abd"), key.clone().with("draw", 1)] {
            assert_ne!(k.hash(), key.hash());
            assert!(cache.load(&k).unwrap().is_none());
        }
        // Exactly the rows written: 5 rows, no padding.
        let bytes = std::fs::read(cache.path(&key)).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("tokens").unwrap().shape(), &[5, 3, 2]);
        // A file whose stored key does not match is refused.
        let other = key.clone().with("split", "valid");
        std::fs::copy(cache.path(&key), cache.path(&other)).unwrap();
        assert!(matches!(cache.load(&other), Err(EvalError::Cache { .. })));
        // get_or_compute computes once.
        let mut calls = 0;
        let k2 = key.clone().with("draw", 7);
        for _ in 0..2 {
            let g = cache
                .get_or_compute(&k2, || {
                    calls += 1;
                    Ok(toy(3, 1.0))
                })
                .unwrap();
            assert_eq!(g, toy(3, 1.0));
        }
        assert_eq!(calls, 1);
    }
}
