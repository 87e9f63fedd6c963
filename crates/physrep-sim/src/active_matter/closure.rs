//! Exact 2-D Bingham closure for the fourth orientation moment S = ⟨pppp⟩ in terms of D = ⟨pp⟩.
//!
//! In 2-D a rod orientation is p = (cos φ, sin φ). The Bingham distribution with second moment D has,
//! in D's eigenframe (angle θ), the density ψ(φ) ∝ exp(κ cos 2(φ − θ)). Its Fourier moments are
//! ⟨cos 2(φ−θ)⟩ = A(κ) = I₁(κ)/I₀(κ) and ⟨cos 4(φ−θ)⟩ = m₄ = I₂(κ)/I₀(κ) = 1 − 2A(κ)/κ.
//! Given D (per grid point):
//!
//! 1. Q = D/c (c = tr D), a = Q_xx − Q_yy, b = 2Q_xy, s = √(a² + b²) (clipped to 1 − 1e-12).
//! 2. κ solves A(κ) = s; m₄ = m₄(κ(s)). Rather than a Newton solve per grid point, m₄(s) is tabulated once
//!    on s ∈ [0, 1] (uniform nodes, [`TABLE_INTERVALS`] intervals) and evaluated by cubic Hermite
//!    interpolation with the exact node derivatives dm₄/ds = (dm₄/dκ)/(dA/dκ); the nodes come from a
//!    safeguarded Newton solve on exponentially scaled Bessel functions ([`invert_bessel_ratio`]).
//! 3. C₂ = a, S₂ = b, C₄ = m₄(a² − b²)/s², S₄ = 2m₄ab/s² (the lab-frame cos 4φ and sin 4φ moments).
//! 4. S_xxxx = c(3 + 4C₂ + C₄)/8, S_yyyy = c(3 − 4C₂ + C₄)/8, S_xxyy = c(1 − C₄)/8,
//!    S_xxxy = c(2S₂ + S₄)/8, S_xyyy = c(2S₂ − S₄)/8 (fully symmetric).
//!
//! The contraction S_ijkk = D_ij holds exactly for any m₄ (it only uses C₂, S₂), which makes the
//! trace of the D equation cancel exactly (see `model.rs`). Scaled Bessel functions e^{−x}I_ν(x) use the
//! power series for x ≤ 25 and the Hankel asymptotic series above (truncated at its smallest term,
//! < 1e-20 relative there).

/// A symmetric 2×2 tensor (D, E, S:T, …).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sym2 {
    pub xx: f64,
    pub xy: f64,
    pub yy: f64,
}

impl Sym2 {
    pub fn new(xx: f64, xy: f64, yy: f64) -> Self {
        Self { xx, xy, yy }
    }

    pub fn trace(&self) -> f64 {
        self.xx + self.yy
    }

    /// Matrix square T·T (symmetric for symmetric T).
    pub fn square(&self) -> Sym2 {
        Sym2 { xx: self.xx * self.xx + self.xy * self.xy, xy: self.xy * (self.xx + self.yy), yy: self.xy * self.xy + self.yy * self.yy }
    }

    /// Double contraction T:U = T_ij U_ij.
    pub fn ddot(&self, u: &Sym2) -> f64 {
        self.xx * u.xx + 2.0 * self.xy * u.xy + self.yy * u.yy
    }

    /// Eigenvalues (ascending).
    pub fn eigenvalues(&self) -> (f64, f64) {
        let m = 0.5 * (self.xx + self.yy);
        let r = (0.25 * (self.xx - self.yy).powi(2) + self.xy * self.xy).sqrt();
        (m - r, m + r)
    }
}

/// A fully symmetric 2-D fourth-order tensor, by its five independent components.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sym4 {
    pub xxxx: f64,
    pub xxxy: f64,
    pub xxyy: f64,
    pub xyyy: f64,
    pub yyyy: f64,
}

impl Sym4 {
    /// (S:T)_ij = S_ijkl T_kl for symmetric T.
    pub fn contract(&self, t: &Sym2) -> Sym2 {
        Sym2 {
            xx: self.xxxx * t.xx + 2.0 * self.xxxy * t.xy + self.xxyy * t.yy,
            xy: self.xxxy * t.xx + 2.0 * self.xxyy * t.xy + self.xyyy * t.yy,
            yy: self.xxyy * t.xx + 2.0 * self.xyyy * t.xy + self.yyyy * t.yy,
        }
    }

    /// Partial trace S_ijkk (equals D_ij for a consistent closure).
    pub fn partial_trace(&self) -> Sym2 {
        Sym2 { xx: self.xxxx + self.xxyy, xy: self.xxxy + self.xyyy, yy: self.xxyy + self.yyyy }
    }
}

/// Number of intervals of the m₄(s) table (the Flatiron script uses 10⁴ points).
pub const TABLE_INTERVALS: usize = 4096;

/// Largest order parameter s admitted (a perfectly aligned state has κ = ∞).
pub const S_MAX: f64 = 1.0 - 1e-12;

/// Threshold between the power series and the asymptotic series for e^{−x} I_ν(x).
const SERIES_LIMIT: f64 = 25.0;

/// Exponentially scaled modified Bessel function e^{−x} I_ν(x), x ≥ 0, for small integer ν.
pub fn scaled_bessel_i(nu: u32, x: f64) -> f64 {
    if x <= SERIES_LIMIT {
        // Σ_k (x/2)^{2k+ν} / (k! (k+ν)!), all terms positive.
        let h = 0.5 * x;
        let mut term = 1.0;
        for j in 1..=nu {
            term *= h / j as f64;
        }
        let mut sum = term;
        let h2 = h * h;
        let mut k = 1u32;
        loop {
            term *= h2 / (k as f64 * (k + nu) as f64);
            sum += term;
            if term < 1e-17 * sum {
                break;
            }
            k += 1;
        }
        sum * (-x).exp()
    } else {
        let mu = 4.0 * (nu as f64) * (nu as f64);
        let mut term = 1.0;
        let mut sum = 1.0;
        let mut k = 1u32;
        loop {
            let odd = (2 * k - 1) as f64;
            let next = -term * (mu - odd * odd) / (k as f64 * 8.0 * x);
            if next.abs() >= term.abs() || next.abs() < 1e-18 {
                break;
            }
            term = next;
            sum += term;
            k += 1;
        }
        sum / (2.0 * std::f64::consts::PI * x).sqrt()
    }
}

/// A(κ) = I₁(κ)/I₀(κ) = ⟨cos 2φ⟩ of the 2-D Bingham distribution ∝ e^{κ cos 2φ}.
pub fn bessel_ratio(kappa: f64) -> f64 {
    if kappa == 0.0 {
        return 0.0;
    }
    scaled_bessel_i(1, kappa) / scaled_bessel_i(0, kappa)
}

/// dA/dκ = (I₀ + I₂)/(2I₀) − A².
fn bessel_ratio_derivative(kappa: f64) -> f64 {
    let i0 = scaled_bessel_i(0, kappa);
    let a = scaled_bessel_i(1, kappa) / i0;
    let m4 = scaled_bessel_i(2, kappa) / i0;
    0.5 * (1.0 + m4) - a * a
}

/// The κ ≥ 0 with A(κ) = s, for 0 ≤ s < 1: Newton's method safeguarded by bisection.
pub fn invert_bessel_ratio(s: f64) -> f64 {
    assert!((0.0..1.0).contains(&s), "Bessel-ratio inversion needs 0 ≤ s < 1, got {s}");
    if s == 0.0 {
        return 0.0;
    }
    // Bracket: A(κ) ≤ κ/2 gives κ ≥ 2s; A(κ) ≥ 1 − 1/κ... use a doubling search for the upper end.
    let mut lo = 2.0 * s * 0.999;
    let mut hi = (2.0 * s).max(1.0);
    while bessel_ratio(hi) < s {
        lo = hi;
        hi *= 2.0;
    }
    // Initial guess (Banerjee et al. approximation for p = 2), kept inside the bracket.
    let mut kappa = (s * (2.0 - s * s) / (1.0 - s * s)).clamp(lo, hi);
    for _ in 0..100 {
        let f = bessel_ratio(kappa) - s;
        if f > 0.0 {
            hi = kappa;
        } else {
            lo = kappa;
        }
        let mut next = kappa - f / bessel_ratio_derivative(kappa);
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - kappa).abs() <= 1e-15 * kappa {
            return next;
        }
        kappa = next;
    }
    kappa
}

/// m₄ = ⟨cos 4φ⟩ = I₂/I₀ and its derivative with respect to s = A(κ), at a given κ.
fn m4_and_slope(kappa: f64) -> (f64, f64) {
    if kappa == 0.0 {
        return (0.0, 0.0);
    }
    let i0 = scaled_bessel_i(0, kappa);
    let a = scaled_bessel_i(1, kappa) / i0;
    let m4 = scaled_bessel_i(2, kappa) / i0;
    let i3 = scaled_bessel_i(3, kappa) / i0;
    let dm4_dkappa = 0.5 * (a + i3) - m4 * a;
    let da_dkappa = 0.5 * (1.0 + m4) - a * a;
    (m4, dm4_dkappa / da_dkappa)
}

/// The tabulated exact 2-D Bingham closure.
#[derive(Clone, Debug)]
pub struct BinghamClosure {
    /// (m₄, dm₄/ds) at s_i = i / TABLE_INTERVALS, i = 0..=TABLE_INTERVALS.
    nodes: Vec<(f64, f64)>,
}

impl Default for BinghamClosure {
    fn default() -> Self {
        Self::new()
    }
}

impl BinghamClosure {
    /// The process-wide table, built on first use (runs share it).
    pub fn shared() -> &'static BinghamClosure {
        static TABLE: std::sync::OnceLock<BinghamClosure> = std::sync::OnceLock::new();
        TABLE.get_or_init(BinghamClosure::new)
    }

    /// Builds the m₄(s) table (a few milliseconds).
    pub fn new() -> Self {
        let n = TABLE_INTERVALS;
        let mut nodes = Vec::with_capacity(n + 1);
        for i in 0..n {
            let s = i as f64 / n as f64;
            nodes.push(m4_and_slope(invert_bessel_ratio(s)));
        }
        // s = 1 (κ = ∞): with ε = 1 − s, m₄ = 1 − 4ε + 6ε² + O(ε³) (from the asymptotic series).
        nodes.push((1.0, 4.0));
        Self { nodes }
    }

    /// m₄(s) = ⟨cos 4(φ − θ)⟩ of the Bingham distribution with ⟨cos 2(φ − θ)⟩ = s (cubic Hermite).
    pub fn m4(&self, s: f64) -> f64 {
        let n = TABLE_INTERVALS as f64;
        let s = s.clamp(0.0, S_MAX);
        let x = s * n;
        let i = (x as usize).min(TABLE_INTERVALS - 1);
        let t = x - i as f64;
        let h = 1.0 / n;
        let (y0, d0) = self.nodes[i];
        let (y1, d1) = self.nodes[i + 1];
        let t2 = t * t;
        let t3 = t2 * t;
        (2.0 * t3 - 3.0 * t2 + 1.0) * y0 + (t3 - 2.0 * t2 + t) * h * d0 + (-2.0 * t3 + 3.0 * t2) * y1 + (t3 - t2) * h * d1
    }

    /// The fourth moment S of the Bingham distribution whose second moment is `d` (tr d = c > 0).
    /// For c ≤ 0 (no particles) S = 0.
    pub fn fourth_moment(&self, d: &Sym2) -> Sym4 {
        let c = d.trace();
        if c <= 0.0 {
            return Sym4 { xxxx: 0.0, xxxy: 0.0, xxyy: 0.0, xyyy: 0.0, yyyy: 0.0 };
        }
        let a = (d.xx - d.yy) / c;
        let b = 2.0 * d.xy / c;
        let s2 = a * a + b * b;
        let (c4, s4) = if s2 > 0.0 {
            let s = s2.sqrt();
            let m4 = self.m4(s);
            (m4 * (a * a - b * b) / s2, 2.0 * m4 * a * b / s2)
        } else {
            (0.0, 0.0)
        };
        let k = c / 8.0;
        Sym4 {
            xxxx: k * (3.0 + 4.0 * a + c4),
            xxxy: k * (2.0 * b + s4),
            xxyy: k * (1.0 - c4),
            xyyy: k * (2.0 * b - s4),
            yyyy: k * (3.0 - 4.0 * a + c4),
        }
    }
}
