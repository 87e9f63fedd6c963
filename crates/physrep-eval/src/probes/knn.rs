//! kNN probe: average label of the k nearest training rows (squared Euclidean distance on
//! standardised mean-pooled tokens). Ties in distance are broken by the lower training index, so
//! results are deterministic. k is chosen on valid from a grid (ties → the smaller k).

use rayon::prelude::*;

use super::ridge::pooled_design;
use super::{check_fit_inputs, standardise, standardiser, FitReport, Probe};
use crate::error::EvalError;
use crate::features::Features;

/// k-nearest-neighbour regression.
#[derive(Clone, Debug)]
pub struct KnnProbe {
    /// Candidate k values (those larger than the training set are skipped).
    pub ks: Vec<usize>,
    state: Option<KnnState>,
}

#[derive(Clone, Debug)]
struct KnnState {
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// Standardised training features `(n, d)`.
    x: Vec<f64>,
    /// Training labels `(n, p)`.
    y: Vec<f64>,
    p: usize,
    k: usize,
}

impl Default for KnnProbe {
    fn default() -> Self {
        Self { ks: vec![1, 3, 5, 10, 20, 50], state: None }
    }
}

impl KnnProbe {
    pub fn new(ks: Vec<usize>) -> Self {
        Self { ks, state: None }
    }

    /// The k in use after fitting.
    pub fn k(&self) -> Option<usize> {
        self.state.as_ref().map(|s| s.k)
    }
}

/// Indices of the `k` nearest rows of `x` (`(n, d)`) to `q`, nearest first, ties by index.
fn nearest(x: &[f64], d: usize, q: &[f64], k: usize) -> Vec<usize> {
    let mut dist: Vec<(f64, usize)> =
        x.chunks_exact(d).enumerate().map(|(i, r)| (r.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum::<f64>(), i)).collect();
    let cmp = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    if k < dist.len() {
        dist.select_nth_unstable_by(k, cmp);
        dist.truncate(k);
    }
    dist.sort_unstable_by(cmp);
    dist.into_iter().map(|(_, i)| i).collect()
}

/// Predictions for every k in `ks` from one neighbour list: prefix means of the labels.
fn prefix_predictions(neigh: &[usize], y: &[f64], p: usize, ks: &[usize]) -> Vec<Vec<f32>> {
    let mut sums = vec![0.0; p];
    let mut out = Vec::with_capacity(ks.len());
    let mut taken = 0;
    for &k in ks {
        while taken < k {
            let r = neigh[taken];
            for j in 0..p {
                sums[j] += y[r * p + j];
            }
            taken += 1;
        }
        out.push(sums.iter().map(|s| (s / k as f64) as f32).collect());
    }
    out
}

impl KnnProbe {
    fn standardised(&self, s: &KnnState, x: &Features) -> Vec<f64> {
        let mut z = x.pooled();
        standardise(&mut z, &s.mean, &s.scale);
        z
    }
}

impl Probe for KnnProbe {
    fn name(&self) -> &str {
        "knn"
    }

    fn fit(&mut self, train: &[Features], valid: &Features) -> Result<FitReport, EvalError> {
        check_fit_inputs(train, valid)?;
        let (d, p) = (train[0].dim(), train[0].label_dim());
        let (mut x, y) = pooled_design(train);
        let n = x.len() / d;
        let mut ks: Vec<usize> = self.ks.iter().copied().filter(|&k| k >= 1 && k <= n).collect();
        ks.sort_unstable();
        ks.dedup();
        if ks.is_empty() {
            return Err(EvalError::Config(format!("no k in {:?} fits a training set of {n} rows", self.ks)));
        }
        let (mean, scale) = standardiser(&x, d);
        standardise(&mut x, &mean, &scale);
        let mut state = KnnState { mean, scale, x, y, p, k: ks[0] };
        let zv = self.standardised(&state, valid);
        let kmax = *ks.last().expect("non-empty");
        let per_row: Vec<Vec<Vec<f32>>> =
            zv.par_chunks_exact(d).map(|q| prefix_predictions(&nearest(&state.x, d, q, kmax), &state.y, p, &ks)).collect();
        let mut curve = Vec::with_capacity(ks.len());
        for ki in 0..ks.len() {
            let pred: Vec<f32> = per_row.iter().flat_map(|r| r[ki].iter().copied()).collect();
            curve.push(crate::metrics::mse(&pred, valid.labels(), p)?.mean);
        }
        let best = (0..ks.len()).min_by(|&a, &b| curve[a].total_cmp(&curve[b]).then(a.cmp(&b))).expect("non-empty");
        state.k = ks[best];
        self.state = Some(state);
        Ok(FitReport { hyper: [("k".to_string(), ks[best] as f64)].into(), train_loss: vec![], valid_curve: curve })
    }

    fn predict(&self, x: &Features) -> Result<Vec<f32>, EvalError> {
        let s = self.state.as_ref().ok_or_else(|| EvalError::Config("knn probe used before fit".into()))?;
        let d = s.mean.len();
        if x.dim() != d {
            return Err(EvalError::shape("token dim", d, x.dim()));
        }
        let z = self.standardised(s, x);
        let rows: Vec<Vec<f32>> =
            z.par_chunks_exact(d).map(|q| prefix_predictions(&nearest(&s.x, d, q, s.k), &s.y, s.p, &[s.k]).remove(0)).collect();
        Ok(rows.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_features(rng: &mut ChaCha8Rng, n: usize) -> Features {
        let (t, d, p) = (3, 4, 2);
        let tokens = (0..n * t * d).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let labels = (0..n * p).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        Features::new(tokens, labels, [n, t, d], p).unwrap()
    }

    /// Naive kNN: full sort of all distances for every query.
    fn naive(train: &Features, q: &Features, k: usize) -> Vec<f32> {
        let d = train.dim();
        let p = train.label_dim();
        let xt = train.pooled();
        let (mean, scale) = standardiser(&xt, d);
        let z = |v: &[f64]| -> Vec<f64> { v.iter().enumerate().map(|(i, a)| (a - mean[i % d]) / scale[i % d]).collect() };
        let (zt, zq) = (z(&xt), z(&q.pooled()));
        let mut out = Vec::new();
        for qi in zq.chunks(d) {
            let mut all: Vec<(f64, usize)> =
                zt.chunks(d).enumerate().map(|(i, r)| (r.iter().zip(qi).map(|(a, b)| (a - b).powi(2)).sum(), i)).collect();
            all.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
            for j in 0..p {
                let s: f64 = all[..k].iter().map(|(_, i)| train.row_labels(*i)[j] as f64).sum();
                out.push((s / k as f64) as f32);
            }
        }
        out
    }

    #[test]
    fn knn_matches_naive_for_each_k() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let train = random_features(&mut rng, 60);
        let valid = random_features(&mut rng, 15);
        let test = random_features(&mut rng, 10);
        for k in [1, 4, 60] {
            let mut probe = KnnProbe::new(vec![k]);
            probe.fit(std::slice::from_ref(&train), &valid).unwrap();
            let got = probe.predict(&test).unwrap();
            let want = naive(&train, &test, k);
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-6, "k={k}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn selection_picks_the_best_k_on_valid() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let train = random_features(&mut rng, 50);
        let valid = random_features(&mut rng, 20);
        let mut probe = KnnProbe::new(vec![1, 2, 5, 25, 1000]);
        let rep = probe.fit(std::slice::from_ref(&train), &valid).unwrap();
        assert_eq!(rep.valid_curve.len(), 4, "k = 1000 > n is skipped");
        let naive_scores: Vec<f64> =
            [1, 2, 5, 25].iter().map(|&k| crate::metrics::mse(&naive(&train, &valid, k), valid.labels(), 2).unwrap().mean).collect();
        for (a, b) in rep.valid_curve.iter().zip(&naive_scores) {
            assert!((a - b).abs() < 1e-9);
        }
        let best = [1, 2, 5, 25][naive_scores.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).unwrap().0];
        assert_eq!(probe.k(), Some(best));
    }
}
