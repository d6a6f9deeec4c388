#!/usr/bin/env bash
# What TLS costs the gateway (security profile 2 against profile 1, the same Basic
# authentication over ws://), everything on this machine (loopback only). Prints one JSON line
# per run; scripts/bench-summary.py turns them into the tables of docs/benchmarks.md.
#  1. Per message: the realistic mix at BENCH_RATES over BENCH_STATIONS stations; gateway and
#     broker CPU per message, over the whole run (the stations' connections included) and over
#     the measured window alone. Rows carry "target": ws, wss-rsa, wss-ecdsa.
#  2. Handshakes: BENCH_STORM_STATIONS stations connected, then every connection reset at once
#     and all of them back at BENCH_STORM_RATE per second (above what the gateway can take,
#     so the rate achieved is its capacity): reconnections per second and the gateway's CPU
#     per reconnection (TCP, TLS, upgrade, Basic check from the cache, BootNotification and one
#     StatusNotification through Kafka), with and without TLS session resumption.
#  3. Idle memory: first, on the freshly started gateway, BENCH_IDLE_STATIONS stations connect,
#     boot and stay idle; the gateway's RSS is read during the hold (the generator marks it on
#     stderr) and reported per station. Rows carry "idle_target".
#   BENCH_RATES ("2000 5000"), BENCH_STATIONS (1000), BENCH_DURATION (10 s), BENCH_ROUNDS (2)
#   BENCH_STORM_STATIONS (3000; 0: no storms), BENCH_STORM_RATE (5000)
#   BENCH_IDLE_STATIONS (5000; 0: no idle runs). BENCH_RATES="" runs no load.
#   BENCH_PBKDF2_ITERATIONS (1000): the registry's hash cost. Low so ramp-ups are quick; no
#     measured number includes a PBKDF2 computation (the measured windows and storms come
#     after every station has connected once, and successful checks are cached).
#   BENCH_KAFKA_PORT, BENCH_PORT: see scripts/bench-lib.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

rates="${BENCH_RATES-2000 5000}"
stations="${BENCH_STATIONS:-1000}"
duration="${BENCH_DURATION:-10}"
rounds="${BENCH_ROUNDS:-2}"
storm_stations="${BENCH_STORM_STATIONS:-3000}"
storm_rate="${BENCH_STORM_RATE:-5000}"
iterations="${BENCH_PBKDF2_ITERATIONS:-1000}"
password=bench-Station-pw
idle_stations="${BENCH_IDLE_STATIONS:-5000}"
most=$((stations > storm_stations ? stations : storm_stations))
most=$((most > idle_stations ? most : idle_stations))

bench_machine
bench_pki
pki="$bench_dir/pki"
bench_registry "$bench_dir/registry.yaml" B "$most" "$password" "$iterations"
bench_broker

# Every station comes from 127.0.0.1; admission control (500 upgrades/s) would make the
# storm measure the limit instead of the gateway.
yaml="security:
  stations_file: $bench_dir/registry.yaml
  connections_per_address: $((most + 1000))
  handshakes_per_second: 100000"
start_target() {
    case "$1" in
    ws) start_gateway "$yaml" --security-profile 1 ;;
    wss-rsa) start_gateway "$yaml" --security-profile 2 --tls-cert "$pki/server-rsa.pem" --tls-key "$pki/server-rsa.key" ;;
    wss-ecdsa) start_gateway "$yaml" --security-profile 2 --tls-cert "$pki/server-ec.pem" --tls-key "$pki/server-ec.key" ;;
    esac
    url="ws://127.0.0.1:$port/ocpp"
    tls=()
    if [ "$1" != ws ]; then
        url="wss://127.0.0.1:$port/ocpp"
        tls=(--ca-file "$pki/ca.pem")
    fi
}
loadgen() { wait_drained; "$bin/ocpp-loadgen" --url "$url" "${tls[@]}" --password "$password" --id-prefix B "$@"; }
ulimit -S -n $((most + 1024)) 2>/dev/null || true   # -S: never lower the hard limit

# idle_run TARGET ROUND: the memory an idle station holds (gateway just started).
idle_run() {
    local before held progress="$bench_dir/idle.err"
    before=$(rss_kib "$gw")
    : >"$progress"
    loadgen --stations "$idle_stations" --connect-rate 2000 --connect-retries 5 --threads 2 --idle --duration 6 \
        --source-addresses 127.0.0.1-127.0.0.4 --json >"$bench_dir/idle.json" 2>"$progress" &
    local lg=$!
    wait_for_mark "$progress" '^all stations connected' "$lg"
    sleep 3     # into the 6 s hold: the ramp-up's last records are acknowledged
    held=$(rss_kib "$gw")
    wait "$lg"
    printf '{"idle_target":"%s","round":%s,"idle_stations":%s,"rss_before_kib":%s,"rss_idle_kib":%s,"report":%s}\n' \
        "$1" "$2" "$idle_stations" "$before" "$held" "$(cat "$bench_dir/idle.json")"
}

for round in $(seq 1 "$rounds"); do
    for target in ws wss-rsa wss-ecdsa; do
        start_target "$target"
        if [ "$idle_stations" -gt 0 ]; then
            idle_run "$target" "$round"
        fi
        # Unmeasured warm-up: every station connects once (PBKDF2, then cached), broker JIT.
        if [ -n "$rates" ] || [ "$storm_stations" -gt 0 ]; then
            loadgen --stations "$most" --connect-rate 1000 --mix realistic --rate 1000 \
                --duration 3 --warmup 1 --json >/dev/null
        fi
        for rate in $rates; do
            # The whole run includes every station's connection (its TLS handshake when there
            # is one), the measured window none.
            measured_run "$gw" "$duration" "$bench_dir/rate" loadgen --stations "$stations" \
                --connect-rate 1000 --mix realistic --rate "$rate" --duration "$duration" --warmup 3 --json
            printf '{"target":"%s","round":%s,"mix":"realistic","rate":%s,"report":%s,%s}\n' \
                "$target" "$round" "$rate" "$(cat "$bench_dir/rate.json")" "$run_cpu"
        done
        resume_options=(no)
        [ "$target" != ws ] && resume_options=(no yes)
        if [ "$storm_stations" -eq 0 ]; then
            resume_options=()
        fi
        for resume in "${resume_options[@]}"; do
            extra=()
            [ "$resume" = yes ] && extra=(--tls-resume)
            # The gateway's CPU from the moment of the drop (the generator says so on stderr)
            # to the end of the run, which adds closing every connection normally.
            progress="$bench_dir/storm.err"
            : >"$progress"
            loadgen --stations "$storm_stations" --connect-rate "$storm_rate" --storm --warmup 1 \
                "${extra[@]}" --json >"$bench_dir/storm.json" 2>"$progress" &
            lg=$!
            wait_for_mark "$progress" '^storm: dropping' "$lg"
            g0=$(cpu_s "$gw"); b0=$(cpu_s "$broker_pid")
            wait "$lg"
            printf '{"storm_target":"%s","round":%s,"resume":"%s","reconnect_rate":%s,"report":%s,"target_cpu_s":%s,"broker_cpu_s":%s}\n' \
                "$target" "$round" "$resume" "$storm_rate" "$(cat "$bench_dir/storm.json")" \
                "$(diff2 "$(cpu_s "$gw")" "$g0")" "$(diff2 "$(cpu_s "$broker_pid")" "$b0")"
        done
        stop_gateway
    done
done
