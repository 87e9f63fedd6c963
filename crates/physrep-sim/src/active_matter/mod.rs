//! `active_matter`: rod-like active particles in Stokes flow, the D-tensor kinetic model with the exact
//! 2-D Bingham closure (spec `docs/simulators.md` §4; The Well's `active_matter`, Maddu, Weady & Shelley,
//! J. Comput. Phys. 504 (2024) 112869, arXiv:2308.06675).
//!
//! # Equations (periodic square [0, L)², L = 10)
//! With c = tr D, (∇u)_ij = ∂_j u_i, E = ½(∇u + ∇uᵀ) and S the closed fourth moment ([`closure`]):
//!
//!   ∂ₜD = −u·∇D + ∇u·D + D·∇uᵀ − 2E:S + 4ζ(D·D − S:D) − 4d_R(D − (c/2)I) + d_T∇²D,
//!   −∇²u + ∇q = ∇·Σ, ∇·u = 0, Σ = αD + βS:E − 2ζβ(D·D − S:D)   ([`stokes`], [`model`]).
//!
//! The trace gives ∂ₜc + u·∇c = d_T∇²c exactly (the closure satisfies S_ijkk = D_ij).
//!
//! # Numerics (choices where the original generator is unpublished)
//! * Fourier pseudo-spectral on an n × n grid, f64 state (c, q₁ = (D_xx − D_yy)/2, q₂ = D_xy), f32 output.
//! * **ETDRK4** (Kassam–Trefethen coefficients, [`crate::etdrk4`]) with the diagonal linear part
//!   −d_T|k|² (c) and −d_T|k|² − 4d_R (q₁, q₂) integrated exactly; everything else explicit.
//! * Products on the grid, 2/3-dealiased (stress and right-hand side). The Hou–Li filter multiplies the
//!   nonlinear term and the stress (departure from the Flatiron script, which filters the state after
//!   every step: that makes the result depend on the number of steps and spoiled convergence in dt
//!   here). Inside the 2/3 band the filter is ≥ exp(−36·(2/3)³⁶) ≈ 1 − 1.7e-5.
//! * Stokes: spectral projection û = |k|⁻²(I − kk/|k|²) ik·Σ̂. The E-dependence of Σ is handled by
//!   fixed-point iteration warm-started from the previous right-hand-side evaluation's E
//!   ([`ActiveMatterConfig::fixed_point_iters`] Stokes solves per evaluation; output frames iterate to
//!   convergence, change < 1e-13). The lag makes the scheme first order in dt (measured; contraction
//!   factor ≈ 0.1 per iteration, so 2 iterations keep the constant small: see the presets).
//! * Exact Bingham closure via a cubic-Hermite table of m₄(s) built from Newton inversion of
//!   A(κ) = I₁/I₀ (exponentially scaled Bessel functions), [`closure`].
//! * Frames at exactly t = k·Δt_out (dt = Δt_out / steps_per_frame); frame 0 is the initial condition.
//!
//! # Initial condition [assumed; the data say only "plane-wave perturbation about the isotropic state"]
//! P = I/√2 + ε Σ_j A_j cos(k_j·x + φ_j) over all wave vectors k_j = 2π(n, m)/L with
//! 0 < n² + m² ≤ K² in a half plane (K = [`ActiveMatterConfig::ic_max_mode`] = 4: 24 modes), A_j symmetric
//! with independent N(0, 1/#modes) entries, φ_j uniform; D₀ = P·P (PSD, tr D₀ = 1 + O(ε)). Drawn from a
//! ChaCha8 stream seeded by the trajectory seed.
//!
//! # Resolution
//! The isotropic state is unstable in the whole band |k| < k_c = √((ζc − 4d_R)/d_T) (growth rate
//! ζc − 4d_R − d_T|k|²), so with d_T = 0.05 the smallest structures shrink as ζ grows: a 2/3-dealiased
//! n² grid on L = 10 keeps |k| < 2πn/(3L), i.e. resolves the linear band only for n ≳ 4.8 k_c
//! (ζ ≲ 2.4 at 32², ζ ≲ 9 at 64²; ζ = 17 needs ≳ 90²), and the nonlinear fronts and defect cores are
//! sharper still. Under-resolved runs stay bounded (filter, saturating closure) but D's eigenvalues
//! leave [0, c] there (measured max s = √((Q_xx − Q_yy)² + 4Q_xy²): ≈ 1.1 at 64², ζ = 9; 1.34 at 64²,
//! ζ = 17; 1.2 at 32², ζ = 3), while resolved runs keep s < 1 (tests). The Well's 256² resolves ζ ≤ 17.
//! The presets therefore enable a **realizability limiter** (departure): after every step, where s
//! exceeds 0.999 the traceless part of D is scaled back to s = 0.999 (c untouched), the correction
//! added through the dealiasing mask ([`model::Model::limit_realizability`]). It never acts on a
//! resolved run (bit-identical output at ζ = 1 on 32²) and reduces the overshoot to max s ≈ 1.016
//! at 64², ζ = 17 (1.34 without). One step costs 3 inverse + (only where it acts) 2 forward FFTs.
//!
//! # Departures from The Well (also written into the file attributes)
//! β = 0.8 as published; **d_T = d_R = 0.05 are assumed** (from the Flatiron script); the closure and the
//! generator's form are unknown (the kinetic D-tensor model with the exact Bingham closure is our
//! reconstruction); the IC family is described only qualitatively (so the c variance matches only in
//! order of magnitude); lower resolution (64² at `medium` instead of 256²).
//!
//! Shapes out per trajectory (T frames, n × n): concentration (T, n, n), velocity (T, n, n, 2),
//! D (T, n, n, 2, 2) and E (T, n, n, 2, 2), both symmetric, E traceless. No trainable parameters.
//!
//! Run: `physrep simulate active_matter --preset tiny --out DIR` (files), or
//! `physrep bench am-trajectory --preset small` (one trajectory: time and field statistics).

pub mod closure;
pub mod model;
pub mod stokes;

use ndarray::{Array3, Array4, Array5};
use num_complex::Complex64;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::etdrk4::Etdrk4;
use crate::spectral::Grid2;
use crate::system::python_float_repr;
use crate::{Boundary, BoundaryKind, FieldSpec, Layout, ParamPoint, Preset, SimError, System, Trajectory};
use model::{Coefficients, Model, Snapshot};
use physrep_well::SystemId;

/// The Well's ζ values (alignment strength).
pub const ZETAS: [f64; 9] = [1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0, 17.0];
/// The Well's α values (active dipole strength).
pub const ALPHAS: [f64; 5] = [-1.0, -2.0, -3.0, -4.0, -5.0];

/// Numerical and physical settings of one active-matter run. `Default` is the real dataset's setup
/// (256², dt = 0.25/640, 81 frames) with the assumed d_T, d_R.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActiveMatterConfig {
    /// Domain side L.
    pub length: f64,
    /// Grid points per side (even).
    pub n: usize,
    /// β (particle density parameter).
    pub beta: f64,
    /// Translational diffusion d_T (assumed, from the Flatiron script).
    pub d_t: f64,
    /// Rotational diffusion d_R (assumed, from the Flatiron script).
    pub d_r: f64,
    /// Output interval Δt_out.
    pub dt_out: f64,
    /// Number of stored frames (t = 0, Δt_out, …).
    pub frames: usize,
    /// Solver steps per output interval (dt = Δt_out / steps_per_frame).
    pub steps_per_frame: usize,
    /// Stokes fixed-point iterations per right-hand-side evaluation.
    pub fixed_point_iters: usize,
    /// IC perturbation amplitude ε.
    pub ic_amplitude: f64,
    /// Largest |(n, m)| of the IC's plane waves.
    pub ic_max_mode: usize,
    /// Apply the Hou–Li filter (to the nonlinear term and the stress).
    pub filter: bool,
    /// If set, clip the order parameter s to this value after every step (see
    /// [`Model::limit_realizability`]).
    pub realizability_limit: Option<f64>,
}

impl Default for ActiveMatterConfig {
    fn default() -> Self {
        Self {
            length: 10.0,
            n: 256,
            beta: 0.8,
            d_t: 0.05,
            d_r: 0.05,
            dt_out: 0.25,
            frames: 81,
            steps_per_frame: 640,
            fixed_point_iters: 2,
            ic_amplitude: 1e-2,
            ic_max_mode: 4,
            filter: true,
            realizability_limit: None,
        }
    }
}

impl ActiveMatterConfig {
    /// The configuration of a physrep preset: `tiny` 16², 33 frames, dt = 0.25/10; `small` 32², 49 frames,
    /// dt = 0.25/20; `medium` 64² (MiniWell resolution), 81 frames, dt = 0.25/80. Measured time-step error
    /// (max |ΔD| at t = 0.5 between dt and dt/2, ζ = 17, α = −5, 64²): 1.1e-3 at 0.25/40, 4.7e-4 at
    /// 0.25/80, 2.2e-4 at 0.25/160 — first order, set by the lagged E of the fixed-point iteration.
    /// All presets are under-resolved at large ζ (module doc, "Resolution") and so enable the
    /// realizability limiter at s = 0.999.
    pub fn preset(preset: Preset) -> Self {
        let base = Self { realizability_limit: Some(0.999), ..Self::default() };
        match preset {
            Preset::Tiny => Self { n: 16, frames: 33, steps_per_frame: 10, ..base },
            Preset::Small => Self { n: 32, frames: 49, steps_per_frame: 20, ..base },
            Preset::Medium => Self { n: 64, steps_per_frame: 80, ..base },
        }
    }

    fn validate(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Options(format!("active_matter config: {m}")));
        if self.frames == 0 || self.steps_per_frame == 0 {
            return bad(format!("frames ({}) and steps_per_frame ({}) must be ≥ 1", self.frames, self.steps_per_frame));
        }
        if !(self.dt_out > 0.0 && self.d_t >= 0.0 && self.d_r >= 0.0 && self.beta.is_finite()) {
            return bad(format!("need dt_out > 0, d_t ≥ 0, d_r ≥ 0 (got {}, {}, {})", self.dt_out, self.d_t, self.d_r));
        }
        if let Some(s) = self.realizability_limit {
            if !(s > 0.0 && s <= 1.0) {
                return bad(format!("realizability_limit {s} must lie in (0, 1]"));
            }
        }
        if 3 * self.ic_max_mode >= self.n {
            return bad(format!("ic_max_mode {} is not resolved by the 2/3-dealiased {}² grid", self.ic_max_mode, self.n));
        }
        Ok(())
    }

    /// Root attributes recording the solver and the departures from The Well.
    pub fn attributes(&self) -> Vec<(String, String)> {
        let kv = |k: &str, v: String| (k.to_string(), v);
        vec![
            kv("generator", "physrep-sim active_matter: D-tensor kinetic model, exact 2-D Bingham closure, spectral Stokes, ETDRK4".into()),
            kv("source_resolution", "256x256 (The Well); here compute = output grid".into()),
            kv("grid", format!("{0}x{0}", self.n)),
            kv("beta", format!("{}", self.beta)),
            kv("d_T", format!("{} [assumed, Flatiron Doi-Onsager script]", self.d_t)),
            kv("d_R", format!("{} [assumed, Flatiron Doi-Onsager script]", self.d_r)),
            kv("dt", format!("{}", self.dt_out / self.steps_per_frame as f64)),
            kv("fixed_point_iters", format!("{}", self.fixed_point_iters)),
            kv("dealias", "2/3".into()),
            kv("filter", if self.filter { "hou-li exp(-36 (k/kmax)^36) on the nonlinear term and stress".into() } else { "none".into() }),
            kv("initial_condition", format!(
                "P = I/sqrt2 + eps sum_j A_j cos(k_j.x + phi_j), |k_j| <= {}*2pi/L, eps = {}; D0 = P.P",
                self.ic_max_mode, self.ic_amplitude
            )),
            kv("realizability_limit", match self.realizability_limit {
                Some(s) => format!("order parameter clipped to {s} after every step (under-resolved runs)"),
                None => "none".into(),
            }),
            kv("physics_departures", "d_T, d_R assumed; closure and generator form reconstructed; IC family assumed; reduced resolution (large zeta under-resolved, realizability limiter)".into()),
        ]
    }
}

/// D₀ = P·P on the grid (components xx, xy, yy), see the module doc.
pub fn initial_condition(cfg: &ActiveMatterConfig, grid: &Grid2, seed: u64) -> [Vec<f64>; 3] {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let kmax = cfg.ic_max_mode as i64;
    let mut modes = Vec::new();
    for n in 0..=kmax {
        for m in -kmax..=kmax {
            let in_half_plane = n > 0 || m > 0;
            if in_half_plane && n * n + m * m <= kmax * kmax {
                modes.push((n, m));
            }
        }
    }
    let sd = 1.0 / (modes.len() as f64).sqrt();
    let tau = 2.0 * std::f64::consts::PI;
    let waves: Vec<(f64, f64, [f64; 3], f64)> = modes
        .iter()
        .map(|&(n, m)| {
            let a: [f64; 3] = std::array::from_fn(|_| sd * rng.sample::<f64, _>(StandardNormal));
            let phase = tau * rng.random::<f64>();
            (tau * n as f64 / cfg.length, tau * m as f64 / cfg.length, a, phase)
        })
        .collect();
    let (x, y) = (grid.x_coords(), grid.y_coords());
    let np = grid.n_phys();
    let mut d = [vec![0.0; np], vec![0.0; np], vec![0.0; np]];
    let h = std::f64::consts::FRAC_1_SQRT_2;
    for ix in 0..grid.nx {
        for iy in 0..grid.ny {
            let mut pert = [0.0; 3];
            for (kx, ky, a, phase) in &waves {
                let w = (kx * x[ix] + ky * y[iy] + phase).cos();
                for k in 0..3 {
                    pert[k] += a[k] * w;
                }
            }
            let p = closure::Sym2::new(h + cfg.ic_amplitude * pert[0], cfg.ic_amplitude * pert[1], h + cfg.ic_amplitude * pert[2]).square();
            let idx = ix * grid.ny + iy;
            d[0][idx] = p.xx;
            d[1][idx] = p.xy;
            d[2][idx] = p.yy;
        }
    }
    d
}

/// The output fields of one trajectory, f32, in The Well's shapes.
#[derive(Clone, Debug)]
pub struct ActiveMatterFrames {
    /// tr D, (T, n, n).
    pub concentration: Array3<f32>,
    /// u, (T, n, n, 2).
    pub velocity: Array4<f32>,
    /// D, (T, n, n, 2, 2).
    pub d: Array5<f32>,
    /// E, (T, n, n, 2, 2).
    pub e: Array5<f32>,
}

impl ActiveMatterFrames {
    fn zeros(t: usize, n: usize) -> Self {
        Self {
            concentration: Array3::zeros((t, n, n)),
            velocity: Array4::zeros((t, n, n, 2)),
            d: Array5::zeros((t, n, n, 2, 2)),
            e: Array5::zeros((t, n, n, 2, 2)),
        }
    }

    fn store(&mut self, frame: usize, n: usize, s: &Snapshot) {
        for ix in 0..n {
            for iy in 0..n {
                let p = ix * n + iy;
                self.concentration[[frame, ix, iy]] = s.c[p] as f32;
                for k in 0..2 {
                    self.velocity[[frame, ix, iy, k]] = s.u[k][p] as f32;
                }
                for (arr, comp) in [(&mut self.d, &s.d), (&mut self.e, &s.e)] {
                    arr[[frame, ix, iy, 0, 0]] = comp[0][p] as f32;
                    arr[[frame, ix, iy, 0, 1]] = comp[1][p] as f32;
                    arr[[frame, ix, iy, 1, 0]] = comp[1][p] as f32;
                    arr[[frame, ix, iy, 1, 1]] = comp[2][p] as f32;
                }
            }
        }
    }
}

/// The model and stepper of one run, exposed for validation (fixed dt, f64 state).
pub struct Run {
    model: Model,
    stepper: Etdrk4,
    realizability: Option<f64>,
    /// Spectral state `[ĉ, q̂₁, q̂₂]`.
    pub state: Vec<Complex64>,
}

impl Run {
    /// A run on `cfg`'s grid from physical D components, with dt = Δt_out / steps_per_frame.
    pub fn new(cfg: &ActiveMatterConfig, zeta: f64, alpha: f64, d0: &[Vec<f64>; 3]) -> Result<Self, SimError> {
        cfg.validate()?;
        let grid = Grid2::new(cfg.n, cfg.n, cfg.length, cfg.length)?;
        let coef = Coefficients { zeta, alpha, beta: cfg.beta, d_t: cfg.d_t, d_r: cfg.d_r };
        let mut model = Model::new(grid, coef, cfg.fixed_point_iters, cfg.filter);
        let stepper = Etdrk4::new(&model.linear_operator(), cfg.dt_out / cfg.steps_per_frame as f64);
        let state = model.state_from_d(&d0[0], &d0[1], &d0[2]);
        Ok(Self { model, stepper, realizability: cfg.realizability_limit, state })
    }

    /// One ETDRK4 step. Returns false if the state is no longer finite.
    pub fn step(&mut self) -> bool {
        let model = &mut self.model;
        self.stepper.step(&mut self.state, |v, out| model.nonlinear(v, out));
        if let Some(s_max) = self.realizability {
            model.limit_realizability(&mut self.state, s_max);
        }
        self.state.iter().all(|v| v.re.is_finite() && v.im.is_finite())
    }

    /// The physical fields now.
    pub fn snapshot(&mut self) -> Snapshot {
        self.model.snapshot(&self.state)
    }
}

/// Simulates one trajectory from the IC drawn with `seed`; `ic` (the IC index) only labels a blow-up error.
pub fn simulate(cfg: &ActiveMatterConfig, zeta: f64, alpha: f64, seed: u64, ic: usize) -> Result<ActiveMatterFrames, SimError> {
    cfg.validate()?;
    let grid = Grid2::new(cfg.n, cfg.n, cfg.length, cfg.length)?;
    let d0 = initial_condition(cfg, &grid, seed);
    let mut run = Run::new(cfg, zeta, alpha, &d0)?;
    let mut out = ActiveMatterFrames::zeros(cfg.frames, cfg.n);
    let dt = cfg.dt_out / cfg.steps_per_frame as f64;
    let blow_up = |time: f64, reason: &str| SimError::BlowUp {
        system: SystemId::ActiveMatter.name().into(),
        params: format!("zeta={zeta}, alpha={alpha}"),
        ic,
        time,
        reason: reason.into(),
    };
    out.store(0, cfg.n, &run.snapshot());
    for frame in 1..cfg.frames {
        for s in 0..cfg.steps_per_frame {
            if !run.step() {
                let t = ((frame - 1) * cfg.steps_per_frame + s + 1) as f64 * dt;
                return Err(blow_up(t, "non-finite state (NaN/Inf)"));
            }
        }
        let snap = run.snapshot();
        let finite = snap.u.iter().chain(snap.e.iter()).all(|f| f.iter().all(|v| v.is_finite()));
        if !finite {
            return Err(blow_up(frame as f64 * cfg.dt_out, "non-finite velocity or strain rate"));
        }
        out.store(frame, cfg.n, &snap);
    }
    Ok(out)
}

/// The Well's file name for (ζ, α).
pub fn file_name(zeta: f64, alpha: f64) -> String {
    format!("active_matter_L_10.0_zeta_{}_alpha_{}.hdf5", python_float_repr(zeta), python_float_repr(alpha))
}

/// The `active_matter` [`System`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ActiveMatter;

impl ActiveMatter {
    /// (ζ values, α values) generated for `preset`: all of The Well's for `medium`; `small` ζ {1, 9, 17} ×
    /// α {−1, −3, −5} (9 files); `tiny` the extremes (2 × 2).
    pub fn grid_values(preset: Preset) -> (Vec<f64>, Vec<f64>) {
        match preset {
            Preset::Tiny => (vec![1.0, 17.0], vec![-1.0, -5.0]),
            Preset::Small => (ZETAS.iter().copied().step_by(4).collect(), ALPHAS.iter().copied().step_by(2).collect()),
            Preset::Medium => (ZETAS.to_vec(), ALPHAS.to_vec()),
        }
    }
}

impl System for ActiveMatter {
    fn name(&self) -> &'static str {
        SystemId::ActiveMatter.name()
    }

    fn param_grid(&self, preset: Preset) -> Vec<ParamPoint> {
        let (zetas, alphas) = Self::grid_values(preset);
        let mut out = Vec::new();
        for &zeta in &zetas {
            for &alpha in &alphas {
                out.push(ParamPoint {
                    params: vec![("L".into(), 10.0), ("zeta".into(), zeta), ("alpha".into(), alpha)],
                    file_name: file_name(zeta, alpha),
                });
            }
        }
        out
    }

    fn ics_per_point(&self, _preset: Preset) -> usize {
        5
    }

    fn layout(&self, preset: Preset) -> Layout {
        let cfg = ActiveMatterConfig::preset(preset);
        let coords = |n: usize| (0..n).map(|i| cfg.length * i as f64 / n as f64).collect::<Vec<_>>();
        let periodic = |d: &str| Boundary { name: format!("{d}_periodic"), dim: d.into(), kind: BoundaryKind::Periodic };
        Layout {
            dataset_name: SystemId::ActiveMatter.name().into(),
            time: (0..cfg.frames).map(|k| k as f64 * cfg.dt_out).collect(),
            x: coords(cfg.n),
            y: coords(cfg.n),
            boundaries: vec![periodic("x"), periodic("y")],
            // D and E are symmetric t2 fields (`FieldSpec::new` marks order-2 fields symmetric).
            fields: vec![FieldSpec::new("concentration", 0), FieldSpec::new("velocity", 1), FieldSpec::new("D", 2), FieldSpec::new("E", 2)],
            attrs: cfg.attributes(),
        }
    }

    fn simulate(&self, p: &ParamPoint, ic: usize, seed: u64, preset: Preset) -> Result<Trajectory, SimError> {
        let get = |name: &str| p.require(SystemId::ActiveMatter.name(), name);
        let cfg = ActiveMatterConfig::preset(preset);
        let frames = simulate(&cfg, get("zeta")?, get("alpha")?, seed, ic)?;
        Ok(Trajectory {
            fields: vec![frames.concentration.into_dyn(), frames.velocity.into_dyn(), frames.d.into_dyn(), frames.e.into_dyn()],
            ic_params: vec![
                ("ic_index".into(), ic as f64),
                ("ic_amplitude".into(), cfg.ic_amplitude),
                ("ic_max_mode".into(), cfg.ic_max_mode as f64),
            ],
        })
    }
}
