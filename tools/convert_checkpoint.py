#!/usr/bin/env python3
"""Convert an official NAT / DiNAT PyTorch checkpoint (.pth) to safetensors for nat.cpp.

    /usr/bin/python3 tools/convert_checkpoint.py nat_mini.pth nat_mini.safetensors [--model nat_mini]
        [--nat build/app/nat] [--dtype f32]

Accepts a bare state dict or one nested under 'model', 'state_dict' or 'state_dict_ema'; strips a leading
'module.' (DistributedDataParallel). Keys are kept exactly (nat.cpp uses the official names). With --model
the key list and every shape are checked against `nat info --model NAME --keys` before anything is written.
Needs only Debian's python3-torch (the safetensors format is written by tools/safetensors_lite.py).
"""
import argparse
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_lite  # noqa: E402


def extract_state_dict(obj):
    for key in ("model", "state_dict", "state_dict_ema", "model_ema"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            return obj[key]
    if isinstance(obj, dict) and all(torch.is_tensor(v) for v in obj.values()):
        return obj
    raise SystemExit("could not find a state dict (tried the top level and 'model', 'state_dict', 'state_dict_ema')")


def expected_keys(nat, model):
    """{name: shape} from `nat info --model NAME --keys`."""
    out = subprocess.run([nat, "info", "--model", model, "--keys"], check=True, capture_output=True, text=True).stdout
    lines = out.split("\nstate dict:", 1)[1].splitlines()[1:]
    keys = {}
    for line in lines:
        if not line.strip():
            continue
        name, shape = line.split(" ", 1)
        keys[name] = [int(s) for s in shape.strip("[]").split(",") if s.strip()]
    return keys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="official .pth checkpoint")
    ap.add_argument("output", help=".safetensors file to write")
    ap.add_argument("--model", help="registry name (nat_mini ... dinat_base) to check keys and shapes against")
    ap.add_argument("--nat", default=None, help="path of the nat executable (default: build*/app/nat)")
    ap.add_argument("--dtype", default="f32", choices=["f32", "keep"], help="convert floating tensors to f32")
    args = ap.parse_args()

    obj = torch.load(args.input, map_location="cpu")
    sd = extract_state_dict(obj)
    tensors = {}
    for k, v in sd.items():
        k = k[len("module."):] if k.startswith("module.") else k
        if args.dtype == "f32" and v.is_floating_point():
            v = v.float()
        tensors[k] = v

    if args.model:
        nat = args.nat
        if nat is None:
            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            for cand in ("build/app/nat", "build-release/app/nat", "build-nn/app/nat"):
                if os.path.exists(os.path.join(root, cand)):
                    nat = os.path.join(root, cand)
                    break
        if nat is None:
            raise SystemExit("--model needs the nat executable: pass --nat PATH")
        want = expected_keys(nat, args.model)
        missing = sorted(set(want) - set(tensors))
        unexpected = sorted(set(tensors) - set(want))
        shapes = [f"{k}: checkpoint {list(tensors[k].shape)}, nat {want[k]}" for k in want
                  if k in tensors and list(tensors[k].shape) != want[k]]
        if missing or unexpected or shapes:
            for title, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes)):
                for item in items[:20]:
                    print(f"{title}: {item}", file=sys.stderr)
            raise SystemExit(f"{args.input} does not match {args.model}: {len(missing)} missing, "
                             f"{len(unexpected)} unexpected, {len(shapes)} mis-shaped keys")
        tensors = {k: tensors[k] for k in want}  # nat.cpp's order

    meta = {"source": os.path.basename(args.input), "format": "pt"}
    if args.model:
        meta["model"] = args.model
    safetensors_lite.save(args.output, tensors, meta)
    n = sum(t.numel() for t in tensors.values())
    print(f"wrote {args.output}: {len(tensors)} tensors, {n:,} parameters")


if __name__ == "__main__":
    main()
