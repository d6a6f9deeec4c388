#!/usr/bin/env bash
# Measures the gateway with ocpp-loadgen against a local Kafka broker, everything on this
# machine (loopback only). Prints one JSON line per run; docs/benchmarks.md has the results.
#   BENCH_KAFKA_PORT (29892), BENCH_PORT (19000), BENCH_DURATION (10 s), BENCH_STATIONS (500)
#   BENCH_RATES_HEARTBEAT, BENCH_RATES_REALISTIC: space-separated rates to try
#   BENCH_WARMUP: seconds of unmeasured load at each mix's first rate before its runs (10; 0: none)
#   BENCH_IDLE: space-separated idle station counts for the memory runs ("" for none)
#   BENCH_GATEWAY: the gateway executable (default build/bin/ocpp-gateway), to compare builds
#                  in one session with the same load generator
#   BENCH_LOADGEN: the load generator executable (default build/bin/ocpp-loadgen)
#   BENCH_GATEWAY_ARGS: extra gateway arguments (e.g. "--kafka-property linger.ms=0")
#   BENCH_GATEWAY_YAML: extra top-level YAML for the gateway's configuration (e.g. "io_threads: 1")
#   BENCH_IDLE_WINDOW: seconds the broker's CPU is measured alone and then beside idle
#                  gateways (default 30; 0: skip); every load run also reports the broker's CPU
# Every load run reports the gateway's and the broker's CPU twice: over the whole run (ramp-up,
# warm-up, closing; an upper bound) and over the measured window alone (*_window_cpu_s), and
# over the window also the load generator's CPU and how busy each core was (cores_busy_window,
# fractions: with BENCH_PIN, whether the gateway's core or the other one was the limit).
#   BENCH_IDLE_INSTANCES: idle gateways for that measurement (default 1)
#   BENCH_SWITCHES: "1" also counts the gateway's context switches over each load run
#                  (`perf stat -e context-switches`; wake-ups of its threads), per message in
#                  scripts/bench-summary.py
#   BENCH_THREADS: "1" also reports the gateway's CPU and context switches per thread over
#                  the measured window (from /proc; threads of one name added up), per message
#                  in scripts/bench-summary.py
#   BENCH_SYSCALLS: "1" also counts the gateway's system calls over the measured window, in
#                  all and by kind (`perf stat` on the syscall tracepoints; needs root or a
#                  low perf_event_paranoid), per message in scripts/bench-summary.py: counts do
#                  not vary with a noisy machine as CPU times do. Counting slows every system
#                  call down: the CPU and latency of such runs are not comparable with others
#   BENCH_PROFILE: "1" also samples the gateway over each measured window (`perf record`, 999
#                  samples a second, no call graphs) and reports its CPU by library, by thread
#                  and its busiest functions, in µs per message in scripts/bench-summary.py:
#                  where the time goes, before and after a change (BENCH_PROFILE_TOP functions, default
#                  12; the samples are kept only while the run lasts). Sampling is not free
#                  (on the KVM guest of docs/benchmarks.md, 15-30 % more gateway CPU per
#                  message): compare profiled runs with profiled runs
#   BENCH_BROKER_RTT_MS: a broker that far away (ms per round trip; 0, the default: direct):
#                  the broker advertises a relay (scripts/delay-proxy.py, on BENCH_KAFKA_PORT
#                  + 5) that holds each chunk half that long each way; the gateway bootstraps
#                  directly and then talks to the broker through the relay
#   BENCH_PIN: "1" pins the broker and the load generator to core 0 and the gateway to core 1
#                  (taskset), so the gateway's own ceiling shows apart from the broker's
set -euo pipefail
cd "$(dirname "$0")/.."
idle_pids=()

bin=build/bin
kafka_port="${BENCH_KAFKA_PORT:-29892}"
port="${BENCH_PORT:-19000}"
admin=$((port + 100))
duration="${BENCH_DURATION:-10}"
warmup_s="${BENCH_WARMUP:-10}"
stations="${BENCH_STATIONS:-2000}"
rates_heartbeat="${BENCH_RATES_HEARTBEAT-2000 5000 10000 15000 20000}"
rates_realistic="${BENCH_RATES_REALISTIC-2000 5000 8000 12000}"
idle_counts="${BENCH_IDLE-10000}"
idle_window="${BENCH_IDLE_WINDOW-30}"
idle_instances="${BENCH_IDLE_INSTANCES:-1}"
# shellcheck disable=SC2206
gateway_args=(${BENCH_GATEWAY_ARGS:-})
extra_yaml="${BENCH_GATEWAY_YAML:-}"
gateway_bin="${BENCH_GATEWAY:-$bin/ocpp-gateway}"
loadgen_bin="${BENCH_LOADGEN:-$bin/ocpp-loadgen}"
data="$(mktemp -d /tmp/ocpp-bench-kafka.XXXXXX)"
log="$(mktemp /tmp/ocpp-bench-gateway.XXXXXX.log)"

rtt_ms="${BENCH_BROKER_RTT_MS:-0}"
if ! [[ $rtt_ms =~ ^[0-9]+$ ]]; then
    echo "BENCH_BROKER_RTT_MS must be whole milliseconds, got '$rtt_ms'" >&2
    exit 2
fi
relay_pid=""

export KAFKA_PORT="$kafka_port" KAFKA_DATA="$data"
cleanup() {
    set +e    # everything here runs, whatever has already ended
    [ -n "${gw:-}" ] && kill "$gw" 2>/dev/null && wait "$gw" 2>/dev/null
    for p in "${idle_pids[@]}"; do kill "$p" 2>/dev/null; done
    deploy/kafka/kafka.sh stop >/dev/null 2>&1
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
    rm -rf "$data"
}
trap cleanup EXIT
if [ "$rtt_ms" -gt 0 ]; then
    relay_port=$((kafka_port + 5))
    python3 scripts/delay-proxy.py --listen "127.0.0.1:$relay_port" --to "127.0.0.1:$kafka_port" \
        --delay-ms "$(awk -v r="$rtt_ms" 'BEGIN {print r / 2}')" 2>>"$log" &
    relay_pid=$!
    for _ in $(seq 1 50); do
        grep -q "^delay-proxy: listening on 127.0.0.1:$relay_port" "$log" && break
        kill -0 "$relay_pid" 2>/dev/null || { echo "the relay did not start; log: $log" >&2; exit 1; }
        sleep 0.1
    done
    grep -q "^delay-proxy: listening" "$log" || { echo "the relay did not start; log: $log" >&2; exit 1; }
    # A later line wins: clients learn the relay's address from the broker's metadata.
    controller_port="${KAFKA_CONTROLLER_PORT:-$((kafka_port + 1))}"
    export KAFKA_EXTRA_CONFIG="${KAFKA_EXTRA_CONFIG:+$KAFKA_EXTRA_CONFIG
}advertised.listeners=PLAINTEXT://127.0.0.1:$relay_port,CONTROLLER://127.0.0.1:$controller_port"
fi
deploy/kafka/kafka.sh start >&2
pin_gateway=()
pin_rest=()
if [ "${BENCH_PIN:-0}" = 1 ]; then
    taskset -a -c -p 0 "$(cat "$data/kafka.pid")" >/dev/null
    pin_gateway=(taskset -c 1)
    pin_rest=(taskset -c 0)
fi

start_gateway() {   # [N: the N-th extra instance, its own ports and id] ARGS...
    local n=0
    if [[ "${1:-}" =~ ^[0-9]+$ ]]; then n=$1; shift; fi
    local id=bench
    [ "$n" -gt 0 ] && id="bench-idle-$n"
    "${pin_gateway[@]}" "$gateway_bin" --listen "127.0.0.1:$((port + n))" --admin-listen "127.0.0.1:$((admin + n))" \
        --kafka-brokers "127.0.0.1:$kafka_port" --gateway-id "$id" --log-level warn "$@" \
        >>"$log" 2>&1 &
    gw=$!
    for _ in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$((admin + n))/readyz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "gateway did not become ready; log: $log" >&2
    exit 1
}
stop_gateway() { kill "$gw"; wait "$gw" || true; gw=""; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$gw/status"; }
# User + system CPU seconds a process (default: the gateway) has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/${1:-$gw}/stat"; }
# Per core, one line each: busy ticks and all ticks so far (/proc/stat: user, nice, system,
# irq and softirq are busy; idle, iowait and steal are not; guest time is inside user already).
cores_snapshot() { awk '/^cpu[0-9]/ {print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
# The share of each core that was busy between two snapshots, as a JSON array of fractions.
cores_busy_json() {
    paste -d' ' "$1" "$2" | awk '{printf "%s%.2f", (NR > 1 ? "," : "["), ($3 - $1) / (($4 - $2) > 0 ? ($4 - $2) : 1)} END {print "]"}'
}
broker_pid=$(cat "$data/kafka.pid")
# Per thread of the gateway, one line each: name, CPU ticks (user + system), context switches.
threads_snapshot() {
    local t
    for t in /proc/"$gw"/task/*; do
        awk -v name="$(cat "$t/comm" 2>/dev/null)" '{sub(/^.*\) /, ""); printf "%s\t%d", name, $12 + $13}' \
            "$t/stat" 2>/dev/null || continue
        awk '/ctxt_switches/ {n += $2} END {printf "\t%d\n", n}' "$t/status" 2>/dev/null || printf '\t0\n'
    done
}
# The difference of two snapshots as a JSON object {name: {"cpu_s", "switches"}}.
threads_json() {
    python3 - "$1" "$2" "$(getconf CLK_TCK)" <<'PY'
import json, sys
def read(path):
    totals = {}
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) == 3:
            cpu, sw = totals.get(parts[0], (0, 0))
            totals[parts[0]] = (cpu + int(parts[1]), sw + int(parts[2]))
    return totals
before, after, hz = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3])
print(json.dumps({name: {"cpu_s": round((cpu - before.get(name, (0, 0))[0]) / hz, 2),
                         "switches": sw - before.get(name, (0, 0))[1]}
                  for name, (cpu, sw) in sorted(after.items())}))
PY
}

# The system calls counted with BENCH_SYSCALLS: all of them, and the kinds the gateway and
# librdkafka make per message.
syscall_kinds="recvfrom sendmsg epoll_wait epoll_ctl read write futex poll recvmsg"
syscall_events="raw_syscalls:sys_enter,context-switches"
for k in $syscall_kinds; do syscall_events+=",syscalls:sys_enter_$k"; done
if [ "${BENCH_SYSCALLS:-0}" = 1 ] && ! perf stat -e "$syscall_events" true >/dev/null 2>&1; then
    echo "BENCH_SYSCALLS=1 needs perf and its syscall tracepoints (root, or" \
        "kernel.perf_event_paranoid -1 and tracefs readable)" >&2
    exit 2
fi
# perf stat's CSV (count, unit, event, ...) and the seconds it counted for, as a JSON object
# {"window_s": seconds, "all": N, "context-switches": N, "<kind>": N, ...}. The seconds are the
# wall clock's around perf (a few hundredths too many: its start-up); the run time perf writes
# per counter is the time the gateway's threads ran, not the window.
syscalls_json() {
    awk -F, -v window="$2" '!/^#/ && NF > 3 {
        name = $3; sub(/^(raw_)?syscalls:sys_enter_?/, "", name); if (name == "") name = "all"
        out = out sprintf(",\"%s\":%s", name, ($1 ~ /^[0-9]+$/ ? $1 : "null"))
    } END { printf "{\"window_s\":%.3f%s}", window, out }' "$1"
}

if [ "${BENCH_PROFILE:-0}" = 1 ] && ! perf record -q -F 999 -o /dev/null true >/dev/null 2>&1; then
    echo "BENCH_PROFILE=1 needs perf able to sample (root, or kernel.perf_event_paranoid <= 1)" >&2
    exit 2
fi
# perf record's samples as a JSON object {"samples": N, "dso": {library: percent, ...},
# "threads": {thread name: percent, ...}, "top": [[function, library, percent], ...]}
# (percent of the gateway's samples).
profile_json() {
    python3 - "$1" "${BENCH_PROFILE_TOP:-12}" <<'PY'
import json, subprocess, sys
def report(sort):
    out = subprocess.run(["perf", "report", "-i", sys.argv[1], "--stdio", "--no-children", "-q",
                          "--sort", sort, "-t", "\t"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) >= 2 and fields[0].endswith("%"):
            yield [float(fields[0].rstrip("%"))] + fields[1:]
samples = subprocess.run(["perf", "report", "-i", sys.argv[1], "--stats"],
                         capture_output=True, text=True).stdout
count = next((int(l.split(":")[1].split()[0]) for l in samples.splitlines()
              if l.strip().startswith("SAMPLE events:")), None)
dso = {name: pct for pct, name, *_ in report("dso")}
threads = {name: pct for pct, name, *_ in report("comm")}
top = [[sym.removeprefix("[k] ").removeprefix("[.] "), name, pct]
       for pct, name, sym, *_ in report("dso,sym")][: int(sys.argv[2])]
print(json.dumps({"samples": count, "dso": dso, "threads": threads, "top": top}))
PY
}

# The hard file-descriptor limit caps idle runs (each station is a socket in both processes).
echo "file descriptors: $(ulimit -Hn)" >&2
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024/1024)}' /proc/meminfo) GiB," \
     "$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}')" >&2

# Every load generator station comes from 127.0.0.1: lift the per-address connection limit
# (1,000 by default), or half of the stations would be refused.
# What an idle gateway costs the broker: its CPU alone, then beside BENCH_IDLE_INSTANCES
# gateways with no station (their consumers, liveness records and metadata requests), each
# over the window. Several instances lift the difference above the broker's own noise; the
# figures printed are per instance.
if [ "$idle_window" -gt 0 ]; then
    start_gateway --config <(printf '%s\n' "$extra_yaml") "${gateway_args[@]}"   # creates the topics
    stop_gateway
    sleep 10        # let the broker settle after the topics were created (not measured)
    b0=$(cpu_s "$broker_pid"); sleep "$idle_window"; b1=$(cpu_s "$broker_pid")
    idle_pids=()
    for i in $(seq 1 "$idle_instances"); do
        start_gateway "$i" --config <(printf '%s\n' "$extra_yaml") "${gateway_args[@]}"
        idle_pids+=("$gw")
        gw=""
    done
    sleep 10        # past the gateways' start-up: group join, table catch-up (not measured)
    gateways_cpu() { local sum=0; for p in "${idle_pids[@]}"; do sum=$(awk -v a="$sum" -v b="$(cpu_s "$p")" 'BEGIN {print a + b}'); done; echo "$sum"; }
    g0=$(gateways_cpu); b2=$(cpu_s "$broker_pid"); sleep "$idle_window"; b3=$(cpu_s "$broker_pid"); g3=$(gateways_cpu)
    for p in "${idle_pids[@]}"; do kill "$p"; wait "$p" || true; done
    idle_pids=()
    printf '{"idle_window_s":%s,"idle_instances":%s,"broker_alone_cpu_s":%s,"broker_with_idle_gateway_cpu_s":%s,"idle_gateway_cpu_s":%s}\n' \
        "$idle_window" "$idle_instances" "$(awk -v a="$b1" -v b="$b0" 'BEGIN {printf "%.2f", a - b}')" \
        "$(awk -v a="$b3" -v b="$b2" 'BEGIN {printf "%.2f", a - b}')" \
        "$(awk -v a="$g3" -v b="$g0" 'BEGIN {printf "%.2f", a - b}')"
fi

start_gateway --config <(printf 'security:\n  connections_per_address: %s\n%s\n' "$((stations + 1000))" "$extra_yaml") \
    "${gateway_args[@]}"
url="ws://127.0.0.1:$port/ocpp"
# Unmeasured warm-up: the broker's JIT, topic partitions and log segments.
"$loadgen_bin" --url "$url" --id-prefix W- --stations "$stations" --mix realistic \
    --rate 3000 --duration 10 --warmup 2 --threads 1 --json >/dev/null
for mix in heartbeat realistic; do
    rates="$rates_heartbeat"
    [ "$mix" = realistic ] && rates="$rates_realistic"
    # Unmeasured, at the mix's first rate: the first high rate after the topics were created
    # was slower than the same rate later in the run (a p95 of 60-90 ms and skipped sends at
    # 30,000-50,000 heartbeats/s with both cores below 90 %; docs/benchmarks.md).
    read -r first_rate _ <<<"$rates" || true
    if [ -n "${first_rate:-}" ] && [ "$warmup_s" -gt 0 ]; then
        "${pin_rest[@]}" "$loadgen_bin" --url "$url" --id-prefix "W${mix:0:1}-" --stations "$stations" \
            --mix "$mix" --rate "$first_rate" --duration "$warmup_s" --warmup 1 --threads 1 --json >/dev/null
    fi
    for rate in $rates; do
        cpu_before=$(cpu_s)
        broker_before=$(cpu_s "$broker_pid")
        if [ "${BENCH_SWITCHES:-0}" = 1 ]; then
            perf stat -e context-switches -x, -o "$log.switches" -p "$gw" &
            perf_pid=$!
        fi
        "${pin_rest[@]}" "$loadgen_bin" --url "$url" --id-prefix "B${mix:0:1}$rate-" \
            --stations "$stations" --mix "$mix" --rate "$rate" --duration "$duration" \
            --warmup 3 --threads 1 --json >"$log.report" 2>"$log.progress" &
        lg=$!
        # CPU over the measured window alone as well: from the generator's traffic mark, past
        # its 3 s warm-up, for the window's length (a few milliseconds off its own clock).
        until grep -q '^traffic:' "$log.progress"; do
            kill -0 "$lg" 2>/dev/null || break
            sleep 0.02
        done
        sleep 3
        window_gw0=$(cpu_s); window_b0=$(cpu_s "$broker_pid"); window_lg0=$(cpu_s "$lg" 2>/dev/null || echo null)
        cores_snapshot >"$log.cores0"
        [ "${BENCH_THREADS:-0}" = 1 ] && threads_snapshot >"$log.threads0"
        if [ "${BENCH_SYSCALLS:-0}" = 1 ]; then
            syscalls_t0=$(date +%s.%N)
            perf stat -x, -o "$log.syscalls" -e "$syscall_events" -p "$gw" &
            syscalls_pid=$!
        fi
        if [ "${BENCH_PROFILE:-0}" = 1 ]; then
            perf record -q -F 999 -o "$log.perf" -p "$gw" 2>/dev/null &
            profile_pid=$!
        fi
        sleep "$duration"
        window_gw1=$(cpu_s); window_b1=$(cpu_s "$broker_pid"); window_lg1=$(cpu_s "$lg" 2>/dev/null || echo null)
        cores_snapshot >"$log.cores1"
        [ "${BENCH_THREADS:-0}" = 1 ] && threads_snapshot >"$log.threads1"
        if [ "${BENCH_SYSCALLS:-0}" = 1 ]; then
            kill -INT "$syscalls_pid"; wait "$syscalls_pid" || true
            syscalls_s=$(awk -v a="$(date +%s.%N)" -v b="$syscalls_t0" 'BEGIN {printf "%.3f", a - b}')
        fi
        if [ "${BENCH_PROFILE:-0}" = 1 ]; then
            kill -INT "$profile_pid"; wait "$profile_pid" || true
        fi
        wait "$lg"
        report=$(cat "$log.report")
        switches=""
        if [ "${BENCH_SWITCHES:-0}" = 1 ]; then
            kill -INT "$perf_pid"; wait "$perf_pid" || true
            switches=$(awk -F, '$3 == "context-switches" {print $1}' "$log.switches")
            switches=",\"gateway_context_switches\":${switches:-null}"
        fi
        if [ "${BENCH_THREADS:-0}" = 1 ]; then
            switches+=",\"gateway_threads\":$(threads_json "$log.threads0" "$log.threads1")"
        fi
        if [ "${BENCH_SYSCALLS:-0}" = 1 ]; then
            switches+=",\"gateway_syscalls_window\":$(syscalls_json "$log.syscalls" "$syscalls_s")"
        fi
        if [ "${BENCH_PROFILE:-0}" = 1 ]; then
            switches+=",\"gateway_profile_window\":$(profile_json "$log.perf")"
            rm -f "$log.perf"
        fi
        printf '{"mix":"%s","rate":%s,"broker_rtt_ms":%s,"report":%s,"gateway_cpu_s":%s,"broker_cpu_s":%s,"gateway_window_cpu_s":%s,"broker_window_cpu_s":%s,"generator_window_cpu_s":%s,"cores_busy_window":%s%s}\n' "$mix" "$rate" "$rtt_ms" "$report" \
            "$(awk -v a="$(cpu_s)" -v b="$cpu_before" 'BEGIN {printf "%.2f", a - b}')" \
            "$(awk -v a="$(cpu_s "$broker_pid")" -v b="$broker_before" 'BEGIN {printf "%.2f", a - b}')" \
            "$(awk -v a="$window_gw1" -v b="$window_gw0" 'BEGIN {printf "%.2f", a - b}')" \
            "$(awk -v a="$window_b1" -v b="$window_b0" 'BEGIN {printf "%.2f", a - b}')" \
            "$(awk -v a="$window_lg1" -v b="$window_lg0" 'BEGIN {if (a == "null" || b == "null") print "null"; else printf "%.2f", a - b}')" \
            "$(cores_busy_json "$log.cores0" "$log.cores1")" "$switches"
    done
done
stop_gateway

for n in $idle_counts; do
    # All from loopback addresses, faster than the default admission rate: both limits lifted.
    start_gateway --config <(printf 'limits:\n  max_connections: %s\nsecurity:\n  connections_per_address: %s\n  handshakes_per_second: 100000\n' "$((n + 1000))" "$((n + 1000))")
    before=$(rss_kib)
    ulimit -S -n $((n + 1024)) 2>/dev/null || true   # -S: never lower the hard limit
    "$loadgen_bin" --url "$url" --id-prefix "I$n-" --stations "$n" --idle --duration 5 \
        --connect-rate 2000 --threads 2 --source-addresses 127.0.0.1-127.0.0.4 --json \
        >"$log.idle" 2>"$log.idle.progress" &
    lg=$!
    # Three phases, read apart by the generator's marks on stderr: the connection burst, the
    # hold (every station connected and booted, nothing sent for 5 s) and the teardown (every
    # station disconnecting at once, each connection lingering until the station's side has
    # closed: the RSS rises again). What a station costs is the hold's memory: its last sample
    # is the one reported; the peak is the burst's and the hold's; the teardown's apart.
    peak=0
    held=0
    teardown=0
    phase=burst
    while kill -0 "$lg" 2>/dev/null; do
        r=$(rss_kib)
        if [ "$phase" = burst ] && grep -q '^all stations connected' "$log.idle.progress"; then
            phase=hold
        fi
        if [ "$phase" = hold ] && grep -q '^idle hold over' "$log.idle.progress"; then
            phase=teardown
        fi
        case $phase in
            burst) [ "$r" -gt "$peak" ] && peak=$r ;;
            hold) [ "$r" -gt "$peak" ] && peak=$r; held=$r ;;
            teardown) [ "$r" -gt "$teardown" ] && teardown=$r ;;
        esac
        sleep 0.5
    done
    wait "$lg" || true
    # The generator is gone; the gateway's side of the teardown (a lingering close is at most
    # 2 s) goes on a little longer.
    for _ in 1 2 3 4 5 6; do
        r=$(rss_kib); [ "$r" -gt "$teardown" ] && teardown=$r
        sleep 0.5
    done
    cat "$log.idle.progress" >&2
    if [ "$held" -eq 0 ]; then
        echo "idle run of $n stations: the generator never reached its hold; see above" >&2
        exit 1
    fi
    printf '{"idle_stations":%s,"rss_before_kib":%s,"rss_peak_kib":%s,"per_station_bytes":%s,"rss_idle_kib":%s,"idle_per_station_bytes":%s,"rss_teardown_peak_kib":%s,"loadgen":%s}\n' \
        "$n" "$before" "$peak" "$(( (peak - before) * 1024 / n ))" "$held" \
        "$(( (held - before) * 1024 / n ))" "$teardown" "$(cat "$log.idle")"
    stop_gateway
done
