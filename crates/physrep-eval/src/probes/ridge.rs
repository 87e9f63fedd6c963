//! Linear probe: closed-form ridge regression on standardised mean-pooled tokens.
//!
//! Features z = (mean-pooled token − train mean) / train std. For each λ of the grid,
//! `W = (ZᵀZ + λ·n·I)⁻¹ Zᵀ(Y − Ȳ)`, intercept `Ȳ` (not penalised; Z is centred, so this is exact).
//! λ is chosen by valid MSE (ties → the larger λ). Solved by Cholesky in f64.

use super::{check_fit_inputs, standardise, standardiser, FitReport, Probe};
use crate::error::EvalError;
use crate::features::Features;

/// Closed-form ridge over a λ grid (λ per sample: the penalty is `lambda · n`).
#[derive(Clone, Debug)]
pub struct RidgeProbe {
    /// Candidate per-sample penalties.
    pub lambdas: Vec<f64>,
    state: Option<RidgeState>,
}

#[derive(Clone, Debug)]
struct RidgeState {
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// `(d, p)` row-major.
    w: Vec<f64>,
    b: Vec<f64>,
}

impl Default for RidgeProbe {
    fn default() -> Self {
        Self { lambdas: (-6..=2).map(|e| 10f64.powi(e)).collect(), state: None }
    }
}

impl RidgeProbe {
    pub fn new(lambdas: Vec<f64>) -> Self {
        Self { lambdas, state: None }
    }

    /// The fitted weights `(d, p)` and intercept in standardised-feature space.
    pub fn coefficients(&self) -> Option<(&[f64], &[f64])> {
        self.state.as_ref().map(|s| (s.w.as_slice(), s.b.as_slice()))
    }
}

/// `ZᵀZ (d×d)` and `Zᵀ(Y − Ȳ) (d×p)`.
fn gram_and_rhs(z: &[f64], y: &[f64], ybar: &[f64], d: usize, p: usize) -> (Vec<f64>, Vec<f64>) {
    let mut gram = vec![0.0; d * d];
    let mut zty = vec![0.0; d * p];
    for (zr, yr) in z.chunks_exact(d).zip(y.chunks_exact(p)) {
        for a in 0..d {
            let za = zr[a];
            for b in a..d {
                gram[a * d + b] += za * zr[b];
            }
            for j in 0..p {
                zty[a * p + j] += za * (yr[j] - ybar[j]);
            }
        }
    }
    for a in 0..d {
        for b in 0..a {
            gram[a * d + b] = gram[b * d + a];
        }
    }
    (gram, zty)
}

/// Solve `(G + pen·I) W = R` by Cholesky.
fn solve_penalised(gram: &[f64], rhs: &[f64], d: usize, p: usize, pen: f64) -> Result<Vec<f64>, EvalError> {
    let mut l = gram.to_vec();
    for a in 0..d {
        l[a * d + a] += pen;
    }
    // In-place Cholesky: lower triangle of `l` becomes L with L Lᵀ = G + pen·I.
    for j in 0..d {
        let mut s = l[j * d + j];
        for k in 0..j {
            s -= l[j * d + k] * l[j * d + k];
        }
        if !(s > 0.0) {
            return Err(EvalError::Data(format!("ridge system not positive definite (penalty {pen:e})")));
        }
        let ljj = s.sqrt();
        l[j * d + j] = ljj;
        for i in j + 1..d {
            let mut s = l[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            l[i * d + j] = s / ljj;
        }
    }
    let mut w = rhs.to_vec();
    for c in 0..p {
        // Forward: L u = r.
        for i in 0..d {
            let mut s = w[i * p + c];
            for k in 0..i {
                s -= l[i * d + k] * w[k * p + c];
            }
            w[i * p + c] = s / l[i * d + i];
        }
        // Backward: Lᵀ w = u.
        for i in (0..d).rev() {
            let mut s = w[i * p + c];
            for k in i + 1..d {
                s -= l[k * d + i] * w[k * p + c];
            }
            w[i * p + c] = s / l[i * d + i];
        }
    }
    Ok(w)
}

fn linear_predict(z: &[f64], w: &[f64], b: &[f64], d: usize, p: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(z.len() / d * p);
    for zr in z.chunks_exact(d) {
        for j in 0..p {
            let mut s = b[j];
            for a in 0..d {
                s += zr[a] * w[a * p + j];
            }
            out.push(s as f32);
        }
    }
    out
}

/// Stack the draws and return pooled features and labels (f64).
pub(crate) fn pooled_design(train: &[Features]) -> (Vec<f64>, Vec<f64>) {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for f in train {
        x.extend(f.pooled());
        y.extend(f.labels().iter().map(|v| *v as f64));
    }
    (x, y)
}

impl Probe for RidgeProbe {
    fn name(&self) -> &str {
        "linear"
    }

    fn fit(&mut self, train: &[Features], valid: &Features) -> Result<FitReport, EvalError> {
        check_fit_inputs(train, valid)?;
        if self.lambdas.is_empty() || self.lambdas.iter().any(|l| !(*l > 0.0)) {
            return Err(EvalError::Config(format!("ridge lambdas must be positive and non-empty: {:?}", self.lambdas)));
        }
        let (d, p) = (train[0].dim(), train[0].label_dim());
        let (mut z, y) = pooled_design(train);
        let (mean, scale) = standardiser(&z, d);
        standardise(&mut z, &mean, &scale);
        let mut zv = valid.pooled();
        standardise(&mut zv, &mean, &scale);
        let n = z.len() / d;
        let mut ybar = vec![0.0; p];
        for row in y.chunks_exact(p) {
            for j in 0..p {
                ybar[j] += row[j] / n as f64;
            }
        }
        let (gram, zty) = gram_and_rhs(&z, &y, &ybar, d, p);
        let mut best: Option<(f64, f64, Vec<f64>)> = None;
        let mut curve = Vec::with_capacity(self.lambdas.len());
        for &lambda in &self.lambdas {
            let w = solve_penalised(&gram, &zty, d, p, lambda * n as f64)?;
            let pred = linear_predict(&zv, &w, &ybar, d, p);
            let score = crate::metrics::mse(&pred, valid.labels(), p)?.mean;
            curve.push(score);
            let better = match &best {
                None => true,
                Some((s, l, _)) => score < *s || (score == *s && lambda > *l),
            };
            if better {
                best = Some((score, lambda, w));
            }
        }
        let (_, lambda, w) = best.expect("non-empty grid");
        self.state = Some(RidgeState { mean, scale, w, b: ybar });
        Ok(FitReport { hyper: [("lambda".to_string(), lambda)].into(), train_loss: vec![], valid_curve: curve })
    }

    fn predict(&self, x: &Features) -> Result<Vec<f32>, EvalError> {
        let s = self.state.as_ref().ok_or_else(|| EvalError::Config("linear probe used before fit".into()))?;
        if x.dim() != s.mean.len() {
            return Err(EvalError::shape("token dim", s.mean.len(), x.dim()));
        }
        let mut z = x.pooled();
        standardise(&mut z, &s.mean, &s.scale);
        Ok(linear_predict(&z, &s.w, &s.b, s.mean.len(), s.b.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The fit's own solve for one λ (per-sample penalty), on standardised features.
    fn solve(z: &[f64], y: &[f64], d: usize, p: usize, lambda: f64) -> (Vec<f64>, Vec<f64>) {
        let n = z.len() / d;
        let mut ybar = vec![0.0; p];
        for row in y.chunks_exact(p) {
            for j in 0..p {
                ybar[j] += row[j] / n as f64;
            }
        }
        let (gram, zty) = gram_and_rhs(z, y, &ybar, d, p);
        (solve_penalised(&gram, &zty, d, p, lambda * n as f64).unwrap(), ybar)
    }

    /// Naive reference: Gauss–Jordan on the full (d+1)×(d+1) normal equations with an unpenalised
    /// intercept column, on the raw standardised (uncentred-Y) data.
    fn naive_ridge(z: &[f64], y: &[f64], d: usize, p: usize, pen: f64) -> (Vec<f64>, Vec<f64>) {
        let m = d + 1;
        let mut a = vec![0.0; m * (m + p)];
        for (zr, yr) in z.chunks_exact(d).zip(y.chunks_exact(p)) {
            let xr: Vec<f64> = zr.iter().copied().chain(std::iter::once(1.0)).collect();
            for i in 0..m {
                for j in 0..m {
                    a[i * (m + p) + j] += xr[i] * xr[j];
                }
                for c in 0..p {
                    a[i * (m + p) + m + c] += xr[i] * yr[c];
                }
            }
        }
        for i in 0..d {
            a[i * (m + p) + i] += pen;
        }
        let w = m + p;
        for col in 0..m {
            let piv = (col..m).max_by(|&r, &s| a[r * w + col].abs().total_cmp(&a[s * w + col].abs())).unwrap();
            for k in 0..w {
                a.swap(col * w + k, piv * w + k);
            }
            let pv = a[col * w + col];
            for k in 0..w {
                a[col * w + k] /= pv;
            }
            for r in 0..m {
                if r != col {
                    let f = a[r * w + col];
                    for k in 0..w {
                        a[r * w + k] -= f * a[col * w + k];
                    }
                }
            }
        }
        let coef: Vec<f64> = (0..d).flat_map(|i| (0..p).map(move |c| (i, c))).map(|(i, c)| a[i * w + m + c]).collect();
        let b = (0..p).map(|c| a[d * w + m + c]).collect();
        (coef, b)
    }

    #[test]
    fn ridge_matches_naive_normal_equations() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (n, d, p) = (40, 5, 2);
        let mut z: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let y: Vec<f64> = (0..n * p).map(|_| rng.random_range(-1.0..1.0)).collect();
        let (mean, scale) = standardiser(&z, d);
        standardise(&mut z, &mean, &scale);
        for lambda in [1e-3, 0.1, 2.0] {
            let (w, b) = solve(&z, &y, d, p, lambda);
            let (w0, b0) = naive_ridge(&z, &y, d, p, lambda * n as f64);
            for (a, e) in w.iter().zip(&w0).chain(b.iter().zip(&b0)) {
                assert!((a - e).abs() < 1e-9, "{a} vs {e}");
            }
        }
    }

    #[test]
    fn selects_small_lambda_for_clean_linear_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (t, d, p) = (2, 6, 2);
        let make = |rng: &mut ChaCha8Rng, n: usize| {
            let tokens: Vec<f32> = (0..n * t * d).map(|_| rng.random_range(-1.0..1.0)).collect();
            let f = Features::new(tokens, vec![0.0; n * p], [n, t, d], p).unwrap();
            let pooled = f.pooled();
            let labels: Vec<f32> = pooled.chunks_exact(d).flat_map(|r| [(2.0 * r[0] - r[3] + 0.5) as f32, (r[1] + r[5]) as f32]).collect();
            Features::new(f.tokens().to_vec(), labels, [n, t, d], p).unwrap()
        };
        let train = make(&mut rng, 200);
        let valid = make(&mut rng, 50);
        let mut probe = RidgeProbe::default();
        let rep = probe.fit(std::slice::from_ref(&train), &valid).unwrap();
        assert!(rep.hyper["lambda"] <= 1e-3);
        let pred = probe.predict(&valid).unwrap();
        assert!(crate::metrics::mse(&pred, valid.labels(), p).unwrap().mean < 1e-4);
    }
}
