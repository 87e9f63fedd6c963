//! VICReg over token rows, exactly as the paper's `vicreg_loss_3d` (docs/paper-protocol.md §7).
//!
//! `pred` and `target` are `(B, C, h, w)` maps; each `(b, h, w)` position is one row of C
//! features (N = B·h·w rows, in that order). One permutation π of the N rows is applied to both,
//! the rows are split into consecutive chunks of ⌈N/k⌉ (the last one shorter, as `torch.chunk`, so
//! a small N can give fewer than k chunks), and for each chunk of n rows:
//!
//! ```text
//! repr   = mean over n×C of (X − Y)²
//! std_x  = ½ · mean_c relu(1 − sqrt(biased var_c(X) + eps))          (std_y likewise)
//! cov_x  = Σ_{i≠j} K_ij² / C,  K = Xcᵀ Xc / max(1, n − 1)              (cov_y likewise)
//! loss   = sim·repr + std·(std_x + std_y) + cov·(cov_x + cov_y)
//! ```
//!
//! Every term is then averaged over the chunks. Defaults: sim 2, std 40, cov 2, 5 chunks, eps 1e-4.
//!
//! # Rows per chunk (the statistics guard)
//!
//! The std and covariance terms are statistics of a chunk of n rows, and centring leaves a chunk's
//! covariance K a rank of at most n − 1. With n − 1 < C, K cannot be a diagonal matrix with every
//! variance at 1: its trace is ≥ C while its rank is ≤ n − 1, so ‖K‖²_F ≥ C² / (n − 1) and the
//! off-diagonal part keeps at least C(C − n + 1)/(n − 1) — the std hinge and the covariance penalty
//! fight, whatever the encoder learns. Even for n − 1 ≥ C the penalty is biased: for independent
//! features of variance σ² its expectation is (C − 1) σ⁴ / (n − 1), not 0. A run therefore needs
//! every chunk to hold more rows than the embedding has dimensions, n ≥ C + 1, where
//! N = micro_batch × tokens per sample (JEPA: (resolution / reduction)²) and n is the smallest
//! [`chunk_sizes`]`(N, chunks)`. [`VicregConfig::check_rows`] refuses other configs (the JEPA method
//! calls it when the config is validated) unless `allow_rank_deficient = true`, which stays recorded
//! in the run's resolved config. The paper's 224² JEPA has N = 8 × 14² = 1568 rows per micro-batch
//! and 5 chunks of ≥ 312 rows for C = 128; the `tiny` preset at 32² (micro 2, 2×2 tokens, C = 16)
//! has chunks of 2 rows.

use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// VICReg coefficients; `Default` is the paper's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VicregConfig {
    pub sim_coeff: f64,
    pub std_coeff: f64,
    pub cov_coeff: f64,
    /// Requested number of row chunks (`torch.chunk` semantics).
    pub chunks: usize,
    pub eps: f64,
    /// Accept chunks of no more rows than embedding dimensions (rank-deficient covariance, see the
    /// module docs); `false` (the default) makes [`VicregConfig::check_rows`] refuse them.
    pub allow_rank_deficient: bool,
}

impl Default for VicregConfig {
    fn default() -> Self {
        Self { sim_coeff: 2.0, std_coeff: 40.0, cov_coeff: 2.0, chunks: 5, eps: 1e-4, allow_rank_deficient: false }
    }
}

impl VicregConfig {
    /// Check that every chunk of `rows` rows (`rows` = micro-batch × tokens per sample, which `what`
    /// spells out for the message) holds more rows than the `dims` embedding dimensions; `Ok` also when
    /// `allow_rank_deficient` is set. The error explains the rule and the ways out.
    pub fn check_rows(&self, rows: usize, dims: usize, what: &str) -> Result<(), String> {
        let smallest = chunk_sizes(rows, self.chunks).into_iter().min().unwrap_or(0);
        if self.allow_rank_deficient || smallest > dims {
            return Ok(());
        }
        Err(format!(
            "VICReg's covariance needs more rows per chunk than embedding dimensions, but {rows} rows ({what}) \
             in method.vicreg.chunks = {} give chunks of as few as {smallest} rows for {dims} dimensions (rank ≤ {}): \
             the covariance penalty cannot reach 0 and is biased. Raise train.micro_batch or lower \
             method.vicreg.chunks so that every chunk has ≥ {} rows, or set method.vicreg.allow_rank_deficient=true \
             to train anyway",
            self.chunks,
            smallest.saturating_sub(1),
            dims + 1
        ))
    }
}

/// The loss and every logged term, each a scalar tensor of shape `[1]` averaged over chunks.
#[derive(Clone, Debug)]
pub struct VicregTerms<B: Backend> {
    pub loss: Tensor<B, 1>,
    pub repr_loss: Tensor<B, 1>,
    pub std_loss: Tensor<B, 1>,
    pub cov_loss: Tensor<B, 1>,
    pub std_loss_x: Tensor<B, 1>,
    pub std_loss_y: Tensor<B, 1>,
    pub cov_loss_x: Tensor<B, 1>,
    pub cov_loss_y: Tensor<B, 1>,
}

impl<B: Backend> VicregTerms<B> {
    /// The logged sub-terms (everything except `loss`) as `(name, value)`.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let all = [
            ("repr_loss", &self.repr_loss),
            ("std_loss", &self.std_loss),
            ("cov_loss", &self.cov_loss),
            ("std_loss_x", &self.std_loss_x),
            ("std_loss_y", &self.std_loss_y),
            ("cov_loss_x", &self.cov_loss_x),
            ("cov_loss_y", &self.cov_loss_y),
        ];
        let values = Tensor::cat(all.iter().map(|(_, t)| (*t).clone()).collect(), 0).into_data().convert::<f64>();
        let values = values.to_vec::<f64>().expect("f64 data");
        all.iter().zip(values).map(|((n, _), v)| (n.to_string(), v)).collect()
    }
}

/// `(B, C, h, w)` → rows `(B·h·w, C)` in `(b, h, w)` order.
pub fn token_rows<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 2> {
    let [b, c, h, w] = x.dims();
    x.permute([0, 2, 3, 1]).reshape([b * h * w, c])
}

/// A uniformly random permutation of `0..n` from `seed` (ChaCha8, Fisher–Yates).
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut p: Vec<usize> = (0..n).collect();
    p.shuffle(&mut rng);
    p
}

/// `torch.chunk(n, k)` sizes: chunks of ⌈n/k⌉, the last one shorter, empty chunks dropped.
pub fn chunk_sizes(n: usize, k: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let size = n.div_ceil(k.max(1));
    let mut sizes = Vec::new();
    let mut start = 0;
    while start < n {
        sizes.push(size.min(n - start));
        start += size;
    }
    sizes
}

/// VICReg of `pred` vs `target` (`(B, C, h, w)` each) with the row permutation drawn from `seed`.
pub fn vicreg<B: Backend>(pred: Tensor<B, 4>, target: Tensor<B, 4>, seed: u64, cfg: &VicregConfig) -> VicregTerms<B> {
    let [b, _, h, w] = pred.dims();
    vicreg_with_permutation(pred, target, &permutation(b * h * w, seed), cfg)
}

/// VICReg with an explicit row permutation `perm` (a permutation of `0..B·h·w`).
///
/// # Panics
/// If the shapes differ or `perm` is not a permutation of the rows.
pub fn vicreg_with_permutation<B: Backend>(pred: Tensor<B, 4>, target: Tensor<B, 4>, perm: &[usize], cfg: &VicregConfig) -> VicregTerms<B> {
    assert_eq!(pred.dims(), target.dims(), "vicreg: pred and target shapes differ");
    vicreg_rows(token_rows(pred), token_rows(target), perm, cfg)
}

/// VICReg on rows `x`, `y` of shape `(N, C)`; see the module docs.
pub fn vicreg_rows<B: Backend>(x: Tensor<B, 2>, y: Tensor<B, 2>, perm: &[usize], cfg: &VicregConfig) -> VicregTerms<B> {
    let [n, c] = x.dims();
    assert_eq!([n, c], y.dims(), "vicreg: x and y shapes differ");
    let mut seen = vec![false; n];
    assert!(
        perm.len() == n && perm.iter().all(|&i| i < n && !std::mem::replace(&mut seen[i], true)),
        "vicreg: perm must be a permutation of 0..{n}"
    );
    let device = x.device();
    let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(perm.iter().map(|&i| i as i64).collect::<Vec<_>>(), [n]), &device);
    let x = x.select(0, idx.clone());
    let y = y.select(0, idx);
    let offdiag = Tensor::<B, 2>::ones([c, c], &device) - Tensor::<B, 2>::eye(c, &device);

    let sizes = chunk_sizes(n, cfg.chunks);
    let k = sizes.len() as f64;
    let mut terms: Option<[Tensor<B, 1>; 5]> = None; // repr, std_x, std_y, cov_x, cov_y
    let mut start = 0;
    for size in sizes {
        let xs = x.clone().narrow(0, start, size);
        let ys = y.clone().narrow(0, start, size);
        start += size;
        let repr = (xs.clone() - ys.clone()).square().mean();
        let (std_x, cov_x) = std_cov(xs, &offdiag, cfg.eps);
        let (std_y, cov_y) = std_cov(ys, &offdiag, cfg.eps);
        let chunk = [repr, std_x, std_y, cov_x, cov_y];
        terms = Some(match terms {
            None => chunk,
            Some(acc) => {
                let mut it = chunk.into_iter();
                acc.map(|a| a + it.next().expect("five terms"))
            }
        });
    }
    let [repr, std_x, std_y, cov_x, cov_y] = terms.expect("vicreg: no rows").map(|t| t / k);
    let std_loss = std_x.clone() + std_y.clone();
    let cov_loss = cov_x.clone() + cov_y.clone();
    let loss = repr.clone() * cfg.sim_coeff + std_loss.clone() * cfg.std_coeff + cov_loss.clone() * cfg.cov_coeff;
    VicregTerms { loss, repr_loss: repr, std_loss, cov_loss, std_loss_x: std_x, std_loss_y: std_y, cov_loss_x: cov_x, cov_loss_y: cov_y }
}

/// The std hinge (halved) and the off-diagonal covariance penalty of one chunk `(n, C)`.
fn std_cov<B: Backend>(x: Tensor<B, 2>, offdiag: &Tensor<B, 2>, eps: f64) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let [n, c] = x.dims();
    let xc = x.clone() - x.mean_dim(0);
    let std = (xc.clone().square().mean_dim(0) + eps).sqrt();
    let std_loss = relu(std.neg() + 1.0).mean() / 2.0;
    let cov = xc.clone().transpose().matmul(xc) / (n.max(2) - 1) as f64;
    let cov_loss = (cov.square() * offdiag.clone()).sum() / c as f64;
    (std_loss, cov_loss)
}
