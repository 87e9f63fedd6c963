//! The grid: [`Grid2`] (points, wavenumbers, derivatives, dealiasing masks and supports, the Hou–Li filter)
//! and the dealiasing rules [`Dealias`].

use super::Complex64;
use crate::SimError;

/// A doubly periodic (or periodically extended) 2-D grid of `nx × ny` points on `[0,lx) × [0,ly)` with its
/// wavenumbers.
#[derive(Clone, Debug)]
pub struct Grid2 {
    pub nx: usize,
    pub ny: usize,
    pub lx: f64,
    pub ly: f64,
    /// x wavenumbers for first derivatives (length `nx`, Nyquist set to 0 so odd derivatives stay real).
    pub kx: Vec<f64>,
    /// y wavenumbers for first derivatives (length `nyh`, Nyquist set to 0).
    pub ky: Vec<f64>,
    /// Squared x wavenumbers, Nyquist included (length `nx`).
    pub kx2: Vec<f64>,
    /// Squared y wavenumbers, Nyquist included (length `nyh`).
    pub ky2: Vec<f64>,
    /// |signed mode index| in x, `0..=nx/2` (length `nx`), for masks.
    pub mx: Vec<usize>,
    /// Mode index in y, `0..=ny/2` (length `nyh`).
    pub my: Vec<usize>,
}

/// Which modes a dealiasing mask keeps (per direction, a box mask).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Dealias {
    /// Keep everything.
    None,
    /// Orszag's 2/3 rule for quadratic products: keep |m| < n/3 (modes with 3|m| < n).
    TwoThirds,
    /// The 1/2 rule for cubic products: keep |m| < n/4.
    Half,
}

impl Dealias {
    /// Whether the rule keeps mode index `m` (absolute) of a direction with `n` points.
    pub(super) fn keeps(self, m: usize, n: usize) -> bool {
        match self {
            Dealias::None => true,
            Dealias::TwoThirds => 3 * m < n,
            Dealias::Half => 4 * m < n,
        }
    }
}

impl Grid2 {
    /// A grid of `nx × ny` points on `[0,lx) × [0,ly)`.
    pub fn new(nx: usize, ny: usize, lx: f64, ly: f64) -> Result<Self, SimError> {
        if nx < 4 || ny < 4 || !nx.is_multiple_of(2) || !ny.is_multiple_of(2) {
            return Err(SimError::Grid(format!("grid {nx}×{ny}: both sizes must be even and ≥ 4")));
        }
        if !(lx > 0.0 && ly > 0.0 && lx.is_finite() && ly.is_finite()) {
            return Err(SimError::Grid(format!("domain {lx}×{ly}: lengths must be finite and > 0")));
        }
        let nyh = ny / 2 + 1;
        let mut kx = vec![0.0; nx];
        let mut kx2 = vec![0.0; nx];
        let mut mx = vec![0; nx];
        for i in 0..nx {
            let m = if i <= nx / 2 { i as i64 } else { i as i64 - nx as i64 };
            let k = 2.0 * std::f64::consts::PI * m as f64 / lx;
            kx2[i] = k * k;
            kx[i] = if i == nx / 2 { 0.0 } else { k };
            mx[i] = m.unsigned_abs() as usize;
        }
        let mut ky = vec![0.0; nyh];
        let mut ky2 = vec![0.0; nyh];
        let mut my = vec![0; nyh];
        for j in 0..nyh {
            let k = 2.0 * std::f64::consts::PI * j as f64 / ly;
            ky2[j] = k * k;
            ky[j] = if j == ny / 2 { 0.0 } else { k };
            my[j] = j;
        }
        Ok(Self { nx, ny, lx, ly, kx, ky, kx2, ky2, mx, my })
    }

    /// Number of stored y modes, `ny/2 + 1`.
    pub fn nyh(&self) -> usize {
        self.ny / 2 + 1
    }

    /// Length of a spectral field, `nx · nyh`.
    pub fn n_spec(&self) -> usize {
        self.nx * self.nyh()
    }

    /// Length of a physical field, `nx · ny`.
    pub fn n_phys(&self) -> usize {
        self.nx * self.ny
    }

    /// |k|² for every spectral index (flat, `nx · nyh`).
    pub fn k_squared(&self) -> Vec<f64> {
        let nyh = self.nyh();
        let mut out = vec![0.0; self.n_spec()];
        for i in 0..self.nx {
            for j in 0..nyh {
                out[i * nyh + j] = self.kx2[i] + self.ky2[j];
            }
        }
        out
    }

    /// Physical coordinates `x_i = lx · i / nx`.
    pub fn x_coords(&self) -> Vec<f64> {
        (0..self.nx).map(|i| self.lx * i as f64 / self.nx as f64).collect()
    }

    /// Physical coordinates `y_j = ly · j / ny`.
    pub fn y_coords(&self) -> Vec<f64> {
        (0..self.ny).map(|j| self.ly * j as f64 / self.ny as f64).collect()
    }

    /// A 0/1 mask (flat, spectral layout) keeping the modes allowed by `rule`; the Nyquist modes are always
    /// removed when a rule is active.
    pub fn dealias_mask(&self, rule: Dealias) -> Vec<f64> {
        let nyh = self.nyh();
        let keep = |m: usize, n: usize| rule.keeps(m, n);
        let mut out = vec![0.0; self.n_spec()];
        for i in 0..self.nx {
            for j in 0..nyh {
                if keep(self.mx[i], self.nx) && keep(self.my[j], self.ny) {
                    out[i * nyh + j] = 1.0;
                }
            }
        }
        out
    }

    /// The number of leading y columns (`iy < band`) that [`Grid2::dealias_mask`] can keep: every column
    /// `iy ≥ band` of the mask is zero (`nyh` for [`Dealias::None`]). The band of [`Fft2::with_band`](super::Fft2::with_band) for
    /// fields dealiased by `rule`.
    pub fn dealias_band(&self, rule: Dealias) -> usize {
        (0..self.nyh()).filter(|&j| rule.keeps(self.my[j], self.ny)).count()
    }

    /// The flat index ranges of the modes [`Grid2::dealias_mask`] keeps, for `fields` spectral fields stacked
    /// one after the other (row `ix` of field `f`: `f·n_spec + ix·nyh + (0..band)` for the kept rows): the
    /// support of a dealiased state ([`crate::etdrk4::Etdrk4::with_support`]).
    pub fn dealias_support(&self, rule: Dealias, fields: usize) -> Vec<std::ops::Range<usize>> {
        let (nyh, band) = (self.nyh(), self.dealias_band(rule));
        let mut out = Vec::new();
        for f in 0..fields {
            for i in 0..self.nx {
                if rule.keeps(self.mx[i], self.nx) {
                    let start = f * self.n_spec() + i * nyh;
                    out.push(start..start + band);
                }
            }
        }
        out
    }

    /// The Hou–Li filter `exp(−36 (|m_x|/m_x,max)^36) · exp(−36 (|m_y|/m_y,max)^36)` with `m_max = n/2`
    /// (flat, spectral layout).
    pub fn hou_li_filter(&self) -> Vec<f64> {
        let nyh = self.nyh();
        let f = |m: usize, n: usize| (-36.0 * (m as f64 / (n as f64 / 2.0)).powi(36)).exp();
        let mut out = vec![0.0; self.n_spec()];
        for i in 0..self.nx {
            for j in 0..nyh {
                out[i * nyh + j] = f(self.mx[i], self.nx) * f(self.my[j], self.ny);
            }
        }
        out
    }

    /// `out = ∂_x f` in spectral space.
    pub fn ddx(&self, f: &[Complex64], out: &mut [Complex64]) {
        let nyh = self.nyh();
        for i in 0..self.nx {
            let ik = Complex64::new(0.0, self.kx[i]);
            for j in 0..nyh {
                out[i * nyh + j] = ik * f[i * nyh + j];
            }
        }
    }

    /// `out = ∂_y f` in spectral space.
    pub fn ddy(&self, f: &[Complex64], out: &mut [Complex64]) {
        let nyh = self.nyh();
        for i in 0..self.nx {
            for j in 0..nyh {
                out[i * nyh + j] = Complex64::new(0.0, self.ky[j]) * f[i * nyh + j];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_expected_modes() {
        let g = Grid2::new(12, 12, 1.0, 1.0).unwrap();
        let m = g.dealias_mask(Dealias::TwoThirds);
        let nyh = g.nyh();
        // 2/3 of 12: keep |m| ≤ 3.
        for i in 0..12 {
            for j in 0..nyh {
                let keep = g.mx[i] <= 3 && g.my[j] <= 3;
                assert_eq!(m[i * nyh + j] == 1.0, keep, "({i},{j})");
            }
        }
        let h = g.dealias_mask(Dealias::Half);
        assert_eq!(h.iter().filter(|&&v| v == 1.0).count(), 5 * 3);
        let f = g.hou_li_filter();
        assert_eq!(f[0], 1.0);
        assert!((f[(6) * nyh] - (-36.0f64).exp()).abs() < 1e-20);
        assert!(f[nyh + 1] > 1.0 - 1e-15);
    }

    #[test]
    fn dealias_band_covers_exactly_the_kept_columns() {
        for &(nx, ny) in &[(12, 12), (16, 18), (128, 128), (64, 256), (8, 4)] {
            let g = Grid2::new(nx, ny, 1.0, 1.0).unwrap();
            let nyh = g.nyh();
            for rule in [Dealias::None, Dealias::TwoThirds, Dealias::Half] {
                let mask = g.dealias_mask(rule);
                let band = g.dealias_band(rule);
                let col_kept = |j: usize| (0..nx).any(|i| mask[i * nyh + j] != 0.0);
                assert!(band >= 1 && col_kept(band - 1), "{nx}×{ny} {rule:?}");
                assert!((band..nyh).all(|j| !col_kept(j)), "{nx}×{ny} {rule:?}");
            }
        }
        for &(nx, ny) in &[(12, 12), (16, 18), (64, 32)] {
            let g = Grid2::new(nx, ny, 1.0, 1.0).unwrap();
            for rule in [Dealias::None, Dealias::TwoThirds, Dealias::Half] {
                let mask = g.dealias_mask(rule);
                let mut kept = vec![false; 2 * g.n_spec()];
                for r in g.dealias_support(rule, 2) {
                    kept[r].iter_mut().for_each(|k| *k = true);
                }
                for (k, kept) in kept.iter().enumerate() {
                    assert_eq!(*kept, mask[k % g.n_spec()] != 0.0, "{nx}×{ny} {rule:?} support at {k}");
                }
            }
        }
        let g = Grid2::new(128, 128, 1.0, 1.0).unwrap();
        assert_eq!(g.dealias_band(Dealias::TwoThirds), 43);
        assert_eq!(g.dealias_band(Dealias::Half), 32);
        assert_eq!(g.dealias_band(Dealias::None), 65);
    }

    #[test]
    fn bad_grids_are_rejected() {
        assert!(Grid2::new(3, 8, 1.0, 1.0).is_err());
        assert!(Grid2::new(8, 8, 0.0, 1.0).is_err());
    }
}
