#!/usr/bin/env bash
# Installs the Debian 12 packages nat.cpp builds against, only those not yet installed, and says
# whether the CUDA backend will be built. Silent apart from one status line when all are present.
#   scripts/deps.sh           build, test and run dependencies (python3-torch: the tests' PyTorch reference)
#   scripts/deps.sh --bench   also the PyTorch peers of `nat bench`: python3-torchvision, python3-venv and
#                             python3-dev from Debian, and a virtual environment <repo>/.bench-venv with PyPI's
#                             current torch, torchvision, timm, natten, safetensors and Pillow < 13 (see
#                             bench_venv below); the build, the tests and the main job never use it
#   scripts/deps.sh --check   list what is missing and exit 1 if anything is; installs nothing
# Installing needs root. The CUDA toolkit is not a Debian package here: it is looked for at
# /usr/local/cuda/bin/nvcc (or nvcc on PATH), and the build turns CUDA on when it is found.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libyaml-cpp-dev libspdlog-dev libopencv-dev libgtest-dev libgmock-dev libopenblas-dev nlohmann-json3-dev
  libopenmpi-dev openmpi-bin
  libjpeg62-turbo-dev zlib1g-dev  # used directly by data/ (JPEG region decoding, gzipped digits.png)
  opencv-doc  # ships samples/data/digits.png, the data set of the main job
  python3
  python3-torch  # the independent reference of tests/nn/test_torch_crosscheck.cpp (logits and gradients)
)
check_only=0
bench=0
for arg in "$@"; do
  case "$arg" in
    --bench)
      bench=1
      # Debian's torchvision: the peers' fallback without the venv; python3-dev: torch.compile (Inductor) builds
      # C++ against Python.h
      packages+=(python3-torchvision python3-venv python3-dev)
      ;;
    --check) check_only=1 ;;
    -h | --help)
      sed -n '2,11s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *)
      echo "deps.sh: unknown option '$arg' (see --help)" >&2
      exit 2
      ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if ((check_only)); then
    echo "deps: missing: ${missing[*]}"
    exit 1
  fi
  if [[ "$(id -u)" != 0 ]]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run this script as root, or: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  log="$(mktemp /tmp/nat-deps.XXXXXX.log)"
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } </dev/null >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "deps: apt-get failed; the full log is $log" >&2
    exit 1
  fi
  rm -f "$log"
  echo "deps: installed ${#missing[@]} package(s)"
fi

nvcc=""
if [[ -x /usr/local/cuda/bin/nvcc ]]; then
  nvcc=/usr/local/cuda/bin/nvcc
elif command -v nvcc >/dev/null 2>&1; then
  nvcc="$(command -v nvcc)"
fi
if [[ -n "$nvcc" ]]; then
  version="$("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
  cuda_note="CUDA ${version:-?} at $nvcc: the CUDA backend will be built (NAT_CUDA=AUTO)"
else
  cuda_note="no CUDA toolkit (no /usr/local/cuda/bin/nvcc): CPU-only build, CUDA tests skip"
fi
echo "deps: all ${#packages[@]} Debian packages present; $cuda_note"

# The benchmarks' PyTorch peers run in their own virtual environment, so that `nat bench` compares against
# the PyTorch a CPU user installs today rather than Debian's 1.13. Nothing else uses it: the build, the tests
# and the main job need only the Debian packages above (python3-torch stays the tests' reference). The bench
# tools find it through NAT_BENCH_PYTHON (default .bench-venv/bin/python, else /usr/bin/python3).
#   - Versions are not pinned: the first run installs the current releases; `rm -rf .bench-venv` and run again
#     to take newer ones. A run with the environment complete does nothing and prints one line.
#   - Pillow < 13: with Pillow 13, timm 1.0.31's RandAugment posterize (rand-m9-mstd0.5-inc1) and
#     bench/torch_loader.py fail with "bits must be between 1 and 8".
#   - PyPI's Linux torch wheel pulls the nvidia-* CUDA packages (a few GB); PyPI has no CPU-only build.
#     NAT_BENCH_TORCH_INDEX=<pip index URL> (e.g. PyTorch's own CPU index) takes torch and torchvision from there.
#   - natten is a source package on PyPI: it builds against the environment's torch (--no-build-isolation);
#     with no GPU visible (CUDA_VISIBLE_DEVICES=) it skips libnatten, its CUDA kernels (hours of nvcc), and
#     installs only its Python backends (Flex Attention, which also runs on a CPU).
bench_venv() {
  local root venv py spec stamp log versions
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  venv="$root/.bench-venv"
  py=/usr/bin/python3
  local pip_pkgs=(torch torchvision timm safetensors "Pillow<13")
  spec="${pip_pkgs[*]} natten index=${NAT_BENCH_TORCH_INDEX:-pypi}"
  stamp="$venv/nat-bench-spec.txt"
  local probe='import sys, torch, torchvision, timm, natten, safetensors, PIL
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"timm {timm.__version__}, natten {natten.__version__}, safetensors {safetensors.__version__}, "
      f"Pillow {PIL.__version__}")'
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$spec" ]] &&
    versions="$("$venv/bin/python" -c "$probe" 2>/dev/null)"; then
    echo "deps: bench environment .bench-venv up to date ($versions)"
    return 0
  fi
  if ((check_only)); then
    echo "deps: the bench environment .bench-venv is missing or incomplete (run scripts/deps.sh --bench)"
    return 1
  fi
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "deps: $py is $("$py" --version 2>&1); current PyTorch needs Python 3.10 or newer" >&2
    return 1
  fi
  echo "deps: creating the bench environment .bench-venv (PyPI: ${spec% index=*}; several minutes, a few GB)"
  log="$(mktemp /tmp/nat-bench-venv.XXXXXX.log)"
  rm -f "$stamp"
  if ! {
    "$py" -m venv "$venv" &&
      "$venv/bin/python" -m pip install -q --upgrade pip setuptools wheel &&
      if [[ -n "${NAT_BENCH_TORCH_INDEX:-}" ]]; then
        "$venv/bin/python" -m pip install -q --index-url "$NAT_BENCH_TORCH_INDEX" torch torchvision
      fi &&
      "$venv/bin/python" -m pip install -q "${pip_pkgs[@]}" &&
      env -u NATTEN_CUDA_ARCH CUDA_VISIBLE_DEVICES= "$venv/bin/python" -m pip install -q --no-build-isolation natten
  } </dev/null >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "deps: installing the bench environment failed; the full log is $log" >&2
    return 1
  fi
  if ! versions="$("$venv/bin/python" -c "$probe" 2>>"$log")"; then
    tail -n 20 "$log" >&2
    echo "deps: the bench environment does not import; the full log is $log" >&2
    return 1
  fi
  echo "$spec" >"$stamp"
  rm -f "$log"
  echo "deps: bench environment .bench-venv ready ($versions)"
}

if ((bench)); then
  bench_venv
fi
