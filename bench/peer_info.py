"""What every PyTorch peer of `nat bench` reports besides its times: the versions it ran with (Python and its
path, torch, torchvision, timm, natten, Pillow, each when installed) and torch.compile's timing, so that
nat's output names the exact peer. Works on Debian's PyTorch 1.13 as on a current one.
"""
import platform
import sys
import time
from importlib import metadata


def versions():
    out = {"python": f"{platform.python_version()} ({sys.executable})"}
    for key, dist in (("torch", "torch"), ("torchvision", "torchvision"), ("timm", "timm"), ("natten", "natten"),
                      ("Pillow", "Pillow")):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    if "torch" in sys.modules:  # the imported module is the truth (a Debian build may lack dist metadata)
        out["torch"] = sys.modules["torch"].__version__
    return out


def compile_unavailable():
    """Why torch.compile cannot run here, or None when it can."""
    import torch

    if not hasattr(torch, "compile"):
        return f"torch.compile needs PyTorch 2 (this is {torch.__version__})"
    return None


def time_compiled(fn, reps, clock):
    """Median ms of `reps` calls after two warm-up calls, and the compile time in wall seconds: the warm-up
    calls' wall time less two steady calls (the first call compiles; the second may recompile, e.g. for the
    backward pass or a changed guard)."""
    t0 = time.perf_counter()
    fn()
    fn()
    warm = time.perf_counter() - t0
    ts, walls = [], []
    for _ in range(reps):
        c0, w0 = clock(), time.perf_counter()
        fn()
        ts.append(clock() - c0)
        walls.append(time.perf_counter() - w0)
    ts.sort()
    walls.sort()
    return 1000 * ts[len(ts) // 2], max(0.0, warm - 2 * walls[len(walls) // 2])
