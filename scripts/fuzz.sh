#!/usr/bin/env bash
# Fuzz the HTTP APIs from their own OpenAPI documents (GET /api/openapi.json) with
# schemathesis: a running two-instance arena (`arena demo`, dev auth, plus an admin token
# so the admin routes answer past their guard in any mode), and a judge's own API
# (`arena judge --port`, on the demo's Redis). Fails on any 5xx, any status the document
# does not list, and any body or content type that breaks the schema.
#   scripts/fuzz.sh   # FUZZ_EXAMPLES (default 50) cases per operation and instance,
#                     # FUZZ_JUDGE_EXAMPLES (default 25) per operation of the judge
# schemathesis comes from PyPI into a venv under target/ (scripts/deps.sh fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh fuzz
st="$PWD/target/fuzz/venv/bin/st"
examples=${FUZZ_EXAMPLES:-50}
# The judge's execute runs a real program in the sandbox for each valid case (its
# document lists the judge's languages, so most are: ~30 ms for python, a compile first
# for C/C++/Rust), and its queued submissions are judged in the background: half the
# instances' cap keeps the step short. Its coverage phase (not bounded by the cap) runs
# each language at least once: about 30 s of the step on a busy 2-core host.
judge_examples=${FUZZ_JUDGE_EXAMPLES:-25}

cargo build --locked --quiet --bin arena
arena=target/debug/arena

work=$(mktemp -d)
demo_pid=""
judge_pid=""
cleanup() {
  for pid in "$judge_pid" "$demo_pid"; do
    if [ -n "$pid" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Three free ports side by side (the demo takes P and P+1, the judge P+2).
port=$(python3 - <<'EOF'
import socket
for p in range(20000 + __import__("os").getpid() % 20000, 60000, 3):
    try:
        socks = [socket.socket() for _ in range(3)]
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

# wait_health PORT PID LOG TRIES: until http://127.0.0.1:PORT/health answers (every 0.2 s).
wait_health() {
  for _ in $(seq 1 "$4"); do
    python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$1/health', timeout=2)" \
      >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3"; exit 1; }
    sleep 0.2
  done
  echo "==> nothing answers on port $1"
  cat "$3"
  exit 1
}
for i in 0 1; do
  wait_health $((port + i)) "$demo_pid" "$work/demo.log" 300
done
token=$("$arena" token --player fuzz-admin --admin --ttl 1h)

# A judge with its HTTP API, on the demo's Redis (the demo's own judge has no port).
redis_url=$(grep -o 'redis://127\.0\.0\.1:[0-9]*' "$work/demo.log" | head -n 1)
[ -n "$redis_url" ] || { echo "==> no Redis URL in the demo's log"; cat "$work/demo.log"; exit 1; }
env -u DATABASE_URL REDIS_URL="$redis_url" JUDGE_ID=fuzz-judge JUDGE_PORT=$((port + 2)) \
  "$arena" judge >"$work/judge.log" 2>&1 &
judge_pid=$!
# Its start builds the C++ precompiled header when the cache has none: up to a minute.
wait_health $((port + 2)) "$judge_pid" "$work/judge.log" 600

# fuzz NAME BASE EXAMPLES [ARGS...]: schemathesis against BASE from its own document.
# All three phases: examples (the document's), coverage (each schema's edges and
# violations), fuzzing. One worker: with two, schemathesis 4.32.5's coverage phase
# crashes now and then on Python 3.11 ("SystemError: AST constructor recursion depth
# mismatch" in hypothesis' internal/lambda_sources.py `ast.parse`, reached from the
# coverage phase's _negative_type filters in two threads at once: the AST builder's
# depth counter is the interpreter's, shared by the threads; cf. CPython gh-106905). An
# interpreter bug, not the document: it never happens with one worker, whatever the
# operation. One worker was no slower here: the servers' answers set the pace.
# Run from the scratch folder: schemathesis leaves a .schemathesis/ cache where it runs.
# The report names each failing case with a curl line.
fuzz() {
  local name=$1 base=$2 n=$3
  shift 3
  echo "==> schemathesis against $name ($n cases per operation)"
  (cd "$work" && "$st" run "$base/api/openapi.json" \
    --url "$base" \
    "$@" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$n" \
    --phases examples,coverage,fuzzing \
    --generation-database none \
    --request-timeout 15 \
    --workers 1 \
    --no-color)
}

status=0
for i in 0 1; do
  fuzz "instance $i" "http://127.0.0.1:$((port + i))" "$examples" \
    -H "Authorization: Bearer $token" || status=1
done
fuzz "the judge" "http://127.0.0.1:$((port + 2))" "$judge_examples" || status=1
if [ "$status" -ne 0 ]; then
  echo "==> the API fuzz failed; the instances' log:"
  tail -n 50 "$work/demo.log"
  echo "==> the judge's log:"
  tail -n 50 "$work/judge.log"
fi
exit "$status"
