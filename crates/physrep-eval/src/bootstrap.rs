//! Confidence intervals of a split's mean MSE by a cluster bootstrap.
//!
//! Windows cut from one trajectory overlap in time and share their initial condition, so they are
//! not independent samples: resampling windows would understate the uncertainty. The bootstrap here
//! resamples whole clusters (trajectories) with replacement, recomputes the mean squared error over
//! every window of the drawn clusters (averaged over label columns, as [`crate::metrics::mse`]), and
//! reports the 2.5 % and 97.5 % percentiles of the resampled means.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::EvalError;

/// Default number of bootstrap resamples.
pub const RESAMPLES: usize = 1000;

/// The 95 % percentile interval `[lo, hi]` of the mean MSE of `pred` against `truth` (row-major
/// `(n, p)`), resampling the clusters named by `groups` (one id per row; any integers) `resamples`
/// times with a seeded RNG.
pub fn cluster_ci95(pred: &[f32], truth: &[f32], p: usize, groups: &[usize], resamples: usize, seed: u64) -> Result<[f64; 2], EvalError> {
    if p == 0 || pred.len() != truth.len() || !pred.len().is_multiple_of(p) || groups.len() * p != pred.len() {
        return Err(EvalError::Data(format!(
            "bootstrap: predictions ({}), truth ({}) and groups ({}) disagree for {p} label columns",
            pred.len(),
            truth.len(),
            groups.len()
        )));
    }
    if groups.is_empty() || resamples == 0 {
        return Err(EvalError::Data("bootstrap: need at least one row and one resample".into()));
    }
    // Per cluster: (sum of squared errors over its rows and columns, number of rows).
    let mut ids: Vec<usize> = groups.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut sums = vec![(0.0f64, 0usize); ids.len()];
    for (row, g) in groups.iter().enumerate() {
        let k = ids.binary_search(g).expect("id collected above");
        let se: f64 = (0..p).map(|j| (pred[row * p + j] as f64 - truth[row * p + j] as f64).powi(2)).sum();
        sums[k].0 += se;
        sums[k].1 += 1;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            let (mut se, mut rows) = (0.0, 0usize);
            for _ in 0..sums.len() {
                let (s, n) = sums[rng.random_range(0..sums.len())];
                se += s;
                rows += n;
            }
            se / (rows * p) as f64
        })
        .collect();
    Ok(percentile_interval95(&mut means))
}

/// The 2.5 % and 97.5 % percentiles of `values` (sorted in place; nearest rank `round(q·(n−1))`).
/// `values` must not be empty.
pub(crate) fn percentile_interval95(values: &mut [f64]) -> [f64; 2] {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let at = |q: f64| values[((q * (n - 1) as f64).round() as usize).min(n - 1)];
    [at(0.025), at(0.975)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_clusters_give_a_degenerate_interval_at_the_mse() {
        // Every cluster has the same errors: any resample has the same mean.
        let truth = vec![0.0f32; 12];
        let pred: Vec<f32> = (0..12).map(|i| if i % 2 == 0 { 1.0 } else { 3.0 }).collect();
        let groups: Vec<usize> = (0..6).map(|r| r / 2).collect();
        let [lo, hi] = cluster_ci95(&pred, &truth, 2, &groups, 200, 1).unwrap();
        assert_eq!((lo, hi), (5.0, 5.0));
    }

    #[test]
    fn interval_matches_the_normal_approximation_for_many_iid_clusters() {
        // 400 clusters of one row, errors e_i ~ U(-1, 1) with a seeded RNG: the squared errors have mean
        // 1/3 and variance 4/45, so the mean's 95 % interval is 1/3 ± 1.96·sqrt(4/45/400).
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 400;
        let pred: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let truth = vec![0.0f32; n];
        let groups: Vec<usize> = (0..n).collect();
        let [lo, hi] = cluster_ci95(&pred, &truth, 1, &groups, 2000, 3).unwrap();
        let mean = pred.iter().map(|e| (*e as f64).powi(2)).sum::<f64>() / n as f64;
        let half = 1.96 * (4.0 / 45.0 / n as f64).sqrt();
        assert!(lo < mean && mean < hi, "{lo} < {mean} < {hi}");
        assert!(((hi - lo) / 2.0 - half).abs() < 0.2 * half, "half width {} vs {half}", (hi - lo) / 2.0);
    }

    #[test]
    fn clustering_widens_the_interval_of_correlated_rows() {
        // 20 clusters of 10 identical rows each: as informative as 20 rows, not 200.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let per: Vec<f32> = (0..20).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let pred: Vec<f32> = per.iter().flat_map(|&e| std::iter::repeat_n(e, 10)).collect();
        let truth = vec![0.0f32; pred.len()];
        let clustered: Vec<usize> = (0..pred.len()).map(|r| r / 10).collect();
        let rows: Vec<usize> = (0..pred.len()).collect();
        let [a, b] = cluster_ci95(&pred, &truth, 1, &clustered, 1000, 5).unwrap();
        let [c, d] = cluster_ci95(&pred, &truth, 1, &rows, 1000, 5).unwrap();
        assert!((b - a) > 2.0 * (d - c), "clustered width {} vs row width {}", b - a, d - c);
    }

    #[test]
    fn seeded_and_checked() {
        let pred = [0.5f32, 1.5, -0.5, 2.0];
        let truth = [0.0f32; 4];
        let g = [0, 1, 2, 3];
        assert_eq!(cluster_ci95(&pred, &truth, 1, &g, 100, 9).unwrap(), cluster_ci95(&pred, &truth, 1, &g, 100, 9).unwrap());
        assert!(cluster_ci95(&pred, &truth, 1, &g[..3], 100, 9).is_err());
        assert!(cluster_ci95(&pred, &truth, 0, &g, 100, 9).is_err());
        assert!(cluster_ci95(&[], &[], 1, &[], 100, 9).is_err());
    }
}
