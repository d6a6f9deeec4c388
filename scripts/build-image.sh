#!/usr/bin/env bash
# Builds the gateway's container image without a container engine and smoke-tests it:
#   1. the runtime root filesystem: Debian bookworm (mmdebstrap, minbase, documentation left
#      out like bookworm-slim) with deploy/container/runtime-packages, the gateway from the
#      build tree (stripped), its pinned librdkafka, the health check and the non-root user
#      10001 — what deploy/container/Dockerfile's runtime stage makes;
#   2. an OCI image of it (umoci): user, entrypoint, environment and ports as the Dockerfile
#      says, written as an OCI layout and an archive (`skopeo copy oci-archive:FILE
#      docker-daemon:ocpp-gateway:TAG`, `podman load -i FILE`);
#   3. the smoke test: the image's own ocpp-gateway, run from its root filesystem (chroot, as
#      user 10001) against a local Kafka broker, passes its health check and answers a whole
#      charging session of build/bin/ocpp-loadgen.
# Needs root (mmdebstrap and chroot) and the Debian mirror; installs mmdebstrap and umoci
# when missing.
#   BUILD_DIR (build), IMAGE_DIR ($BUILD_DIR/image), KAFKA_PORT (39300: a private broker)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${BUILD_DIR:-build}"
image_dir="${IMAGE_DIR:-$build_dir/image}"
version="$(sed -n 's/^project(ocpp_kafka_gateway VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
tag="$version"
[ "$(id -u)" -eq 0 ] || { echo "build-image: needs root (mmdebstrap, chroot)" >&2; exit 1; }
for tool in mmdebstrap umoci; do
    command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$tool" >/dev/null
done
if [ ! -x "$build_dir/bin/ocpp-gateway" ] || [ ! -x "$build_dir/bin/ocpp-loadgen" ]; then
    rdkafka="$(scripts/build-librdkafka.sh)"
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOCPP_RDKAFKA_PREFIX="$rdkafka" >/dev/null
    cmake --build "$build_dir" --target ocpp-gateway ocpp-loadgen
fi
gateway="$build_dir/bin/ocpp-gateway"
rdkafka_lib="$(ldd "$gateway" | awk '/librdkafka\.so/ {print $3}')"
[ -f "$rdkafka_lib" ] || { echo "build-image: $gateway does not link a librdkafka found on this machine" >&2; exit 1; }

rootfs="$image_dir/rootfs"
rm -rf "$image_dir"
mkdir -p "$image_dir"
packages="$(grep -v '^#' deploy/container/runtime-packages | paste -sd, -)"
echo "build-image: root filesystem (bookworm minbase + $packages)"
mmdebstrap --quiet --variant=minbase --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    bookworm "$rootfs" http://deb.debian.org/debian \
    "deb http://deb.debian.org/debian-security bookworm-security main"
install -m 755 -D "$rdkafka_lib" "$rootfs/usr/local/lib/librdkafka.so.1"
strip --strip-unneeded -o "$rootfs/usr/local/bin/ocpp-gateway" "$gateway"
install -m 755 deploy/container/healthcheck "$rootfs/usr/local/bin/ocpp-gateway-healthcheck"
chroot "$rootfs" ldconfig
chroot "$rootfs" useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin ocpp-gateway
echo "build-image: root filesystem $(du -sh "$rootfs" | cut -f1)"

echo "build-image: OCI image ocpp-gateway:$tag"
oci="$image_dir/oci"
bundle="$image_dir/bundle"
umoci init --layout "$oci"
umoci new --image "$oci:$tag"
umoci unpack --image "$oci:$tag" "$bundle" >/dev/null
rmdir "$bundle/rootfs"
mv "$rootfs" "$bundle/rootfs"
umoci repack --image "$oci:$tag" "$bundle"
mv "$bundle/rootfs" "$rootfs"
umoci config --image "$oci:$tag" --config.user 10001:10001 \
    --config.entrypoint /usr/local/bin/ocpp-gateway \
    --config.env OCPP_GATEWAY_LISTEN=0.0.0.0:9000 --config.env OCPP_GATEWAY_ADMIN_LISTEN=0.0.0.0:9100 \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.exposedports 9000/tcp --config.exposedports 9100/tcp \
    --config.label "org.opencontainers.image.title=ocpp-gateway" \
    --config.label "org.opencontainers.image.version=$version"
umoci gc --layout "$oci"
archive="$image_dir/ocpp-gateway-$tag.oci.tar"
tar -C "$oci" -cf "$archive" .
echo "build-image: $archive ($(du -h "$archive" | cut -f1))"

# The smoke test: the image's root filesystem, its user, its environment.
export KAFKA_PORT="${KAFKA_PORT:-39300}" KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-39301}"
export KAFKA_DATA="$image_dir/kafka"
port=39310
admin=39311
gateway_pid=""
chroot="$(command -v chroot)"
cleanup() {
    [ -n "$gateway_pid" ] && kill "$gateway_pid" 2>/dev/null && wait "$gateway_pid" 2>/dev/null
    deploy/kafka/kafka.sh stop >/dev/null 2>&1 || true
    rm -rf "$KAFKA_DATA"
}
trap cleanup EXIT
deploy/kafka/kafka.sh start
# With the image's own environment (both listeners on 0.0.0.0) and no configuration, the
# gateway refuses to start and says why.
refusal="$(env -i PATH=/usr/local/bin:/usr/bin:/bin OCPP_GATEWAY_LISTEN=0.0.0.0:9000 \
    OCPP_GATEWAY_ADMIN_LISTEN=0.0.0.0:9100 "$chroot" --userspec=10001:10001 "$rootfs" \
    /usr/local/bin/ocpp-gateway --kafka-brokers "127.0.0.1:$KAFKA_PORT" 2>&1)" && {
    echo "build-image: the image started exposed without authentication" >&2; exit 1; }
grep -q "security.profile0_exposed" <<<"$refusal" ||
    { echo "build-image: unexpected refusal: $refusal" >&2; exit 1; }
echo "build-image: unconfigured, the image refuses to start exposed: ${refusal#ocpp-gateway: }" | cut -c1-160
log="$image_dir/smoke-gateway.log"
# The image sets both listeners to 0.0.0.0; here they are kept on loopback (network tests stay
# on 127.0.0.1), with the image's user and nothing else from this machine.
env -i PATH=/usr/local/bin:/usr/bin:/bin OCPP_GATEWAY_LISTEN="127.0.0.1:$port" \
    OCPP_GATEWAY_ADMIN_LISTEN="127.0.0.1:$admin" \
    "$chroot" --userspec=10001:10001 "$rootfs" /usr/local/bin/ocpp-gateway \
    --kafka-brokers "127.0.0.1:$KAFKA_PORT" --gateway-id image-smoke > "$log" 2>&1 &
gateway_pid=$!
healthy=""
for _ in $(seq 1 120); do
    if env -i OCPP_GATEWAY_ADMIN_LISTEN="127.0.0.1:$admin" "$chroot" --userspec=10001:10001 "$rootfs" \
        /usr/local/bin/ocpp-gateway-healthcheck 2>/dev/null; then
        healthy=1
        break
    fi
    kill -0 "$gateway_pid" 2>/dev/null || break
    sleep 0.5
done
if [ -z "$healthy" ]; then
    echo "build-image: the image's gateway never became healthy; its output:" >&2
    cat "$log" >&2
    exit 1
fi
echo "build-image: the image's health check passes"
if ! "$build_dir/bin/ocpp-loadgen" --session --url "ws://127.0.0.1:$port/ocpp" --id-prefix IMG; then
    echo "build-image: the charging session against the image failed; gateway output:" >&2
    cat "$log" >&2
    exit 1
fi
kill "$gateway_pid"
wait "$gateway_pid" || { echo "build-image: the image's gateway did not drain cleanly:" >&2; cat "$log" >&2; exit 1; }
gateway_pid=""
echo "build-image: smoke test passed: ocpp-gateway:$tag answered a charging session from its own root filesystem"
