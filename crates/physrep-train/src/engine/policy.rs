//! Learning-rate policies: warm-up + cosine per update (pretraining, the attentive probe) and
//! reduce-on-plateau per epoch (MPP fine-tuning), behind one [`LrPolicy`] whose state a checkpoint saves.
//!
//! **Warm-up + cosine** ([`LrSchedule`]; `docs/paper-protocol.md` §13, fixing defects D3/D4 of §12): with
//! `U` updates in total and `W` warm-up updates, update `k` (0-based) uses
//!
//! ```text
//! k <  W:        lr_k = lr · k / W
//! W ≤ k < U:     lr_k = min_lr + (lr − min_lr) · ½ · (1 + cos(π · (k − W) / (U − W − 1)))
//! k ≥ U:         lr_k = lr_{U−1}   (held; only reachable if a caller asks past the end)
//! ```
//!
//! The warm-up starts from 0 as timm's `CosineLRScheduler` (the paper's scheduler) does with
//! `warmup_lr_init = 0`. With `W = 0` this is exactly the paper's cosine formula; `U − W = 1` gives `lr`.
//! `W = min(round(warmup_epochs · updates_per_epoch), ⌊cap · U⌋)`: the configured warm-up is capped at a
//! fraction of all updates (20 %, [`MAX_WARMUP_FRACTION`]; only SF's 6-of-6 epochs is affected).
//!
//! **Reduce on plateau** ([`Plateau`]): PyTorch's `ReduceLROnPlateau` in mode `min` with a relative
//! threshold and no cooldown, stepped once per epoch with the valid loss.

use serde::{Deserialize, Serialize};

/// A resolved schedule: peak and final learning rate, total and warm-up updates.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// Peak learning rate (reached at the end of warm-up).
    pub lr: f64,
    /// Final learning rate (reached at update `total − 1`).
    pub min_lr: f64,
    /// Total number of optimiser updates `U`.
    pub total: u64,
    /// Warm-up updates `W` (< `total` unless both are 0).
    pub warmup: u64,
}

/// The largest fraction of all updates the warm-up may take.
pub const MAX_WARMUP_FRACTION: f64 = 0.2;

impl LrSchedule {
    /// Resolve a schedule from epoch-based settings, the warm-up capped at [`MAX_WARMUP_FRACTION`].
    ///
    /// `updates_per_epoch` is `⌊micro-batches per epoch / accum⌋`; `max_updates` optionally caps `U`.
    pub fn new(lr: f64, min_lr: f64, epochs: u64, updates_per_epoch: u64, warmup_epochs: f64, max_updates: Option<u64>) -> Self {
        let natural = epochs * updates_per_epoch;
        let total = max_updates.map_or(natural, |m| m.min(natural));
        Self::with_warmup_cap(lr, min_lr, total, updates_per_epoch, warmup_epochs, MAX_WARMUP_FRACTION)
    }

    /// A schedule of `total` updates whose warm-up of `warmup_epochs` is capped at `cap · total` updates.
    pub fn with_warmup_cap(lr: f64, min_lr: f64, total: u64, updates_per_epoch: u64, warmup_epochs: f64, cap: f64) -> Self {
        let configured = (warmup_epochs * updates_per_epoch as f64).round().max(0.0) as u64;
        let cap = (cap * total as f64).floor() as u64;
        LrSchedule { lr, min_lr, total, warmup: configured.min(cap) }
    }

    /// The learning rate of update `k` (0-based).
    pub fn lr_at(&self, k: u64) -> f64 {
        if self.total == 0 {
            return self.lr;
        }
        let k = k.min(self.total - 1);
        if k < self.warmup {
            return self.lr * k as f64 / self.warmup as f64;
        }
        let span = self.total - self.warmup;
        if span <= 1 {
            return self.lr;
        }
        let progress = (k - self.warmup) as f64 / (span - 1) as f64;
        self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// PyTorch's `ReduceLROnPlateau` settings (mode `min`, relative threshold, no cooldown).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlateauConfig {
    /// New lr = lr · factor.
    pub factor: f64,
    /// Epochs without improvement tolerated before a reduction.
    pub patience: usize,
    /// Relative improvement that counts: `metric < best · (1 − threshold)`.
    pub threshold: f64,
    /// Floor of the lr.
    pub min_lr: f64,
}

impl Default for PlateauConfig {
    /// The paper's MPP fine-tuning: factor 0.5 and patience 5 (`docs/baselines.md` §3.3); threshold and floor
    /// are PyTorch's defaults.
    fn default() -> Self {
        Self { factor: 0.5, patience: 5, threshold: 1e-4, min_lr: 0.0 }
    }
}

/// ReduceLROnPlateau, stepped once per epoch with the valid loss (PyTorch semantics: the first value
/// sets `best`; an epoch that does not beat `best · (1 − threshold)` is bad; after more than `patience`
/// bad epochs in a row the lr is multiplied by `factor` (not below `min_lr`, and only if it changes by
/// more than 1e-8) and the count restarts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plateau {
    cfg: PlateauConfig,
    lr: f64,
    best: f64,
    bad_epochs: usize,
}

impl Plateau {
    pub fn new(lr: f64, cfg: PlateauConfig) -> Self {
        Self { cfg, lr, best: f64::INFINITY, bad_epochs: 0 }
    }

    /// The lr to use now.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Record an epoch's metric; returns the lr for the next epoch.
    pub fn step(&mut self, metric: f64) -> f64 {
        if metric < self.best * (1.0 - self.cfg.threshold) {
            self.best = metric;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.bad_epochs > self.cfg.patience {
            let new = (self.lr * self.cfg.factor).max(self.cfg.min_lr);
            if self.lr - new > 1e-8 {
                self.lr = new;
            }
            self.bad_epochs = 0;
        }
        self.lr
    }
}

/// How the learning rate moves: per update along a schedule, or per epoch with the valid loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrPolicy {
    /// Warm-up + cosine over a known number of updates.
    Cosine(LrSchedule),
    /// Reduce on plateau of the epoch's valid loss.
    Plateau(Plateau),
}

impl LrPolicy {
    /// The lr of update `k` (0-based).
    pub fn lr(&self, k: u64) -> f64 {
        match self {
            LrPolicy::Cosine(s) => s.lr_at(k),
            LrPolicy::Plateau(p) => p.lr(),
        }
    }

    /// Updates the policy is planned for (`None`: open-ended, the caller counts epochs).
    pub fn total(&self) -> Option<u64> {
        match self {
            LrPolicy::Cosine(s) => Some(s.total),
            LrPolicy::Plateau(_) => None,
        }
    }

    /// An epoch ended with valid loss `metric` (a plateau policy steps; a schedule ignores it).
    pub fn end_epoch(&mut self, metric: Option<f64>) {
        if let (LrPolicy::Plateau(p), Some(m)) = (self, metric) {
            p.step(m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_is_linear_from_zero_then_cosine_hits_both_ends() {
        // 10 epochs × 10 updates, 2 warm-up epochs → W = 20 (= 20 % cap exactly), U = 100.
        let s = LrSchedule::new(1e-3, 1e-6, 10, 10, 2.0, None);
        assert_eq!((s.total, s.warmup), (100, 20));
        assert_eq!(s.lr_at(0), 0.0);
        for k in 0..20 {
            assert!((s.lr_at(k) - 1e-3 * k as f64 / 20.0).abs() < 1e-15, "warm-up at {k}");
        }
        assert!((s.lr_at(20) - 1e-3).abs() < 1e-15, "peak right after warm-up");
        assert!((s.lr_at(99) - 1e-6).abs() < 1e-15, "min_lr at the last update");
        // Mid-point of the cosine: (lr + min_lr) / 2, at k − W = (U − W − 1)/2 = 39.5 → check the formula at 60.
        let expect = 1e-6 + (1e-3 - 1e-6) * 0.5 * (1.0 + (std::f64::consts::PI * 40.0 / 79.0).cos());
        assert!((s.lr_at(60) - expect).abs() < 1e-15);
        // Monotone decay after warm-up, held last value beyond U.
        for k in 20..99 {
            assert!(s.lr_at(k + 1) <= s.lr_at(k));
        }
        assert_eq!(s.lr_at(100), s.lr_at(99));
        assert_eq!(s.lr_at(10_000), s.lr_at(99));
    }

    #[test]
    fn no_warmup_is_the_papers_cosine() {
        let s = LrSchedule::new(1e-4, 1e-6, 3, 7, 0.0, None);
        assert_eq!((s.total, s.warmup), (21, 0));
        for k in 0..21u64 {
            let paper = 1e-6 + (1e-4 - 1e-6) * 0.5 * (1.0 + (std::f64::consts::PI * k as f64 / 20.0).cos());
            assert!((s.lr_at(k) - paper).abs() < 1e-18, "update {k}");
        }
        // Update 0 and 1 differ (the reference code's off-by-one gives both `lr`).
        assert!(s.lr_at(1) < s.lr_at(0));
    }

    #[test]
    fn warmup_is_capped_at_twenty_percent_and_max_updates_caps_total() {
        // SF: 6 warm-up epochs of 6 → capped to 1.2 epochs.
        let s = LrSchedule::new(1e-4, 1e-6, 6, 150, 6.0, None);
        assert_eq!((s.total, s.warmup), (900, 180));
        let c = LrSchedule::new(1e-3, 0.0, 30, 34, 2.0, Some(50));
        assert_eq!((c.total, c.warmup), (50, 10));
        assert_eq!(c.lr_at(49), 0.0);
        // A one-update run uses the peak lr.
        let one = LrSchedule::new(1e-3, 1e-6, 1, 1, 0.0, None);
        assert_eq!(one.lr_at(0), 1e-3);
    }

    /// The expected lrs are what PyTorch 2.15's `ReduceLROnPlateau(SGD(lr=1), mode="min", factor=0.5,
    /// patience=2, threshold=1e-4, min_lr=0.2)` gives for the same metric sequence (run once, numbers
    /// copied): reductions after the 3rd bad epoch in a row, count restarted, a gain below the relative
    /// threshold is not an improvement, the floor holds.
    #[test]
    fn plateau_follows_pytorch_semantics() {
        let mut policy = LrPolicy::Plateau(Plateau::new(1.0, PlateauConfig { factor: 0.5, patience: 2, threshold: 1e-4, min_lr: 0.2 }));
        // best 1.0, 0.9; then 0.89995 is not a relative gain of 1e-4 over 0.9 → bad 1, 2, 3 → halve.
        let lrs: Vec<f64> = [1.0, 0.9, 0.89995, 0.95, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
            .iter()
            .map(|&m| {
                policy.end_epoch(Some(m));
                policy.lr(0)
            })
            .collect();
        assert_eq!(lrs, [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]);
        // At the floor: no further change; no metric, no step.
        policy.end_epoch(None);
        assert_eq!(policy.lr(7), 0.2);
        assert_eq!(policy.total(), None);
    }

    #[test]
    fn warmup_cap_is_a_fraction_of_all_updates() {
        // The probe's recipe: 2 warm-up epochs of 3 updates in 10 updates, capped at 20 % → 2.
        let s = LrSchedule::with_warmup_cap(1.0, 0.0, 10, 3, 2.0, 0.2);
        assert_eq!(s.warmup, 2);
        assert_eq!((s.lr_at(0), s.lr_at(1), s.lr_at(2)), (0.0, 0.5, 1.0));
        assert_eq!(LrPolicy::Cosine(s).total(), Some(10));
    }
}
