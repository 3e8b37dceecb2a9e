# Shared by the local service scripts (kafka.sh, ferretdb.sh); sourced, not run.
# Downloads and builds are cached outside the repo; data and logs live in .dev/ (git-ignored, wipeable).

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib/provision.sh"
DEV_DIR=${BEHAVIOR_INGEST_DEV_DIR:-$ROOT/.dev}
LOG_DIR="$DEV_DIR/logs"

die() {
  echo "error: $*" >&2
  exit 1
}

say() { echo "$*" >&2; }

require() { # command, what it is for, how to get it
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed; it is needed $2. $3"
}

# True when something accepts TCP connections on host:port.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# The pid in a pid file, when that process is still alive.
running_pid() {
  [ -f "$1" ] || return 1
  pid=$(cat "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Waits until check_cmd succeeds, the process dies, or the timeout passes.
wait_until() { # seconds, pid, description, check command...
  timeout=$1 pid=$2 what=$3
  shift 3
  deadline=$(($(date +%s) + timeout))
  until "$@"; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(date +%s)" -lt "$deadline" ] || { say "$what did not answer within ${timeout}s"; return 1; }
    sleep 0.3
  done
}

# Stops the process of a pid file: TERM, then KILL after a grace period.
stop_pid_file() { # pid file, name
  if pid=$(running_pid "$1"); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$2 did not stop within 20s; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
    say "$2 stopped"
  else
    say "$2 is not running"
  fi
  rm -f "$1"
}
