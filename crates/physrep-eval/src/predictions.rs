//! Per-window predictions of every reported probe, saved so that encoders can be compared window by
//! window (the paired bootstrap of [`crate::compare`]).
//!
//! A probe run writes one CSV per (probe, fraction, split) at
//! `OUT/predictions/<probe>_<fraction>_<split>.csv` (fraction printed shortest, e.g. `1`, `0.1`). One
//! row per window of the split, in the split's window order:
//!
//! ```text
//! file,trajectory,t0,cluster,true_<label>...,pred_<label>...
//! rayleigh_benard_Rayleigh_1e6.hdf5,0,4,3,0.70710677,-1.2247449,0.61,-1.1
//! ```
//!
//! * `file`: the dataset file's name; `trajectory`: the initial condition's index in that file;
//!   `t0`: the window's first frame.
//! * `cluster`: the file's index in the split's sorted file list. One file holds one parameter point
//!   (as The Well stores it and `physrep-sim` writes it), so the cluster is the parameter point.
//! * `true_*` / `pred_*`: z-scored labels and the probe's predictions, one column per label, printed
//!   as the shortest decimal that reads back to the same `f32` (the file is exact and deterministic).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use physrep_well::{WellDataset, WindowRef};

use crate::error::EvalError;
use crate::evaluate::Predictions;

/// Where the predictions of `probe` at `fraction` on `split` live under a probe output directory.
pub fn predictions_path(out: &Path, probe: &str, fraction: f64, split: &str) -> PathBuf {
    out.join("predictions").join(format!("{probe}_{fraction}_{split}.csv"))
}

/// The identity of one window, enough to pair rows across encoders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowId {
    /// Dataset file name (no directory).
    pub file: String,
    /// Trajectory (initial condition) within the file.
    pub trajectory: usize,
    /// First frame of the window.
    pub t0: usize,
    /// Parameter point: the file's index within its split.
    pub cluster: usize,
}

/// Per-window predictions of one probe on one split: `windows[i]` owns row `i` of `truth` and `pred`
/// (both row-major `(n, P)`, P = `label_names.len()`).
#[derive(Clone, Debug, PartialEq)]
pub struct PredictionTable {
    pub label_names: Vec<String>,
    pub windows: Vec<WindowId>,
    pub truth: Vec<f32>,
    pub pred: Vec<f32>,
}

impl PredictionTable {
    /// Checks that the buffers agree with the windows and label columns.
    pub fn new(label_names: Vec<String>, windows: Vec<WindowId>, truth: Vec<f32>, pred: Vec<f32>) -> Result<Self, EvalError> {
        let p = label_names.len();
        if p == 0 || truth.len() != windows.len() * p || pred.len() != truth.len() {
            return Err(EvalError::shape(
                "prediction table (truth, pred)",
                (windows.len() * p, windows.len() * p),
                (truth.len(), pred.len()),
            ));
        }
        Ok(Self { label_names, windows, truth, pred })
    }

    /// Number of label columns.
    pub fn label_dim(&self) -> usize {
        self.label_names.len()
    }

    /// The CSV text (header + one line per window).
    pub fn to_csv(&self) -> Result<String, EvalError> {
        let bad = |what: &str, s: &str| {
            EvalError::Config(format!("{what} {s:?} cannot be written to a predictions CSV (comma, quote or line break)"))
        };
        let plain = |s: &str| !s.contains([',', '"', '\n', '\r']);
        let mut header = vec!["file".to_string(), "trajectory".into(), "t0".into(), "cluster".into()];
        for prefix in ["true", "pred"] {
            for n in &self.label_names {
                if !plain(n) {
                    return Err(bad("label name", n));
                }
                header.push(format!("{prefix}_{n}"));
            }
        }
        let mut s = header.join(",");
        s.push('\n');
        let p = self.label_dim();
        for (i, w) in self.windows.iter().enumerate() {
            if !plain(&w.file) {
                return Err(bad("file name", &w.file));
            }
            let _ = write!(s, "{},{},{},{}", w.file, w.trajectory, w.t0, w.cluster);
            for v in self.truth[i * p..(i + 1) * p].iter().chain(&self.pred[i * p..(i + 1) * p]) {
                let _ = write!(s, ",{v}");
            }
            s.push('\n');
        }
        Ok(s)
    }

    /// Write the CSV atomically (creating the directory).
    pub fn write_csv(&self, path: &Path) -> Result<(), EvalError> {
        Ok(physrep_core::write_atomic(path, self.to_csv()?.as_bytes())?)
    }

    /// Read a CSV written by [`PredictionTable::write_csv`]; a malformed line is an error naming it.
    pub fn read_csv(path: &Path) -> Result<Self, EvalError> {
        let text = std::fs::read_to_string(path).map_err(EvalError::io(path))?;
        let err = |line: usize, why: String| EvalError::Data(format!("{} line {line}: {why}", path.display()));
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().ok_or_else(|| err(1, "empty file".into()))?.split(',').collect();
        let cols = header.len();
        if cols < 6 || !(cols - 4).is_multiple_of(2) || header[..4] != ["file", "trajectory", "t0", "cluster"] {
            return Err(err(1, format!("expected header file,trajectory,t0,cluster,true_<label>...,pred_<label>..., got {header:?}")));
        }
        let p = (cols - 4) / 2;
        let mut label_names = Vec::with_capacity(p);
        for j in 0..p {
            let (t, q) = (header[4 + j], header[4 + p + j]);
            match (t.strip_prefix("true_"), q.strip_prefix("pred_")) {
                (Some(a), Some(b)) if a == b => label_names.push(a.to_string()),
                _ => return Err(err(1, format!("columns {t:?} and {q:?} are not true_<label> / pred_<label> of one label"))),
            }
        }
        let (mut windows, mut truth, mut pred) = (Vec::new(), Vec::new(), Vec::new());
        for (k, line) in lines.enumerate() {
            let no = k + 2;
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != cols {
                return Err(err(no, format!("{} fields, expected {cols}", f.len())));
            }
            let int = |s: &str, what: &str| s.parse::<usize>().map_err(|e| err(no, format!("{what} {s:?}: {e}")));
            windows.push(WindowId {
                file: f[0].to_string(),
                trajectory: int(f[1], "trajectory")?,
                t0: int(f[2], "t0")?,
                cluster: int(f[3], "cluster")?,
            });
            for (j, v) in f[4..].iter().enumerate() {
                let x = v.parse::<f32>().map_err(|e| err(no, format!("value {v:?}: {e}")))?;
                if !x.is_finite() {
                    return Err(err(no, format!("non-finite value {v:?}")));
                }
                if j < p {
                    truth.push(x)
                } else {
                    pred.push(x)
                }
            }
        }
        Self::new(label_names, windows, truth, pred)
    }
}

/// The identities of `windows` (all of one split of `ds`).
pub fn window_ids(ds: &WellDataset, windows: &[WindowRef]) -> Result<Vec<WindowId>, EvalError> {
    windows
        .iter()
        .map(|w| {
            let info = ds
                .files(w.split)
                .get(w.file)
                .ok_or_else(|| EvalError::Data(format!("window {w:?}: split `{}` has no file {}", w.split, w.file)))?;
            let file = info.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            Ok(WindowId { file, trajectory: w.trajectory, t0: w.t0, cluster: w.file })
        })
        .collect()
}

/// Write every entry of `predictions` under `out/predictions/` (valid rows are `valid`'s windows,
/// test rows `test`'s).
pub(crate) fn write_predictions(
    out: &Path,
    label_names: &[String],
    predictions: &[Predictions],
    valid: &[WindowId],
    test: &[WindowId],
) -> Result<(), EvalError> {
    for pr in predictions {
        let windows = if pr.split == "test" { test } else { valid };
        let table = PredictionTable::new(label_names.to_vec(), windows.to_vec(), pr.truth.clone(), pr.pred.clone())?;
        table.write_csv(&predictions_path(out, &pr.probe, pr.fraction, &pr.split))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PredictionTable {
        let windows = vec![
            WindowId { file: "a.hdf5".into(), trajectory: 0, t0: 0, cluster: 0 },
            WindowId { file: "b.hdf5".into(), trajectory: 2, t0: 8, cluster: 1 },
        ];
        PredictionTable::new(vec!["alpha".into(), "zeta".into()], windows, vec![0.1, -1.0, 1.0 / 3.0, 2.5], vec![0.2, 1e-7, -0.75, 3.0])
            .unwrap()
    }

    #[test]
    fn csv_round_trips_exactly_and_is_documented_layout() {
        let t = table();
        let csv = t.to_csv().unwrap();
        assert_eq!(csv.lines().next().unwrap(), "file,trajectory,t0,cluster,true_alpha,true_zeta,pred_alpha,pred_zeta");
        assert_eq!(csv.lines().nth(1).unwrap(), "a.hdf5,0,0,0,0.1,-1,0.2,0.0000001");
        let dir = tempfile::tempdir().unwrap();
        let path = predictions_path(dir.path(), "linear", 1.0, "test");
        assert!(path.ends_with("predictions/linear_1_test.csv"));
        t.write_csv(&path).unwrap();
        assert_eq!(PredictionTable::read_csv(&path).unwrap(), t);
    }

    #[test]
    fn malformed_input_is_a_clear_error() {
        assert!(PredictionTable::new(vec!["a".into()], table().windows, vec![0.0; 3], vec![0.0; 3]).is_err());
        let mut t = table();
        t.windows[0].file = "a,b.hdf5".into();
        assert!(t.to_csv().unwrap_err().to_string().contains("file name"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        let good = table().to_csv().unwrap();
        for (bad, needle) in [
            (good.replace("true_zeta", "true_eta"), "line 1"),
            (good.replace("b.hdf5,2", "b.hdf5,x"), "line 3: trajectory"),
            (good.replace(",2.5,", ",NaN,"), "line 3: non-finite"),
            (good.replace("0.2,", ""), "line 2: 7 fields"),
        ] {
            std::fs::write(&path, bad).unwrap();
            let e = PredictionTable::read_csv(&path).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}
