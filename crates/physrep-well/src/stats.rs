//! `stats.yaml`: The Well's per-field statistics of a dataset's train split, as a type that is read,
//! validated and written (computing them from the data is [`crate::moments`]).
//!
//! YAML shape: keys `mean, std, rms, mean_delta, std_delta, rms_delta`, each mapping a core field name
//! (t0, t1, t2 groups, HDF5 key order inside a group) to a number, a list of 2, or a 2×2 nested list,
//! every number written as C's `%.4E`. Only time-varying fields are covered (constant fields have no
//! time axis for the `_delta` variants).

use std::fmt::Write as _;
use std::path::Path;

use crate::error::WellError;

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
}
