#!/usr/bin/env bash
# Runs a command with one moto server (the project's pinned one, from .venv)
# on a free loopback port, named by MOTO_ENDPOINT: every test binary of
# `make unit` shares it instead of starting its own. Stops it afterwards.
set -euo pipefail
venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; wait $moto 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done
MOTO_ENDPOINT="http://127.0.0.1:$port" "$@"
