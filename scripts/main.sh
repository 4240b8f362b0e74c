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
# THE MAIN JOB. This is the single place to change when digits training lands: replace the body
# with the training run (and add its target to MAIN_TARGETS), e.g.
#   "$BUILD/app/nat" train --config configs/digits.yaml
# Until then the job is `nat info`: the build, the devices and a tensor made by core.
MAIN_TARGETS=(nat)
main_job() {
  "$BUILD/app/nat" info
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
