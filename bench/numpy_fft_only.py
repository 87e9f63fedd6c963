"""FFT-only cost of one ETDRK4 step of the NumPy twins (`numpy_shear_flow.py`, `numpy_gray_scott_reaction_diffusion.py`):
the same `np.fft.irfft2` / `np.fft.rfft2` calls on the same shapes, and nothing else. shear_flow: 4 stages x (2
velocity + 2 x 2 gradient inverses, 2 forwards) = 24 inverse + 8 forward; Gray-Scott: 4 x (2 + 2) = 8 + 8.

    OMP_NUM_THREADS=1 python bench/numpy_fft_only.py SYSTEM N [STEPS]

Prints one JSON line; the time is the minimum over 5 repeats of STEPS steps.
"""
import json
import sys
import time

import numpy as np

system = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 128
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
inverse, forward = {"shear_flow": (24, 8), "gray_scott_reaction_diffusion": (8, 8)}[system]

rng = np.random.default_rng(0)
spec = rng.standard_normal((n, n // 2 + 1)) + 1j * rng.standard_normal((n, n // 2 + 1))
phys = rng.standard_normal((n, n))


def one_step():
    for _ in range(inverse):
        np.fft.irfft2(spec, s=(n, n))
    for _ in range(forward):
        np.fft.rfft2(phys)


one_step()
best = float("inf")
for _ in range(5):
    t = time.perf_counter()
    for _ in range(steps):
        one_step()
    best = min(best, (time.perf_counter() - t) / steps)
print(json.dumps({"system": system, "res": n, "numpy_fft_only_ms_per_step": round(best * 1e3, 4),
                  "inverse_per_step": inverse, "forward_per_step": forward}))
