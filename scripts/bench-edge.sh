#!/bin/sh
# Runs the edge benchmark against the local Kafka and MongoDB-wire server (started here when none answer).
set -eu
cd "$(dirname "$0")/.."
started=""
for service in kafka ferretdb; do
  if ! bash "scripts/$service.sh" status >/dev/null 2>&1; then
    bash "scripts/$service.sh" start
    started="$started $service"
  fi
done
rc=0
node bench/edge-http.bench.ts || rc=$?
for service in $started; do bash "scripts/$service.sh" stop; done
exit "$rc"
