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
//!
//! **Real coefficients.** When `L` is real (every system here: diffusion and damping), the contour means are
//! real up to round-off (the contour points come in conjugate pairs), so the coefficients are stored as `f64`
//! (their real parts) and the stage loops multiply real × complex: half the coefficient memory traffic and
//! fewer flops. The result equals the complex-coefficient path to round-off (tested); a complex `L` keeps
//! complex coefficients.
//!
//! **Support.** [`Etdrk4::with_support`] advances only the modes in a set of index ranges (e.g. the dealiasing
//! box of every field): modes outside it must be zero in the state and in every `N(v)`, and then stay zero
//! exactly (`E·0 + f·0 = 0`), so skipping them changes nothing, and the stage loops stream only the support
//! (the coefficients are stored packed over it).

use std::ops::{Mul, Range};

use num_complex::Complex64;

use crate::spectral::with_avx2;

/// Number of contour points.
const CONTOUR_POINTS: usize = 16;

/// The per-mode coefficients `E, E₂, Q, f₁, f₂, f₃` with element type `C` (`f64` or `Complex64`).
struct Coefficients<C> {
    e: Vec<C>,
    e2: Vec<C>,
    q: Vec<C>,
    f1: Vec<C>,
    f2: Vec<C>,
    f3: Vec<C>,
}

impl<C: Copy> Coefficients<C> {
    /// Converts every coefficient with `f` (e.g. the real part).
    fn map<D>(&self, f: impl Fn(C) -> D + Copy) -> Coefficients<D> {
        let conv = |v: &[C]| v.iter().map(|&c| f(c)).collect();
        Coefficients { e: conv(&self.e), e2: conv(&self.e2), q: conv(&self.q), f1: conv(&self.f1), f2: conv(&self.f2), f3: conv(&self.f3) }
    }
}

impl Coefficients<Complex64> {
    /// Kassam–Trefethen contour means for the diagonal `lin` (the packed support) and step `h` (see the module
    /// doc).
    fn contour(lin: &[Complex64], h: f64) -> Self {
        let n = lin.len();
        let mut c = Coefficients {
            e: Vec::with_capacity(n),
            e2: Vec::with_capacity(n),
            q: Vec::with_capacity(n),
            f1: Vec::with_capacity(n),
            f2: Vec::with_capacity(n),
            f3: Vec::with_capacity(n),
        };
        let roots: Vec<Complex64> = (0..CONTOUR_POINTS)
            .map(|m| {
                let th = 2.0 * std::f64::consts::PI * (m as f64 + 0.5) / CONTOUR_POINTS as f64;
                Complex64::new(th.cos(), th.sin())
            })
            .collect();
        let inv_m = 1.0 / CONTOUR_POINTS as f64;
        for &l in lin {
            let hl = l * h;
            c.e.push(hl.exp());
            c.e2.push((hl * 0.5).exp());
            let (mut sq, mut s1, mut s2, mut s3) = (Complex64::default(), Complex64::default(), Complex64::default(), Complex64::default());
            for &root in &roots {
                let r = hl + root;
                let er = r.exp();
                let r3 = r * r * r;
                sq += ((r * 0.5).exp() - 1.0) / r;
                s1 += (-4.0 - r + er * (4.0 - 3.0 * r + r * r)) / r3;
                s2 += (2.0 + r + er * (r - 2.0)) / r3;
                s3 += (-4.0 - 3.0 * r - r * r + er * (4.0 - r)) / r3;
            }
            c.q.push(sq * (h * inv_m));
            c.f1.push(s1 * (h * inv_m));
            c.f2.push(s2 * (h * inv_m));
            c.f3.push(s3 * (h * inv_m));
        }
        c
    }
}

/// Real (`L` real) or complex coefficient storage.
enum Storage {
    Real(Coefficients<f64>),
    Complex(Coefficients<Complex64>),
}

/// ETDRK4 coefficients for one `(L, h)` plus the stage buffers.
pub struct Etdrk4 {
    h: f64,
    /// Sorted, disjoint index ranges of the advanced modes; `coef` is packed over them.
    support: Vec<Range<usize>>,
    coef: Storage,
    nv: Vec<Complex64>,
    a: Vec<Complex64>,
    na: Vec<Complex64>,
    b: Vec<Complex64>,
    nb: Vec<Complex64>,
    c: Vec<Complex64>,
    nc: Vec<Complex64>,
}

impl Etdrk4 {
    /// Coefficients for the diagonal linear operator `lin` and step `h` (stored real when `lin` is real).
    pub fn new(lin: &[Complex64], h: f64) -> Self {
        Self::with_support(lin, h, std::iter::once(0..lin.len()).collect())
    }

    /// Like [`Etdrk4::new`], advancing only the modes in `support` (sorted, disjoint ranges within
    /// `0..lin.len()`); the state and every `N(v)` must vanish outside it (see the module doc). Panics on an
    /// unsorted or out-of-range support (a programming error).
    pub fn with_support(lin: &[Complex64], h: f64, support: Vec<Range<usize>>) -> Self {
        let packed = Self::packed(lin, &support);
        let coef = Coefficients::contour(&packed, h);
        let coef = if packed.iter().all(|l| l.im == 0.0) { Storage::Real(coef.map(|c| c.re)) } else { Storage::Complex(coef) };
        Self::with_storage(lin.len(), h, support, coef)
    }

    /// The complex-coefficient stepper even for a real `lin`: the reference the real path is tested against.
    #[cfg(test)]
    fn new_complex(lin: &[Complex64], h: f64) -> Self {
        Self::with_storage(lin.len(), h, std::iter::once(0..lin.len()).collect(), Storage::Complex(Coefficients::contour(lin, h)))
    }

    /// The entries of `lin` on the support, in order.
    fn packed(lin: &[Complex64], support: &[Range<usize>]) -> Vec<Complex64> {
        let mut end = 0;
        for r in support {
            assert!(r.start >= end && r.end <= lin.len(), "Etdrk4::with_support: ranges must be sorted, disjoint and within the state");
            end = r.end;
        }
        support.iter().flat_map(|r| lin[r.clone()].iter().copied()).collect()
    }

    fn with_storage(n: usize, h: f64, support: Vec<Range<usize>>, coef: Storage) -> Self {
        let z = vec![Complex64::default(); n];
        Self { h, support, coef, nv: z.clone(), a: z.clone(), na: z.clone(), b: z.clone(), nb: z.clone(), c: z.clone(), nc: z }
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
        assert_eq!(v.len(), self.nv.len(), "Etdrk4::step: state length");
        let Self { support, coef, nv, a, na, b, nb, c, nc, .. } = self;
        let stages = Stages { nv, a, na, b, nb, c, nc };
        match coef {
            Storage::Real(k) => with_avx2(
                #[inline(always)]
                || stages.step(support, k, v, nonlinear),
            ),
            Storage::Complex(k) => with_avx2(
                #[inline(always)]
                || stages.step(support, k, v, nonlinear),
            ),
        }
    }
}

/// The stage buffers of one step.
struct Stages<'a> {
    nv: &'a mut [Complex64],
    a: &'a mut [Complex64],
    na: &'a mut [Complex64],
    b: &'a mut [Complex64],
    nb: &'a mut [Complex64],
    c: &'a mut [Complex64],
    nc: &'a mut [Complex64],
}

impl Stages<'_> {
    #[inline(always)]
    fn step<C, F>(self, support: &[Range<usize>], k: &Coefficients<C>, v: &mut [Complex64], mut nonlinear: F)
    where
        C: Copy + Mul<Complex64, Output = Complex64> + Mul<f64, Output = C>,
        F: FnMut(&[Complex64], &mut [Complex64]),
    {
        let Stages { nv, a, na, b, nb, c, nc } = self;
        nonlinear(v, nv);
        for_support(support, |r, p| {
            let coef = k.e2[p.clone()].iter().zip(&k.q[p]);
            for ((a, (&e2, &q)), (v, nv)) in a[r.clone()].iter_mut().zip(coef).zip(v[r.clone()].iter().zip(&nv[r])) {
                *a = e2 * *v + q * *nv;
            }
        });
        nonlinear(a, na);
        for_support(support, |r, p| {
            let coef = k.e2[p.clone()].iter().zip(&k.q[p]);
            for ((b, (&e2, &q)), (v, na)) in b[r.clone()].iter_mut().zip(coef).zip(v[r.clone()].iter().zip(&na[r])) {
                *b = e2 * *v + q * *na;
            }
        });
        nonlinear(b, nb);
        for_support(support, |r, p| {
            let coef = k.e2[p.clone()].iter().zip(&k.q[p]);
            let stages = a[r.clone()].iter().zip(nb[r.clone()].iter().zip(&nv[r.clone()]));
            for ((c, (&e2, &q)), (a, (nb, nv))) in c[r].iter_mut().zip(coef).zip(stages) {
                *c = e2 * *a + q * (2.0 * nb - nv);
            }
        });
        nonlinear(c, nc);
        for_support(support, |r, p| {
            let coef = k.e[p.clone()].iter().zip(&k.f1[p.clone()]).zip(k.f2[p.clone()].iter().zip(&k.f3[p]));
            let stages = nv[r.clone()].iter().zip(&na[r.clone()]).zip(nb[r.clone()].iter().zip(&nc[r.clone()]));
            for ((v, ((&e, &f1), (&f2, &f3))), ((nv, na), (nb, nc))) in v[r].iter_mut().zip(coef).zip(stages) {
                *v = e * *v + f1 * *nv + (f2 * 2.0) * (na + nb) + f3 * *nc;
            }
        });
    }
}

/// Calls `f(r, p)` for every support range `r` with `p`, its position in the packed coefficients.
#[inline(always)]
fn for_support(support: &[Range<usize>], mut f: impl FnMut(Range<usize>, Range<usize>)) {
    let mut start = 0;
    for r in support {
        let p = start..start + r.len();
        start = p.end;
        f(r.clone(), p);
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
            Complex64::new(-0.5, 6.0),  // rotation: needs complex coefficients
            Complex64::new(-30.0, 2.0), // stiff
        ] {
            let t = if lambda.re < -10.0 { 0.3 } else { 2.0 };
            let exact = logistic(lambda, u0, t);
            let e1 = (run(lambda, u0, t, 20) - exact).norm();
            let e2 = (run(lambda, u0, t, 40) - exact).norm();
            let ratio = e1 / e2;
            assert!((12.0..20.0).contains(&ratio), "λ = {lambda}: errors {e1:.3e}, {e2:.3e}, ratio {ratio:.2}");
        }
    }

    #[test]
    fn linear_part_is_exact() {
        // N ≡ 0: ETDRK4 reproduces e^{Lt} to round-off, also for tiny and zero L (contour handles r → 0).
        let lin = [Complex64::new(0.0, 0.0), Complex64::new(-1e-9, 0.0), Complex64::new(-2.0, 3.0), Complex64::new(-400.0, 0.0)];
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

    /// The real-coefficient path (diffusion-like real `L`, a nonlinear term mixing real and imaginary parts)
    /// equals the complex-coefficient path to round-off, and a complex `L` keeps complex storage.
    #[test]
    fn real_coefficients_equal_complex_coefficients() {
        let lin: Vec<Complex64> = (0..37).map(|k| Complex64::new(-0.37 * (k * k) as f64, 0.0)).collect();
        let nonlinear = |x: &[Complex64], out: &mut [Complex64]| {
            for (k, o) in out.iter_mut().enumerate() {
                let (p, q) = (x[k], x[(k * 7 + 3) % x.len()]);
                *o = Complex64::new(0.0, 1.0) * p * q.conj() - 0.5 * q * q;
            }
        };
        let v0: Vec<Complex64> = (0..37).map(|k| Complex64::new((k as f64 * 0.7).sin(), (k as f64 * 1.3).cos()) * 0.2).collect();
        let (mut real, mut complex) = (Etdrk4::new(&lin, 0.05), Etdrk4::new_complex(&lin, 0.05));
        assert!(matches!(real.coef, Storage::Real(_)) && matches!(complex.coef, Storage::Complex(_)));
        let (mut x, mut y) = (v0.clone(), v0);
        for _ in 0..40 {
            real.step(&mut x, nonlinear);
            complex.step(&mut y, nonlinear);
        }
        let scale = y.iter().map(|c| c.norm()).fold(0.0, f64::max);
        let err = x.iter().zip(&y).map(|(a, b)| (a - b).norm()).fold(0.0, f64::max);
        assert!(scale > 1e-3 && err <= 1e-14 * scale, "real vs complex coefficients: {err:e} (scale {scale:e})");
        assert!(matches!(Etdrk4::new(&[Complex64::new(-1.0, 2.0)], 0.1).coef, Storage::Complex(_)));
    }

    /// With a support, the modes outside it (zero in the state and in `N`) stay zero and the others follow
    /// the full stepper bit for bit.
    #[test]
    fn support_equals_the_full_stepper() {
        let n = 40;
        let lin: Vec<Complex64> = (0..n).map(|k| Complex64::new(-0.2 * k as f64, 0.0)).collect();
        let support = vec![1..7, 7..9, 15..30, 33..40];
        let inside = |k: usize| support.iter().any(|r| r.contains(&k));
        let nonlinear = |x: &[Complex64], out: &mut [Complex64]| {
            for (k, o) in out.iter_mut().enumerate() {
                let (p, q) = (x[k], x[(k * 7 + 3) % x.len()]);
                let val = Complex64::new(0.0, 1.0) * p * q.conj() - 0.5 * q * q + 0.01;
                *o = if inside(k) { val } else { Complex64::default() };
            }
        };
        let v0: Vec<Complex64> = (0..n)
            .map(|k| if inside(k) { Complex64::new((k as f64 * 0.7).sin(), (k as f64 * 1.3).cos()) * 0.2 } else { Complex64::default() })
            .collect();
        let (mut part, mut full) = (Etdrk4::with_support(&lin, 0.05, support.clone()), Etdrk4::new(&lin, 0.05));
        let (mut x, mut y) = (v0.clone(), v0);
        for _ in 0..30 {
            part.step(&mut x, nonlinear);
            full.step(&mut y, nonlinear);
        }
        assert!(y.iter().any(|c| c.norm() > 1e-3));
        assert_eq!(x, y);
    }
}
