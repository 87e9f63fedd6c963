//! The measurements behind the checks on one output grid ([`Ops`]): spectral and Chebyshev derivatives,
//! divergence, the Nusselt balance, spectral tails, and the quadrature and differentiation rules they use.

use std::sync::Arc;

use ndarray::ArrayD;
use num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

use super::{CheckSpec, NusseltBalance, YAxis};
use crate::rayleigh_benard::chebyshev_gauss;

/// Per-axis transforms and derivatives on one output grid.
pub(super) struct Ops {
    nx: usize,
    ny: usize,
    fx: [Arc<dyn Fft<f64>>; 2],
    fy: Option<[Arc<dyn Fft<f64>>; 2]>,
    lx: f64,
    y: YAxis,
    band: [usize; 2],
    /// Chebyshev–Gauss case: differentiation matrix on `[0, y_0, …, y_{n−1}, 1]` and Fejér weights on [0, 1].
    dmat: Vec<f64>,
    fejer: Vec<f64>,
}

impl Ops {
    pub(super) fn new(spec: &CheckSpec, nx: usize, ny: usize) -> Self {
        let mut planner = FftPlanner::new();
        let fx = [planner.plan_fft_forward(nx), planner.plan_fft_inverse(nx)];
        let fy = matches!(spec.y, YAxis::Periodic(_)).then(|| [planner.plan_fft_forward(ny), planner.plan_fft_inverse(ny)]);
        let (dmat, fejer) = if spec.y == YAxis::ChebyshevGauss {
            let mut nodes = vec![0.0];
            nodes.extend(chebyshev_gauss(ny));
            nodes.push(1.0);
            (diff_matrix(&nodes), fejer_weights(ny))
        } else {
            (Vec::new(), Vec::new())
        };
        Self { nx, ny, fx, fy, lx: spec.lx, y: spec.y.clone(), band: spec.band, dmat, fejer }
    }

    /// ∂ₓ of a frame (`nx·ny`, y fastest), spectral.
    fn ddx(&self, f: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; f.len()];
        let mut line = vec![Complex64::default(); self.nx];
        for j in 0..self.ny {
            for i in 0..self.nx {
                line[i] = Complex64::new(f[i * self.ny + j], 0.0);
            }
            spectral_derivative(&self.fx, &mut line, self.lx);
            for i in 0..self.nx {
                out[i * self.ny + j] = line[i].re;
            }
        }
        out
    }

    /// ∂ᵧ of a frame; `walls` = the field's values at y = 0 and y = 1 (Chebyshev–Gauss case; `None` fits the
    /// polynomial through the interior nodes only, using the rows of the extended matrix without the walls).
    fn ddy(&self, f: &[f64], walls: Option<(f64, f64)>) -> Option<Vec<f64>> {
        let mut out = vec![0.0; f.len()];
        match (&self.y, &self.fy) {
            (YAxis::Periodic(ly), Some(fy)) => {
                let mut line = vec![Complex64::default(); self.ny];
                for i in 0..self.nx {
                    for j in 0..self.ny {
                        line[j] = Complex64::new(f[i * self.ny + j], 0.0);
                    }
                    spectral_derivative(fy, &mut line, *ly);
                    for j in 0..self.ny {
                        out[i * self.ny + j] = line[j].re;
                    }
                }
            }
            (YAxis::ChebyshevGauss, _) => {
                let n = self.ny;
                let interior = walls.is_none().then(|| diff_matrix(&chebyshev_gauss(n)));
                for i in 0..self.nx {
                    let col = &f[i * n..(i + 1) * n];
                    for j in 0..n {
                        out[i * n + j] = match (&interior, walls) {
                            (Some(d), _) => (0..n).map(|k| d[j * n + k] * col[k]).sum(),
                            (None, Some((b0, b1))) => self.dy_ext(j + 1, col, b0, b1),
                            (None, None) => {
                                unreachable!("walls is None exactly when interior is Some")
                            }
                        };
                    }
                }
            }
            _ => return None,
        }
        Some(out)
    }

    /// Row `r` of the extended differentiation matrix applied to `[b0, col, b1]`.
    fn dy_ext(&self, r: usize, col: &[f64], b0: f64, b1: f64) -> f64 {
        let m = self.ny + 2;
        let row = &self.dmat[r * m..(r + 1) * m];
        row[0] * b0 + row[m - 1] * b1 + row[1..m - 1].iter().zip(col).map(|(d, v)| d * v).sum::<f64>()
    }

    fn frame(a: &ArrayD<f32>, t: usize, comp: usize, ncomp: usize) -> Vec<f64> {
        let fr = a.index_axis(ndarray::Axis(0), t);
        fr.iter().skip(comp).step_by(ncomp).map(|&v| v as f64).collect()
    }

    pub(super) fn divergence(&self, vel: &ArrayD<f32>) -> Option<f64> {
        let (mut div2, mut grad2) = (0.0, 0.0);
        for t in 1..vel.shape()[0] {
            let (u, v) = (Self::frame(vel, t, 0, 2), Self::frame(vel, t, 1, 2));
            let (ux, vx) = (self.ddx(&u), self.ddx(&v));
            let (uy, vy) = (self.ddy(&u, None)?, self.ddy(&v, None)?);
            for k in 0..u.len() {
                div2 += (ux[k] + vy[k]).powi(2);
                grad2 += ux[k] * ux[k] + uy[k] * uy[k] + vx[k] * vx[k] + vy[k] * vy[k];
            }
        }
        (grad2 > 0.0).then(|| (div2 / grad2).sqrt())
    }

    pub(super) fn nusselt(&self, b: &ArrayD<f32>, kappa: f64, time: &[f64]) -> Option<NusseltBalance> {
        let frames = b.shape()[0];
        if self.y != YAxis::ChebyshevGauss || frames < 3 {
            return None;
        }
        let n = self.ny;
        let (mut wall, mut diss, mut var) = (Vec::new(), Vec::new(), Vec::new());
        for t in 1..frames {
            let f = Self::frame(b, t, 0, 1);
            let bx = self.ddx(&f);
            let by = self.ddy(&f, Some((1.0, 0.0)))?;
            let (mut w, mut d, mut v) = (0.0, 0.0, 0.0);
            for i in 0..self.nx {
                let col = &f[i * n..(i + 1) * n];
                w += -0.5 * (self.dy_ext(0, col, 1.0, 0.0) + self.dy_ext(n + 1, col, 1.0, 0.0));
                for j in 0..n {
                    let k = i * n + j;
                    d += self.fejer[j] * (bx[k] * bx[k] + by[k] * by[k]);
                    v += self.fejer[j] * 0.5 * (f[k] - 0.5).powi(2);
                }
            }
            let nx = self.nx as f64;
            wall.push(w / nx);
            diss.push(d / nx);
            var.push(v / nx);
        }
        let ts = &time[1..frames];
        let span = ts[ts.len() - 1] - ts[0];
        let mean = |s: &[f64]| trapezoid(ts, s) / span;
        let (wall, dissipation) = (mean(&wall), mean(&diss));
        let storage = (var[var.len() - 1] - var[0]) / (kappa * span);
        let residual = (wall - dissipation - storage).abs() / wall.abs().max(f64::MIN_POSITIVE);
        Some(NusseltBalance { wall, dissipation, storage, residual })
    }

    /// Largest tail fraction of one field over the checked axes and its components.
    pub(super) fn tail(&self, a: &ArrayD<f32>) -> f64 {
        let ncomp: usize = a.shape()[3..].iter().product();
        let (mut xs, mut ys) = ([0.0; 2], [0.0; 2]);
        let mut line = vec![Complex64::default(); self.nx.max(self.ny)];
        for t in 1..a.shape()[0] {
            for c in 0..ncomp {
                let f = Self::frame(a, t, c, ncomp);
                if self.band[0] > 0 {
                    for j in 0..self.ny {
                        let l = &mut line[..self.nx];
                        for i in 0..self.nx {
                            l[i] = Complex64::new(f[i * self.ny + j], 0.0);
                        }
                        self.fx[0].process(l);
                        add_tail(&mut xs, self.band[0], |m| l[m].norm_sqr() + l[self.nx - m].norm_sqr());
                    }
                }
                if self.band[1] > 0 {
                    for i in 0..self.nx {
                        let col = &f[i * self.ny..(i + 1) * self.ny];
                        match (&self.y, &self.fy) {
                            (YAxis::Periodic(_), Some(fy)) => {
                                let l = &mut line[..self.ny];
                                for (l, &v) in l.iter_mut().zip(col) {
                                    *l = Complex64::new(v, 0.0);
                                }
                                fy[0].process(l);
                                add_tail(&mut ys, self.band[1], |m| l[m].norm_sqr() + l[self.ny - m].norm_sqr());
                            }
                            (YAxis::ChebyshevGauss, _) => {
                                let c = chebyshev_coefficients(col);
                                add_tail(&mut ys, self.band[1], |m| c[m] * c[m]);
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        let frac = |s: [f64; 2]| if s[1] > 0.0 { s[0] / s[1] } else { 0.0 };
        frac(xs).max(frac(ys))
    }
}

/// Adds the energy of modes `(2K/3, K]` to `acc[0]` and of `1..=K` to `acc[1]`.
fn add_tail(acc: &mut [f64; 2], k: usize, energy: impl Fn(usize) -> f64) {
    for m in 1..=k {
        let e = energy(m);
        acc[1] += e;
        if 3 * m > 2 * k {
            acc[0] += e;
        }
    }
}

/// In-place spectral derivative of a real periodic line of period `len` (Nyquist mode dropped).
fn spectral_derivative(plans: &[Arc<dyn Fft<f64>>; 2], line: &mut [Complex64], len: f64) {
    let n = line.len();
    plans[0].process(line);
    for (m, v) in line.iter_mut().enumerate() {
        let k = if 2 * m < n {
            m as f64
        } else if 2 * m == n {
            0.0
        } else {
            m as f64 - n as f64
        };
        *v *= Complex64::new(0.0, 2.0 * std::f64::consts::PI * k / len) / n as f64;
    }
    plans[1].process(line);
}

/// Chebyshev coefficients of values at the Chebyshev–Gauss nodes (any orientation: only |c_k| is used).
fn chebyshev_coefficients(v: &[f64]) -> Vec<f64> {
    let n = v.len();
    (0..n)
        .map(|k| {
            let s: f64 =
                v.iter().enumerate().map(|(j, &f)| f * (std::f64::consts::PI * k as f64 * (j as f64 + 0.5) / n as f64).cos()).sum();
            s * 2.0 / n as f64
        })
        .collect()
}

/// The polynomial differentiation matrix on distinct `nodes` (row-major, barycentric form).
pub fn diff_matrix(nodes: &[f64]) -> Vec<f64> {
    let n = nodes.len();
    let w: Vec<f64> = (0..n).map(|j| 1.0 / (0..n).filter(|&k| k != j).map(|k| nodes[j] - nodes[k]).product::<f64>()).collect();
    let mut d = vec![0.0; n * n];
    for i in 0..n {
        let mut diag = 0.0;
        for j in (0..n).filter(|&j| j != i) {
            let v = (w[j] / w[i]) / (nodes[i] - nodes[j]);
            d[i * n + j] = v;
            diag -= v;
        }
        d[i * n + i] = diag;
    }
    d
}

/// Fejér's first quadrature rule on the `n` Chebyshev–Gauss nodes of `[0, 1]` (weights sum to 1).
pub fn fejer_weights(n: usize) -> Vec<f64> {
    (0..n)
        .map(|j| {
            let th = std::f64::consts::PI * (j as f64 + 0.5) / n as f64;
            let s: f64 = (1..=n / 2).map(|k| (2.0 * k as f64 * th).cos() / (4.0 * (k * k) as f64 - 1.0)).sum();
            (1.0 - 2.0 * s) / n as f64
        })
        .collect()
}

fn trapezoid(t: &[f64], f: &[f64]) -> f64 {
    t.windows(2).zip(f.windows(2)).map(|(t, f)| 0.5 * (t[1] - t[0]) * (f[0] + f[1])).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fejer_and_differentiation_are_exact_on_polynomials() {
        let w = fejer_weights(9);
        let y = chebyshev_gauss(9);
        // ∫₀¹ y⁴ dy = 1/5.
        let q: f64 = w.iter().zip(&y).map(|(w, y)| w * y.powi(4)).sum();
        assert!((q - 0.2).abs() < 1e-13, "{q}");
        let d = diff_matrix(&y);
        for i in 0..9 {
            let dv: f64 = (0..9).map(|k| d[i * 9 + k] * y[k].powi(3)).sum();
            assert!((dv - 3.0 * y[i] * y[i]).abs() < 1e-10);
        }
    }
}
