#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root): installs the missing packages
# (scripts/deps.sh), configures, builds everything and runs ctest; exits non-zero on any failure.
#   scripts/test.sh              build/ (Release; CUDA compiled when nvcc is found, and the CUDA
#                                tests skip, visibly, when no GPU is present)
#   scripts/test.sh --sanitize   build-asan/ (RelWithDebInfo, CPU only, ASan + UBSan; any report
#                                aborts the test)
#   NAT_JOBS=N                   parallel build and test jobs (default: all cores)
#   NAT_TEST_TIMEOUT=S           per-test time limit in seconds (default 900)
#   NAT_ALLOW_SKIPS=1            do not fail when a test other than the GPU ones skipped
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    -h | --help)
      sed -n '2,11s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *) nat_die "test.sh: unknown option '$arg' (see --help)" ;;
  esac
done

if ((sanitize)); then
  BUILD=build-asan
  options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAT_CUDA=OFF -DNAT_SANITIZE=ON)
  # Every finding is fatal: ASan and UBSan abort at the first report, and leaks fail the exit. A huge
  # allocation returns null (as without ASan), so the out-of-memory errors are tested under ASan too.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:allocator_may_return_null=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"
  what="ASan + UBSan, CPU only"
else
  BUILD=build
  options=(-DCMAKE_BUILD_TYPE=Release -DNAT_CUDA=AUTO)
  what="Release, NAT_CUDA=AUTO"
fi

nat_say "dependencies"
bash scripts/deps.sh
nat_say "configure $BUILD/ ($what)"
nat_configure "$BUILD" "${options[@]}"
nat_say "build ($NAT_JOBS jobs)"
nat_build "$BUILD"
nat_say "ctest in $BUILD/ ($what)"
# The GPU tests (label `cuda`), listed before the run: `ctest -N` would overwrite the run's LastTest.log.
gpu_tests="$(ctest --test-dir "$BUILD" -N -L '^cuda$' | sed -n 's/^ *Test *#[0-9]*: //p')"
# --no-tests=error: a suite that runs nothing must not pass.
rc=0
ctest --test-dir "$BUILD" --output-on-failure --no-tests=error -j "$NAT_JOBS" \
  --timeout "${NAT_TEST_TIMEOUT:-900}" || rc=$?
# ctest lists skipped tests but not why; GoogleTest wrote the reason on the line after "Skipped".
# Every skipped test is printed with its reason, and a skip is a failure unless the test needs a GPU
# (CTest label `cuda`): CI must not pass on tests that never ran for want of an installable package.
log="$BUILD/Testing/Temporary/LastTest.log"
if [[ -f "$log" ]] && grep -q ': Skipped$' "$log"; then
  echo "Skipped tests:"
  unexpected=0
  while IFS=$'\t' read -r name reason; do
    if grep -qxF "$name" <<<"$gpu_tests"; then
      echo "  $name (needs a GPU): $reason"
    else
      echo "  $name: $reason   <- not a GPU test: skipping is a failure"
      unexpected=$((unexpected + 1))
    fi
  done < <(awk '/^[0-9]+\/[0-9]+ Test: / { name = $3 } /: Skipped$/ { getline reason; sub(/^ */, "", reason); print name "\t" reason }' "$log")
  if ((unexpected)); then
    echo "error: $unexpected test(s) other than the GPU ones skipped (see above); install what they need" >&2
    [[ "${NAT_ALLOW_SKIPS:-0}" == 1 ]] || rc=1
  fi
fi
exit "$rc"
