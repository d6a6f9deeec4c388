# Shared by the scripts/bench-*.sh that source it (not run): a private broker, CPU readings
# from /proc, a gateway started and waited for, a PKI and a registry.
#   BENCH_KAFKA_PORT (29892), BENCH_PORT (19000; admin on BENCH_PORT + 100)
#   BENCH_GATEWAY: the gateway executable (default build/bin/ocpp-gateway), to compare builds
bin=build/bin
gateway_bin="${BENCH_GATEWAY:-$bin/ocpp-gateway}"
kafka_port="${BENCH_KAFKA_PORT:-29892}"
port="${BENCH_PORT:-19000}"
admin=$((port + 100))
bench_dir="$(mktemp -d /tmp/ocpp-bench.XXXXXX)"
log="$bench_dir/gateway.log"
gw=""
gws=()

export KAFKA_PORT="$kafka_port" KAFKA_DATA="$bench_dir/kafka"
bench_cleanup() {
    local p
    for p in "${gws[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    deploy/kafka/kafka.sh stop >/dev/null 2>&1 || true
    rm -rf "$bench_dir"
}
trap bench_cleanup EXIT

# User + system CPU seconds process $1 has used so far; a - b to two decimals.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
diff2() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a - b}'; }
# Resident memory of process $1, KiB.
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

bench_machine() {
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024/1024)}' /proc/meminfo) GiB," \
         "$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), open files $(ulimit -Hn)" >&2
}

bench_broker() {
    deploy/kafka/kafka.sh start >&2
    broker_pid=$(cat "$KAFKA_DATA/kafka.pid")
}

# start_gateway YAML [ARGS...]: a gateway on $port with YAML as its configuration file; waits
# until /readyz answers. Sets $gw.
start_gateway() { start_instance 0 "$@"; }

# start_instance N YAML [ARGS...]: instance N (id bench-N, port $port + N, admin $admin + N);
# sets $gw and adds it to $gws (stopped at exit).
start_instance() {
    local n="$1" yaml="$2"; shift 2
    printf '%s\n' "$yaml" >"$bench_dir/gateway-$n.yaml"
    "$gateway_bin" --config "$bench_dir/gateway-$n.yaml" --listen "127.0.0.1:$((port + n))" \
        --admin-listen "127.0.0.1:$((admin + n))" --kafka-brokers "127.0.0.1:$kafka_port" \
        --gateway-id "bench-$n" --log-level warn "$@" >>"$log" 2>&1 &
    gw=$!
    gws+=("$gw")
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$((admin + n))/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$gw" 2>/dev/null || break
        sleep 0.1
    done
    echo "gateway $n did not become ready; its log:" >&2
    tail -20 "$log" >&2
    exit 1
}
stop_gateway() {
    kill "$gw"
    wait "$gw" || true
    local rest=() p
    for p in "${gws[@]}"; do [ "$p" = "$gw" ] || rest+=("$p"); done
    gws=("${rest[@]}")
    gw=""
}

# wait_drained [N]: until instance N (default 0) holds no station connection (at most 30 s),
# so that one run's closing connections do not count against the next run's.
wait_drained() {
    local a=$((admin + ${1:-0}))
    for _ in $(seq 1 300); do
        curl -sf "http://127.0.0.1:$a/metrics" |
            awk '/^ocpp_connections\{/ {s += $2} END {exit s > 0}' && return 0
        sleep 0.1
    done
    echo "warning: gateway ${1:-0} still holds connections after 30 s" >&2
}

# wait_for_mark FILE PATTERN PID: until a line of FILE matches PATTERN (a load generator's
# phase mark on its stderr) or process PID has ended.
wait_for_mark() {
    until grep -q "$2" "$1"; do
        kill -0 "$3" 2>/dev/null || return 0
        sleep 0.02
    done
}

# measured_run PID DURATION OUT COMMAND...: runs COMMAND, a load generator given `--warmup 3
# --json`, in the background (its report in OUT.json, its progress in OUT.err) and sets
# $run_cpu to the CPU fields of a record: process PID's and the broker's CPU seconds over the
# whole run (target_cpu_s, broker_cpu_s) and over the measured window alone
# (target_window_cpu_s, broker_window_cpu_s): from the generator's traffic mark, past its 3 s
# warm-up, for DURATION seconds. Returns non-zero, with the generator's output, if it fails.
measured_run() {
    local pid="$1" duration="$2" out="$3" t0 b0 w0 wb0 w1 wb1 lg
    shift 3
    t0=$(cpu_s "$pid"); b0=$(cpu_s "$broker_pid")
    : >"$out.err"
    "$@" >"$out.json" 2>"$out.err" &
    lg=$!
    wait_for_mark "$out.err" '^traffic:' "$lg"
    sleep 3
    w0=$(cpu_s "$pid"); wb0=$(cpu_s "$broker_pid")
    sleep "$duration"
    w1=$(cpu_s "$pid"); wb1=$(cpu_s "$broker_pid")
    if ! wait "$lg"; then
        echo "the load generator failed:" >&2
        cat "$out.err" >&2
        return 1
    fi
    run_cpu=$(printf '"target_cpu_s":%s,"broker_cpu_s":%s,"target_window_cpu_s":%s,"broker_window_cpu_s":%s' \
        "$(diff2 "$(cpu_s "$pid")" "$t0")" "$(diff2 "$(cpu_s "$broker_pid")" "$b0")" \
        "$(diff2 "$w1" "$w0")" "$(diff2 "$wb1" "$wb0")")
}

# A CA and two server certificates for 127.0.0.1 / localhost (RSA 2048 and ECDSA P-256), made
# with the openssl CLI in $bench_dir/pki: ca.pem, server-rsa.{pem,key}, server-ec.{pem,key}.
bench_pki() {
    local d="$bench_dir/pki"
    mkdir -p "$d"
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/server.ext"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
        -out "$d/ca.pem" -days 7 -subj "/CN=bench CA" 2>/dev/null
    for kind in rsa ec; do
        local spec=(-newkey rsa:2048)
        [ "$kind" = ec ] && spec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
        openssl req "${spec[@]}" -nodes -keyout "$d/server-$kind.key" -out "$d/server-$kind.csr" \
            -subj "/CN=localhost" 2>/dev/null
        openssl x509 -req -in "$d/server-$kind.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -CAcreateserial -out "$d/server-$kind.pem" -days 7 -extfile "$d/server.ext" 2>/dev/null
    done
}

# bench_registry FILE PREFIX COUNT PASSWORD ITERATIONS: stations PREFIX000001.. with one hash.
bench_registry() {
    local hash
    hash=$(printf '%s' "$4" | "$bin/ocpp-gateway" hash-password --iterations "$5")
    awk -v p="$2" -v n="$3" -v h="$hash" 'BEGIN {
        print "stations:"
        for (i = 1; i <= n; i++) printf "  - id: \"%s%06d\"\n    password_hash: \"%s\"\n", p, i, h
    }' >"$1"
}
