#!/usr/bin/env bash
# Connected stations while a crowd arrives, by admission setting: BENCH_KEEPERS stations
# (2,000) already connected send the realistic mix at BENCH_KEEPERS_RATE CALLs/s (2,000) over
# a 75 s window; 3 s into it BENCH_ARRIVING stations (16,000; an instance's share of a failed
# neighbour, or a site back from an outage) connect at BENCH_ARRIVAL_RATE per second (3,000),
# from four loopback addresses, retrying refusals as firmware does (after 1, 2, 4, then every
# 8 s), and stay connected until the window is over (their teardown falls outside it).
# Security profile 0. Runs: each of BENCH_ADMISSION ("500 2000 lifted"; a number sets
# security.handshakes_per_second, "default" leaves the gateway's own) in each of BENCH_ROUNDS
# rounds (1). Reported per run: how long until every newcomer was connected and booted (the
# generator's own count) and the rate that makes, the refusals, the gateway's and the broker's
# CPU over the arrival and their rate over the 3 s before it (the connected stations' traffic
# alone), and the connected stations' latency over the whole window. One JSON line per run.
#   BENCH_GATEWAY_YAML: extra top-level YAML (not `security:` or `limits:`);
#   BENCH_KAFKA_PORT, BENCH_PORT, BENCH_GATEWAY: see scripts/bench-lib.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

keepers="${BENCH_KEEPERS:-2000}"
keepers_rate="${BENCH_KEEPERS_RATE:-2000}"
arriving="${BENCH_ARRIVING:-16000}"
arrival_rate="${BENCH_ARRIVAL_RATE:-3000}"
admissions="${BENCH_ADMISSION:-500 2000 lifted}"
rounds="${BENCH_ROUNDS:-1}"
window=75

bench_machine
bench_broker

run=0
for round in $(seq 1 "$rounds"); do
    for admission in $admissions; do
        run=$((run + 1))
        yaml="limits:
  max_connections: $((keepers + arriving + 1000))
security:
  connections_per_address: $((keepers + arriving + 1000))"
        case "$admission" in
        default) ;;  # the gateway's own (2,000 without TLS)
        lifted) yaml="$yaml
  handshakes_per_second: 100000" ;;
        [0-9]*) yaml="$yaml
  handshakes_per_second: $admission" ;;
        *) echo "BENCH_ADMISSION: '$admission' is not default, lifted or a number" >&2; exit 2 ;;
        esac
        start_gateway "$yaml
${BENCH_GATEWAY_YAML:-}"
        progress="$bench_dir/keepers.err"
        : >"$progress"
        # The keepers connect at 400/s, below every setting, so that every run starts alike.
        "$bin/ocpp-loadgen" --url "ws://127.0.0.1:$port/ocpp" --id-prefix "K$run-" \
            --stations "$keepers" --connect-rate 400 --mix realistic --rate "$keepers_rate" \
            --warmup 3 --duration "$window" --json >"$bench_dir/keepers.json" 2>"$progress" &
        lg=$!
        wait_for_mark "$progress" '^traffic:' "$lg"
        sleep 3  # the keepers' warm-up
        q0=$(cpu_s "$gw"); qb0=$(cpu_s "$broker_pid")
        sleep 3  # 3 s of their window before the newcomers arrive: their traffic alone
        g0=$(cpu_s "$gw"); b0=$(cpu_s "$broker_pid")
        arrivals="$bench_dir/arriving.err"
        : >"$arrivals"
        "$bin/ocpp-loadgen" --url "ws://127.0.0.1:$port/ocpp" --id-prefix "A$run-" \
            --stations "$arriving" --connect-rate "$arrival_rate" --connect-retries 40 \
            --source-addresses 127.0.0.1-127.0.0.4 --idle --duration $((window + 30)) \
            >"$arrivals" 2>&1 &
        ag=$!
        wait_for_mark "$arrivals" '^all stations connected' "$ag"
        g1=$(cpu_s "$gw"); b1=$(cpu_s "$broker_pid")
        line=$(grep -m1 '^all stations connected' "$arrivals" || true)
        connected=$(sed -n 's/^all stations connected: \([0-9]*\) of.*/\1/p' <<<"$line")
        took=$(sed -n 's/.* in \([0-9.]*\) s.*/\1/p' <<<"$line")
        status=0
        wait "$lg" || status=$?
        kill "$ag" 2>/dev/null || true
        wait "$ag" 2>/dev/null || true
        refused=$(curl -sf "http://127.0.0.1:$admin/metrics" |
            awk '/^ocpp_handshakes_refused_total\{reason="admission_rate"\}/ {print $2}' || true)
        report=$(cat "$bench_dir/keepers.json" 2>/dev/null || true)
        # An arrival that outlasts the window is not measured whole: said in the record.
        within=$(awk -v t="${took:-0}" -v w="$window" -v c="${connected:-0}" -v n="$arriving" \
            'BEGIN {print (c == n && t > 0 && 3 + t < w) ? "true" : "false"}')
        printf '{"admission":"%s","round":%s,"arriving":%s,"arrival_rate":%s,"arrived_connected":%s,"arrival_complete_within_window":%s,"arrival_s":%s,"refused_rate":%s,"gateway_cpu_s_during_arrival":%s,"broker_cpu_s_during_arrival":%s,"gateway_cpu_s_before_per_s":%s,"broker_cpu_s_before_per_s":%s,"keepers_status":%s,"keepers":%s}\n' \
            "$admission" "$round" "$arriving" "$arrival_rate" "${connected:-0}" "$within" "${took:-0}" \
            "${refused:-0}" "$(diff2 "$g1" "$g0")" "$(diff2 "$b1" "$b0")" \
            "$(awk -v a="$g0" -v b="$q0" 'BEGIN {printf "%.3f", (a - b) / 3}')" \
            "$(awk -v a="$b0" -v b="$qb0" 'BEGIN {printf "%.3f", (a - b) / 3}')" \
            "$status" "${report:-null}"
        stop_gateway
    done
done
