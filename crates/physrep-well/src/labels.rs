//! Label transforms: physical parameters → the standardised regression targets of the probe
//! (`docs/paper-protocol.md` §3), and back.
//!
//! Label columns are the constant scalars of a file except `L`, in HDF5 key order (upper case sorts
//! before lower case). Each column is optionally log10-transformed, then z-scored with fixed constants:
//!
//! | dataset | column 0 | column 1 |
//! |---|---|---|
//! | active_matter | alpha: (α + 3.0) / 1.41 | zeta: (ζ − 9.0) / 5.16 |
//! | shear_flow | Rayleigh or Reynolds: (log10 Re − 4.85) / 0.61 | Schmidt: (Sc − 2.69) / 3.38 |
//! | rayleigh_benard (and `_uniform`) | Prandtl: (Pr − 2.69) / 3.38 | Rayleigh: (log10 Ra − 8.0) / 1.41 |
//! | advection (physrep's control, not a paper dataset) | speed: (v − 0.55) / 0.26 | — |
//!
//! The advection constants are the mean and std of the uniform distribution on its `small` speed range
//! 0.1–1.0 px/frame (0.55 and 0.9/√12 ≈ 0.26), so a design over that range has labels of mean ≈ 0, std ≈ 1.
//!
//! Any other dataset is z-scored with the population mean and std of its train files' values
//! ([`LabelTransform::from_values`]); a column without spread gets std 1.
//!
//! **Label scaling of simulated subsets.** The constants above standardise The Well's whole parameter
//! grids. physrep's `tiny` and `small` simulator presets cover narrower, resolved ranges (e.g.
//! Rayleigh–Bénard Ra 1e4–1e5 against The Well's 1e6–1e10), on which the paper's constants put every label
//! near −2.5 with a spread of 0.25: the predict-the-mean floor falls to ≈ 0.07 instead of ≈ 1, and a
//! model that starts predicting 0 must first learn a large offset. Their files carry the root attribute
//! `label_scaling = "train"` ([`LabelScaling`]); a dataset whose files all carry it keeps the paper's
//! columns and log10 flags but takes each column's mean and population std from its train files
//! ([`LabelTransform::refit`]), so its train labels have mean 0 and std 1. Files without the attribute
//! (The Well itself, `medium` presets) use the paper's constants.

use serde::{Deserialize, Serialize};

use crate::error::WellError;
use crate::protocol::SystemId;

/// The root attribute naming a file's [`LabelScaling`].
pub const LABEL_SCALING_ATTR: &str = "label_scaling";

/// How a dataset's labels are standardised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelScaling {
    /// The paper's fixed constants (The Well; no attribute).
    Paper,
    /// The paper's columns and log10 flags, mean and std of the train files (`label_scaling = "train"`).
    Train,
}

impl LabelScaling {
    /// The attribute value (`None` for [`LabelScaling::Paper`], which files mark by its absence).
    pub fn attr(self) -> Option<&'static str> {
        match self {
            LabelScaling::Paper => None,
            LabelScaling::Train => Some("train"),
        }
    }

    /// Parses an attribute value.
    pub fn from_attr(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("paper") => Ok(LabelScaling::Paper),
            Some("train") => Ok(LabelScaling::Train),
            Some(other) => Err(format!("`{other}`, expected `train` or `paper`")),
        }
    }
}

/// One label column: `z = (f(v) − mean) / std`, with `f = log10` when `log10` is set, else identity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelColumn {
    pub name: String,
    pub log10: bool,
    pub mean: f64,
    pub std: f64,
}

/// The per-column transform of a dataset's labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelTransform {
    pub columns: Vec<LabelColumn>,
}

fn col(name: &str, log10: bool, mean: f64, std: f64) -> LabelColumn {
    LabelColumn { name: name.to_owned(), log10, mean, std }
}

impl LabelTransform {
    /// The paper's fixed transform for `dataset_name`, checked against the file's label names.
    pub fn paper(dataset_name: &str, label_names: &[String]) -> Result<Self, WellError> {
        let (expected, columns): (Vec<&[&str]>, Vec<LabelColumn>) = match SystemId::from_name(dataset_name) {
            Some(SystemId::ActiveMatter) => {
                (vec![&["alpha"], &["zeta"]], vec![col("alpha", false, -3.0, 1.41), col("zeta", false, 9.0, 5.16)])
            }
            Some(SystemId::ShearFlow) => (
                vec![&["Rayleigh", "Reynolds"], &["Schmidt"]],
                vec![col(&label_names.first().cloned().unwrap_or_default(), true, 4.85, 0.61), col("Schmidt", false, 2.69, 3.38)],
            ),
            Some(SystemId::RayleighBenard | SystemId::RayleighBenardUniform) => {
                (vec![&["Prandtl"], &["Rayleigh"]], vec![col("Prandtl", false, 2.69, 3.38), col("Rayleigh", true, 8.0, 1.41)])
            }
            Some(SystemId::Advection) => (vec![&["speed"]], vec![col("speed", false, 0.55, 0.26)]),
            Some(SystemId::GrayScott) | None => {
                return Err(WellError::UnknownDataset { name: dataset_name.to_owned(), what: "paper label transform".into() })
            }
        };
        let ok = label_names.len() == expected.len() && label_names.iter().zip(&expected).all(|(n, e)| e.contains(&n.as_str()));
        if !ok {
            return Err(WellError::Invalid {
                what: format!(
                    "{dataset_name}: label columns are {label_names:?}, expected {expected:?} (constant scalars except L, HDF5 key order)"
                ),
            });
        }
        Ok(Self { columns })
    }

    /// Z-scoring with the population mean and std of `rows` (one row of raw values per file).
    pub fn from_values(names: &[String], rows: &[Vec<f64>]) -> Self {
        let identity = Self { columns: names.iter().map(|n| col(n, false, 0.0, 1.0)).collect() };
        identity.refit(rows).expect("identity columns take any value")
    }

    /// The same columns (names, log10 flags) z-scored with the population mean and std of `rows` (raw
    /// values, one row per file) after each column's log10; a column without spread gets std 1.
    pub fn refit(&self, rows: &[Vec<f64>]) -> Result<Self, WellError> {
        let shaped: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| {
                self.check_len(r.len())?;
                self.columns
                    .iter()
                    .zip(r)
                    .map(|(c, &v)| match (c.log10, v > 0.0) {
                        (true, false) => {
                            Err(WellError::Invalid { what: format!("label `{}` = {v}: log10 needs a positive value", c.name) })
                        }
                        (true, true) => Ok(v.log10()),
                        (false, _) => Ok(v),
                    })
                    .collect()
            })
            .collect::<Result<_, _>>()?;
        let n = shaped.len().max(1) as f64;
        let columns = self
            .columns
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let mean = shaped.iter().map(|r| r[j]).sum::<f64>() / n;
                let var = shaped.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n;
                let std = if var > 0.0 { var.sqrt() } else { 1.0 };
                col(&c.name, c.log10, mean, std)
            })
            .collect();
        Ok(Self { columns })
    }

    /// Column names.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// Raw parameter values (label column order) → standardised labels.
    pub fn forward(&self, raw: &[f64]) -> Result<Vec<f64>, WellError> {
        self.check_len(raw.len())?;
        let mut out = Vec::with_capacity(raw.len());
        for (c, &v) in self.columns.iter().zip(raw) {
            if c.log10 && v <= 0.0 {
                return Err(WellError::Invalid { what: format!("label `{}` = {v}: log10 needs a positive value", c.name) });
            }
            let f = if c.log10 { v.log10() } else { v };
            out.push((f - c.mean) / c.std);
        }
        Ok(out)
    }

    /// Standardised labels → raw parameter values.
    pub fn inverse(&self, z: &[f64]) -> Result<Vec<f64>, WellError> {
        self.check_len(z.len())?;
        Ok(self
            .columns
            .iter()
            .zip(z)
            .map(|(c, &v)| {
                let f = v * c.std + c.mean;
                if c.log10 {
                    10f64.powf(f)
                } else {
                    f
                }
            })
            .collect())
    }

    fn check_len(&self, n: usize) -> Result<(), WellError> {
        if n != self.columns.len() {
            return Err(WellError::Invalid { what: format!("expected {} label values ({:?}), got {n}", self.columns.len(), self.names()) });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Refit: the paper's log10 flags kept, train labels of mean 0 and population std 1 (Python:
    /// `statistics.fmean` / `pstdev` of `log10([1e4, 3e4, 1e5])` = 4.492374, 0.408391), a constant column
    /// gets std 1.
    #[test]
    fn refit_keeps_log10_and_standardises_the_train_values() {
        let paper = LabelTransform::paper("rayleigh_benard", &names(&["Prandtl", "Rayleigh"])).unwrap();
        let rows = vec![vec![1.0, 1e4], vec![1.0, 3e4], vec![1.0, 1e5]];
        let t = paper.refit(&rows).unwrap();
        assert!(t.columns[1].log10 && !t.columns[0].log10);
        assert!((t.columns[1].mean - 4.492_374).abs() < 1e-6 && (t.columns[1].std - 0.408_391).abs() < 1e-6, "{:?}", t.columns[1]);
        assert_eq!((t.columns[0].mean, t.columns[0].std), (1.0, 1.0));
        let z: Vec<f64> = rows.iter().map(|r| t.forward(r).unwrap()[1]).collect();
        assert!(z.iter().sum::<f64>().abs() < 1e-12);
        assert!((z.iter().map(|x| x * x).sum::<f64>() / 3.0 - 1.0).abs() < 1e-12);
        assert!(paper.refit(&[vec![1.0, -5.0]]).is_err(), "log10 of a negative value");
        assert_eq!(LabelScaling::from_attr(Some("train")), Ok(LabelScaling::Train));
        assert_eq!(LabelScaling::from_attr(None), Ok(LabelScaling::Paper));
        assert!(LabelScaling::from_attr(Some("Train")).is_err());
    }

    #[test]
    fn paper_constants_and_inverse() {
        let t = LabelTransform::paper("shear_flow", &names(&["Rayleigh", "Schmidt"])).unwrap();
        let z = t.forward(&[1e5, 2.0]).unwrap();
        assert!((z[0] - (5.0 - 4.85) / 0.61).abs() < 1e-12);
        assert!((z[1] - (2.0 - 2.69) / 3.38).abs() < 1e-12);
        let back = t.inverse(&z).unwrap();
        assert!((back[0] - 1e5).abs() < 1e-6 && (back[1] - 2.0).abs() < 1e-12);

        let t = LabelTransform::paper("rayleigh_benard", &names(&["Prandtl", "Rayleigh"])).unwrap();
        let z = t.forward(&[10.0, 1e10]).unwrap();
        assert!((z[0] - (10.0 - 2.69) / 3.38).abs() < 1e-12);
        assert!((z[1] - 2.0 / 1.41).abs() < 1e-12);

        let t = LabelTransform::paper("advection", &names(&["speed"])).unwrap();
        assert!((t.forward(&[1.0]).unwrap()[0] - (1.0 - 0.55) / 0.26).abs() < 1e-12);
        assert!(LabelTransform::paper("advection", &names(&["velocity"])).is_err());

        let t = LabelTransform::paper("active_matter", &names(&["alpha", "zeta"])).unwrap();
        // The grids' population means map to 0.
        assert_eq!(t.forward(&[-3.0, 9.0]).unwrap(), vec![0.0, 0.0]);
        assert!(t.forward(&[1.0]).is_err());
    }

    #[test]
    fn unknown_dataset_and_wrong_names_are_errors() {
        let e = LabelTransform::paper("gray_scott", &names(&["F", "k"])).unwrap_err();
        assert!(matches!(e, WellError::UnknownDataset { .. }), "{e}");
        assert!(e.to_string().contains("gray_scott"));
        assert!(LabelTransform::paper("active_matter", &names(&["zeta", "alpha"])).is_err());
        let t = LabelTransform::paper("shear_flow", &names(&["Reynolds", "Schmidt"])).unwrap();
        assert!(t.forward(&[-1.0, 1.0]).is_err());
    }

    #[test]
    fn from_values_standardises() {
        let t = LabelTransform::from_values(&names(&["a", "b"]), &[vec![1.0, 5.0], vec![3.0, 5.0]]);
        assert_eq!(t.forward(&[1.0, 5.0]).unwrap(), vec![-1.0, 0.0]);
        assert_eq!(t.forward(&[3.0, 7.0]).unwrap(), vec![1.0, 2.0]);
        assert_eq!(t.inverse(&[1.0, 2.0]).unwrap(), vec![3.0, 7.0]);
    }
}
