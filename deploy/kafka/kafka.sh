#!/usr/bin/env bash
# Single-node Apache Kafka 4.x broker (KRaft, combined broker+controller, no ZooKeeper)
# for tests and local runs. The jars come from Maven Central through Maven (pom.xml
# beside this script); nothing is downloaded from anywhere else.
#
#   deploy/kafka/kafka.sh start        start in the background, wait until a record can be produced
#   deploy/kafka/kafka.sh stop         SIGTERM, wait, then SIGKILL
#   deploy/kafka/kafka.sh status       exit 0 if running, 3 if not
#   deploy/kafka/kafka.sh foreground   run in the foreground (Ctrl-C stops it)
#   deploy/kafka/kafka.sh classpath    print the Java class path (broker + CLI tools)
#   deploy/kafka/kafka.sh bootstrap    print the bootstrap address (127.0.0.1:PORT)
#
# Environment (all optional): see README.md beside this script.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM="$SCRIPT_DIR/pom.xml"

KAFKA_PORT=${KAFKA_PORT:-9092}
[[ $KAFKA_PORT =~ ^[0-9]+$ ]] || { echo "kafka.sh: error: KAFKA_PORT must be a TCP port number, got '$KAFKA_PORT'" >&2; exit 1; }
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((10#$KAFKA_PORT + 1))}
if [[ ${1:-} == cluster || ${1:-} == node ]]; then
    KAFKA_DATA=${KAFKA_DATA:-/tmp/ocpp-gateway-kafka-cluster-$KAFKA_PORT}
else
    KAFKA_DATA=${KAFKA_DATA:-/tmp/ocpp-gateway-kafka-$KAFKA_PORT}
fi
KAFKA_DATA=$(realpath -m -- "$KAFKA_DATA")
KAFKA_VERSION=${KAFKA_VERSION:-}            # empty: the version pinned in pom.xml
KAFKA_CACHE_DIR=${KAFKA_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/ocpp-gateway/kafka}
KAFKA_MVN_ARGS=${KAFKA_MVN_ARGS:-}          # extra Maven arguments, e.g. -Dmaven.repo.local=/x
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
KAFKA_JVM_OPTS=${KAFKA_JVM_OPTS:-}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
KAFKA_CLUSTER_STOP_TIMEOUT=${KAFKA_CLUSTER_STOP_TIMEOUT:-10}
KAFKA_NUM_PARTITIONS=${KAFKA_NUM_PARTITIONS:-3}
KAFKA_READY_TOPIC=${KAFKA_READY_TOPIC:-_readiness}
KAFKA_EXTRA_CONFIG=${KAFKA_EXTRA_CONFIG:-}  # extra server.properties lines, appended verbatim
MVN=${MVN:-mvn}

HOST=127.0.0.1

# One node's files. A single broker keeps them in $KAFKA_DATA; node I of a cluster in
# $KAFKA_DATA/node-I (use_node).
NODE_DIR=$KAFKA_DATA
NODE_ID=1
NODE_PORT=$KAFKA_PORT
NODE_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT
QUORUM_VOTERS="1@$HOST:$KAFKA_CONTROLLER_PORT"
REPLICATION=1        # replication factor of the broker's defaults and internal topics
MIN_ISR=1
set_node_paths() {
    PID_FILE="$NODE_DIR/kafka.pid"
    PROPS="$NODE_DIR/server.properties"
    LOG_DIRS="$NODE_DIR/data"
    APP_LOG_DIR="$NODE_DIR/logs"
    OUT_FILE="$NODE_DIR/kafka.out"
}
set_node_paths
CLUSTER_ID_FILE="$KAFKA_DATA/cluster.id"
BOOTSTRAP="$HOST:$KAFKA_PORT"

# JVM flags for the short-lived CLI tools: start fast, small heap.
TOOL_JAVA_OPTS=(-Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
                "-Dlog4j2.configurationFile=$SCRIPT_DIR/tools-log4j2.xml")

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
is_port() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 > 0 && 10#$1 < 65536)); }

check_settings() {
    is_port "$KAFKA_PORT" || die "KAFKA_PORT must be a TCP port number, got '$KAFKA_PORT'"
    is_port "$KAFKA_CONTROLLER_PORT" \
        || die "KAFKA_CONTROLLER_PORT must be a TCP port number, got '$KAFKA_CONTROLLER_PORT'"
    ((10#$KAFKA_PORT != 10#$KAFKA_CONTROLLER_PORT)) || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"
    is_uint "$KAFKA_START_TIMEOUT" || die "KAFKA_START_TIMEOUT must be a number of seconds"
    is_uint "$KAFKA_STOP_TIMEOUT" || die "KAFKA_STOP_TIMEOUT must be a number of seconds"
    is_uint "$KAFKA_CLUSTER_STOP_TIMEOUT" || die "KAFKA_CLUSTER_STOP_TIMEOUT must be a number of seconds"
    is_port "$KAFKA_NUM_PARTITIONS" || die "KAFKA_NUM_PARTITIONS must be a positive number"
}

# ---------------------------------------------------------------- java / maven

JAVA=
find_java() {
    if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
        JAVA="$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then
        JAVA=$(command -v java)
    else
        die "java not found: Kafka 4 needs Java 17 or newer (set JAVA_HOME or put java on PATH, e.g. apt-get install openjdk-17-jdk-headless)"
    fi
    local out major
    out=$("$JAVA" -version 2>&1) || die "'$JAVA -version' failed: $out"
    if [[ $out =~ version\ \"([0-9]+)(\.([0-9]+))? ]]; then
        major=${BASH_REMATCH[1]}
        [[ $major == 1 ]] && major=${BASH_REMATCH[3]}
    else
        die "cannot tell the Java version from: $out"
    fi
    ((major >= 17)) || die "Kafka 4 needs Java 17 or newer; $JAVA is Java $major (set JAVA_HOME)"
}

CLASSPATH_VALUE=
resolve_classpath() {
    [[ -f $POM ]] || die "missing $POM"
    local mvn_args=()
    [[ -n $KAFKA_MVN_ARGS ]] && read -r -a mvn_args <<<"$KAFKA_MVN_ARGS"
    [[ -n $KAFKA_VERSION ]] && mvn_args+=("-Dkafka.version=$KAFKA_VERSION")

    mkdir -p "$KAFKA_CACHE_DIR"
    local key cp_file
    key=$( { printf '%s\n' "${mvn_args[@]+"${mvn_args[@]}"}"; cat "$POM"; } | sha256sum | cut -c1-16)
    cp_file="$KAFKA_CACHE_DIR/classpath-$key.txt"

    # Reuse the class path from an earlier run while every jar in it is still there.
    if [[ -s $cp_file ]]; then
        local cp jar ok=1
        cp=$(<"$cp_file")
        IFS=: read -r -a jars <<<"$cp"
        for jar in "${jars[@]}"; do
            [[ -f $jar ]] || { ok=0; break; }
        done
        if ((ok)); then
            CLASSPATH_VALUE=$cp
            return 0
        fi
    fi

    command -v "$MVN" >/dev/null 2>&1 \
        || die "mvn not found: Maven is needed once to download Apache Kafka from Maven Central (apt-get install maven)"
    local tmp="$cp_file.tmp.$$" mvn_log="$KAFKA_CACHE_DIR/mvn.log"
    log "resolving Apache Kafka jars with Maven (the first run downloads about 45 MB into the local Maven repository)..."
    if ! "$MVN" -B -q -Dstyle.color=never -f "$POM" "${mvn_args[@]+"${mvn_args[@]}"}" \
            dependency:build-classpath -Dmdep.outputFile="$tmp" >"$mvn_log" 2>&1 \
            || [[ ! -s $tmp ]]; then
        rm -f "$tmp"
        sed -e 's/\x1b\[[0-9;]*m//g' "$mvn_log" | grep -v '^[[:space:]]*$' | tail -n 25 >&2 || true
        die "could not download Apache Kafka from Maven Central: check network/proxy; ~/.m2 settings (settings.xml mirrors/proxies, offline mode). Full Maven output: $mvn_log"
    fi
    mv -f "$tmp" "$cp_file"
    CLASSPATH_VALUE=$(<"$cp_file")
}

# ---------------------------------------------------------------- processes / ports

port_open() { # true if something accepts TCP connections on 127.0.0.1:$1
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

process_alive() { # pid -> true while the process exists and has not exited (zombies are gone)
    local pid=$1 stat
    [[ -n $pid ]] || return 1
    read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
    stat=${stat##*) }
    [[ -n $stat && ${stat:0:1} != [ZX] ]]
}

is_our_broker() { # pid -> true if it is a live java running kafka.Kafka with our server.properties
    # The executable must be java itself: the launch goes nohup -> setsid -> java by exec, and
    # the wrappers' command lines carry the same arguments; in the middle of an exec the
    # command line reads empty for a moment, so a launched broker is checked with
    # process_alive once is_our_broker has seen it.
    local pid=$1 cmd exe
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    [[ ${exe##*/} == java ]] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *" kafka.Kafka $PROPS "* ]]
}

BROKER_PID=
launched_alive() { # true while the node launched by this script still runs (see is_our_broker)
    [[ -n $BROKER_PID ]] && process_alive "$BROKER_PID" && return 0
    find_pid
}

find_pid() { # sets BROKER_PID, true if the broker for this data dir is running
    BROKER_PID=
    local pid
    if [[ -f $PID_FILE ]]; then
        pid=$(<"$PID_FILE")
        if is_our_broker "$pid"; then BROKER_PID=$pid; return 0; fi
    fi
    # No (valid) pid file: look for a broker started with this data dir's server.properties.
    local dir
    for dir in /proc/[0-9]*; do
        pid=${dir#/proc/}
        if is_our_broker "$pid"; then
            BROKER_PID=$pid
            echo "$pid" >"$PID_FILE" 2>/dev/null || true
            return 0
        fi
    done
    return 1
}

show_log_tail() {
    local f
    for f in "$OUT_FILE" "$APP_LOG_DIR/server.log"; do
        if [[ -s $f ]]; then
            printf -- '----- last lines of %s -----\n' "$f" >&2
            tail -n 40 "$f" >&2 || true
        fi
    done
}

lock_data_dir() { # serialise start/stop on the same data dir
    mkdir -p "$KAFKA_DATA"
    exec 9>"$KAFKA_DATA/.lock"
    if command -v flock >/dev/null 2>&1; then
        flock -w $((KAFKA_START_TIMEOUT + KAFKA_STOP_TIMEOUT + 60)) 9 \
            || die "timed out waiting for another kafka.sh on $KAFKA_DATA"
    fi
}

# ---------------------------------------------------------------- config / storage

write_server_properties() {
    mkdir -p "$LOG_DIRS" "$APP_LOG_DIR"
    cat >"$PROPS.tmp" <<EOF
# Generated by deploy/kafka/kafka.sh; rewritten on every start.
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$QUORUM_VOTERS
listeners=PLAINTEXT://$HOST:$NODE_PORT,CONTROLLER://$HOST:$NODE_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$NODE_PORT,CONTROLLER://$HOST:$NODE_CONTROLLER_PORT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER

log.dirs=$LOG_DIRS
num.partitions=$KAFKA_NUM_PARTITIONS
default.replication.factor=$REPLICATION
min.insync.replicas=$MIN_ISR
# Clients create what they use with its intended settings; a broker's defaults never do.
auto.create.topics.enable=false
delete.topic.enable=true

offsets.topic.replication.factor=$REPLICATION
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=$REPLICATION
transaction.state.log.min.isr=$MIN_ISR
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=$REPLICATION
share.coordinator.state.topic.min.isr=$MIN_ISR
group.initial.rebalance.delay.ms=0

log.segment.bytes=16777216
log.retention.hours=24
log.retention.check.interval.ms=300000

num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
    if [[ -n $KAFKA_EXTRA_CONFIG ]]; then
        printf '\n# KAFKA_EXTRA_CONFIG\n%s\n' "$KAFKA_EXTRA_CONFIG" >>"$PROPS.tmp"
    fi
    mv -f "$PROPS.tmp" "$PROPS"
}

tool_class() { # a CLI tool's class: Kafka 4 moved them to org.apache.kafka.tools
    if [[ $CLASSPATH_VALUE == */kafka_2.13-3.* ]]; then
        case $1 in
            ConsoleProducer) echo kafka.tools.ConsoleProducer ;;
            BrokerApiVersionsCommand) echo kafka.admin.BrokerApiVersionsCommand ;;
            *) echo "org.apache.kafka.tools.$1" ;;
        esac
    else
        echo "org.apache.kafka.tools.$1"
    fi
}

run_tool() { # class args... : run a Kafka CLI class with the resolved class path
    "$JAVA" "${TOOL_JAVA_OPTS[@]}" -cp "$CLASSPATH_VALUE" "$@"
}

format_storage_once() {
    [[ -f $LOG_DIRS/meta.properties ]] && return 0
    local cid
    if [[ -s $CLUSTER_ID_FILE ]]; then
        cid=$(<"$CLUSTER_ID_FILE")
    else
        cid=$(run_tool kafka.tools.StorageTool random-uuid | tr -d '[:space:]') \
            || die "kafka.tools.StorageTool random-uuid failed"
        [[ -n $cid ]] || die "kafka.tools.StorageTool random-uuid printed nothing"
        echo "$cid" >"$CLUSTER_ID_FILE"
    fi
    log "formatting KRaft storage in $LOG_DIRS (cluster id $cid)"
    local out
    if ! out=$(run_tool kafka.tools.StorageTool format -t "$cid" -c "$PROPS" 2>&1); then
        printf '%s\n' "$out" >&2
        die "formatting KRaft storage failed"
    fi
}

broker_java_args() {
    local heap=() extra=()
    read -r -a heap <<<"$KAFKA_HEAP_OPTS"
    [[ -n $KAFKA_JVM_OPTS ]] && read -r -a extra <<<"$KAFKA_JVM_OPTS"
    BROKER_ARGS=("${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
        -Djava.awt.headless=true
        "-Dlog4j2.configurationFile=$SCRIPT_DIR/log4j2.xml"
        "-Dlog4j.configuration=file:$SCRIPT_DIR/log4j.properties"
        "-Dkafka.logs.dir=$APP_LOG_DIR"
        "${extra[@]+"${extra[@]}"}"
        -cp "$CLASSPATH_VALUE" kafka.Kafka "$PROPS")
}

check_ports_free() {
    local p
    for p in "$NODE_PORT" "$NODE_CONTROLLER_PORT"; do
        if port_open "$p"; then
            die "port $HOST:$p is already in use by another process (not the broker of $NODE_DIR); pick other ports with KAFKA_PORT / KAFKA_CONTROLLER_PORT (a cluster: KAFKA_PORTS / KAFKA_CONTROLLER_PORTS)"
        fi
    done
}

prepare() { # everything start and foreground share, up to the java command line
    check_settings
    find_java
    resolve_classpath
    write_server_properties
    format_storage_once
    broker_java_args
}

# ---------------------------------------------------------------- readiness

produce_probe() { # one attempt to produce a record with acks=all; bounded in time
    local budget=$1
    # Topics are never auto-created on this broker: the probe makes its own first.
    timeout "$budget" "$JAVA" "${TOOL_JAVA_OPTS[@]}" -cp "$CLASSPATH_VALUE" \
        org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
        --create --if-not-exists --topic "$KAFKA_READY_TOPIC" --partitions 1 \
        --replication-factor "$REPLICATION" >>"$KAFKA_DATA/readiness.log" 2>&1 || return 1
    echo "ready $(date -u +%Y-%m-%dT%H:%M:%SZ) pid $BROKER_PID" | timeout "$budget" \
        "$JAVA" "${TOOL_JAVA_OPTS[@]}" -cp "$CLASSPATH_VALUE" "$(tool_class ConsoleProducer)" \
        --bootstrap-server "$BOOTSTRAP" --topic "$KAFKA_READY_TOPIC" --sync \
        --request-required-acks all --timeout 0 --request-timeout-ms 5000 --max-block-ms 10000 \
        --message-send-max-retries 10 --producer-property delivery.timeout.ms=15000 \
        >>"$KAFKA_DATA/readiness.log" 2>&1
}

wait_ready() {
    local deadline=$((SECONDS + KAFKA_START_TIMEOUT)) left budget
    : >"$KAFKA_DATA/readiness.log"
    while :; do
        if ! process_alive "$BROKER_PID"; then
            show_log_tail
            rm -f "$PID_FILE"
            die "the broker process ($BROKER_PID) exited during startup"
        fi
        left=$((deadline - SECONDS))
        if ((left <= 0)); then
            show_log_tail
            if [[ -s $KAFKA_DATA/readiness.log ]]; then
                printf -- '----- last lines of %s -----\n' "$KAFKA_DATA/readiness.log" >&2
                tail -n 15 "$KAFKA_DATA/readiness.log" >&2 || true
            fi
            log "the broker did not accept a produce request on $HOST:$KAFKA_PORT within ${KAFKA_START_TIMEOUT}s (KAFKA_START_TIMEOUT); stopping it"
            terminate "$BROKER_PID"
            die "kafka did not become ready within ${KAFKA_START_TIMEOUT}s; logs in $KAFKA_DATA"
        fi
        if port_open "$KAFKA_PORT"; then
            budget=$((left < 30 ? left : 30))
            if produce_probe "$budget"; then
                return 0
            fi
        fi
        sleep 0.5
    done
}

# ---------------------------------------------------------------- commands

launch_broker() { # starts the prepared node (BROKER_ARGS) in the background; sets BROKER_PID
    {
        echo "===== $(date -u +%Y-%m-%dT%H:%M:%SZ) start ====="
    } >>"$OUT_FILE"
    local launcher=(nohup)
    command -v setsid >/dev/null 2>&1 && launcher+=(setsid)
    "${launcher[@]}" "$JAVA" "${BROKER_ARGS[@]}" >>"$OUT_FILE" 2>&1 </dev/null 9>&- &
    BROKER_PID=$!
    echo "$BROKER_PID" >"$PID_FILE"
    # $! is nohup until it has exec'd setsid and then java; is_our_broker holds only from the
    # moment java runs. setsid forks when it happens to be a process group leader; then $! is
    # not java. On a loaded machine (other JVMs starting or stopping) the JVM can take many
    # seconds to appear: wait up to 30 s, looking for it by its command line too.
    local deadline=$((SECONDS + 30))
    until is_our_broker "$BROKER_PID"; do
        if find_pid; then
            break
        fi
        if ((SECONDS >= deadline)); then
            show_log_tail
            die "the broker process of $NODE_DIR exited right after launch, or did not start within 30 s"
        fi
        sleep 0.2
    done
}

cmd_start() {
    check_settings
    lock_data_dir
    if find_pid; then
        if port_open "$KAFKA_PORT"; then
            echo "kafka already running (pid $BROKER_PID, $HOST:$KAFKA_PORT, data $KAFKA_DATA)"
            return 0
        fi
        log "kafka process $BROKER_PID exists but $HOST:$KAFKA_PORT does not answer yet; waiting"
        find_java
        resolve_classpath
        wait_ready
        echo "kafka running (pid $BROKER_PID, $HOST:$KAFKA_PORT, data $KAFKA_DATA)"
        return 0
    fi
    rm -f "$PID_FILE"
    check_ports_free
    local t0=$SECONDS
    prepare

    log "starting Apache Kafka on $HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT), data in $KAFKA_DATA"
    launch_broker

    wait_ready
    echo "kafka running (pid $BROKER_PID, $HOST:$KAFKA_PORT, data $KAFKA_DATA; ready after $((SECONDS - t0))s)"
}

cmd_foreground() {
    check_settings
    lock_data_dir
    if find_pid; then
        die "kafka is already running in the background (pid $BROKER_PID); 'kafka.sh stop' first"
    fi
    check_ports_free
    prepare
    echo $$ >"$PID_FILE"
    exec 9>&-
    log "running Apache Kafka in the foreground on $HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT), data in $KAFKA_DATA"
    exec "$JAVA" "${BROKER_ARGS[@]}"
}

terminate() { # pid: SIGTERM, wait up to KAFKA_STOP_TIMEOUT seconds, then SIGKILL
    # (process_alive rather than kill -0: an exited but not yet reaped broker counts as gone)
    local pid=$1 deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
    log "stopping kafka (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    while process_alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if process_alive "$pid"; then
        log "kafka (pid $pid) still running after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            process_alive "$pid" || break
            sleep 0.2
        done
    fi
    rm -f "$PID_FILE"
}

cmd_stop() {
    check_settings
    lock_data_dir
    if ! find_pid; then
        rm -f "$PID_FILE"
        echo "kafka not running (data $KAFKA_DATA)"
        return 0
    fi
    terminate "$BROKER_PID"
    echo "kafka stopped"
}

cmd_status() {
    check_settings
    if find_pid; then
        local answering="answering"
        port_open "$KAFKA_PORT" || answering="not answering yet"
        echo "kafka running (pid $BROKER_PID, $HOST:$KAFKA_PORT $answering, data $KAFKA_DATA)"
        return 0
    fi
    echo "kafka not running ($HOST:$KAFKA_PORT, data $KAFKA_DATA)"
    return 3
}

# ---------------------------------------------------------------- cluster of N nodes
#
# Every node is a combined broker + controller (node.id 1..N, a static quorum of all N);
# node I keeps its files in $KAFKA_DATA/node-I. The layout (size and ports) is written to
# $KAFKA_DATA/cluster.env at the first start; later commands on that data directory use it.

LAYOUT_FILE="$KAFKA_DATA/cluster.env"
NODES=0
PORTS=()
CONTROLLER_PORTS=()
NODE_PIDS=()         # node number -> the pid started or found by this run

split_ports() { # "a,b c" -> words
    local v=${1//,/ }
    printf '%s\n' $v
}

load_layout() { # [size]: the stored layout, or a new one of `size` nodes
    local want=${1:-}
    if [[ -s $LAYOUT_FILE ]]; then
        # shellcheck disable=SC1090
        source "$LAYOUT_FILE"
        read -r -a PORTS <<<"$CLUSTER_PORTS"
        read -r -a CONTROLLER_PORTS <<<"$CLUSTER_CONTROLLER_PORTS"
        NODES=$CLUSTER_NODES
        if [[ -n $want && $want != "$NODES" ]]; then
            die "$KAFKA_DATA holds a cluster of $NODES nodes, not $want (delete the directory for a new cluster)"
        fi
    else
        [[ -n $want ]] || die "no cluster in $KAFKA_DATA (start one with: kafka.sh cluster start N)"
        [[ $want =~ ^[1-9]$ ]] || die "a cluster has 1 to 9 nodes, got '$want'"
        NODES=$want
        local i
        if [[ -n ${KAFKA_PORTS:-} ]]; then
            mapfile -t PORTS < <(split_ports "$KAFKA_PORTS")
        else
            for ((i = 0; i < NODES; i++)); do PORTS+=($((10#$KAFKA_PORT + 2 * i))); done
        fi
        if [[ -n ${KAFKA_CONTROLLER_PORTS:-} ]]; then
            mapfile -t CONTROLLER_PORTS < <(split_ports "$KAFKA_CONTROLLER_PORTS")
        else
            for ((i = 0; i < NODES; i++)); do CONTROLLER_PORTS+=($((10#${PORTS[i]} + 1))); done
        fi
        ((${#PORTS[@]} == NODES)) || die "KAFKA_PORTS names ${#PORTS[@]} ports for $NODES nodes"
        ((${#CONTROLLER_PORTS[@]} == NODES)) || die "KAFKA_CONTROLLER_PORTS names ${#CONTROLLER_PORTS[@]} ports for $NODES nodes"
        local p
        for p in "${PORTS[@]}" "${CONTROLLER_PORTS[@]}"; do
            is_port "$p" || die "'$p' is not a TCP port number"
        done
        mkdir -p "$KAFKA_DATA"
        printf 'CLUSTER_NODES=%s\nCLUSTER_PORTS="%s"\nCLUSTER_CONTROLLER_PORTS="%s"\n' \
            "$NODES" "${PORTS[*]}" "${CONTROLLER_PORTS[*]}" >"$LAYOUT_FILE"
    fi
    QUORUM_VOTERS=
    local i
    for ((i = 0; i < NODES; i++)); do
        QUORUM_VOTERS+="${QUORUM_VOTERS:+,}$((i + 1))@$HOST:${CONTROLLER_PORTS[i]}"
    done
    BOOTSTRAP=$(for p in "${PORTS[@]}"; do printf '%s:%s,' "$HOST" "$p"; done)
    BOOTSTRAP=${BOOTSTRAP%,}
    # Three copies and two in sync for every write with acks=all, as in production;
    # smaller clusters keep what they can.
    REPLICATION=$((NODES < 3 ? NODES : 3))
    MIN_ISR=$((REPLICATION >= 3 ? 2 : 1))
}

use_node() { # 1-based node number
    local i=$1
    [[ $i =~ ^[0-9]+$ ]] && ((i >= 1 && i <= NODES)) || die "no node '$i' in a cluster of $NODES (1..$NODES)"
    NODE_ID=$i
    NODE_DIR="$KAFKA_DATA/node-$i"
    NODE_PORT=${PORTS[i - 1]}
    NODE_CONTROLLER_PORT=${CONTROLLER_PORTS[i - 1]}
    set_node_paths
}

registered_brokers() { # [bootstrap]: the node ids the metadata lists as brokers; never fails
    { timeout 20 "$JAVA" "${TOOL_JAVA_OPTS[@]}" -cp "$CLASSPATH_VALUE" \
        "$(tool_class BrokerApiVersionsCommand)" --bootstrap-server "${1:-$BOOTSTRAP}" 2>/dev/null \
        || true; } | sed -n 's/^[^ ]* (id: \([0-9]*\) .*/\1/p' | sort -n | tr '\n' ' '
}

node_start_one() { # the current node (use_node): launch unless it runs
    if find_pid; then
        return 0
    fi
    rm -f "$PID_FILE"
    check_ports_free
    write_server_properties
    format_storage_once
    broker_java_args
    log "starting node $NODE_ID on $HOST:$NODE_PORT (controller $HOST:$NODE_CONTROLLER_PORT), data in $NODE_DIR"
    launch_broker
}

wait_cluster_ready() { # every node runs, is registered, and a record is produced with acks=all
    local deadline=$((SECONDS + KAFKA_START_TIMEOUT)) i ids want
    want=$(seq 1 "$NODES" | tr '\n' ' ')
    : >"$KAFKA_DATA/readiness.log"
    while :; do
        for ((i = 1; i <= NODES; i++)); do
            use_node "$i"
            BROKER_PID=${NODE_PIDS[i]:-}
            if ! launched_alive; then
                show_log_tail
                die "node $i exited during startup"
            fi
            NODE_PIDS[i]=$BROKER_PID
        done
        if ((SECONDS >= deadline)); then
            for ((i = 1; i <= NODES; i++)); do use_node "$i"; show_log_tail; done
            tail -n 15 "$KAFKA_DATA/readiness.log" >&2 || true
            die "the cluster did not become ready within ${KAFKA_START_TIMEOUT}s (registered brokers: ${ids:-none}); logs in $KAFKA_DATA/node-*"
        fi
        ids=$(registered_brokers)
        if [[ $ids == "$want" ]] && produce_probe 30; then
            return 0
        fi
        sleep 0.5
    done
}

cmd_cluster() {
    local sub=${1:-} i
    case $sub in
        start)
            if [[ -n ${2:-} || ! -s $LAYOUT_FILE ]]; then load_layout "${2:-3}"; else load_layout; fi
            lock_data_dir
            find_java
            resolve_classpath
            local t0=$SECONDS
            for ((i = 1; i <= NODES; i++)); do
                use_node "$i"
                node_start_one
                NODE_PIDS[i]=$BROKER_PID
            done
            wait_cluster_ready
            echo "kafka cluster running ($NODES nodes, bootstrap $BOOTSTRAP, replication $REPLICATION, min.insync.replicas $MIN_ISR, data $KAFKA_DATA; ready after $((SECONDS - t0))s)"
            ;;
        stop)
            [[ -s $LAYOUT_FILE ]] || { echo "no cluster in $KAFKA_DATA"; return 0; }
            load_layout
            lock_data_dir
            # SIGTERM to all at once. The last node left cannot finish its controlled shutdown
            # (no controller quorum without the others), so whatever still runs after
            # KAFKA_CLUSTER_STOP_TIMEOUT seconds is killed; its logs recover at the next start.
            local pids=() entry
            for ((i = 1; i <= NODES; i++)); do
                use_node "$i"
                if find_pid; then kill -CONT "$BROKER_PID" 2>/dev/null || true; pids+=("$i:$BROKER_PID"); fi
            done
            for entry in "${pids[@]+"${pids[@]}"}"; do kill -TERM "${entry#*:}" 2>/dev/null || true; done
            local KAFKA_STOP_TIMEOUT=$KAFKA_CLUSTER_STOP_TIMEOUT deadline=$((SECONDS + KAFKA_CLUSTER_STOP_TIMEOUT))
            for entry in "${pids[@]+"${pids[@]}"}"; do
                use_node "${entry%%:*}"
                KAFKA_STOP_TIMEOUT=$((deadline > SECONDS ? deadline - SECONDS : 0))
                terminate "${entry#*:}"
            done
            echo "kafka cluster stopped"
            ;;
        status)
            [[ -s $LAYOUT_FILE ]] || { echo "no cluster in $KAFKA_DATA"; return 3; }
            load_layout
            local up=0 state
            for ((i = 1; i <= NODES; i++)); do
                use_node "$i"
                if find_pid; then
                    up=$((up + 1))
                    state="running (pid $BROKER_PID)"
                    [[ $(ps -o stat= -p "$BROKER_PID" 2>/dev/null) == T* ]] && state="paused (pid $BROKER_PID)"
                else
                    state="not running"
                fi
                echo "node $i $HOST:$NODE_PORT $state"
            done
            ((up == NODES)) || return 3
            ;;
        bootstrap)
            load_layout
            echo "$BOOTSTRAP"
            ;;
        *) usage; exit 2 ;;
    esac
}

cmd_node() { # node I start|stop|kill|pause|resume|pid
    local i=${1:-} action=${2:-}
    load_layout
    use_node "$i"
    case $action in
        start)
            lock_data_dir
            find_java
            resolve_classpath
            node_start_one
            # Back in the cluster once it serves clients itself: a broker opens its client
            # listener only after the controller unfenced it.
            local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
            until [[ " $(registered_brokers "$HOST:$NODE_PORT")" == *" $i "* ]]; do
                launched_alive || { show_log_tail; die "node $i exited during startup"; }
                ((SECONDS < deadline)) || die "node $i was not registered within ${KAFKA_START_TIMEOUT}s"
                sleep 0.5
            done
            echo "node $i running (pid $BROKER_PID, $HOST:$NODE_PORT)"
            ;;
        stop)
            lock_data_dir
            if find_pid; then kill -CONT "$BROKER_PID" 2>/dev/null || true; terminate "$BROKER_PID"; fi
            echo "node $i stopped"
            ;;
        kill)
            find_pid || die "node $i is not running"
            kill -KILL "$BROKER_PID"
            for _ in $(seq 1 50); do process_alive "$BROKER_PID" || break; sleep 0.1; done
            rm -f "$PID_FILE"
            echo "node $i killed"
            ;;
        pause)
            find_pid || die "node $i is not running"
            kill -STOP "$BROKER_PID"
            echo "node $i paused (pid $BROKER_PID)"
            ;;
        resume)
            find_pid || die "node $i is not running"
            kill -CONT "$BROKER_PID"
            echo "node $i resumed (pid $BROKER_PID)"
            ;;
        pid)
            find_pid || die "node $i is not running"
            echo "$BROKER_PID"
            ;;
        *) usage; exit 2 ;;
    esac
}

cmd_classpath() {
    find_java
    resolve_classpath
    printf '%s\n' "$CLASSPATH_VALUE"
}

usage() {
    cat >&2 <<EOF
usage: $(basename "$0") start|stop|status|foreground|classpath|bootstrap
       $(basename "$0") cluster start [N]|stop|status|bootstrap
       $(basename "$0") node I start|stop|kill|pause|resume|pid
  env: KAFKA_PORT (9092) KAFKA_CONTROLLER_PORT (port+1) KAFKA_DATA (/tmp/ocpp-gateway-kafka-PORT)
       KAFKA_START_TIMEOUT (90) KAFKA_STOP_TIMEOUT (30) KAFKA_HEAP_OPTS KAFKA_VERSION ...
  see $SCRIPT_DIR/README.md
EOF
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    foreground) cmd_foreground ;;
    classpath) cmd_classpath ;;
    bootstrap) check_settings; echo "$HOST:$KAFKA_PORT" ;;
    cluster) check_settings; shift; cmd_cluster "$@" ;;
    node) check_settings; shift; cmd_node "$@" ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
esac
