#!/usr/bin/env python3
"""The baseline of `nat bench train`: the same training loop in PyTorch on the CPU — a torchvision
ImageFolder through a DataLoader (--workers processes) with NAT's train transforms (RandomResizedCrop,
horizontal flip, RandAugment(2, 9), normalisation, RandomErasing(0.25)), batch mixup/cutmix with label
smoothing 0.1 as soft targets, and the NAT of bench/torch_model.py with AdamW, clipping at 5.0.

    torch_train.py --data DIR --model-json '{...}' --batch 8 --img-size 224 --steps 6 --warmup 2
                   --workers 1 --threads 2

Prints one JSON line: {"img_s": ..., "step_s": ..., "wait_frac": ..., "torch": version, "versions": {...}},
timing --steps updates after --warmup (wall clock, data wait included), like nat bench train. --compile runs
the model under torch.compile (AdamW eager); "compile_s" is then the warm-up updates' wall time less as many
timed updates (the compile time, apart from the step time).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_info import compile_unavailable, versions  # noqa: E402
from torch_model import NAT  # noqa: E402

import torchvision.transforms as T  # noqa: E402
from torchvision.datasets import ImageFolder  # noqa: E402


def mix(x, y, num_classes, smoothing=0.1):
    """timm-style batch mixup (alpha 0.8) or cutmix (alpha 1.0), half of the batches each."""
    off = smoothing / num_classes
    y1 = torch.full((len(y), num_classes), off).scatter_(1, y[:, None], 1 - smoothing + off)
    y2 = y1.flip(0)
    if torch.rand(1).item() < 0.5:
        lam = float(torch.distributions.Beta(0.8, 0.8).sample())
        x = x * lam + x.flip(0) * (1 - lam)
    else:
        lam = float(torch.distributions.Beta(1.0, 1.0).sample())
        H, W = x.shape[-2:]
        rh, rw = int(H * (1 - lam) ** 0.5), int(W * (1 - lam) ** 0.5)
        cy, cx = torch.randint(H, (1,)).item(), torch.randint(W, (1,)).item()
        y0, y1_, x0, x1 = max(cy - rh // 2, 0), min(cy + rh // 2, H), max(cx - rw // 2, 0), min(cx + rw // 2, W)
        x[:, :, y0:y1_, x0:x1] = x.flip(0)[:, :, y0:y1_, x0:x1]
        lam = 1 - (y1_ - y0) * (x1 - x0) / (H * W)
    return x, y1 * lam + y2 * (1 - lam)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model-json", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--img-size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--compile", action="store_true")
    a = ap.parse_args()
    info = versions()
    if a.compile:
        a.warmup = max(a.warmup, 2)  # the first update compiles the forward and backward graphs, the second may recompile
    if a.compile and compile_unavailable():
        print(json.dumps({"peer": "compile", "note": compile_unavailable(), "versions": info}), flush=True)
        return
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    tf = T.Compose([
        T.RandomResizedCrop(a.img_size, interpolation=T.InterpolationMode.BICUBIC),
        T.RandomHorizontalFlip(),
        T.RandAugment(2, 9),
        T.ToTensor(),
        T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        T.RandomErasing(0.25, value="random"),
    ])
    ds = ImageFolder(os.path.join(a.data, "train"), tf)
    loader = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, drop_last=True,
                                         num_workers=a.workers, persistent_workers=a.workers > 0)
    c = json.loads(a.model_json)
    c["num_classes"] = len(ds.classes)
    model = NAT(c).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    net = model
    if a.compile:
        with torch.no_grad():  # fills the attention layers' neighbour-index caches outside the compiled graph
            model(torch.zeros(1, 3, a.img_size, a.img_size))
        net = torch.compile(model)
    times, waits, warm, done = [], [], 0.0, 0
    while done < a.warmup + a.steps:
        t_wait = time.perf_counter()
        for x, y in loader:
            t0 = time.perf_counter()
            wait = t0 - t_wait
            x, target = mix(x, y, c["num_classes"])
            loss = torch.sum(-target * F.log_softmax(net(x), dim=-1), dim=-1).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            t_wait = time.perf_counter()
            done += 1
            if done > a.warmup:
                times.append(t_wait - t0 + wait)
                waits.append(wait)
            else:
                warm += t_wait - t0 + wait
            if done >= a.warmup + a.steps:
                break
    total = sum(times)
    row = {"peer": "compile" if a.compile else "eager", "img_s": a.batch * len(times) / total,
           "step_s": total / len(times), "wait_frac": sum(waits) / total, "torch": torch.__version__, "versions": info}
    if a.compile:
        row["compile_s"] = max(0.0, warm - a.warmup * total / len(times))
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
