#!/usr/bin/env python3
"""PyTorch twin of physrep's compact DISCO (crates/physrep-nn/src/disco.rs) for side-by-side numbers.

Usage:
  python bench/torch_disco.py --count                 # parameter count of the default config
  python bench/torch_disco.py --threads 1 --steps 5    # ms per DISCO training step (forward, RK4, loss, backward, Adam)

Shapes and defaults match `physrep bench physics-step --model disco` (BENCHMARKS.md, "MPP and DISCO").
The trunk is the AViT trunk of torch_avit.py (same directory).
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_avit import Trunk


class CompactDisco(nn.Module):
    def __init__(self, n_states=12, channels=11, dim=192, heads=3, depth=4, patch=16, hidden=384, rank=16,
                 width=32, op_depth=4, kernel=3, steps=4):
        super().__init__()
        self.trunk = Trunk(n_states, dim, heads, depth, patch)
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, rank)
        self.layers = [(width, channels, kernel)] + [(width, width, kernel)] * (op_depth - 2) + [(channels, width, 1)]
        norm = torch.cat([torch.full((co * ci * k * k,), 1 / math.sqrt(ci * k * k)) for co, ci, k in self.layers])
        self.register_buffer("theta_norm", norm)
        p = norm.numel()
        self.theta0 = nn.Parameter((2 * torch.rand(p) - 1) * norm)
        self.basis = nn.Parameter(torch.randn(rank, p) * norm * (0.1 / math.sqrt(rank)))
        self.steps = steps

    def latent(self, clip):
        b, t = clip.shape[0], clip.shape[2]
        tokens, _, _ = self.trunk(clip)
        return tokens.reshape(b, t, *tokens.shape[1:]).mean(dim=(1, 3, 4))

    def generate(self, z):
        raw = self.fc2(F.gelu(self.fc1(z))) @ self.basis + self.theta0
        return self.theta_norm * (4 * torch.sigmoid(raw / self.theta_norm) - 2)

    def operator(self, x, theta):
        b, c, h, w = x.shape
        y = x.reshape(1, b * c, h, w)
        off = 0
        for i, (co, ci, k) in enumerate(self.layers):
            n = co * ci * k * k
            weight = theta[:, off:off + n].reshape(b * co, ci, k, k)
            off += n
            if k > 1:
                y = F.pad(y, (k // 2,) * 4, mode="circular")
            y = F.conv2d(y, weight, groups=b)
            if i + 1 < len(self.layers):
                y = F.gelu(y)
        return y.reshape(b, c, h, w)

    def forward(self, clip):
        last = clip[:, :, -1]
        std, mean = torch.std_mean(last.detach(), dim=(2, 3), keepdim=True)
        std = std + 1e-5
        x = (last - mean) / std
        theta = self.generate(self.latent(clip))
        dt = 1.0 / self.steps
        for _ in range(self.steps):
            k1 = self.operator(x, theta)
            k2 = self.operator(x + k1 * dt / 2, theta)
            k3 = self.operator(x + k2 * dt / 2, theta)
            k4 = self.operator(x + k3 * dt, theta)
            x = x + (k1 + 2 * (k2 + k3) + k4) * dt / 6
        return x, mean, std


def normalized_mse(pred, target):
    var = target.var(dim=(-2, -1), unbiased=False)
    return (((pred - target) ** 2).mean(dim=(-2, -1)) / (var + 1e-3)).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--patch", type=int, default=8)
    args = ap.parse_args()
    if args.count:
        print(f"compact DISCO params (default config, C 11): {sum(p.numel() for p in CompactDisco().parameters())}")
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = CompactDisco(12, args.channels, args.dim, 3, args.depth, args.patch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    clip = torch.randn(args.batch, args.channels, args.frames, args.res, args.res)
    target = torch.randn(args.batch, args.channels, args.res, args.res)
    times = []
    for i in range(args.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        pred, mean, std = model(clip)
        loss = normalized_mse(pred, (target - mean) / std)
        loss.backward()
        opt.step()
        if i > 0:
            times.append(time.perf_counter() - t0)
    times.sort()
    print(f"torch disco step: median {1e3 * times[len(times) // 2]:.1f} ms over {args.steps} steps, threads {args.threads}, "
          f"shape B{args.batch} C{args.channels} T{args.frames} {args.res}^2 D{args.dim} depth {args.depth} patch {args.patch}")


if __name__ == "__main__":
    main()
