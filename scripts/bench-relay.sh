#!/bin/sh
# Runs the relay benchmark against KAFKA_BROKERS, or the local broker (started here when none answers).
set -eu
cd "$(dirname "$0")/.."
started=""
if [ -z "${KAFKA_BROKERS:-}" ] && ! bash scripts/kafka.sh status >/dev/null 2>&1; then
  bash scripts/kafka.sh start
  started=yes
fi
rc=0
node bench/relay-grpc.bench.ts || rc=$?
[ -n "$started" ] && bash scripts/kafka.sh stop
exit "$rc"
