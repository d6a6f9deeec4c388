#!/usr/bin/env bash
# A fleet arriving with a cold password cache (security profile 1): BENCH_COLD_STATIONS
# stations (600) whose password hashes have BENCH_PBKDF2_ITERATIONS iterations (100,000, the
# default of `ocpp-gateway hash-password`) connect to a freshly started gateway at 500/s,
# retrying refusals as firmware does, while 200 stations already connected (hashes of 1,000
# iterations, checked before the measurement) send the realistic mix at 400 CALLs/s. Runs:
# the default password-check budget (security.password_check_ms_per_second) and the budget
# lifted. Reported per run: how long until every newcomer was connected and booted, the
# connected stations' latency over the window that contains the arrival, gateway CPU.
# Prints one JSON line per run.
#   BENCH_COLD_STATIONS (600), BENCH_PBKDF2_ITERATIONS (100000), BENCH_BUDGETS ("default lifted";
#   a number sets the budget in ms per second),
#   BENCH_ROUNDS (1); BENCH_GATEWAY_YAML: extra top-level YAML (e.g. "io_threads: 1");
#   BENCH_KAFKA_PORT, BENCH_PORT, BENCH_GATEWAY: see scripts/bench-lib.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

cold="${BENCH_COLD_STATIONS:-600}"
iterations="${BENCH_PBKDF2_ITERATIONS:-100000}"
budgets="${BENCH_BUDGETS:-default lifted}"
rounds="${BENCH_ROUNDS:-1}"
password=bench-Station-pw
keepers=200
window=60

bench_machine
bench_broker

run=0
for round in $(seq 1 "$rounds"); do
    for budget in $budgets; do
        run=$((run + 1))
        kp="K$run-" cp="C$run-"
        bench_registry "$bench_dir/keepers.yaml" "$kp" "$keepers" "$password" 1000
        bench_registry "$bench_dir/cold.yaml" "$cp" "$cold" "$password" "$iterations"
        { cat "$bench_dir/keepers.yaml"; tail -n +2 "$bench_dir/cold.yaml"; } >"$bench_dir/registry.yaml"
        yaml="security:
  stations_file: $bench_dir/registry.yaml
  connections_per_address: $((keepers + cold + 1000))"
        case "$budget" in
        lifted) yaml="$yaml
  password_check_ms_per_second: 1000000" ;;
        [0-9]*) yaml="$yaml
  password_check_ms_per_second: $budget" ;;
        esac
        start_gateway "$yaml
${BENCH_GATEWAY_YAML:-}" --security-profile 1
        progress="$bench_dir/keepers.err"
        : >"$progress"
        "$bin/ocpp-loadgen" --url "ws://127.0.0.1:$port/ocpp" --password "$password" \
            --id-prefix "$kp" --stations "$keepers" --mix realistic --rate 400 --warmup 3 \
            --duration "$window" --json >"$bench_dir/keepers.json" 2>"$progress" &
        lg=$!
        wait_for_mark "$progress" '^traffic:' "$lg"
        sleep 3  # the keepers' warm-up: the newcomers arrive inside the measured window
        g0=$(cpu_s "$gw")
        started=$(date +%s.%N)
        "$bin/ocpp-loadgen" --url "ws://127.0.0.1:$port/ocpp" --password "$password" \
            --id-prefix "$cp" --stations "$cold" --connect-rate 500 --connect-retries 40 \
            --idle --duration 1 >"$bench_dir/cold.out" 2>&1 || true
        arrived=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
        connected=$(sed -n 's/.*all stations connected: \([0-9]*\) of.*/\1/p' "$bench_dir/cold.out")
        g1=$(cpu_s "$gw")
        status=0
        wait "$lg" || status=$?
        refused=$(curl -sf "http://127.0.0.1:$admin/metrics" |
            awk '/^ocpp_handshakes_refused_total\{reason="password_budget"\}/ {print $2}')
        printf '{"budget":"%s","round":%s,"iterations":%s,"cold_stations":%s,"cold_connected":%s,"cold_arrival_s":%s,"refused_password_budget":%s,"gateway_cpu_s_during_arrival":%s,"keepers_status":%s,"keepers":%s}\n' \
            "$budget" "$round" "$iterations" "$cold" "${connected:-0}" "$arrived" "${refused:-0}" \
            "$(diff2 "$g1" "$g0")" "$status" "$(cat "$bench_dir/keepers.json")"
        stop_gateway
    done
done
