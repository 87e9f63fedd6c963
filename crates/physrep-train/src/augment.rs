//! Symmetry augmentation of training windows (`data.augment`): the same random symmetry of the
//! domain applied to a window's context and target, so the pair stays a solution of the same
//! equations at the same parameters.
//!
//! Only the periodic axes of a dataset (its `boundary_conditions` of type `PERIODIC`) are used:
//! - **flip** (`data.augment.flip`): `x → L − x` along the axis. A periodic domain is symmetric under
//!   it, and so are the equations physrep simulates (advection–diffusion, Navier–Stokes with or without
//!   buoyancy along the other axis, the active-matter model, Gray–Scott). Vector and tensor components
//!   change sign with the number of indices along the flipped axis: `u_x → −u_x`, `D_xy → −D_xy`,
//!   `D_xx` and `D_yy` unchanged (channel names `<field>_x`, `<field>_xy`, … of The Well's `t1_fields`
//!   and `t2_fields`). The advection control's flip turns a speed `v` into `−v`: its label, the speed's
//!   magnitude, is unchanged.
//! - **shift** (`data.augment.shift`): a periodic translation by a whole number of pixels, on axes whose
//!   crop is the full domain (a cropped window of a periodic field is not periodic).
//!
//! Each training window draws its transform from a hash of (seed, epoch, window), so a run is
//! reproducible and a resumed epoch draws the same transforms; validation windows are never
//! transformed. Arrays are `(C, T, H, W)` with `H` along the file's `x` and `W` along `y`.

use ndarray::{ArrayViewMut4, Axis};
use physrep_well::{Crop, WellDataset};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// Which symmetries augment the training windows (both off: the paper's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Augment {
    /// Random reflections along the periodic axes, with the signs of vector and tensor components.
    pub flip: bool,
    /// Random periodic translations along the periodic, uncropped axes.
    pub shift: bool,
}

impl Augment {
    /// Whether any symmetry is on.
    pub fn any(&self) -> bool {
        self.flip || self.shift
    }
}

/// One drawn transform: per axis (`H`, `W`) a reflection and then a translation by `shift` pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transform {
    pub flip: [bool; 2],
    pub shift: [usize; 2],
}

/// The symmetries a dataset admits under a config: per axis whether it may flip / shift, and per
/// channel its sign under a flip of each axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Symmetries {
    flip: [bool; 2],
    shift: [bool; 2],
    /// `signs[a][c]`: the factor on channel `c` when axis `a` flips.
    signs: [Vec<f32>; 2],
}

impl Symmetries {
    /// The symmetries of `ds` under `cfg` with the run's `crop`: only periodic axes; shifts only where
    /// the crop spans the whole axis. A flip with a vector or tensor channel whose name does not give
    /// its components is an error naming the channel.
    pub fn new(ds: &WellDataset, crop: &Crop, cfg: Augment) -> Result<Self, TrainError> {
        let file = ds.files(physrep_well::Split::Train).first().or_else(|| ds.files(physrep_well::Split::Valid).first());
        let periodic = |axis: &str| {
            file.is_some_and(|f| {
                f.boundary_conditions
                    .iter()
                    .any(|b| b.bc_type.eq_ignore_ascii_case("PERIODIC") && b.associated_dims.iter().any(|d| d == axis))
            })
        };
        let periodic = [periodic("x"), periodic("y")];
        let full = [crop.x == [0.0, 1.0], crop.y == [0.0, 1.0]];
        let flip = periodic.map(|p| p && cfg.flip);
        let shift = [periodic[0] && full[0] && cfg.shift, periodic[1] && full[1] && cfg.shift];
        let signs = [channel_signs(ds, 'x')?, channel_signs(ds, 'y')?];
        Ok(Symmetries { flip, shift, signs })
    }

    /// Whether no transform can change a window.
    pub fn is_identity(&self) -> bool {
        !(self.flip[0] || self.flip[1] || self.shift[0] || self.shift[1])
    }

    /// The transform of hash `h` for windows of `h × w` pixels.
    pub fn draw(&self, hash: u64, [h, w]: [usize; 2]) -> Transform {
        let mut state = hash;
        let mut next = || {
            state = physrep_core::seed::splitmix64(state);
            state
        };
        let mut t = Transform::default();
        for (a, n) in [h, w].into_iter().enumerate() {
            let (f, s) = (next(), next());
            t.flip[a] = self.flip[a] && f & 1 == 1;
            t.shift[a] = if self.shift[a] && n > 0 { (s % n as u64) as usize } else { 0 };
        }
        t
    }

    /// Apply `t` to one clip `(C, T, H, W)` in place: `out[.., i, j] = sign · in[.., g_H(i), g_W(j)]`
    /// with `g(i) = f((i − shift) mod n)`, `f` the reflection `k → n − 1 − k` when flipped.
    pub fn apply(&self, t: &Transform, mut clip: ArrayViewMut4<f32>) {
        if *t == Transform::default() {
            return;
        }
        let (_, _, h, w) = clip.dim();
        let source = |n: usize, a: usize, i: usize| {
            let k = (i + n - t.shift[a] % n) % n;
            if t.flip[a] {
                n - 1 - k
            } else {
                k
            }
        };
        let rows: Vec<usize> = (0..h).map(|i| source(h, 0, i)).collect();
        let cols: Vec<usize> = (0..w).map(|j| source(w, 1, j)).collect();
        let mut frame = vec![0f32; h * w];
        for (c, mut channel) in clip.axis_iter_mut(Axis(0)).enumerate() {
            let sign = (0..2).filter(|&a| t.flip[a]).map(|a| self.signs[a][c]).product::<f32>();
            for mut plane in channel.axis_iter_mut(Axis(0)) {
                for (i, &si) in rows.iter().enumerate() {
                    for (j, &sj) in cols.iter().enumerate() {
                        frame[i * w + j] = sign * plane[[si, sj]];
                    }
                }
                for ((i, j), v) in plane.indexed_iter_mut() {
                    *v = frame[i * w + j];
                }
            }
        }
    }
}

/// Per channel of `ds`, its factor under a reflection of `axis` (`'x'` or `'y'`): −1 to the number of
/// its component indices along `axis` for vector and tensor fields, 1 for scalars.
fn channel_signs(ds: &WellDataset, axis: char) -> Result<Vec<f32>, TrainError> {
    let oriented: Vec<&physrep_well::FieldInfo> = ds.fields().iter().map(|(_, f)| f).filter(|f| f.order > 0 && f.time_varying).collect();
    ds.channel_names()
        .iter()
        .map(|name| {
            let Some(field) = oriented.iter().find(|f| name.strip_prefix(&f.name).is_some_and(|r| r.starts_with('_'))) else {
                return Ok(1.0);
            };
            let comp = &name[field.name.len() + 1..];
            if comp.len() != field.order || !comp.chars().all(|c| c == 'x' || c == 'y') {
                return Err(TrainError::config(
                    "data.augment.flip",
                    format!(
                        "channel `{name}` of the order-{} field `{}` does not name its components as `{}_x`/`_xy`…",
                        field.order, field.name, field.name
                    ),
                ));
            }
            Ok(if comp.chars().filter(|&c| c == axis).count() % 2 == 1 { -1.0 } else { 1.0 })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array4};
    use std::path::Path;

    fn fixture(name: &str) -> WellDataset {
        WellDataset::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/well").join(name)).unwrap()
    }

    fn clip(c: usize, t: usize, h: usize, w: usize) -> Array4<f32> {
        Array4::from_shape_fn((c, t, h, w), |(c, t, i, j)| (c * 1000 + t * 100 + i * 10 + j) as f32)
    }

    /// Active matter (periodic in x and y) gets flips and shifts on both axes with the signs of its
    /// vector and tensor components; Rayleigh–Bénard (walls in y) only along x.
    #[test]
    fn symmetries_follow_the_boundaries_and_component_names() {
        let on = Augment { flip: true, shift: true };
        let am = fixture("active_matter");
        let s = Symmetries::new(&am, &Crop::FULL, on).unwrap();
        assert_eq!((s.flip, s.shift), ([true, true], [true, true]));
        for (c, name) in am.channel_names().iter().enumerate() {
            let comp = name.rsplit('_').next().unwrap();
            let want = |axis: char| if name.contains("concentration") { 1.0 } else { (-1f32).powi(comp.matches(axis).count() as i32) };
            assert_eq!((s.signs[0][c], s.signs[1][c]), (want('x'), want('y')), "{name}");
        }
        let rb = fixture("rayleigh_benard");
        let s = Symmetries::new(&rb, &Crop::FULL, on).unwrap();
        assert_eq!((s.flip, s.shift), ([true, false], [true, false]));
        // A crop of x keeps the flip but not the shift.
        let s = Symmetries::new(&rb, &Crop::paper("rayleigh_benard"), on).unwrap();
        assert_eq!((s.flip, s.shift), ([true, false], [false, false]));
        assert!(Symmetries::new(&am, &Crop::FULL, Augment::default()).unwrap().is_identity());
    }

    /// `apply` against ndarray's own reversed slices and a rotation written with `concatenate`.
    #[test]
    fn apply_matches_slicing_and_composes_to_the_identity() {
        let s = Symmetries { flip: [true, true], shift: [true, true], signs: [vec![1.0, -1.0], vec![-1.0, -1.0]] };
        let x = clip(2, 3, 5, 4);
        let t = Transform { flip: [true, false], shift: [2, 1] };
        let mut got = x.clone();
        s.apply(&t, got.view_mut());
        // Reference: flip H, then roll H by 2 and W by 1, then the x-flip signs.
        let flipped = x.slice(s![.., .., ..;-1, ..]).to_owned();
        let roll = |a: Array4<f32>, axis: usize, k: usize| {
            let n = a.len_of(Axis(axis));
            ndarray::concatenate(Axis(axis), &[a.slice_axis(Axis(axis), (n - k..).into()), a.slice_axis(Axis(axis), (..n - k).into())])
                .unwrap()
        };
        let mut want = roll(roll(flipped, 2, 2), 3, 1);
        want.index_axis_mut(Axis(0), 1).mapv_inplace(|v| -v);
        assert_eq!(got, want);
        // A flip twice, or a shift all the way round, is the identity.
        let mut twice = x.clone();
        let f = Transform { flip: [true, true], shift: [0, 0] };
        s.apply(&f, twice.view_mut());
        s.apply(&f, twice.view_mut());
        assert_eq!(twice, x);
        let mut round = x.clone();
        s.apply(&Transform { flip: [false, false], shift: [5, 0] }, round.view_mut());
        assert_eq!(round, x);
    }

    /// A divergence-free periodic velocity (from a stream function) stays divergence-free under a
    /// flip only with the component's sign change: the physical oracle for the signs.
    #[test]
    fn a_flip_keeps_a_divergence_free_field_divergence_free() {
        let n = 16;
        let psi = |i: usize, j: usize| {
            let (x, y) = (i as f64 * std::f64::consts::TAU / n as f64, j as f64 * std::f64::consts::TAU / n as f64);
            (x.sin() * (2.0 * y).cos() + (x + 3.0 * y).cos()) as f32
        };
        let d = |f: &dyn Fn(usize, usize) -> f32, i: usize, j: usize, axis: usize| {
            let (p, m) = if axis == 0 { (f((i + 1) % n, j), f((i + n - 1) % n, j)) } else { (f(i, (j + 1) % n), f(i, (j + n - 1) % n)) };
            (p - m) / 2.0
        };
        // u_x = ∂ψ/∂y, u_y = −∂ψ/∂x (central differences, so the discrete divergence vanishes).
        let mut v = Array4::<f32>::zeros((2, 1, n, n));
        for i in 0..n {
            for j in 0..n {
                v[[0, 0, i, j]] = d(&psi, i, j, 1);
                v[[1, 0, i, j]] = -d(&psi, i, j, 0);
            }
        }
        let div = |v: &Array4<f32>| {
            let ux = |i: usize, j: usize| v[[0, 0, i, j]];
            let uy = |i: usize, j: usize| v[[1, 0, i, j]];
            (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| (d(&ux, i, j, 0) + d(&uy, i, j, 1)).abs()).fold(0f32, f32::max)
        };
        assert!(div(&v) < 1e-5, "{}", div(&v));
        let t = Transform { flip: [true, false], shift: [3, 5] };
        let signed = Symmetries { flip: [true; 2], shift: [true; 2], signs: [vec![-1.0, 1.0], vec![1.0, -1.0]] };
        let mut w = v.clone();
        signed.apply(&t, w.view_mut());
        assert!(div(&w) < 1e-5, "with the sign: {}", div(&w));
        let unsigned = Symmetries { signs: [vec![1.0, 1.0], vec![1.0, 1.0]], ..signed };
        let mut bad = v.clone();
        unsigned.apply(&t, bad.view_mut());
        assert!(div(&bad) > 0.1, "without the sign the flip breaks incompressibility: {}", div(&bad));
    }

    /// Draws cover every shift and both flips, and the same hash gives the same transform.
    #[test]
    fn draws_cover_the_group_and_repeat() {
        let s = Symmetries { flip: [true, false], shift: [true, true], signs: [vec![1.0], vec![1.0]] };
        let mut seen = std::collections::HashSet::new();
        for h in 0..400u64 {
            let t = s.draw(h, [4, 3]);
            assert!(!t.flip[1] && t.shift[0] < 4 && t.shift[1] < 3);
            assert_eq!(t, s.draw(h, [4, 3]));
            seen.insert(t.flip[0] as usize * 100 + t.shift[0] * 10 + t.shift[1]);
        }
        assert_eq!(seen.len(), 2 * 4 * 3);
    }
}
