"""h5py twin of `physrep bench loader`: reads the same windows the same way and reports windows/s.

For every file (sorted), trajectory and t0 in 0, s, 2s, ... <= T - 32 (paper windows: 16 + 16 frames,
stride active_matter 1, shear_flow / rayleigh_benard 4, else 16), each field is read as one h5py
hyperslab `f[group][name][traj, t0:t0+32, x0:x1, y0:y1]` (the paper's crop as domain fractions),
channels are flattened in HDF5 key order and the window is laid out (C, T, H, W) float32, then split
into context / target and stacked into batches (B, C, 16, H, W), as physrep's loader does with
`--resize` unset and noise 0. A warm-up pass runs first, then the timed pass.

    /work/venv-bench/bin/python bench/h5py_loader.py DATASET_DIR [--batch 8] [--json]
"""

import argparse
import glob
import json
import os
import time

import h5py
import numpy as np

CROP = {"shear_flow": ((0.0, 1.0), (0.0, 0.5)), "rayleigh_benard": ((0.375, 0.625), (0.0, 1.0))}
STRIDE = {"active_matter": 1, "shear_flow": 4, "rayleigh_benard": 4}


def windows(files, ctx=16, tgt=16, stride=16):
    out = []
    for fi, path in enumerate(files):
        with h5py.File(path, "r") as f:
            n = int(f.attrs["n_trajectories"])
            t = f["dimensions"]["time"].shape[-1]
        for traj in range(n):
            for t0 in range(0, t - (ctx + tgt) + 1, stride):
                out.append((fi, traj, t0))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset_dir")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--split", default="train")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.dataset_dir, "data", a.split, "**", "*.h5"), recursive=True)
                   + glob.glob(os.path.join(a.dataset_dir, "data", a.split, "**", "*.hdf5"), recursive=True))
    handles = [h5py.File(p, "r") for p in files]
    name = handles[0].attrs["dataset_name"]
    name = name.decode() if isinstance(name, bytes) else name
    fields = [(g, k) for g in ("t0_fields", "t1_fields", "t2_fields") for k in handles[0][g]]
    nx, ny = handles[0]["dimensions"]["x"].shape[0], handles[0]["dimensions"]["y"].shape[0]
    (fx0, fx1), (fy0, fy1) = CROP.get(name, ((0.0, 1.0), (0.0, 1.0)))
    x0, x1, y0, y1 = round(fx0 * nx), round(fx1 * nx), round(fy0 * ny), round(fy1 * ny)
    wins = windows(files, stride=STRIDE.get(name, 16))

    def read(fi, traj, t0):
        parts = []
        for g, k in fields:
            d = handles[fi][g][k][traj, t0:t0 + 32, x0:x1, y0:y1]  # (T, H, W, comps...)
            d = d.reshape(d.shape[0], d.shape[1], d.shape[2], -1)
            parts.append(np.moveaxis(d, -1, 0))  # (comps, T, H, W)
        w = np.ascontiguousarray(np.concatenate(parts, axis=0), dtype=np.float32)
        return w[:, :16], w[:, 16:]

    def one_pass():
        t = time.perf_counter()
        n = nbytes = 0
        for i in range(0, len(wins), a.batch):
            items = [read(*w) for w in wins[i:i + a.batch]]
            ctx = np.stack([c for c, _ in items])
            tgt = np.stack([t_ for _, t_ in items])
            n += len(items)
            nbytes += ctx.nbytes + tgt.nbytes
        return n, nbytes, time.perf_counter() - t

    one_pass()
    n, nbytes, secs = one_pass()
    res = {"bench": "h5py_loader", "dataset": name, "windows": n, "batch": a.batch, "seconds": secs,
           "windows_per_s": n / secs, "mb_per_s": nbytes / secs / 1e6, "h5py": h5py.__version__}
    if a.json:
        print(json.dumps(res))
    else:
        print(f"h5py loader {name}: {n} windows in {secs:.3f} s = {n / secs:.1f} windows/s ({nbytes / secs / 1e6:.0f} MB/s)")


if __name__ == "__main__":
    main()
