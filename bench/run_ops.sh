#!/usr/bin/env bash
# Runs bench_ops (nat.cpp) and bench/torch_ops.py (PyTorch CPU) on the same rows with the same thread
# count, then prints one line per row with both times and the speed ratio ours/torch (> 1: nat.cpp faster).
#   usage: bench/run_ops.sh [--build DIR] [--threads N] [--rounds R] [--cpu-time] [--reps N] [--batch B]
#                           [--filter S]
# DIR defaults to build/ beside bench/; N defaults to nproc. The other options go to both tools unchanged;
# --cpu-time makes both time with process CPU time (for a busy machine; use it with --threads 1).
# --rounds R (default 1) runs the two tools alternately R times; the table then gives each side's median
# time over the rounds, the ratio of the medians, and the lowest and highest per-round ratio, which shows
# how much the rows move between rounds (a lot on a machine shared with other work).
# PyTorch comes from $NAT_BENCH_PYTHON, default <repo>/.bench-venv/bin/python (scripts/deps.sh --bench: PyPI's
# current torch) when it exists, else /usr/bin/python3 (Debian's python3-torch 1.13), as for `nat bench`.
# CPU only. The PyTorch side runs eagerly (no torch.compile for these single ops).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build="$here/../build"
threads=$(nproc)
rounds=1
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --device) [[ "$2" == cpu ]] || { echo "run_ops.sh: CPU only (the PyTorch baseline has no CUDA)" >&2; exit 2; }; shift 2 ;;
    --json) echo "run_ops.sh: --json is set per tool by this script" >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "run_ops.sh: --rounds needs a positive integer, got '$rounds'" >&2; exit 2; }

bench="$build/bench/bench_ops"
[[ -x "$bench" ]] || { echo "run_ops.sh: $bench not found; build it: ninja -C $build bench_ops" >&2; exit 2; }

python="${NAT_BENCH_PYTHON:-}"
if [[ -z "$python" ]]; then
  python=/usr/bin/python3
  [[ -x "$here/../.bench-venv/bin/python" ]] && python="$here/../.bench-venv/bin/python"
fi
"$python" -c "import torch" 2>/dev/null || python=""

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for ((r = 1; r <= rounds; r++)); do
  [[ $rounds -gt 1 ]] && echo "== round $r of $rounds"
  "$bench" --threads "$threads" --json "$out/ours.$r.json" "${args[@]}"
  echo
  if [[ -z "$python" ]]; then
    echo "run_ops.sh: no PyTorch under ${NAT_BENCH_PYTHON:-.bench-venv/bin/python or /usr/bin/python3}" \
      "(scripts/deps.sh --bench); skipping the comparison" >&2
    exit 0
  fi
  "$python" "$here/torch_ops.py" --threads "$threads" --json "$out/torch.$r.json" "${args[@]}"
  echo
done

"$python" - "$out" "$rounds" <<'EOF'
import json, statistics, sys

out, rounds = sys.argv[1], int(sys.argv[2])
ours = [json.load(open(f"{out}/ours.{r}.json")) for r in range(1, rounds + 1)]
torch = [json.load(open(f"{out}/torch.{r}.json")) for r in range(1, rounds + 1)]


def by_key(doc):
    return {(r["name"], r["shape"]): r for r in doc["results"]}


o_rounds, t_rounds = [by_key(d) for d in ours], [by_key(d) for d in torch]
o0, t0 = ours[0], torch[0]
print(f"nat.cpp ({o0['device']}, {o0['threads']} thread(s)) vs {t0['tool']} ({t0['threads']} thread(s)); "
      f"ratio = PyTorch time / nat.cpp time (> 1: nat.cpp faster)")
if "versions" in t0:
    print("PyTorch peer ran with: " + ", ".join(f"{k} {v}" for k, v in t0["versions"].items()))
print(f"clock: nat.cpp {o0.get('clock', 'wall time')}, PyTorch {t0.get('clock', 'wall time')}; "
      f"{rounds} round(s), median of {o0['reps']} reps per round" +
      ("; times are medians over the rounds" if rounds > 1 else ""))
range_hdr = f" {'min-max':>11}" if rounds > 1 else ""
print(f"{'benchmark':<14} {'shape':<36} {'ours ms':>10} {'torch ms':>10} {'ours':>10} {'torch':>10} "
      f"{'unit':<8} {'ratio':>7}{range_hdr}")
seen = set()
for key, r in o_rounds[0].items():
    seen.add(key)
    o_ms = statistics.median(d[key]["ms"] for d in o_rounds if key in d)
    o_rate = r["work"] / (o_ms * 1e-3) / 1e9
    if not all(key in d for d in t_rounds):
        print(f"{r['name']:<14} {r['shape']:<36} {o_ms:>10.3f} {'-':>10} {o_rate:>10.2f} {'-':>10} "
              f"{r['unit']:<8} {'-':>7}")
        continue
    t_ms = statistics.median(d[key]["ms"] for d in t_rounds)
    t_rate = t_rounds[0][key]["work"] / (t_ms * 1e-3) / 1e9
    per_round = [t[key]["ms"] / o[key]["ms"] for o, t in zip(o_rounds, t_rounds) if key in o]
    rng = f" {min(per_round):>5.2f}-{max(per_round):<5.2f}" if rounds > 1 else ""
    print(f"{r['name']:<14} {r['shape']:<36} {o_ms:>10.3f} {t_ms:>10.3f} {o_rate:>10.2f} {t_rate:>10.2f} "
          f"{r['unit']:<8} {t_ms / o_ms:>7.2f}{rng}")
for key, t in t_rounds[0].items():
    if key not in seen:
        print(f"{t['name']:<14} {t['shape']:<36} {'-':>10} {t['ms']:>10.3f} {'-':>10} {t['rate']:>10.2f} "
              f"{t['unit']:<8} {'-':>7}  (no nat.cpp row)")
EOF
