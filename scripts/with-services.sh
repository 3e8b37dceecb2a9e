#!/bin/sh
# Runs a command (a benchmark) with the local Kafka and MongoDB-wire server, starting those that do not
# answer and stopping them afterwards. With KAFKA_BROKERS / MONGODB_URI set, those servers are used.
set -eu
cd "$(dirname "$0")/.."
started=""
for service in kafka ferretdb; do
  [ "$service" = kafka ] && [ -n "${KAFKA_BROKERS:-}" ] && continue
  [ "$service" = ferretdb ] && [ -n "${MONGODB_URI:-}" ] && continue
  if ! bash "scripts/$service.sh" status >/dev/null 2>&1; then
    bash "scripts/$service.sh" start
    started="$started $service"
  fi
done
rc=0
"$@" || rc=$?
for service in $started; do bash "scripts/$service.sh" stop; done
exit "$rc"
