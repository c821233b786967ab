#!/usr/bin/env bash
# Runs every benchmark in BENCHMARKS.md on this machine, release builds throughout.
# Usage: scripts/bench.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p connector-host
cargo build --release -q -p connector-tests --bin bench
# The peer: Socket's official Python SDK, in a private virtualenv.
if [ ! -x target/bench-venv/bin/python ]; then
  python3 -m venv target/bench-venv
  target/bench-venv/bin/pip install -q socketdev==3.6.2
fi
export PEER_PYTHON=target/bench-venv/bin/python
bench=target/release/bench
"$bench" start "$@"
"$bench" mapping "$@"
"$bench" sync --alerts 20000 "$@"
"$bench" sync --alerts 100000 "$@"
