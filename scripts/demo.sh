#!/usr/bin/env bash
# Bring up the demo: install redis-server if missing, build, run `arena demo`.
# Extra arguments go to `arena demo` (e.g. --instances 3 --port 4000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh demo
cargo build --release --locked
exec target/release/arena demo "$@"
