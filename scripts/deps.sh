#!/usr/bin/env bash
# Installs the Debian 12 packages nat.cpp builds against, only those not yet installed, and says
# whether the CUDA backend will be built. Silent apart from one status line when all are present.
#   scripts/deps.sh           build, test and run dependencies (python3-torch: the tests' PyTorch reference)
#   scripts/deps.sh --bench   also python3-torchvision, for the PyTorch baselines of the benchmarks
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
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(python3-torchvision) ;;
    --check) check_only=1 ;;
    -h | --help)
      sed -n '2,8s/^# \{0,1\}//p' "$0"
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
