//! Nested, seeded subsets of a training set (data-efficiency experiment, paper Table 2).
//!
//! One seeded permutation of `0..n`; the subset for fraction f is its first ⌈f·n⌉ entries (at least 1),
//! returned in increasing index order. Smaller fractions are therefore subsets of larger ones.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::EvalError;

/// Indices of the subset of `n` rows for `fraction` ∈ (0, 1].
pub fn nested_subset(n: usize, fraction: f64, seed: u64) -> Result<Vec<usize>, EvalError> {
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(EvalError::Config(format!("data fraction {fraction} not in (0, 1]")));
    }
    if n == 0 {
        return Err(EvalError::Data("cannot subset an empty training set".into()));
    }
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let m = ((fraction * n as f64).ceil() as usize).clamp(1, n);
    let mut idx = perm[..m].to_vec();
    idx.sort_unstable();
    Ok(idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_sized_and_seeded() {
        let a = nested_subset(100, 0.1, 7).unwrap();
        let b = nested_subset(100, 0.5, 7).unwrap();
        let c = nested_subset(100, 1.0, 7).unwrap();
        assert_eq!((a.len(), b.len(), c.len()), (10, 50, 100));
        assert!(a.iter().all(|i| b.contains(i)));
        assert_eq!(c, (0..100).collect::<Vec<_>>());
        assert_eq!(a, nested_subset(100, 0.1, 7).unwrap());
        assert_ne!(a, nested_subset(100, 0.1, 8).unwrap());
        assert_eq!(nested_subset(3, 0.01, 1).unwrap().len(), 1);
        assert!(nested_subset(10, 0.0, 1).is_err());
        assert!(nested_subset(10, 1.5, 1).is_err());
    }
}
