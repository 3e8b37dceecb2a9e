#!/bin/sh
# The whole check suite, run by `npm test` and CI: types, lint, then the tests.
set -eu
cd "$(dirname "$0")/.."
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
echo "== tests"
sh scripts/chromium.sh
# Built before the tests start, so that a fresh machine's build does not count against their time.
sh scripts/promtool.sh >/dev/null
report=$(mktemp)
rc=0
vitest run --reporter=default --reporter=json --outputFile.json="$report" || rc=$?
# A plain closing line that any CI can read, whatever the runner prints.
node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`)' "$report" || true
rm -f "$report"
exit "$rc"
