#!/usr/bin/env bash
# Fuzz the HTTP API from its own OpenAPI document (GET /api/openapi.json) with
# schemathesis, against a running two-instance arena (`arena demo`, dev auth, plus an
# admin token so the admin routes answer past their guard in any mode). Fails on any
# 5xx, any status the document does not list, and any body or content type that breaks
# the schema.
#   scripts/fuzz.sh            # FUZZ_EXAMPLES (default 50) cases per operation and instance
# schemathesis comes from PyPI into a venv under target/ (scripts/deps.sh fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh fuzz
st="$PWD/target/fuzz/venv/bin/st"
examples=${FUZZ_EXAMPLES:-50}

cargo build --locked --quiet --bin arena
arena=target/debug/arena

work=$(mktemp -d)
demo_pid=""
cleanup() {
  if [ -n "$demo_pid" ]; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Two free ports side by side (the demo takes P and P+1).
port=$(python3 - <<'EOF'
import socket
for p in range(20000 + __import__("os").getpid() % 20000, 60000, 2):
    try:
        socks = [socket.socket() for _ in range(2)]
        for i, s in enumerate(socks):
            s.bind(("127.0.0.1", p + i))
        for s in socks:
            s.close()
        print(p)
        break
    except OSError:
        continue
EOF
)

secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export ARENA_TOKEN_SECRET="$secret"
env -u REDIS_URL -u PORT -u DATABASE_URL ARENA_AUTH=dev DATA_DIR="$work" \
  "$arena" demo --instances 2 --port "$port" >"$work/demo.log" 2>&1 &
demo_pid=$!

for i in 0 1; do
  for _ in $(seq 1 300); do
    python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$((port + i))/health', timeout=2)" \
      >/dev/null 2>&1 && break
    kill -0 "$demo_pid" 2>/dev/null || { cat "$work/demo.log"; exit 1; }
    sleep 0.2
  done
done
token=$("$arena" token --player fuzz-admin --admin --ttl 1h)

status=0
for i in 0 1; do
  base="http://127.0.0.1:$((port + i))"
  echo "==> schemathesis against instance $i ($examples cases per operation)"
  # The coverage phase is left out: schemathesis 4.32.5 crashes in it on this document
  # (an internal hypothesis error, not an API failure). The report names each failing
  # case with a curl line.
  # Run from the scratch folder: schemathesis leaves a .schemathesis/ cache where it runs.
  (cd "$work" && "$st" run "$base/api/openapi.json" \
    --url "$base" \
    -H "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" \
    --phases examples,fuzzing \
    --generation-database none \
    --request-timeout 15 \
    --workers 2 \
    --no-color) || status=1
done
if [ "$status" -ne 0 ]; then
  echo "==> the API fuzz failed; the instances' log:"
  tail -n 50 "$work/demo.log"
fi
exit "$status"
