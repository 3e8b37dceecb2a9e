#!/bin/sh
# The whole check suite, run by `npm test` and CI: types, lint, then the tests.
set -eu
cd "$(dirname "$0")/.."
echo "== type-check"
tsc -p tsconfig.json
tsc -p src/core/tsconfig.json
echo "== lint"
biome ci .
echo "== tests"
vitest run
