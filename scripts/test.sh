#!/usr/bin/env bash
# Builds the project and runs every test suite: unit, component (librdkafka mock cluster),
# integration (a real Kafka broker that ctest starts and stops) and a benchmark smoke run; then
# the same suites built with AddressSanitizer + UndefinedBehaviorSanitizer (preset asan,
# build-asan/), then every libFuzzer target for a bounded time (preset fuzz, build-fuzz/).
#   BUILD_DIR        build directory (default: build)
#   CTEST_ARGS       extra ctest arguments, e.g. "-L unit"
#   JOBS             parallel compile jobs (default: nproc)
#   SKIP_SANITIZERS  1: skip the ASan + UBSan build and its test run
#   ASAN_LABELS      ctest label regex run under the sanitizers (default: every label but bench)
#   ASAN_EXCLUDE     ctest name regex not run under the sanitizers (default:
#                    ^interop(_own_broker)?$; the outage test of the second bounds the gateway's
#                    RSS at 150 MiB, ASan alone needs ~120 MiB; the first is left out for time)
#   ASAN_FAULTS      regex of fault-suite scenario titles run under the sanitizers (default:
#                    "producer fatal|gateway instances"; empty: none)
#   SKIP_TSAN        1: skip the ThreadSanitizer build (preset tsan) of the unit and
#                    component tests and their run
#   SKIP_TIDY        1: skip clang-tidy (.clang-tidy) over the project's sources
#   SKIP_FUZZ        1: skip the fuzz build and runs
#   FUZZ_SECONDS     seconds each fuzz target runs (default: 60)
#   OVERLAP          0: run the ASan build, the fuzz build and clang-tidy after the tests
#                    stage instead of beside it, and the TSan build after the sanitizer tests
#                    instead of beside them (at idle CPU and I/O priority; default 1)
#   OCPP_CCACHE      0: compile without ccache (default: with it where it is installed; its
#                    cache in ${OCPP_CACHE_DIR:-~/.cache/ocpp-gateway}/ccache, 5 GiB at most)
#   FAULTS_MATRIX    1: run the fault suite (ctest `faults`, part of the tests stage against
#                    the pinned Kafka 4.1) again against each of FAULTS_KAFKA_VERSIONS
#                    (default: 3.9.1 4.4.0), about 7 minutes each; reports in
#                    $BUILD_DIR/faults-<version>.json
set -euo pipefail
cd "$(dirname "$0")/.."

# What a fresh machine lacks (Debian packages; nothing when all are present).
scripts/setup.sh test

build_dir="${BUILD_DIR:-build}"
jobs="${JOBS:-$(nproc)}"

# Four builds of the same sources (release, ASan, TSan, fuzz) are most of this script's CPU:
# where the machine keeps ccache's cache from an earlier run, the unchanged sources come from it.
# The cache is keyed on the compiler, its flags and every header read, so a hit is the object
# the compiler would write. Paths under the checkout are hashed relative to it, so another
# clone of the same sources hits too. A build directory configured before keeps its launcher.
if [ "${OCPP_CCACHE:-1}" != 0 ] && [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ] &&
    command -v ccache >/dev/null; then
    export CMAKE_CXX_COMPILER_LAUNCHER=ccache
    export CCACHE_DIR="${CCACHE_DIR:-${OCPP_CACHE_DIR:-$HOME/.cache/ocpp-gateway}/ccache}"
    export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
    ccache --zero-stats >/dev/null
fi

# Wall time of each stage, printed at the end (also when a stage fails).
timings=""
stage=""
stage_start=0
begin_stage() {  # short name, description
    stage="$1"
    stage_start=$SECONDS
    echo "==> $2"
}
end_stage() {
    timings+="${timings:+, }$stage $((SECONDS - stage_start)) s"
    stage=""
}
side_pid=""
report_timings() {
    local status=$?
    if [ -n "$side_pid" ]; then  # builds beside a stage that failed: stop them
        kill -TERM -- "-$side_pid" 2>/dev/null || true
    fi
    if [ -n "$stage" ]; then
        timings+="${timings:+, }$stage $((SECONDS - stage_start)) s (failed)"
    fi
    [ -z "$timings" ] || echo "test.sh: stage times: $timings"
    if [ "${CMAKE_CXX_COMPILER_LAUNCHER:-}" = ccache ]; then
        echo "test.sh: ccache: $(ccache --print-stats 2>/dev/null |
            awk '$1 ~ /^(direct|preprocessed)_cache_hit$/ {h += $2} $1 == "cache_miss" {m = $2}
                 END {printf "%d hits, %d misses", h, m}')"
    fi
    return "$status"
}
trap report_timings EXIT

want_asan() { [ "${SKIP_SANITIZERS:-0}" != 1 ]; }
want_tidy() { [ "${SKIP_TIDY:-0}" != 1 ]; }
want_fuzz() { [ "${SKIP_FUZZ:-0}" != 1 ]; }

# Compile steps that need nothing but the sources (and build/'s compile commands): the ASan
# build, clang-tidy and the fuzz build. Each writes its output to side_logs/<step>.log, its
# time to side_logs/times, and exits non-zero on failure.
side_logs="$build_dir/side"
asan_build() {
    cmake --preset asan -DOCPP_RDKAFKA_PREFIX="$OCPP_RDKAFKA_PREFIX" &&
        cmake --build build-asan -j "$jobs"
}
tidy_check() {
    command -v run-clang-tidy-14 >/dev/null ||
        { echo "test.sh: run-clang-tidy-14 missing: run scripts/setup.sh (or SKIP_TIDY=1)" >&2; return 1; }
    local tidy_log="$build_dir/clang-tidy.log"
    run-clang-tidy-14 -p "$build_dir" -j "$jobs" -quiet -extra-arg=-fno-color-diagnostics \
        "$PWD/(ocpp|kafka_bridge|gateway|tools)/.*\.cpp\$" > "$tidy_log" 2>&1 || true
    if grep -E "(warning|error): .*\[[a-z]" "$tidy_log"; then
        echo "test.sh: clang-tidy found the problems above (full log: $tidy_log)" >&2
        return 1
    fi
}
fuzz_build() {
    command -v clang++-14 >/dev/null ||
        { echo "test.sh: clang++-14 missing: run scripts/setup.sh (or SKIP_FUZZ=1)" >&2; return 1; }
    cmake --preset fuzz -DOCPP_RDKAFKA_PREFIX="$OCPP_RDKAFKA_PREFIX" &&
        cmake --build build-fuzz -j "$jobs" --target fuzzers
}
want_tsan() { [ "${SKIP_TSAN:-0}" != 1 ]; }
# The ThreadSanitizer build of the unit and component tests, against a copy of the pinned
# librdkafka instrumented for ThreadSanitizer (built once and cached like the other).
tsan_build() {
    local tsan_rdkafka
    tsan_rdkafka="$(OCPP_RDKAFKA_SANITIZE=thread scripts/build-librdkafka.sh)" &&
        cmake --preset tsan -DOCPP_RDKAFKA_PREFIX="$tsan_rdkafka" &&
        cmake --build build-tsan -j "$jobs" --target ocpp_unit_tests gateway_unit_tests \
            kafka_bridge_component_tests
}
side_steps() {  # the steps wanted, in the order later stages need them
    want_asan && echo asan-build
    want_tidy && echo tidy
    want_fuzz && echo fuzz-build
    return 0
}
run_side_step() {  # step name; its status is the step's
    local t=$SECONDS status=0
    echo "$1" > "$side_logs/current"
    case $1 in
        asan-build) asan_build ;;
        tidy) tidy_check ;;
        fuzz-build) fuzz_build ;;
        tsan-build) tsan_build ;;
    esac > "$side_logs/$1.log" 2>&1 || status=$?
    echo "$1 $((SECONDS - t)) s" >> "$side_logs/times"
    return "$status"
}

begin_stage librdkafka "pinned librdkafka (scripts/build-librdkafka.sh, cached)"
OCPP_RDKAFKA_PREFIX="$(scripts/build-librdkafka.sh)"
export OCPP_RDKAFKA_PREFIX
end_stage

begin_stage build "build ($build_dir)"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOCPP_RDKAFKA_PREFIX="$OCPP_RDKAFKA_PREFIX"
cmake --build "$build_dir" -j "$jobs"
end_stage

# The tests stage mostly waits (brokers starting and stopping, outages held for their length,
# stations reconnecting), so the side steps run meanwhile as a job of their own, at the lowest
# CPU and I/O priority (SCHED_IDLE, ionice idle): a test process always gets a core first.
rm -rf "$side_logs"
mkdir -p "$side_logs"
start_side_job() {  # what it runs beside (for the log), then the steps
    local beside="$1"
    shift
    echo "==> beside $beside, at idle priority: $* (logs in $side_logs/)"
    set -m  # the job gets a process group of its own, stopped as a whole if a stage fails
    (
        chrt --idle -p 0 "$BASHPID" >/dev/null 2>&1 || renice -n 19 -p "$BASHPID" >/dev/null 2>&1 || true
        ionice -c 3 -p "$BASHPID" >/dev/null 2>&1 || true
        for step in "$@"; do
            run_side_step "$step"
        done
    ) &
    side_pid=$!
    set +m
}
if [ "${OVERLAP:-1}" = 1 ] && [ -n "$(side_steps)" ]; then
    # shellcheck disable=SC2046
    start_side_job "the tests" $(side_steps)
fi

begin_stage tests "tests ($build_dir)"
# shellcheck disable=SC2086
ctest --test-dir "$build_dir" --output-on-failure --timeout 600 ${CTEST_ARGS:-}
end_stage

# The side steps: what is left of them now runs with both cores to itself (or all of them,
# one after the other, with OVERLAP=0).
finish_side_steps() {
    local status=0 step
    if [ -n "$side_pid" ]; then
        wait "$side_pid" || status=$?
        side_pid=""
    else
        for step in $(side_steps); do
            run_side_step "$step" || { status=$?; break; }
        done
    fi
    if [ "$status" != 0 ]; then
        step=$(cat "$side_logs/current" 2>/dev/null || echo "?")
        tail -n 60 "$side_logs/$step.log" 2>/dev/null || true
        echo "test.sh: $step failed (full log: $side_logs/$step.log)" >&2
        return 1
    fi
}
if [ -n "$(side_steps)" ]; then
    begin_stage side "side steps: $(side_steps | tr '\n' ' ')"
    finish_side_steps || exit 1
    end_stage
    timings+=" ($(paste -sd, "$side_logs/times" | sed 's/,/, /g'))"
fi

if [ "${FAULTS_MATRIX:-0}" = 1 ]; then
    for version in ${FAULTS_KAFKA_VERSIONS:-3.9.1 4.4.0}; do
        begin_stage "faults-$version" "fault suite against Apache Kafka $version"
        KAFKA_VERSION="$version" OCPP_FAULTS_REPORT="$PWD/$build_dir/faults-$version.json" \
            ctest --test-dir "$build_dir" --output-on-failure --timeout 1500 -R '^faults$'
        end_stage
    done
fi

# The ThreadSanitizer build needs nothing the sanitizer tests make: it runs beside them, as
# the side steps ran beside the tests.
tsan_beside=0
if want_tsan && want_asan && [ "${OVERLAP:-1}" = 1 ]; then
    start_side_job "the sanitizer tests" tsan-build
    tsan_beside=1
fi

# Any sanitizer report fails its test: every UBSan check aborts (-fno-sanitize-recover=all,
# halt_on_error), ASan aborts on the first error and exits non-zero on leaks, and the gateway
# the interop tests start is checked for a clean exit.
if want_asan; then
    begin_stage asan-tests "tests under ASan + UBSan (build-asan)"
    asan_exclude=("-E" "${ASAN_EXCLUDE-^interop(_own_broker)?\$}")
    [ -n "${asan_exclude[1]}" ] || asan_exclude=()
    ASAN_OPTIONS="detect_leaks=1" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
        ctest --test-dir build-asan --output-on-failure --timeout 900 \
        -L "${ASAN_LABELS:-unit|component|integration|interop}" "${asan_exclude[@]}"
    end_stage

    # The fault scenarios that tear parts down under load (a producer replaced after a fatal
    # error with records in flight, a gateway killed and its stations moving to the other,
    # whose shutdown is then checked for leaks) under the sanitizers: about 2 minutes. ASan
    # needs ~150 MiB of RSS where the release build needs 20.
    if [ -n "${ASAN_FAULTS-producer fatal|gateway instances}" ]; then
        begin_stage asan-faults "fault scenarios under ASan + UBSan (${ASAN_FAULTS-producer fatal|gateway instances})"
        ASAN_OPTIONS="detect_leaks=1" \
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
        FAULTS_SCENARIOS="${ASAN_FAULTS-producer fatal|gateway instances}" FAULTS_RSS_BOUND_MIB=400 \
            ctest --test-dir build-asan --output-on-failure --timeout 900 -R '^faults$'
        end_stage
    fi
fi

# Data races in the threads that share state: the unit tests (among them concurrent tests of
# the session table and the command offsets) and the component tests (producer, consumers
# and their callbacks against librdkafka's mock cluster), against a copy of the pinned
# librdkafka instrumented for ThreadSanitizer (without it, TSan cannot see librdkafka's own
# synchronization and reports its buffers handed between threads as races).
if want_tsan; then
    begin_stage tsan-build "ThreadSanitizer build (build-tsan: unit and component tests)"
    if [ "$tsan_beside" = 1 ]; then
        finish_side_steps || exit 1
    else
        run_side_step tsan-build || { tail -n 60 "$side_logs/tsan-build.log"; exit 1; }
    fi
    end_stage
    timings+=" ($(sed -n 's/^tsan-build //p' "$side_logs/times"))"

    begin_stage tsan-tests "unit and component tests under ThreadSanitizer (build-tsan)"
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
        ctest --test-dir build-tsan --output-on-failure --timeout 600 -L "unit|component" \
        -E '^gateway_version$'
    end_stage
fi

# The checks of .clang-tidy (moved-from use, dangling handles, ignored results, ...) over every
# source file of the project ran beside the tests (tidy_check), as did the fuzz build.
if want_fuzz; then
    begin_stage fuzz-runs "fuzz runs (${FUZZ_SECONDS:-60} s per target)"
    FUZZ_BUILD_DIR=build-fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}" tests/fuzz/run.sh
    end_stage
fi
