#!/usr/bin/env bash
# Prints the python of a venv with requirements.txt installed, creating it when missing:
# kept under OCPP_CACHE_DIR (default ~/.cache/ocpp-gateway), keyed by the requirements.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${OCPP_CACHE_DIR:-$HOME/.cache/ocpp-gateway}"
key="$(sha256sum "$here/requirements.txt" | cut -c1-12)"
venv="$cache/interop-venv-$key"
if ! "$venv/bin/python" -c 'import ocpp.v21, websockets' 2>/dev/null; then
    rm -rf "$venv"
    mkdir -p "$cache"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check --cache-dir "$cache/pip" \
        -r "$here/requirements.txt" >&2
fi
echo "$venv/bin/python"
