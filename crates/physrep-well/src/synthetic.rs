//! Synthetic Well-layout datasets written with [`crate::write`]: smooth separable travelling waves
//! (`u(t, x, y) = f_t(x)·g_t(y) + offset`, a few random Fourier modes per factor) with the real
//! datasets' names, fields, parameters and boundaries. For benchmarks and for tests of downstream
//! crates that need data shaped like The Well without downloading it; not physics.

use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dataset::Split;
use crate::error::WellError;
use crate::write::{BcKind, BoundarySpec, FieldSpec, TrajectoryFields, WellFileHeader, WellFileWriter};

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticSpec {
    /// One of `active_matter`, `shear_flow`, `rayleigh_benard` (fields, parameters and BCs follow it).
    pub dataset_name: String,
    /// Files per split (`[train, valid, test]`; 0 omits the split folder).
    pub files: [usize; 3],
    pub trajectories_per_file: usize,
    pub frames: usize,
    /// Grid `[nx, ny]`.
    pub grid: [usize; 2],
    pub seed: u64,
}

struct Layout {
    fields: Vec<FieldSpec>,
    params: Vec<(&'static str, Vec<f64>)>,
    y_wall: bool,
}

fn layout(name: &str) -> Result<Layout, WellError> {
    let f = |n: &str, o: usize| FieldSpec::new(n, o);
    Ok(match name {
        "active_matter" => Layout {
            fields: vec![f("concentration", 0), f("velocity", 1), f("D", 2), f("E", 2)],
            params: vec![
                ("L", vec![10.0]),
                ("zeta", vec![1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0, 17.0]),
                ("alpha", vec![-1.0, -2.0, -3.0, -4.0, -5.0]),
            ],
            y_wall: false,
        },
        "shear_flow" => Layout {
            fields: vec![f("tracer", 0), f("pressure", 0), f("velocity", 1)],
            params: vec![("Reynolds", vec![1e4, 5e4, 1e5, 5e5]), ("Schmidt", vec![0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0])],
            y_wall: false,
        },
        "rayleigh_benard" => Layout {
            fields: vec![f("buoyancy", 0), f("pressure", 0), f("velocity", 1)],
            params: vec![("Rayleigh", vec![1e6, 1e7, 1e8, 1e9, 1e10]), ("Prandtl", vec![0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0])],
            y_wall: true,
        },
        other => return Err(WellError::UnknownDataset { name: other.into(), what: "synthetic layout".into() }),
    })
}

/// Writes `<dir>/data/<split>/<name>_<k>.hdf5` for every requested file and returns the paths.
pub fn write_dataset(dir: &Path, spec: &SyntheticSpec) -> Result<Vec<PathBuf>, WellError> {
    let lay = layout(&spec.dataset_name)?;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let [nx, ny] = spec.grid;
    let mut paths = Vec::new();
    let mut file_no = 0usize;
    for (si, split) in Split::ALL.iter().enumerate() {
        for k in 0..spec.files[si] {
            // Parameter combination: walk the grid in order.
            let mut idx = file_no;
            let mut parameters = Vec::new();
            for (n, grid) in &lay.params {
                parameters.push((n.to_string(), grid[idx % grid.len()]));
                idx /= grid.len();
            }
            file_no += 1;
            let header = WellFileHeader {
                dataset_name: spec.dataset_name.clone(),
                n_trajectories: spec.trajectories_per_file,
                parameters,
                time: (0..spec.frames).map(|t| t as f32 * 0.25).collect(),
                x: (0..nx).map(|i| i as f32 / nx as f32).collect(),
                y: (0..ny).map(|j| j as f32 / ny as f32).collect(),
                boundary_conditions: vec![
                    BoundarySpec { name: "x_periodic".into(), dim: "x".into(), kind: BcKind::Periodic },
                    if lay.y_wall {
                        BoundarySpec { name: "y_wall_dirichlet".into(), dim: "y".into(), kind: BcKind::Wall }
                    } else {
                        BoundarySpec { name: "y_periodic".into(), dim: "y".into(), kind: BcKind::Periodic }
                    },
                ],
                fields: lay.fields.clone(),
                extra_attrs: vec![("generator".into(), crate::write::AttrValue::Str("physrep-well synthetic (not physics)".into()))],
                deflate: None,
            };
            let path = dir.join("data").join(split.as_str()).join(format!("{}_{k:03}.hdf5", spec.dataset_name));
            let mut w = WellFileWriter::create(&path, header)?;
            for _ in 0..spec.trajectories_per_file {
                let arrays: Vec<ArrayD<f32>> = lay.fields.iter().map(|f| wave_field(&mut rng, spec.frames, nx, ny, 1 << f.order)).collect();
                let dims: Vec<ArrayD<f32>> = lay
                    .fields
                    .iter()
                    .zip(arrays)
                    .map(|(f, a)| {
                        let mut shape = vec![spec.frames, nx, ny];
                        shape.extend(std::iter::repeat_n(2, f.order));
                        a.into_shape_with_order(IxDyn(&shape)).expect("component count matches the order")
                    })
                    .collect();
                w.write_trajectory(&TrajectoryFields { fields: dims.iter().map(|a| a.view()).collect() })?;
            }
            paths.push(w.finish()?);
        }
    }
    Ok(paths)
}

/// `(T, nx, ny, comps)` travelling separable waves.
fn wave_field(rng: &mut ChaCha8Rng, t: usize, nx: usize, ny: usize, comps: usize) -> ArrayD<f32> {
    let mut out = vec![0f32; t * nx * ny * comps];
    for c in 0..comps {
        let modes: Vec<[f32; 4]> = (0..6)
            .map(|_| {
                [rng.random_range(1.0..4.0f32).floor(), rng.random_range(-0.3..0.3), rng.random_range(0.0..6.3), rng.random_range(0.2..1.0)]
            })
            .collect();
        let offset: f32 = rng.random_range(-0.5..0.5);
        for ti in 0..t {
            let tt = ti as f32;
            let wave = |n: usize, m: &[[f32; 4]]| -> Vec<f32> {
                (0..n)
                    .map(|i| {
                        let x = std::f32::consts::TAU * i as f32 / n as f32;
                        m.iter().map(|[k, om, ph, a]| a * (k * x + om * tt + ph).sin()).sum()
                    })
                    .collect()
            };
            let (fx, gy) = (wave(nx, &modes[..3]), wave(ny, &modes[3..]));
            for i in 0..nx {
                for j in 0..ny {
                    out[((ti * nx + i) * ny + j) * comps + c] = fx[i] * gy[j] + offset;
                }
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&[t, nx, ny, comps]), out).expect("sizes match")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Split, WellDataset, WindowSpec};

    #[test]
    fn synthetic_rayleigh_benard_opens_like_the_real_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = SyntheticSpec {
            dataset_name: "rayleigh_benard".into(),
            files: [2, 1, 0],
            trajectories_per_file: 2,
            frames: 33,
            grid: [16, 8],
            seed: 1,
        };
        assert_eq!(write_dataset(tmp.path(), &spec).unwrap().len(), 3);
        let ds = WellDataset::open(tmp.path()).unwrap();
        assert_eq!(ds.channel_names(), ["buoyancy", "pressure", "velocity_x", "velocity_y"]);
        assert_eq!(ds.label_names(), ["Prandtl", "Rayleigh"]);
        assert_eq!(ds.params(Split::Train, 1).unwrap(), vec![1e7, 0.1]);
        assert!(!ds.has_split(Split::Test));
        assert_eq!(ds.windows(Split::Train, &WindowSpec::paper("rayleigh_benard")).unwrap().len(), (2 * 2));
        assert!(write_dataset(tmp.path(), &SyntheticSpec { dataset_name: "nope".into(), ..spec }).is_err());
    }
}
