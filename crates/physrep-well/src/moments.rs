//! Computing `stats.yaml` (`crate::stats::WellStats`) from a dataset's train split, exactly as The
//! Well's `scripts/compute_statistics.py` does.
//!
//! Per train file i and field, in float64 over every axis except the component axes: element count
//! n_i, mean μ_i and E_i\[x²\] = σ_i² + μ_i². With weights w_i = n_i / Σ n: μ = Σ w_i μ_i,
//! std = √(Σ w_i E_i\[x²\] − μ²), rms = √(Σ w_i E_i\[x²\]). The `_delta` variants use the differences of
//! consecutive frames, `x[:, 1:] − x[:, :-1]` (computed in float64). Sums are accumulated per row in
//! float64 and compensated across rows (Neumaier), so the tiny `mean_delta` values are reproduced too.
//! A NaN or Inf in the data is an error naming the file, field, trajectory and frame, and the result is
//! validated (finite, std > 0) before it is returned.

use crate::dataset::{Split, WellDataset};
use crate::error::WellError;
use crate::file::{read_field_slab, FIELD_GROUPS};
use crate::h5util;
use crate::stats::{FieldStats, WellStats};

/// Neumaier-compensated f64 sum.
#[derive(Clone, Copy, Default)]
struct Sum {
    s: f64,
    c: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.s + x;
        if self.s.abs() >= x.abs() {
            self.c += (self.s - t) + x;
        } else {
            self.c += (x - t) + self.s;
        }
        self.s = t;
    }
    fn get(&self) -> f64 {
        self.s + self.c
    }
}

/// Per-component count, Σx, Σx² of one file.
#[derive(Clone, Default)]
struct Moments {
    n: f64,
    s: Vec<Sum>,
    q: Vec<Sum>,
}

impl Moments {
    fn new(comps: usize) -> Self {
        Self { n: 0.0, s: vec![Sum::default(); comps], q: vec![Sum::default(); comps] }
    }
    /// Adds one row of interleaved components.
    fn add_row(&mut self, row: impl Iterator<Item = f64> + Clone, comps: usize, len: usize) {
        let mut s = vec![0f64; comps];
        let mut q = vec![0f64; comps];
        for (i, v) in row.enumerate() {
            s[i % comps] += v;
            q[i % comps] += v * v;
        }
        for k in 0..comps {
            self.s[k].add(s[k]);
            self.q[k].add(q[k]);
        }
        self.n += (len / comps) as f64;
    }
}

/// Combines per-file moments into (mean, std, rms) per component.
fn mixture(files: &[Moments], comps: usize) -> [Vec<f64>; 3] {
    let total: f64 = files.iter().map(|m| m.n).sum();
    let mut out = [vec![0.0; comps], vec![0.0; comps], vec![0.0; comps]];
    for k in 0..comps {
        let (mut mu, mut ex2) = (Sum::default(), Sum::default());
        for m in files.iter().filter(|m| m.n > 0.0) {
            let w = m.n / total;
            let mu_i = m.s[k].get() / m.n;
            let var_i = (m.q[k].get() / m.n - mu_i * mu_i).max(0.0);
            mu.add(w * mu_i);
            ex2.add(w * (var_i + mu_i * mu_i));
        }
        let (mu, ex2) = (mu.get(), ex2.get());
        out[0][k] = mu;
        out[1][k] = (ex2 - mu * mu).max(0.0).sqrt();
        out[2][k] = ex2.sqrt();
    }
    out
}

/// Computes the statistics of `ds`'s train split.
pub fn compute(ds: &WellDataset) -> Result<WellStats, WellError> {
    if !ds.has_split(Split::Train) {
        return Err(WellError::MissingSplit { dir: ds.dir().to_path_buf(), split: "train".into() });
    }
    let files = ds.files(Split::Train);
    let first = files.first().ok_or_else(|| WellError::Invalid {
        what: format!(
            "{}: no *.h5 / *.hdf5 files (stats.yaml is computed from the train split)",
            ds.dir().join("data").join("train").display()
        ),
    })?;
    let mut out = Vec::new();
    for field in first.fields_h5.iter().filter(|f| f.time_varying) {
        let comps = field.components();
        let gname = FIELD_GROUPS[field.order];
        let mut plain = Vec::new();
        let mut delta = Vec::new();
        for f in files {
            let h = h5util::open_file(&f.path)?;
            let [nx, ny] = f.spatial();
            let t = f.frames();
            let row = ny * comps;
            let (mut mp, mut md) = (Moments::new(comps), Moments::new(comps));
            for traj in 0..f.n_trajectories {
                let data = read_field_slab(&f.path, &h, gname, field, traj, 0..t, 0..nx, 0..ny)?;
                let data = data.as_slice().ok_or_else(|| WellError::Invalid { what: "non-contiguous read".into() })?;
                let frame = nx * row;
                if let Some(bad) = data.iter().position(|v| !v.is_finite()) {
                    return Err(WellError::NonFinite {
                        path: f.path.clone(),
                        field: format!("/{gname}/{}", field.name),
                        trajectory: traj,
                        t0: bad / frame,
                        t1: bad / frame + 1,
                    });
                }
                for ti in 0..t {
                    for r in 0..nx {
                        let cur = &data[ti * frame + r * row..ti * frame + (r + 1) * row];
                        mp.add_row(cur.iter().map(|&v| v as f64), comps, row);
                        if ti > 0 {
                            let prev = &data[(ti - 1) * frame + r * row..(ti - 1) * frame + (r + 1) * row];
                            md.add_row(cur.iter().zip(prev).map(|(&a, &b)| a as f64 - b as f64), comps, row);
                        }
                    }
                }
            }
            plain.push(mp);
            delta.push(md);
        }
        let [mean, std, rms] = mixture(&plain, comps);
        let [mean_delta, std_delta, rms_delta] = mixture(&delta, comps);
        out.push(FieldStats { name: field.name.clone(), order: field.order, mean, std, rms, mean_delta, std_delta, rms_delta });
    }
    let stats = WellStats { fields: out };
    stats.validate().map_err(|msg| WellError::Invalid { what: format!("{}: statistics of the train split: {msg}", ds.dir().display()) })?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensated_mixture_equals_pooled_moments() {
        // Two "files" with different counts: the count-weighted mixture equals the pooled statistics.
        let a = [1.0, 2.0, 3.0];
        let b = [10.0, 20.0];
        let mut ma = Moments::new(1);
        ma.add_row(a.iter().copied(), 1, 3);
        let mut mb = Moments::new(1);
        mb.add_row(b.iter().copied(), 1, 2);
        let [m, s, r] = mixture(&[ma, mb], 1);
        let all = [1.0, 2.0, 3.0, 10.0, 20.0];
        let mean = all.iter().sum::<f64>() / 5.0;
        let ex2 = all.iter().map(|x| x * x).sum::<f64>() / 5.0;
        assert!((m[0] - mean).abs() < 1e-12);
        assert!((s[0] - (ex2 - mean * mean).sqrt()).abs() < 1e-12);
        assert!((r[0] - ex2.sqrt()).abs() < 1e-12);
    }
}
