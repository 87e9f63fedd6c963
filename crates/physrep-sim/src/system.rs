//! The contract every simulated system implements, and the in-memory trajectory it produces.
//!
//! A [`System`] describes one Well dataset: its parameter grid (one file per [`ParamPoint`]), the file layout
//! for a [`Preset`] (grid, frame times, fields, boundary conditions, solver attributes) and how to simulate one
//! trajectory from a parameter point and an initial-condition index with a deterministic seed. The generator
//! (`crate::generate`) owns splitting, parallelism, file writing and resumption.

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::SimError;

/// Size/cost preset of a generated dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// For tests: small grids, few frames and files, seconds per system.
    Tiny,
    /// The default CPU pipeline: minutes per system on 2 cores.
    #[default]
    Small,
    /// ≈ MiniWell resolution with The Well's frame cadence and counts.
    Medium,
}

impl Preset {
    /// Every preset, smallest first.
    pub const ALL: [Preset; 3] = [Preset::Tiny, Preset::Small, Preset::Medium];

    /// Lower-case name (`tiny`, `small`, `medium`).
    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Small => "small",
            Preset::Medium => "medium",
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| SimError::Options(format!("unknown preset `{s}` (expected tiny, small or medium)")))
    }
}

/// One PDE-parameter set = one file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamPoint {
    /// Parameters in file order, named as written in `scalars/` and the root attributes.
    pub params: Vec<(String, f64)>,
    /// The Well's file name for this point (docs/well-format.md §1), e.g. `shear_flow_Reynolds_1e4_Schmidt_1e0.hdf5`.
    pub file_name: String,
}

impl ParamPoint {
    /// The value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The value of parameter `name`, or an error naming `system`, the parameter and this point.
    pub fn require(&self, system: &str, name: &str) -> Result<f64, SimError> {
        self.get(name)
            .ok_or_else(|| SimError::Options(format!("{system}: parameter `{name}` missing in {} ({})", self.file_name, self.describe())))
    }

    /// `name=value, …` for error messages.
    pub fn describe(&self) -> String {
        self.params.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(", ")
    }
}

pub use physrep_well::write::{BcKind as BoundaryKind, BoundarySpec as Boundary, FieldSpec};

/// Everything about a file that does not depend on the trajectory.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// `dataset_name` root attribute (also the directory name).
    pub dataset_name: String,
    /// Frame times (length T), frame k at exactly k·Δt_out.
    pub time: Vec<f64>,
    /// Output x coordinates (length nx).
    pub x: Vec<f64>,
    /// Output y coordinates (length ny).
    pub y: Vec<f64>,
    pub boundaries: Vec<Boundary>,
    /// Fields in file order (t0 fields first, then t1, then t2; build with `FieldSpec::new(name, order)`).
    pub fields: Vec<FieldSpec>,
    /// Extra root attributes: generator, solver settings, departures from the original data.
    pub attrs: Vec<(String, String)>,
}

/// One simulated trajectory: per field (in [`Layout::fields`] order) an array `(T, nx, ny[, 2[, 2]])`.
#[derive(Clone, Debug)]
pub struct Trajectory {
    pub fields: Vec<ArrayD<f32>>,
    /// Initial-condition parameters (not part of Well files; written as extra attributes when possible).
    pub ic_params: Vec<(String, f64)>,
}

/// A simulated physical system (one Well dataset).
pub trait System: Sync {
    /// The Well's dataset name, e.g. `shear_flow`.
    fn name(&self) -> &'static str;

    /// The parameter points (files) generated for `preset`, in a fixed order.
    fn param_grid(&self, preset: Preset) -> Vec<ParamPoint>;

    /// Number of initial conditions (trajectories) per parameter point for `preset`.
    fn ics_per_point(&self, preset: Preset) -> usize;

    /// Trajectories per file for (train, valid, test); must sum to [`System::ics_per_point`]. Default: The
    /// Well's 80/10/10 rounded, with at least one trajectory in each split.
    fn split_counts(&self, preset: Preset) -> [usize; 3] {
        let n = self.ics_per_point(preset);
        let v = ((n as f64) * 0.1).round().max(1.0) as usize;
        let t = v;
        [n.saturating_sub(v + t), v, t]
    }

    /// The file layout (identical for every file of the dataset) for `preset`.
    fn layout(&self, preset: Preset) -> Layout;

    /// Simulates trajectory `ic` (0-based initial-condition index) of parameter point `p`; `seed` is the
    /// trajectory's deterministic RNG seed. Same inputs → bit-identical output.
    fn simulate(&self, p: &ParamPoint, ic: usize, seed: u64, preset: Preset) -> Result<Trajectory, SimError>;
}

/// Formats a float as Python's `repr` does for the values used in Well file names (`10.0`, `-3.0`, `0.098`).
pub fn python_float_repr(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Formats a positive parameter in The Well's short scientific form: `1e4`, `5e-1`, `1e0` (mantissa an integer).
pub fn well_sci(v: f64) -> String {
    let e = v.abs().log10().floor() as i32;
    let m = (v / 10f64.powi(e)).round() as i64;
    format!("{m}e{e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_sci_matches_file_names() {
        assert_eq!(well_sci(1e4), "1e4");
        assert_eq!(well_sci(5e5), "5e5");
        assert_eq!(well_sci(0.2), "2e-1");
        assert_eq!(well_sci(1.0), "1e0");
        assert_eq!(well_sci(10.0), "1e1");
        assert_eq!(well_sci(1e10), "1e10");
    }

    #[test]
    fn python_repr_matches_well_names() {
        assert_eq!(python_float_repr(10.0), "10.0");
        assert_eq!(python_float_repr(-3.0), "-3.0");
        assert_eq!(python_float_repr(0.098), "0.098");
        assert_eq!(python_float_repr(0.03), "0.03");
    }

    #[test]
    fn require_names_the_system_parameter_and_file() {
        let p = ParamPoint { params: vec![("Rayleigh".into(), 1e6)], file_name: "rb.hdf5".into() };
        assert_eq!(p.require("rayleigh_benard", "Rayleigh").unwrap(), 1e6);
        let e = p.require("rayleigh_benard", "Prandtl").unwrap_err().to_string();
        assert!(e.contains("rayleigh_benard") && e.contains("Prandtl") && e.contains("rb.hdf5"), "{e}");
    }

    #[test]
    fn presets_parse() {
        assert_eq!("tiny".parse::<Preset>().unwrap(), Preset::Tiny);
        assert!("huge".parse::<Preset>().is_err());
    }
}
