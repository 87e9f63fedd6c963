"""Shared NumPy pieces of the simulator twins: Kassam–Trefethen ETDRK4 coefficients and the step.

Same scheme as crates/physrep-sim/src/etdrk4.rs (M = 16 contour points on a unit circle, complex mean).
"""
import numpy as np


def etdrk4_coefficients(lin, h, m=16):
    r = h * lin[..., None] + np.exp(2j * np.pi * (np.arange(m) + 0.5) / m)
    er = np.exp(r)
    q = h * np.mean((np.exp(r / 2) - 1) / r, axis=-1)
    f1 = h * np.mean((-4 - r + er * (4 - 3 * r + r**2)) / r**3, axis=-1)
    f2 = h * np.mean((2 + r + er * (r - 2)) / r**3, axis=-1)
    f3 = h * np.mean((-4 - 3 * r - r**2 + er * (4 - r)) / r**3, axis=-1)
    return np.exp(h * lin), np.exp(h * lin / 2), q, f1, f2, f3


def etdrk4_step(v, coef, nonlinear):
    e, e2, q, f1, f2, f3 = coef
    nv = nonlinear(v)
    a = e2 * v + q * nv
    na = nonlinear(a)
    b = e2 * v + q * na
    nb = nonlinear(b)
    c = e2 * a + q * (2 * nb - nv)
    nc = nonlinear(c)
    return e * v + f1 * nv + 2 * f2 * (na + nb) + f3 * nc


def time_steps(step, v, steps):
    import time
    v = step(v)  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        v = step(v)
    return (time.perf_counter() - t) / steps, v
