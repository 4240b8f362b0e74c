#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine (as root) to a result: installs the missing
# packages (scripts/deps.sh), configures build/ (Release, Ninja, CUDA when nvcc is found),
# builds, and runs the job in main_job() below. Runs from any working directory.
#   NAT_JOBS=N   parallel build jobs (default: all cores)
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BUILD=build

# ============================================================================================
# THE MAIN JOB: a small NAT trained from scratch on the digits that Debian's opencv-doc ships
# (configs/digits.yaml: >= 98% val top-1 within 10 minutes on 2 CPU cores). The dataset is cut from the
# digit sheet once (data_cache/digits, reused afterwards); the run goes to runs/digits/ (args.yaml,
# summary.csv, train.log, checkpoints; `nat plot runs/digits` draws the curves). It ends by printing the
# final validation accuracy.
MAIN_TARGETS=(nat)
main_job() {
  local data=data_cache/digits
  if [[ ! -d "$data/train" || ! -d "$data/val" ]]; then
    "$BUILD/app/nat" data digits --out "$data" --force
  fi
  rm -rf runs/digits  # a fresh run each time (a kept one would make nat train write to runs/digits-1)
  "$BUILD/app/nat" train --config configs/digits.yaml --data_dir "$data"
  "$BUILD/app/nat" plot runs/digits
}
# ============================================================================================

nat_say "dependencies"
bash scripts/deps.sh
nat_say "configure $BUILD/ (Release, NAT_CUDA=AUTO)"
nat_configure "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNAT_CUDA=AUTO
nat_say "build ${MAIN_TARGETS[*]} ($NAT_JOBS jobs)"
nat_build "$BUILD" --target "${MAIN_TARGETS[@]}"
nat_say "main job"
main_job
