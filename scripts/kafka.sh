#!/usr/bin/env bash
# A local single-node Apache Kafka broker (KRaft, broker + controller in one process), run from the
# Maven Central jars on the installed Java. Usage: scripts/kafka.sh start|stop|status|wipe|tool CLASS ARGS…
#   KAFKA_PORT (9092) and KAFKA_CONTROLLER_PORT (9093) choose the ports.
#   `tool` runs one of Kafka's own tools on the same classpath, e.g.
#   scripts/kafka.sh tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server 127.0.0.1:9092 …
set -euo pipefail
. "$(dirname "$0")/lib/service.sh"

KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/scripts/kafka/pom.xml")
HOST=127.0.0.1
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
# Keyed by the pom's checksum, so a changed dependency list fetches afresh.
LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION-$(cksum <"$ROOT/scripts/kafka/pom.xml" | cut -d' ' -f1)/libs"
DATA="$DEV_DIR/kafka"
PID_FILE="$DATA/kafka.pid"
LOG_FILE="$LOG_DIR/kafka.log"

# Resolves the broker, its tools and a Log4j 2 binding once; later runs reuse the cache.
fetch() {
  [ -f "$LIBS/.complete" ] && return
  require java "to run the Kafka broker" "Install a JDK 17 or newer (apt-get install openjdk-17-jre-headless)."
  require mvn "to fetch the Kafka jars from Maven Central" "Install Maven (apt-get install maven)."
  say "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $LIBS (once)"
  staging="$LIBS.staging.$$"
  rm -rf "$staging"
  mkdir -p "$LOG_DIR"
  if ! mvn -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$staging" >"$LOG_DIR/kafka-fetch.log" 2>&1; then
    tail -n 30 "$LOG_DIR/kafka-fetch.log" >&2
    die "Maven could not fetch the Kafka jars; see $LOG_DIR/kafka-fetch.log"
  fi
  touch "$staging/.complete"
  rm -rf "$LIBS"
  mv "$staging" "$LIBS"
}

java_opts() { # log4j2 config: the broker's, or the tools'
  echo "-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Dsun.stdout.encoding=UTF-8 -Dlog4j2.configurationFile=$DATA/${1:-log4j2}.properties"
}

write_config() {
  mkdir -p "$DATA" "$LOG_DIR"
  cat >"$DATA/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA/log
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
EOF
  for config in log4j2:"$LOG_FILE" tools-log4j2:"$LOG_DIR/kafka-tools.log"; do
    cat >"$DATA/${config%%:*}.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${config#*:}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
EOF
  done
}

run_tool() { # main class, args…
  # shellcheck disable=SC2046
  java $(java_opts tools-log4j2) -cp "$LIBS/*" "$@"
}

started() { port_open "$HOST" "$PORT" && grep -q "Kafka Server started" "$LOG_FILE" 2>/dev/null; }

start() {
  if pid=$(running_pid "$PID_FILE"); then
    say "kafka is already running (pid $pid) on $HOST:$PORT"
    return
  fi
  if port_open "$HOST" "$PORT" || port_open "$HOST" "$CONTROLLER_PORT"; then
    die "port $PORT or $CONTROLLER_PORT on $HOST is already in use by another process; stop it, or set KAFKA_BROKERS to use that broker instead"
  fi
  fetch
  write_config
  if [ ! -f "$DATA/log/meta.properties" ]; then
    cluster_id=$(run_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    run_tool kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$DATA/server.properties" \
      >>"$LOG_FILE" 2>&1 || die "formatting the Kafka storage failed; see $LOG_FILE"
  fi
  : >"$LOG_FILE.stdout"
  say "starting kafka $KAFKA_VERSION on $HOST:$PORT (log: $LOG_FILE)"
  # setsid: the broker outlives this script and is not stopped by a Ctrl-C meant for a foreground command.
  setsid bash -c "exec java $(java_opts) -cp '$LIBS/*' kafka.Kafka '$DATA/server.properties'" \
    >>"$LOG_FILE.stdout" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  if ! wait_until 90 "$!" "kafka" started; then
    tail -n 20 "$LOG_FILE.stdout" "$LOG_FILE" >&2 2>/dev/null || true
    stop_pid_file "$PID_FILE" kafka
    die "kafka did not start; see $LOG_FILE"
  fi
  say "kafka is up on $HOST:$PORT"
}

status() {
  if pid=$(running_pid "$PID_FILE") && started; then
    echo "kafka: running (pid $pid) on $HOST:$PORT"
  elif port_open "$HOST" "$PORT"; then
    echo "kafka: $HOST:$PORT is answering, but not a broker started by this script"
  else
    echo "kafka: stopped"
    return 3
  fi
}

case "${1:-}" in
start) start ;;
stop) stop_pid_file "$PID_FILE" kafka ;;
status) status ;;
wipe)
  stop_pid_file "$PID_FILE" kafka
  rm -rf "$DATA"
  say "kafka data wiped"
  ;;
tool)
  shift
  fetch
  mkdir -p "$DATA" "$LOG_DIR"
  [ -f "$DATA/tools-log4j2.properties" ] || write_config
  run_tool "$@"
  ;;
*) die "usage: $0 start|stop|status|wipe|tool CLASS ARGS…" ;;
esac
