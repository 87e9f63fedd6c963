//! The D-tensor kinetic model's right-hand side: closure, stress, Stokes flow and fluxes.
//!
//! State (spectral, flat `3 · nx · nyh`): `[ĉ, q̂₁, q̂₂]` with D = (c/2) I + [[q₁, q₂], [q₂, −q₁]], i.e.
//! c = tr D, q₁ = (D_xx − D_yy)/2, q₂ = D_xy. In these variables the stiff linear part is diagonal:
//! λ_c = −d_T|k|², λ_q = −d_T|k|² − 4d_R (rotational diffusion −4d_R(D − (c/2)I) only acts on the
//! traceless part). [`Model::nonlinear`] returns everything else,
//!
//!   N(D) = −∇·(u D) + ∇u·D + D·∇uᵀ − 2E:S + 4ζ(D·D − S:D),
//!
//! with the advection in conservative form (equal to −u·∇D since ∇·u = 0; its mean is exactly zero, so
//! ⟨c⟩ is conserved to round-off), every product formed on the grid and the result 2/3-dealiased.
//! The flow solves −∇²u + ∇q = ∇·Σ with Σ = αD + βS:E − 2ζβ(D·D − S:D); Σ depends on E(u), so each
//! evaluation starts from the previous evaluation's E and runs a fixed number of fixed-point iterations
//! (Stokes solves). Cost per evaluation: 3 inverse + 9 forward FFTs, plus 3 forward + 4 inverse per
//! fixed-point iteration, plus 2 inverse for u.

use num_complex::Complex64;

use super::closure::{BinghamClosure, Sym2, Sym4};
use super::stokes::{self, SpecSym};
use crate::spectral::{Dealias, Fft2, Grid2};

/// Physical coefficients of one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coefficients {
    /// Alignment strength ζ.
    pub zeta: f64,
    /// Active dipole strength α (< 0: extensile).
    pub alpha: f64,
    /// Particle density parameter β.
    pub beta: f64,
    /// Translational diffusion d_T.
    pub d_t: f64,
    /// Rotational diffusion d_R.
    pub d_r: f64,
}

/// One physical snapshot of all output fields, `f64`, each `nx · ny` (y fastest).
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub c: Vec<f64>,
    pub u: [Vec<f64>; 2],
    /// D as (xx, xy, yy).
    pub d: [Vec<f64>; 3],
    /// E as (xx, xy, yy).
    pub e: [Vec<f64>; 3],
}

/// Workspace and operators of the active-matter right-hand side on one grid.
pub struct Model {
    grid: Grid2,
    fft: Fft2,
    closure: &'static BinghamClosure,
    coef: Coefficients,
    /// Fixed-point (Stokes) iterations per evaluation.
    fixed_point_iters: usize,
    /// 2/3 dealiasing mask, times the Hou–Li filter when enabled.
    mask: Vec<f64>,
    // Physical workspace (nx·ny each).
    c: Vec<f64>,
    q1: Vec<f64>,
    q2: Vec<f64>,
    s4: Vec<Sym4>,
    /// D·D − S:D per point.
    pd: Vec<Sym2>,
    /// E from the latest flow solve (warm start of the next).
    e: Vec<Sym2>,
    /// ∇u as (xx, xy, yx, yy).
    g: [Vec<f64>; 4],
    u: [Vec<f64>; 2],
    tmp: [Vec<f64>; 3],
    // Spectral workspace (nx·nyh each).
    spec: [Vec<Complex64>; 3],
    uhat: [Vec<Complex64>; 2],
    ghat: [Vec<Complex64>; 4],
}

impl Model {
    /// `filter`: multiply the nonlinear term (and the stress) by the Hou–Li filter on top of the 2/3 mask.
    pub fn new(grid: Grid2, coef: Coefficients, fixed_point_iters: usize, filter: bool) -> Self {
        let fft = Fft2::new(&grid);
        let (np, ns) = (grid.n_phys(), grid.n_spec());
        let mut mask = grid.dealias_mask(Dealias::TwoThirds);
        if filter {
            for (m, f) in mask.iter_mut().zip(grid.hou_li_filter()) {
                *m *= f;
            }
        }
        let zero4 = Sym4 { xxxx: 0.0, xxxy: 0.0, xxyy: 0.0, xyyy: 0.0, yyyy: 0.0 };
        let zero2 = Sym2::new(0.0, 0.0, 0.0);
        let phys = || vec![0.0; np];
        let spec = || vec![Complex64::default(); ns];
        Self {
            fft,
            closure: BinghamClosure::shared(),
            coef,
            fixed_point_iters,
            mask,
            c: phys(),
            q1: phys(),
            q2: phys(),
            s4: vec![zero4; np],
            pd: vec![zero2; np],
            e: vec![zero2; np],
            g: [phys(), phys(), phys(), phys()],
            u: [phys(), phys()],
            tmp: [phys(), phys(), phys()],
            spec: [spec(), spec(), spec()],
            uhat: [spec(), spec()],
            ghat: [spec(), spec(), spec(), spec()],
            grid,
        }
    }

    pub fn grid(&self) -> &Grid2 {
        &self.grid
    }

    /// The diagonal linear operator per state entry (flat `3 · n_spec`).
    pub fn linear_operator(&self) -> Vec<Complex64> {
        let k2 = self.grid.k_squared();
        let mut out = Vec::with_capacity(3 * k2.len());
        for field in 0..3 {
            let shift = if field == 0 { 0.0 } else { 4.0 * self.coef.d_r };
            out.extend(k2.iter().map(|&k| Complex64::new(-self.coef.d_t * k - shift, 0.0)));
        }
        out
    }

    /// Spectral state from physical D components.
    pub fn state_from_d(&mut self, dxx: &[f64], dxy: &[f64], dyy: &[f64]) -> Vec<Complex64> {
        let ns = self.grid.n_spec();
        for p in 0..self.grid.n_phys() {
            self.c[p] = dxx[p] + dyy[p];
            self.q1[p] = 0.5 * (dxx[p] - dyy[p]);
            self.q2[p] = dxy[p];
        }
        let mut state = vec![Complex64::default(); 3 * ns];
        let (s0, rest) = state.split_at_mut(ns);
        let (s1, s2) = rest.split_at_mut(ns);
        self.fft.forward(&self.c, s0);
        self.fft.forward(&self.q1, s1);
        self.fft.forward(&self.q2, s2);
        state
    }

    /// c, q₁, q₂ on the grid and the closure-dependent point-wise quantities (S, D·D − S:D).
    fn load_state(&mut self, state: &[Complex64]) {
        let ns = self.grid.n_spec();
        self.fft.inverse(&state[..ns], &mut self.c);
        self.fft.inverse(&state[ns..2 * ns], &mut self.q1);
        self.fft.inverse(&state[2 * ns..], &mut self.q2);
        for p in 0..self.grid.n_phys() {
            let d = self.d_at(p);
            let s = self.closure.fourth_moment(&d);
            let sd = s.contract(&d);
            let dd = d.square();
            self.s4[p] = s;
            self.pd[p] = Sym2::new(dd.xx - sd.xx, dd.xy - sd.xy, dd.yy - sd.yy);
        }
    }

    fn d_at(&self, p: usize) -> Sym2 {
        let h = 0.5 * self.c[p];
        Sym2::new(h + self.q1[p], self.q2[p], h - self.q1[p])
    }

    /// `iters` fixed-point iterations of Σ(E) → Stokes → E, then u on the grid. With `measure`, returns
    /// the largest change of E in the last iteration (else 0).
    fn solve_flow(&mut self, iters: usize, measure: bool) -> f64 {
        let Coefficients { zeta, alpha, beta, .. } = self.coef;
        let mut change = 0.0f64;
        for _ in 0..iters {
            for p in 0..self.grid.n_phys() {
                let d = self.d_at(p);
                let se = self.s4[p].contract(&self.e[p]);
                let pd = self.pd[p];
                self.tmp[0][p] = alpha * d.xx + beta * se.xx - 2.0 * zeta * beta * pd.xx;
                self.tmp[1][p] = alpha * d.xy + beta * se.xy - 2.0 * zeta * beta * pd.xy;
                self.tmp[2][p] = alpha * d.yy + beta * se.yy - 2.0 * zeta * beta * pd.yy;
            }
            for k in 0..3 {
                self.fft.forward(&self.tmp[k], &mut self.spec[k]);
                for (v, m) in self.spec[k].iter_mut().zip(&self.mask) {
                    *v *= m;
                }
            }
            let [ux, uy] = &mut self.uhat;
            let sigma = SpecSym { xx: &self.spec[0], xy: &self.spec[1], yy: &self.spec[2] };
            stokes::solve(&self.grid, sigma, ux, uy);
            let [g0, g1, g2, g3] = &mut self.ghat;
            stokes::gradient(&self.grid, ux, uy, [g0, g1, g2, g3]);
            for k in 0..4 {
                self.fft.inverse(&self.ghat[k], &mut self.g[k]);
            }
            change = 0.0;
            for p in 0..self.grid.n_phys() {
                let e = Sym2::new(self.g[0][p], 0.5 * (self.g[1][p] + self.g[2][p]), self.g[3][p]);
                if measure {
                    let old = self.e[p];
                    change = change.max((e.xx - old.xx).abs()).max((e.xy - old.xy).abs()).max((e.yy - old.yy).abs());
                }
                self.e[p] = e;
            }
        }
        self.fft.inverse(&self.uhat[0], &mut self.u[0]);
        self.fft.inverse(&self.uhat[1], &mut self.u[1]);
        change
    }

    /// N(state) into `out` (both flat `3 · n_spec`), see the module doc.
    pub fn nonlinear(&mut self, state: &[Complex64], out: &mut [Complex64]) {
        self.load_state(state);
        self.solve_flow(self.fixed_point_iters, false);
        let ns = self.grid.n_spec();
        let nyh = self.grid.nyh();
        let zeta = self.coef.zeta;
        // Local terms ∇u·D + D·∇uᵀ − 2E:S + 4ζ(D·D − S:D), in (c, q₁, q₂) components.
        for p in 0..self.grid.n_phys() {
            let d = self.d_at(p);
            let (gxx, gxy, gyx, gyy) = (self.g[0][p], self.g[1][p], self.g[2][p], self.g[3][p]);
            let es = self.s4[p].contract(&self.e[p]);
            let pd = self.pd[p];
            let lxx = 2.0 * (gxx * d.xx + gxy * d.xy) - 2.0 * es.xx + 4.0 * zeta * pd.xx;
            let lxy = gxx * d.xy + gxy * d.yy + d.xx * gyx + d.xy * gyy - 2.0 * es.xy + 4.0 * zeta * pd.xy;
            let lyy = 2.0 * (gyx * d.xy + gyy * d.yy) - 2.0 * es.yy + 4.0 * zeta * pd.yy;
            self.tmp[0][p] = lxx + lyy;
            self.tmp[1][p] = 0.5 * (lxx - lyy);
            self.tmp[2][p] = lxy;
        }
        for k in 0..3 {
            self.fft.forward(&self.tmp[k], &mut out[k * ns..(k + 1) * ns]);
        }
        // Conservative advection −∂_j(u_j f) for f = c, q₁, q₂.
        for k in 0..3 {
            for dir in 0..2 {
                let f = match k {
                    0 => &self.c,
                    1 => &self.q1,
                    _ => &self.q2,
                };
                for p in 0..self.grid.n_phys() {
                    self.tmp[dir][p] = self.u[dir][p] * f[p];
                }
            }
            let [t0, t1, _] = &self.tmp;
            let [s0, s1, _] = &mut self.spec;
            self.fft.forward(t0, s0);
            self.fft.forward(t1, s1);
            let o = &mut out[k * ns..(k + 1) * ns];
            for ix in 0..self.grid.nx {
                let kx = self.grid.kx[ix];
                for iy in 0..nyh {
                    let idx = ix * nyh + iy;
                    let div = Complex64::new(0.0, 1.0) * (kx * s0[idx] + self.grid.ky[iy] * s1[idx]);
                    o[idx] = (o[idx] - div) * self.mask[idx];
                }
            }
        }
    }

    /// Realizability limiter: where the order parameter s = 2|(q₁, q₂)|/c exceeds `s_max` (D not PSD
    /// with eigenvalues in [0, c]), scale (q₁, q₂) back to s = s_max; c is untouched, so ⟨c⟩ is
    /// conserved. The correction is added through the dealiasing mask (and filter), so the state stays
    /// band-limited. Returns the number of grid points that were limited.
    pub fn limit_realizability(&mut self, state: &mut [Complex64], s_max: f64) -> usize {
        let ns = self.grid.n_spec();
        self.fft.inverse(&state[..ns], &mut self.c);
        self.fft.inverse(&state[ns..2 * ns], &mut self.q1);
        self.fft.inverse(&state[2 * ns..], &mut self.q2);
        let mut limited = 0;
        for p in 0..self.grid.n_phys() {
            let s = 2.0 * self.q1[p].hypot(self.q2[p]) / self.c[p];
            let (dq1, dq2) = if s > s_max {
                limited += 1;
                let f = s_max / s - 1.0;
                (f * self.q1[p], f * self.q2[p])
            } else {
                (0.0, 0.0)
            };
            self.tmp[0][p] = dq1;
            self.tmp[1][p] = dq2;
        }
        if limited > 0 {
            for k in 0..2 {
                self.fft.forward(&self.tmp[k], &mut self.spec[k]);
                let field = &mut state[(k + 1) * ns..(k + 2) * ns];
                for ((v, d), m) in field.iter_mut().zip(&self.spec[k]).zip(&self.mask) {
                    *v += d * m;
                }
            }
        }
        limited
    }

    /// All output fields at `state`, with the flow solved to convergence (≤ 50 iterations, change < 1e-13).
    pub fn snapshot(&mut self, state: &[Complex64]) -> Snapshot {
        self.load_state(state);
        for _ in 0..50 {
            if self.solve_flow(1, true) < 1e-13 {
                break;
            }
        }
        let np = self.grid.n_phys();
        let mut d = [vec![0.0; np], vec![0.0; np], vec![0.0; np]];
        let mut e = [vec![0.0; np], vec![0.0; np], vec![0.0; np]];
        for p in 0..np {
            let dp = self.d_at(p);
            d[0][p] = dp.xx;
            d[1][p] = dp.xy;
            d[2][p] = dp.yy;
            e[0][p] = self.e[p].xx;
            e[1][p] = self.e[p].xy;
            e[2][p] = self.e[p].yy;
        }
        Snapshot { c: self.c.clone(), u: self.u.clone(), d, e }
    }
}
