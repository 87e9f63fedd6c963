//! Is encoder A better than encoder B? The ratio of their test MSEs with a paired, hierarchical
//! bootstrap interval, from the per-window predictions every probe run saves ([`crate::predictions`]).
//!
//! Two sources of uncertainty: the pretraining seed (a different seed gives a different encoder) and
//! the finite test set, whose independent units are parameter points (windows of one point share its
//! label; windows of one trajectory overlap in time). The statistic is
//!
//! ```text
//! ratio = mean over A's seeds of MSE_A(seed) / mean over B's seeds of MSE_B(seed)
//! ```
//!
//! with MSE over every test window and label column (z-scored labels). Each bootstrap replicate draws
//! (in this order, from one seeded ChaCha8 stream, `random_range(0..n)` per draw)
//! 1. A's seeds with replacement (S_A draws); B's are the same draw when both arms ran the same seeds
//!    (seed k of A is paired with seed k of B, e.g. an encoder and its own initialisation), otherwise
//!    an independent draw of B's S_B seeds;
//! 2. the K parameter-point clusters with replacement, **one draw shared by A and B and all seeds**
//!    (paired: both arms are scored on the same resampled test set, so test-set luck common to both
//!    cancels in the ratio);
//!
//! and recomputes the ratio. The interval is the 2.5 / 97.5 % percentiles of the replicates. Both arms
//! must have been scored on identical test windows (same files, trajectories, starts, labels).

use std::fmt::Write as _;
use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::bootstrap::percentile_interval95;
use crate::error::EvalError;
use crate::predictions::{predictions_path, PredictionTable};

/// One arm of a comparison: an encoder's test predictions, one table per pretraining seed.
#[derive(Clone, Debug)]
pub struct ArmPredictions {
    /// Name used in the report (e.g. `jepa`, `jepa-init`, `videomae`, `stats`).
    pub name: String,
    /// `(pretraining seed, test predictions)`.
    pub seeds: Vec<(u64, PredictionTable)>,
}

impl ArmPredictions {
    /// Read the test predictions of `probe` at `fraction` from each `(seed, probe output dir)`.
    pub fn load(name: &str, dirs: &[(u64, PathBuf)], probe: &str, fraction: f64) -> Result<Self, EvalError> {
        let seeds = dirs
            .iter()
            .map(|(seed, dir)| Ok((*seed, PredictionTable::read_csv(&predictions_path(dir, probe, fraction, "test"))?)))
            .collect::<Result<_, EvalError>>()?;
        Ok(Self { name: name.to_string(), seeds })
    }
}

/// Test MSEs and their ratio for one seed both arms ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedRatio {
    pub seed: u64,
    pub mse_a: f64,
    pub mse_b: f64,
    /// `mse_a / mse_b`.
    pub ratio: f64,
}

/// The result of comparing arm `a` with arm `b` (see the module docs for the statistic).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub system: String,
    pub probe: String,
    pub a: String,
    pub b: String,
    /// Mean test MSE of each arm over its seeds.
    pub mse_a: f64,
    pub mse_b: f64,
    /// `mse_a / mse_b`: below 1 means A predicts the parameters better.
    pub ratio: f64,
    /// 95 % paired hierarchical bootstrap interval of `ratio`.
    pub ci95: [f64; 2],
    /// Per-seed ratios for the seeds both arms ran.
    pub per_seed: Vec<SeedRatio>,
    pub seeds_a: Vec<u64>,
    pub seeds_b: Vec<u64>,
    /// Whether seeds were resampled jointly (both arms ran the same seeds).
    pub paired_seeds: bool,
    /// Parameter points (bootstrap clusters) and windows of the test set.
    pub clusters: usize,
    pub windows: usize,
    pub resamples: usize,
}

/// Per seed and cluster: the sum of squared errors over the cluster's windows and label columns.
fn cluster_sse(t: &PredictionTable, cluster_of_row: &[usize], k: usize) -> Vec<f64> {
    let p = t.label_dim();
    let mut sse = vec![0.0; k];
    for (row, &c) in cluster_of_row.iter().enumerate() {
        sse[c] += (row * p..(row + 1) * p).map(|i| (t.pred[i] as f64 - t.truth[i] as f64).powi(2)).sum::<f64>();
    }
    sse
}

/// Mean over the drawn seeds of each seed's MSE over the drawn clusters (`denom` = rows·P drawn).
fn arm_mse(sse: &[Vec<f64>], seeds: &[usize], clusters: &[usize], denom: f64) -> f64 {
    seeds.iter().map(|&s| clusters.iter().map(|&c| sse[s][c]).sum::<f64>() / denom).sum::<f64>() / seeds.len() as f64
}

/// Compare `a` with `b` on their test predictions: ratio of mean MSEs, per-seed ratios and the 95 %
/// paired hierarchical bootstrap interval (`resamples` replicates, RNG seeded with `seed`).
pub fn compare(
    system: &str,
    probe: &str,
    a: &ArmPredictions,
    b: &ArmPredictions,
    resamples: usize,
    seed: u64,
) -> Result<Comparison, EvalError> {
    let what = format!("comparison {} vs {} ({system}, {probe})", a.name, b.name);
    let data = |why: String| EvalError::Data(format!("{what}: {why}"));
    if resamples == 0 {
        return Err(EvalError::Config(format!("{what}: need at least one bootstrap resample")));
    }
    let mut arms = [a.seeds.iter().collect::<Vec<_>>(), b.seeds.iter().collect::<Vec<_>>()];
    for (arm, name) in arms.iter_mut().zip([&a.name, &b.name]) {
        arm.sort_by_key(|(s, _)| *s);
        if arm.is_empty() {
            return Err(data(format!("arm {name} has no seeds")));
        }
        if arm.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(data(format!("arm {name} lists a seed twice")));
        }
    }
    let reference = &arms[0][0].1;
    if reference.windows.is_empty() {
        return Err(data("no test windows".into()));
    }
    for (name, arm) in [(&a.name, &arms[0]), (&b.name, &arms[1])] {
        for (s, t) in arm {
            if t.windows != reference.windows || t.label_names != reference.label_names || t.truth != reference.truth {
                return Err(data(format!(
                    "{name} seed {s} was scored on other test windows or labels than {} seed {}",
                    a.name, arms[0][0].0
                )));
            }
        }
    }
    let mut ids: Vec<usize> = reference.windows.iter().map(|w| w.cluster).collect();
    ids.sort_unstable();
    ids.dedup();
    let cluster_of_row: Vec<usize> = reference.windows.iter().map(|w| ids.binary_search(&w.cluster).expect("collected above")).collect();
    let k = ids.len();
    let mut rows = vec![0usize; k];
    for &c in &cluster_of_row {
        rows[c] += 1;
    }
    let p = reference.label_dim() as f64;
    let [sse_a, sse_b] = arms.each_ref().map(|arm| arm.iter().map(|(_, t)| cluster_sse(t, &cluster_of_row, k)).collect::<Vec<_>>());
    let seeds_a: Vec<u64> = arms[0].iter().map(|(s, _)| *s).collect();
    let seeds_b: Vec<u64> = arms[1].iter().map(|(s, _)| *s).collect();
    let paired_seeds = seeds_a == seeds_b;

    let all_clusters: Vec<usize> = (0..k).collect();
    let full = reference.windows.len() as f64 * p;
    let seed_mse = |sse: &[Vec<f64>], s: usize| arm_mse(sse, &[s], &all_clusters, full);
    let (na, nb) = (sse_a.len(), sse_b.len());
    let mse_a = arm_mse(&sse_a, &(0..na).collect::<Vec<_>>(), &all_clusters, full);
    let mse_b = arm_mse(&sse_b, &(0..nb).collect::<Vec<_>>(), &all_clusters, full);
    // Also refuses a NaN MSE.
    if mse_b.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(data(format!("{} has zero test error, the ratio is undefined", b.name)));
    }
    let per_seed = seeds_a
        .iter()
        .enumerate()
        .filter_map(|(i, s)| seeds_b.iter().position(|x| x == s).map(|j| (i, j, *s)))
        .map(|(i, j, seed)| {
            let (ma, mb) = (seed_mse(&sse_a, i), seed_mse(&sse_b, j));
            SeedRatio { seed, mse_a: ma, mse_b: mb, ratio: ma / mb }
        })
        .collect();

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let draw_a: Vec<usize> = (0..na).map(|_| rng.random_range(0..na)).collect();
        let draw_b: Vec<usize> = if paired_seeds { draw_a.clone() } else { (0..nb).map(|_| rng.random_range(0..nb)).collect() };
        let clusters: Vec<usize> = (0..k).map(|_| rng.random_range(0..k)).collect();
        let denom = clusters.iter().map(|&c| rows[c]).sum::<usize>() as f64 * p;
        let r = arm_mse(&sse_a, &draw_a, &clusters, denom) / arm_mse(&sse_b, &draw_b, &clusters, denom);
        if !r.is_finite() {
            return Err(data(format!("a bootstrap resample gave {} zero test error (ratio {r})", b.name)));
        }
        ratios.push(r);
    }
    Ok(Comparison {
        system: system.to_string(),
        probe: probe.to_string(),
        a: a.name.clone(),
        b: b.name.clone(),
        mse_a,
        mse_b,
        ratio: mse_a / mse_b,
        ci95: percentile_interval95(&mut ratios),
        per_seed,
        seeds_a,
        seeds_b,
        paired_seeds,
        clusters: k,
        windows: reference.windows.len(),
        resamples,
    })
}

impl Comparison {
    /// The finding in words: `jepa: test MSE 31 % below its initialisation (95 % CI 18–42 %)`,
    /// `… 12 % above …`, or `no significant difference` when the interval contains 1; followed by
    /// the ratio and what it rests on. Arm `X-init` is called "its initialisation" next to arm `X`.
    pub fn sentence(&self) -> String {
        let b = if self.b == format!("{}-init", self.a) { "its initialisation".to_string() } else { self.b.clone() };
        let [lo, hi] = self.ci95;
        // Whole percent, or tenths where every number of the sentence is below 2 % (a significant
        // but small difference would otherwise read "0 % (95 % CI 0–0 %)").
        let decimals = usize::from([self.ratio, lo, hi].iter().all(|r| (r - 1.0).abs() < 0.02));
        let pct = |x: f64| format!("{:.*}", decimals, 100.0 * x);
        let mut s = if hi < 1.0 {
            format!("{}: test MSE {} % below {b} (95 % CI {}–{} %)", self.a, pct(1.0 - self.ratio), pct(1.0 - hi), pct(1.0 - lo))
        } else if lo > 1.0 {
            format!("{}: test MSE {} % above {b} (95 % CI {}–{} %)", self.a, pct(self.ratio - 1.0), pct(lo - 1.0), pct(hi - 1.0))
        } else {
            format!("{}: no significant difference from {b}", self.a)
        };
        let seeds = if self.paired_seeds {
            let n = self.seeds_a.len();
            format!("{n} paired seed{}", if n == 1 { "" } else { "s" })
        } else {
            format!("{} vs {} seeds", self.seeds_a.len(), self.seeds_b.len())
        };
        let _ = write!(
            s,
            "; MSE ratio {:.3} [{lo:.3}, {hi:.3}], {} probe, {seeds}, {} parameter points ({} test windows)",
            self.ratio, self.probe, self.clusters, self.windows
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predictions::WindowId;

    /// `k` clusters of `per` windows, two label columns; errors `err(cluster, row)` (same for both
    /// columns' sign pattern), truth a fixed function of the row.
    fn table(k: usize, per: usize, err: impl Fn(usize, usize, usize) -> f32) -> PredictionTable {
        let mut windows = Vec::new();
        let (mut truth, mut pred) = (Vec::new(), Vec::new());
        for c in 0..k {
            for r in 0..per {
                // Windows listed cluster by cluster but with ids out of order, to exercise the mapping.
                windows.push(WindowId { file: format!("p{c}.hdf5"), trajectory: r % 2, t0: r, cluster: (c * 7) % k });
                for j in 0..2 {
                    let t = (c as f32 * 0.25 - 1.0) * if j == 0 { 1.0 } else { -0.5 };
                    truth.push(t);
                    pred.push(t + err(c, r, j));
                }
            }
        }
        PredictionTable::new(vec!["x".into(), "y".into()], windows, truth, pred).unwrap()
    }

    fn noise(seed: u64) -> impl Fn(usize, usize, usize) -> f32 {
        move |c, r, j| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((c * 1000 + r * 10 + j) as u64) << 8);
            rng.random_range(-1.0f32..1.0)
        }
    }

    fn arm(name: &str, tables: Vec<(u64, PredictionTable)>) -> ArmPredictions {
        ArmPredictions { name: name.into(), seeds: tables }
    }

    /// Brute force: the documented draws, replayed from the same stream, with every MSE computed by a
    /// loop over the resampled windows; `paired_clusters = false` draws B's clusters separately.
    fn naive(
        a: &[(u64, PredictionTable)],
        b: &[(u64, PredictionTable)],
        paired_clusters: bool,
        resamples: usize,
        seed: u64,
    ) -> (f64, [f64; 2]) {
        let reference = &a[0].1;
        let mut ids: Vec<usize> = reference.windows.iter().map(|w| w.cluster).collect();
        ids.sort_unstable();
        ids.dedup();
        let k = ids.len();
        let mse = |t: &PredictionTable, clusters: &[usize]| {
            let (mut se, mut n) = (0.0f64, 0usize);
            for &c in clusters {
                for (row, w) in t.windows.iter().enumerate() {
                    if w.cluster == ids[c] {
                        for j in 0..2 {
                            se += (t.pred[row * 2 + j] as f64 - t.truth[row * 2 + j] as f64).powi(2);
                            n += 1;
                        }
                    }
                }
            }
            se / n as f64
        };
        let mean_over = |arm: &[(u64, PredictionTable)], seeds: &[usize], clusters: &[usize]| {
            seeds.iter().map(|&s| mse(&arm[s].1, clusters)).sum::<f64>() / seeds.len() as f64
        };
        let all: Vec<usize> = (0..k).collect();
        let point = mean_over(a, &(0..a.len()).collect::<Vec<_>>(), &all) / mean_over(b, &(0..b.len()).collect::<Vec<_>>(), &all);
        let same_seeds = a.iter().map(|x| x.0).eq(b.iter().map(|x| x.0));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut ratios = Vec::new();
        for _ in 0..resamples {
            let sa: Vec<usize> = (0..a.len()).map(|_| rng.random_range(0..a.len())).collect();
            let sb: Vec<usize> = if same_seeds { sa.clone() } else { (0..b.len()).map(|_| rng.random_range(0..b.len())).collect() };
            let ca: Vec<usize> = (0..k).map(|_| rng.random_range(0..k)).collect();
            let cb: Vec<usize> = if paired_clusters { ca.clone() } else { (0..k).map(|_| rng.random_range(0..k)).collect() };
            ratios.push(mean_over(a, &sa, &ca) / mean_over(b, &sb, &cb));
        }
        ratios.sort_by(f64::total_cmp);
        let at = |q: f64| ratios[(q * (resamples - 1) as f64).round() as usize];
        (point, [at(0.025), at(0.975)])
    }

    fn close(x: f64, y: f64) -> bool {
        (x - y).abs() <= 1e-12 * y.abs().max(1.0)
    }

    #[test]
    fn agrees_with_a_brute_force_bootstrap() {
        let a: Vec<(u64, PredictionTable)> = (0..3).map(|s| (s, table(9, 4, noise(s)))).collect();
        // Paired seeds (same seed set) and unpaired seeds (B ran other seeds).
        for seeds_b in [vec![0u64, 1, 2], vec![5, 7]] {
            let b: Vec<(u64, PredictionTable)> = seeds_b.iter().map(|&s| (s, table(9, 4, noise(100 + s)))).collect();
            let c = compare("sys", "linear", &arm("A", a.clone()), &arm("B", b.clone()), 300, 17).unwrap();
            let (point, [lo, hi]) = naive(&a, &b, true, 300, 17);
            assert!(close(c.ratio, point) && close(c.ci95[0], lo) && close(c.ci95[1], hi), "{c:?} vs {point} [{lo}, {hi}]");
            assert_eq!(c.paired_seeds, seeds_b.len() == 3);
            assert_eq!((c.clusters, c.windows), (9, 36));
            assert_eq!(c.per_seed.len(), if c.paired_seeds { 3 } else { 0 });
        }
    }

    #[test]
    fn known_answers_identical_and_scaled_errors() {
        let tables: Vec<(u64, PredictionTable)> = (0..2).map(|s| (s, table(6, 3, noise(s)))).collect();
        let same = compare("sys", "linear", &arm("A", tables.clone()), &arm("B", tables.clone()), 200, 1).unwrap();
        assert_eq!((same.ratio, same.ci95), (1.0, [1.0, 1.0]));
        // B's errors are exactly twice A's (dyadic scaling is exact in floating point): ratio 1/4.
        let a: Vec<(u64, PredictionTable)> =
            (0..2).map(|s| (s, table(6, 3, move |c, r, j| 0.125 * ((c + r + j + s as usize) % 5) as f32))).collect();
        let b: Vec<(u64, PredictionTable)> =
            (0..2).map(|s| (s, table(6, 3, move |c, r, j| 0.25 * ((c + r + j + s as usize) % 5) as f32))).collect();
        let c = compare("sys", "linear", &arm("A", a), &arm("B", b), 200, 1).unwrap();
        assert_eq!((c.ratio, c.ci95), (0.25, [0.25, 0.25]));
        assert!(c.per_seed.iter().all(|s| s.ratio == 0.25));
        assert!(c.sentence().starts_with("A: test MSE 75 % below B (95 % CI 75–75 %)"), "{}", c.sentence());
    }

    #[test]
    fn pairing_the_clusters_narrows_the_interval() {
        // A large cluster-level error shared by both arms (B's 20 % larger) plus small window noise:
        // test-set luck moves both MSEs together, so the paired ratio is tight and the unpaired one is not.
        let shared = |c: usize| {
            let mut rng = ChaCha8Rng::seed_from_u64(c as u64);
            rng.random_range(-2.0f32..2.0)
        };
        let a: Vec<(u64, PredictionTable)> =
            (0..3).map(|s| (s, table(30, 4, move |c, r, j| shared(c) + 0.1 * noise(s)(c, r, j)))).collect();
        let b: Vec<(u64, PredictionTable)> =
            (0..3).map(|s| (s, table(30, 4, move |c, r, j| 1.2 * shared(c) + 0.1 * noise(50 + s)(c, r, j)))).collect();
        let c = compare("sys", "linear", &arm("A", a.clone()), &arm("B", b.clone()), 400, 3).unwrap();
        let (_, paired) = naive(&a, &b, true, 400, 3);
        let (_, unpaired) = naive(&a, &b, false, 400, 3);
        assert!(close(c.ci95[0], paired[0]) && close(c.ci95[1], paired[1]));
        let width = |ci: [f64; 2]| ci[1] - ci[0];
        assert!(width(paired) < 0.25 * width(unpaired), "paired {paired:?} vs unpaired {unpaired:?}");
        assert!(c.ci95[1] < 1.0, "{c:?}");
        assert!(c.sentence().starts_with("A: test MSE 3"), "{}", c.sentence());
    }

    #[test]
    fn sentences_and_input_checks() {
        let mut c = Comparison {
            system: "rayleigh_benard".into(),
            probe: "linear".into(),
            a: "jepa".into(),
            b: "jepa-init".into(),
            mse_a: 0.69,
            mse_b: 1.0,
            ratio: 0.69,
            ci95: [0.58, 0.82],
            per_seed: vec![],
            seeds_a: vec![0, 1],
            seeds_b: vec![0, 1],
            paired_seeds: true,
            clusters: 36,
            windows: 288,
            resamples: 1000,
        };
        assert!(
            c.sentence().starts_with("jepa: test MSE 31 % below its initialisation (95 % CI 18–42 %); MSE ratio 0.690"),
            "{}",
            c.sentence()
        );
        assert!(c.sentence().ends_with("linear probe, 2 paired seeds, 36 parameter points (288 test windows)"), "{}", c.sentence());
        (c.b, c.ratio, c.ci95) = ("videomae".into(), 1.12, [1.05, 1.2]);
        assert!(c.sentence().starts_with("jepa: test MSE 12 % above videomae (95 % CI 5–20 %)"), "{}", c.sentence());
        let small = Comparison { ratio: 1.004, ci95: [1.002, 1.009], ..c.clone() };
        assert!(small.sentence().starts_with("jepa: test MSE 0.4 % above videomae (95 % CI 0.2–0.9 %)"), "{}", small.sentence());
        c.ci95 = [0.9, 1.3];
        assert!(
            c.sentence().starts_with("jepa: no significant difference from videomae; MSE ratio 1.120 [0.900, 1.300]"),
            "{}",
            c.sentence()
        );

        let t = table(3, 2, noise(0));
        let mut other = t.clone();
        other.windows[1].t0 = 99;
        let err = compare("s", "p", &arm("A", vec![(0, t.clone())]), &arm("B", vec![(0, other)]), 10, 0).unwrap_err();
        assert!(err.to_string().contains("other test windows"), "{err}");
        assert!(compare("s", "p", &arm("A", vec![(0, t.clone()), (0, t.clone())]), &arm("B", vec![(0, t.clone())]), 10, 0).is_err());
        assert!(compare("s", "p", &arm("A", vec![(0, t.clone())]), &arm("B", vec![]), 10, 0).is_err());
        let perfect = PredictionTable { pred: t.truth.clone(), ..t.clone() };
        assert!(compare("s", "p", &arm("A", vec![(0, t)]), &arm("B", vec![(0, perfect)]), 10, 0)
            .unwrap_err()
            .to_string()
            .contains("zero test error"));
    }
}
