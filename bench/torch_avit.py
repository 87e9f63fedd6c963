#!/usr/bin/env python3
"""PyTorch twin of physrep's AViT (crates/physrep-nn/src/avit.rs) for side-by-side numbers.

Usage:
  python bench/torch_avit.py --count                 # parameter counts of AViT-Ti
  python bench/torch_avit.py --threads 1 --steps 5    # ms per MPP training step (forward, NRMSE, backward, Adam)

The shapes and defaults match `physrep bench physics-step --model mpp` (see BENCHMARKS.md, "MPP and DISCO").
Written from the MPP paper's description (McCabe et al. 2024) and docs/baselines.md §3; the module structure
follows the reference AViT so the parameter count can be compared.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSInstanceNorm2d(nn.Module):
    """x / (unbiased std over H, W + 1e-8) * weight. `with_bias` adds the reference's unused bias."""

    def __init__(self, dim, with_bias=False):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        if with_bias:
            self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        std = x.std(dim=(-2, -1), keepdim=True)
        return x / (std + 1e-8) * self.weight[None, :, None, None]


class FieldEmbedding(nn.Module):
    def __init__(self, n_states, dim_out):
        super().__init__()
        lin = nn.Linear(n_states, dim_out)
        self.weight, self.bias = lin.weight, lin.bias
        self.n_states = n_states

    def forward(self, x):  # (..., C)
        c = x.shape[-1]
        return math.sqrt(self.n_states / c) * F.linear(x, self.weight[:, :c], self.bias)


def bucket(rel, num_buckets=32, max_distance=32):
    half = num_buckets // 2
    n = -rel
    ret = (n < 0).long() * half
    n = n.abs()
    max_exact = half // 2
    large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (half - max_exact)).long()
    large = torch.clamp(large, max=half - 1)
    return ret + torch.where(n < max_exact, n, large)


class RelBias(nn.Module):
    def __init__(self, heads, buckets=32):
        super().__init__()
        self.relative_attention_bias = nn.Embedding(buckets, heads)

    def forward(self, n, periodic):
        pos = torch.arange(n)
        rel = pos[None, :] - pos[:, None]
        if periodic:
            t = n // 2
            rel = torch.where(rel < -t, rel % t, rel)
            rel = torch.where(rel > t, rel % -t, rel)
        return self.relative_attention_bias(bucket(rel)).permute(2, 0, 1)[None]


class InstanceNormAffine(nn.InstanceNorm2d):
    def __init__(self, dim):
        super().__init__(dim, affine=True)


def split_qkv(x, qnorm, knorm):
    q, k, v = x.tensor_split(3, dim=-1)
    return qnorm(q), knorm(k), v


class Temporal(nn.Module):
    def __init__(self, dim, heads, ls):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = InstanceNormAffine(dim), InstanceNormAffine(dim)
        self.gamma = nn.Parameter(ls * torch.ones(dim))
        self.input_head, self.output_head = nn.Conv2d(dim, 3 * dim, 1), nn.Conv2d(dim, dim, 1)
        self.qnorm, self.knorm = nn.LayerNorm(dim // heads), nn.LayerNorm(dim // heads)
        self.rel_pos_bias = RelBias(heads)

    def forward(self, x, t):  # (B*T, D, h, w), b-major
        bt, d, h, w = x.shape
        b, he = bt // t, self.heads
        qkv = self.input_head(self.norm1(x)).reshape(b, t, he, 3 * d // he, h * w).permute(0, 4, 2, 1, 3)
        q, k, v = split_qkv(qkv.reshape(b * h * w, he, t, 3 * d // he), self.qnorm, self.knorm)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=self.rel_pos_bias(t, False))
        a = a.reshape(b, h * w, he, t, d // he).permute(0, 3, 2, 4, 1).reshape(bt, d, h, w)
        return self.output_head(self.norm2(a)) * self.gamma[None, :, None, None] + x


class Axial(nn.Module):
    def __init__(self, dim, heads, ls, with_bias):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = RMSInstanceNorm2d(dim, with_bias), RMSInstanceNorm2d(dim, with_bias)
        self.gamma_att = nn.Parameter(ls * torch.ones(dim))
        self.gamma_mlp = nn.Parameter(ls * torch.ones(dim))
        self.input_head, self.output_head = nn.Conv2d(dim, 3 * dim, 1), nn.Conv2d(dim, dim, 1)
        self.qnorm, self.knorm = nn.LayerNorm(dim // heads), nn.LayerNorm(dim // heads)
        self.rel_pos_bias = RelBias(heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.mlp_norm = RMSInstanceNorm2d(dim, with_bias)

    def forward(self, x, periodic=(True, True)):
        n, d, h, w = x.shape
        he, hd = self.heads, d // self.heads
        qkv = self.input_head(self.norm1(x)).reshape(n, he, 3 * hd, h, w).permute(0, 1, 3, 4, 2)
        q, k, v = split_qkv(qkv, self.qnorm, self.knorm)
        tx = lambda t: t.permute(0, 2, 1, 3, 4).reshape(n * h, he, w, hd)
        xx = F.scaled_dot_product_attention(tx(q), tx(k), tx(v), attn_mask=self.rel_pos_bias(w, periodic[0]))
        xx = xx.reshape(n, h, he, w, hd).permute(0, 2, 4, 1, 3).reshape(n, d, h, w)
        ty = lambda t: t.permute(0, 3, 1, 2, 4).reshape(n * w, he, h, hd)
        xy = F.scaled_dot_product_attention(ty(q), ty(k), ty(v), attn_mask=self.rel_pos_bias(h, periodic[1]))
        xy = xy.reshape(n, w, he, h, hd).permute(0, 2, 4, 3, 1).reshape(n, d, h, w)
        x = self.output_head(self.norm2((xx + xy) / 2)) * self.gamma_att[None, :, None, None] + x
        m = self.mlp(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.mlp_norm(m) * self.gamma_mlp[None, :, None, None] + x


class Block(nn.Module):
    def __init__(self, dim, heads, ls, with_bias):
        super().__init__()
        self.temporal, self.spatial = Temporal(dim, heads, ls), Axial(dim, heads, ls, with_bias)

    def forward(self, x, t):
        return self.spatial(self.temporal(x, t))


class Trunk(nn.Module):
    def __init__(self, n_states=12, dim=192, heads=3, blocks=12, patch=16, ls=1e-6, with_bias=False):
        super().__init__()
        d4, k = dim // 4, patch // 4
        self.space_bag = FieldEmbedding(n_states, d4)
        self.embed = nn.Sequential(
            nn.Conv2d(d4, d4, k, k, bias=False), RMSInstanceNorm2d(d4, with_bias), nn.GELU(),
            nn.Conv2d(d4, d4, 2, 2, bias=False), RMSInstanceNorm2d(d4, with_bias), nn.GELU(),
            nn.Conv2d(d4, dim, 2, 2, bias=False), RMSInstanceNorm2d(dim, with_bias))
        self.blocks = nn.ModuleList([Block(dim, heads, ls, with_bias) for _ in range(blocks)])

    def forward(self, clip):  # (B, C, T, H, W) -> tokens (B*T, D, h, w), mean, std
        b, c, t, h, w = clip.shape
        with torch.no_grad():
            std, mean = torch.std_mean(clip, dim=(2, 3, 4), keepdim=True)
            std = std + 1e-7
        x = (clip - mean) / std
        x = self.space_bag(x.permute(0, 2, 3, 4, 1))  # (B, T, H, W, D/4)
        x = self.embed(x.permute(0, 1, 4, 2, 3).reshape(b * t, -1, h, w))
        for blk in self.blocks:
            x = blk(x, t)
        return x, mean, std


class Avit(nn.Module):
    def __init__(self, n_states=12, dim=192, heads=3, blocks=12, patch=16, with_bias=False):
        super().__init__()
        d4, k = dim // 4, patch // 4
        self.trunk = Trunk(n_states, dim, heads, blocks, patch, with_bias=with_bias)
        self.out_proj = nn.Sequential(
            nn.ConvTranspose2d(dim, d4, 2, 2, bias=False), RMSInstanceNorm2d(d4, with_bias), nn.GELU(),
            nn.ConvTranspose2d(d4, d4, 2, 2, bias=False), RMSInstanceNorm2d(d4, with_bias), nn.GELU())
        head = nn.ConvTranspose2d(d4, n_states, k, k)
        self.out_kernel, self.out_bias = head.weight, head.bias
        self.k = k

    def forward(self, clip):
        b, c, t = clip.shape[:3]
        tokens, mean, std = self.trunk(clip)
        last = tokens.reshape(b, t, *tokens.shape[1:])[:, -1]
        y = F.conv_transpose2d(self.out_proj(last), self.out_kernel[:, :c], self.out_bias[:c], stride=self.k)
        return y * std[:, :, 0] + mean[:, :, 0]


def nrmse_loss(pred, target):
    return ((pred - target) ** 2).mean(dim=(-2, -1)).div(1e-7 + (target ** 2).mean(dim=(-2, -1))).mean()


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
    ap.add_argument("--heads", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=12)
    ap.add_argument("--patch", type=int, default=8)
    args = ap.parse_args()
    if args.count:
        for with_bias in (False, True):
            n = sum(p.numel() for p in Avit(with_bias=with_bias).parameters())
            print(f"AViT-Ti params ({'with' if with_bias else 'without'} the unused RMS-norm biases): {n}")
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Avit(12, args.dim, args.heads, args.blocks, args.patch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    clip = torch.randn(args.batch, args.channels, args.frames, args.res, args.res)
    target = torch.randn(args.batch, args.channels, args.res, args.res)
    times = []
    for i in range(args.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = nrmse_loss(model(clip), target)
        loss.backward()
        opt.step()
        if i > 0:  # the first step warms up
            times.append(time.perf_counter() - t0)
    times.sort()
    print(f"torch mpp step: median {1e3 * times[len(times) // 2]:.1f} ms over {args.steps} steps, threads {args.threads}, "
          f"shape B{args.batch} C{args.channels} T{args.frames} {args.res}^2 D{args.dim} blocks {args.blocks} patch {args.patch}")


if __name__ == "__main__":
    main()
