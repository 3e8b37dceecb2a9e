#!/bin/sh
# Runs the relay as in production: compiled to JavaScript first (see tsconfig.build.json), with a heap
# bounded so that memory follows the configured buffers rather than V8's appetite.
set -eu
cd "$(dirname "$0")/.."
tsc -p tsconfig.build.json
exec node --max-old-space-size=256 dist/relay/main.js
