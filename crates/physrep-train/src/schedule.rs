//! The learning-rate schedule: linear warm-up from 0, then cosine to `min_lr`, held afterwards.
//!
//! physrep's protocol (`paper-protocol.md` §13, fixing defects D3/D4 of §12): with `U` updates in
//! total and `W` warm-up updates, update `k` (0-based) uses
//!
//! ```text
//! k <  W:        lr_k = lr · k / W
//! W ≤ k < U:     lr_k = min_lr + (lr − min_lr) · ½ · (1 + cos(π · (k − W) / (U − W − 1)))
//! k ≥ U:         lr_k = lr_{U−1}   (held; only reachable if a caller asks past the end)
//! ```
//!
//! With `W = 0` this is exactly the paper's `CosineLRScheduler` formula; `U − W = 1` gives `lr`.
//! `W = min(round(warmup_epochs · updates_per_epoch), ⌊0.2 · U⌋)`: the configured warm-up is
//! capped at 20 % of all updates (only SF's 6-of-6 epochs is affected).

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
    /// Resolve a schedule from epoch-based settings.
    ///
    /// `updates_per_epoch` is `⌊micro-batches per epoch / accum⌋`; `max_updates` optionally caps `U`.
    pub fn new(lr: f64, min_lr: f64, epochs: u64, updates_per_epoch: u64, warmup_epochs: f64, max_updates: Option<u64>) -> Self {
        let natural = epochs * updates_per_epoch;
        let total = max_updates.map_or(natural, |m| m.min(natural));
        let configured = (warmup_epochs * updates_per_epoch as f64).round().max(0.0) as u64;
        let cap = (MAX_WARMUP_FRACTION * total as f64).floor() as u64;
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
}
