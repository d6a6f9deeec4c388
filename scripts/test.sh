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
#   ASAN_EXCLUDE     ctest name regex not run under the sanitizers (default: ^interop$, whose
#                    outage test bounds the gateway's RSS at 150 MiB: ASan alone needs ~120 MiB)
#   ASAN_FAULTS      regex of fault-suite scenario titles run under the sanitizers (default:
#                    "producer fatal|gateway instances"; empty: none)
#   SKIP_TSAN        1: skip the ThreadSanitizer build (preset tsan) of the unit and
#                    component tests and their run
#   SKIP_TIDY        1: skip clang-tidy (.clang-tidy) over the project's sources
#   SKIP_FUZZ        1: skip the fuzz build and runs
#   FUZZ_SECONDS     seconds each fuzz target runs (default: 60)
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
report_timings() {
    local status=$?
    if [ -n "$stage" ]; then
        timings+="${timings:+, }$stage $((SECONDS - stage_start)) s (failed)"
    fi
    [ -z "$timings" ] || echo "test.sh: stage times: $timings"
    return "$status"
}
trap report_timings EXIT

begin_stage librdkafka "pinned librdkafka (scripts/build-librdkafka.sh, cached)"
OCPP_RDKAFKA_PREFIX="$(scripts/build-librdkafka.sh)"
export OCPP_RDKAFKA_PREFIX
end_stage

begin_stage build "build ($build_dir)"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOCPP_RDKAFKA_PREFIX="$OCPP_RDKAFKA_PREFIX"
cmake --build "$build_dir" -j "$jobs"
end_stage

begin_stage tests "tests ($build_dir)"
# shellcheck disable=SC2086
ctest --test-dir "$build_dir" --output-on-failure --timeout 600 ${CTEST_ARGS:-}
end_stage

if [ "${FAULTS_MATRIX:-0}" = 1 ]; then
    for version in ${FAULTS_KAFKA_VERSIONS:-3.9.1 4.4.0}; do
        begin_stage "faults-$version" "fault suite against Apache Kafka $version"
        KAFKA_VERSION="$version" OCPP_FAULTS_REPORT="$PWD/$build_dir/faults-$version.json" \
            ctest --test-dir "$build_dir" --output-on-failure --timeout 1500 -R '^faults$'
        end_stage
    done
fi

# Any sanitizer report fails its test: every UBSan check aborts (-fno-sanitize-recover=all,
# halt_on_error), ASan aborts on the first error and exits non-zero on leaks, and the gateway
# the interop tests start is checked for a clean exit.
if [ "${SKIP_SANITIZERS:-0}" != 1 ]; then
    begin_stage asan-build "ASan + UBSan build (build-asan)"
    cmake --preset asan -DOCPP_RDKAFKA_PREFIX="$OCPP_RDKAFKA_PREFIX"
    cmake --build build-asan -j "$jobs"
    end_stage

    begin_stage asan-tests "tests under ASan + UBSan (build-asan)"
    asan_exclude=("-E" "${ASAN_EXCLUDE-^interop\$}")
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
if [ "${SKIP_TSAN:-0}" != 1 ]; then
    begin_stage tsan-build "ThreadSanitizer build (build-tsan: unit and component tests)"
    tsan_rdkafka="$(OCPP_RDKAFKA_SANITIZE=thread scripts/build-librdkafka.sh)"
    cmake --preset tsan -DOCPP_RDKAFKA_PREFIX="$tsan_rdkafka"
    cmake --build build-tsan -j "$jobs" --target ocpp_unit_tests gateway_unit_tests \
        kafka_bridge_component_tests
    end_stage

    begin_stage tsan-tests "unit and component tests under ThreadSanitizer (build-tsan)"
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
        ctest --test-dir build-tsan --output-on-failure --timeout 600 -L "unit|component" \
        -E '^gateway_version$'
    end_stage
fi

# The checks of .clang-tidy (moved-from use, dangling handles, ignored results, ...) over every
# source file of the project, with the compile commands of the build above.
if [ "${SKIP_TIDY:-0}" != 1 ]; then
    begin_stage tidy "clang-tidy (.clang-tidy) over ocpp/, kafka_bridge/, gateway/, tools/"
    command -v run-clang-tidy-14 >/dev/null ||
        { echo "test.sh: run-clang-tidy-14 missing: run scripts/setup.sh (or SKIP_TIDY=1)" >&2; exit 1; }
    tidy_log="$build_dir/clang-tidy.log"
    run-clang-tidy-14 -p "$build_dir" -j "$jobs" -quiet -extra-arg=-fno-color-diagnostics \
        "$PWD/(ocpp|kafka_bridge|gateway|tools)/.*\.cpp\$" > "$tidy_log" 2>&1 || true
    if grep -E "(warning|error): .*\[[a-z]" "$tidy_log"; then
        echo "test.sh: clang-tidy found the problems above (full log: $tidy_log)" >&2
        exit 1
    fi
    end_stage
fi

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    begin_stage fuzz-build "fuzz build (build-fuzz)"
    command -v clang++-14 >/dev/null ||
        { echo "test.sh: clang++-14 missing: run scripts/setup.sh (or SKIP_FUZZ=1)" >&2; exit 1; }
    cmake --preset fuzz -DOCPP_RDKAFKA_PREFIX="$OCPP_RDKAFKA_PREFIX"
    cmake --build build-fuzz -j "$jobs" --target fuzzers
    end_stage

    begin_stage fuzz-runs "fuzz runs (${FUZZ_SECONDS:-60} s per target)"
    FUZZ_BUILD_DIR=build-fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}" tests/fuzz/run.sh
    end_stage
fi
