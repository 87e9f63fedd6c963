//! ETDRK4 (Cox & Matthews 2002) with Kassam–Trefethen contour-integral coefficients (SIAM J. Sci. Comput. 26,
//! 2005, doi:10.1137/S1064827502410633) for `v̂ₜ = L v̂ + N(v̂)` with a diagonal, possibly complex `L`.
//!
//! Coefficients per mode (h = dt, M = 16 points `r_m = hL + e^{2πi(m−½)/M}` on a unit circle, ⟨·⟩ the complex
//! mean over the circle — kept complex so odd-derivative or rotation terms in `L` are handled exactly):
//! `E = e^{hL}`, `E₂ = e^{hL/2}`, `Q = h⟨(e^{r/2} − 1)/r⟩`, `f₁ = h⟨(−4 − r + e^r(4 − 3r + r²))/r³⟩`,
//! `f₂ = h⟨(2 + r + e^r(r − 2))/r³⟩`, `f₃ = h⟨(−4 − 3r − r² + e^r(4 − r))/r³⟩`. One step:
//! `a = E₂v + QN(v)`, `b = E₂v + QN(a)`, `c = E₂a + Q(2N(b) − N(v))`,
//! `v ← Ev + f₁N(v) + 2f₂(N(a) + N(b)) + f₃N(c)`.
//!
//! The state is one flat `Complex64` slice (all fields' spectral coefficients concatenated); the caller's
//! nonlinear function fills `N(v)` for a given `v`. Four evaluations per step; no allocation per step.

use num_complex::Complex64;

use crate::spectral::with_avx2;

/// Number of contour points.
const CONTOUR_POINTS: usize = 16;

/// ETDRK4 coefficients for one `(L, h)` plus the stage buffers.
pub struct Etdrk4 {
    h: f64,
    e: Vec<Complex64>,
    e2: Vec<Complex64>,
    q: Vec<Complex64>,
    f1: Vec<Complex64>,
    f2: Vec<Complex64>,
    f3: Vec<Complex64>,
    nv: Vec<Complex64>,
    a: Vec<Complex64>,
    na: Vec<Complex64>,
    b: Vec<Complex64>,
    nb: Vec<Complex64>,
    c: Vec<Complex64>,
    nc: Vec<Complex64>,
}

impl Etdrk4 {
    /// Coefficients for the diagonal linear operator `lin` and step `h`.
    pub fn new(lin: &[Complex64], h: f64) -> Self {
        let n = lin.len();
        let mut e = Vec::with_capacity(n);
        let mut e2 = Vec::with_capacity(n);
        let mut q = Vec::with_capacity(n);
        let mut f1 = Vec::with_capacity(n);
        let mut f2 = Vec::with_capacity(n);
        let mut f3 = Vec::with_capacity(n);
        let roots: Vec<Complex64> = (0..CONTOUR_POINTS)
            .map(|m| {
                let th = 2.0 * std::f64::consts::PI * (m as f64 + 0.5) / CONTOUR_POINTS as f64;
                Complex64::new(th.cos(), th.sin())
            })
            .collect();
        let inv_m = 1.0 / CONTOUR_POINTS as f64;
        for &l in lin {
            let hl = l * h;
            e.push(hl.exp());
            e2.push((hl * 0.5).exp());
            let (mut sq, mut s1, mut s2, mut s3) = (
                Complex64::default(),
                Complex64::default(),
                Complex64::default(),
                Complex64::default(),
            );
            for &root in &roots {
                let r = hl + root;
                let er = r.exp();
                let r3 = r * r * r;
                sq += ((r * 0.5).exp() - 1.0) / r;
                s1 += (-4.0 - r + er * (4.0 - 3.0 * r + r * r)) / r3;
                s2 += (2.0 + r + er * (r - 2.0)) / r3;
                s3 += (-4.0 - 3.0 * r - r * r + er * (4.0 - r)) / r3;
            }
            q.push(sq * (h * inv_m));
            f1.push(s1 * (h * inv_m));
            f2.push(s2 * (h * inv_m));
            f3.push(s3 * (h * inv_m));
        }
        let z = vec![Complex64::default(); n];
        Self {
            h,
            e,
            e2,
            q,
            f1,
            f2,
            f3,
            nv: z.clone(),
            a: z.clone(),
            na: z.clone(),
            b: z.clone(),
            nb: z.clone(),
            c: z.clone(),
            nc: z,
        }
    }

    /// The step size these coefficients were built for.
    pub fn dt(&self) -> f64 {
        self.h
    }

    /// Advances `v` by one step; `nonlinear(v, out)` must write `N(v)` into `out` (every entry).
    pub fn step<F>(&mut self, v: &mut [Complex64], nonlinear: F)
    where
        F: FnMut(&[Complex64], &mut [Complex64]),
    {
        assert_eq!(v.len(), self.e.len(), "Etdrk4::step: state length");
        with_avx2(#[inline(always)] || self.step_impl(v, nonlinear))
    }

    #[inline(always)]
    fn step_impl<F>(&mut self, v: &mut [Complex64], mut nonlinear: F)
    where
        F: FnMut(&[Complex64], &mut [Complex64]),
    {
        nonlinear(v, &mut self.nv);
        for (((a, e2), q), (v, nv)) in self.a.iter_mut().zip(&self.e2).zip(&self.q).zip(v.iter().zip(&self.nv)) {
            *a = e2 * v + q * nv;
        }
        nonlinear(&self.a, &mut self.na);
        for (((b, e2), q), (v, na)) in self.b.iter_mut().zip(&self.e2).zip(&self.q).zip(v.iter().zip(&self.na)) {
            *b = e2 * v + q * na;
        }
        nonlinear(&self.b, &mut self.nb);
        for (((c, e2), q), (a, (nb, nv))) in self
            .c
            .iter_mut()
            .zip(&self.e2)
            .zip(&self.q)
            .zip(self.a.iter().zip(self.nb.iter().zip(&self.nv)))
        {
            *c = e2 * a + q * (2.0 * nb - nv);
        }
        nonlinear(&self.c, &mut self.nc);
        let coef = self.e.iter().zip(&self.f1).zip(self.f2.iter().zip(&self.f3));
        let stages = self.nv.iter().zip(&self.na).zip(self.nb.iter().zip(&self.nc));
        for ((v, ((e, f1), (f2, f3))), ((nv, na), (nb, nc))) in v.iter_mut().zip(coef).zip(stages) {
            *v = e * *v + f1 * nv + 2.0 * f2 * (na + nb) + f3 * nc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact solution of the Bernoulli equation u' = λu − u², valid for complex λ and u.
    fn logistic(lambda: Complex64, u0: Complex64, t: f64) -> Complex64 {
        let g = (lambda * t).exp();
        lambda * u0 * g / (lambda + u0 * (g - 1.0))
    }

    fn run(lambda: Complex64, u0: Complex64, t: f64, steps: usize) -> Complex64 {
        let mut s = Etdrk4::new(&[lambda], t / steps as f64);
        let mut v = [u0];
        for _ in 0..steps {
            s.step(&mut v, |x, out| out[0] = -x[0] * x[0]);
        }
        v[0]
    }

    #[test]
    fn fourth_order_in_time_for_real_and_complex_linear_parts() {
        let u0 = Complex64::new(0.3, 0.1);
        for &lambda in &[
            Complex64::new(-1.0, 0.0),
            Complex64::new(-0.5, 6.0), // rotation: needs complex coefficients
            Complex64::new(-30.0, 2.0), // stiff
        ] {
            let t = if lambda.re < -10.0 { 0.3 } else { 2.0 };
            let exact = logistic(lambda, u0, t);
            let e1 = (run(lambda, u0, t, 20) - exact).norm();
            let e2 = (run(lambda, u0, t, 40) - exact).norm();
            let ratio = e1 / e2;
            assert!(
                (12.0..20.0).contains(&ratio),
                "λ = {lambda}: errors {e1:.3e}, {e2:.3e}, ratio {ratio:.2}"
            );
        }
    }

    #[test]
    fn linear_part_is_exact() {
        // N ≡ 0: ETDRK4 reproduces e^{Lt} to round-off, also for tiny and zero L (contour handles r → 0).
        let lin = [
            Complex64::new(0.0, 0.0),
            Complex64::new(-1e-9, 0.0),
            Complex64::new(-2.0, 3.0),
            Complex64::new(-400.0, 0.0),
        ];
        let mut s = Etdrk4::new(&lin, 0.1);
        let mut v = [Complex64::new(1.0, 0.5); 4];
        for _ in 0..10 {
            s.step(&mut v, |_, out| out.iter_mut().for_each(|o| *o = Complex64::default()));
        }
        for (l, x) in lin.iter().zip(&v) {
            let e = Complex64::new(1.0, 0.5) * (*l * 1.0).exp();
            assert!((x - e).norm() < 1e-13 * (1.0 + e.norm()), "L = {l}: {x} vs {e}");
        }
    }

    #[test]
    fn constant_forcing_is_exact() {
        // u' = λu + c has the exact solution u = (u0 + c/λ) e^{λt} − c/λ; ETDRK4 integrates it exactly.
        let lambda = Complex64::new(-3.0, 1.0);
        let c = Complex64::new(0.7, -0.2);
        let mut s = Etdrk4::new(&[lambda], 0.25);
        let mut v = [Complex64::new(1.0, 0.0)];
        for _ in 0..8 {
            s.step(&mut v, |_, out| out[0] = c);
        }
        let exact = (Complex64::new(1.0, 0.0) + c / lambda) * (lambda * 2.0).exp() - c / lambda;
        assert!((v[0] - exact).norm() < 1e-13);
    }
}
