#!/usr/bin/env bash
# Install what arena needs from Debian's packages, only where it is missing.
#   scripts/deps.sh demo   -> redis-server, the judge's sandbox and compilers (bubblewrap, gcc, g++, python3)
#   scripts/deps.sh test   -> the same, redis-tools, chromium, node + npm, tests/ui npm packages,
#                             postgresql (the records tests' private server); `arena problems check`
#                             runs the bank's solutions with python3, gcc, g++
#   scripts/deps.sh node-stack -> the demo's, node + npm, bench/node-stack's npm packages (the
#                             Node stack of `scripts/bench.sh side-by-side`)
#   scripts/deps.sh fuzz   -> schemathesis (PyPI, pinned) in a venv under target/fuzz/ for
#                             scripts/fuzz.sh; python3-venv from Debian if venv is missing
set -euo pipefail
cd "$(dirname "$0")/.."

# The API fuzzer's pinned version: a new schemathesis can add checks that fail a run.
SCHEMATHESIS=4.32.5
venv=target/fuzz/venv

want=(redis-server bwrap gcc g++ python3)
[ "${1:-demo}" = test ] && want+=(redis-cli chromium node npm)
[ "${1:-demo}" = node-stack ] && want+=(redis-cli node npm)

pkg_for() {
  case "$1" in
    redis-server) echo redis-server ;;
    bwrap) echo bubblewrap ;;
    gcc) echo gcc ;;
    g++) echo g++ ;;
    python3) echo python3 ;;
    redis-cli) echo redis-tools ;;
    chromium) echo chromium ;;
    node) echo nodejs ;;
    npm) echo npm ;;
  esac
}

missing=()
for cmd in "${want[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$(pkg_for "$cmd")")
done
# The records tests start a private PostgreSQL from the package's binaries, which are
# not on PATH (/usr/lib/postgresql/<version>/bin).
pg_wanted=0
if [ "${1:-demo}" = test ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
  pg_wanted=1
fi

# Debian splits venv (with ensurepip) out of python3.
if [ "${1:-demo}" = fuzz ] && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi

# apt can fail on a flaky mirror: one retry after a pause.
apt_install() {
  $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ "$pg_wanted" = 1 ]; then
    # The package would create (and try to start) a system cluster; the tests need only
    # the binaries.
    $sudo mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/arena.conf >/dev/null
  fi
  echo "==> installing ${missing[*]} (apt-get)"
  if ! apt_install "${missing[@]}"; then
    echo "==> apt-get failed; retrying once in 10 s"
    sleep 10
    apt_install "${missing[@]}"
  fi
fi

if [ "${1:-demo}" = test ]; then
  # The browser and stock-client checks' npm packages (lock file pinned; no browser download).
  if [ ! -d tests/ui/node_modules ] || [ tests/ui/package-lock.json -nt tests/ui/node_modules ]; then
    echo "==> npm ci (tests/ui)"
    npm ci --prefix tests/ui --no-audit --no-fund --loglevel=error ||
      { sleep 10; npm ci --prefix tests/ui --no-audit --no-fund --loglevel=error; }
  fi
fi

if [ "${1:-demo}" = node-stack ] || [ "${1:-demo}" = test ]; then
  # The Node stack compared with arena (lock file pinned); its start is tested too.
  if [ ! -d bench/node-stack/node_modules ] || [ bench/node-stack/package-lock.json -nt bench/node-stack/node_modules ]; then
    echo "==> npm ci (bench/node-stack)"
    npm ci --prefix bench/node-stack --no-audit --no-fund --loglevel=error ||
      { sleep 10; npm ci --prefix bench/node-stack --no-audit --no-fund --loglevel=error; }
  fi
fi

if [ "${1:-demo}" = fuzz ]; then
  # Cached under target/: a second run finds the pinned version and does nothing.
  if ! "$venv/bin/st" --version 2>/dev/null | grep -q "version $SCHEMATHESIS\$"; then
    echo "==> pip install schemathesis==$SCHEMATHESIS (target/fuzz/venv)"
    pip_install() {
      rm -rf "$venv" &&
        python3 -m venv "$venv" &&
        "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS"
    }
    pip_install || { echo "==> pip failed; retrying once in 10 s"; sleep 10; pip_install; }
  fi
fi
