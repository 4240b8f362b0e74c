#!/usr/bin/env python3
"""NAT in pure PyTorch (neighbourhood attention by index gather, as bench/torch_na.py), with the official
module names, for two jobs:

  timing (what `nat bench model` runs):
      torch_model.py --model-json '{...}' --batch 8 --img-size 224 --threads 2 --reps 3 [--cpu-time] [--compile]
    prints JSON lines with "fwd_ms" (forward in eval mode under no_grad) and "train_ms" (a training step:
    train mode, cross-entropy, backward, torch.optim.AdamW, zero_grad), and "versions" (bench/peer_info.py).
    --compile runs the model through torch.compile (AdamW stays eager, as most users run it) and adds
    "fwd_compile_s" / "train_compile_s": the compile time in wall seconds, apart from the step time. The
    forward line comes first, so a time limit on a long training-step compile keeps it.

  cross-checking `nat forward` output:
      nat forward --model M --input io.safetensors --output nat.safetensors --save-weights w.safetensors --labels
      torch_model.py --check --weights w.safetensors --input io.safetensors --nat-output nat.safetensors [--f64]
    loads the same weights, recomputes logits, loss and every parameter gradient, prints the largest
    differences and exits 1 when they exceed the tolerances.

The model config is nat.cpp's NatConfig JSON (NatConfig::to_json, also stored in the files' metadata).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
from peer_info import compile_unavailable, time_compiled, versions  # noqa: E402
from torch_na import na2d, neighbour_index  # noqa: E402


class DropPath(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = 1 - self.p
        mask = torch.floor(keep + torch.rand(x.shape[0], *([1] * (x.dim() - 1)), dtype=x.dtype))
        return x * mask / keep


class NeighborhoodAttention2D(nn.Module):
    """qkv -> NA (q scaled by hd^-0.5, rpb added unscaled) -> proj; zero-pads bottom/right below k*d."""

    def __init__(self, dim, heads, k, d):
        super().__init__()
        self.heads, self.k, self.d, self.hd = heads, k, d, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.rpb = nn.Parameter(torch.zeros(heads, 2 * k - 1, 2 * k - 1))
        self.proj = nn.Linear(dim, dim)
        self.index = {}

    def forward(self, x):
        B, H, W, C = x.shape
        Hp, Wp = max(H, self.k * self.d), max(W, self.k * self.d)
        if (Hp, Wp) != (H, W):
            x = F.pad(x, (0, 0, 0, Wp - W, 0, Hp - H))
        if (Hp, Wp) not in self.index:
            self.index[(Hp, Wp)] = neighbour_index(Hp, Wp, self.k, self.d)
        nb, ridx = self.index[(Hp, Wp)]
        qkv = self.qkv(x).reshape(B, Hp, Wp, 3, self.heads, self.hd).permute(3, 0, 4, 1, 2, 5)
        out = na2d(qkv[0], qkv[1], qkv[2], self.rpb, nb, ridx)
        out = out.permute(0, 2, 3, 1, 4).reshape(B, Hp, Wp, C)[:, :H, :W]
        return self.proj(out)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class NATLayer(nn.Module):
    def __init__(self, dim, heads, k, d, mlp_ratio, drop_path, layer_scale):
        super().__init__()
        if layer_scale is not None:
            self.gamma1 = nn.Parameter(layer_scale * torch.ones(dim))
            self.gamma2 = nn.Parameter(layer_scale * torch.ones(dim))
        self.layer_scale = layer_scale is not None
        self.norm1 = nn.LayerNorm(dim)
        self.attn = NeighborhoodAttention2D(dim, heads, k, d)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        a = self.attn(self.norm1(x))
        x = x + self.drop_path(self.gamma1 * a if self.layer_scale else a)
        m = self.mlp(self.norm2(x))
        return x + self.drop_path(self.gamma2 * m if self.layer_scale else m)


class ConvTokenizer(nn.Module):
    def __init__(self, in_chans, dim):
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(in_chans, dim // 2, 3, 2, 1), nn.Conv2d(dim // 2, dim, 3, 2, 1))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class ConvDownsampler(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.reduction = nn.Conv2d(dim, 2 * dim, 3, 2, 1, bias=False)
        self.norm = nn.LayerNorm(2 * dim)

    def forward(self, x):
        return self.norm(self.reduction(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


class NATBlock(nn.Module):
    def __init__(self, layers, downsample):
        super().__init__()
        self.blocks = nn.ModuleList(layers)
        self.downsample = downsample

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x if self.downsample is None else self.downsample(x)


# nat.cpp's NatConfig defaults, for JSON specs that list only some fields (registry names are not resolved here).
DEFAULTS = {"embed_dim": 64, "depths": [3, 4, 6, 5], "num_heads": [2, 4, 8, 16], "kernel_size": 7, "dilations": None,
            "mlp_ratio": 3.0, "drop_path_rate": 0.2, "layer_scale": None, "in_chans": 3, "num_classes": 1000}


class NAT(nn.Module):
    def __init__(self, config):
        super().__init__()
        c = dict(DEFAULTS, **config)
        if "base" in c:
            raise ValueError("torch_model.py needs a full config, not {'base': ...}: use NatConfig::to_json()")
        C, depths = c["embed_dim"], c["depths"]
        self.patch_embed = ConvTokenizer(c["in_chans"], C)
        n = sum(depths)
        dpr = [c["drop_path_rate"] * i / (n - 1) if n > 1 else 0.0 for i in range(n)]
        self.levels = nn.ModuleList()
        j0 = 0
        for i, depth in enumerate(depths):
            dil = c["dilations"][i] if c.get("dilations") else [1] * depth
            layers = [NATLayer(C << i, c["num_heads"][i], c["kernel_size"], dil[j], c["mlp_ratio"], dpr[j0 + j],
                               c.get("layer_scale")) for j in range(depth)]
            j0 += depth
            self.levels.append(NATBlock(layers, ConvDownsampler(C << i) if i + 1 < len(depths) else None))
        F_ = C << (len(depths) - 1)
        self.norm = nn.LayerNorm(F_)
        self.head = nn.Linear(F_, c["num_classes"]) if c["num_classes"] > 0 else nn.Identity()

    def forward(self, x):
        x = self.patch_embed(x)
        for level in self.levels:
            x = level(x)
        return self.head(self.norm(x).mean(dim=(1, 2)))


def median_ms(fn, reps, clock):
    fn()
    ts = []
    for _ in range(reps):
        t0 = clock()
        fn()
        ts.append(clock() - t0)
    ts.sort()
    return 1000 * ts[len(ts) // 2]


def bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    c = json.loads(args.model_json)
    model = NAT(c)
    x = torch.randn(args.batch, c["in_chans"], args.img_size, args.img_size)
    y = torch.tensor([(i * 7919) % max(c["num_classes"], 1) for i in range(args.batch)])
    clock = time.process_time if args.cpu_time else time.perf_counter
    model.eval()

    def fwd():
        with torch.no_grad():
            model(x)

    info = versions()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    if not args.compile:
        fwd_ms = median_ms(fwd, args.reps, clock)
        model.train()

        def step():
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        train_ms = median_ms(step, args.reps, clock)
        print(json.dumps({"peer": "eager", "fwd_ms": fwd_ms, "train_ms": train_ms, "torch": torch.__version__,
                          "versions": info}), flush=True)
        return
    reason = compile_unavailable()
    if reason:
        print(json.dumps({"peer": "compile", "note": reason, "versions": info}), flush=True)
        return
    # One eager forward first fills each attention layer's neighbour-index cache (Python loops that
    # torch.compile would otherwise trace); the compiled model then sees only tensor code.
    fwd()
    cmodel = torch.compile(model)

    def cfwd():
        with torch.no_grad():
            cmodel(x)

    fwd_ms, fwd_c = time_compiled(cfwd, args.reps, clock)
    print(json.dumps({"peer": "compile", "fwd_ms": fwd_ms, "fwd_compile_s": fwd_c, "versions": info}), flush=True)
    model.train()

    def cstep():
        loss = F.cross_entropy(cmodel(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    train_ms, train_c = time_compiled(cstep, args.reps, clock)
    print(json.dumps({"peer": "compile", "train_ms": train_ms, "train_compile_s": train_c, "versions": info}),
          flush=True)


def check(args):
    import safetensors_lite

    weights, wmeta = safetensors_lite.load(args.weights)
    io, _ = safetensors_lite.load(args.input)
    ref, rmeta = safetensors_lite.load(args.nat_output)
    c = json.loads(rmeta.get("model") or wmeta["model"])
    dtype = torch.float64 if args.f64 else torch.float32
    model = NAT(c).to(dtype)
    model.load_state_dict({k: v.to(dtype) for k, v in weights.items()}, strict=True)
    model.eval()
    x = io["x"].to(dtype).requires_grad_(False)
    logits = model(x)
    results = {"logits": (logits, ref["logits"])}
    if "y" in io and "loss" in ref:
        loss = F.cross_entropy(logits, io["y"])
        loss.backward()
        results["loss"] = (loss, ref["loss"])
        for name, p in model.named_parameters():
            results["grad." + name] = (p.grad if p.grad is not None else torch.zeros_like(p), ref["grad." + name])
    worst, failed = 0.0, []
    for name, (mine, theirs) in results.items():
        mine, theirs = mine.detach().double(), theirs.double()
        scale = max(theirs.abs().max().item(), 1e-12)
        err = (mine - theirs).abs().max().item() / scale if mine.numel() else 0.0
        worst = max(worst, err)
        if err > args.rtol:
            failed.append(f"{name}: max |diff| / max |ref| = {err:.3e}")
    print(f"compared {len(results)} tensors ({'f64' if args.f64 else 'f32'}): worst relative difference {worst:.3e}")
    for f in failed[:20]:
        print("  MISMATCH " + f)
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-json")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cpu-time", action="store_true")
    ap.add_argument("--compile", action="store_true", help="time the model under torch.compile")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--weights")
    ap.add_argument("--input")
    ap.add_argument("--nat-output")
    ap.add_argument("--f64", action="store_true")
    ap.add_argument("--rtol", type=float, default=None)
    args = ap.parse_args()
    if args.check:
        if args.rtol is None:
            args.rtol = 1e-9 if args.f64 else 2e-3
        sys.exit(check(args))
    bench(args)


if __name__ == "__main__":
    main()
