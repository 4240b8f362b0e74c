#!/usr/bin/env python3
"""Neighborhood Attention peers of `nat bench na`, timed on the CPU at NAT-Tiny's four stage shapes.

--peer eager (default): what a CPU user without NATTEN writes: gather each query's k x k neighbourhood with
  index tensors (windows shifted inward at the borders, as in NAT), then einsum / softmax / einsum, with
  PyTorch autograd for the backward pass.
--peer compile: the same function under torch.compile (PyTorch 2), compiled afresh per stage; the compile
  time (wall seconds) is reported apart from the step time.
--peer natten: NATTEN's own na2d on the CPU (NATTEN 0.20+: its Flex Attention backend), on the same q, k, v
  without the relative position bias, which NATTEN 0.20+ no longer has; whatever it cannot do (backward,
  compiling) is reported in "note" with NATTEN's error, never estimated.
Prints one JSON object per line and measurement, e.g.
  {"stage": 0, "peer": "eager", "fwd_ms": ..., "fwdbwd_ms": ..., "versions": {...}}
(a stage may come in several lines, forward first: nat merges them, and keeps what a time limit left).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_info import compile_unavailable, time_compiled, versions  # noqa: E402


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


def first_line(e):
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300]


def run_natten(q, k, v, dout, kernel, reps):
    """NATTEN's na2d on these [B, heads, H, W, C] tensors (NATTEN wants [B, H, W, heads, C]), no rpb. Yields
    one dict per thing tried: what ran, with its time, or what NATTEN refused, with its error."""
    try:
        import natten
    except Exception as e:  # noqa: BLE001 - any import failure is reported as it is
        yield {"note": "natten does not import: " + first_line(e)}
        return
    ql, kl, vl = (t.permute(0, 2, 3, 1, 4).contiguous() for t in (q, k, v))
    whole = q.shape[2] <= kernel and q.shape[3] <= kernel
    what = "Flex backend, no rpb (NATTEN 0.20+ has none)" + (
        "; the window covers the map, so NATTEN runs plain self-attention (its FMHA path)" if whole else "")
    try:
        t0 = time.perf_counter()
        with torch.no_grad():
            natten.na2d(ql, kl, vl, kernel_size=kernel)  # builds and caches the Flex block mask for this shape
        setup = time.perf_counter() - t0
        with torch.no_grad():
            fwd = timeit(lambda: natten.na2d(ql, kl, vl, kernel_size=kernel), 0, reps)
        yield {"fwd_ms": fwd, "setup_s": setup, "note": what}
    except Exception as e:  # noqa: BLE001
        yield {"note": "forward failed: " + first_line(e)}
        return
    leaves = [t.clone().requires_grad_() for t in (ql, kl, vl)]
    try:
        natten.na2d(*leaves, kernel_size=kernel).backward(dout.permute(0, 2, 3, 1, 4).contiguous())
        yield {"fwdbwd_ms": timeit(
            lambda: natten.na2d(*leaves, kernel_size=kernel).backward(dout.permute(0, 2, 3, 1, 4).contiguous()),
            0, reps)}
    except Exception as e:  # noqa: BLE001
        yield {"note_bwd": "no backward: " + first_line(e).split(". ")[0]}
    if whole:
        return
    try:
        with torch.no_grad():
            natten.na2d(ql, kl, vl, kernel_size=kernel, torch_compile=True)
        yield {"note_compile": "torch_compile=True ran (not timed)"}
    except Exception as e:  # noqa: BLE001
        why = first_line(e)
        try:  # NATTEN's own check says why it refused, where the dispatcher only says "no suitable backend"
            from natten.backends.configs.checks import can_run_flex_attention

            can_run_flex_attention(ql, kl, vl, torch_compile=True, raise_error=True)
        except Exception as e2:  # noqa: BLE001
            why = first_line(e2)
        yield {"note_compile": "no torch_compile=True: " + why}


def emit(row):
    print(json.dumps(row), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--kernel-size", type=int, default=7)
    ap.add_argument("--stages", default="0,1,2,3")
    ap.add_argument("--peer", choices=("eager", "compile", "natten"), default="eager")
    ap.add_argument("--cpu-time", action="store_true", help="process CPU time instead of wall time")
    args = ap.parse_args()
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    info = versions()
    names = {"eager": "PyTorch eager (gather + einsum)", "compile": "torch.compile (gather + einsum)",
             "natten": "NATTEN na2d (no rpb)"}
    shapes = [(2, 56), (4, 28), (8, 14), (16, 7)]  # NAT-Tiny: heads, map size; head_dim 32
    for s in [int(x) for x in args.stages.split(",")]:
        heads, L = shapes[s]
        k = args.kernel_size
        q, kk, v = (torch.randn(args.batch, heads, L, L, 32) for _ in range(3))
        rpb = torch.randn(heads, 2 * k - 1, 2 * k - 1) * 0.02
        dout = torch.randn_like(q)
        row = {"stage": s, "peer": args.peer, "name": names[args.peer], "versions": info}
        if args.peer == "natten":
            for r in run_natten(q, kk, v, dout, k, args.reps):
                emit(dict(row, **r))
            continue
        nb, ridx = neighbour_index(L, L, k, 1)
        leaves = [t.clone().requires_grad_() for t in (q, kk, v, rpb)]
        if args.peer == "eager":
            with torch.no_grad():
                emit(dict(row, fwd_ms=timeit(lambda: na2d(q, kk, v, rpb, nb, ridx), 1, args.reps)))

            def step():
                na2d(*leaves, nb, ridx).backward(dout)

            emit(dict(row, fwdbwd_ms=timeit(step, 1, args.reps)))
            continue
        reason = compile_unavailable()
        if reason:
            emit(dict(row, note=reason))
            continue
        torch._dynamo.reset()  # each stage's compile time is its own
        na2d_c = torch.compile(na2d, dynamic=False)
        with torch.no_grad():
            fwd, c_fwd = time_compiled(lambda: na2d_c(q, kk, v, rpb, nb, ridx), args.reps, CLOCK)
        emit(dict(row, fwd_ms=fwd, fwd_compile_s=c_fwd))

        def step_c():
            na2d_c(*leaves, nb, ridx).backward(dout)

        fb, c_fb = time_compiled(step_c, args.reps, CLOCK)
        emit(dict(row, fwdbwd_ms=fb, fwdbwd_compile_s=c_fb))


if __name__ == "__main__":
    main()
