#!/usr/bin/env bash
# Run every test: install what they need if missing, then the Rust unit and integration
# tests (real redis-server processes, real Socket.IO clients, headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
cargo test --locked "$@"
