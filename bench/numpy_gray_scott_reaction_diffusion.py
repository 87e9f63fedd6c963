"""NumPy twin of physrep's Gray-Scott step (bench only): ETDRK4, 1/2-rule dealiasing, 16 real 2-D FFTs per step.

Usage: python bench/numpy_gray_scott_reaction_diffusion.py [N] [STEPS]   (N×N on [-1,1)², spots regime, dt = 1)
"""
import sys
import numpy as np
from numpy_etdrk4 import etdrk4_coefficients, etdrk4_step, time_steps

n = int(sys.argv[1]) if len(sys.argv) > 1 else 128
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
F, K = 0.03, 0.062
kx = np.pi * np.fft.fftfreq(n, 1.0 / n)[:, None]
ky = np.pi * np.fft.rfftfreq(n, 1.0 / n)[None, :]
mx = np.abs(np.fft.fftfreq(n, 1.0 / n))[:, None]
my = np.fft.rfftfreq(n, 1.0 / n)[None, :]
k2 = kx**2 + ky**2
mask = ((4 * mx < n) & (4 * my < n)).astype(float)
lin = np.stack([-2e-5 * k2, -1e-5 * k2]).astype(complex)
coef = etdrk4_coefficients(lin, 1.0)
rng = np.random.default_rng(0)
a0 = 1 - 0.5 * rng.random((n, n))
b0 = 0.5 * rng.random((n, n))
v = np.stack([np.fft.rfft2(a0), np.fft.rfft2(b0)]) * mask
irfft2 = lambda z: np.fft.irfft2(z, s=(n, n))


def nonlinear(state):
    a, b = irfft2(state[0]), irfft2(state[1])
    abb = a * b * b
    return np.stack([np.fft.rfft2(-abb + F * (1 - a)), np.fft.rfft2(abb - (F + K) * b)]) * mask


per_step, v = time_steps(lambda s: etdrk4_step(s, coef, nonlinear), v, steps)
assert np.all(np.isfinite(v))
print(f'{{"system":"gray_scott_reaction_diffusion","res":{n},"numpy_ms_per_step":{per_step * 1e3:.4f}}}')
