#!/usr/bin/env bash
# A fleet on one machine: BENCH_FLEET_STATIONS stations (100,000) across BENCH_INSTANCES
# gateway instances (6) on one broker, from as many load-generator processes (each under the
# open-file limit; the stations split into N blocks, one per instance). Every station connects and boots,
# the fleet holds idle while each instance's memory is read, then 1 % of the fleet's stations'
# worth of traffic runs for BENCH_DURATION seconds at BENCH_RATE CALLs/s (realistic mix,
# spread over all stations). Prints one JSON line: per-instance RSS before and with the
# stations, CPU, and the load generator's merged report.
#   BENCH_FLEET_STATIONS (100000), BENCH_INSTANCES (6), BENCH_RATE (1000),
#   BENCH_DURATION (30), BENCH_CONNECT_RATE (800: six instances, six generators and the broker
#   share the cores; at 2,000/s here 9 % of the upgrades timed out)
#   BENCH_SOURCE_ADDRESSES (127.0.0.1-127.0.0.4: ~4,200 stations per address and instance,
#   under the half of the local port range connect() tries first; see "Reconnect storms" in
#   docs/benchmarks.md)
#   BENCH_KAFKA_PORT, BENCH_PORT: see scripts/bench-lib.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

stations="${BENCH_FLEET_STATIONS:-100000}"
instances="${BENCH_INSTANCES:-6}"
rate="${BENCH_RATE:-1000}"
duration="${BENCH_DURATION:-30}"
connect_rate="${BENCH_CONNECT_RATE:-800}"
sources="${BENCH_SOURCE_ADDRESSES:-127.0.0.1-127.0.0.4}"
per_instance=$(( (stations + instances - 1) / instances ))

bench_machine
bench_broker
# An instance's stations come from a few addresses, and the ramp-up may be faster than the
# default admission rate (2,000 upgrades/s per instance without TLS); both limits are lifted.
yaml="security:
  connections_per_address: $((per_instance + 1000))
  handshakes_per_second: 100000"
pids=()
urls=()
for n in $(seq 0 $((instances - 1))); do
    start_instance "$n" "$yaml"
    pids+=("$gw")
    urls+=(--url "ws://127.0.0.1:$((port + n))/ocpp")
done
rss_before=(); for p in "${pids[@]}"; do rss_before+=("$(rss_kib "$p")"); done

# Idle: everything connected and booted, held while memory is read.
progress="$bench_dir/fleet.err"
"$bin/ocpp-loadgen" "${urls[@]}" --id-prefix F --stations "$stations" --processes "$instances" \
    --connect-rate "$connect_rate" --connect-retries 5 --source-addresses "$sources" \
    --idle --duration 20 --json \
    >"$bench_dir/idle.json" 2>"$progress" &
lg=$!
wait_for_mark "$progress" '^all stations connected' "$lg"
sleep 10     # the ramp-up's last records and the instances' tables settle
rss_idle=(); for p in "${pids[@]}"; do rss_idle+=("$(rss_kib "$p")"); done
wait "$lg"

# Traffic over the whole fleet, every station connected again; CPU counted from the start of
# the traffic (the generator marks it on stderr), not during the second ramp-up.
: >"$progress"
"$bin/ocpp-loadgen" "${urls[@]}" --id-prefix F --stations "$stations" \
    --processes "$instances" --connect-rate "$connect_rate" --connect-retries 5 \
    --source-addresses "$sources" \
    --mix realistic --rate "$rate" --warmup 5 --duration "$duration" --json \
    >"$bench_dir/traffic.json" 2>"$progress" &
lg=$!
wait_for_mark "$progress" '^traffic:' "$lg"
c0=(); for p in "${pids[@]}"; do c0+=("$(cpu_s "$p")"); done
b0=$(cpu_s "$broker_pid")
wait "$lg"
report=$(cat "$bench_dir/traffic.json")
cpu=(); for i in "${!pids[@]}"; do cpu+=("$(diff2 "$(cpu_s "${pids[$i]}")" "${c0[$i]}")"); done
join() { local IFS=,; echo "$*"; }
printf '{"fleet_stations":%s,"instances":%s,"rate":%s,"rss_before_kib":[%s],"rss_idle_kib":[%s],"idle":%s,"report":%s,"instance_cpu_s":[%s],"broker_cpu_s":%s}\n' \
    "$stations" "$instances" "$rate" "$(join "${rss_before[@]}")" "$(join "${rss_idle[@]}")" \
    "$(cat "$bench_dir/idle.json")" "$report" "$(join "${cpu[@]}")" "$(diff2 "$(cpu_s "$broker_pid")" "$b0")"
