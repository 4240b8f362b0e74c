#!/usr/bin/env bash
# Runs bench_ops (nat.cpp) and bench/torch_ops.py (PyTorch CPU) on the same rows with the same thread
# count, then prints one line per row with both times and the speed ratio ours/torch (> 1: nat.cpp faster).
#   usage: bench/run_ops.sh [--build DIR] [--threads N] [other bench_ops options: --reps N --batch B --filter S]
# DIR defaults to build/ beside bench/; N defaults to nproc. PyTorch comes from Debian's python3-torch
# (apt-get install -y python3-torch); $PYTHON overrides the interpreter. CPU only (PyTorch here has no CUDA).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build="$here/../build"
threads=$(nproc)
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --device) [[ "$2" == cpu ]] || { echo "run_ops.sh: CPU only (the PyTorch baseline has no CUDA)" >&2; exit 2; }; shift 2 ;;
    --json) echo "run_ops.sh: --json is set per tool by this script" >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

bench="$build/bench/bench_ops"
[[ -x "$bench" ]] || { echo "run_ops.sh: $bench not found; build it: ninja -C $build bench_ops" >&2; exit 2; }

python=""
for p in ${PYTHON:-} /usr/bin/python3 python3; do
  if "$p" -c "import torch" 2>/dev/null; then python="$p"; break; fi
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bench" --threads "$threads" --json "$out/ours.json" "${args[@]}"
echo
if [[ -z "$python" ]]; then
  echo "run_ops.sh: no Python with PyTorch found (apt-get install -y python3-torch); skipping the comparison" >&2
  exit 0
fi
"$python" "$here/torch_ops.py" --threads "$threads" --json "$out/torch.json" "${args[@]}"
echo

"$python" - "$out/ours.json" "$out/torch.json" <<'EOF'
import json, sys

ours, torch = (json.load(open(p)) for p in sys.argv[1:3])
theirs = {(r["name"], r["shape"]): r for r in torch["results"]}
print(f"nat.cpp ({ours['device']}, {ours['threads']} thread(s)) vs {torch['tool']} "
      f"({torch['threads']} thread(s)); ratio = our speed / PyTorch's")
print(f"{'benchmark':<14} {'shape':<32} {'ours ms':>10} {'torch ms':>10} {'ours':>10} {'torch':>10} "
      f"{'unit':<8} {'ratio':>7}")
seen = set()
for r in ours["results"]:
    key = (r["name"], r["shape"])
    seen.add(key)
    t = theirs.get(key)
    if t is None:
        print(f"{r['name']:<14} {r['shape']:<32} {r['ms']:>10.3f} {'-':>10} {r['rate']:>10.2f} {'-':>10} "
              f"{r['unit']:<8} {'-':>7}")
        continue
    print(f"{r['name']:<14} {r['shape']:<32} {r['ms']:>10.3f} {t['ms']:>10.3f} {r['rate']:>10.2f} "
          f"{t['rate']:>10.2f} {r['unit']:<8} {t['ms'] / r['ms']:>7.2f}")
for t in ours.get("todo", []):
    seen.add((t["name"], t["shape"]))
    print(f"{t['name']:<14} {t['shape']:<32} {'-':>10} {'-':>10} {'-':>10} {'-':>10} {'':<8} {'-':>7}  {t['todo']}")
for key, t in theirs.items():
    if key not in seen:
        print(f"{t['name']:<14} {t['shape']:<32} {'-':>10} {t['ms']:>10.3f} {'-':>10} {t['rate']:>10.2f} "
              f"{t['unit']:<8} {'-':>7}  (no nat.cpp row)")
EOF
