#!/bin/sh
# The whole check suite, run by `npm test` and CI: types, lint, then the tests.
set -eu
cd "$(dirname "$0")/.."
# Provisioning mostly waits on registries and builds FerretDB; it runs beside the checks below, and
# the tests start only once it is done.
provisioning=$(mktemp)
bash scripts/provision.sh >"$provisioning" 2>&1 &
provisioner=$!
echo "== type-check"
tsc -p tsconfig.json
tsc -p src/core/tsconfig.json
tsc -p workers/tsconfig.json
echo "== contract: buf lint, generated code up to date"
(cd protos && buf lint)
generated=$(mktemp -d)
buf generate -o "$generated"
diff -r src/gen "$generated/src/gen" || { echo "src/gen is stale: run npm run gen:proto" >&2; exit 1; }
rm -rf "$generated"
echo "== lint"
biome ci .
echo "== provisioning (what the tests need; once, into the cache)"
provisioned=0
wait "$provisioner" || provisioned=$?
cat "$provisioning"
rm -f "$provisioning"
[ "$provisioned" = 0 ] || exit "$provisioned"
echo "== tests"
report=$(mktemp)
rc=0
vitest run --reporter=default --reporter=json --outputFile.json="$report" || rc=$?
# A plain closing line that any CI can read, whatever the runner prints, and the ten slowest files (so
# that a file growing slower shows). A file that fails before or outside its tests (a hook, an import)
# has no failed test, so failed files are counted apart.
node scripts/test-summary.ts "$report" || echo "tests: no report (vitest exited $rc)"
rm -f "$report"
exit "$rc"
