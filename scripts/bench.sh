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
  # socketdev 3.6.2 asks for certifi>=2026.10.19, newer than some mirrors carry; its code runs
  # with any certifi, so install its dependencies first and the SDK itself without them.
  target/bench-venv/bin/pip install -q requests certifi typing-extensions
  target/bench-venv/bin/pip install -q --no-deps socketdev==3.6.2
fi
export PEER_PYTHON=target/bench-venv/bin/python
bench=target/release/bench
"$bench" start "$@"
"$bench" mapping "$@"
"$bench" sync --alerts 20000 "$@"
"$bench" sync --alerts 100000 "$@"
"$bench" stores --alerts 100000 "$@"
"$bench" fanout "$@"
"$bench" jobs "$@"
"$bench" fair --alerts 60000 "$@"
"$bench" net --alerts 100000 "$@"
"$bench" polyglot "$@"
