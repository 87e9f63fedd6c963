//! Pieces shared by the 2-D incompressible flow solvers (`shear_flow`, `rayleigh_benard`): the
//! vorticity–streamfunction velocity, dealiased advection `−u·∇f`, the pressure Poisson solve, and the frame
//! clock that picks an ETDRK4 step `dt = Δt_out / n` from the CFL number.
//!
//! Conventions: `ω = ∂ₓv − ∂ᵧu = −∇²ψ`, `u = ∂ᵧψ`, `v = −∂ₓψ`, so `ψ̂ = ω̂/|k|²`, `û = ik_yψ̂`, `v̂ = −ik_xψ̂`;
//! a spatially uniform mean flow `(U₀, V₀)` (not representable by ψ) is added in physical space.

use num_complex::Complex64;

use crate::etdrk4::Etdrk4;
use crate::spectral::{with_avx2, Dealias, Fft2, Grid2};

/// Velocity and advection on one grid, with reusable buffers.
///
/// The FFTs are restricted to the dealiasing band ([`Fft2::with_band`] with [`Grid2::dealias_band`]), which is
/// exact for **dealiased** spectral inputs (zero outside the mask, as every solver state is): the inverse
/// transforms skip the columns `iy ≥ band`, and the forward outputs there are masked away anyway. The spectral
/// scratch buffers are filled on the band only.
pub(crate) struct Advection {
    pub grid: Grid2,
    pub fft: Fft2,
    inv_k2: Vec<f64>,
    mask: Vec<f64>,
    /// Uniform mean velocity `(U₀, V₀)` added to the streamfunction velocity.
    pub mean_flow: [f64; 2],
    spec_a: Vec<Complex64>,
    spec_b: Vec<Complex64>,
    spec_c: Vec<Complex64>,
    /// Physical velocity components of the last [`Advection::velocity`] call.
    pub u: Vec<f64>,
    pub v: Vec<f64>,
    gx: Vec<f64>,
    prod_f: Vec<f64>,
}

/// `i k z`, written out so that it compiles to two multiplications.
#[inline(always)]
fn times_ik(k: f64, z: Complex64) -> Complex64 {
    Complex64::new(-k * z.im, k * z.re)
}

impl Advection {
    pub fn new(grid: Grid2, dealias: Dealias) -> Self {
        let fft = Fft2::with_band(&grid, grid.dealias_band(dealias));
        let inv_k2 = grid
            .k_squared()
            .into_iter()
            .map(|k2| if k2 > 0.0 { 1.0 / k2 } else { 0.0 })
            .collect();
        let mask = grid.dealias_mask(dealias);
        let (ns, np) = (grid.n_spec(), grid.n_phys());
        Self {
            grid,
            fft,
            inv_k2,
            mask,
            mean_flow: [0.0; 2],
            spec_a: vec![Complex64::default(); ns],
            spec_b: vec![Complex64::default(); ns],
            spec_c: vec![Complex64::default(); ns],
            u: vec![0.0; np],
            v: vec![0.0; np],
            gx: vec![0.0; np],
            prod_f: vec![0.0; np],
        }
    }

    /// Switches to full (unbanded) transforms: the reference the banded path is tested against.
    #[cfg(test)]
    pub fn without_band(&mut self) {
        self.fft = Fft2::new(&self.grid);
    }

    /// The dealiasing mask (spectral layout).
    pub fn mask(&self) -> &[f64] {
        &self.mask
    }

    /// Spectral velocity `(û, v̂)` of the vorticity `w` (mean flow excluded).
    pub fn velocity_hat(&self, w: &[Complex64], uh: &mut [Complex64], vh: &mut [Complex64]) {
        self.velocity_hat_columns(w, uh, vh, self.grid.nyh());
    }

    /// [`Advection::velocity_hat`] on the columns `iy < band` only (the rest of `uh`, `vh` is left untouched).
    #[inline(always)]
    fn velocity_hat_columns(&self, w: &[Complex64], uh: &mut [Complex64], vh: &mut [Complex64], band: usize) {
        let g = &self.grid;
        let nyh = g.nyh();
        for i in 0..g.nx {
            let row = i * nyh..i * nyh + band;
            let (w, inv_k2) = (&w[row.clone()], &self.inv_k2[row.clone()]);
            let (uh, vh) = (&mut uh[row.clone()], &mut vh[row]);
            for j in 0..band {
                let psi = w[j] * inv_k2[j];
                uh[j] = times_ik(g.ky[j], psi);
                vh[j] = times_ik(-g.kx[i], psi);
            }
        }
    }

    /// Fills [`Advection::u`], [`Advection::v`] with the physical velocity of `w` plus the mean flow.
    pub fn velocity(&mut self, w: &[Complex64]) {
        with_avx2(#[inline(always)] || self.velocity_impl(w))
    }

    #[inline(always)]
    fn velocity_impl(&mut self, w: &[Complex64]) {
        let (mut uh, mut vh) = (std::mem::take(&mut self.spec_a), std::mem::take(&mut self.spec_b));
        self.velocity_hat_columns(w, &mut uh, &mut vh, self.fft.band());
        self.fft.inverse_pair(&uh, &vh, &mut self.u, &mut self.v);
        (self.spec_a, self.spec_b) = (uh, vh);
        let [u0, v0] = self.mean_flow;
        self.u.iter_mut().for_each(|x| *x += u0);
        self.v.iter_mut().for_each(|x| *x += v0);
    }

    /// `out_f = mask · FFT(−(u ∂ₓf + v ∂ᵧf))` and the same for `g` into `out_g`, with the velocity of the last
    /// [`Advection::velocity`] call; `f`, `g` must be dealiased (see the type's doc).
    pub fn advect_pair(&mut self, f: &[Complex64], g: &[Complex64], out_f: &mut [Complex64], out_g: &mut [Complex64]) {
        with_avx2(#[inline(always)] || {
            // −u·∇f goes to `prod_f`, then −u·∇g and `prod_f` become the pair `prod_f + i(−u·∇g)` in place.
            self.gradient_to_rows(f);
            for ((o, z), (u, v)) in self.prod_f.iter_mut().zip(self.fft.pair_rows()).zip(self.u.iter().zip(&self.v)) {
                *o = -(u * z.re + v * z.im);
            }
            self.gradient_to_rows(g);
            for ((z, pf), (u, v)) in self.fft.pair_rows_mut().iter_mut().zip(&self.prod_f).zip(self.u.iter().zip(&self.v)) {
                *z = Complex64::new(*pf, -(u * z.re + v * z.im));
            }
            self.fft.forward_pair_from_rows(out_f, out_g);
            self.apply_mask(out_f);
            self.apply_mask(out_g);
        })
    }

    /// `∂ₓf + i∂ᵧf` in physical space into the pair buffer of the FFT.
    #[inline(always)]
    fn gradient_to_rows(&mut self, f: &[Complex64]) {
        let g = &self.grid;
        let (nyh, band) = (g.nyh(), self.fft.band());
        for i in 0..g.nx {
            let row = i * nyh..i * nyh + band;
            let f = &f[row.clone()];
            let (fx, fy) = (&mut self.spec_a[row.clone()], &mut self.spec_b[row]);
            for j in 0..band {
                fx[j] = times_ik(g.kx[i], f[j]);
                fy[j] = times_ik(g.ky[j], f[j]);
            }
        }
        self.fft.inverse_pair_to_rows(&self.spec_a, &self.spec_b);
    }

    /// Multiplies a spectral field by the dealiasing mask on the band (it is zero beyond).
    #[inline(always)]
    fn apply_mask(&self, out: &mut [Complex64]) {
        let (nyh, band) = (self.grid.nyh(), self.fft.band());
        for (o, m) in out.chunks_exact_mut(nyh).zip(self.mask.chunks_exact(nyh)) {
            for (o, m) in o[..band].iter_mut().zip(&m[..band]) {
                *o *= *m;
            }
        }
    }

    /// `max(|u|/Δx + |v|/Δy)` of the current velocity: the CFL number per unit time step.
    pub fn cfl_rate(&self) -> f64 {
        let dx = self.grid.lx / self.grid.nx as f64;
        let dy = self.grid.ly / self.grid.ny as f64;
        self.u
            .iter()
            .zip(&self.v)
            .map(|(u, v)| u.abs() / dx + v.abs() / dy)
            .fold(0.0, f64::max)
    }

    /// Pressure `p̂ = −(k_ik_j (u_iu_j)^ + extra)/|k|²`, `p̂(0) = 0`, from the current velocity. `extra` (may be
    /// empty) is a spectral source added to `k_ik_j (u_iu_j)^`, e.g. the buoyancy term of Rayleigh–Bénard.
    pub fn pressure_hat(&mut self, extra: &[Complex64], out: &mut [Complex64]) {
        let nyh = self.grid.nyh();
        // (uu, uv, vv) with weights (kx², 2kxky, ky²).
        for (comp, spec) in [&mut self.spec_a, &mut self.spec_b, &mut self.spec_c].into_iter().enumerate() {
            for k in 0..self.u.len() {
                self.gx[k] = match comp {
                    0 => self.u[k] * self.u[k],
                    1 => self.u[k] * self.v[k],
                    _ => self.v[k] * self.v[k],
                };
            }
            self.fft.forward(&self.gx, spec);
        }
        let g = &self.grid;
        for i in 0..g.nx {
            for j in 0..nyh {
                let k = i * nyh + j;
                let acc = self.spec_a[k] * g.kx2[i] + self.spec_b[k] * (2.0 * g.kx[i] * g.ky[j]) + self.spec_c[k] * g.ky2[j];
                let src = if extra.is_empty() { acc } else { acc + extra[k] };
                out[k] = -src * self.inv_k2[k] * self.mask[k];
            }
        }
    }
}

/// Picks the number of ETDRK4 substeps per output interval from the CFL number and caches the coefficients.
pub(crate) struct FrameClock {
    dt_out: f64,
    cfl: f64,
    n_min: usize,
    n_max: usize,
    lin: Vec<Complex64>,
    cache: Vec<Etdrk4>,
}

impl FrameClock {
    /// `lin`: the diagonal linear operator of the whole state; `n_min ≤ n ≤ n_max` substeps per frame.
    pub fn new(lin: Vec<Complex64>, dt_out: f64, cfl: f64, n_min: usize, n_max: usize) -> Self {
        Self {
            dt_out,
            cfl,
            n_min,
            n_max,
            lin,
            cache: Vec::new(),
        }
    }

    /// Substeps for the next frame given the CFL rate `max(|u|/Δx + |v|/Δy)`: the smallest power-of-two
    /// multiple of `n_min` with `rate · dt ≤ cfl`. Errors (with the CFL number reached) past `n_max`.
    pub fn substeps(&self, rate: f64) -> Result<usize, String> {
        let mut n = self.n_min;
        while rate * self.dt_out / n as f64 > self.cfl {
            n *= 2;
            if n > self.n_max {
                return Err(format!(
                    "CFL violation: CFL {:.3} even at dt = {:.3e} (limit {})",
                    rate * self.dt_out / self.n_max as f64,
                    self.dt_out / self.n_max as f64,
                    self.cfl
                ));
            }
        }
        Ok(n)
    }

    /// The stepper for `n` substeps per frame (built once).
    pub fn stepper(&mut self, n: usize) -> &mut Etdrk4 {
        let dt = self.dt_out / n as f64;
        let pos = match self.cache.iter().position(|s| s.dt() == dt) {
            Some(p) => p,
            None => {
                self.cache.push(Etdrk4::new(&self.lin, dt));
                self.cache.len() - 1
            }
        };
        &mut self.cache[pos]
    }
}

/// Multiplies every field of a stacked spectral state by the (per-mode) `filter`, e.g. the Hou–Li filter
/// after each step.
pub(crate) fn filter_fields(state: &mut [Complex64], filter: &[f64]) {
    for field in state.chunks_exact_mut(filter.len()) {
        for (v, f) in field.iter_mut().zip(filter) {
            *v *= *f;
        }
    }
}

/// `true` when every value is finite.
pub(crate) fn all_finite(v: &[Complex64]) -> bool {
    v.iter().all(|c| c.re.is_finite() && c.im.is_finite())
}

/// Copies the modes of `src` (on `from`) that exist on the coarser grid `to` into `dst`, rescaled for `to`'s
/// inverse normalisation; the output grid's Nyquist modes are zeroed (spectral truncation).
pub(crate) fn truncate(from: &Grid2, src: &[Complex64], to: &Grid2, dst: &mut [Complex64]) {
    let (fnyh, tnyh) = (from.nyh(), to.nyh());
    let scale = (to.n_phys() as f64) / (from.n_phys() as f64);
    dst.iter_mut().for_each(|c| *c = Complex64::default());
    for it in 0..to.nx {
        let m = if it <= to.nx / 2 {
            it as i64
        } else {
            it as i64 - to.nx as i64
        };
        if m.unsigned_abs() as usize >= to.nx / 2 || m.unsigned_abs() as usize >= from.nx / 2 {
            continue;
        }
        let fi = if m >= 0 {
            m as usize
        } else {
            (from.nx as i64 + m) as usize
        };
        for j in 0..tnyh.min(fnyh) {
            if j >= to.ny / 2 || j >= from.ny / 2 {
                continue;
            }
            dst[it * tnyh + j] = src[fi * fnyh + j] * scale;
        }
    }
}
