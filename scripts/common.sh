# shellcheck shell=bash
# Sourced (never run) by the scripts in scripts/. Moves to the repository
# root whatever the caller's working directory, and sets the defaults every build here uses:
# Ninja, ccache with paths relative to the checkout (so a fresh clone reuses the cache), and
# NAT_JOBS parallel jobs (default: the machine's core count).

NAT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$NAT_ROOT" || exit 1

NAT_JOBS="${NAT_JOBS:-$(nproc)}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$NAT_ROOT}"

nat_say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
nat_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# nat_configure <build-dir> [cmake -D options...]: configures with Ninja. A build directory made
# by another generator is reported, not deleted: it may hold someone's work.
nat_configure() {
  local dir="$1"
  shift
  if [[ -f "$dir/CMakeCache.txt" ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
    nat_die "$dir/ was configured with another generator than Ninja; remove it (rm -rf $dir) and run again"
  fi
  cmake -S "$NAT_ROOT" -B "$dir" -G Ninja "$@"
}

nat_build() {
  local dir="$1"
  shift
  cmake --build "$dir" --parallel "$NAT_JOBS" "$@"
}
