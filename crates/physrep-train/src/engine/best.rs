//! Best-epoch selection: the epoch with the lowest valid loss and what was kept of it.

/// The epoch with the lowest valid loss seen so far and what was kept of it (weights, scores).
/// Ties keep the earlier epoch; a non-finite loss is never the best.
#[derive(Clone, Debug)]
pub struct BestEpoch<T> {
    best: Option<(usize, f64, T)>,
}

impl<T> Default for BestEpoch<T> {
    fn default() -> Self {
        Self { best: None }
    }
}

impl<T> BestEpoch<T> {
    /// Offer epoch `epoch` with valid loss `valid`; `keep` is called only when it is the new best.
    /// Returns whether it was.
    pub fn observe(&mut self, epoch: usize, valid: f64, keep: impl FnOnce() -> T) -> bool {
        let better = valid.is_finite() && self.best.as_ref().is_none_or(|(_, b, _)| valid < *b);
        if better {
            self.best = Some((epoch, valid, keep()));
        }
        better
    }

    /// The best epoch, its valid loss and what was kept.
    pub fn best(&self) -> Option<(usize, f64, &T)> {
        self.best.as_ref().map(|(e, v, t)| (*e, *v, t))
    }

    /// The best epoch, its valid loss and what was kept, by value.
    pub fn into_best(self) -> Option<(usize, f64, T)> {
        self.best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_epoch_is_the_first_argmin_and_keeps_that_epochs_snapshot() {
        let valid = [0.9, 0.5, 0.7, 0.5, f64::NAN, 0.6];
        let mut best = BestEpoch::default();
        let mut kept_calls = 0;
        for (epoch, v) in valid.iter().enumerate() {
            best.observe(epoch, *v, || {
                kept_calls += 1;
                format!("weights after epoch {epoch}")
            });
        }
        let (epoch, v, kept) = best.best().unwrap();
        assert_eq!((epoch, v, kept.as_str()), (1, 0.5, "weights after epoch 1"));
        assert_eq!(kept_calls, 2, "a snapshot is taken only for a new best");
        assert!(BestEpoch::<()>::default().best().is_none());
    }
}
