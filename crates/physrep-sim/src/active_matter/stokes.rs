//! Spectral Stokes solve on the periodic square: −∇²u + ∇q = ∇·Σ, ∇·u = 0, ⟨u⟩ = 0.
//!
//! With f̂_i = i k_j Σ̂_ij (the divergence of the symmetric stress), the solution is
//! û = |k|⁻² (I − k kᵀ/|k|²) f̂ and û(0) = 0; the pressure never needs to be formed. The derivative
//! wavenumbers of [`Grid2`] (Nyquist set to zero) are used throughout, so the discrete divergence
//! i k·û vanishes to round-off and tr E = 0 follows. Velocity gradient convention (∇u)_ij = ∂_j u_i.

use num_complex::Complex64;

use crate::spectral::Grid2;

/// Spectral components of a symmetric tensor (`xx`, `xy`, `yy`), each `nx · nyh`.
pub struct SpecSym<'a> {
    pub xx: &'a [Complex64],
    pub xy: &'a [Complex64],
    pub yy: &'a [Complex64],
}

/// û from Σ̂ (see the module doc). `ux`, `uy` are overwritten.
pub fn solve(grid: &Grid2, sigma: SpecSym<'_>, ux: &mut [Complex64], uy: &mut [Complex64]) {
    let nyh = grid.nyh();
    let i = Complex64::new(0.0, 1.0);
    for ix in 0..grid.nx {
        let kx = grid.kx[ix];
        for iy in 0..nyh {
            let ky = grid.ky[iy];
            let idx = ix * nyh + iy;
            let k2 = kx * kx + ky * ky;
            if k2 == 0.0 {
                ux[idx] = Complex64::default();
                uy[idx] = Complex64::default();
                continue;
            }
            let fx = i * (kx * sigma.xx[idx] + ky * sigma.xy[idx]);
            let fy = i * (kx * sigma.xy[idx] + ky * sigma.yy[idx]);
            let kf = (kx * fx + ky * fy) / k2;
            ux[idx] = (fx - kx * kf) / k2;
            uy[idx] = (fy - ky * kf) / k2;
        }
    }
}

/// Spectral velocity gradient Ĝ_ij = i k_j û_i into `g = [G_xx, G_xy, G_yx, G_yy]`.
pub fn gradient(grid: &Grid2, ux: &[Complex64], uy: &[Complex64], g: [&mut [Complex64]; 4]) {
    let nyh = grid.nyh();
    let [gxx, gxy, gyx, gyy] = g;
    for ix in 0..grid.nx {
        let ikx = Complex64::new(0.0, grid.kx[ix]);
        for iy in 0..nyh {
            let iky = Complex64::new(0.0, grid.ky[iy]);
            let idx = ix * nyh + iy;
            gxx[idx] = ikx * ux[idx];
            gxy[idx] = iky * ux[idx];
            gyx[idx] = ikx * uy[idx];
            gyy[idx] = iky * uy[idx];
        }
    }
}
