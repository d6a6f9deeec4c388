#!/usr/bin/env bash
# Builds the pinned librdkafka once into a cache and prints its install prefix.
#
# Debian bookworm ships librdkafka 2.0.2, whose idempotent producer treats a rejection after a
# reconnect as a fatal "sequence desynchronization" (librdkafka #4438, fixed in 2.3.0) and whose
# consumer close can hang after a partition is lost (#4187). The pin is Debian trixie's source
# package of 2.8.0: fetched with `apt-get source` through a private sources list (the machine's
# apt configuration is not touched), checked against the sha256 below, built with the features
# the gateway uses (SSL, SASL incl. GSSAPI, zstd, lz4, zlib) and POSIX threads instead of C11
# threads (ThreadSanitizer intercepts only the former), installed into
#   ${OCPP_CACHE_DIR:-~/.cache/ocpp-gateway}/librdkafka-2.8.0-p<patch-set hash>
# The patches in scripts/librdkafka-patches/ are applied on top (each says why); the prefix's
# name carries a hash of them, so a changed patch set is a new build, and the prefix holds
# share/ocpp-gateway/patches listing them (CMake reads it).
# Offline: OCPP_RDKAFKA_TARBALL=/path/to/librdkafka_2.8.0.orig.tar.gz.
# OCPP_RDKAFKA_SANITIZE=thread builds a second copy instrumented for ThreadSanitizer (into
# librdkafka-2.8.0-p<hash>-thread): without it, TSan cannot see librdkafka's own synchronization and
# reports its buffers handed between threads as races.
# Needs: build-essential, libssl-dev, libsasl2-dev, libzstd-dev, liblz4-dev, zlib1g-dev
# (scripts/setup.sh installs them).
set -euo pipefail

version=2.8.0
orig="librdkafka_${version}.orig.tar.gz"
sha256=5bd1c46f63265f31c6bfcedcde78703f77d28238eadf23821c2b43fc30be3e25

cache="${OCPP_CACHE_DIR:-$HOME/.cache/ocpp-gateway}"
sanitize="${OCPP_RDKAFKA_SANITIZE:-}"
patch_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/librdkafka-patches"
patches=()
for p in "$patch_dir"/*.patch; do
    [ -f "$p" ] && patches+=("$p")
done
patch_set=none
if [ "${#patches[@]}" -gt 0 ]; then
    patch_set="$(cat "${patches[@]}" | sha256sum | cut -c1-10)"
fi
prefix="$cache/librdkafka-$version-p$patch_set${sanitize:+-$sanitize}"
if [ -f "$prefix/.built" ]; then
    echo "$prefix"
    exit 0
fi

say() { echo "build-librdkafka: $*" >&2; }
die() { say "$*"; exit 1; }

downloads="$cache/downloads"
mkdir -p "$downloads"
tarball="${OCPP_RDKAFKA_TARBALL:-$downloads/$orig}"
if [ ! -f "$tarball" ]; then
    say "fetching Debian trixie's source package of librdkafka $version"
    apt_dir="$(mktemp -d)"
    trap 'rm -rf "$apt_dir"' EXIT
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    echo "deb-src http://deb.debian.org/debian trixie main" >"$apt_dir/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
              -o APT::Sandbox::User=root -q)
    apt-get "${apt_opts[@]}" update >&2 ||
        die "apt-get update of the trixie source list failed (no network? set OCPP_RDKAFKA_TARBALL)"
    (cd "$apt_dir" && apt-get "${apt_opts[@]}" source --download-only "librdkafka=$version-1" >&2) ||
        die "apt-get source librdkafka=$version-1 failed (set OCPP_RDKAFKA_TARBALL to build offline)"
    mv "$apt_dir/$orig" "$downloads/$orig"
    tarball="$downloads/$orig"
fi
echo "$sha256  $tarball" | sha256sum -c --quiet - >&2 ||
    die "$tarball does not have the pinned sha256 $sha256; remove it to fetch it again"

work="$(mktemp -d)"
trap 'rm -rf "$work" "${apt_dir:-}"' EXIT
tar -xzf "$tarball" -C "$work"
src="$work/librdkafka-$version"
for p in "${patches[@]}"; do
    say "applying $(basename "$p")"
    patch -d "$src" -p1 --forward --quiet <"$p" || die "$(basename "$p") does not apply to $version"
done
say "building librdkafka $version into $prefix (a few minutes, once)"
(
    cd "$src"
    if [ -n "$sanitize" ]; then
        export CFLAGS="-O1 -g -fsanitize=$sanitize" LDFLAGS="-fsanitize=$sanitize"
    fi
    ./configure --prefix="$prefix" --disable-c11threads --enable-ssl --enable-gssapi \
        --enable-zstd --enable-lz4-ext --enable-zlib --disable-curl \
        >"$work/configure.log" 2>&1 || { tail -n 40 "$work/configure.log" >&2; exit 1; }
    make -j "$(nproc)" libs >"$work/make.log" 2>&1 || { tail -n 40 "$work/make.log" >&2; exit 1; }
    rm -rf "$prefix"
    make install-subdirs >"$work/install.log" 2>&1 || { tail -n 40 "$work/install.log" >&2; exit 1; }
) || die "building librdkafka failed (logs above)"
mkdir -p "$prefix/share/ocpp-gateway"
for p in "${patches[@]}"; do
    basename "$p"
done >"$prefix/share/ocpp-gateway/patches"
touch "$prefix/.built"
echo "$prefix"
