#!/usr/bin/env python3
"""Pure-PyTorch Neighborhood Attention, timed on the CPU: the baseline `nat bench na` compares against.

This is what a CPU user without NATTEN writes: gather each query's k x k neighbourhood with index
tensors (windows shifted inward at the borders, as in NAT), then einsum / softmax / einsum, with
PyTorch autograd for the backward pass. Prints one JSON object per line:
  {"stage": 0, "fwd_ms": ..., "fwdbwd_ms": ...}
"""
import argparse
import json
import time

import torch


def window_start(i, L, k, d):
    r, ip = i % d, i // d
    Lr = (L - r + d - 1) // d
    s = min(max(ip - k // 2, 0), Lr - k)
    return r + d * s


def neighbour_index(H, W, k, d):
    """[H*W, k*k] token indices and [H*W, k*k] flat rpb indices."""
    idx, rpb = [], []
    R = 2 * k - 1
    for i in range(H):
        si = window_start(i, H, k, d)
        for j in range(W):
            sj = window_start(j, W, k, d)
            row, rrow = [], []
            for a in range(k):
                for b in range(k):
                    y, x = si + a * d, sj + b * d
                    row.append(y * W + x)
                    rrow.append((k - 1 + (y - i) // d) * R + (k - 1 + (x - j) // d))
            idx.append(row)
            rpb.append(rrow)
    return torch.tensor(idx), torch.tensor(rpb)


def na2d(q, k, v, rpb, nb, rpb_idx):
    B, h, H, W, C = q.shape
    N = H * W
    q = q.reshape(B, h, N, C) * C ** -0.5
    kn = k.reshape(B, h, N, C)[:, :, nb]  # [B, h, N, kk, C]
    vn = v.reshape(B, h, N, C)[:, :, nb]
    attn = torch.einsum("bhnc,bhnkc->bhnk", q, kn) + rpb.reshape(h, -1)[:, rpb_idx]
    attn = attn.softmax(dim=-1)
    return torch.einsum("bhnk,bhnkc->bhnc", attn, vn).reshape(B, h, H, W, C)


CLOCK = time.perf_counter


def timeit(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = CLOCK()
        fn()
        ts.append(CLOCK() - t0)
    ts.sort()
    return 1000 * ts[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--kernel-size", type=int, default=7)
    ap.add_argument("--stages", default="0,1,2,3")
    ap.add_argument("--cpu-time", action="store_true", help="process CPU time instead of wall time")
    args = ap.parse_args()
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shapes = [(2, 56), (4, 28), (8, 14), (16, 7)]  # NAT-Tiny: heads, map size; head_dim 32
    for s in [int(x) for x in args.stages.split(",")]:
        heads, L = shapes[s]
        k = args.kernel_size
        q, kk, v = (torch.randn(args.batch, heads, L, L, 32) for _ in range(3))
        rpb = torch.randn(heads, 2 * k - 1, 2 * k - 1) * 0.02
        nb, ridx = neighbour_index(L, L, k, 1)
        with torch.no_grad():
            fwd = timeit(lambda: na2d(q, kk, v, rpb, nb, ridx), 1, args.reps)
        leaves = [t.clone().requires_grad_() for t in (q, kk, v, rpb)]
        dout = torch.randn_like(q)

        def step():
            out = na2d(*leaves, nb, ridx)
            out.backward(dout)

        fb = timeit(step, 1, args.reps)
        print(json.dumps({"stage": s, "fwd_ms": fwd, "fwdbwd_ms": fb, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
