#!/bin/sh
# Prints the path of a Go command-line tool the benchmark uses (ghz, vegeta), building it from the Go
# module proxy into the cache once: scripts/go-tool.sh <name> <module path> <version>.
set -eu
name=$1
module=$2
version=$3
CACHE_DIR=${BEHAVIOR_INGEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/behavior-ingest}
bin="$CACHE_DIR/$name-$version/$name"
if [ ! -x "$bin" ]; then
  echo "building $name $version from the Go module proxy (once)" >&2
  GOBIN="$CACHE_DIR/$name-$version" go install "$module@$version" >&2
fi
echo "$bin"
