#!/usr/bin/env bash
# The operator's decisions under load (tests/interop/bench/decisions-bench.mjs): Authorize
# answered from the token table against Heartbeat at the same rates, then in ask mode with an
# operator that answers every question at once, on a private broker (loopback only).
# Prints one JSON line per run and a table on stderr.
#   BENCH_STATIONS (200), BENCH_RATES ("100,1000"), BENCH_DURATION (20 s), BENCH_ROUNDS (1)
#   BENCH_KAFKA_PORT, BENCH_PORT: see scripts/bench-lib.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

stations="${BENCH_STATIONS:-200}"
rates="${BENCH_RATES:-100,1000}"
duration="${BENCH_DURATION:-20}"
rounds="${BENCH_ROUNDS:-1}"

[ -x "$bin/ocpp-gateway" ] && [ -x "$bin/ocpp-loadgen" ] || { echo "build the gateway and ocpp-loadgen first" >&2; exit 1; }
bench_machine
bench_broker
[ -d tests/interop/node_modules/kafkajs ] || npm ci --prefix tests/interop --no-audit --no-fund >&2

export OCPP_TEST_KAFKA_BROKERS="127.0.0.1:$kafka_port"
export OCPP_GATEWAY_BIN="$PWD/$bin/ocpp-gateway" OCPP_LOADGEN_BIN="$PWD/$bin/ocpp-loadgen"
for ((round = 1; round <= rounds; round++)); do
    echo "round $round" >&2
    node tests/interop/bench/decisions-bench.mjs --stations "$stations" --rates "$rates" --duration "$duration"
done
