#!/usr/bin/env bash
# ocpp-billing's recovery from a backlog (tests/interop/bench/billing-bench.mjs): a fleet's
# charging traffic of BENCH_MINUTES (10) at BENCH_RATE (2000) messages per second is written
# to the topics while billing is stopped, then billing starts and catches up; the restart that
# follows reads the sessions topic back. Private broker on loopback (scripts/bench-lib.sh).
#   BENCH_RATE (2000), BENCH_MINUTES (10), BENCH_STATIONS (2000), BENCH_ROUNDS (1),
#   BENCH_BILLING (another ocpp-billing binary, e.g. an earlier build to compare with)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

[ -x "$bin/ocpp-billing" ] || { echo "build ocpp-billing first" >&2; exit 1; }
bench_machine
bench_broker
[ -d tests/interop/node_modules/kafkajs ] || npm ci --prefix tests/interop --no-audit --no-fund >&2
export OCPP_TEST_KAFKA_BROKERS="127.0.0.1:$kafka_port" OCPP_BILLING_BIN="${BENCH_BILLING:-$PWD/$bin/ocpp-billing}"
for ((round = 1; round <= ${BENCH_ROUNDS:-1}; round++)); do
    node tests/interop/bench/billing-bench.mjs --rate "${BENCH_RATE:-2000}" --minutes "${BENCH_MINUTES:-10}" \
        --stations "${BENCH_STATIONS:-2000}"
done
