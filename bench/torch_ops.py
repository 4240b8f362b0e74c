#!/usr/bin/env python3
"""PyTorch (CPU) baseline for bench_ops: the same rows, shapes, byte/FLOP counts and timing method.

Each row of table() mirrors a row of benchmark_table() in bench/bench_ops.cpp (keep them in step: the
(name, shape) pair is the key bench/run_ops.sh joins on). Timing: warm-up calls (5 by default, as in
bench_ops), then the median over --reps repetitions of `inner` back-to-back calls, `inner` chosen so a
repetition lasts >= 2 ms.
--cpu-time reads time.process_time (this process's CPU time, all threads) instead of the wall clock, as
bench_ops --cpu-time does: for a busy machine, with one thread.
Prints the same table format as bench_ops; --json FILE writes the same JSON layout.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_info import versions  # noqa: E402

STAGES = [(56, 64, 2), (28, 128, 4), (14, 256, 8), (7, 512, 16)]  # (L, C, heads) of NAT-Tiny
MLP_RATIO, NEIGHBOURS, F32 = 3, 49, 4.0


def shape_str(s):
    return "[" + ", ".join(str(int(v)) for v in s) + "]"


def numel(s):
    return float(math.prod(s))


def inp(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float32)


def table(B):
    """Rows of (name, shape string, unit, prepare); prepare() returns (call, bytes or FLOPs per call)."""
    rows = []
    for L, C, _ in STAGES:
        x = (B, L * L, MLP_RATIO * C)

        def gelu(x=x):
            t = inp(x, 1)
            return (lambda: F.gelu(t)), 2 * F32 * numel(x)

        rows.append(("gelu", shape_str(x), "GB/s", gelu))
    for L, C, _ in STAGES:
        x = (B, L * L, MLP_RATIO * C)

        def gelu_backward(x=x):
            t, gy = inp(x, 2), inp(x, 3)
            return (lambda: torch.ops.aten.gelu_backward(gy, t)), 3 * F32 * numel(x)

        rows.append(("gelu_backward", shape_str(x), "GB/s", gelu_backward))
    sum_shapes = [(B, L * L, C) for L, C, _ in STAGES] + [(B, 56 * 56, MLP_RATIO * 64)]
    for x in sum_shapes:

        def sum_last(x=x):
            t = inp(x, 4)
            return (lambda: t.sum(-1)), F32 * (numel(x) + numel(x) / x[2])

        rows.append(("sum_last", shape_str(x), "GB/s", sum_last))
    for L, C, _ in STAGES:
        x = (B, L * L, C)

        def layer_norm(x=x):
            t, w, b = inp(x, 5), inp((x[2],), 6), inp((x[2],), 7)
            return (lambda: F.layer_norm(t, (x[2],), w, b, 1e-5)), F32 * (2 * numel(x) + 2 * x[2])

        rows.append(("layer_norm", shape_str(x), "GB/s", layer_norm))
    for L, C, heads in STAGES:
        x = (B, heads, L * L, NEIGHBOURS)

        def softmax(x=x):
            t = inp(x, 8)
            return (lambda: torch.softmax(t, -1)), 2 * F32 * numel(x)

        rows.append(("softmax", shape_str(x), "GB/s", softmax))
    # Weights scaled by 1/sqrt(K) as in bench_ops.cpp, so the GELU sees O(1) inputs.
    for L, C, _ in STAGES:
        M = B * L * L
        for K, N in ((C, 3 * C), (C, C), (3 * C, C)):

            def linear(M=M, K=K, N=N):
                x, w, b = inp((M, K), 9), inp((N, K), 10) / math.sqrt(K), inp((N,), 11)
                return (lambda: F.linear(x, w, b)), 2.0 * M * N * K

            rows.append(("linear", f"{shape_str((M, K))} x {shape_str((N, K))}^T", "GFLOP/s", linear))
    for L, C, _ in STAGES:
        M, K, N = B * L * L, C, MLP_RATIO * C

        def linear_gelu(M=M, K=K, N=N):
            x, w, b = inp((M, K), 12), inp((N, K), 13) / math.sqrt(K), inp((N,), 14)
            return (lambda: F.gelu(F.linear(x, w, b))), 2.0 * M * N * K

        rows.append(("linear_gelu", f"{shape_str((M, K))} x {shape_str((N, K))}^T", "GFLOP/s", linear_gelu))
    for C, O, H, bias in ((3, 32, 224, True), (32, 64, 112, True), (64, 128, 56, False), (128, 256, 28, False),
                          (256, 512, 14, False)):
        x, w = (B, C, H, H), (O, C, 3, 3)

        def conv2d(x=x, w=w, bias=bias):
            t, wt = inp(x, 15), inp(w, 16)
            b = inp((w[0],), 17) if bias else None
            Ho = x[2] // 2
            return (lambda: F.conv2d(t, wt, b, 2, 1)), 2.0 * x[0] * w[0] * Ho * Ho * x[1] * 9

        rows.append(("conv2d", f"{shape_str(x)} * {shape_str(w)}", "GFLOP/s", conv2d))
    return rows


def time_call(fn, warmup, reps, clock):
    for _ in range(max(warmup, 1)):
        fn()
    t0 = clock()
    fn()
    once = (clock() - t0) * 1e3
    inner = int(min(max(math.ceil(2.0 / max(once, 1e-6)), 1), 1000))
    ts = []
    for _ in range(reps):
        t0 = clock()
        for _ in range(inner):
            fn()
        ts.append((clock() - t0) * 1e3 / inner)
    ts.sort()
    return ts[len(ts) // 2], inner


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu"], help="PyTorch CPU only")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: PyTorch's)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--filter", default="", help="keep rows whose name contains this")
    ap.add_argument("--json", default="", help="write the results here")
    ap.add_argument("--cpu-time", action="store_true", help="process CPU time instead of wall time")
    a = ap.parse_args()
    if a.reps < 1 or a.batch < 1 or a.warmup < 0:
        sys.exit("torch_ops.py: --reps and --batch must be >= 1 and --warmup >= 0")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    threads = torch.get_num_threads()
    clock, clock_name = (time.process_time, "process CPU time") if a.cpu_time else (time.perf_counter, "wall time")
    print(f"bench_ops (torch {torch.__version__}): cpu, {threads} thread(s), batch {a.batch}, f32, {clock_name}, "
          f"median of {a.reps} reps after {a.warmup} warm-up call(s)")
    info = versions()
    print("ran with: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"{'benchmark':<14} {'shape':<36} {'ms':>10} {'rate':>10} unit")
    results = []
    with torch.no_grad():
        for name, shape, unit, prepare in table(a.batch):
            if a.filter and a.filter not in name:
                continue
            fn, work = prepare()
            ms, inner = time_call(fn, a.warmup, a.reps, clock)
            rate = work / (ms * 1e-3) / 1e9
            print(f"{name:<14} {shape:<36} {ms:>10.3f} {rate:>10.2f} {unit}", flush=True)
            results.append(dict(name=name, shape=shape, ms=ms, rate=rate, unit=unit, work=work, inner=inner))
    if a.json:
        doc = dict(tool=f"torch {torch.__version__}", device="cpu", threads=threads, batch=a.batch, reps=a.reps,
                   warmup=a.warmup, clock=clock_name, versions=info, results=results)
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
