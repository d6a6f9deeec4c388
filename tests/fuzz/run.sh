#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build (cmake --preset fuzz; cmake --build build-fuzz
# --target fuzzers) for a bounded time on its generated seed corpus, after replaying the inputs
# in tests/fuzz/regressions/<target>/. Exits non-zero on any crash, leak, timeout or OOM and
# prints the input that caused it.
#   FUZZ_BUILD_DIR  the fuzz build directory (default: build-fuzz)
#   FUZZ_SECONDS    seconds per target (default: 60)
#   FUZZ_PARALLEL   targets run at once, one process each (default: 2)
#   FUZZ_TARGETS    space-separated subset (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."

build_dir="${FUZZ_BUILD_DIR:-build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
parallel="${FUZZ_PARALLEL:-2}"
targets=(${FUZZ_TARGETS:-fuzz_frame fuzz_json fuzz_validator fuzz_station_path fuzz_basic_auth fuzz_websocket_utf8})
fuzz_dir="$build_dir/tests/fuzz"

# Largest input each target tries: frames well past the interesting structure (the 256 KiB
# frame limit itself is covered by the unit tests); paths past 3 × 48 escaped characters;
# Authorization values past the 1024-byte limit.
max_len() {
    case "$1" in
        fuzz_station_path) echo 512 ;;
        fuzz_basic_auth) echo 1280 ;;
        *) echo 16384 ;;
    esac
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

for t in "${targets[@]}"; do
    [ -x "$build_dir/bin/$t" ] || { echo "fuzz: $build_dir/bin/$t missing: build the fuzzers target" >&2; exit 2; }
    [ -d "$fuzz_dir/corpus/$t" ] || { echo "fuzz: $fuzz_dir/corpus/$t missing: build the fuzzers target" >&2; exit 2; }
done

# One target: regressions first, then -max_total_time on a working corpus (new inputs) plus the
# seeds. Its log is build-fuzz/tests/fuzz/logs/<target>.log; crash inputs go to artifacts/.
run_one() {
    local t="$1" bin="$build_dir/bin/$1"
    local log="$fuzz_dir/logs/$t.log" artifacts="$fuzz_dir/artifacts/$t/" work="$fuzz_dir/work/$t"
    mkdir -p "$fuzz_dir/logs" "$artifacts" "$work"
    : >"$log"
    local regressions=()
    if [ -d "tests/fuzz/regressions/$t" ]; then
        mapfile -t regressions < <(find "tests/fuzz/regressions/$t" -type f ! -name '.*' | sort)
    fi
    if [ ${#regressions[@]} -gt 0 ] &&
        ! "$bin" -timeout=10 -rss_limit_mb=2048 "${regressions[@]}" >>"$log" 2>&1; then
        echo "fuzz: $t FAILED on a regression input (log: $log)"
        grep -E "ERROR|runtime error|SUMMARY|invariant violated|^ +#[0-9]+ " "$log" | head -n 30
        echo "fuzz: $t crash input: $(grep -Eo 'Running: .*' "$log" | tail -n 1 | cut -c 10-)"
        return 1
    fi
    local status=0
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
        -dict="$fuzz_dir/dict/$t.dict" -artifact_prefix="$artifacts" -print_final_stats=1 \
        -close_fd_mask=1 "$work" "$fuzz_dir/corpus/$t" >>"$log" 2>&1 || status=$?
    local runs
    runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1)"
    local cov
    cov="$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)"
    if [ "$status" -ne 0 ]; then
        echo "fuzz: $t FAILED (exit $status, log: $log)"
        grep -E "ERROR|runtime error|SUMMARY|invariant violated|ALARM|out-of-memory|^ +#[0-9]+ " "$log" | head -n 30
        local input
        for input in $(grep -Eo 'Test unit written to [^ ]+' "$log" | awk '{print $5}'); do
            echo "fuzz: $t crash input: $input (keep it under tests/fuzz/regressions/$t/)"
        done
        return 1
    fi
    echo "fuzz: $t ok: ${runs:-?} runs in ${seconds} s, ${cov:-no coverage line}, corpus $(find "$work" -type f | wc -l) new + $(find "$fuzz_dir/corpus/$t" -type f | wc -l) seeds"
}

echo "fuzz: ${#targets[@]} targets, ${seconds} s each, ${parallel} at a time"
results_dir="$(mktemp -d)"
trap 'rm -rf "$results_dir"' EXIT
running=0
for t in "${targets[@]}"; do
    if [ "$running" -ge "$parallel" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    ( if run_one "$t"; then touch "$results_dir/$t.pass"; else touch "$results_dir/$t.fail"; fi ) &
    running=$((running + 1))
done
wait

passed=$(find "$results_dir" -name '*.pass' | wc -l)
failed=$((${#targets[@]} - passed))
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
