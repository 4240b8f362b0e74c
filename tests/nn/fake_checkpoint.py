#!/usr/bin/env python3
"""Test helper for tests/nn/test_torch_crosscheck.cpp: writes a PyTorch checkpoint of a small NAT in the
layout official checkpoints come in ({'model': state_dict}, keys prefixed 'module.' as saved from
DistributedDataParallel), with every tensor random (no zero biases or unit norms that hide mistakes),
plus an input file with images x and labels y.

    fake_checkpoint.py --model-json '{...}' --pth ckpt.pth --io io.safetensors --batch 2 --img-size 20
"""
import argparse
import json
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import safetensors_lite  # noqa: E402
from torch_model import DEFAULTS, NAT  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-json", required=True)
    ap.add_argument("--pth", required=True)
    ap.add_argument("--io", required=True)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--img-size", type=int, default=20)
    args = ap.parse_args()
    torch.manual_seed(0)
    c = dict(DEFAULTS, **json.loads(args.model_json))
    model = NAT(c)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    sd = {"module." + k: v for k, v in model.state_dict().items()}
    torch.save({"model": sd, "epoch": 1}, args.pth)
    x = torch.randn(args.batch, c["in_chans"], args.img_size, args.img_size)
    y = torch.arange(args.batch, dtype=torch.int64) % c["num_classes"]
    safetensors_lite.save(args.io, {"x": x, "y": y})


if __name__ == "__main__":
    main()
