#!/usr/bin/env bash
# A local MongoDB-wire server: FerretDB v1 with its SQLite backend, built from the Go module proxy.
# Usage: scripts/ferretdb.sh build|start|stop|status|wipe.  MONGODB_PORT (27017) chooses the port.
# Any real MongoDB can replace it: set MONGODB_URI and nothing here is started.
set -euo pipefail
. "$(dirname "$0")/lib/service.sh"

FERRETDB_VERSION=v1.24.2
# Our one change to its source (see build_ferretdb); a new tag here rebuilds the cached binary.
FERRETDB_BUILD=$FERRETDB_VERSION-id-index
HOST=127.0.0.1
PORT=${MONGODB_PORT:-27017}
BIN="$CACHE_DIR/ferretdb-$FERRETDB_BUILD/ferretdb"
DATA="$DEV_DIR/ferretdb"
PID_FILE="$DATA/ferretdb.pid"
LOG_FILE="$LOG_DIR/ferretdb.log"

# Builds the binary once. FerretDB embeds its version from a file its own release tooling writes, so
# the module source is copied out of the read-only module cache and that file is filled in first.
# One line is patched: v1.24.2's SQLite backend looks `_id` up as `_ferretdb_sjson->'$._id'` while its
# unique `_id` index is on `_ferretdb_sjson->"_id"`. SQLite uses an index only for the very expression
# it was built on, so every find, update and delete by `_id` scanned the whole table: an upsert into a
# collection of 2,000 documents took 25 ms, into one of 20,000 seconds (docs/local-services.md). Written
# as `->'_id'` (the same JSON path) the lookup uses the index.
build_ferretdb() { # staging
  require go "to build FerretDB" "Install Go 1.24 or newer (apt-get install golang, or from go.dev)."
  say "building FerretDB $FERRETDB_VERSION from the Go module proxy into $BIN (once, a few minutes)"
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -d "$src" ] || { say "could not download github.com/FerretDB/FerretDB@$FERRETDB_VERSION from the Go module proxy"; return 1; }
  cp -r "$src/." "$1/src"
  chmod -R u+w "$1/src"
  echo "$FERRETDB_VERSION" >"$1/src/build/version/version.txt"
  metadata="$1/src/internal/backends/sqlite/metadata/metadata.go"
  sed -i "s/IDColumn = DefaultColumn + \"->'\\\$\._id'\"/IDColumn = DefaultColumn + \"->'_id'\"/" "$metadata"
  grep -q "IDColumn = DefaultColumn + \"->'_id'\"" "$metadata" || { say "the _id index patch no longer applies to $metadata"; return 1; }
  (cd "$1/src" && go build -buildvcs=false -trimpath -o "$1/ferretdb" ./cmd/ferretdb) || return 1
  rm -rf "$1/src"
}
build() { provision "ferretdb-$FERRETDB_BUILD" build_ferretdb >/dev/null; }

start() {
  if pid=$(running_pid "$PID_FILE"); then
    say "ferretdb is already running (pid $pid) on $HOST:$PORT"
    return
  fi
  port_open "$HOST" "$PORT" &&
    die "port $PORT on $HOST is already in use by another process; stop it, or set MONGODB_URI to use that server instead"
  build
  mkdir -p "$DATA/sqlite" "$LOG_DIR"
  : >"$LOG_FILE"
  say "starting ferretdb $FERRETDB_VERSION on $HOST:$PORT (log: $LOG_FILE)"
  setsid "$BIN" --handler=sqlite --sqlite-url="file:$DATA/sqlite/" --state-dir="$DATA" \
    --listen-addr="$HOST:$PORT" --debug-addr=127.0.0.1:0 --telemetry=disable \
    --log-level=warn --log-format=text >>"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  if ! wait_until 30 "$!" "ferretdb" port_open "$HOST" "$PORT"; then
    tail -n 20 "$LOG_FILE" >&2 || true
    stop_pid_file "$PID_FILE" ferretdb
    die "ferretdb did not start; see $LOG_FILE"
  fi
  say "ferretdb is up on $HOST:$PORT"
}

status() {
  if pid=$(running_pid "$PID_FILE") && port_open "$HOST" "$PORT"; then
    echo "ferretdb: running (pid $pid) on $HOST:$PORT"
  elif port_open "$HOST" "$PORT"; then
    echo "ferretdb: $HOST:$PORT is answering, but not a server started by this script"
  else
    echo "ferretdb: stopped"
    return 3
  fi
}

case "${1:-}" in
build) build ;;
start) start ;;
stop) stop_pid_file "$PID_FILE" ferretdb ;;
status) status ;;
wipe)
  stop_pid_file "$PID_FILE" ferretdb
  rm -rf "$DATA"
  say "ferretdb data wiped"
  ;;
*) die "usage: $0 build|start|stop|status|wipe" ;;
esac
