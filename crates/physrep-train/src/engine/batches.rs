//! The seeded order of an epoch and how its rows group into micro-batches and updates.
//!
//! An epoch is a sequence of [`Micro`]s; each says how many rows it holds, how many rows its update
//! holds, and whether it closes that update. The engine weights each micro-batch's mean loss by
//! `rows / update_rows` before the backward pass, so an update's gradient is the mean over its rows,
//! whatever the split into micro-batches (exact accumulation).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// One micro-batch of an epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Micro<I> {
    /// What the step's forward reads (a host batch, row indices, ...).
    pub input: I,
    /// Rows (samples) in this micro-batch.
    pub rows: usize,
    /// Rows in the update this micro-batch belongs to.
    pub update_rows: usize,
    /// True for the update's last micro-batch: the optimiser steps after it.
    pub closes_update: bool,
}

impl<I> Micro<I> {
    /// The same micro-batch with its input turned into `f(input)` (e.g. row indices tagged with a noise draw).
    pub fn map_input<J>(self, f: impl FnOnce(I) -> J) -> Micro<J> {
        Micro { input: f(self.input), rows: self.rows, update_rows: self.update_rows, closes_update: self.closes_update }
    }
}

/// How the rows of an in-memory epoch form updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// Micro-batches of `micro` rows (the epoch's last one may be smaller), `accum` of them per update;
    /// micro-batches that cannot fill a whole update at the epoch's end are dropped (`docs/paper-protocol.md`
    /// §13, D4). At least one update per epoch: `accum` is clamped to the epoch's micro-batches.
    Accumulate { micro: usize, accum: usize },
    /// Updates of `batch` rows (the epoch's last one may be smaller, it is kept), each computed `micro`
    /// rows at a time.
    Batches { batch: usize, micro: usize },
}

impl Grouping {
    /// Micro-batches of `micro` rows per update, after clamping to an epoch of `n` rows.
    pub fn accum(&self, n: usize) -> usize {
        match *self {
            Grouping::Accumulate { micro, accum } => accum.min(n.div_ceil(micro.max(1))).max(1),
            Grouping::Batches { batch, micro } => batch.div_ceil(micro.max(1)),
        }
    }

    /// Optimiser updates in an epoch of `n` rows.
    pub fn updates_per_epoch(&self, n: usize) -> usize {
        match *self {
            Grouping::Accumulate { micro, .. } => n.div_ceil(micro.max(1)) / self.accum(n),
            Grouping::Batches { batch, .. } => n.div_ceil(batch.max(1)),
        }
    }

    /// The micro-batches of an epoch whose rows come in `order`.
    pub fn split(&self, order: &[usize]) -> Vec<Micro<Vec<usize>>> {
        let mut out = Vec::new();
        match *self {
            Grouping::Accumulate { micro, .. } => {
                let accum = self.accum(order.len());
                let used = self.updates_per_epoch(order.len()) * accum;
                let chunks: Vec<&[usize]> = order.chunks(micro.max(1)).take(used).collect();
                for update in chunks.chunks(accum) {
                    let update_rows = update.iter().map(|c| c.len()).sum();
                    for (i, c) in update.iter().enumerate() {
                        out.push(Micro { input: c.to_vec(), rows: c.len(), update_rows, closes_update: i + 1 == update.len() });
                    }
                }
            }
            Grouping::Batches { batch, micro } => {
                for update in order.chunks(batch.max(1)) {
                    let parts: Vec<&[usize]> = update.chunks(micro.max(1)).collect();
                    for (i, c) in parts.iter().enumerate() {
                        out.push(Micro {
                            input: c.to_vec(),
                            rows: c.len(),
                            update_rows: update.len(),
                            closes_update: i + 1 == parts.len(),
                        });
                    }
                }
            }
        }
        out
    }
}

/// Seed of epoch `epoch`'s order for a run seeded `seed` (SplitMix64 of both: neighbouring seeds and
/// epochs give unrelated orders).
pub fn epoch_seed(seed: u64, epoch: u64) -> u64 {
    physrep_core::seed::mix64(seed ^ epoch.wrapping_add(1).wrapping_mul(physrep_core::seed::GAMMA))
}

/// `0..n` in the order of a Fisher–Yates shuffle from ChaCha8 seeded with `seed`.
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulate_drops_what_cannot_fill_an_update_and_weights_by_rows() {
        // 10 rows, micro 3 → chunks 3,3,3,1; accum 2 → 2 updates, nothing dropped.
        let g = Grouping::Accumulate { micro: 3, accum: 2 };
        let m = g.split(&(0..10).collect::<Vec<_>>());
        assert_eq!(g.updates_per_epoch(10), 2);
        let shape: Vec<(usize, usize, bool)> = m.iter().map(|m| (m.rows, m.update_rows, m.closes_update)).collect();
        assert_eq!(shape, [(3, 6, false), (3, 6, true), (3, 4, false), (1, 4, true)]);
        // 11 rows, micro 3, accum 3 → 4 chunks, one update of 3, the 4th chunk dropped.
        let g = Grouping::Accumulate { micro: 3, accum: 3 };
        let m = g.split(&(0..11).collect::<Vec<_>>());
        assert_eq!(m.len(), 3);
        assert_eq!(m.iter().flat_map(|m| m.input.clone()).collect::<Vec<_>>(), (0..9).collect::<Vec<_>>());
        // accum larger than an epoch is clamped: one update of everything.
        let g = Grouping::Accumulate { micro: 4, accum: 8 };
        assert_eq!((g.accum(10), g.updates_per_epoch(10)), (3, 1));
        assert!(g.split(&(0..10).collect::<Vec<_>>()).last().unwrap().closes_update);
    }

    #[test]
    fn batches_keep_the_last_small_update_and_split_it_into_micro_batches() {
        let g = Grouping::Batches { batch: 4, micro: 3 };
        let m = g.split(&[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
        let shape: Vec<(Vec<usize>, usize, bool)> = m.into_iter().map(|m| (m.input, m.update_rows, m.closes_update)).collect();
        assert_eq!(
            shape,
            [(vec![9, 8, 7], 4, false), (vec![6], 4, true), (vec![5, 4, 3], 4, false), (vec![2], 4, true), (vec![1, 0], 2, true)]
        );
        assert_eq!(g.updates_per_epoch(10), 3);
    }

    #[test]
    fn epoch_orders_are_seeded_permutations() {
        let a = shuffled(50, epoch_seed(7, 0));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, shuffled(50, epoch_seed(7, 0)));
        assert_ne!(a, shuffled(50, epoch_seed(7, 1)));
        assert_ne!(shuffled(50, epoch_seed(8, 0)), shuffled(50, epoch_seed(7, 1)), "seed + epoch does not alias");
    }
}
