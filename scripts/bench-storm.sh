#!/usr/bin/env bash
# A reconnect storm: BENCH_STORM_STATIONS stations (18,000 by default; the open-file limit per
# process here is 20,000) connect and boot, then every connection is reset at once and all of
# them come back within BENCH_STORM_SECONDS (10): each reconnects, boots and sends one
# StatusNotification. Firmware retries refused connections; the generator does too
# (--connect-retries). Runs: security profile 0 and 1, each with the gateway's default
# admission control (2,000 upgrades/s without TLS) and with it lifted. Afterwards the status topic is read
# back: two BootNotifications and one StatusNotification per station, nothing lost.
# Prints one JSON line per run (scripts/bench-summary.py: the storm table).
#   BENCH_STORM_STATIONS (18000), BENCH_STORM_SECONDS (10), BENCH_PROFILES ("0 1"),
#   BENCH_ADMISSION ("default lifted"; a number sets security.handshakes_per_second),
#   BENCH_PBKDF2_ITERATIONS (1000, see bench-tls.sh)
#   BENCH_GATEWAY_YAML: extra top-level YAML for the gateway (e.g. "io_threads: 1"; not
#                       `security:`, which the script writes)
#   BENCH_SOURCE_ADDRESSES: the generator's source addresses (127.0.0.1-127.0.0.4; one
#                       address holds about 14,000 connections to the gateway before each
#                       further connect() searches the port range, see ocpp-loadgen's warning)
#   BENCH_KAFKA_PORT, BENCH_PORT: see scripts/bench-lib.sh
#   BENCH_PROFILE: "1" also samples the gateway from the drop to the end of the storm (`perf
#                  record`, 999 samples a second) and prints its busiest libraries and
#                  functions to stderr (BENCH_PROFILE_TOP lines, default 40)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

stations="${BENCH_STORM_STATIONS:-18000}"
within="${BENCH_STORM_SECONDS:-10}"
profiles="${BENCH_PROFILES:-0 1}"
admissions="${BENCH_ADMISSION:-default lifted}"
iterations="${BENCH_PBKDF2_ITERATIONS:-1000}"
password=bench-Station-pw
rate=$(awk -v n="$stations" -v s="$within" 'BEGIN {printf "%.0f", n / s}')

if [ "${BENCH_PROFILE:-0}" = 1 ] && ! perf record -q -F 999 -o /dev/null true >/dev/null 2>&1; then
    echo "BENCH_PROFILE=1 needs perf able to sample (root, or kernel.perf_event_paranoid <= 1)" >&2
    exit 2
fi

bench_machine
bench_broker
[ -d tests/interop/node_modules/kafkajs ] || npm ci --prefix tests/interop --no-audit --no-fund >&2

run=0
for profile in $profiles; do
    for admission in $admissions; do
        run=$((run + 1))
        prefix="S$run-"
        bench_registry "$bench_dir/registry.yaml" "$prefix" "$stations" "$password" "$iterations"
        yaml="security:
  stations_file: $bench_dir/registry.yaml
  connections_per_address: $((stations + 1000))"
        case "$admission" in
        lifted) yaml="$yaml
  handshakes_per_second: 100000" ;;
        [0-9]*) yaml="$yaml
  handshakes_per_second: $admission" ;;
        esac
        [ -n "${BENCH_GATEWAY_YAML:-}" ] && yaml="$yaml
$BENCH_GATEWAY_YAML"
        start_gateway "$yaml" --security-profile "$profile"
        auth=()
        [ "$profile" = 1 ] && auth=(--password "$password")
        progress="$bench_dir/storm.err"
        : >"$progress"
        "$bin/ocpp-loadgen" --url "ws://127.0.0.1:$port/ocpp" "${auth[@]}" --id-prefix "$prefix" \
            --stations "$stations" --storm --connect-rate "$rate" --connect-retries 10 \
            --source-addresses "${BENCH_SOURCE_ADDRESSES:-127.0.0.1-127.0.0.4}" \
            --warmup 5 --timeout-ms 30000 --json >"$bench_dir/storm.json" 2>"$progress" &
        lg=$!
        wait_for_mark "$progress" '^storm: dropping' "$lg"
        g0=$(cpu_s "$gw"); b0=$(cpu_s "$broker_pid")
        if [ "${BENCH_PROFILE:-0}" = 1 ]; then
            perf record -q -F 999 -o "$bench_dir/storm.perf" -p "$gw" 2>/dev/null &
            perf_pid=$!
        fi
        status=0
        wait "$lg" || status=$?
        g1=$(cpu_s "$gw"); b1=$(cpu_s "$broker_pid")
        if [ "${BENCH_PROFILE:-0}" = 1 ]; then
            kill -INT "$perf_pid" 2>/dev/null || true
            wait "$perf_pid" || true
            {
                echo "profile $profile, admission $admission: the gateway's samples by library"
                perf report -i "$bench_dir/storm.perf" --stdio --no-children -q --sort dso |
                    head -n 12 || true
                echo "and by function"
                perf report -i "$bench_dir/storm.perf" --stdio --no-children -q \
                    --sort dso,symbol | head -n "${BENCH_PROFILE_TOP:-40}" | cut -c 1-160 || true
            } >&2
        fi
        rss=$(awk '/VmHWM/ {print $2}' "/proc/$gw/status")
        topics=$(node tests/bench/count-records.mjs "127.0.0.1:$kafka_port" "$prefix" ocpp.status)
        printf '{"storm_target":"profile %s, admission %s","round":1,"resume":"-","reconnect_rate":%s,"loadgen_status":%s,"report":%s,"target_cpu_s":%s,"broker_cpu_s":%s,"gateway_peak_rss_kib":%s,"on_topics":%s}\n' \
            "$profile" "$admission" "$rate" "$status" "$(cat "$bench_dir/storm.json")" \
            "$(diff2 "$g1" "$g0")" "$(diff2 "$b1" "$b0")" "$rss" "$topics"
        stop_gateway
    done
done
