//! `stats.yaml`: per-field statistics of the train split, computed exactly as The Well's
//! `scripts/compute_statistics.py` (`well-format.md` §8), and read back for normalisation.
//!
//! Per train file i and field, in float64 over every axis except the component axes: element count
//! n_i, mean μ_i and E_i\[x²\] = σ_i² + μ_i². With weights w_i = n_i / Σ n: μ = Σ w_i μ_i,
//! std = √(Σ w_i E_i\[x²\] − μ²), rms = √(Σ w_i E_i\[x²\]). The `_delta` variants use the differences of
//! consecutive frames, `x[:, 1:] − x[:, :-1]` (computed in float64). Sums are accumulated per row in
//! float64 and compensated across rows (Neumaier), so the tiny `mean_delta` values are reproduced too.
//!
//! Only time-varying fields are covered (constant fields have no time axis for the `_delta` variants).
//!
//! YAML shape: keys `mean, std, rms, mean_delta, std_delta, rms_delta`, each mapping a core field name
//! (t0, t1, t2 groups, HDF5 key order inside a group) to a number, a list of 2, or a 2×2 nested list,
//! every number written as C's `%.4E`.

use std::fmt::Write as _;
use std::path::Path;

use crate::dataset::{Split, WellDataset};
use crate::error::WellError;
use crate::file::{read_field_slab, FIELD_GROUPS};
use crate::h5util;

/// The six statistics of one core field, one value per component (1, 2 or 4; t2 row-major xx, xy, yx, yy).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldStats {
    pub name: String,
    /// Tensor order (0, 1, 2).
    pub order: usize,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub rms: Vec<f64>,
    pub mean_delta: Vec<f64>,
    pub std_delta: Vec<f64>,
    pub rms_delta: Vec<f64>,
}

/// The contents of a `stats.yaml`.
#[derive(Clone, Debug, PartialEq)]
pub struct WellStats {
    pub fields: Vec<FieldStats>,
}

const KEYS: [&str; 6] = ["mean", "std", "rms", "mean_delta", "std_delta", "rms_delta"];

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

/// C's `%.4E`: `-2.2312E-01`, `0.0000E+00`.
pub fn format_e4(x: f64) -> String {
    let s = format!("{x:.4E}");
    match s.split_once('E') {
        Some((m, e)) => {
            let e: i32 = e.parse().unwrap_or(0);
            format!("{m}E{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
        }
        None => s.to_uppercase(),
    }
}

impl FieldStats {
    fn values(&self, key: &str) -> &[f64] {
        match key {
            "mean" => &self.mean,
            "std" => &self.std,
            "rms" => &self.rms,
            "mean_delta" => &self.mean_delta,
            "std_delta" => &self.std_delta,
            _ => &self.rms_delta,
        }
    }
}

impl WellStats {
    /// The entry of a core field.
    pub fn field(&self, name: &str) -> Option<&FieldStats> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Every value finite and every `std` positive (normalisation divides by it); the message names
    /// the key, field and component otherwise.
    pub fn validate(&self) -> Result<(), String> {
        for f in &self.fields {
            for key in KEYS {
                for (k, &v) in f.values(key).iter().enumerate() {
                    if !v.is_finite() {
                        return Err(format!("`{key}.{}` component {k} is {v} (expected a finite number)", f.name));
                    }
                    if key == "std" && v <= 0.0 {
                        return Err(format!(
                            "`std.{}` component {k} is {v}: the field is constant over the train split, and normalisation divides by its std",
                            f.name
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The YAML text, in The Well's shape.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for key in KEYS {
            let _ = writeln!(out, "{key}:");
            for f in &self.fields {
                let v: Vec<String> = f.values(key).iter().map(|&x| format_e4(x)).collect();
                let text = match f.order {
                    0 => v[0].clone(),
                    1 => format!("[{}, {}]", v[0], v[1]),
                    _ => format!("[[{}, {}], [{}, {}]]", v[0], v[1], v[2], v[3]),
                };
                let _ = writeln!(out, "  {}: {text}", f.name);
            }
        }
        out
    }

    /// Writes the YAML atomically (`physrep_core::write_atomic`).
    pub fn write(&self, path: &Path) -> Result<(), WellError> {
        Ok(physrep_core::write_atomic(path, self.to_yaml().as_bytes())?)
    }

    /// Parses a `stats.yaml` (all six keys required).
    pub fn read(path: &Path) -> Result<Self, WellError> {
        let text = std::fs::read_to_string(path).map_err(|e| WellError::io(path, e))?;
        let bad = |msg: String| WellError::Stats { path: path.to_path_buf(), msg };
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let mut fields: Vec<FieldStats> = Vec::new();
        for (ki, key) in KEYS.iter().enumerate() {
            let map = doc.get(key).and_then(|v| v.as_mapping()).ok_or_else(|| bad(format!("missing mapping `{key}`")))?;
            for (name, value) in map {
                let name = name.as_str().ok_or_else(|| bad(format!("`{key}`: non-string field name")))?;
                let (order, values) =
                    flatten(value).ok_or_else(|| bad(format!("`{key}.{name}`: expected a number, [a, b] or [[a, b], [c, d]]")))?;
                let entry = match fields.iter_mut().position(|f| f.name == name) {
                    Some(i) => &mut fields[i],
                    None => {
                        fields.push(FieldStats {
                            name: name.to_owned(),
                            order,
                            mean: vec![],
                            std: vec![],
                            rms: vec![],
                            mean_delta: vec![],
                            std_delta: vec![],
                            rms_delta: vec![],
                        });
                        fields.last_mut().expect("just pushed")
                    }
                };
                if entry.order != order {
                    return Err(bad(format!("`{key}.{name}` has tensor order {order}, `mean.{name}` has {}", entry.order)));
                }
                let slot = match ki {
                    0 => &mut entry.mean,
                    1 => &mut entry.std,
                    2 => &mut entry.rms,
                    3 => &mut entry.mean_delta,
                    4 => &mut entry.std_delta,
                    _ => &mut entry.rms_delta,
                };
                *slot = values;
            }
        }
        for f in &fields {
            for key in KEYS {
                if f.values(key).is_empty() {
                    return Err(bad(format!("field `{}` lacks `{key}`", f.name)));
                }
            }
        }
        let stats = Self { fields };
        stats.validate().map_err(bad)?;
        Ok(stats)
    }
}

fn num(v: &serde_yaml::Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_i64().map(|i| i as f64))
}

/// A number (order 0), a list of 2 (order 1) or a 2×2 nested list (order 2), flattened row-major.
fn flatten(v: &serde_yaml::Value) -> Option<(usize, Vec<f64>)> {
    if let Some(x) = num(v) {
        return Some((0, vec![x]));
    }
    let seq = v.as_sequence()?;
    if seq.len() != 2 {
        return None;
    }
    if let (Some(a), Some(b)) = (num(&seq[0]), num(&seq[1])) {
        return Some((1, vec![a, b]));
    }
    let mut out = Vec::new();
    for row in seq {
        let r = row.as_sequence()?;
        if r.len() != 2 {
            return None;
        }
        out.push(num(&r[0])?);
        out.push(num(&r[1])?);
    }
    Some((2, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_matches_c_percent_4e() {
        assert_eq!(format_e4(-0.22312), "-2.2312E-01");
        assert_eq!(format_e4(1.8278e-10), "1.8278E-10");
        assert_eq!(format_e4(0.0), "0.0000E+00");
        assert_eq!(format_e4(12345.0), "1.2345E+04");
        assert_eq!(format_e4(1e100), "1.0000E+100");
    }

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
