#!/bin/sh
# Runs the relay as in production: compiled to JavaScript first (see tsconfig.build.json), with a heap
# bounded so that memory follows the configured buffers rather than V8's appetite. RELAY_HEAP_MB (256)
# sets the bound; a relay serving thousands of active tenants needs more (docs/tenant-directory.md).
# RELAY_PROF=<dir> writes a V8 CPU profile of the run there (NODE_OPTIONS may not carry --cpu-prof).
set -eu
cd "$(dirname "$0")/.."
tsc -p tsconfig.build.json
exec node --max-old-space-size="${RELAY_HEAP_MB:-256}" ${RELAY_PROF:+--cpu-prof --cpu-prof-dir=$RELAY_PROF} dist/relay/main.js
