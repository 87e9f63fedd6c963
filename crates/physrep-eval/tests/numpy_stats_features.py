"""Independent NumPy computation of the trivial-statistics baseline's features (physrep_eval::baseline)
for the unit test's fixture clip; the printed numbers are pasted into `baseline.rs`'s test.

Fixture: C=2, T=6, H=4, W=6, x[c,t,h,w] = (((37c + 11t + 7h + 3w)^2 mod 17) - 8)/4 + ((t*h + w) mod 3)/2
(dyadic, exact in float32). Run: python3 numpy_stats_features.py
"""
import numpy as np

C, T, H, W = 2, 6, 4, 6
c, t, h, w = np.meshgrid(np.arange(C), np.arange(T), np.arange(H), np.arange(W), indexing="ij")
clip = ((((37 * c + 11 * t + 7 * h + 3 * w) ** 2 % 17) - 8) / 4 + ((t * h + w) % 3) / 2).astype(np.float32)

K = min(H, W) // 2
feats = []
for x in clip.astype(np.float64):
    mu = x.mean()
    d = x - mu
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    varies = m2 > 1e-12 * (x**2).mean()
    skew, kurt = (m3 / m2**1.5, m4 / m2**2 - 3.0) if varies else (0.0, 0.0)
    feats += [mu, np.sqrt(m2), skew, kurt]
    power = (np.abs(np.fft.fft2(x, axes=(1, 2))) ** 2 / (H * W) ** 2).mean(axis=0)
    ky = np.fft.fftfreq(H) * H
    kx = np.fft.fftfreq(W) * W
    k = np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)
    b = np.round(k).astype(int)
    feats += [np.log(power[b == i].mean() + 1e-12) for i in range(1, K + 1)]
    for lag in range(1, 5):
        feats.append((d[:-lag] * d[lag:]).mean() / m2 if varies and lag < T else 0.0)

print(len(feats))
print(",\n".join(repr(float(v)) for v in feats))
