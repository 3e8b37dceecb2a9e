#!/bin/sh
# Prints the path of a Go command-line tool the benchmark uses (ghz, vegeta), building it from the Go
# module proxy into the cache once: scripts/go-tool.sh <name> <module path> <version>.
set -eu
name=$1
module=$2
version=$3
. "$(dirname "$0")/lib/provision.sh"
build_go_tool() { # staging
  echo "building $name $version from the Go module proxy (once)"
  GOBIN="$1" go install "$module@$version"
}
echo "$(provision "$name-$version" build_go_tool)/$name"
