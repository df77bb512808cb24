# Shared helpers for the tools/ scripts: progress output and the build.
# shellcheck shell=bash
WEFT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WEFT_BUILD=${WEFT_BUILD:-$WEFT_ROOT/build}

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# weft_build [extra cmake args...]: configure once, then build everything incrementally.
weft_build() {
  step "Configuring into $WEFT_BUILD"
  cmake -S "$WEFT_ROOT" -B "$WEFT_BUILD" -G Ninja "$@" >/dev/null || die "cmake configure failed"
  step "Building (ninja, $(nproc) jobs)"
  cmake --build "$WEFT_BUILD" -j "$(nproc)" || die "build failed"
}
