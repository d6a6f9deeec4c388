#!/usr/bin/env bash
# Installs what the project needs on a Debian bookworm machine; scripts/run-local.sh and
# scripts/test.sh call it first, so a fresh machine needs nothing else.
#   scripts/setup.sh [test|run]   test (default): everything the test command uses;
#                                 run: only what building and running the gateway needs
# Idempotent and non-interactive; skips apt entirely when everything is present. Installing
# needs root: as root (or with password-less sudo) it installs, otherwise it names the
# packages and the one command to run, and fails.
set -euo pipefail

scope="${1:-test}"
case "$scope" in
    test|run) ;;
    *) echo "setup: unknown scope \"$scope\" (test or run)" >&2; exit 2 ;;
esac

packages=(
    build-essential cmake ninja-build pkg-config git curl ca-certificates
    libwebsocketpp-dev libasio-dev nlohmann-json3-dev libvalijson-dev
    libssl-dev libfmt-dev libyaml-cpp-dev catch2 libbenchmark-dev
    # ocpp-gateway's allocator (glibc's malloc instead with -DOCPP_ALLOCATOR=system).
    libjemalloc-dev
    # The pinned librdkafka (scripts/build-librdkafka.sh builds Debian trixie's 2.8.0 source
    # package): its compression and SASL libraries, xz for the source package, patch for the
    # project's patches on top (scripts/librdkafka-patches/).
    libsasl2-dev libzstd-dev liblz4-dev zlib1g-dev xz-utils patch
)
[ "$scope" = run ] || packages+=(
    # The fuzz build (CMake preset `fuzz`): clang with libFuzzer and the sanitizer runtimes;
    # clang-tidy for the static checks of the test command.
    clang-14 libclang-rt-14-dev clang-tidy-14
    # A compiler cache: the test command's four builds reuse what an earlier run compiled.
    ccache
    # The TLS tests: certificates made and handshakes checked from outside.
    openssl sslscan
    # The alert rules and dashboard (deploy/monitoring/): promtool checks and unit-tests them,
    # a real Prometheus watches an alert fire and clear.
    prometheus
    # The systemd unit (deploy/systemd/): systemd-analyze verifies it and scores its hardening.
    systemd
    # A real load balancer in front of two gateways (PROXY protocol, failover).
    haproxy
    # `ss`: a drain test checks that the gateway holds a socket it accepted.
    iproute2
    # Virtual environments for the Python tools the tests install from PyPI (the OCPP 2.1
    # interop client, the Kubernetes manifest validator).
    python3-venv
)
# Runtimes the build and the tests call: npm fetches the pinned OCPP schemas and the interop
# clients, Java and Maven run the local Kafka broker. Installed from Debian only when absent.
command -v java >/dev/null 2>&1 || packages+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || packages+=(maven)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
command -v python3 >/dev/null 2>&1 || packages+=(python3)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all system packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: install them as root, then run this again:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    echo "  (or, as root: scripts/setup.sh $scope)" >&2
    exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian starts and enables the Prometheus server it installs (on :9090, every address); the
# tests need only its binaries (promtool, and a server of their own on a free port).
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    echo "setup: stopped and disabled the prometheus service Debian started (only its binaries are used)"
fi
echo "setup: done"
