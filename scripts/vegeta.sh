#!/bin/sh
# Prints the path of vegeta (the constant-rate HTTP load tool the benchmark drives REST and the edge
# with), building it from the Go module proxy into the cache once.
set -eu
VEGETA_VERSION=v12.13.0
CACHE_DIR=${BEHAVIOR_INGEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/behavior-ingest}
bin="$CACHE_DIR/vegeta-$VEGETA_VERSION/vegeta"
if [ ! -x "$bin" ]; then
  echo "building vegeta $VEGETA_VERSION from the Go module proxy (once)" >&2
  GOBIN="$CACHE_DIR/vegeta-$VEGETA_VERSION" go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION" >&2
fi
echo "$bin"
