#!/usr/bin/env bash
# Runs the gateway in the foreground against a local Apache Kafka broker: builds what is
# missing, starts the broker (deploy/kafka), then the gateway. Ctrl-C stops the gateway; the
# broker keeps running for the next start (deploy/kafka/kafka.sh stop ends it).
#   KAFKA_PORT (9092), GATEWAY_LISTEN (127.0.0.1:9000: this machine only; another address
#   needs a security profile or security.profile0_exposed), GATEWAY_ADMIN (127.0.0.1:9100);
#   extra arguments go to ocpp-gateway (e.g. --config deploy/gateway.example.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh run
export KAFKA_PORT="${KAFKA_PORT:-9092}"
build_dir="${BUILD_DIR:-build}"

if [ ! -x "$build_dir/bin/ocpp-gateway" ]; then
    rdkafka="$(scripts/build-librdkafka.sh)"
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DOCPP_RDKAFKA_PREFIX="$rdkafka" >/dev/null
    cmake --build "$build_dir" --target ocpp-gateway ocpp-loadgen
fi
deploy/kafka/kafka.sh start

listen="${GATEWAY_LISTEN:-127.0.0.1:9000}"
echo
echo "Stations connect to ws://${listen}/ocpp/{stationId} (subprotocol ocpp1.6 or ocpp2.0.1)"
echo "Admin: http://${GATEWAY_ADMIN:-127.0.0.1:9100}/metrics   Demo: $build_dir/bin/ocpp-loadgen --session --url ws://127.0.0.1:${listen##*:}/ocpp"
echo
exec "$build_dir/bin/ocpp-gateway" --listen "$listen" \
    --admin-listen "${GATEWAY_ADMIN:-127.0.0.1:9100}" \
    --kafka-brokers "127.0.0.1:${KAFKA_PORT}" "$@"
