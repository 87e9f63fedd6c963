"""NumPy twin of physrep's shear_flow step (bench only): vorticity + tracer, Fourier-Fourier, 2/3 dealiasing,
Hou-Li filter, ETDRK4 — 32 real 2-D FFTs per step, like the Rust solver.

Usage: python bench/numpy_shear_flow.py [N] [STEPS]   (N×N grid on [0,1)×[0,2), Re = 1e4, Sc = 1)
Run with OMP_NUM_THREADS=1 for a single-thread comparison with `physrep bench sim-step`.
"""
import sys
import numpy as np
from numpy_etdrk4 import etdrk4_coefficients, etdrk4_step, time_steps

n = int(sys.argv[1]) if len(sys.argv) > 1 else 128
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
nu = 1e-4
kx = 2 * np.pi * np.fft.fftfreq(n, 1.0 / n)[:, None]
ky = np.pi * np.fft.rfftfreq(n, 1.0 / n)[None, :]
mx = np.abs(np.fft.fftfreq(n, 1.0 / n))[:, None]
my = np.fft.rfftfreq(n, 1.0 / n)[None, :]
kxd = np.where(mx == n // 2, 0, kx)
kyd = np.where(my == n // 2, 0, ky)
k2 = kx**2 + ky**2
inv_k2 = np.where(k2 > 0, 1 / np.where(k2 > 0, k2, 1), 0)
mask = ((3 * mx < n) & (3 * my < n)).astype(float)
filt = np.exp(-36 * (mx / (n / 2)) ** 36) * np.exp(-36 * (my / (n / 2)) ** 36)
lin = np.stack([-nu * k2, -nu * k2]).astype(complex)
coef = etdrk4_coefficients(lin, 0.1 / 32)

x = np.arange(n)[:, None] / n
y = -1 + 2 * np.arange(n)[None, :] / n
ux = 0.5 + 0.5 * (-np.tanh((y + 0.5) / 0.1) + np.tanh((y - 0.5) / 0.1))
uy = 0.1 * np.sin(-2 * np.pi * x) * np.exp(-((y + 0.5) ** 2) / 0.01) + 0.1 * np.sin(2 * np.pi * x) * np.exp(-((y - 0.5) ** 2) / 0.01)
w0 = (1j * kxd * np.fft.rfft2(uy) - 1j * kyd * np.fft.rfft2(ux)) * mask
v = np.stack([w0, np.fft.rfft2(ux) * mask])
irfft2 = lambda a: np.fft.irfft2(a, s=(n, n))


def nonlinear(state):
    w, s = state
    psi = w * inv_k2
    u = irfft2(1j * kyd * psi)
    vv = irfft2(-1j * kxd * psi)
    out = np.empty_like(state)
    for i, f in enumerate((w, s)):
        fx = irfft2(1j * kxd * f)
        fy = irfft2(1j * kyd * f)
        out[i] = np.fft.rfft2(-(u * fx + vv * fy)) * mask
    return out


def step(state):
    return etdrk4_step(state, coef, nonlinear) * filt


per_step, v = time_steps(step, v, steps)
assert np.all(np.isfinite(v))
print(f'{{"system":"shear_flow","res":{n},"numpy_ms_per_step":{per_step * 1e3:.4f}}}')
