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
/// The FFTs are restricted to the dealiasing box ([`Fft2::dealiased`]), which is exact for **dealiased**
/// spectral inputs (zero outside the mask, as every solver state is): the inverse transforms skip the columns
/// `iy ≥ band` and the rows outside the mask, and the forward outputs there are exact zeros, i.e. the forward
/// transform is already the masked one. The spectral derivatives and velocities are written straight into
/// the FFT's column buffers ([`Fft2::inverse_pair_to_rows_with`]); the velocity is kept as `u + iv` (the pair
/// buffer itself, swapped out), the mean flow added where it is used.
pub(crate) struct Advection {
    pub grid: Grid2,
    pub fft: Fft2,
    inv_k2: Vec<f64>,
    mask: Vec<f64>,
    /// The index ranges of one spectral field inside the dealiasing box ([`Grid2::dealias_support`]): where a
    /// dealiased field can be nonzero.
    pub support: Vec<std::ops::Range<usize>>,
    /// Whether `fft` leaves the modes outside the mask in its forward outputs (the unbanded reference of the
    /// tests), so [`Advection::advect_pair`] must multiply by the mask.
    mask_outputs: bool,
    /// Uniform mean velocity `(U₀, V₀)` added to the streamfunction velocity.
    pub mean_flow: [f64; 2],
    spec_a: Vec<Complex64>,
    spec_b: Vec<Complex64>,
    spec_c: Vec<Complex64>,
    /// Physical streamfunction velocity `u + iv` (mean flow **excluded**) of the last [`Advection::velocity`]
    /// call.
    uv: Vec<Complex64>,
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
        let fft = Fft2::dealiased(&grid, dealias);
        let inv_k2 = grid.k_squared().into_iter().map(|k2| if k2 > 0.0 { 1.0 / k2 } else { 0.0 }).collect();
        let mask = grid.dealias_mask(dealias);
        let support = grid.dealias_support(dealias, 1);
        let (ns, np) = (grid.n_spec(), grid.n_phys());
        Self {
            grid,
            fft,
            inv_k2,
            mask,
            support,
            mask_outputs: false,
            mean_flow: [0.0; 2],
            spec_a: vec![Complex64::default(); ns],
            spec_b: vec![Complex64::default(); ns],
            spec_c: vec![Complex64::default(); ns],
            uv: vec![Complex64::default(); np],
            gx: vec![0.0; np],
            prod_f: vec![0.0; np],
        }
    }

    /// Switches to full (unbanded) transforms with explicit masking: the reference the banded path is tested
    /// against.
    #[cfg(test)]
    pub fn without_band(&mut self) {
        self.fft = Fft2::new(&self.grid);
        self.mask_outputs = true;
    }

    /// The dealiasing mask (spectral layout).
    pub fn mask(&self) -> &[f64] {
        &self.mask
    }

    /// Spectral velocity `(û, v̂)` of the vorticity `w` (mean flow excluded).
    pub fn velocity_hat(&self, w: &[Complex64], uh: &mut [Complex64], vh: &mut [Complex64]) {
        let g = &self.grid;
        let nyh = g.nyh();
        for i in 0..g.nx {
            for j in 0..nyh {
                let psi = w[i * nyh + j] * self.inv_k2[i * nyh + j];
                uh[i * nyh + j] = times_ik(g.ky[j], psi);
                vh[i * nyh + j] = times_ik(-g.kx[i], psi);
            }
        }
    }

    /// `out += v̂` (the y velocity of the dealiased vorticity `w`, mean flow excluded) on the dealiasing box
    /// (both vanish outside it).
    pub fn add_velocity_y_hat(&self, w: &[Complex64], out: &mut [Complex64]) {
        let nyh = self.grid.nyh();
        for r in &self.support {
            let kx = self.grid.kx[r.start / nyh];
            for ((o, w), inv_k2) in out[r.clone()].iter_mut().zip(&w[r.clone()]).zip(&self.inv_k2[r.clone()]) {
                *o += times_ik(-kx, w * inv_k2);
            }
        }
    }

    /// Computes the physical velocity of `w` (kept as `u + iv`; read it with [`Advection::velocity_components`]).
    pub fn velocity(&mut self, w: &[Complex64]) {
        let g = &self.grid;
        let (nyh, band, scale) = (g.nyh(), self.fft.band(), self.fft.inverse_scale());
        let (inv_k2, ky, kx) = (&self.inv_k2, &g.ky, &g.kx);
        // û = ik_yψ̂, v̂ = −ik_xψ̂ with ψ̂ = ω̂/|k|², scaled for the inverse.
        self.fft.inverse_pair_to_rows_with(
            #[inline(always)]
            |i, [ur, ui, vr, vi]| {
                let row = i * nyh..i * nyh + band;
                let (w, inv_k2) = (&w[row.clone()], &inv_k2[row]);
                for j in 0..band {
                    let psi = w[j] * (inv_k2[j] * scale);
                    ur[j] = -ky[j] * psi.im;
                    ui[j] = ky[j] * psi.re;
                    vr[j] = kx[i] * psi.im;
                    vi[j] = -kx[i] * psi.re;
                }
            },
        );
        self.fft.swap_pair_rows(&mut self.uv);
    }

    /// The physical velocity components `(u, v)` (mean flow included) of the last [`Advection::velocity`] call.
    pub fn velocity_components(&self) -> (Vec<f64>, Vec<f64>) {
        let [u0, v0] = self.mean_flow;
        self.uv.iter().map(|z| (z.re + u0, z.im + v0)).unzip()
    }

    /// `out_f = mask · FFT(−(u ∂ₓf + v ∂ᵧf))` and the same for `g` into `out_g`, with the velocity of the last
    /// [`Advection::velocity`] call; `f`, `g` must be dealiased (see the type's doc).
    pub fn advect_pair(&mut self, f: &[Complex64], g: &[Complex64], out_f: &mut [Complex64], out_g: &mut [Complex64]) {
        with_avx2(
            #[inline(always)]
            || {
                // −u·∇f goes to `prod_f`, then −u·∇g and `prod_f` become the pair `prod_f + i(−u·∇g)` in place.
                let [u0, v0] = self.mean_flow;
                self.gradient_to_rows(f);
                for ((o, z), uv) in self.prod_f.iter_mut().zip(self.fft.pair_rows()).zip(&self.uv) {
                    *o = -((uv.re + u0) * z.re + (uv.im + v0) * z.im);
                }
                self.gradient_to_rows(g);
                for ((z, pf), uv) in self.fft.pair_rows_mut().iter_mut().zip(&self.prod_f).zip(&self.uv) {
                    *z = Complex64::new(*pf, -((uv.re + u0) * z.re + (uv.im + v0) * z.im));
                }
                self.fft.forward_pair_from_rows(out_f, out_g);
                if self.mask_outputs {
                    self.apply_mask(out_f);
                    self.apply_mask(out_g);
                }
            },
        )
    }

    /// `∂ₓf + i∂ᵧf` in physical space into the pair buffer of the FFT.
    #[inline(always)]
    fn gradient_to_rows(&mut self, f: &[Complex64]) {
        let g = &self.grid;
        let (nyh, band, scale) = (g.nyh(), self.fft.band(), self.fft.inverse_scale());
        let (kx, ky) = (&g.kx, &g.ky);
        self.fft.inverse_pair_to_rows_with(
            #[inline(always)]
            |i, [xr, xi, yr, yi]| {
                let f = &f[i * nyh..i * nyh + band];
                let kxs = kx[i] * scale;
                for j in 0..band {
                    let kys = ky[j] * scale;
                    xr[j] = -kxs * f[j].im;
                    xi[j] = kxs * f[j].re;
                    yr[j] = -kys * f[j].im;
                    yi[j] = kys * f[j].re;
                }
            },
        );
    }

    /// Multiplies a spectral field by the dealiasing mask on the band (it is zero beyond): only for the
    /// unbanded reference transforms (`mask_outputs`).
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
        let [u0, v0] = self.mean_flow;
        self.uv.iter().map(|z| (z.re + u0).abs() / dx + (z.im + v0).abs() / dy).fold(0.0, f64::max)
    }

    /// Pressure `p̂ = −(k_ik_j (u_iu_j)^ + extra)/|k|²`, `p̂(0) = 0`, from the current velocity. `extra` (may be
    /// empty) is a spectral source added to `k_ik_j (u_iu_j)^`, e.g. the buoyancy term of Rayleigh–Bénard.
    pub fn pressure_hat(&mut self, extra: &[Complex64], out: &mut [Complex64]) {
        let nyh = self.grid.nyh();
        // (uu, uv, vv) with weights (kx², 2kxky, ky²).
        for (comp, spec) in [&mut self.spec_a, &mut self.spec_b, &mut self.spec_c].into_iter().enumerate() {
            let [u0, v0] = self.mean_flow;
            for (gx, z) in self.gx.iter_mut().zip(&self.uv) {
                let (u, v) = (z.re + u0, z.im + v0);
                *gx = match comp {
                    0 => u * u,
                    1 => u * v,
                    _ => v * v,
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
    support: Vec<std::ops::Range<usize>>,
    cache: Vec<Etdrk4>,
}

impl FrameClock {
    /// `lin`: the diagonal linear operator of the whole state; `support`: the modes that can be nonzero (see
    /// [`Etdrk4::with_support`]); `n_min ≤ n ≤ n_max` substeps per frame.
    pub fn new(lin: Vec<Complex64>, support: Vec<std::ops::Range<usize>>, dt_out: f64, cfl: f64, n_min: usize, n_max: usize) -> Self {
        Self { dt_out, cfl, n_min, n_max, lin, support, cache: Vec::new() }
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
                self.cache.push(Etdrk4::with_support(&self.lin, dt, self.support.clone()));
                self.cache.len() - 1
            }
        };
        &mut self.cache[pos]
    }
}

/// Multiplies every field of a stacked spectral state by the (per-mode) `filter`, e.g. the Hou–Li filter
/// after each step, on the index ranges `support` of one field (the fields vanish outside them, e.g.
/// [`Advection::support`]).
pub(crate) fn filter_fields(state: &mut [Complex64], filter: &[f64], support: &[std::ops::Range<usize>]) {
    for field in state.chunks_exact_mut(filter.len()) {
        for r in support {
            for (v, f) in field[r.clone()].iter_mut().zip(&filter[r.clone()]) {
                *v *= *f;
            }
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
        let m = if it <= to.nx / 2 { it as i64 } else { it as i64 - to.nx as i64 };
        if m.unsigned_abs() as usize >= to.nx / 2 || m.unsigned_abs() as usize >= from.nx / 2 {
            continue;
        }
        let fi = if m >= 0 { m as usize } else { (from.nx as i64 + m) as usize };
        for j in 0..tnyh.min(fnyh) {
            if j >= to.ny / 2 || j >= from.ny / 2 {
                continue;
            }
            dst[it * tnyh + j] = src[fi * fnyh + j] * scale;
        }
    }
}
