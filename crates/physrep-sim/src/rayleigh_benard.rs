//! `rayleigh_benard`: 2-D Boussinesq convection between free-slip, fixed-buoyancy plates (spec
//! `docs/simulators.md` §2.2; The Well's `rayleigh_benard` uses no-slip walls — see departures).
//!
//! Free-fall units (H = 1, Δb = 1), ν = √(Pr/Ra), κ = 1/√(Ra·Pr); `b = (1 − y) + θ`, `ω = −∇²ψ`, `u = ∂ᵧψ`,
//! `v = −∂ₓψ`:
//! `∂ₜω + u·∇ω = ν∇²ω + ∂ₓθ`, `∂ₜθ + u·∇θ = κ∇²θ + v` on `x ∈ [0, L_x)` periodic × `y ∈ [0, 1]`,
//! `ψ = ω = θ = 0` at `y = 0, 1` (free slip `v = ∂ᵧu = 0`, fixed buoyancy).
//!
//! Numerics: ψ, ω, θ, v are sine series and u a cosine series in y; they are realised by odd/even extension to
//! the doubled periodic domain `[0, L_x) × [0, 2)` (`spectral` module docs), so one real 2-D FFT does the
//! Fourier × sine/cosine transforms and parity is preserved exactly. 2/3-rule dealiasing, Hou–Li filter after
//! every step (always on), ETDRK4 with `ν|k|²`, `κ|k|²` exact and the couplings `∂ₓθ`, `v` explicit,
//! `dt = 0.25/n` with n from CFL ≤ 0.5. The horizontal mean flow (m = 0 cosine mode of u) is absent: conserved
//! by free-slip walls and zero initially.
//!
//! Pressure (diagnostic, at output times): `p = (y − y²/2 − 1/3) + P`, `∇²P = ∂ᵧθ − ∂ᵢ∂ⱼ(uᵢuⱼ)`, a cosine
//! series solved diagonally with `P̂(0,0) = 0` (hydrostatic part and ∫p = 0 gauge as Dedalus).
//!
//! IC: `b₀ = dT(1 − y) + 10⁻³ξ y(1 − y)`, ξ ~ N(0,1) per grid point from the trajectory seed, u = 0; per file
//! the 50 ICs are dT ∈ {0.2,…,1.0} × 10 seeds. `θ₀ = b₀ − (1 − y)` does not vanish at y = 0 when dT < 1: it is
//! projected onto the sine basis with the filter applied. **Frame 0 stores the unprojected b₀** (its noise
//! drawn on the output grid from the same seed), u = 0, p = 0, as the data do \[inferred\].
//!
//! Output: uniform x, y at the Chebyshev–Gauss nodes `y_j = ½(1 − cos(π(j + ½)/N_y))` (as `rayleigh_benard`),
//! evaluated from the series by direct summation in y and an inverse FFT in x.
//!
//! Departures: (1) free-slip instead of no-slip (onset 657.5 instead of 1707.8, no velocity boundary layers);
//! (2) free-slip periodic convection can develop strong zonal shear flows at high Ra / low Pr (Goluskin et al.,
//! JFM 2014); (3) different RNG and dt; (4) Ra ≥ 1e8 is under-resolved on these grids (filter-controlled).

use ndarray::{ArrayD, IxDyn};
use num_complex::Complex64;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::flow::{all_finite, Advection, FrameClock};
use crate::spectral::{Dealias, Grid2};
use crate::system::{well_sci, Boundary, BoundaryKind, FieldSpec, Layout, ParamPoint, Preset, System, Trajectory};
use crate::SimError;
use physrep_well::SystemId;

/// Rayleigh numbers of The Well's grid.
pub const RAYLEIGH: [f64; 5] = [1e6, 1e7, 1e8, 1e9, 1e10];
/// Prandtl numbers of The Well's grid.
pub const PRANDTL: [f64; 7] = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0];
/// Initial buoyancy drops of the IC family.
pub const DELTA_T: [f64; 5] = [0.2, 0.4, 0.6, 0.8, 1.0];

/// Solver and output settings. `Default` = the `medium` preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RayleighBenardConfig {
    /// Horizontal period (The Well: 4).
    pub lx: f64,
    /// Compute grid: `nx` Fourier points, `ny` points per unit height (the doubled periodic grid has `2·ny`).
    pub nx: usize,
    pub ny: usize,
    /// Output grid: uniform x (≤ nx), Chebyshev–Gauss y.
    pub out_nx: usize,
    pub out_ny: usize,
    pub frames: usize,
    pub dt_out: f64,
    pub cfl: f64,
    pub min_substeps: usize,
    pub max_substeps: usize,
    pub filter: bool,
    pub rayleigh: Vec<f64>,
    pub prandtl: Vec<f64>,
    /// ICs per file: index → (dT = DELTA_T[ic / 10 mod 5], seed slot ic mod 10).
    pub ics: usize,
}

impl Default for RayleighBenardConfig {
    fn default() -> Self {
        Self {
            lx: 4.0,
            nx: 256,
            ny: 64,
            out_nx: 128,
            out_ny: 32,
            frames: 200,
            dt_out: 0.25,
            cfl: 0.5,
            min_substeps: 4,
            max_substeps: 4096,
            filter: true,
            rayleigh: RAYLEIGH.to_vec(),
            prandtl: PRANDTL.to_vec(),
            ics: 50,
        }
    }
}

impl RayleighBenardConfig {
    /// The settings of a preset, each resolved at every point it generates by the physical check
    /// (`crate::checks`, 8 ICs per point measured):
    /// * `tiny`: 32×16 grid, Ra {1e4, 2e4} × Pr 1, 3 ICs, 32 frames at Δt 0.25 (at Ra 3e4 one initial
    ///   condition of the 32×16 grid leaves 4 % of the buoyancy energy in the outer third of the band).
    /// * `small`: compute 128×32, output 64×32, Ra {1e4, 3e4, 1e5} × Pr {0.1, 1, 2}, 8 ICs each (6/1/1), 48
    ///   frames at Δt 0.5 (t ≤ 24). Largest buoyancy excursion 0.8 % of [0, 1] (Ra 1e5, Pr 2), Nusselt
    ///   residual ≤ 7.2e-3, tail ≤ 0.36 %. The earlier 64×16 grid at Ra {1e6, 1e7, 1e8} × Pr {0.1, 1, 10}
    ///   overshot by 5–600 % (buoyancy up to [−6.0, 7.0]); on 128×32 the resolved range is Ra·Pr ≲ 2e5, and
    ///   Ra ≥ 1e6 needs ≥ 4× finer grids. Cost ≈ 1.8× the old grid's.
    /// * `medium`: The Well's whole grid (Ra 1e6–1e10) on 256×64 — not resolved above Ra ≈ 1e6 (checked per
    ///   file; generate it with `allow_unresolved`).
    pub fn preset(p: Preset) -> Self {
        match p {
            Preset::Tiny => Self {
                nx: 32,
                ny: 16,
                out_nx: 32,
                out_ny: 16,
                frames: 32,
                min_substeps: 2,
                rayleigh: vec![1e4, 2e4],
                prandtl: vec![1.0],
                ics: 3,
                ..Self::default()
            },
            Preset::Small => Self {
                nx: 128,
                ny: 32,
                out_nx: 64,
                out_ny: 32,
                frames: 48,
                dt_out: 0.5,
                rayleigh: vec![1e4, 3e4, 1e5],
                prandtl: vec![0.1, 1.0, 2.0],
                ics: 8,
                ..Self::default()
            },
            Preset::Medium => Self::default(),
        }
    }
}

/// Chebyshev–Gauss nodes `½(1 − cos(π(j + ½)/n))`, increasing.
pub fn chebyshev_gauss(n: usize) -> Vec<f64> {
    (0..n).map(|j| 0.5 * (1.0 - (std::f64::consts::PI * (j as f64 + 0.5) / n as f64).cos())).collect()
}

/// Evaluates doubled-domain spectral fields at uniform x (`out_nx`) and arbitrary heights `y`.
struct ColumnEvaluator {
    nx: usize,
    nyh: usize,
    out_nx: usize,
    /// `c_m e^{iπ m y_j}` (row j, column m).
    weights: Vec<Complex64>,
    n_y: usize,
    ifft: Arc<dyn Fft<f64>>,
    buf: Vec<Complex64>,
    scale: f64,
}

impl ColumnEvaluator {
    fn new(grid: &Grid2, out_nx: usize, y: &[f64]) -> Self {
        let nyh = grid.nyh();
        let mut weights = Vec::with_capacity(y.len() * nyh);
        for &yj in y {
            for m in 0..nyh {
                let c = if m == 0 || m == nyh - 1 { 1.0 } else { 2.0 };
                let ph = std::f64::consts::PI * m as f64 * yj * (2.0 / grid.ly);
                weights.push(Complex64::new(c * ph.cos(), c * ph.sin()));
            }
        }
        Self {
            nx: grid.nx,
            nyh,
            out_nx,
            weights,
            n_y: y.len(),
            ifft: FftPlanner::new().plan_fft_inverse(out_nx),
            buf: vec![Complex64::default(); out_nx],
            scale: 1.0 / grid.n_phys() as f64,
        }
    }

    /// `out[i * n_y + j] = f(x_i, y_j)` for the real field with spectral coefficients `f` (doubled grid).
    fn eval(&mut self, f: &[Complex64], out: &mut [f64]) {
        let mut h = vec![Complex64::default(); self.out_nx * self.n_y];
        for io in 0..self.out_nx {
            let m = if io <= self.out_nx / 2 { io as i64 } else { io as i64 - self.out_nx as i64 };
            if m.unsigned_abs() as usize >= self.out_nx / 2 || m.unsigned_abs() as usize >= self.nx / 2 {
                continue;
            }
            let ic = if m >= 0 { m as usize } else { (self.nx as i64 + m) as usize };
            let row = &f[ic * self.nyh..(ic + 1) * self.nyh];
            for j in 0..self.n_y {
                let w = &self.weights[j * self.nyh..(j + 1) * self.nyh];
                let mut acc = Complex64::default();
                for m in 0..self.nyh {
                    acc += w[m] * row[m];
                }
                h[io * self.n_y + j] = acc;
            }
        }
        for j in 0..self.n_y {
            for io in 0..self.out_nx {
                self.buf[io] = h[io * self.n_y + j];
            }
            self.ifft.process(&mut self.buf);
            for io in 0..self.out_nx {
                out[io * self.n_y + j] = self.buf[io].re * self.scale;
            }
        }
    }
}

/// Projects a spectral field on the doubled grid onto functions odd in y (sine series):
/// `F(k_x, m) ← (F(k_x, m) − conj F(−k_x, m))/2` for `0 < m < ny/2`, and `F = 0` in the `m = 0` and Nyquist
/// columns (an odd real field has none; there the half-spectrum storage could also hold an anti-Hermitian part
/// that the real inverse transform silently drops).
///
/// The doubled periodic domain also supports y-even "elevator" modes that grow at rate ~1 in free-fall units
/// (through the spectral couplings `∂ₓθ`, `v`, even in the invisible anti-Hermitian part); the symmetric
/// dynamics never create them, but round-off seeds them, so the state is projected after every step.
pub(crate) fn project_odd_y(grid: &Grid2, f: &mut [Complex64]) {
    let nyh = grid.nyh();
    for i in 0..grid.nx {
        let ir = (grid.nx - i) % grid.nx;
        if ir < i {
            continue;
        }
        f[i * nyh] = Complex64::default();
        f[ir * nyh] = Complex64::default();
        f[i * nyh + nyh - 1] = Complex64::default();
        f[ir * nyh + nyh - 1] = Complex64::default();
        for j in 1..nyh - 1 {
            let (a, b) = (f[i * nyh + j], f[ir * nyh + j]);
            f[i * nyh + j] = (a - b.conj()) * 0.5;
            f[ir * nyh + j] = (b - a.conj()) * 0.5;
        }
    }
}

/// One Rayleigh–Bénard integration: state `[ω̂ | θ̂]` on the doubled grid.
pub struct RayleighBenardSolver {
    adv: Advection,
    clock: FrameClock,
    filter: Option<Vec<f64>>,
    state: Vec<Complex64>,
    kappa: f64,
    /// Simulated time.
    pub t: f64,
}

impl RayleighBenardSolver {
    /// A solver with viscosity `nu`, diffusivity `kappa`, started from the physical θ on the doubled grid
    /// (`nx × 2ny`, must be odd in y about 0 and 1) and ω = 0. The IC is filtered (if enabled) and dealiased.
    pub fn from_theta(cfg: &RayleighBenardConfig, nu: f64, kappa: f64, theta: &[f64]) -> Result<Self, SimError> {
        let grid = Grid2::new(cfg.nx, 2 * cfg.ny, cfg.lx, 2.0)?;
        if cfg.out_nx > cfg.nx {
            return Err(SimError::Grid(format!("rayleigh_benard output nx {} exceeds compute nx {}", cfg.out_nx, cfg.nx)));
        }
        let mut adv = Advection::new(grid, Dealias::TwoThirds);
        let n = adv.grid.n_spec();
        let mut state = vec![Complex64::default(); 2 * n];
        adv.fft.forward(theta, &mut state[n..]);
        let filter = cfg.filter.then(|| adv.grid.hou_li_filter());
        for k in 0..n {
            let f = filter.as_ref().map_or(1.0, |f| f[k]);
            state[n + k] *= adv.mask()[k] * f;
        }
        project_odd_y(&adv.grid, &mut state[n..]);
        let k2 = adv.grid.k_squared();
        let mut lin = Vec::with_capacity(2 * n);
        lin.extend(k2.iter().map(|k| Complex64::new(-nu * k, 0.0)));
        lin.extend(k2.iter().map(|k| Complex64::new(-kappa * k, 0.0)));
        // The state stays inside the dealiasing box (dealiased start, masked nonlinear terms).
        let support = adv.grid.dealias_support(Dealias::TwoThirds, 2);
        let clock = FrameClock::new(lin, support, cfg.dt_out, cfg.cfl, cfg.min_substeps, cfg.max_substeps);
        Ok(Self { adv, clock, filter, state, kappa, t: 0.0 })
    }

    /// The IC of the family: `θ₀ = (dT − 1)(1 − y) + 10⁻³ ξ y(1 − y)` with ξ from `seed`, oddly extended.
    pub fn new(cfg: &RayleighBenardConfig, ra: f64, pr: f64, dt_ic: f64, seed: u64) -> Result<Self, SimError> {
        let (nx, ny2) = (cfg.nx, 2 * cfg.ny);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut theta = vec![0.0; nx * ny2];
        for i in 0..nx {
            for j in 1..cfg.ny {
                let y = j as f64 / cfg.ny as f64;
                let xi: f64 = StandardNormal.sample(&mut rng);
                let v = (dt_ic - 1.0) * (1.0 - y) + 1e-3 * xi * y * (1.0 - y);
                theta[i * ny2 + j] = v;
                theta[i * ny2 + ny2 - j] = -v;
            }
        }
        Self::from_theta(cfg, (pr / ra).sqrt(), 1.0 / (ra * pr).sqrt(), &theta)
    }

    /// The compute (doubled) grid.
    pub fn grid(&self) -> &Grid2 {
        &self.adv.grid
    }

    /// Spectral ω̂ and θ̂.
    pub fn vorticity_hat(&self) -> &[Complex64] {
        &self.state[..self.adv.grid.n_spec()]
    }
    pub fn theta_hat(&self) -> &[Complex64] {
        &self.state[self.adv.grid.n_spec()..]
    }

    /// Advances by one output interval.
    pub fn advance_frame(&mut self) -> Result<(), String> {
        let n = self.adv.grid.n_spec();
        self.adv.velocity(&self.state[..n]);
        let substeps = self.clock.substeps(self.adv.cfl_rate())?;
        let dt = self.clock.stepper(substeps).dt();
        let Self { adv, clock, state, filter, t, .. } = self;
        let stepper = clock.stepper(substeps);
        for _ in 0..substeps {
            stepper.step(state, |x, out| {
                let (w, th) = x.split_at(n);
                let (nw, nt) = out.split_at_mut(n);
                adv.velocity(w);
                adv.advect_pair(w, th, nw, nt);
                // The coupling terms ∂ₓθ and v on the dealiasing box (all fields vanish outside it).
                adv.add_velocity_y_hat(w, nt);
                let nyh = adv.grid.nyh();
                for r in &adv.support {
                    let ik = Complex64::new(0.0, adv.grid.kx[r.start / nyh]);
                    for (nw, th) in nw[r.clone()].iter_mut().zip(&th[r.clone()]) {
                        *nw += ik * th;
                    }
                }
            });
            if let Some(f) = filter.as_ref() {
                crate::flow::filter_fields(state, f, &adv.support);
            }
            let (w, th) = state.split_at_mut(n);
            project_odd_y(&adv.grid, w);
            project_odd_y(&adv.grid, th);
            *t += dt;
        }
        if !all_finite(&self.state) {
            return Err("non-finite vorticity or buoyancy".into());
        }
        Ok(())
    }

    /// Nusselt number `1 + ⟨vθ⟩/κ` (domain mean).
    pub fn nusselt(&mut self) -> f64 {
        let n = self.adv.grid.n_spec();
        let w = self.state[..n].to_vec();
        self.adv.velocity(&w);
        let mut th = vec![0.0; self.adv.grid.n_phys()];
        self.adv.fft.inverse(&self.state[n..], &mut th);
        let (_, v) = self.adv.velocity_components();
        let flux: f64 = v.iter().zip(&th).map(|(v, t)| v * t).sum::<f64>() / th.len() as f64;
        1.0 + flux / self.kappa
    }

    /// Spectral fields at the current time: (θ̂, P̂, û, v̂) where `P̂` excludes the hydrostatic part.
    fn output_spectra(&mut self) -> [Vec<Complex64>; 4] {
        let n = self.adv.grid.n_spec();
        let w = self.state[..n].to_vec();
        let th = self.state[n..].to_vec();
        let mut uh = vec![Complex64::default(); n];
        let mut vh = vec![Complex64::default(); n];
        self.adv.velocity_hat(&w, &mut uh, &mut vh);
        self.adv.velocity(&w);
        let mut dyth = vec![Complex64::default(); n];
        self.adv.grid.ddy(&th, &mut dyth);
        let mut ph = vec![Complex64::default(); n];
        self.adv.pressure_hat(&dyth, &mut ph);
        [th, ph, uh, vh]
    }
}

/// Writes one output frame (buoyancy, pressure, velocity) from a solver.
struct RbWriter {
    eval: ColumnEvaluator,
    y: Vec<f64>,
    out_nx: usize,
}

impl RbWriter {
    fn new(solver: &RayleighBenardSolver, cfg: &RayleighBenardConfig) -> Self {
        let y = chebyshev_gauss(cfg.out_ny);
        Self { eval: ColumnEvaluator::new(solver.grid(), cfg.out_nx, &y), y, out_nx: cfg.out_nx }
    }

    fn write(&mut self, s: &mut RayleighBenardSolver, k: usize, b: &mut ArrayD<f32>, p: &mut ArrayD<f32>, vel: &mut ArrayD<f32>) {
        let [th, ph, uh, vh] = s.output_spectra();
        let ny = self.y.len();
        let mut buf = vec![0.0; self.out_nx * ny];
        self.eval.eval(&th, &mut buf);
        for i in 0..self.out_nx {
            for (j, &y) in self.y.iter().enumerate() {
                b[IxDyn(&[k, i, j])] = ((1.0 - y) + buf[i * ny + j]) as f32;
            }
        }
        self.eval.eval(&ph, &mut buf);
        for i in 0..self.out_nx {
            for (j, &y) in self.y.iter().enumerate() {
                p[IxDyn(&[k, i, j])] = ((y - 0.5 * y * y - 1.0 / 3.0) + buf[i * ny + j]) as f32;
            }
        }
        for (c, spec) in [uh, vh].iter().enumerate() {
            self.eval.eval(spec, &mut buf);
            for i in 0..self.out_nx {
                for j in 0..ny {
                    vel[IxDyn(&[k, i, j, c])] = buf[i * ny + j] as f32;
                }
            }
        }
    }
}

/// The `rayleigh_benard` dataset.
pub struct RayleighBenard;

/// Formats Prandtl as The Well does: `1e-1`, `2e-1`, `5e-1` below 1, plain integers from 1.
fn prandtl_name(pr: f64) -> String {
    if pr >= 1.0 {
        format!("{}", pr.round() as i64)
    } else {
        well_sci(pr)
    }
}

impl System for RayleighBenard {
    fn name(&self) -> &'static str {
        SystemId::RayleighBenard.name()
    }

    fn param_grid(&self, preset: Preset) -> Vec<ParamPoint> {
        let cfg = RayleighBenardConfig::preset(preset);
        let mut out = Vec::new();
        for &ra in &cfg.rayleigh {
            for &pr in &cfg.prandtl {
                out.push(ParamPoint {
                    params: vec![("Rayleigh".into(), ra), ("Prandtl".into(), pr)],
                    file_name: format!("rayleigh_benard_Rayleigh_{}_Prandtl_{}.hdf5", well_sci(ra), prandtl_name(pr)),
                });
            }
        }
        out
    }

    fn ics_per_point(&self, preset: Preset) -> usize {
        RayleighBenardConfig::preset(preset).ics
    }

    fn layout(&self, preset: Preset) -> Layout {
        let cfg = RayleighBenardConfig::preset(preset);
        Layout {
            dataset_name: SystemId::RayleighBenard.name().into(),
            time: (0..cfg.frames).map(|k| k as f64 * cfg.dt_out).collect(),
            x: (0..cfg.out_nx).map(|i| cfg.lx * i as f64 / cfg.out_nx as f64).collect(),
            y: chebyshev_gauss(cfg.out_ny),
            boundaries: vec![
                Boundary { name: "x_periodic".into(), dim: "x".into(), kind: BoundaryKind::Periodic },
                Boundary { name: "y_wall_dirichlet".into(), dim: "y".into(), kind: BoundaryKind::Wall },
            ],
            fields: vec![
                FieldSpec::new("buoyancy", 0),
                FieldSpec::new("pressure", 0),
                FieldSpec::new("velocity", 1),
            ],
            attrs: vec![
                ("generator".into(), format!("physrep-sim {} rayleigh_benard", env!("CARGO_PKG_VERSION"))),
                (
                    "solver".into(),
                    format!(
                        "vorticity-streamfunction, Fourier x sine/cosine (odd/even extension), f64, ETDRK4 (Kassam-Trefethen), dt = {}/n with CFL <= {}, 2/3 dealiasing, Hou-Li filter {}",
                        cfg.dt_out, cfg.cfl, if cfg.filter { "on" } else { "off" }
                    ),
                ),
                ("compute_resolution".into(), format!("{}x{}", cfg.nx, cfg.ny)),
                ("source_resolution".into(), "512x128 (Dedalus RealFourier x ChebyshevT)".into()),
                ("y_grid".into(), "Chebyshev-Gauss nodes y_j = (1 - cos(pi (j + 1/2) / ny)) / 2".into()),
                ("frame0".into(), "unprojected initial buoyancy, u = 0, p = 0".into()),
                (
                    "physics_departures".into(),
                    "free-slip walls instead of no-slip (onset 657.5 vs 1707.8); zonal shear flows possible at high Ra / low Pr; Ra >= 1e8 under-resolved (filter-controlled)".into(),
                ),
            ],
        }
    }

    fn simulate(&self, p: &ParamPoint, ic: usize, seed: u64, preset: Preset) -> Result<Trajectory, SimError> {
        let cfg = RayleighBenardConfig::preset(preset);
        let ra = p.require(SystemId::RayleighBenard.name(), "Rayleigh")?;
        let pr = p.require(SystemId::RayleighBenard.name(), "Prandtl")?;
        let dt_ic = DELTA_T[(ic / 10) % DELTA_T.len()];
        let (t, onx, ony) = (cfg.frames, cfg.out_nx, cfg.out_ny);
        let mut b = ArrayD::<f32>::zeros(IxDyn(&[t, onx, ony]));
        let mut pres = ArrayD::<f32>::zeros(IxDyn(&[t, onx, ony]));
        let mut vel = ArrayD::<f32>::zeros(IxDyn(&[t, onx, ony, 2]));
        // Frame 0: unprojected b₀ on the output grid (noise from a stream separate from the compute grid's).
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ physrep_core::seed::GAMMA);
        let y = chebyshev_gauss(ony);
        for i in 0..onx {
            for (j, &yj) in y.iter().enumerate() {
                let xi: f64 = StandardNormal.sample(&mut rng);
                b[IxDyn(&[0, i, j])] = (dt_ic * (1.0 - yj) + 1e-3 * xi * yj * (1.0 - yj)) as f32;
            }
        }
        let mut solver = RayleighBenardSolver::new(&cfg, ra, pr, dt_ic, seed)?;
        let mut writer = RbWriter::new(&solver, &cfg);
        for k in 1..t {
            solver.advance_frame().map_err(|reason| SimError::BlowUp {
                system: SystemId::RayleighBenard.name().into(),
                params: p.describe(),
                ic,
                time: solver.t,
                reason,
            })?;
            writer.write(&mut solver, k, &mut b, &mut pres, &mut vel);
        }
        Ok(Trajectory { fields: vec![b, pres, vel], ic_params: vec![("dT".into(), dt_ic), ("seed_slot".into(), (40 + ic % 10) as f64)] })
    }
}

#[cfg(test)]
mod tests;
