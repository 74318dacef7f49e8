#!/usr/bin/env bash
# Fails unless BINARY is static (no interpreter, no shared library: it needs
# nothing of the system but the kernel) and position-independent
# (static-pie: the kernel loads it at a random address, ASLR).
# Used for the function's bootstrap and for layerctl's static binary.
set -euo pipefail
binary="${1:?usage: check-static.sh BINARY [HOW_TO_BUILD]}"
build="${2:-make build}"
if readelf -l "$binary" | grep -q INTERP || readelf -d "$binary" | grep -q NEEDED; then
  echo "$binary is dynamically linked: build it with $build" >&2
  exit 1
fi
if ! readelf -h "$binary" | grep -q 'Type: *DYN' || ! readelf -d "$binary" | grep -q 'Flags:.*PIE'; then
  echo "$binary is not position-independent (no ASLR): build it with $build" >&2
  exit 1
fi
echo "$binary: static-pie"
