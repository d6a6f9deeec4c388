#!/usr/bin/env bash
# The gateway side by side with what a team would build instead, in one run, on one broker,
# with one load generator (ocpp-loadgen, realistic mix): (a) Node: ocpp-rpc strict + kafkajs,
# (b) Python: mobilityhouse ocpp + websockets + confluent-kafka (tests/bench/peers/). Every
# target publishes each CALL to its event class's topic keyed by the station id and answers
# after the Kafka acknowledgement (acks=all, idempotent). Prints one JSON line per run;
# scripts/bench-summary.py turns them into tables (docs/benchmarks.md).
#   BENCH_KAFKA_PORT, BENCH_PORT, BENCH_GATEWAY: see scripts/bench-lib.sh
#   BENCH_DURATION (10 s), BENCH_STATIONS (1000)
#   BENCH_TARGETS: any of "gateway gateway-adaptive node python" (default "gateway node
#                  python"), run in the order given; gateway-adaptive is the gateway with
#                  `kafka.batching: adaptive`
# Every run reports the target's and the broker's CPU twice: over the whole run (the stations'
# connections and the generator's warm-up included) and over the measured window alone
# (*_window_cpu_s), which scripts/bench-summary.py prints as "run / window".
#   BENCH_RATES: space-separated rates (default "500 1000 2000 4000 8000")
#   BENCH_ROUNDS: times the whole set of targets is run, alternating (default 1)
#   OCPP_CACHE_DIR: where the peers' npm cache and Python venv are kept (~/.cache/ocpp-gateway)
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/bench-lib.sh
duration="${BENCH_DURATION:-10}"
stations="${BENCH_STATIONS:-1000}"
targets="${BENCH_TARGETS:-gateway node python}"
rates="${BENCH_RATES:-500 1000 2000 4000 8000}"
rounds="${BENCH_ROUNDS:-1}"
cache="${OCPP_CACHE_DIR:-$HOME/.cache/ocpp-gateway}"
peers=tests/bench/peers
log="$bench_dir/target.log"

# The peers' dependencies, pinned (package-lock.json, requirements.txt), installed once.
case " $targets " in *" node "*)
    [ -d "$peers/node/node_modules/ocpp-rpc" ] ||
        npm ci --prefix "$peers/node" --cache "$cache/npm" --no-audit --no-fund >&2 ;;
esac
venv="$cache/peers-venv"
case " $targets " in *" python "*)
    if ! "$venv/bin/python" -c 'import ocpp, websockets, confluent_kafka' 2>/dev/null; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --cache-dir "$cache/pip" -r "$peers/python/requirements.txt" >&2
    fi ;;
esac

bench_broker
bench_machine

start_target() {
    case "$1" in
    gateway | gateway-adaptive)
        local batching=""
        [ "$1" = gateway-adaptive ] && batching=$'kafka:\n  batching: adaptive\n'
        "$gateway_bin" --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" \
            --kafka-brokers "127.0.0.1:$kafka_port" --gateway-id bench --log-level warn \
            --config <(printf 'security:\n  connections_per_address: %s\n%s' "$((stations + 1000))" "$batching") \
            >"$log" 2>&1 & ;;
    node)
        node "$peers/node/bridge.mjs" --port "$port" --brokers "127.0.0.1:$kafka_port" >"$log" 2>&1 & ;;
    python)
        "$venv/bin/python" "$peers/python/bridge.py" --port "$port" \
            --brokers "127.0.0.1:$kafka_port" >"$log" 2>&1 & ;;
    *)
        echo "bench-peers.sh: unknown target '$1' (BENCH_TARGETS: gateway gateway-adaptive node python)" >&2
        exit 2 ;;
    esac
    target_pid=$!
    gws+=("$target_pid")  # stopped at exit (scripts/bench-lib.sh)
    for _ in $(seq 1 300); do
        # Listening (the gateway also waits for Kafka and its topics before it listens).
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        kill -0 "$target_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$1 did not start; its output:" >&2
    cat "$log" >&2
    exit 1
}
stop_target() { gw="$target_pid"; stop_gateway; target_pid=""; }

# The gateway creates the topics every target writes to.
start_target gateway
stop_target

url="ws://127.0.0.1:$port/ocpp"
for round in $(seq 1 "$rounds"); do
    for target in $targets; do
        start_target "$target"
        # Unmeasured warm-up: JITs, connections, topic partitions.
        "$bin/ocpp-loadgen" --url "$url" --id-prefix "W$round-" --stations "$stations" \
            --connect-rate 500 --mix realistic --rate 500 --duration 5 --warmup 2 --json >/dev/null
        for rate in $rates; do
            measured_run "$target_pid" "$duration" "$log.run" "$bin/ocpp-loadgen" --url "$url" \
                --id-prefix "P$round-$rate-" --stations "$stations" --connect-rate 500 \
                --mix realistic --rate "$rate" --duration "$duration" --warmup 3 --json
            printf '{"target":"%s","round":%s,"mix":"realistic","rate":%s,"report":%s,%s}\n' \
                "$target" "$round" "$rate" "$(cat "$log.run.json")" "$run_cpu"
        done
        stop_target
    done
done
