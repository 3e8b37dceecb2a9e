#!/bin/sh
# Runs the relay as in production: compiled to JavaScript first (see tsconfig.build.json), with a heap
# bounded so that memory follows the configured buffers rather than V8's appetite. RELAY_HEAP_MB (1024)
# sets the bound: sized for 10,000 active tenants, whose relay holds 120–300 MB of live heap (bounded to
# 256 MB it spent most of its CPU collecting garbage, and once ran out of heap; docs/operations.md).
# RELAY_PROF=<dir> writes a V8 CPU profile of the run there (NODE_OPTIONS may not carry --cpu-prof).
set -eu
cd "$(dirname "$0")/.."
tsc -p tsconfig.build.json
exec node --max-old-space-size="${RELAY_HEAP_MB:-1024}" ${RELAY_PROF:+--cpu-prof --cpu-prof-dir=$RELAY_PROF} dist/relay/main.js
