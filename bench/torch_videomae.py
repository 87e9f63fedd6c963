"""PyTorch twin of physrep's VideoMAE (crates/physrep-nn/src/videomae.rs).

Written from the VideoMAE paper (Tong et al., 2022) and MCG-NJU/VideoMAE's module structure
(modeling_pretrain.py / modeling_finetune.py / engine_for_pretraining.py), with the same parameter
names, so that a state dict saved here loads into physrep unchanged. Plain torch, no timm.

Two uses:
  fixture: python bench/torch_videomae.py fixture crates/physrep-nn/tests/fixtures/videomae_parity.safetensors
      tiny weights (randomised, all non-trivial), an input clip, a mask, and the expected patch
      embedding, block-0 output, encoder output on the visible tokens, decoder prediction, loss and
      the loss gradients of a few parameters.
  bench:   python bench/torch_videomae.py bench --threads 2 [--size tiny|small] [--img 64] [--batch 2]
      median wall time of one training step (forward, backward, AdamW update).
"""

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def sinusoid_table(n, d):
    """(1, n, d): sin (even j) / cos (odd j) of pos / 10000^(2 floor(j/2) / d), float64 then float32."""
    pos = np.arange(n, dtype=np.float64)[:, None]
    j = np.arange(d)
    table = pos / np.power(10000, 2 * (j // 2) / d)
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.tensor(table, dtype=torch.float32).unsqueeze(0)


class PatchEmbed(nn.Module):
    def __init__(self, in_chans, dim, tubelet, patch):
        super().__init__()
        self.proj = nn.Conv3d(in_chans, dim, kernel_size=(tubelet, patch, patch), stride=(tubelet, patch, patch))

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias, requires_grad=False), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.patch_embed = PatchEmbed(cfg["in_chans"], cfg["embed_dim"], cfg["tubelet_size"], cfg["patch_size"])
        n = (cfg["num_frames"] // cfg["tubelet_size"]) * (cfg["img_size"] // cfg["patch_size"]) ** 2
        self.register_buffer("pos_embed", sinusoid_table(n, cfg["embed_dim"]), persistent=False)
        self.blocks = nn.ModuleList(
            [Block(cfg["embed_dim"], cfg["num_heads"], cfg["mlp_ratio"], 1e-6) for _ in range(cfg["depth"])]
        )
        self.norm = nn.LayerNorm(cfg["embed_dim"], eps=1e-6)

    def embed(self, x):
        return self.patch_embed(x) + self.pos_embed

    def forward(self, x, mask):
        x = self.embed(x)
        b, _, d = x.shape
        x = x[~mask].reshape(b, -1, d)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["decoder_embed_dim"]
        self.blocks = nn.ModuleList(
            [Block(d, cfg["decoder_num_heads"], cfg["mlp_ratio"], 1e-6) for _ in range(cfg["decoder_depth"])]
        )
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, cfg["in_chans"] * cfg["tubelet_size"] * cfg["patch_size"] ** 2)

    def forward(self, x, n_mask):
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x[:, -n_mask:]))


class VideoMAE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.encoder_to_decoder = nn.Linear(cfg["embed_dim"], cfg["decoder_embed_dim"], bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg["decoder_embed_dim"]))
        n = self.encoder.pos_embed.shape[1]
        self.register_buffer("pos_embed", sinusoid_table(n, cfg["decoder_embed_dim"]), persistent=False)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, x, mask):
        x_vis = self.encoder_to_decoder(self.encoder(x, mask))
        b, _, d = x_vis.shape
        pos = self.pos_embed.expand(b, -1, -1)
        pos_vis = pos[~mask].reshape(b, -1, d)
        pos_mask = pos[mask].reshape(b, -1, d)
        full = torch.cat([x_vis + pos_vis, self.mask_token + pos_mask], dim=1)
        return self.decoder(full, pos_mask.shape[1])

    def targets(self, x, mask):
        """Per-patch (per channel) normalised targets of the masked tokens, (B, N_mask, tubelet*p*p*C)."""
        b, c, t, h, w = x.shape
        tt, p = self.cfg["tubelet_size"], self.cfg["patch_size"]
        v = x.reshape(b, c, t // tt, tt, h // p, p, w // p, p).permute(0, 2, 4, 6, 3, 5, 7, 1)
        v = v.reshape(b, -1, tt * p * p, c)
        v = (v - v.mean(dim=-2, keepdim=True)) / (v.var(dim=-2, unbiased=True, keepdim=True).sqrt() + 1e-6)
        v = v.reshape(b, v.shape[1], -1)
        return v[mask].reshape(b, -1, v.shape[-1])

    def loss(self, x, mask):
        with torch.no_grad():
            target = self.targets(x, mask)
        return F.mse_loss(self(x, mask), target)


def tube_mask(batch, slices, spatial, ratio, gen):
    masked = int(ratio * spatial)
    rows = []
    for _ in range(batch):
        flags = torch.zeros(spatial, dtype=torch.bool)
        flags[torch.randperm(spatial, generator=gen)[:masked]] = True
        rows.append(flags.repeat(slices))
    return torch.stack(rows)


TINY = dict(in_chans=2, num_frames=4, img_size=12, patch_size=4, tubelet_size=2, embed_dim=16, depth=2,
            num_heads=2, mlp_ratio=4.0, decoder_embed_dim=8, decoder_depth=1, decoder_num_heads=2, mask_ratio=0.5)


# Parameters whose loss gradients the fixture records (one per kind of layer on the backward path).
GRAD_PARAMS = ["encoder.patch_embed.proj.weight", "encoder.blocks.0.attn.q_bias", "encoder.blocks.1.attn.qkv.weight",
               "encoder.norm.weight", "encoder_to_decoder.weight", "mask_token", "decoder.head.bias"]


def fixture(path):
    from safetensors.torch import save_file

    torch.manual_seed(1234)
    cfg = TINY
    model = VideoMAE(cfg)
    with torch.no_grad():  # make every parameter non-trivial (biases, LayerNorm affine, q/v biases)
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    gen = torch.Generator().manual_seed(99)
    x = torch.randn(2, cfg["in_chans"], cfg["num_frames"], cfg["img_size"], cfg["img_size"], generator=gen)
    slices = cfg["num_frames"] // cfg["tubelet_size"]
    spatial = (cfg["img_size"] // cfg["patch_size"]) ** 2
    mask = tube_mask(2, slices, spatial, cfg["mask_ratio"], gen)
    with torch.no_grad():
        patch = model.encoder.patch_embed(x)
        block0 = model.encoder.blocks[0](model.encoder.embed(x))
        enc_vis = model.encoder(x, mask)
        pred = model(x, mask)
        target = model.targets(x, mask)
        loss = model.loss(x, mask)
    model.loss(x, mask).backward()
    grads = {f"fixture.grad.{name}": model.get_parameter(name).grad for name in GRAD_PARAMS}
    tensors = dict(model.state_dict())
    tensors.update(grads)
    tensors.update({
        "fixture.clip": x, "fixture.mask": mask.to(torch.float32), "fixture.patch_embed": patch,
        "fixture.block0": block0, "fixture.encoder_visible": enc_vis, "fixture.pred": pred,
        "fixture.target": target, "fixture.loss": loss.reshape(1),
    })
    save_file({k: v.contiguous() for k, v in tensors.items()}, path)
    print(f"wrote {path}: loss {loss.item():.6f}, {sum(v.numel() for v in tensors.values())} values")


SIZES = {"tiny": dict(embed_dim=192, depth=12, num_heads=3), "small": dict(embed_dim=384, depth=12, num_heads=6)}


def bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = dict(in_chans=args.chans, num_frames=16, img_size=args.img, patch_size=16, tubelet_size=2,
               mlp_ratio=4.0, decoder_embed_dim=192, decoder_depth=4, decoder_num_heads=3, mask_ratio=0.9,
               **SIZES[args.size])
    model = VideoMAE(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05)
    x = torch.randn(args.batch, cfg["in_chans"], 16, args.img, args.img)
    slices, spatial = 8, (args.img // 16) ** 2
    gen = torch.Generator().manual_seed(0)
    times = []  # per timed step: (total, forward, backward, optimiser) seconds
    for i in range(args.warmup + args.steps):
        mask = tube_mask(args.batch, slices, spatial, cfg["mask_ratio"], gen)
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = model.loss(x, mask)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if i >= args.warmup:
            times.append((t3 - t0, t1 - t0, t2 - t1, t3 - t2))
    med = [statistics.median(t[k] for t in times) * 1e3 for k in range(4)]
    print(f"torch {torch.__version__} threads={args.threads} size={args.size} C={args.chans} img={args.img} "
          f"batch={args.batch}: median step {med[0]:.1f} ms over {args.steps} (forward {med[1]:.1f}, "
          f"backward {med[2]:.1f}, AdamW {med[3]:.1f}; loss {loss.item():.4f})")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixture")
    f.add_argument("path")
    b = sub.add_parser("bench")
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--size", choices=list(SIZES), default="small")
    b.add_argument("--chans", type=int, default=4)
    b.add_argument("--img", type=int, default=64)
    b.add_argument("--batch", type=int, default=2)
    b.add_argument("--steps", type=int, default=5)
    b.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    if args.cmd == "fixture":
        fixture(args.path)
    else:
        bench(args)


if __name__ == "__main__":
    main()
