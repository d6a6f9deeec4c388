#!/usr/bin/env bash
# Checks what operators deploy. The Kubernetes base (deploy/kubernetes/) the way a cluster
# would take it: every
# resource against the official Kubernetes schemas (PyPI kubernetes-validate, strict: unknown
# fields refused) for the oldest and newest Kubernetes it claims, the kustomization listing
# exactly the files there, and the gateway configuration in its ConfigMap read by the gateway
# itself (check-config, as a pod would start). The container files (deploy/container/): the
# compose gateway's configuration and Prometheus's, and what compose.yaml refers to.
#   scripts/check-deploy.sh GATEWAY_BIN
#   OCPP_CACHE_DIR: where the validator's venv is kept (~/.cache/ocpp-gateway)
set -euo pipefail
cd "$(dirname "$0")/.."

gateway="${1:?usage: scripts/check-deploy.sh GATEWAY_BIN}"
cache="${OCPP_CACHE_DIR:-$HOME/.cache/ocpp-gateway}"
kubernetes_versions=(1.29.0 1.37.0)
validator_version=1.37.0
dir=deploy/kubernetes

venv="$cache/deploy-venv-$validator_version"
if ! "$venv/bin/kubernetes-validate" --version >/dev/null 2>&1; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --cache-dir "$cache/pip" \
        "kubernetes-validate==$validator_version"
fi

status=0
resources=()
for f in "$dir"/*.yaml; do
    [ "$(basename "$f")" = kustomization.yaml ] || resources+=("$f")
done
for version in "${kubernetes_versions[@]}"; do
    if ! "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "${resources[@]}"; then
        echo "check-deploy: the manifests above are not valid Kubernetes $version" >&2
        status=1
    fi
done

# The kustomization names every resource file once, and nothing else.
listed="$(sed -n '/^resources:/,/^[a-z]/{s/^  - //p}' "$dir/kustomization.yaml" | sort)"
present="$(for f in "${resources[@]}"; do basename "$f"; done | sort)"
if [ "$listed" != "$present" ]; then
    echo "check-deploy: kustomization.yaml resources differ from the files in $dir:" >&2
    diff <(echo "$listed") <(echo "$present") >&2 || true
    status=1
fi

# The ConfigMap's gateway.yaml as the pod reads it, with the token its Secret provides.
config="$(mktemp /tmp/ocpp-deploy-config.XXXXXX.yaml)"
trap 'rm -f "$config"' EXIT
python3 - "$dir/configmap.yaml" "$config" <<'PY'
import sys
text = open(sys.argv[1]).read()
start = text.index("  gateway.yaml: |\n") + len("  gateway.yaml: |\n")
lines = []
for line in text[start:].splitlines():
    if line and not line.startswith("    "):
        break
    lines.append(line[4:])
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
if ! OCPP_GATEWAY_ADMIN_TOKEN=from-the-secret "$gateway" check-config --config "$config"; then
    echo "check-deploy: the gateway refuses the ConfigMap's configuration" >&2
    status=1
fi
# The container files: the compose gateway's configuration read by the gateway, Prometheus's
# configuration checked by promtool, and every file compose.yaml mounts or builds present.
container=deploy/container
if ! OCPP_GATEWAY_ADMIN_TOKEN=from-compose OCPP_GATEWAY_KAFKA_BROKERS=kafka:9092 \
    "$gateway" check-config --config "$container/compose-gateway.yaml"; then
    echo "check-deploy: the gateway refuses $container/compose-gateway.yaml" >&2
    status=1
fi
if command -v promtool >/dev/null; then
    prometheus="$(mktemp /tmp/ocpp-deploy-prometheus.XXXXXX.yml)"
    trap 'rm -f "$config" "$prometheus"' EXIT
    sed "s|/etc/prometheus/alerts.yaml|$PWD/deploy/monitoring/alerts.yaml|" "$container/prometheus.yml" > "$prometheus"
    promtool check config "$prometheus" >/dev/null || { echo "check-deploy: promtool refuses $container/prometheus.yml" >&2; status=1; }
fi
"$venv/bin/python" - "$container" <<'PY' || status=1
import os, sys, yaml
base = sys.argv[1]
compose = yaml.safe_load(open(os.path.join(base, "compose.yaml")))
missing = []
for name, service in compose["services"].items():
    build = service.get("build")
    if build:
        context = os.path.join(base, build["context"])
        if not os.path.isfile(os.path.join(context, build["dockerfile"])):
            missing.append(f"{name}: build {build['dockerfile']}")
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith(".") and not os.path.exists(os.path.join(base, source)):
            missing.append(f"{name}: volume {source}")
if missing:
    print("check-deploy: compose.yaml refers to files that are not there: " + ", ".join(missing), file=sys.stderr)
    sys.exit(1)
PY

[ "$status" -eq 0 ] && echo "check-deploy: ${#resources[@]} manifest files valid for Kubernetes ${kubernetes_versions[*]}"
exit "$status"
