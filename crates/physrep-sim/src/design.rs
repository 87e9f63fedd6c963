//! Continuous parameter designs: `N` parameter points drawn by Latin hypercube inside the box a preset's
//! grid spans, split into train / valid / test **by parameter point**.
//!
//! # The box and the label space
//! The box of a system and preset is derived from the preset's own grid ([`System::param_grid`]): per
//! parameter, `[min, max]` of its grid values, so a design always draws from the ranges the preset's
//! simulator resolves. A parameter with a single grid value (active matter's `L`, a one-pattern Gray–Scott
//! preset) stays fixed at it. Sampling is uniform in *label space*, the space the probes regress in:
//! `log10` for the parameters whose paper label transform takes `log10` (`physrep_well::LabelTransform::paper`: shear
//! flow's Reynolds number, Rayleigh–Bénard's Rayleigh number), linear for all others (Prandtl, Schmidt,
//! active matter's α and ζ, advection's speed, and every parameter of a dataset without paper constants).
//!
//! # Latin hypercube
//! With `N` points and `d` varying parameters, each label-space axis is cut into `N` equal strata; per axis
//! a seeded permutation assigns the strata to the points, and each point sits uniformly at random inside its
//! stratum. Every stratum of every axis therefore holds exactly one point. Values are rounded to 6
//! significant digits (short file names, the scalar equal to the name), unless rounding would move a value
//! out of its stratum, in which case the exact value is kept. Same (system, preset, N, seed) → same points.
//!
//! # Splits
//! The points, not the trajectories, are split: a seeded shuffle puts `max(1, round(0.15·N))` points in
//! valid, as many in test, and the rest (≈ 70 %) in train; all [`System::ics_per_point`] trajectories of a
//! point go to that point's split file. Valid and test parameter values are never seen in training, so a
//! probe is tested on interpolation between training parameters. (Without a design, the generator keeps
//! The Well's split by initial condition: every parameter point in every split.)
//!
//! # Labels
//! The files are ordinary Well files, so the probes z-score the labels as for any dataset
//! (`physrep_well::LabelTransform`): in the paper's label space (log10 of Reynolds and Rayleigh, the other
//! parameters linear) with the paper's fixed constants (shear flow `(log10 Re − 4.85)/0.61`,
//! `(Sc − 2.69)/3.38`; Rayleigh–Bénard `(Pr − 2.69)/3.38`, `(log10 Ra − 8.0)/1.41`; active matter
//! `(α + 3.0)/1.41`, `(ζ − 9.0)/5.16`; advection `(speed − 0.55)/0.26`) for `medium`, and with the train
//! split's own mean and std for `tiny` and `small`, whose ranges are narrower than The Well's
//! (`generate::label_scaling`).
//!
//! # Files
//! Each point is one file per split it has trajectories in, named as The Well names files:
//! `<dataset>_<param>_<value>_<param>_<value>….hdf5` with every parameter in file order and values in
//! Python's float `repr` (e.g. `shear_flow_Reynolds_12345.6_Schmidt_2.5.hdf5`). The design is recorded in
//! `<dataset>/design.json` (see [`Design`]); generating another design, or a grid, into a directory that holds
//! one is an error instead of a silent mix of two datasets.

use std::path::Path;

use physrep_well::{LabelTransform, Split, WellError};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::generate::derive_seed;
use crate::system::{python_float_repr, ParamPoint, Preset, System};
use crate::SimError;

/// File name of the design record inside a dataset directory.
pub const DESIGN_FILE: &str = "design.json";

/// Fractions of the design's points in valid and in test (each at least one point); the rest is train.
pub const HELD_OUT_FRACTION: f64 = 0.15;

/// Significant digits of the sampled parameter values.
const SIGNIFICANT_DIGITS: i32 = 6;

/// A design request: `lhs:N`, a Latin hypercube of `N ≥ 3` points (one per split at least), or
/// `lhs:NxK`, the same points with `K ≥ 1` trajectories (initial conditions) each instead of the
/// preset's [`System::ics_per_point`]. The points depend on `N` (and system, preset, seed) only, and
/// trajectory `k` of a point is the same whatever `K`, so `lhs:120x2` is a subset of `lhs:120`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DesignSpec {
    pub points: usize,
    /// Trajectories per point (`None`: the preset's).
    pub ics: Option<usize>,
}

impl std::str::FromStr for DesignSpec {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        let bad = || {
            SimError::Options(format!(
                "--design `{s}`: expected lhs:N with N ≥ 3 (a Latin hypercube of N parameter points), or lhs:NxK with K ≥ 1 \
                 trajectories per point"
            ))
        };
        let rest = s.strip_prefix("lhs:").ok_or_else(bad)?;
        let (n, k) = match rest.split_once('x') {
            Some((n, k)) => (n, Some(k)),
            None => (rest, None),
        };
        let points: usize = n.trim().parse().map_err(|_| bad())?;
        let ics = k.map(|k| k.trim().parse::<usize>().map_err(|_| bad())).transpose()?;
        if points < 3 || ics == Some(0) {
            return Err(bad());
        }
        Ok(Self { points, ics })
    }
}

impl std::fmt::Display for DesignSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lhs:{}", self.points)?;
        match self.ics {
            Some(k) => write!(f, "x{k}"),
            None => Ok(()),
        }
    }
}

/// One parameter's range: `[min, max]` in raw units, sampled uniformly in `log10` when `log10` is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoxDim {
    pub name: String,
    pub min: f64,
    pub max: f64,
    pub log10: bool,
}

impl BoxDim {
    /// Whether the parameter is sampled (else fixed at `min`).
    pub fn varies(&self) -> bool {
        self.max > self.min
    }

    /// Raw value → label space.
    pub fn to_label(&self, v: f64) -> f64 {
        if self.log10 {
            v.log10()
        } else {
            v
        }
    }

    /// Label space → raw value.
    pub fn from_label(&self, x: f64) -> f64 {
        if self.log10 {
            10f64.powf(x)
        } else {
            x
        }
    }

    /// The stratum (`0..n`) of raw value `v` among `n` equal label-space strata, `None` outside the box.
    pub fn stratum(&self, v: f64, n: usize) -> Option<usize> {
        let (lo, hi) = (self.to_label(self.min), self.to_label(self.max));
        let f = (self.to_label(v) - lo) / (hi - lo);
        if !(0.0..=1.0).contains(&f) || !(self.min..=self.max).contains(&v) {
            return None;
        }
        Some(((f * n as f64).floor() as usize).min(n - 1))
    }
}

/// The box a design of `sys` at `preset` samples: per parameter (file order) the min..max of the preset's
/// grid, log10 where the dataset's paper label transform uses log10 (see the module docs).
pub fn param_box(sys: &dyn System, preset: Preset) -> Result<Vec<BoxDim>, SimError> {
    let grid = sys.param_grid(preset);
    let first = grid.first().ok_or_else(|| SimError::Options(format!("{}: the {} grid is empty", sys.name(), preset.name())))?;
    let names: Vec<&str> = first.params.iter().map(|(n, _)| n.as_str()).collect();
    let mut label_names: Vec<String> = names.iter().filter(|n| **n != "L").map(|n| n.to_string()).collect();
    label_names.sort();
    let transform = match LabelTransform::paper(sys.name(), &label_names) {
        Ok(t) => Some(t),
        Err(WellError::UnknownDataset { .. }) => None,
        Err(e) => return Err(SimError::Well(Box::new(e))),
    };
    let mut dims = Vec::with_capacity(names.len());
    for name in names {
        let values = grid
            .iter()
            .map(|p| {
                p.get(name).ok_or_else(|| SimError::Options(format!("{}: grid point {} lacks parameter `{name}`", sys.name(), p.file_name)))
            })
            .collect::<Result<Vec<f64>, _>>()?;
        let log10 = transform.as_ref().is_some_and(|t| t.columns.iter().any(|c| c.name == name && c.log10));
        let dim = BoxDim {
            name: name.to_string(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            log10,
        };
        if !(dim.min.is_finite() && dim.max.is_finite()) || (log10 && dim.min <= 0.0) {
            return Err(SimError::Options(format!(
                "{}: parameter `{name}` spans [{}, {}] in the {} grid, not a finite{} range",
                sys.name(),
                dim.min,
                dim.max,
                preset.name(),
                if log10 { " positive" } else { "" }
            )));
        }
        dims.push(dim);
    }
    Ok(dims)
}

/// A Latin hypercube of `n` points in `dims` dimensions: `out[i][d] = (stratum, u)` with `u` uniform in
/// `[stratum/n, (stratum+1)/n)`, and per dimension the strata of the `n` points a permutation of `0..n`.
pub fn latin_hypercube(n: usize, dims: usize, rng: &mut impl Rng) -> Vec<Vec<(usize, f64)>> {
    let mut out = vec![Vec::with_capacity(dims); n];
    for _ in 0..dims {
        let mut strata: Vec<usize> = (0..n).collect();
        strata.shuffle(rng);
        for (point, s) in out.iter_mut().zip(strata) {
            let u = (s as f64 + rng.random::<f64>()) / n as f64;
            point.push((s, u.min((s as f64 + 1.0) / n as f64 * (1.0 - f64::EPSILON))));
        }
    }
    out
}

/// `v` rounded to `digits` significant decimal digits, as the nearest double to that decimal.
fn round_significant(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let shift = digits - 1 - v.abs().log10().floor() as i32;
    // Powers of ten up to 1e22 are exact doubles, so one correctly rounded operation gives the nearest double.
    if shift >= 0 {
        let f = 10f64.powi(shift);
        (v * f).round() / f
    } else {
        let f = 10f64.powi(-shift);
        (v / f).round() * f
    }
}

/// The Well-style file name of a parameter point: `<dataset>_<name>_<repr(value)>…​.hdf5`.
pub fn well_file_name(dataset: &str, params: &[(String, f64)]) -> String {
    let mut name = dataset.to_string();
    for (n, v) in params {
        name.push_str(&format!("_{n}_{}", python_float_repr(*v)));
    }
    name + ".hdf5"
}

/// The split of each of `n ≥ 3` points: a seeded shuffle, then valid and test `max(1, round(0.15·n))` points
/// each, the rest train.
pub fn point_splits(n: usize, rng: &mut impl Rng) -> Result<Vec<Split>, SimError> {
    if n < 3 {
        return Err(SimError::Options(format!("a design of {n} points cannot give train, valid and test one point each")));
    }
    let held = ((n as f64 * HELD_OUT_FRACTION).round() as usize).max(1);
    let train = n - 2 * held;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let mut out = vec![Split::Train; n];
    for (rank, &i) in order.iter().enumerate() {
        out[i] = if rank < train {
            Split::Train
        } else if rank < train + held {
            Split::Valid
        } else {
            Split::Test
        };
    }
    Ok(out)
}

/// One point of a design and the split all its trajectories go to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DesignPoint {
    pub point: ParamPoint,
    pub split: Split,
}

/// A generated design, as recorded in `<dataset>/design.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Design {
    /// The Well dataset name of the system.
    pub system: String,
    pub preset: Preset,
    /// The request, `lhs:N` or `lhs:NxK`.
    pub design: String,
    /// The generator's global seed (also the design's).
    pub seed: u64,
    /// Trajectories per point, all in the point's split.
    pub ics_per_point: usize,
    /// The sampled box, per parameter in file order.
    #[serde(rename = "box")]
    pub bounds: Vec<BoxDim>,
    /// The points in design order (the order `--shard` indexes).
    pub points: Vec<DesignPoint>,
}

impl Design {
    /// The Latin-hypercube design `spec` of `sys` at `preset` with `seed` (see the module docs).
    pub fn lhs(sys: &dyn System, preset: Preset, spec: DesignSpec, seed: u64) -> Result<Self, SimError> {
        let n = spec.points;
        let bounds = param_box(sys, preset)?;
        let varying: Vec<usize> = (0..bounds.len()).filter(|&d| bounds[d].varies()).collect();
        if varying.is_empty() {
            return Err(SimError::Options(format!(
                "{}: every parameter of the {} grid has a single value, so there is no box to design in",
                sys.name(),
                preset.name()
            )));
        }
        let tag = spec.to_string();
        // The points are drawn from `lhs:N` alone, whatever the trajectories per point.
        let points_tag = DesignSpec { ics: None, ..spec }.to_string();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(derive_seed(seed, &[sys.name(), preset.name(), &points_tag], 0));
        let cube = latin_hypercube(n, varying.len(), &mut rng);
        let splits = point_splits(n, &mut rng)?;
        let mut points = Vec::with_capacity(n);
        let mut names = std::collections::HashSet::new();
        for (cell, split) in cube.into_iter().zip(splits) {
            let mut params: Vec<(String, f64)> = bounds.iter().map(|b| (b.name.clone(), b.min)).collect();
            for (&d, (stratum, u)) in varying.iter().zip(cell) {
                let b = &bounds[d];
                let (lo, hi) = (b.to_label(b.min), b.to_label(b.max));
                let exact = b.from_label(lo + u * (hi - lo));
                let centre = b.from_label(lo + (stratum as f64 + 0.5) / n as f64 * (hi - lo));
                params[d].1 = [round_significant(exact, SIGNIFICANT_DIGITS), exact, centre]
                    .into_iter()
                    .find(|&v| b.stratum(v, n) == Some(stratum))
                    .unwrap_or(centre);
            }
            let file_name = well_file_name(sys.name(), &params);
            if !names.insert(file_name.clone()) {
                return Err(SimError::Options(format!("{}: design {tag} gives the file name {file_name} twice", sys.name())));
            }
            points.push(DesignPoint { point: ParamPoint { params, file_name }, split });
        }
        let ics_per_point = spec.ics.unwrap_or_else(|| sys.ics_per_point(preset));
        Ok(Self { system: sys.name().to_string(), preset, design: tag, seed, ics_per_point, bounds, points })
    }

    /// The IC indices per split (train, valid, test) of point `index`: all of them in the point's split.
    pub fn ics(&self, index: usize) -> [Vec<usize>; 3] {
        let mut out: [Vec<usize>; 3] = Default::default();
        out[self.points[index].split as usize] = (0..self.ics_per_point).collect();
        out
    }

    /// The record written to `design.json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a design serialises") + "\n"
    }
}

/// Checks that the dataset directory `root` may receive the files of `design` (`None`: the preset's grid),
/// and records the design there. A design goes only into a directory without Well files or with the same
/// `design.json`; a grid only into one without `design.json`. Written atomically, so concurrent shards agree.
pub fn record(root: &Path, design: Option<&Design>) -> Result<(), SimError> {
    let path = root.join(DESIGN_FILE);
    let io = |e: std::io::Error| SimError::Well(Box::new(WellError::Io { path: path.clone(), source: e }));
    let existing = match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(e)),
    };
    let describe = |json: &str| match serde_json::from_str::<Design>(json) {
        Ok(d) => format!("design {} with seed {} at preset {}", d.design, d.seed, d.preset.name()),
        Err(e) => format!("an unreadable design ({e})"),
    };
    match (design, existing) {
        (None, None) => Ok(()),
        (None, Some(old)) => Err(SimError::Options(format!(
            "{} holds {}: generating the preset's grid there would mix two datasets (use another --out)",
            path.display(),
            describe(&old)
        ))),
        (Some(d), Some(old)) => {
            let new = d.to_json();
            if old == new {
                Ok(())
            } else {
                Err(SimError::Options(format!(
                    "{} holds {}, not {}: use another --out, or the same design, seed and preset to resume",
                    path.display(),
                    describe(&old),
                    describe(&new)
                )))
            }
        }
        (Some(d), None) => {
            let data = root.join("data");
            let existing = if data.is_dir() { physrep_well::list_h5(&data).map_err(|e| SimError::Well(Box::new(e)))? } else { Vec::new() };
            if let Some(file) = existing.first() {
                return Err(SimError::Options(format!(
                    "{} already holds Well files without a {DESIGN_FILE} (e.g. {}): a design there would mix two datasets (use another --out)",
                    root.display(),
                    file.display()
                )));
            }
            Ok(physrep_core::write_atomic(&path, d.to_json().as_bytes())?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rayleigh_benard::RayleighBenard;
    use crate::shear_flow::ShearFlow;

    #[test]
    fn spec_parses_and_rejects_bad_input() {
        assert_eq!("lhs:48".parse::<DesignSpec>().unwrap(), DesignSpec { points: 48, ics: None });
        assert_eq!("lhs:120x2".parse::<DesignSpec>().unwrap(), DesignSpec { points: 120, ics: Some(2) });
        assert_eq!(DesignSpec { points: 7, ics: None }.to_string(), "lhs:7");
        assert_eq!(DesignSpec { points: 7, ics: Some(3) }.to_string(), "lhs:7x3");
        for bad in ["lhs:2", "lhs:x", "grid:4", "48", "lhs:", "lhs:9x0", "lhs:9x", "lhs:9xy"] {
            let e = bad.parse::<DesignSpec>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    /// Every one of the n strata of every axis holds exactly one point, independently of the sampler.
    #[test]
    fn latin_hypercube_hits_every_stratum_once() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for (n, dims) in [(1, 2), (7, 1), (48, 3)] {
            let cube = latin_hypercube(n, dims, &mut rng);
            assert_eq!(cube.len(), n);
            for d in 0..dims {
                let mut hits = vec![0; n];
                for p in &cube {
                    let (s, u) = p[d];
                    assert!((0.0..1.0).contains(&u), "{u}");
                    assert_eq!((u * n as f64).floor() as usize, s, "u {u} outside its stratum {s}/{n}");
                    hits[s] += 1;
                }
                assert!(hits.iter().all(|&h| h == 1), "{hits:?}");
            }
        }
    }

    #[test]
    fn rounding_keeps_significant_digits() {
        assert_eq!(round_significant(12345.6789, 6), 12345.7);
        assert_eq!(round_significant(0.000123456789, 6), 0.000123457);
        assert_eq!(round_significant(-7.65432198, 6), -7.65432);
        assert_eq!(round_significant(123456789.0, 6), 123457000.0);
        assert_eq!(python_float_repr(round_significant(0.1 + 0.2, 6)), "0.3");
    }

    #[test]
    fn file_names_follow_the_well_and_stay_unique() {
        let p = [("Reynolds".to_string(), 12345.6), ("Schmidt".to_string(), 2.0)];
        assert_eq!(well_file_name("shear_flow", &p), "shear_flow_Reynolds_12345.6_Schmidt_2.0.hdf5");
        let q = [("Reynolds".to_string(), 12345.7), ("Schmidt".to_string(), 2.0)];
        assert_ne!(well_file_name("shear_flow", &p), well_file_name("shear_flow", &q));
        // Active matter's grid names are of this form already.
        let am = [("L".to_string(), 10.0), ("zeta".to_string(), 1.0), ("alpha".to_string(), -3.0)];
        assert_eq!(well_file_name("active_matter", &am), crate::active_matter::file_name(1.0, -3.0));
    }

    /// The box is the grid's min..max per parameter; log10 exactly where the paper's labels use it.
    #[test]
    fn box_comes_from_the_grid_and_the_label_transform() {
        for preset in Preset::ALL {
            let grid = RayleighBenard.param_grid(preset);
            let b = param_box(&RayleighBenard, preset).unwrap();
            assert_eq!(b.iter().map(|d| (d.name.as_str(), d.log10)).collect::<Vec<_>>(), [("Rayleigh", true), ("Prandtl", false)]);
            for d in &b {
                let v: Vec<f64> = grid.iter().map(|p| p.get(&d.name).unwrap()).collect();
                assert!(v.iter().all(|&x| (d.min..=d.max).contains(&x)));
                assert!(v.contains(&d.min) && v.contains(&d.max));
            }
        }
        let b = param_box(&ShearFlow, Preset::Small).unwrap();
        assert_eq!(b.iter().map(|d| (d.name.as_str(), d.log10)).collect::<Vec<_>>(), [("Reynolds", true), ("Schmidt", false)]);
        let b = param_box(&crate::active_matter::ActiveMatter, Preset::Small).unwrap();
        assert_eq!(b[0].name, "L");
        assert!(!b[0].varies() && b.iter().all(|d| !d.log10));
        let b = param_box(&crate::gray_scott::GrayScott, Preset::Medium).unwrap();
        assert!(b.iter().all(|d| d.varies() && !d.log10));
    }

    /// Values inside the box, one per stratum per varying axis (log-spaced strata where log10), fixed
    /// parameters fixed, seeded, and a partition of the points into the three splits.
    #[test]
    fn lhs_design_covers_its_box_and_splits_by_point() {
        let n = 20;
        for sys in [&RayleighBenard as &dyn System, &crate::active_matter::ActiveMatter] {
            let d = Design::lhs(sys, Preset::Small, DesignSpec { points: n, ics: None }, 4).unwrap();
            assert_eq!(d.points.len(), n);
            for b in &d.bounds {
                let v: Vec<f64> = d.points.iter().map(|p| p.point.get(&b.name).unwrap()).collect();
                if !b.varies() {
                    assert!(v.iter().all(|&x| x == b.min), "{}", b.name);
                    continue;
                }
                // Independent strata: equal steps in log10 (or linear) units of the box.
                let (lo, hi) = if b.log10 { (b.min.log10(), b.max.log10()) } else { (b.min, b.max) };
                let mut hits = vec![0; n];
                for &x in &v {
                    assert!(x >= b.min && x <= b.max, "{} = {x} outside [{}, {}]", b.name, b.min, b.max);
                    let t = if b.log10 { x.log10() } else { x };
                    hits[(((t - lo) / (hi - lo)) * n as f64).floor() as usize] += 1;
                }
                assert!(hits.iter().all(|&h| h == 1), "{}: {hits:?}", b.name);
            }
            let mut names: Vec<&str> = d.points.iter().map(|p| p.point.file_name.as_str()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n);
            let counts = Split::ALL.map(|s| d.points.iter().filter(|p| p.split == s).count());
            assert_eq!(counts, [14, 3, 3]);
            for (i, p) in d.points.iter().enumerate() {
                let ics = d.ics(i);
                assert_eq!(ics[p.split as usize], (0..sys.ics_per_point(Preset::Small)).collect::<Vec<_>>());
                assert_eq!(ics.iter().map(Vec::len).sum::<usize>(), sys.ics_per_point(Preset::Small));
            }
            assert_eq!(d, Design::lhs(sys, Preset::Small, DesignSpec { points: n, ics: None }, 4).unwrap());
            assert_ne!(d.points, Design::lhs(sys, Preset::Small, DesignSpec { points: n, ics: None }, 5).unwrap().points);
        }
        // The smallest design: one point per split.
        let d = Design::lhs(&ShearFlow, Preset::Tiny, DesignSpec { points: 3, ics: None }, 0).unwrap();
        assert_eq!(Split::ALL.map(|s| d.points.iter().filter(|p| p.split == s).count()), [1, 1, 1]);
    }

    #[test]
    fn a_box_without_range_is_an_error() {
        let e = Design::lhs(&crate::gray_scott::GrayScott, Preset::Tiny, DesignSpec { points: 4, ics: None }, 0).unwrap_err();
        assert!(e.to_string().contains("single value"), "{e}");
    }

    #[test]
    fn record_refuses_to_mix_datasets() {
        let root = std::env::temp_dir().join(format!("physrep-design-record-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let d = Design::lhs(&ShearFlow, Preset::Tiny, DesignSpec { points: 4, ics: None }, 0).unwrap();
        record(&root, None).unwrap();
        record(&root, Some(&d)).unwrap();
        record(&root, Some(&d)).unwrap();
        let back: Design = serde_json::from_str(&std::fs::read_to_string(root.join(DESIGN_FILE)).unwrap()).unwrap();
        assert_eq!(back.design, "lhs:4");
        assert_eq!(back.points.len(), 4);
        let other = Design::lhs(&ShearFlow, Preset::Tiny, DesignSpec { points: 4, ics: None }, 1).unwrap();
        let e = record(&root, Some(&other)).unwrap_err().to_string();
        assert!(e.contains("seed 0") && e.contains("seed 1"), "{e}");
        let e = record(&root, None).unwrap_err().to_string();
        assert!(e.contains("grid"), "{e}");
        // A grid dataset's directory refuses a design.
        std::fs::remove_file(root.join(DESIGN_FILE)).unwrap();
        std::fs::create_dir_all(root.join("data/train")).unwrap();
        std::fs::write(root.join("data/train/x.hdf5"), b"").unwrap();
        let e = record(&root, Some(&d)).unwrap_err().to_string();
        assert!(e.contains("x.hdf5"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
