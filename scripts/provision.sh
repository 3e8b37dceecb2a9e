#!/usr/bin/env bash
# Everything the test suite needs beyond Node and the npm packages, provisioned once into the cache
# before any test starts (npm test runs this first; tests only look tools up):
#   Kafka's jars (Maven Central), FerretDB (Go module proxy), a Python environment with grpcio and
#   kubernetes-validate (PyPI), promtool (Debian's prometheus package) and Chromium (Debian).
# Usage: scripts/provision.sh            provision what is missing, the independent parts at once
#        scripts/provision.sh path TOOL  print where TOOL (python, promtool) is, building nothing
# Safe to run twice at the same time: each tool is built once, under a lock (scripts/lib/provision.sh).
set -euo pipefail
. "$(dirname "$0")/lib/service.sh"

requirements="$ROOT/test/python/requirements.txt"
PYTHON_NAME="python-$(cksum <"$requirements" | cut -d' ' -f1)"

# A virtual environment survives the rename into place: its interpreter finds pyvenv.cfg beside
# itself, and the tests run its tools as modules (python -m …), not through scripts with absolute paths.
build_python() { # staging
  require python3 "for the cross-language gRPC client test" "Install Python 3.9 or newer with venv."
  say "creating a Python environment for the tests (once)"
  python3 -m venv "$1" && "$1/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
}

# Debian's prometheus package ships promtool; unpacked (not installed), it needs no root and starts no
# service. Building it from the Go module proxy instead compiles all of Prometheus (about 5 minutes).
build_promtool() { # staging
  require apt-get "to fetch Debian's prometheus package for promtool" "Put a promtool on PATH instead."
  (cd "$1" && apt-get download -qq prometheus 2>/dev/null) || {
    # The package lists are stale or absent; refreshing them needs root.
    [ "$(id -u)" = 0 ] || { say "apt-get download prometheus failed; run apt-get update, or put a promtool on PATH"; return 1; }
    apt_locked apt-get update -qq && (cd "$1" && apt-get download -qq prometheus)
  } || return 1
  dpkg-deb -x "$1"/prometheus_*.deb "$1/package" &&
    mv "$1/package/usr/bin/promtool" "$1/promtool" &&
    rm -rf "$1/package" "$1"/prometheus_*.deb
}
promtool_path() {
  if command -v promtool >/dev/null 2>&1; then command -v promtool; else echo "$CACHE_DIR/promtool/promtool"; fi
}

# dpkg takes one apt-get at a time and fails the others; the lock makes them wait instead.
apt_locked() { mkdir -p "$CACHE_DIR" && flock "$CACHE_DIR/.apt.lock" "$@"; }

# Debian's Chromium for the browser test (no tool may download a browser of its own): installed when
# missing and this user may run apt-get; otherwise says how, and the browser test names the problem.
chromium() {
  [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium for the browser test (once)"
    apt_locked sh -c '[ -x /usr/bin/chromium ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }'
  else
    say "warning: no Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium}; install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH"
  fi
}

all() {
  started=$(date +%s)
  pids=()
  bash "$ROOT/scripts/kafka.sh" fetch & pids+=($!)
  bash "$ROOT/scripts/ferretdb.sh" build & pids+=($!)
  provision "$PYTHON_NAME" build_python >/dev/null & pids+=($!)
  { chromium && { command -v promtool >/dev/null 2>&1 || provision promtool build_promtool >/dev/null; }; } & pids+=($!)
  failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ "$failed" = 0 ] || die "provisioning failed (see above)"
  say "provisioned in $(($(date +%s) - started)) s"
}

case "${1:-}" in
"") all ;;
path)
  case "${2:-}" in
  python) echo "$(provisioned "$PYTHON_NAME")/bin/python" ;;
  promtool)
    path=$(promtool_path)
    [ -x "$path" ] || die "promtool is not provisioned; run sh scripts/provision.sh (npm test does)"
    echo "$path"
    ;;
  *) die "usage: $0 path python|promtool" ;;
  esac
  ;;
*) die "usage: $0 [path python|promtool]" ;;
esac
