//! Probe results: `results.json` (machine-readable, byte-deterministic for a fixed seed) and
//! `results.md` (tables with the predict-the-mean floor beside every number).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::metrics::Scores;

/// Scores of one fitted probe on one training subset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// `attentive`, `attentive4`, `linear`, `knn`.
    pub probe: String,
    /// Fraction of the probe training windows used.
    pub fraction: f64,
    pub train_windows: usize,
    /// Hyperparameters in effect (selected on valid where the probe selects).
    pub hyper: BTreeMap<String, f64>,
    /// Valid scores of the reported (selected) probe: final epoch for frozen probes, the best-valid
    /// epoch for `finetune`.
    pub valid: Scores,
    pub test: Option<Scores>,
    /// 95 % interval of the test mean MSE, from a bootstrap over test trajectories (see
    /// [`crate::bootstrap`]); filled in by [`crate::probe_run`].
    #[serde(default)]
    pub test_ci95: Option<[f64; 2]>,
    /// Predict-the-train-mean floor for the same training subset.
    pub floor_valid: Scores,
    pub floor_test: Option<Scores>,
    /// Paper protocol (default lr/wd, final epoch, valid) — attentive probes only.
    pub paper_protocol_valid: Option<Scores>,
    /// Every sweep point (attentive probes only).
    pub sweep: Vec<SweepPoint>,
    /// Per-epoch mean training loss and valid MSE of the reported probe (iterative probes), or the
    /// valid MSE per candidate (ridge λ / kNN k).
    pub train_loss: Vec<f64>,
    pub valid_curve: Vec<f64>,
}

/// One lr × wd point of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    pub lr: f64,
    pub weight_decay: f64,
    pub valid_mean: f64,
    pub test_mean: Option<f64>,
    pub selected: bool,
}

/// Everything `physrep probe` reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// What was probed (run directory name and method, or a random-init description).
    pub encoder: String,
    pub dataset: String,
    /// Label column names (paper order), e.g. `["alpha", "zeta"]`.
    pub label_names: Vec<String>,
    /// Windows per split actually embedded.
    pub windows: BTreeMap<String, usize>,
    /// The resolved options (protocol record).
    pub options: serde_json::Value,
    pub results: Vec<ProbeResult>,
}

fn fmt_scores(s: Option<&Scores>, p: usize) -> Vec<String> {
    match s {
        Some(s) => s.per_param.iter().map(|v| format!("{v:.4}")).chain([format!("**{:.4}**", s.mean)]).collect(),
        None => vec!["–".to_string(); p + 1],
    }
}

impl ProbeReport {
    /// Write `results.json` (pretty, trailing newline) atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), EvalError> {
        let mut s = serde_json::to_string_pretty(self).map_err(|source| EvalError::Json { path: path.to_path_buf(), source })?;
        s.push('\n');
        Ok(physrep_core::write_atomic(path, s.as_bytes())?)
    }

    /// Read a `results.json`.
    pub fn read_json(path: &Path) -> Result<Self, EvalError> {
        let text = std::fs::read_to_string(path).map_err(EvalError::io(path))?;
        serde_json::from_str(&text).map_err(|source| EvalError::Json { path: path.to_path_buf(), source })
    }

    /// The Markdown summary.
    pub fn to_markdown(&self) -> String {
        let p = self.label_names.len();
        let mut md = String::new();
        let _ = writeln!(md, "# Probe results: {} on {}\n", self.encoder, self.dataset);
        let windows: Vec<String> = self.windows.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(md, "Windows embedded: {}. MSE on z-scored labels (1.0 ≈ predicting the grid mean); \"floor\" = predict the training-subset mean label. Reported epoch: final for frozen probes; `finetune` (end-to-end fine-tuning): the epoch of lowest valid MSE (`best_epoch`, 0-based).\n", windows.join(", "));
        let mut header = vec!["probe".to_string(), "fraction".into(), "train windows".into()];
        for split in ["valid", "test"] {
            header.extend(self.label_names.iter().map(|n| format!("{split} {n}")));
            header.push(format!("{split} mean"));
        }
        header.extend(["floor valid".to_string(), "floor test".into(), "paper protocol (valid)".into(), "hyperparameters".into()]);
        let _ = writeln!(md, "| {} |", header.join(" | "));
        let _ = writeln!(md, "|{}|", vec!["---"; header.len()].join("|"));
        for r in &self.results {
            let mut row = vec![r.probe.clone(), format!("{}", r.fraction), r.train_windows.to_string()];
            row.extend(fmt_scores(Some(&r.valid), p));
            row.extend(fmt_scores(r.test.as_ref(), p));
            row.push(format!("{:.4}", r.floor_valid.mean));
            row.push(r.floor_test.as_ref().map_or("–".into(), |s| format!("{:.4}", s.mean)));
            row.push(r.paper_protocol_valid.as_ref().map_or("–".into(), |s| format!("{:.4}", s.mean)));
            let hyper: Vec<String> = r.hyper.iter().map(|(k, v)| format!("{k}={v}")).collect();
            row.push(hyper.join(", "));
            let _ = writeln!(md, "| {} |", row.join(" | "));
        }
        let sweeps: Vec<&ProbeResult> = self.results.iter().filter(|r| !r.sweep.is_empty()).collect();
        if !sweeps.is_empty() {
            let _ = writeln!(md, "\n## Attentive-probe sweeps (final-epoch mean MSE; selected on valid)\n");
            let _ = writeln!(md, "| probe | fraction | lr | weight decay | valid | test | selected |\n|---|---|---|---|---|---|---|");
            for r in sweeps {
                for s in &r.sweep {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {:e} | {} | {:.4} | {} | {} |",
                        r.probe,
                        r.fraction,
                        s.lr,
                        s.weight_decay,
                        s.valid_mean,
                        s.test_mean.map_or("–".into(), |v| format!("{v:.4}")),
                        if s.selected { "✓" } else { "" }
                    );
                }
            }
        }
        md
    }

    /// Write `results.md` atomically.
    pub fn write_markdown(&self, path: &Path) -> Result<(), EvalError> {
        Ok(physrep_core::write_atomic(path, self.to_markdown().as_bytes())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(a: f64, b: f64) -> Scores {
        Scores { per_param: vec![a, b], mean: (a + b) / 2.0 }
    }

    #[test]
    fn json_round_trip_and_markdown() {
        let report = ProbeReport {
            encoder: "run-x (jepa)".into(),
            dataset: "active_matter".into(),
            label_names: vec!["alpha".into(), "zeta".into()],
            windows: [("train".to_string(), 10), ("valid".to_string(), 4)].into(),
            options: serde_json::json!({"seed": 42}),
            results: vec![ProbeResult {
                probe: "attentive".into(),
                fraction: 1.0,
                train_windows: 10,
                hyper: [("lr".to_string(), 1e-3)].into(),
                valid: scores(0.1, 0.3),
                test: None,
                test_ci95: None,
                floor_valid: scores(1.0, 1.1),
                floor_test: None,
                paper_protocol_valid: Some(scores(0.2, 0.3)),
                sweep: vec![SweepPoint { lr: 1e-3, weight_decay: 0.01, valid_mean: 0.2, test_mean: None, selected: true }],
                train_loss: vec![1.0, 0.5],
                valid_curve: vec![0.9, 0.2],
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        report.write_json(&path).unwrap();
        assert_eq!(ProbeReport::read_json(&path).unwrap(), report);
        let md = report.to_markdown();
        assert!(md.contains("| attentive | 1 | 10 | 0.1000 | 0.3000 | **0.2000** | – | – | – | 1.0500 | – | 0.2500 | lr=0.001 |"), "{md}");
        assert!(md.contains("valid alpha"));
    }
}
