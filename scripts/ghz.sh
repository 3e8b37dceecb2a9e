#!/bin/sh
# Prints the path of ghz (the gRPC load tool the benchmark checks its own generator with), building it
# from the Go module proxy into the cache once.
set -eu
GHZ_VERSION=v0.120.0
CACHE_DIR=${BEHAVIOR_INGEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/behavior-ingest}
bin="$CACHE_DIR/ghz-$GHZ_VERSION/ghz"
if [ ! -x "$bin" ]; then
  echo "building ghz $GHZ_VERSION from the Go module proxy (once)" >&2
  GOBIN="$CACHE_DIR/ghz-$GHZ_VERSION" go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION" >&2
fi
echo "$bin"
