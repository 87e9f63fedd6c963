//! `shear_flow`: 2-D periodic incompressible shear layers with a passive tracer (The Well's `shear_flow`,
//! spec `docs/simulators.md` §3).
//!
//! Equations (vorticity form of The Well's Navier–Stokes + tracer, ν = 1/Re, D = ν/Sc):
//! `∂ₜω + u·∇ω = ν∇²ω`, `∂ₜs + u·∇s = D∇²s` on `[0,1) × [−1,1)`, fully periodic, `k_x = 2πn`, `k_y = πm`.
//! Velocity from `ψ̂ = ω̂/|k|²` plus the conserved mean `(U₀, V₀)` of the discrete initial condition; pressure
//! `p̂ = −k_ik_j (u_iu_j)^/|k|²`, `p̂(0) = 0` (Dedalus gauge).
//!
//! Numerics: Fourier–Fourier pseudo-spectral, f64, 2/3-rule dealiasing of the products, Hou–Li filter applied to
//! the state after every step, ETDRK4 with `ν|k|²`, `D|k|²` exact and `dt = 0.1/n` (n from CFL ≤ 0.5 on the
//! compute grid). Output by spectral truncation to the output grid, f32.
//!
//! Initial condition (The Well's generator code, `RudyMorel/the-well-rbc-sf` `generate_sf.py`): for IC index
//! `ic` ∈ 0..40 → (n_shear ∈ {2,4}, n_blobs ∈ {2,3,4,5}, width ∈ {0.25,0.5,1,2,4}), `z_k = −1 + (2k+1)/n_s`,
//! `σ_k = 2(k mod 2) − 1`, `ζ_k = n_s(y − z_k)/(2w)`, `u_x = ½ + Σ σ_k ½ tanh(ζ_k/0.1)`,
//! `u_y = Σ 0.1 sin(σ_k n_b π x) e^{−ζ_k²/0.01}`, `s = u_x`. The IC is not divergence-free; the vorticity form
//! projects it. **Frame 0 stores the raw IC with p = 0** (what the data contain \[inferred\]); frames ≥ 1 are
//! the solver's projected flow. The IC is deterministic, the trajectory seed is unused.
//!
//! Departures: resolution only (compute 128×256 at `medium` vs 1024×2048); the filter controls the grid
//! scale for ν ≤ 1e-4; scalar names `Reynolds`, `Schmidt` (docs/well-format.md §13).

use ndarray::{ArrayD, IxDyn};
use num_complex::Complex64;
use serde::{Deserialize, Serialize};

use crate::flow::{all_finite, truncate, Advection, FrameClock};
use crate::spectral::{Dealias, Fft2, Grid2};
use crate::system::{well_sci, Boundary, BoundaryKind, FieldSpec, Layout, ParamPoint, Preset, System, Trajectory};
use crate::SimError;
use physrep_well::SystemId;

/// Reynolds numbers of The Well's grid.
pub const REYNOLDS: [f64; 4] = [1e4, 5e4, 1e5, 5e5];
/// Schmidt numbers of The Well's grid.
pub const SCHMIDT: [f64; 7] = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0];

/// Solver and output settings. `Default` = the `medium` preset (MiniWell-like output, The Well's cadence).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShearFlowConfig {
    /// Compute grid (x over [0,1), y over [−1,1)).
    pub nx: usize,
    pub ny: usize,
    /// Output grid (spectral truncation of the compute grid; ≤ compute sizes).
    pub out_nx: usize,
    pub out_ny: usize,
    /// Number of stored frames and their spacing.
    pub frames: usize,
    pub dt_out: f64,
    /// Target CFL number `max(|u|/Δx + |v|/Δy)·dt`.
    pub cfl: f64,
    /// Minimum and maximum ETDRK4 substeps per frame.
    pub min_substeps: usize,
    pub max_substeps: usize,
    /// Apply the Hou–Li filter after each step.
    pub filter: bool,
    /// Reynolds numbers and Schmidt numbers generated. `medium`: The Well's grid. `small`: Re {5e2, 1e3, 2e3}
    /// × Sc {0.1, 0.2, 0.4}, 8 ICs each (6/1/1), 48 frames at Δt 0.4 on a 32×64 grid; `tiny`: Re {5e2, 1e3} ×
    /// Sc 0.5 on 32×64 → 16×32. These are below The Well's Re ≥ 1e4: the physical check (`crate::checks`)
    /// needs the tracer's Péclet number Re·Sc ≲ 1e3 on 32×64 (measured excursions, 8 ICs: Re·Sc 1e3 0.8–1.9 %,
    /// 2e3 7 %, The Well's old `small` points Re 1e4–5e5 × Sc 0.1–10 3–144 %).
    pub reynolds: Vec<f64>,
    pub schmidt: Vec<f64>,
    /// Initial-condition indices per file (0..40).
    pub ics: usize,
}

impl Default for ShearFlowConfig {
    fn default() -> Self {
        Self {
            nx: 128,
            ny: 256,
            out_nx: 64,
            out_ny: 128,
            frames: 200,
            dt_out: 0.1,
            cfl: 0.5,
            min_substeps: 8,
            max_substeps: 1024,
            filter: true,
            reynolds: REYNOLDS.to_vec(),
            schmidt: SCHMIDT.to_vec(),
            ics: 40,
        }
    }
}

impl ShearFlowConfig {
    /// The settings of a preset.
    pub fn preset(p: Preset) -> Self {
        match p {
            Preset::Tiny => Self {
                nx: 32,
                ny: 64,
                out_nx: 16,
                out_ny: 32,
                frames: 32,
                min_substeps: 2,
                reynolds: vec![5e2, 1e3],
                schmidt: vec![0.5],
                ics: 3,
                ..Self::default()
            },
            Preset::Small => Self {
                nx: 32,
                ny: 64,
                out_nx: 32,
                out_ny: 64,
                frames: 48,
                dt_out: 0.4,
                min_substeps: 4,
                reynolds: vec![5e2, 1e3, 2e3],
                schmidt: vec![0.1, 0.2, 0.4],
                ics: 8,
                ..Self::default()
            },
            Preset::Medium => Self::default(),
        }
    }
}

/// The IC family parameters of one trajectory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShearFlowIc {
    pub n_shear: usize,
    pub n_blobs: usize,
    pub width: f64,
}

impl ShearFlowIc {
    /// IC index 0..40 → (n_shear, n_blobs, width), width fastest. Indices beyond 40 wrap.
    pub fn from_index(ic: usize) -> Self {
        let ic = ic % 40;
        Self { n_shear: [2, 4][ic / 20], n_blobs: [2, 3, 4, 5][(ic / 5) % 4], width: [0.25, 0.5, 1.0, 2.0, 4.0][ic % 5] }
    }

    /// `(u_x, u_y)` of the raw IC at `(x, y)`.
    pub fn velocity(&self, x: f64, y: f64) -> (f64, f64) {
        let ns = self.n_shear as f64;
        let mut ux = 0.5;
        let mut uy = 0.0;
        for k in 0..self.n_shear {
            let z = -1.0 + 2.0 * k as f64 / ns + 1.0 / ns;
            let sigma = 2.0 * (k % 2) as f64 - 1.0;
            let zeta = ns * (y - z) / (2.0 * self.width);
            ux += sigma * 0.5 * (zeta / 0.1).tanh();
            uy += 0.1 * (sigma * self.n_blobs as f64 * std::f64::consts::PI * x).sin() * (-zeta * zeta / 0.01).exp();
        }
        (ux, uy)
    }
}

/// One shear-flow integration: state `[ω̂ | ŝ]` on the compute grid.
pub struct ShearFlowSolver {
    adv: Advection,
    clock: FrameClock,
    filter: Option<Vec<f64>>,
    state: Vec<Complex64>,
    /// Simulated time.
    pub t: f64,
    out_grid: Grid2,
    out_fft: Fft2,
}

impl ShearFlowSolver {
    /// A solver started from physical vorticity and tracer on the compute grid (`nx·ny`, y fastest), with
    /// viscosity `nu`, tracer diffusivity `diff` and mean flow `(U₀, V₀)`. Both fields are projected onto the
    /// 2/3 dealiasing mask.
    pub fn from_fields(
        cfg: &ShearFlowConfig,
        nu: f64,
        diff: f64,
        omega: &[f64],
        tracer: &[f64],
        mean_flow: [f64; 2],
    ) -> Result<Self, SimError> {
        let grid = Grid2::new(cfg.nx, cfg.ny, 1.0, 2.0)?;
        if cfg.out_nx > cfg.nx || cfg.out_ny > cfg.ny {
            return Err(SimError::Grid(format!(
                "shear_flow output grid {}×{} exceeds compute grid {}×{}",
                cfg.out_nx, cfg.out_ny, cfg.nx, cfg.ny
            )));
        }
        let out_grid = Grid2::new(cfg.out_nx, cfg.out_ny, 1.0, 2.0)?;
        let mut adv = Advection::new(grid, Dealias::TwoThirds);
        adv.mean_flow = mean_flow;
        let n = adv.grid.n_spec();
        let mut state = vec![Complex64::default(); 2 * n];
        {
            let (w, s) = state.split_at_mut(n);
            adv.fft.forward(omega, w);
            adv.fft.forward(tracer, s);
            // The state is dealiased from the start (as every later nonlinear term is), which the banded
            // transforms of `Advection` rely on.
            for ((a, b), m) in w.iter_mut().zip(s.iter_mut()).zip(adv.mask()) {
                *a *= *m;
                *b *= *m;
            }
        }
        let k2 = adv.grid.k_squared();
        let mut lin = Vec::with_capacity(2 * n);
        lin.extend(k2.iter().map(|k| Complex64::new(-nu * k, 0.0)));
        lin.extend(k2.iter().map(|k| Complex64::new(-diff * k, 0.0)));
        // The state stays inside the dealiasing box (dealiased start, masked nonlinear terms).
        let support = adv.grid.dealias_support(Dealias::TwoThirds, 2);
        let clock = FrameClock::new(lin, support, cfg.dt_out, cfg.cfl, cfg.min_substeps, cfg.max_substeps);
        let filter = cfg.filter.then(|| adv.grid.hou_li_filter());
        Ok(Self { out_fft: Fft2::new(&out_grid), out_grid, adv, clock, filter, state, t: 0.0 })
    }

    /// A solver for Reynolds `re`, Schmidt `sc` and the IC family member `ic` (projected: ω₀ = ∂ₓu_y − ∂ᵧu_x
    /// spectrally, dealiased; s₀ = u_x; mean flow = the IC's discrete mean).
    pub fn new(cfg: &ShearFlowConfig, re: f64, sc: f64, ic: ShearFlowIc) -> Result<Self, SimError> {
        let grid = Grid2::new(cfg.nx, cfg.ny, 1.0, 2.0)?;
        let mut fft = Fft2::new(&grid);
        let (nx, ny) = (cfg.nx, cfg.ny);
        let x = grid.x_coords();
        let y: Vec<f64> = grid.y_coords().into_iter().map(|y| y - 1.0).collect();
        let mut ux = vec![0.0; nx * ny];
        let mut uy = vec![0.0; nx * ny];
        for i in 0..nx {
            for j in 0..ny {
                let (a, b) = ic.velocity(x[i], y[j]);
                ux[i * ny + j] = a;
                uy[i * ny + j] = b;
            }
        }
        let mean = [ux.iter().sum::<f64>() / (nx * ny) as f64, uy.iter().sum::<f64>() / (nx * ny) as f64];
        let n = grid.n_spec();
        let (mut uxh, mut uyh) = (vec![Complex64::default(); n], vec![Complex64::default(); n]);
        fft.forward(&ux, &mut uxh);
        fft.forward(&uy, &mut uyh);
        let (mut a, mut b) = (vec![Complex64::default(); n], vec![Complex64::default(); n]);
        grid.ddx(&uyh, &mut a);
        grid.ddy(&uxh, &mut b);
        let mask = grid.dealias_mask(Dealias::TwoThirds);
        for k in 0..n {
            a[k] = (a[k] - b[k]) * mask[k];
            uxh[k] *= mask[k];
        }
        let mut omega = vec![0.0; nx * ny];
        let mut tracer = vec![0.0; nx * ny];
        fft.inverse(&a, &mut omega);
        fft.inverse(&uxh, &mut tracer);
        let nu = 1.0 / re;
        Self::from_fields(cfg, nu, nu / sc, &omega, &tracer, mean)
    }

    /// The spectral vorticity ω̂ (compute grid).
    pub fn vorticity_hat(&self) -> &[Complex64] {
        &self.state[..self.adv.grid.n_spec()]
    }

    /// The spectral tracer ŝ (compute grid).
    pub fn tracer_hat(&self) -> &[Complex64] {
        &self.state[self.adv.grid.n_spec()..]
    }

    /// The compute grid.
    pub fn grid(&self) -> &Grid2 {
        &self.adv.grid
    }

    /// Advances by one output interval; errors describe a CFL violation or a non-finite state.
    pub fn advance_frame(&mut self) -> Result<(), String> {
        let n = self.adv.grid.n_spec();
        self.adv.velocity(&self.state[..n]);
        let substeps = self.clock.substeps(self.adv.cfl_rate())?;
        let dt = self.clock.stepper(substeps).dt();
        let Self { adv, clock, state, filter, t, .. } = self;
        let stepper = clock.stepper(substeps);
        for _ in 0..substeps {
            stepper.step(state, |x, out| {
                let (w, s) = x.split_at(n);
                let (nw, ns) = out.split_at_mut(n);
                adv.velocity(w);
                adv.advect_pair(w, s, nw, ns);
            });
            if let Some(f) = filter.as_ref() {
                crate::flow::filter_fields(state, f, &adv.support);
            }
            *t += dt;
        }
        if !all_finite(&self.state) {
            return Err("non-finite vorticity or tracer".into());
        }
        Ok(())
    }

    /// Writes the current tracer, pressure and velocity on the output grid into frame `k` of the trajectory
    /// arrays (`(T, nx, ny)`, `(T, nx, ny)`, `(T, nx, ny, 2)`).
    pub fn write_frame(&mut self, k: usize, tracer: &mut ArrayD<f32>, pressure: &mut ArrayD<f32>, velocity: &mut ArrayD<f32>) {
        let n = self.adv.grid.n_spec();
        let (onx, ony) = (self.out_grid.nx, self.out_grid.ny);
        let no = self.out_grid.n_spec();
        let mut spec = vec![Complex64::default(); n];
        let mut ospec = vec![Complex64::default(); no];
        let mut phys = vec![0.0; onx * ony];
        let mut put = |fft: &mut Fft2, ospec: &[Complex64], arr: &mut ArrayD<f32>, comp: Option<usize>, add: f64| {
            fft.inverse(ospec, &mut phys);
            for i in 0..onx {
                for j in 0..ony {
                    let v = (phys[i * ony + j] + add) as f32;
                    match comp {
                        None => arr[IxDyn(&[k, i, j])] = v,
                        Some(c) => arr[IxDyn(&[k, i, j, c])] = v,
                    }
                }
            }
        };
        truncate(&self.adv.grid, &self.state[n..], &self.out_grid, &mut ospec);
        put(&mut self.out_fft, &ospec, tracer, None, 0.0);
        let mut vh = vec![Complex64::default(); n];
        self.adv.velocity_hat(&self.state[..n], &mut spec, &mut vh);
        truncate(&self.adv.grid, &spec, &self.out_grid, &mut ospec);
        put(&mut self.out_fft, &ospec, velocity, Some(0), self.adv.mean_flow[0]);
        truncate(&self.adv.grid, &vh, &self.out_grid, &mut ospec);
        put(&mut self.out_fft, &ospec, velocity, Some(1), self.adv.mean_flow[1]);
        self.adv.velocity(&self.state[..n]);
        self.adv.pressure_hat(&[], &mut spec);
        truncate(&self.adv.grid, &spec, &self.out_grid, &mut ospec);
        put(&mut self.out_fft, &ospec, pressure, None, 0.0);
    }

    /// Physical pressure on the compute grid (for validation).
    pub fn pressure(&mut self) -> Vec<f64> {
        let n = self.adv.grid.n_spec();
        let mut spec = vec![Complex64::default(); n];
        self.adv.velocity(&self.state[..n]);
        self.adv.pressure_hat(&[], &mut spec);
        let mut out = vec![0.0; self.adv.grid.n_phys()];
        self.adv.fft.inverse(&spec, &mut out);
        out
    }

    /// Physical velocity (incl. mean flow) on the compute grid (for validation).
    pub fn velocity(&mut self) -> (Vec<f64>, Vec<f64>) {
        let n = self.adv.grid.n_spec();
        let w = self.state[..n].to_vec();
        self.adv.velocity(&w);
        self.adv.velocity_components()
    }
}

/// The `shear_flow` dataset.
pub struct ShearFlow;

impl ShearFlow {
    fn config(preset: Preset) -> ShearFlowConfig {
        ShearFlowConfig::preset(preset)
    }
}

impl System for ShearFlow {
    fn name(&self) -> &'static str {
        SystemId::ShearFlow.name()
    }

    fn param_grid(&self, preset: Preset) -> Vec<ParamPoint> {
        let cfg = Self::config(preset);
        let mut out = Vec::new();
        for &re in &cfg.reynolds {
            for &sc in &cfg.schmidt {
                out.push(ParamPoint {
                    params: vec![("Reynolds".into(), re), ("Schmidt".into(), sc)],
                    file_name: format!("shear_flow_Reynolds_{}_Schmidt_{}.hdf5", well_sci(re), well_sci(sc)),
                });
            }
        }
        out
    }

    fn ics_per_point(&self, preset: Preset) -> usize {
        Self::config(preset).ics
    }

    fn layout(&self, preset: Preset) -> Layout {
        let cfg = Self::config(preset);
        Layout {
            dataset_name: SystemId::ShearFlow.name().into(),
            time: (0..cfg.frames).map(|k| k as f64 * cfg.dt_out).collect(),
            x: (0..cfg.out_nx).map(|i| i as f64 / cfg.out_nx as f64).collect(),
            y: (0..cfg.out_ny).map(|j| -1.0 + 2.0 * j as f64 / cfg.out_ny as f64).collect(),
            boundaries: vec![
                Boundary { name: "x_periodic".into(), dim: "x".into(), kind: BoundaryKind::Periodic },
                Boundary { name: "y_periodic".into(), dim: "y".into(), kind: BoundaryKind::Periodic },
            ],
            fields: vec![
                FieldSpec::new("tracer", 0),
                FieldSpec::new("pressure", 0),
                FieldSpec::new("velocity", 1),
            ],
            attrs: vec![
                ("generator".into(), format!("physrep-sim {} shear_flow", env!("CARGO_PKG_VERSION"))),
                (
                    "solver".into(),
                    format!(
                        "Fourier-Fourier vorticity-streamfunction + passive tracer, f64, ETDRK4 (Kassam-Trefethen), dt = {}/n with CFL <= {}, 2/3 dealiasing, Hou-Li filter {}",
                        cfg.dt_out, cfg.cfl, if cfg.filter { "on" } else { "off" }
                    ),
                ),
                ("compute_resolution".into(), format!("{}x{}", cfg.nx, cfg.ny)),
                ("source_resolution".into(), "256x512 (from 1024x2048 Dedalus runs)".into()),
                ("output_method".into(), "spectral truncation".into()),
                ("frame0".into(), "raw (non-solenoidal) initial condition with p = 0".into()),
                (
                    "physics_departures".into(),
                    "resolution only; grid scale filter-controlled for nu <= 1e-4".into(),
                ),
            ],
        }
    }

    fn simulate(&self, p: &ParamPoint, ic: usize, _seed: u64, preset: Preset) -> Result<Trajectory, SimError> {
        let cfg = Self::config(preset);
        let re = p.require(SystemId::ShearFlow.name(), "Reynolds")?;
        let sc = p.require(SystemId::ShearFlow.name(), "Schmidt")?;
        let icp = ShearFlowIc::from_index(ic);
        let (t, onx, ony) = (cfg.frames, cfg.out_nx, cfg.out_ny);
        let mut tracer = ArrayD::<f32>::zeros(IxDyn(&[t, onx, ony]));
        let mut pressure = ArrayD::<f32>::zeros(IxDyn(&[t, onx, ony]));
        let mut velocity = ArrayD::<f32>::zeros(IxDyn(&[t, onx, ony, 2]));
        // Frame 0: the raw IC on the output grid, p = 0.
        for i in 0..onx {
            for j in 0..ony {
                let (ux, uy) = icp.velocity(i as f64 / onx as f64, -1.0 + 2.0 * j as f64 / ony as f64);
                tracer[IxDyn(&[0, i, j])] = ux as f32;
                velocity[IxDyn(&[0, i, j, 0])] = ux as f32;
                velocity[IxDyn(&[0, i, j, 1])] = uy as f32;
            }
        }
        let mut solver = ShearFlowSolver::new(&cfg, re, sc, icp)?;
        for k in 1..t {
            solver.advance_frame().map_err(|reason| SimError::BlowUp {
                system: SystemId::ShearFlow.name().into(),
                params: p.describe(),
                ic,
                time: solver.t,
                reason,
            })?;
            solver.write_frame(k, &mut tracer, &mut pressure, &mut velocity);
        }
        Ok(Trajectory {
            fields: vec![tracer, pressure, velocity],
            ic_params: vec![("n_shear".into(), icp.n_shear as f64), ("n_blobs".into(), icp.n_blobs as f64), ("width".into(), icp.width)],
        })
    }
}

#[cfg(test)]
mod tests;
