#!/usr/bin/env bash
# Run every test: install what they need if missing, then the Rust unit and integration
# tests (real redis-server and PostgreSQL processes, real Socket.IO clients, real
# sandboxes and compilers, headless Chromium).
#
# Tests named `timing_*` assert bounds on latency or on scheduling (a flood's effect on a
# quiet client's acks, a lease renewal blocked for a set time, one map per period): they
# run after the rest, one at a time, so that the suite's own load on a small machine
# does not decide them. Arguments go to a single `cargo test` run instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
if [ $# -gt 0 ]; then
  exec cargo test --locked "$@"
fi
cargo test --locked -- --skip timing_
echo "==> timing-sensitive tests, one at a time"
cargo test --locked --test it timing_ -- --test-threads=1
