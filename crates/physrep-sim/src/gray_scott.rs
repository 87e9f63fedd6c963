//! `gray_scott_reaction_diffusion`: the Gray–Scott model as in The Well (spec `docs/simulators.md` §5; generator
//! `danfortunato/spectral-gray-scott`, Chebfun `spin2`).
//!
//! `A_t = δ_A∇²A − AB² + F(1 − A)`, `B_t = δ_B∇²B + AB² − (F + k)B` on `[−1,1)²` periodic, δ_A = 2·10⁻⁵,
//! δ_B = 10⁻⁵. Fourier pseudo-spectral, f64, ETDRK4 (Kassam–Trefethen) with `L = diag(−δ_A|k|², −δ_B|k|²)`
//! exact and the reaction terms explicit, dt = 1, 1/2-rule dealiasing of the cubic products (applied to the
//! nonlinear term; the IC is dealiased too), frames every 10 time units.
//!
//! ICs per pattern: indices 0–99 "Gaussians" — A = normalise(1 − G₁), B = normalise(G₂), each G a sum of
//! 10–100 periodically tiled Gaussians `a·exp(−s r²)`, a ∈ \[1,3\], s ∈ \[150,300\], centres uniform, normalise =
//! (u − min)/(max − min) on the grid; indices 100–199 "Fourier" — mean + ½·d·(trigonometric interpolant of a
//! 32×32 uniform noise in [−½,½]) about the third steady state when k < (√F − 2F)/2, else about (1, 0) with d = 1.
//! Same method and ICs as the original; only the RNG differs (ChaCha8 from the trajectory seed).

use ndarray::{ArrayD, IxDyn};
use num_complex::Complex64;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::etdrk4::Etdrk4;
use crate::flow::all_finite;
use crate::spectral::{with_avx2, Dealias, Fft2, Grid2};
use crate::system::{python_float_repr, Boundary, BoundaryKind, FieldSpec, Layout, ParamPoint, Preset, System, Trajectory};
use crate::SimError;
use physrep_well::SystemId;

/// Diffusivities of A and B.
pub const DELTA_A: f64 = 2e-5;
pub const DELTA_B: f64 = 1e-5;

/// The six (pattern, F, k) regimes of The Well.
pub const PATTERNS: [(&str, f64, f64); 6] = [
    ("bubbles", 0.098, 0.057),
    ("gliders", 0.014, 0.054),
    ("maze", 0.029, 0.057),
    ("spirals", 0.018, 0.051),
    ("spots", 0.03, 0.062),
    ("worms", 0.058, 0.065),
];

/// Solver and output settings. `Default` = The Well's setting (`medium` preset): 128², dt = 1, 1001 frames.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GrayScottConfig {
    /// Grid points per side (on `[−L/2, L/2)²`).
    pub n: usize,
    /// Domain side length (The Well: 2).
    pub length: f64,
    pub frames: usize,
    /// Time between frames and the ETDRK4 step (an integer number of steps per frame).
    pub dt_out: f64,
    pub dt: f64,
    /// Patterns generated (names from [`PATTERNS`]).
    pub patterns: Vec<String>,
    /// ICs per file; index i < ics/2 is "Gaussians", the rest "Fourier".
    pub ics: usize,
}

impl Default for GrayScottConfig {
    fn default() -> Self {
        Self {
            n: 128,
            length: 2.0,
            frames: 1001,
            dt_out: 10.0,
            dt: 1.0,
            patterns: PATTERNS.iter().map(|p| p.0.to_string()).collect(),
            ics: 200,
        }
    }
}

impl GrayScottConfig {
    /// The settings of a preset.
    pub fn preset(p: Preset) -> Self {
        match p {
            Preset::Tiny => Self { n: 32, frames: 32, patterns: vec!["spots".into()], ics: 4, ..Self::default() },
            Preset::Small => Self { n: 64, frames: 201, ics: 20, ..Self::default() },
            Preset::Medium => Self::default(),
        }
    }
}

/// The initial condition family of one trajectory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrayScottIc {
    Gaussians,
    Fourier,
}

/// One Gray–Scott integration; state `[Â | B̂]`.
pub struct GrayScottSolver {
    grid: Grid2,
    fft: Fft2,
    stepper: Etdrk4,
    /// The dealiasing mask to apply to the nonlinear term, needed only when `fft` is not the dealiased box
    /// transform (whose forward output is already masked): the unbanded reference of the tests.
    mask_outputs: Option<Vec<f64>>,
    state: Vec<Complex64>,
    f: f64,
    k: f64,
    steps_per_frame: usize,
    /// Simulated time.
    pub t: f64,
}

impl GrayScottSolver {
    /// A solver for feed `f`, kill `k`, started from physical fields `a`, `b` (`n·n`, y fastest).
    pub fn from_fields(cfg: &GrayScottConfig, f: f64, k: f64, a: &[f64], b: &[f64]) -> Result<Self, SimError> {
        let grid = Grid2::new(cfg.n, cfg.n, cfg.length, cfg.length)?;
        let ratio = cfg.dt_out / cfg.dt;
        if !(ratio >= 1.0 && (ratio - ratio.round()).abs() < 1e-9) {
            return Err(SimError::Options(format!("gray_scott: dt_out {} must be an integer multiple of dt {}", cfg.dt_out, cfg.dt)));
        }
        // The state is dealiased (1/2 rule) at all times, so the transforms can skip the modes the mask
        // removes, and their forward outputs are the masked ones (exact; see `Fft2::dealiased`).
        let mut fft = Fft2::dealiased(&grid, Dealias::Half);
        let n = grid.n_spec();
        let mask = grid.dealias_mask(Dealias::Half);
        let mut state = vec![Complex64::default(); 2 * n];
        fft.forward(a, &mut state[..n]);
        fft.forward(b, &mut state[n..]);
        for (i, v) in state.iter_mut().enumerate() {
            *v *= mask[i % n];
        }
        let k2 = grid.k_squared();
        let mut lin = Vec::with_capacity(2 * n);
        lin.extend(k2.iter().map(|q| Complex64::new(-DELTA_A * q, 0.0)));
        lin.extend(k2.iter().map(|q| Complex64::new(-DELTA_B * q, 0.0)));
        Ok(Self {
            // The state stays inside the dealiasing box (dealiased start, masked nonlinear terms).
            stepper: Etdrk4::with_support(&lin, cfg.dt, grid.dealias_support(Dealias::Half, 2)),
            steps_per_frame: ratio.round() as usize,
            grid,
            fft,
            mask_outputs: None,
            state,
            f,
            k,
            t: 0.0,
        })
    }

    /// A solver with the IC family member drawn from `seed`.
    pub fn new(cfg: &GrayScottConfig, f: f64, k: f64, ic: GrayScottIc, seed: u64) -> Result<Self, SimError> {
        let (a, b) = initial_condition(cfg, f, k, ic, seed);
        Self::from_fields(cfg, f, k, &a, &b)
    }

    /// Advances by one output interval.
    pub fn advance_frame(&mut self) -> Result<(), String> {
        let n = self.grid.n_spec();
        let Self { fft, stepper, mask_outputs, state, f, k, t, .. } = self;
        let (f, k) = (*f, *k);
        for _ in 0..self.steps_per_frame {
            stepper.step(state, |x, out| {
                // A + iB in the pair buffer, reacted in place and transformed back.
                fft.inverse_pair_to_rows(&x[..n], &x[n..]);
                with_avx2(
                    #[inline(always)]
                    || {
                        for z in fft.pair_rows_mut() {
                            let (a, b) = (z.re, z.im);
                            let abb = a * b * b;
                            *z = Complex64::new(-abb + f * (1.0 - a), abb - (f + k) * b);
                        }
                    },
                );
                let (oa, ob) = out.split_at_mut(n);
                fft.forward_pair_from_rows(oa, ob);
                if let Some(mask) = mask_outputs.as_ref() {
                    for i in 0..n {
                        oa[i] *= mask[i];
                        ob[i] *= mask[i];
                    }
                }
            });
            *t += stepper.dt();
        }
        if !all_finite(&self.state) {
            return Err("non-finite A or B".into());
        }
        Ok(())
    }

    /// Physical `(A, B)` on the compute grid.
    pub fn fields(&mut self) -> (Vec<f64>, Vec<f64>) {
        let n = self.grid.n_spec();
        let mut a = vec![0.0; self.grid.n_phys()];
        let mut b = a.clone();
        self.fft.inverse(&self.state[..n], &mut a);
        self.fft.inverse(&self.state[n..], &mut b);
        (a, b)
    }

    /// The spectral state `[Â | B̂]`.
    pub fn state(&self) -> &[Complex64] {
        &self.state
    }

    /// The grid.
    pub fn grid(&self) -> &Grid2 {
        &self.grid
    }
}

/// Physical `(A₀, B₀)` on the `n × n` grid of `cfg` (coordinates `−L/2 + L·i/n`).
pub fn initial_condition(cfg: &GrayScottConfig, f: f64, k: f64, ic: GrayScottIc, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n = cfg.n;
    let l = cfg.length;
    let coord: Vec<f64> = (0..n).map(|i| -l / 2.0 + l * i as f64 / n as f64).collect();
    match ic {
        GrayScottIc::Gaussians => {
            let mut g1 = random_gaussians(&mut rng, &coord, l);
            g1.iter_mut().for_each(|v| *v = 1.0 - *v);
            let g2 = random_gaussians(&mut rng, &coord, l);
            (normalise(g1), normalise(g2))
        }
        GrayScottIc::Fourier => {
            let (mut mean_a, mut mean_b, mut da, mut db) = (1.0, 0.0, 1.0, 1.0);
            if k < (f.sqrt() - 2.0 * f) / 2.0 {
                let big_a = f.sqrt() / (f + k);
                let disc = (big_a * big_a - 4.0).max(0.0).sqrt();
                mean_a = (big_a - disc) / (2.0 * big_a);
                mean_b = f.sqrt() * (big_a + disc) / 2.0;
                da = 0.9 * mean_a.min(1.0 - mean_a);
                db = 0.9 * mean_b.min(1.0 - mean_b);
            }
            let na = trig_noise(&mut rng, 32, n);
            let nb = trig_noise(&mut rng, 32, n);
            (na.into_iter().map(|v| mean_a + 0.5 * da * v).collect(), nb.into_iter().map(|v| mean_b + 0.5 * db * v).collect())
        }
    }
}

/// Sum of 10–100 periodically tiled (3×3) Gaussians `a e^{−s r²}`, a ∈ [1,3], s ∈ [150,300].
fn random_gaussians(rng: &mut rand_chacha::ChaCha8Rng, coord: &[f64], l: f64) -> Vec<f64> {
    let n = coord.len();
    let m = rng.random_range(10..=100usize);
    let mut out = vec![0.0; n * n];
    for _ in 0..m {
        let a = rng.random_range(1.0..3.0);
        let s = rng.random_range(150.0..300.0);
        let cx = -l / 2.0 + l * rng.random::<f64>();
        let cy = -l / 2.0 + l * rng.random::<f64>();
        for sx in [-l, 0.0, l] {
            for sy in [-l, 0.0, l] {
                for i in 0..n {
                    let dx = coord[i] - cx - sx;
                    for j in 0..n {
                        let dy = coord[j] - cy - sy;
                        out[i * n + j] += a * (-s * (dx * dx + dy * dy)).exp();
                    }
                }
            }
        }
    }
    out
}

/// `(u − min)/(max − min)`.
fn normalise(mut u: Vec<f64>) -> Vec<f64> {
    let lo = u.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = u.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    u.iter_mut().for_each(|v| *v = (*v - lo) / span);
    u
}

/// The trigonometric interpolant of `m × m` uniform noise in [−½, ½], evaluated on an `n × n` grid (n ≥ m).
fn trig_noise(rng: &mut rand_chacha::ChaCha8Rng, m: usize, n: usize) -> Vec<f64> {
    let coarse_grid = Grid2::new(m, m, 1.0, 1.0).expect("m ≥ 4, even");
    let fine_grid = Grid2::new(n, n, 1.0, 1.0).expect("n ≥ 4, even");
    let noise: Vec<f64> = (0..m * m).map(|_| rng.random::<f64>() - 0.5).collect();
    let mut cs = vec![Complex64::default(); coarse_grid.n_spec()];
    Fft2::new(&coarse_grid).forward(&noise, &mut cs);
    let mut fs = vec![Complex64::default(); fine_grid.n_spec()];
    if n == m {
        fs.copy_from_slice(&cs);
    } else {
        // Zero padding (the interpolant's Nyquist modes are dropped, as a real trigonometric interpolant
        // of even length must split them; their weight is negligible for this noise).
        let scale = (n * n) as f64 / (m * m) as f64;
        let fnyh = fine_grid.n_spec() / n;
        let cnyh = coarse_grid.n_spec() / m;
        for i in 0..m {
            let mi = if i <= m / 2 { i as i64 } else { i as i64 - m as i64 };
            if mi.unsigned_abs() as usize >= m / 2 {
                continue;
            }
            let fi = if mi >= 0 { mi as usize } else { (n as i64 + mi) as usize };
            for j in 0..m / 2 {
                fs[fi * fnyh + j] = cs[i * cnyh + j] * scale;
            }
        }
    }
    let mut out = vec![0.0; n * n];
    Fft2::new(&fine_grid).inverse(&fs, &mut out);
    out
}

/// The `gray_scott_reaction_diffusion` dataset.
pub struct GrayScott;

impl System for GrayScott {
    fn name(&self) -> &'static str {
        SystemId::GrayScott.name()
    }

    fn param_grid(&self, preset: Preset) -> Vec<ParamPoint> {
        let cfg = GrayScottConfig::preset(preset);
        PATTERNS
            .iter()
            .filter(|(name, _, _)| cfg.patterns.iter().any(|p| p == name))
            .map(|&(name, f, k)| ParamPoint {
                params: vec![("F".into(), f), ("k".into(), k)],
                file_name: format!("gray_scott_reaction_diffusion_{name}_F_{}_k_{}.hdf5", python_float_repr(f), python_float_repr(k)),
            })
            .collect()
    }

    fn ics_per_point(&self, preset: Preset) -> usize {
        GrayScottConfig::preset(preset).ics
    }

    fn layout(&self, preset: Preset) -> Layout {
        let cfg = GrayScottConfig::preset(preset);
        let coord: Vec<f64> = (0..cfg.n).map(|i| -cfg.length / 2.0 + cfg.length * i as f64 / cfg.n as f64).collect();
        Layout {
            dataset_name: SystemId::GrayScott.name().into(),
            time: (0..cfg.frames).map(|k| k as f64 * cfg.dt_out).collect(),
            x: coord.clone(),
            y: coord,
            boundaries: vec![
                Boundary { name: "x_periodic".into(), dim: "x".into(), kind: BoundaryKind::Periodic },
                Boundary { name: "y_periodic".into(), dim: "y".into(), kind: BoundaryKind::Periodic },
            ],
            fields: vec![FieldSpec::new("A", 0), FieldSpec::new("B", 0)],
            attrs: vec![
                ("generator".into(), format!("physrep-sim {} gray_scott_reaction_diffusion", env!("CARGO_PKG_VERSION"))),
                (
                    "solver".into(),
                    format!("Fourier pseudo-spectral, f64, ETDRK4 (Kassam-Trefethen), dt = {}, 1/2-rule dealiasing, no filter", cfg.dt),
                ),
                ("compute_resolution".into(), format!("{}x{}", cfg.n, cfg.n)),
                ("source_resolution".into(), "128x128 (Chebfun spin2)".into()),
                ("physics_departures".into(), "none (RNG differs); resolution below 128 at small presets".into()),
            ],
        }
    }

    fn simulate(&self, p: &ParamPoint, ic: usize, seed: u64, preset: Preset) -> Result<Trajectory, SimError> {
        let cfg = GrayScottConfig::preset(preset);
        let f = p.require(SystemId::GrayScott.name(), "F")?;
        let k = p.require(SystemId::GrayScott.name(), "k")?;
        let kind = if ic < cfg.ics.div_ceil(2) { GrayScottIc::Gaussians } else { GrayScottIc::Fourier };
        let mut solver = GrayScottSolver::new(&cfg, f, k, kind, seed)?;
        let n = cfg.n;
        let mut fa = ArrayD::<f32>::zeros(IxDyn(&[cfg.frames, n, n]));
        let mut fb = ArrayD::<f32>::zeros(IxDyn(&[cfg.frames, n, n]));
        for frame in 0..cfg.frames {
            if frame > 0 {
                solver.advance_frame().map_err(|reason| SimError::BlowUp {
                    system: SystemId::GrayScott.name().into(),
                    params: p.describe(),
                    ic,
                    time: solver.t,
                    reason,
                })?;
            }
            let (a, b) = solver.fields();
            for i in 0..n * n {
                fa[IxDyn(&[frame, i / n, i % n])] = a[i] as f32;
                fb[IxDyn(&[frame, i / n, i % n])] = b[i] as f32;
            }
        }
        Ok(Trajectory { fields: vec![fa, fb], ic_params: vec![("ic_type".into(), if kind == GrayScottIc::Gaussians { 0.0 } else { 1.0 })] })
    }

    fn split_counts(&self, preset: Preset) -> [usize; 3] {
        // The Well: 160/20/20 of 200.
        let n = self.ics_per_point(preset);
        let v = (n / 10).max(1);
        [n - 2 * v, v, v]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RK4 with a tiny step on the well-mixed ODE (independent of the spectral code).
    fn ode(f: f64, k: f64, mut a: f64, mut b: f64, t: f64) -> (f64, f64) {
        let rhs = |a: f64, b: f64| (-a * b * b + f * (1.0 - a), a * b * b - (f + k) * b);
        let h = 1e-3;
        for _ in 0..(t / h).round() as usize {
            let k1 = rhs(a, b);
            let k2 = rhs(a + 0.5 * h * k1.0, b + 0.5 * h * k1.1);
            let k3 = rhs(a + 0.5 * h * k2.0, b + 0.5 * h * k2.1);
            let k4 = rhs(a + h * k3.0, b + h * k3.1);
            a += h / 6.0 * (k1.0 + 2.0 * k2.0 + 2.0 * k3.0 + k4.0);
            b += h / 6.0 * (k1.1 + 2.0 * k2.1 + 2.0 * k3.1 + k4.1);
        }
        (a, b)
    }

    /// A spatially uniform state follows the reaction ODE; ETDRK4 at dt = 1 is accurate to ~1e-6 here and
    /// fourth order (halving dt divides the error by ≈ 16).
    #[test]
    fn uniform_state_follows_the_reaction_ode_at_fourth_order() {
        let (f, k) = (0.03, 0.062);
        let (a0, b0) = (0.6, 0.3);
        let (ea, eb) = ode(f, k, a0, b0, 40.0);
        let mut errs = Vec::new();
        for &dt in &[1.0, 0.5] {
            let cfg = GrayScottConfig { n: 8, frames: 2, dt_out: 40.0, dt, ..GrayScottConfig::default() };
            let mut s = GrayScottSolver::from_fields(&cfg, f, k, &[a0; 64], &[b0; 64]).unwrap();
            s.advance_frame().unwrap();
            let (a, b) = s.fields();
            assert!(a.iter().all(|v| (v - a[0]).abs() < 1e-14));
            errs.push((a[0] - ea).abs().max((b[0] - eb).abs()));
        }
        assert!(errs[0] < 1e-5, "{errs:?}");
        let ratio = errs[0] / errs[1];
        assert!((12.0..20.0).contains(&ratio), "{errs:?} ratio {ratio}");
    }

    /// The banded transforms (the default) and full transforms give the same trajectory to round-off.
    #[test]
    fn band_pruning_is_exact() {
        let cfg = GrayScottConfig { n: 32, dt_out: 20.0, ..GrayScottConfig::default() };
        let mut banded = GrayScottSolver::new(&cfg, 0.03, 0.062, GrayScottIc::Gaussians, 3).unwrap();
        let mut full = GrayScottSolver::new(&cfg, 0.03, 0.062, GrayScottIc::Gaussians, 3).unwrap();
        full.fft = Fft2::new(&full.grid);
        full.mask_outputs = Some(full.grid.dealias_mask(Dealias::Half));
        assert!(banded.fft.band() < full.fft.band());
        for _ in 0..3 {
            banded.advance_frame().unwrap();
            full.advance_frame().unwrap();
        }
        crate::spectral::assert_fields_agree(&banded.state, &full.state, 2, 1e-12);
    }

    #[test]
    fn trivial_steady_state_is_exact() {
        let cfg = GrayScottConfig { n: 16, ..GrayScottConfig::default() };
        let mut s = GrayScottSolver::from_fields(&cfg, 0.03, 0.062, &[1.0; 256], &[0.0; 256]).unwrap();
        for _ in 0..5 {
            s.advance_frame().unwrap();
        }
        let (a, b) = s.fields();
        assert!(a.iter().all(|v| (v - 1.0).abs() < 1e-14) && b.iter().all(|v| v.abs() < 1e-14));
    }

    #[test]
    fn initial_conditions_follow_the_generator() {
        let cfg = GrayScottConfig { n: 64, ..GrayScottConfig::default() };
        let (a, b) = initial_condition(&cfg, 0.03, 0.062, GrayScottIc::Gaussians, 5);
        for v in a.iter().chain(&b) {
            assert!((0.0..=1.0).contains(v));
        }
        assert!(a.contains(&0.0) && b.contains(&1.0));
        // Fourier IC about (1, 0) for spots (k ≥ (√F − 2F)/2) and about the third steady state for bubbles.
        let (a, _) = initial_condition(&cfg, 0.03, 0.062, GrayScottIc::Fourier, 5);
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!((mean - 1.0).abs() < 0.05, "{mean}");
        let (f, k): (f64, f64) = (0.098, 0.057); // bubbles
        assert!(k < (f.sqrt() - 2.0 * f) / 2.0);
        let (a, b) = initial_condition(&cfg, f, k, GrayScottIc::Fourier, 5);
        let big_a = f.sqrt() / (f + k);
        let ua = (big_a - (big_a * big_a - 4.0).sqrt()) / (2.0 * big_a);
        let ub = f.sqrt() * (big_a + (big_a * big_a - 4.0).sqrt()) / 2.0;
        // The steady state satisfies the reaction balance.
        assert!((-ua * ub * ub + f * (1.0 - ua)).abs() < 1e-12);
        let ma = a.iter().sum::<f64>() / a.len() as f64;
        let mb = b.iter().sum::<f64>() / b.len() as f64;
        assert!((ma - ua).abs() < 0.02 && (mb - ub).abs() < 0.02, "{ma} {mb} vs {ua} {ub}");
    }

    /// Connected components of `{b > thr}` on an `n × n` periodic grid (4-connectivity):
    /// (count, largest / total above-threshold area, above-threshold area fraction).
    fn components(b: &[f64], n: usize, thr: f64) -> (usize, f64, f64) {
        let mut label = vec![false; n * n];
        let (mut count, mut largest, mut area) = (0, 0, 0);
        for start in 0..n * n {
            if b[start] <= thr || label[start] {
                continue;
            }
            count += 1;
            label[start] = true;
            let mut stack = vec![start];
            let mut size = 0;
            while let Some(p) = stack.pop() {
                size += 1;
                let (i, j) = (p / n, p % n);
                for (di, dj) in [(1, 0), (n - 1, 0), (0, 1), (0, n - 1)] {
                    let q = ((i + di) % n) * n + (j + dj) % n;
                    if b[q] > thr && !label[q] {
                        label[q] = true;
                        stack.push(q);
                    }
                }
            }
            area += size;
            largest = largest.max(size);
        }
        (count, largest as f64 / area.max(1) as f64, area as f64 / (n * n) as f64)
    }

    /// Pattern classes at The Well's (F, k), on a 1×1 periodic patch at the Well's resolution (64² here =
    /// 128² on [−1,1)²) from a Gaussians IC, t = 2000: "maze" forms one connected labyrinth of B covering
    /// ~45 % of the domain; "spirals" breaks into many separate arms. Field statistics are of the order of
    /// The Well's (A 0.729/0.240, B 0.097/0.124). Measured (seed 3): maze 1 component, largest 100 %, area
    /// 0.46, A 0.53/0.16, B 0.16/0.10; spirals 8 components, largest 25 %, area 0.25.
    #[test]
    fn regimes_produce_their_pattern_class() {
        let run = |pattern: &str| {
            let &(_, f, k) = PATTERNS.iter().find(|p| p.0 == pattern).unwrap();
            let cfg = GrayScottConfig { n: 64, length: 1.0, ..GrayScottConfig::default() };
            let mut s = GrayScottSolver::new(&cfg, f, k, GrayScottIc::Gaussians, 3).unwrap();
            for _ in 0..200 {
                s.advance_frame().unwrap();
            }
            let (a, b) = s.fields();
            let lo = b.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = b.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            let std = |v: &[f64]| (v.iter().map(|x| (x - mean(v)).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
            (components(&b, 64, 0.5 * (lo + hi)), [mean(&a), std(&a), mean(&b), std(&b)])
        };
        let ((cc, largest, area), st) = run("maze");
        assert!(cc <= 2 && largest > 0.9 && (0.3..0.6).contains(&area), "maze: {cc} {largest} {area}");
        assert!((0.3..1.0).contains(&st[0]) && (0.05..0.5).contains(&st[1]), "maze A {st:?}");
        assert!((0.03..0.3).contains(&st[2]) && (0.03..0.3).contains(&st[3]), "maze B {st:?}");
        let ((cc, largest, area), _) = run("spirals");
        assert!(cc >= 5 && largest < 0.5 && area > 0.1, "spirals: {cc} {largest} {area}");
    }
}
