#!/usr/bin/env bash
# Builds the project and runs every test suite: unit, component (librdkafka mock cluster),
# integration (a real Kafka broker that ctest starts and stops) and a benchmark smoke run.
#   BUILD_DIR   build directory (default: build)
#   CTEST_ARGS  extra ctest arguments, e.g. "-L unit"
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${BUILD_DIR:-build}"
jobs="$(nproc)"

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build_dir" -j "$jobs"
# shellcheck disable=SC2086
ctest --test-dir "$build_dir" --output-on-failure --timeout 600 ${CTEST_ARGS:-}
