#!/usr/bin/env bash
# The one prepared GPU run. On a machine with an NVIDIA GPU, the CUDA toolkit, cmake and ninja
# (no Debian -dev packages, no network), it builds the CUDA targets for the GPU present with the
# libraries carried in .gpu-deps/ (made here by scripts/gpu_bundle.sh), runs every `cuda`-labelled
# test, runs the bench_* executables with --device cuda (GPU present only), and prints a summary
# table last.
# Logs go to $OUT (default ./gpu-out): env.txt configure.log build.log ctest.log bench.log summary.txt.
#   NAT_CUDA_ARCH=90     CUDA architectures (default: from nvidia-smi; 80;90 when there is no GPU)
#   NAT_JOBS=N           build jobs (default: all cores); NAT_GPU_TEST_JOBS=N ctest jobs (default 4)
# Exit status 0 only when the build succeeded, at least one CUDA test ran, none failed, every
# benchmark exited 0, and (with a GPU present) not every CUDA test skipped.
set -uo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

OUT="${OUT:-$NAT_ROOT/gpu-out}"
mkdir -p "$OUT"
BUILD="$NAT_ROOT/build-gpu"
DEPS="$NAT_ROOT/.gpu-deps"
LIBDIR=usr/lib/x86_64-linux-gnu
t_start=$SECONDS
summary=()  # lines of the final table
failed=0

note() { summary+=("$*"); }
fail() {
  note "FAIL: $*"
  failed=1
}
finish() {
  {
    echo
    echo "================================ gpu_check summary ================================"
    printf '%s\n' "${summary[@]}"
    echo "total time: $((SECONDS - t_start)) s; logs in $OUT"
    if ((failed)); then echo "gpu_check: FAILED"; else echo "gpu_check: PASSED"; fi
  } | tee "$OUT/summary.txt"
  exit "$failed"
}

# ---- the machine ------------------------------------------------------------------------------
gpu_present=0
gpu_names=""
if command -v nvidia-smi >/dev/null 2>&1 &&
  caps="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null)" && [[ -n "$caps" ]]; then
  gpu_present=1
  gpu_names="$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sort | uniq -c |
    sed 's/^ *//' | paste -sd';')"
  detected_arch="$(tr -d ' .' <<<"$caps" | sort -u | paste -sd';')"
else
  detected_arch="80;90"
fi
ARCH="${NAT_CUDA_ARCH:-$detected_arch}"

{
  echo "date      : $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "os        : $( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || uname -s), kernel $(uname -r)"
  echo "glibc     : $(ldd --version 2>/dev/null | head -1)"
  echo "compiler  : $(c++ --version 2>/dev/null | head -1)"
  echo "nvcc      : $( (/usr/local/cuda/bin/nvcc --version 2>/dev/null || nvcc --version 2>/dev/null) | grep -o 'release [0-9.]*')"
  echo "cmake     : $(cmake --version | head -1)"
  echo "ninja     : $(ninja --version 2>/dev/null)"
  echo "cores     : $(nproc)"
  echo "gpu       : ${gpu_names:-none (nvidia-smi absent or found no GPU)}"
  echo "cuda arch : $ARCH"
  if [[ -f "$DEPS/MANIFEST" ]]; then cat "$DEPS/MANIFEST"; else echo "no .gpu-deps bundle"; fi
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi
} >"$OUT/env.txt" 2>&1
sed -n '1,10p' "$OUT/env.txt"
note "gpu       : ${gpu_names:-none; CUDA tests are expected to skip}"
note "cuda arch : $ARCH"

# ---- the carried libraries ----------------------------------------------------------------------
cmake_extra=()
if [[ -d "$DEPS/usr" ]]; then
  export PKG_CONFIG="$DEPS/usr/bin/pkgconf"
  export PKG_CONFIG_LIBDIR="$DEPS/$LIBDIR/pkgconfig:$DEPS/usr/share/pkgconfig"
  export PKG_CONFIG_SYSROOT_DIR="$DEPS"  # the .pc files say /usr; this puts .gpu-deps in front
  export LD_LIBRARY_PATH="$DEPS/$LIBDIR:$DEPS/$LIBDIR/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # Headers come with each package's CMake or pkg-config target, not from a global CPATH, so a
  # target that forgets to link its dependency fails here as it would anywhere else.
  cmake_extra+=("-DCMAKE_PREFIX_PATH=$DEPS/usr" "-DPKG_CONFIG_EXECUTABLE=$PKG_CONFIG")
  groups="$(cat "$DEPS/GROUPS" 2>/dev/null)"
  note "bundle    : .gpu-deps, $(du -sh "$DEPS" | cut -f1), with: $(paste -sd' ' <<<"$groups")"
else
  groups=""
  note "bundle    : none (.gpu-deps missing: run scripts/gpu_bundle.sh where the packages are)"
fi
# Optional packages that did not travel are switched off rather than half-found on this machine.
grep -qx opencv <<<"$groups" || cmake_extra+=(-DCMAKE_DISABLE_FIND_PACKAGE_OpenCV=ON)
grep -qx yaml-cpp <<<"$groups" || cmake_extra+=(-DCMAKE_DISABLE_FIND_PACKAGE_yaml-cpp=ON)
grep -qx spdlog <<<"$groups" || cmake_extra+=(-DCMAKE_DISABLE_FIND_PACKAGE_spdlog=ON)
cmake_extra+=(-DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON)

# ---- configure and build ----------------------------------------------------------------------
nat_say "configure $BUILD (NAT_CUDA=ON, CUDA arch $ARCH)"
t0=$SECONDS
if ! nat_configure "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNAT_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$ARCH" \
  "${cmake_extra[@]}" >"$OUT/configure.log" 2>&1; then
  tail -n 30 "$OUT/configure.log"
  fail "configure ($((SECONDS - t0)) s): see configure.log"
  finish
fi
note "configure : ok ($((SECONDS - t0)) s)"

# The CUDA tests are the executables tests/CMakeLists.txt labels `cuda`: tests/cuda/test_*.cpp
# (target cuda_test_*) and tests/<folder>/test_*_cuda.cpp (target <folder>_test_*_cuda).
mapfile -t all_targets < <(ninja -C "$BUILD" -t targets all 2>/dev/null | sed -n 's/^\([A-Za-z0-9_]*\): phony$/\1/p')
targets=()
for t in "${all_targets[@]}"; do
  [[ "$t" == nat || "$t" =~ ^cuda_test_ || "$t" =~ ^[A-Za-z0-9]+_test_.*_cuda$ || "$t" =~ ^bench_ ]] && targets+=("$t")
done
nat_say "build ${targets[*]:-(nothing to build)}"
t0=$SECONDS
if ! nat_build "$BUILD" --target "${targets[@]}" >"$OUT/build.log" 2>&1; then
  grep -E 'error|FAILED' "$OUT/build.log" | head -n 30
  fail "build ($((SECONDS - t0)) s): see build.log"
  finish
fi
note "build     : ok ($((SECONDS - t0)) s): ${targets[*]}"

# ---- CUDA tests -------------------------------------------------------------------------------
nat_say "ctest -L cuda"
t0=$SECONDS
ctest --test-dir "$BUILD" -L cuda --output-on-failure --timeout 300 -j "${NAT_GPU_TEST_JOBS:-4}" 2>&1 |
  tee "$OUT/ctest.log"
ctest_rc=${PIPESTATUS[0]}
# One row per test from ctest's progress lines: "3/9 Test #3: cuda.X.Y ....***Skipped   0.01 sec".
mapfile -t rows < <(awk '
  /^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: / {
    line = $0
    sub(/^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: /, "", line)
    name = line; sub(/ .*/, "", name)
    time = line; sub(/ +sec$/, "", time); sub(/.* /, "", time)
    res = line; sub(/^[^ ]+ */, "", res); sub(/ +[0-9.]+ +sec$/, "", res)
    gsub(/\*\*\*/, " ", res); sub(/^[. ]*/, "", res); gsub(/  +/, " ", res)
    printf "%-60s %-22s %8s s\n", name, res, time
  }' "$OUT/ctest.log")
n_pass="$(printf '%s\n' "${rows[@]}" | grep -c ' Passed ' || true)"
n_skip="$(printf '%s\n' "${rows[@]}" | grep -c ' Skipped ' || true)"
n_total=${#rows[@]}
n_fail=$((n_total - n_pass - n_skip))
note ""
note "$(printf '%-60s %-22s %10s' 'cuda test' result time)"
for r in "${rows[@]}"; do note "$r"; done
note "cuda tests: $n_pass passed, $n_fail failed, $n_skip skipped, in $((SECONDS - t0)) s"
if ((n_total == 0)); then
  fail "no cuda-labelled test ran: nothing was checked"
elif ((n_fail > 0 || ctest_rc != 0)); then
  fail "$n_fail cuda test(s) failed (ctest exit $ctest_rc): see ctest.log"
elif ((gpu_present && n_skip == n_total)); then
  fail "a GPU is present but every cuda test skipped: the CUDA backend did not see the device"
elif ((gpu_present && n_skip > 0)); then
  note "warning: $n_skip cuda test(s) skipped although a GPU is present (see ctest.log for the reasons)"
elif ((!gpu_present)); then
  note "no GPU here: the CUDA code was built and the CUDA tests skipped; nothing ran on a device"
fi

# ---- benchmarks -------------------------------------------------------------------------------
note ""
mapfile -t benches < <(find "$BUILD" -type f -name 'bench_*' -perm -u+x 2>/dev/null | sort)
: >"$OUT/bench.log"
if ((${#benches[@]} == 0)); then
  note "benchmarks: none (no bench_* executable was built)"
elif ((!gpu_present)); then
  note "benchmarks: not run without a GPU: $(for b in "${benches[@]}"; do basename "$b"; done | paste -sd' ')"
else
  for b in "${benches[@]}"; do
    name="$(basename "$b")"
    nat_say "$name --device cuda"
    t0=$SECONDS
    echo "### $name --device cuda" >>"$OUT/bench.log"
    if timeout 180 "$b" --device cuda >"$OUT/bench.tmp" 2>&1; then res=ok; else
      res="FAILED (exit $?)"
      failed=1
    fi
    cat "$OUT/bench.tmp" >>"$OUT/bench.log"
    note "benchmark $name --device cuda: $res in $((SECONDS - t0)) s; its output:"
    while IFS= read -r l; do note "    $l"; done < <(head -n 60 "$OUT/bench.tmp")
  done
  rm -f "$OUT/bench.tmp"
fi

# ---- NCCL all-reduce bus bandwidth (nat bench allreduce, docs/distributed.md) -----------------------
# One process per GPU, torchrun-style variables, the NCCL id over the TCP rendezvous (this build has no
# MPI). With one GPU, a world of one still runs NCCL's init and all-reduce path (busbw is 0 by definition).
if ((gpu_present)) && [[ -x "$BUILD/app/nat" ]] && "$BUILD/app/nat" info 2>/dev/null | grep -q 'NCCL *: not compiled'; then
  note "nat bench allreduce: skipped, this build has no NCCL (nccl.h / libnccl not found under the CUDA toolkit)"
elif ((gpu_present)) && [[ -x "$BUILD/app/nat" ]]; then
  ngpu="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)"
  ((ngpu >= 1)) || ngpu=1
  nat_say "nat bench allreduce --device cuda on $ngpu GPU(s)"
  t0=$SECONDS
  port=$((29500 + RANDOM % 1000))
  pids=()
  for ((r = 0; r < ngpu; ++r)); do
    RANK=$r LOCAL_RANK=$r WORLD_SIZE=$ngpu LOCAL_WORLD_SIZE=$ngpu MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      timeout 300 "$BUILD/app/nat" bench allreduce --device cuda --backend nccl --max-bytes 256M \
      >"$BUILD/allreduce.$r.log" 2>&1 &
    pids+=($!)
  done
  res=ok
  for p in "${pids[@]}"; do wait "$p" || res="FAILED (exit $?)"; done
  [[ "$res" == ok ]] || failed=1
  # Every rank's output goes to bench.log (not one file per rank: $OUT keeps few files).
  for ((r = 0; r < ngpu; ++r)); do
    echo "### nat bench allreduce --device cuda --backend nccl, rank $r of $ngpu" >>"$OUT/bench.log"
    cat "$BUILD/allreduce.$r.log" >>"$OUT/bench.log"
  done
  note "nat bench allreduce (NCCL, $ngpu rank(s)): $res in $((SECONDS - t0)) s; rank 0's output:"
  while IFS= read -r l; do note "    $l"; done < <(head -n 40 "$BUILD/allreduce.0.log")
fi

finish
