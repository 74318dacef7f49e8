#!/usr/bin/env bash
# Checks how a shipped binary is linked, so that a build change that loses
# ASLR, or needs more than the machine it runs on has, fails here and not
# on AWS or in a user's CI.
#
#   check-binary.sh lambda x86_64|arm64 BINARY
#     the function's bootstrap: a position-independent executable (PIE, which
#     the kernel loads at a random address: ASLR) for that processor, needing
#     nothing but glibc's own libraries, at a version provided.al2023 has.
#   check-binary.sh static BINARY
#     layerctl's binary: static (it needs nothing of the system but the
#     kernel) and position-independent (a static-pie).
set -euo pipefail
usage="usage: check-binary.sh lambda x86_64|arm64 BINARY | check-binary.sh static BINARY"
kind="${1:?$usage}"

# provided.al2023's glibc; a newer symbol version fails at start-up there
# ("version `GLIBC_2.xx' not found").
readonly RUNTIME_GLIBC=2.34
# Every library glibc 2.34 installs that a Rust program may link; each is in
# provided.al2023 (libgcc_s is not asked for: zig links its own unwinder).
readonly GLIBC_LIBRARIES="libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1"

fail() { echo "$binary: $*" >&2; exit 1; }

# Whether readelf's report ($1: its option) on the binary mentions $2. Read
# whole, not piped into `grep -q`: grep stops at the first match, and under
# pipefail readelf's SIGPIPE on the rest of its report would read as no match.
reports() {
  local report
  report="$(readelf "$1" -W "$binary")"
  grep -q -- "$2" <<<"$report"
}

position_independent() {
  reports -h 'Type: *DYN' && reports -d 'Flags:.*PIE' ||
    fail "not position-independent (no ASLR): $1"
}

case "$kind" in
  lambda)
    arch="${2:?$usage}" binary="${3:?$usage}"
    case "$arch" in
      x86_64) machine='X86-64' ;;
      arm64) machine='AArch64' ;;
      *) echo "$usage" >&2; exit 2 ;;
    esac
    how="make build ARCH=$arch"
    position_independent "build it with $how"
    reports -h "Machine:.*$machine" ||
      fail "not an $arch binary ($(readelf -h "$binary" | sed -n 's/ *Machine: *//p')): on Linux, sam build builds for the machine it runs on unless told; use $how"
    needed="$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
    for library in $needed; do
      [[ " $GLIBC_LIBRARIES " == *" $library "* ]] ||
        fail "needs $library, which provided.al2023 does not have"
    done
    newest="$(readelf -V -W "$binary" | { grep -o 'GLIBC_[0-9][0-9.]*' || true; } | sed 's/GLIBC_//' | sort -uV | tail -1)"
    [[ -n "$newest" ]] || fail "names no glibc version: is it the gnu target's build ($how)?"
    [[ "$(printf '%s\n%s\n' "$newest" "$RUNTIME_GLIBC" | sort -V | tail -1)" == "$RUNTIME_GLIBC" ]] ||
      fail "needs GLIBC_$newest; provided.al2023 has $RUNTIME_GLIBC"
    echo "$binary: $arch PIE, needs $(echo $needed | tr ' ' ','), glibc <= $newest"
    ;;
  static)
    binary="${2:?$usage}"
    if reports -l INTERP || reports -d NEEDED; then
      fail "dynamically linked: build it with make release"
    fi
    position_independent "build it with make release"
    echo "$binary: static-pie"
    ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
