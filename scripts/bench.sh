#!/usr/bin/env bash
# Runs every benchmark in BENCHMARKS.md on this machine, release builds throughout.
# Usage: scripts/bench.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p connector-host
cargo build --release -q -p connector-tests --bin bench
bench=target/release/bench
"$bench" start "$@"
"$bench" mapping "$@"
"$bench" sync --alerts 20000 "$@"
"$bench" sync --alerts 100000 "$@"
