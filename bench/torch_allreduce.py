#!/usr/bin/env python3
"""PyTorch's CPU all-reduce (torch.distributed, gloo backend) timed over the same sizes as
`nat bench allreduce`: --world processes on this node, float32 sum, --iters back-to-back calls per size
after 3 warm-ups, the slowest rank's mean time. Prints one JSON object per size:
  {"torch": "1.13.1", "bytes": 4096, "ms": 0.05, "versions": {...}}
"""
import argparse
import json
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_info import versions  # noqa: E402


def worker(rank, world, port, sizes, iters, queue):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    for nbytes in sizes:
        t = torch.full((nbytes // 4,), float(rank + 1))
        for _ in range(3):
            dist.all_reduce(t)
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(iters):
            dist.all_reduce(t)
        ms = torch.tensor([(time.perf_counter() - t0) * 1e3 / iters])
        dist.all_reduce(ms, op=dist.ReduceOp.MAX)
        if rank == 0:
            queue.put({"torch": torch.__version__, "bytes": nbytes, "ms": ms.item()})
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--sizes", default="8,1024,1048576")
    ap.add_argument("--iters", type=int, default=20)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, a.world, port, sizes, a.iters, queue)) for r in range(a.world)]
    for p in procs:
        p.start()
    info = versions()
    for _ in sizes:
        print(json.dumps(dict(queue.get(), versions=info)), flush=True)
    for p in procs:
        p.join()


if __name__ == "__main__":
    main()
