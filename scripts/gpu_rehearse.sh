#!/usr/bin/env bash
# Rehearses the GPU run on this Debian machine before spending device time: makes .gpu-deps
# (scripts/gpu_bundle.sh), then runs scripts/gpu_check.sh in a private mount namespace where the
# bundled packages' system copies are hidden (their headers, CMake and pkg-config files,
# libraries and pkg-config itself), so the build must take them from .gpu-deps as it will on the
# GPU machine. Without a GPU the CUDA code builds (for 80;90) and the CUDA tests skip.
# Needs root (unshare -m). Logs go to $OUT (default ./gpu-out), as with gpu_check.sh.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[[ "$(id -u)" == 0 ]] || nat_die "gpu_rehearse.sh needs root for its mount namespace"
bash scripts/gpu_bundle.sh

L=/usr/lib/x86_64-linux-gnu
hide_dirs=(
  "$L/cmake" "$L/pkgconfig" /usr/share/cmake /usr/share/pkgconfig "$L/openblas-pthread" "$L/openmpi"
  /usr/include/gtest /usr/include/gmock /usr/include/yaml-cpp /usr/include/spdlog /usr/include/fmt /usr/include/nlohmann
  /usr/include/opencv4 /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/x86_64-linux-gnu/openmpi
)
hide_files=(/usr/bin/pkg-config /usr/bin/pkgconf /usr/bin/x86_64-linux-gnu-pkg-config /usr/bin/mpicxx /usr/bin/mpicc)
for pattern in 'libgtest*' 'libgmock*' 'libyaml-cpp.*' 'libspdlog.*' 'libfmt.*' 'libgfortran.so*' 'libquadmath.so*' \
  'libpkgconf.so*' 'libopenblas*'; do
  for f in $L/$pattern; do [[ -e "$f" ]] && hide_files+=("$(realpath "$f")"); done
done

export NAT_ROOT
export HIDE_DIRS="${hide_dirs[*]}" HIDE_FILES="${hide_files[*]}"
# shellcheck disable=SC2016 # expanded by the inner shell
exec unshare -m --propagation private bash -c '
  set -euo pipefail
  for d in $HIDE_DIRS; do [[ -d "$d" ]] && mount -t tmpfs -o size=1m none "$d"; done
  for f in $HIDE_FILES; do [[ -e "$f" ]] && mount --bind /dev/null "$f"; done
  echo "gpu_rehearse: hid $(wc -w <<<"$HIDE_DIRS") folders and $(wc -w <<<"$HIDE_FILES") files of the system packages"
  if pkg-config --version >/dev/null 2>&1 || [[ -s /usr/include/gtest/gtest.h ]]; then
    echo "gpu_rehearse: hiding did not work" >&2
    exit 1
  fi
  exec bash "$NAT_ROOT/scripts/gpu_check.sh"
'
