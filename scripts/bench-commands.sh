#!/usr/bin/env bash
# Operator-command round trip (tests/interop/bench/commands-bench.mjs) with one and with three
# gateway instances at the same steady rates, everything on this machine (loopback only).
# Prints one JSON line per run. Uses the broker on 127.0.0.1:$BENCH_KAFKA_PORT if one answers
# there, else starts one with deploy/kafka/kafka.sh (and stops it at the end).
#   BENCH_KAFKA_PORT (29092), BENCH_RATES ("100 300" commands/s), BENCH_DURATION (30 s),
#   BENCH_STATIONS (100), BENCH_INSTANCES ("1 3"), BENCH_PATHS ("topic rest")
set -euo pipefail
cd "$(dirname "$0")/.."

kafka_port="${BENCH_KAFKA_PORT:-29092}"
rates="${BENCH_RATES:-100 300}"
duration="${BENCH_DURATION:-30}"
stations="${BENCH_STATIONS:-100}"
instance_counts="${BENCH_INSTANCES:-1 3}"
paths="${BENCH_PATHS:-topic rest}"

[ -x build/bin/ocpp-gateway ] || { echo "build/bin/ocpp-gateway not found: build it first" >&2; exit 1; }
[ -d tests/interop/node_modules ] || (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)

started_kafka=""
data=""
cleanup() {
    if [ -n "$started_kafka" ]; then
        KAFKA_PORT="$kafka_port" KAFKA_DATA="$data" deploy/kafka/kafka.sh stop >/dev/null 2>&1 || true
        rm -rf "$data"
    fi
}
trap cleanup EXIT
if ! (exec 3<>"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null; then
    data="$(mktemp -d /tmp/ocpp-bench-kafka.XXXXXX)"
    KAFKA_PORT="$kafka_port" KAFKA_DATA="$data" deploy/kafka/kafka.sh start >&2
    started_kafka=1
fi

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024/1024)}' /proc/meminfo) GiB," \
     "$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}')" >&2

export OCPP_TEST_KAFKA_BROKERS="127.0.0.1:$kafka_port"
cd tests/interop
for rate in $rates; do
    for path in $paths; do
        for n in $instance_counts; do
            node bench/commands-bench.mjs --instances "$n" --stations "$stations" --rate "$rate" \
                --duration "$duration" --path "$path"
        done
    done
done
