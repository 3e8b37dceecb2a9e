#!/usr/bin/env bash
# A local Apache Kafka cluster of one or three KRaft nodes (each a broker and a controller in one
# process), run from the Maven Central jars on the installed Java.
# Usage: scripts/kafka.sh start|stop|status|brokers|fetch|wipe|tool CLASS ARGS…
#        scripts/kafka.sh start-node|stop-node|kill-node|pause-node|resume-node N
#   KAFKA_NODES (1 or 3), KAFKA_PORT (9092: the first node; the others at +100 and +200; each node's
#   controller listens one above its port, or on KAFKA_CONTROLLER_PORT for a single node) and
#   KAFKA_DATA_DIR (.dev/kafka, or .dev/kafka-cluster for three nodes) let two clusters run side by
#   side. Three nodes get replication factor 3 and min.insync.replicas 2 for Kafka's own topics.
#   kill-node sends SIGKILL, pause-node and resume-node SIGSTOP and SIGCONT, for fault tests.
#   KAFKA_SASL_USERS=admin:secret,relay:secret turns the client listener into SASL_PLAINTEXT (PLAIN) with
#   those users and Kafka's StandardAuthorizer: the first user is the super user, the others may do
#   only what ACLs allow them.
#   KAFKA_JVM_OPTS adds JVM options to every node and tool (the tests add -XX:TieredStopAtLevel=1: a
#   broker under test load starts on half the CPU without the optimising compiler).
#   `tool` runs one of Kafka's own tools on the same classpath, e.g.
#   scripts/kafka.sh tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server 127.0.0.1:9092 …
set -euo pipefail
. "$(dirname "$0")/lib/service.sh"

KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/scripts/kafka/pom.xml")
HOST=127.0.0.1
NODES=${KAFKA_NODES:-1}
PORT=${KAFKA_PORT:-9092}
# Keyed by the pom's checksum, so a changed dependency list fetches afresh.
KAFKA_HOME_NAME="kafka-$KAFKA_VERSION-$(cksum <"$ROOT/scripts/kafka/pom.xml" | cut -d' ' -f1)"
LIBS="$CACHE_DIR/$KAFKA_HOME_NAME/libs"
case "$NODES" in 1 | 3) ;; *) die "KAFKA_NODES must be 1 or 3, not $NODES" ;; esac
if [ "$NODES" = 1 ]; then DATA=${KAFKA_DATA_DIR:-$DEV_DIR/kafka}; else DATA=${KAFKA_DATA_DIR:-$DEV_DIR/kafka-cluster}; fi

# Node n (1…NODES): its ports and files. A single node keeps the layout of earlier versions.
node_port() { echo $((PORT + ($1 - 1) * 100)); }
node_controller_port() {
  if [ "$NODES" = 1 ]; then echo "${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"; else echo $(($(node_port "$1") + 1)); fi
}
node_dir() { if [ "$NODES" = 1 ]; then echo "$DATA"; else echo "$DATA/node-$1"; fi; }
node_log() { if [ "$NODES" = 1 ]; then echo "$LOG_DIR/kafka.log"; else echo "$LOG_DIR/kafka-$1.log"; fi; }
node_pid_file() { echo "$(node_dir "$1")/kafka.pid"; }
nodes() { seq 1 "$NODES"; }
brokers() {
  list=""
  for n in $(nodes); do list="$list${list:+,}$HOST:$(node_port "$n")"; done
  echo "$list"
}

# Resolves the broker, its tools and a Log4j 2 binding once; later runs reuse the cache.
fetch_libs() { # staging
  require java "to run the Kafka broker" "Install a JDK 17 or newer (apt-get install openjdk-17-jre-headless)."
  require mvn "to fetch the Kafka jars from Maven Central" "Install Maven (apt-get install maven)."
  say "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $LIBS (once)"
  mkdir -p "$LOG_DIR"
  if ! mvn -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$1/libs" >"$LOG_DIR/kafka-fetch.log" 2>&1; then
    tail -n 30 "$LOG_DIR/kafka-fetch.log" >&2
    say "Maven could not fetch the Kafka jars; see $LOG_DIR/kafka-fetch.log"
    return 1
  fi
}
fetch() { provision "$KAFKA_HOME_NAME" fetch_libs >/dev/null; }

# Class-data sharing: the classes a broker loads, archived by the JVM when a node first stops
# gracefully and mapped by every later JVM here (nodes, storage format, tools), which takes a node's
# start from about 3.8 to 2.4 s of CPU. The archive fits one JVM build, so its name carries the version.
class_archive() { echo "${LIBS%/libs}/classes-$(java -version 2>&1 | head -n 1 | tr -cd 'A-Za-z0-9._-').jsa"; }
node_class_archive() { echo "$(node_dir "$1")/classes.jsa"; }
class_data_opts() { # node, or none for a tool
  if [ -f "$(class_archive)" ]; then
    echo "-XX:SharedArchiveFile=$(class_archive)"
  elif [ -n "${1:-}" ]; then
    echo "-XX:ArchiveClassesAtExit=$(node_class_archive "$1")"
  fi
}
# After a node's graceful stop: the archive its JVM wrote on the way out becomes the shared one, once a
# JVM has mapped it. A JVM killed while writing it (a stop that timed out) leaves a truncated file, and
# mapping a truncated archive crashes the JVM (SIGBUS), so such a file is dropped, never shared.
adopt_class_archive() { # node
  archive=$(node_class_archive "$1")
  [ -f "$archive" ] || return 0
  shared=$(class_archive)
  if [ ! -f "$shared" ] &&
    java -Xshare:on -XX:SharedArchiveFile="$archive" -XX:ErrorFile=/dev/null -cp "$LIBS/*" -version >/dev/null 2>&1; then
    cp "$archive" "$shared.$$" && mv "$shared.$$" "$shared"
  fi
  rm -f "$archive"
}

# JVM options with a log4j2 configuration file. The heap is sized so that three nodes, the relay and
# the tests fit this 2-core, 24 GB machine; a single node gets room for a platform's topics: with
# 10,000 tenant topics its old generation held 580 MB, most of a 768 MB heap (docs/tenant-directory.md).
java_opts() { # log4j2 configuration, node (none for a tool)
  heap=2g
  [ "$NODES" = 3 ] && heap=512m
  echo "-Xms256m -Xmx$heap -XX:+UseG1GC $(class_data_opts "${2:-}") ${KAFKA_JVM_OPTS:-} -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Dsun.stdout.encoding=UTF-8 -Dlog4j2.configurationFile=$1"
}

write_config() { # node
  n=$1
  dir=$(node_dir "$n")
  port=$(node_port "$n")
  cport=$(node_controller_port "$n")
  mkdir -p "$dir" "$LOG_DIR"
  listener=PLAINTEXT
  security=""
  if [ -n "${KAFKA_SASL_USERS:-}" ]; then
    listener=SASL_PLAINTEXT
    super=${KAFKA_SASL_USERS%%:*}
    users=""
    for entry in ${KAFKA_SASL_USERS//,/ }; do users="$users user_${entry%%:*}=\"${entry#*:}\""; done
    first=${KAFKA_SASL_USERS%%,*}
    # Brokers talk to their controllers over the PLAINTEXT controller listener as ANONYMOUS.
    security="sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"$super\" password=\"${first#*:}\"$users;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:$super;User:ANONYMOUS
allow.everyone.if.no.acl.found=false"
  fi
  if [ "$NODES" = 1 ]; then
    quorum="controller.quorum.bootstrap.servers=$HOST:$cport"
    replicas=1
    isr=1
  else
    voters=""
    for m in $(nodes); do voters="$voters${voters:+,}$m@$HOST:$(node_controller_port "$m")"; done
    quorum="controller.quorum.voters=$voters"
    replicas=3
    isr=2
  fi
  # log.index.size.max.bytes: each partition's segment keeps two memory-mapped, sparse index files of this
  # size, and the first index entry faults a page in, which the kernel reads around by the device's
  # read-ahead (8 MB on some VMs). With the default 10 MB, 10,000 partitions reaching their first entry
  # at once filled 20 GB of page cache and stalled produce requests for a minute (p99 112 s); at 32 KB
  # that is at most 640 MB and the p99 was 61 ms (bench/kafka-floor.ts). Segments then roll at about
  # 10 MB, which suits a development broker.
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$n
$quorum
listeners=$listener://$HOST:$port,CONTROLLER://$HOST:$cport
advertised.listeners=$listener://$HOST:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=$listener
listener.security.protocol.map=CONTROLLER:PLAINTEXT,$listener:$listener
$security
log.dirs=$dir/log
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=$replicas
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.index.size.max.bytes=32768
EOF
  for config in log4j2:"$(node_log "$n")" tools-log4j2:"$LOG_DIR/kafka-tools.log"; do
    cat >"$dir/${config%%:*}.properties" <<EOF
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
  java $(java_opts "$(node_dir 1)/tools-log4j2.properties") -cp "$LIBS/*" "$@"
}

node_started() { port_open "$HOST" "$(node_port "$1")" && grep -q "Kafka Server started" "$(node_log "$1")" 2>/dev/null; }

# The id the nodes of a cluster share: 16 random bytes in URL-safe base64, as `StorageTool random-uuid`
# prints it (and, like it, never starting with "-", which a command line would take for an option).
# Made here, it saves a JVM start.
ensure_cluster_id() {
  [ -f "$DATA/cluster-id" ] && return
  mkdir -p "$DATA"
  id=-
  while [ "${id#-}" != "$id" ]; do id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='); done
  echo "$id" >"$DATA/cluster-id"
}

# Formats a node's storage once; the nodes of a cluster share one cluster id.
format_node() { # node
  dir=$(node_dir "$1")
  [ -f "$dir/log/meta.properties" ] && return
  ensure_cluster_id
  # A single node bootstraps its own quorum; three share the static voter list of their configs.
  standalone=()
  [ "$NODES" = 1 ] && standalone=(--standalone)
  run_tool kafka.tools.StorageTool format "${standalone[@]}" -t "$(cat "$DATA/cluster-id")" \
    -c "$dir/server.properties" >>"$(node_log "$1")" 2>&1 ||
    die "formatting the storage of kafka node $1 failed; see $(node_log "$1")"
}

# Starts a node's JVM without waiting for it: a node of three waits for a quorum of controllers.
launch_node() { # node
  n=$1
  if pid=$(running_pid "$(node_pid_file "$n")"); then
    say "kafka node $n is already running (pid $pid) on $HOST:$(node_port "$n")"
    return
  fi
  if port_open "$HOST" "$(node_port "$n")" || port_open "$HOST" "$(node_controller_port "$n")"; then
    die "port $(node_port "$n") or $(node_controller_port "$n") on $HOST is already in use by another process; stop it, or set KAFKA_BROKERS to use that broker instead"
  fi
  write_config "$n"
  format_node "$n"
  : >"$(node_log "$n").stdout"
  # setsid: the broker outlives this script and is not stopped by a Ctrl-C meant for a foreground command.
  setsid bash -c "exec java $(java_opts "$(node_dir "$n")/log4j2.properties" "$n") -cp '$LIBS/*' kafka.Kafka '$(node_dir "$n")/server.properties'" \
    >>"$(node_log "$n").stdout" 2>&1 </dev/null &
  echo $! >"$(node_pid_file "$n")"
}

await_node() { # node
  n=$1
  pid=$(running_pid "$(node_pid_file "$n")") || die "kafka node $n is not running; see $(node_log "$n")"
  if ! wait_until 120 "$pid" "kafka node $n" node_started "$n"; then
    tail -n 20 "$(node_log "$n").stdout" "$(node_log "$n")" >&2 2>/dev/null || true
    stop_pid_file "$(node_pid_file "$n")" "kafka node $n"
    die "kafka node $n did not start; see $(node_log "$n")"
  fi
}

start() {
  fetch
  say "starting kafka $KAFKA_VERSION on $(brokers) (log: $(node_log 1))"
  # The nodes' storage is formatted at once (a JVM each), then each node is launched.
  ensure_cluster_id
  for n in $(nodes); do
    if ! running_pid "$(node_pid_file "$n")" >/dev/null; then (write_config "$n" && format_node "$n") & fi
  done
  wait
  for n in $(nodes); do launch_node "$n"; done
  for n in $(nodes); do await_node "$n"; done
  say "kafka is up on $(brokers)"
}

status() {
  code=0
  for n in $(nodes); do
    port=$(node_port "$n")
    if pid=$(running_pid "$(node_pid_file "$n")") && node_started "$n"; then
      echo "kafka node $n: running (pid $pid) on $HOST:$port"
    elif port_open "$HOST" "$port"; then
      echo "kafka node $n: $HOST:$port is answering, but not a broker started by this script"
    else
      echo "kafka node $n: stopped"
      code=3
    fi
  done
  return $code
}

# The pid of a running node, for the node commands.
node_pid() { # node
  { [ "$1" -ge 1 ] && [ "$1" -le "$NODES" ]; } 2>/dev/null || die "there is no kafka node '$1' (KAFKA_NODES=$NODES)"
  running_pid "$(node_pid_file "$1")" || die "kafka node $1 is not running"
}

# Every node is asked to stop at once: one by one, the last would wait for a quorum that is gone.
stop_all() {
  for n in $(nodes); do
    if pid=$(running_pid "$(node_pid_file "$n")"); then kill "$pid" 2>/dev/null || true; fi
  done
  for n in $(nodes); do
    stop_pid_file "$(node_pid_file "$n")" "kafka node $n"
    adopt_class_archive "$n"
  done
}

node=${2:-}
case "${1:-}" in
start) start ;;
stop) stop_all ;;
status) status ;;
brokers) brokers ;;
start-node)
  fetch
  launch_node "$node"
  await_node "$node"
  ;;
stop-node)
  node_pid "$node" >/dev/null
  stop_pid_file "$(node_pid_file "$node")" "kafka node $node"
  adopt_class_archive "$node"
  ;;
kill-node)
  pid=$(node_pid "$node")
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$(node_pid_file "$node")" "$(node_class_archive "$node")"
  say "kafka node $node killed"
  ;;
pause-node)
  pid=$(node_pid "$node")
  kill -STOP "$pid"
  say "kafka node $node paused"
  ;;
resume-node)
  pid=$(node_pid "$node")
  kill -CONT "$pid"
  say "kafka node $node resumed"
  ;;
wipe)
  stop_all
  rm -rf "$DATA"
  say "kafka data wiped"
  ;;
tool)
  shift
  fetch
  mkdir -p "$LOG_DIR"
  [ -f "$(node_dir 1)/tools-log4j2.properties" ] || write_config 1
  run_tool "$@"
  ;;
fetch) fetch ;;
*) die "usage: $0 start|stop|status|brokers|fetch|wipe|start-node N|stop-node N|kill-node N|pause-node N|resume-node N|tool CLASS ARGS…" ;;
esac
