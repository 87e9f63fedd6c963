//! Learning curves: how a frozen representation's probe MSE moves with pretraining updates, so a user
//! sees when (or whether) pretraining improves on the initial weights and when it saturates.
//!
//! Point `u` probes the run's weights after `u` optimiser updates: its own initial weights for `u = 0`
//! (`RUN/init.mpk`), then every kept checkpoint (`RUN/checkpoints/update-…`, written every
//! `train.checkpoint_every` updates and at the end; `train.keep_checkpoints=0` keeps them all). Every point
//! runs the same probes on the same windows (default ridge, the cheapest and least tuned), into
//! `RUN/probe-init` and `RUN/probe-update-<u>`, reusing their cached features on a rerun. The curve, valid
//! and test MSE of each probe at its largest training fraction against `u` with the predict-the-mean floor,
//! goes to `RUN/learning-curve.json` and `RUN/learning-curve.png`. With `out_dir = DIR` everything goes
//! under `DIR` instead (`DIR/update-<u>/`, `DIR/learning-curve.{json,png}`), apart from probes of the
//! same run written elsewhere (what `physrep reproduce` does).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::plots::{line_curves, Curve};
use crate::report::ProbeReport;
use crate::run::{probe_run, ProbeOptions};

/// One probe at one point of the curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Optimiser updates before the probed weights (0: the initial weights).
    pub update: u64,
    pub probe: String,
    pub valid_mse: f64,
    pub test_mse: Option<f64>,
}

/// A run's learning curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearningCurve {
    pub run: PathBuf,
    pub points: Vec<CurvePoint>,
    /// Predict-the-train-mean floor (the same at every point).
    pub floor_valid: f64,
    pub floor_test: Option<f64>,
}

/// The updates a learning curve of `run_dir` probes: 0 and every kept checkpoint.
pub fn curve_updates(run_dir: &Path) -> Result<Vec<u64>, EvalError> {
    let kept = physrep_train::checkpoint_updates(run_dir).map_err(|e| EvalError::Config(format!("{}: {e}", run_dir.display())))?;
    Ok(std::iter::once(0).chain(kept.into_iter().filter(|&u| u > 0)).collect())
}

/// Probe every point of `opts.run_dir`'s learning curve with `opts`' probes (its `own_init`,
/// `random_init`, `checkpoint` and `out_dir` are set per point) and write the curve into the run.
pub fn learning_curve(opts: &ProbeOptions) -> Result<LearningCurve, EvalError> {
    if opts.random_init || opts.own_init || opts.checkpoint.is_some() {
        return Err(EvalError::Config("a learning curve chooses the weights of each point itself".into()));
    }
    let mut points = Vec::new();
    let mut floor = (f64::NAN, None);
    for update in curve_updates(&opts.run_dir)? {
        let point = ProbeOptions {
            own_init: update == 0,
            checkpoint: (update > 0).then_some(update),
            out_dir: opts.out_dir.as_ref().map(|d| d.join(format!("update-{update}"))),
            ..opts.clone()
        };
        let report = probe_run(&point)?;
        for (probe, r) in largest_fraction(&report) {
            floor = (r.floor_valid.mean, r.floor_test.as_ref().map(|s| s.mean));
            points.push(CurvePoint { update, probe, valid_mse: r.valid.mean, test_mse: r.test.as_ref().map(|s| s.mean) });
        }
    }
    let curve = LearningCurve { run: opts.run_dir.clone(), points, floor_valid: floor.0, floor_test: floor.1 };
    let root = opts.out_dir.as_ref().unwrap_or(&opts.run_dir);
    let json = root.join("learning-curve.json");
    let mut text = serde_json::to_string_pretty(&curve).map_err(|source| EvalError::Json { path: json.clone(), source })?;
    text.push('\n');
    physrep_core::write_atomic(&json, text.as_bytes())?;
    if opts.plots {
        curve.plot(&root.join("learning-curve.png"))?;
    }
    Ok(curve)
}

/// Each probe kind's result at its largest training fraction.
fn largest_fraction(report: &ProbeReport) -> Vec<(String, &crate::report::ProbeResult)> {
    let mut kinds: Vec<&str> = report.results.iter().map(|r| r.probe.as_str()).collect();
    kinds.sort();
    kinds.dedup();
    kinds
        .into_iter()
        .filter_map(|k| {
            report.results.iter().filter(|r| r.probe == k).max_by(|a, b| a.fraction.total_cmp(&b.fraction)).map(|r| (k.to_string(), r))
        })
        .collect()
}

impl LearningCurve {
    /// Valid (and test) MSE per probe against updates, with the floor.
    pub fn plot(&self, path: &Path) -> Result<(), EvalError> {
        let mut probes: Vec<&str> = self.points.iter().map(|p| p.probe.as_str()).collect();
        probes.sort();
        probes.dedup();
        let xs: Vec<f64> = self.points.iter().map(|p| p.update as f64).collect();
        let span =
            |y: f64| vec![(xs.iter().copied().fold(f64::INFINITY, f64::min), y), (xs.iter().copied().fold(f64::NEG_INFINITY, f64::max), y)];
        let mut curves = Vec::new();
        for probe in probes {
            let of = |f: &dyn Fn(&CurvePoint) -> Option<f64>| -> Vec<(f64, f64)> {
                self.points.iter().filter(|p| p.probe == probe).filter_map(|p| f(p).map(|y| (p.update as f64, y))).collect()
            };
            curves.push(Curve { name: format!("{probe} valid"), points: of(&|p| Some(p.valid_mse)) });
            let test = of(&|p| p.test_mse);
            if !test.is_empty() {
                curves.push(Curve { name: format!("{probe} test"), points: test });
            }
        }
        curves.push(Curve { name: "floor (valid)".into(), points: span(self.floor_valid) });
        let title =
            format!("{}: probe MSE against pretraining updates", self.run.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
        line_curves(path, &title, "optimiser updates (0 = initial weights)", "MSE (z-scored)", &curves, false)
    }
}
