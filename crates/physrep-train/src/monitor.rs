//! Collapse monitoring: per-dimension standard deviation and effective rank of embeddings.
//!
//! A collapsed encoder maps every input to (nearly) the same vector, or to a low-dimensional
//! subspace, while the predictor loss can still look fine. Two numbers make it visible:
//!
//! * per-dimension std over rows (biased, like VICReg's std term): its mean and its minimum;
//! * effective rank (RankMe, Garrido et al. 2023): `exp(H(p))` with `p_i = σ_i / Σ σ_j`, where σ
//!   are the singular values of the column-centred embedding matrix, i.e. `σ_i ∝ √λ_i` with λ
//!   the eigenvalues of the covariance. It ranges from 1 (rank one) to D (isotropic); an
//!   all-constant embedding has no spectrum and reports 0.
//!
//! The eigenvalues come from a cyclic Jacobi sweep on the D×D covariance in f64 (D ≤ a few hundred).

use serde::{Deserialize, Serialize};

/// Summary statistics of one `(N, D)` embedding matrix.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CollapseStats {
    /// Mean over dimensions of the per-dimension std.
    pub std_mean: f64,
    /// Minimum over dimensions of the per-dimension std.
    pub std_min: f64,
    /// RankMe effective rank, in `[1, D]` (0 for a constant embedding).
    pub effective_rank: f64,
}

/// Statistics of `rows` (`n × d`, row-major). Returns `None` for fewer than two rows.
pub fn collapse_stats(rows: &[f32], n: usize, d: usize) -> Option<CollapseStats> {
    assert_eq!(rows.len(), n * d, "collapse_stats: {} values for {n}×{d}", rows.len());
    if n < 2 || d == 0 {
        return None;
    }
    let mut mean = vec![0.0f64; d];
    for r in 0..n {
        for c in 0..d {
            mean[c] += rows[r * d + c] as f64;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    // Covariance (biased, 1/n; the scale does not matter for the rank).
    let mut cov = vec![0.0f64; d * d];
    let mut centred = vec![0.0f64; d];
    for r in 0..n {
        for c in 0..d {
            centred[c] = rows[r * d + c] as f64 - mean[c];
        }
        for i in 0..d {
            let xi = centred[i];
            for j in i..d {
                cov[i * d + j] += xi * centred[j];
            }
        }
    }
    for i in 0..d {
        for j in i..d {
            let v = cov[i * d + j] / n as f64;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    let mut std_sum = 0.0;
    let mut std_min = f64::INFINITY;
    for i in 0..d {
        let s = cov[i * d + i].max(0.0).sqrt();
        std_sum += s;
        std_min = std_min.min(s);
    }
    let eig = symmetric_eigenvalues(&mut cov, d);
    let sigma: Vec<f64> = eig.iter().map(|&l| l.max(0.0).sqrt()).collect();
    let total: f64 = sigma.iter().sum();
    let effective_rank = if total <= 0.0 {
        0.0
    } else {
        let mut entropy = 0.0;
        for &s in &sigma {
            let p = s / total;
            if p > 0.0 {
                entropy -= p * p.ln();
            }
        }
        entropy.exp()
    };
    Some(CollapseStats { std_mean: std_sum / d as f64, std_min, effective_rank })
}

/// Eigenvalues of the symmetric `d × d` matrix `a` (destroyed) by cyclic Jacobi rotations.
fn symmetric_eigenvalues(a: &mut [f64], d: usize) -> Vec<f64> {
    let frob: f64 = a.iter().map(|v| v * v).sum::<f64>().sqrt();
    if frob == 0.0 {
        return vec![0.0; d];
    }
    for _sweep in 0..64 {
        let mut off = 0.0;
        for i in 0..d {
            for j in (i + 1)..d {
                off += a[i * d + j] * a[i * d + j];
            }
        }
        if off.sqrt() <= 1e-14 * frob {
            break;
        }
        for p in 0..d {
            for q in (p + 1)..d {
                let apq = a[p * d + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let app = a[p * d + p];
                let aqq = a[q * d + q];
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J on rows/columns p and q.
                for k in 0..d {
                    let akp = a[k * d + p];
                    let akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let apk = a[p * d + k];
                    let aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..d).map(|i| a[i * d + i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
        // Box–Muller.
        let u: f64 = rng.random::<f64>().max(1e-300);
        let v: f64 = rng.random::<f64>();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    #[test]
    fn jacobi_matches_a_known_spectrum() {
        // Q diag(5, 2, 1) Qᵀ with a rotation Q: eigenvalues are recovered.
        let (c, s) = (0.6f64, 0.8f64);
        let q = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
        let lam = [5.0, 2.0, 1.0];
        let mut a = vec![0.0; 9];
        for i in 0..3 {
            for j in 0..3 {
                a[i * 3 + j] = (0..3).map(|k| q[i][k] * lam[k] * q[j][k]).sum();
            }
        }
        let mut e = symmetric_eigenvalues(&mut a, 3);
        e.sort_by(|x, y| y.partial_cmp(x).unwrap());
        for (got, want) in e.iter().zip(lam) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }

    #[test]
    fn effective_rank_counts_equal_directions_and_shows_collapse() {
        let (n, d) = (400, 16);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // Rows living in a 3-D subspace spanned by random directions, equal variance per direction,
        // made exactly orthonormal by Gram–Schmidt.
        let mut basis: Vec<Vec<f64>> = Vec::new();
        while basis.len() < 3 {
            let mut v: Vec<f64> = (0..d).map(|_| gaussian(&mut rng)).collect();
            for b in &basis {
                let dot: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
                for (x, y) in v.iter_mut().zip(b) {
                    *x -= dot * y;
                }
            }
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            basis.push(v.into_iter().map(|x| x / norm).collect());
        }
        // Balanced coefficients (±1 in a full factorial pattern) make the three variances exactly equal.
        let mut rows = vec![0.0f32; n * d];
        for r in 0..n {
            let coef =
                [if r % 2 == 0 { 1.0 } else { -1.0 }, if (r / 2) % 2 == 0 { 1.0 } else { -1.0 }, if (r / 4) % 2 == 0 { 1.0 } else { -1.0 }];
            for c in 0..d {
                rows[r * d + c] = (0..3).map(|k| coef[k] * basis[k][c]).sum::<f64>() as f32;
            }
        }
        let st = collapse_stats(&rows, n, d).unwrap();
        assert!((st.effective_rank - 3.0).abs() < 1e-3, "rank {}", st.effective_rank);

        // Isotropic Gaussian: close to D.
        let iso: Vec<f32> = (0..n * d).map(|_| gaussian(&mut rng) as f32).collect();
        let st = collapse_stats(&iso, n, d).unwrap();
        assert!(st.effective_rank > 0.9 * d as f64, "isotropic rank {}", st.effective_rank);
        assert!((st.std_mean - 1.0).abs() < 0.1 && st.std_min > 0.8, "{st:?}");

        // Complete collapse: every row identical.
        let same: Vec<f32> = (0..n).flat_map(|_| (0..d).map(|c| c as f32)).collect();
        let st = collapse_stats(&same, n, d).unwrap();
        assert_eq!((st.std_mean, st.std_min, st.effective_rank), (0.0, 0.0, 0.0));
    }
}
