#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root): installs the missing packages
# (scripts/deps.sh), configures, builds everything and runs ctest; exits non-zero on any failure.
#   scripts/test.sh              build/ (Release; CUDA compiled when nvcc is found, and the CUDA
#                                tests skip, visibly, when no GPU is present)
#   scripts/test.sh --sanitize   build-asan/ (RelWithDebInfo, CPU only, ASan + UBSan; any report
#                                aborts the test)
#   NAT_JOBS=N                   parallel build and test jobs (default: all cores)
#   NAT_TEST_TIMEOUT=S           per-test time limit in seconds (default 900)
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    -h | --help)
      sed -n '2,10s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *) nat_die "test.sh: unknown option '$arg' (see --help)" ;;
  esac
done

if ((sanitize)); then
  BUILD=build-asan
  options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DNAT_CUDA=OFF -DNAT_SANITIZE=ON)
  # Every finding is fatal: ASan and UBSan abort at the first report, and leaks fail the exit.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1}"
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
# --no-tests=error: a suite that runs nothing must not pass.
rc=0
ctest --test-dir "$BUILD" --output-on-failure --no-tests=error -j "$NAT_JOBS" \
  --timeout "${NAT_TEST_TIMEOUT:-900}" || rc=$?
# ctest lists skipped tests but not why; GoogleTest wrote the reason on the line after "Skipped".
log="$BUILD/Testing/Temporary/LastTest.log"
if [[ -f "$log" ]] && grep -q ': Skipped$' "$log"; then
  echo "Skip reasons:"
  awk '/: Skipped$/ { getline reason; print reason }' "$log" | sort | uniq -c | sed 's/^ */  /'
fi
exit "$rc"
