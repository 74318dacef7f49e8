#!/usr/bin/env bash
# The linker of the arm64 function (.cargo/config.toml): Debian's cross gcc,
# linking a static-pie as rustc does for x86_64. rustc's target spec for
# aarch64-unknown-linux-musl (unlike x86_64's) does not claim static-pie, so
# rustc asks for a static binary at a fixed address (no ASLR), although the
# code is position-independent and rustc ships musl's static-pie start files
# for it (rcrt1.o, crtbeginS.o, crtendS.o). This passes the same objects and
# flags with those start files and -static-pie instead; make check-binary
# ARCH=arm64 fails if the result is not a static-pie.
set -euo pipefail
args=()
for arg in "$@"; do
  case "$arg" in
    */crt1.o) args+=("${arg%crt1.o}rcrt1.o") ;;
    */crtbegin.o) args+=("${arg%crtbegin.o}crtbeginS.o") ;;
    */crtend.o) args+=("${arg%crtend.o}crtendS.o") ;;
    -static) args+=(-static-pie) ;;
    -no-pie) ;;
    *) args+=("$arg") ;;
  esac
done
exec aarch64-linux-gnu-gcc "${args[@]}"
