#!/usr/bin/env bash
# Packs the Debian libraries the CUDA build needs into .gpu-deps/, for a GPU machine that has
# the CUDA toolkit, cmake and ninja but none of our -dev packages and no network. Run it here
# (Debian 12), then carry .gpu-deps to the GPU machine, where scripts/gpu_check.sh uses it.
# The tree mirrors / (.gpu-deps/usr/...): headers, libraries, CMake and pkg-config files, plus
# the shared libraries they need (by ldd) beyond the C and C++ runtimes every machine has.
# Groups are taken in order while they fit in the limit; an optional one that does not fit is
# dropped and named (the CMake finds those QUIET, and gpu_check.sh switches them off).
#   NAT_BUNDLE_LIMIT_MIB=60   the size limit of .gpu-deps
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DEST="$NAT_ROOT/.gpu-deps"
LIMIT_MIB="${NAT_BUNDLE_LIMIT_MIB:-60}"
ARCH_LIB=/usr/lib/x86_64-linux-gnu

# name | required or optional | Debian packages | regex of paths to leave out
groups=(
  "pkgconf|required|pkgconf-bin libpkgconf3|"
  "gtest|required|libgtest-dev libgmock-dev|"
  "json|required|nlohmann-json3-dev|"
  "openblas|required|libopenblas-pthread-dev libopenblas0-pthread|(\\.a$|/lib(blas|lapack)|cmake/openblas)"
  "yaml-cpp|optional|libyaml-cpp-dev libyaml-cpp0.7|\\.a$"
  "spdlog|optional|libspdlog-dev libspdlog1.10 libfmt-dev libfmt9|\\.a$"
  "opencv|optional|libopencv-dev libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406|^/usr/(bin|share)/"
)
# Present on any Linux machine with a C++ compiler; never carried (the GPU machine's own are newer).
SYSTEM_LIBS='^(libc|libm|libdl|librt|libpthread|libresolv|libutil|ld-linux-x86-64|libstdc\+\+|libgcc_s|libgomp|libatomic)\.so'

for tool in dpkg-query ldd realpath; do
  command -v "$tool" >/dev/null || nat_die "gpu_bundle.sh needs $tool (run it on the Debian machine)"
done

declare -A taken=()  # paths already in the bundle
# Files (and symlinks) that a group brings: the packages' own, the alternatives links that point at
# them, and the shared libraries their libraries load (ldd), minus what an earlier group brought.
group_files() {
  local pkgs="$1" exclude="$2" p f
  local -A mine=()
  for p in $pkgs; do
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" == installed ]] ||
      nat_die "package $p is not installed (run scripts/deps.sh first)"
    while IFS= read -r f; do
      [[ -f "$f" || -L "$f" ]] || continue
      [[ -d "$f" ]] && continue
      [[ "$f" =~ ^/usr/share/(doc|man|lintian|bug)/ ]] && continue
      [[ -n "$exclude" && "$f" =~ $exclude ]] && continue
      mine["$f"]=1
    done < <(dpkg-query -L "$p")
  done
  # Debian's update-alternatives links (libopenblas.so.0, cblas.h, openblas.pc...) onto these files.
  local -A real=()
  for f in "${!mine[@]}"; do real["$(realpath "$f")"]=1; done
  while IFS= read -r f; do
    [[ -n "${real[$(realpath "$f")]:-}" ]] && mine["$f"]=1
  done < <(find "$ARCH_LIB" "$ARCH_LIB/pkgconfig" "$ARCH_LIB/cmake" /usr/include /usr/include/x86_64-linux-gnu \
    -maxdepth 2 -lname '/etc/alternatives/*' 2>/dev/null)
  # Shared-library dependencies, with the soname link and the file it names.
  local lib dep
  for f in "${!mine[@]}"; do
    [[ "$f" =~ \.so(\.[0-9]+)*$ && -f "$f" && ! -L "$f" ]] || continue
    while read -r dep; do
      lib="$(realpath "$(dirname "$dep")")/$(basename "$dep")"
      [[ "$(basename "$lib")" =~ $SYSTEM_LIBS ]] && continue
      mine["$lib"]=1
    done < <(ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
  done
  # Symlink targets travel with their links.
  for f in "${!mine[@]}"; do
    [[ -L "$f" ]] && mine["$(realpath "$f")"]=1
  done
  for f in "${!mine[@]}"; do
    [[ -z "${taken[$f]:-}" ]] && printf '%s\n' "$f"
  done | sort
}

bytes_of() {  # total size of the regular files among the given paths
  local total=0 f
  for f in "$@"; do
    [[ -L "$f" ]] || total=$((total + $(stat -c %s "$f")))
  done
  echo "$total"
}

copy_in() {  # mirrors one path under $DEST; absolute links become relative ones inside the bundle
  local f="$1" d="$DEST$1" t
  mkdir -p "$(dirname "$d")"
  if [[ -L "$f" ]]; then
    t="$(readlink "$f")"
    [[ "$t" == /* ]] && t="$(realpath --relative-to="$(dirname "$f")" "$(realpath "$f")")"
    ln -sfn "$t" "$d"
  else
    cp -p "$f" "$d"
  fi
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

rm -rf "$DEST"
mkdir -p "$DEST"
limit=$((LIMIT_MIB * 1048576))
used=0
included=()
manifest=()
for g in "${groups[@]}"; do
  IFS='|' read -r name need pkgs exclude <<<"$g"
  mapfile -t files < <(group_files "$pkgs" "$exclude")
  size="$(bytes_of "${files[@]}")"
  if ((used + size > limit)); then
    if [[ "$need" == required ]]; then
      nat_die "required group $name ($(mib "$size") MiB) does not fit in ${LIMIT_MIB} MiB"
    fi
    echo "gpu_bundle: dropped $name: $(mib "$size") MiB in ${#files[@]} files would pass the ${LIMIT_MIB} MiB limit"
    manifest+=("dropped  $name  $(mib "$size") MiB  ($pkgs)")
    continue
  fi
  for f in "${files[@]}"; do
    copy_in "$f"
    taken["$f"]=1
  done
  used=$((used + size))
  included+=("$name")
  versions=""
  for p in $pkgs; do versions+=" $p=$(dpkg-query -W -f='${Version}' "$p")"; done
  manifest+=("included $name  $(mib "$size") MiB  ${#files[@]} files:$versions")
  echo "gpu_bundle: $name: $(mib "$size") MiB, ${#files[@]} files"
done

{
  echo "# .gpu-deps, made by scripts/gpu_bundle.sh on $(date -u +%Y-%m-%dT%H:%MZ) from $(. /etc/os-release && echo "$PRETTY_NAME")"
  printf '%s\n' "${manifest[@]}"
} >"$DEST/MANIFEST"
printf '%s\n' "${included[@]}" >"$DEST/GROUPS"

total="$(du -sb "$DEST" | cut -f1)"
((total <= limit)) || nat_die ".gpu-deps is $(mib "$total") MiB, over the ${LIMIT_MIB} MiB limit"
echo "gpu_bundle: .gpu-deps is $(mib "$total") MiB (limit ${LIMIT_MIB} MiB): ${included[*]}"
