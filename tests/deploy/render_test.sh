#!/usr/bin/env bash
# deploy/: the kustomize base and the Helm chart render the same objects (docs/install.md).
# `kubectl kustomize deploy/` and `helm template weft deploy/charts/weft -n weft-system
# --include-crds` (kubectl and helm as tools/setup-go-tools builds them) are compared object
# for object by compare_manifests.py, which also checks that the agent's roles grant nothing
# on Secrets; `helm lint --strict`; the chart's values reach the args (sockmapAcceleration,
# trustDomain, image, caAddress); the chart's CRDs are deploy/crds' and,
# where the pinned modules are in the module cache, what tools/kube/update-crds makes.
# Exits 77 (skipped) without the binaries unless CI is set, where that is a failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${WEFT_CACHE:-/var/cache/weft}/go/bin
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3  # Debian's, with python3-yaml (tools/setup)
missing=""
for b in kubectl helm; do [ -x "$BIN/$b" ] || missing="$missing $BIN/$b"; done
"$PY" -c 'import yaml' 2>/dev/null || missing="$missing python3-yaml"
if [ -n "$missing" ]; then
  echo "render_test: missing:$missing (tools/setup and tools/setup-go-tools install them)"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
DIR=$(mktemp -d /tmp/weft-render-test.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
export HELM_CACHE_HOME=$DIR/helm/cache HELM_CONFIG_HOME=$DIR/helm/config HELM_DATA_HOME=$DIR/helm/data
cd "$ROOT"
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
compare() { "$PY" tests/deploy/compare_manifests.py "$@"; }
helm_t() { "$BIN/helm" template weft deploy/charts/weft "$@"; }

if "$BIN/helm" lint --strict deploy/charts/weft >"$DIR/lint" 2>&1; then
  ok "helm lint --strict deploy/charts/weft"
else
  cat "$DIR/lint"; bad "helm lint --strict deploy/charts/weft"
fi

"$BIN/kubectl" kustomize deploy/ >"$DIR/kustomize.yaml"
helm_t -n weft-system --include-crds >"$DIR/helm.yaml"
if compare "$DIR/kustomize.yaml" "$DIR/helm.yaml"; then
  ok "kubectl kustomize deploy/ and helm template: the same objects; RBAC as promised"
else
  bad "kubectl kustomize deploy/ and helm template differ (above)"
fi

# deploy/base is weft without the CRDs (for clusters that have them from upstream).
n=$("$BIN/kubectl" kustomize deploy/base | grep -c '^kind: CustomResourceDefinition' || true)
[ "$n" = 0 ] && ok "deploy/base has no CRDs" || bad "deploy/base renders $n CRDs"
# Without --include-crds helm renders no CRD (they are in crds/, installed apart).
n=$(helm_t -n weft-system | grep -c '^kind: CustomResourceDefinition' || true)
[ "$n" = 0 ] && ok "helm template without --include-crds: no CRDs" || bad "helm template renders $n CRDs from templates/"

# The chart's values reach the agent's and the CA's args.
helm_t -n weft-system --set sockmapAcceleration=false --set failOpen=true --set logLevel=debug \
  --set trustDomain=example.org --set image.tag=9.9.9 --set image.repository=registry.test/weft \
  >"$DIR/values.yaml"
if compare --args "$DIR/values.yaml" DaemonSet/weft-agent --no-sockmap-accel --fail-open \
    --log-level=debug --trust-domain=example.org &&
  compare --args "$DIR/values.yaml" DaemonSet/weft-proxy --log-level=debug &&
  compare --args "$DIR/values.yaml" Deployment/weft-ca --trust-domain=example.org --log-level=debug &&
  compare --no-args "$DIR/helm.yaml" DaemonSet/weft-agent --no-sockmap-accel --fail-open --log-level=info &&
  [ "$(grep -c 'image: registry.test/weft:9.9.9$' "$DIR/values.yaml")" = 3 ]; then
  ok "values sockmapAcceleration, failOpen, logLevel, trustDomain, image"
else
  bad "values sockmapAcceleration, failOpen, logLevel, trustDomain, image"
fi
helm_t -n mesh >"$DIR/ns.yaml"
helm_t -n mesh --set caAddress=ca.example:443 >"$DIR/ca.yaml"
if compare --args "$DIR/ns.yaml" DaemonSet/weft-agent --ca-address=weft-ca.mesh.svc:15012 &&
  compare --args "$DIR/ca.yaml" DaemonSet/weft-agent --ca-address=ca.example:443; then
  ok "caAddress: weft-ca.<release namespace>.svc:15012 unless set"
else
  bad "caAddress"
fi

# The CRDs: the chart's are deploy/crds' (byte for byte), and deploy/crds is what
# update-crds makes from the pinned modules (checked when they are in the module cache: the
# test downloads nothing).
same=1
for f in deploy/crds/*.yaml; do
  b=$(basename "$f")
  [ "$b" = kustomization.yaml ] && continue
  cmp -s "$f" "deploy/charts/weft/crds/$b" || { echo "deploy/charts/weft/crds/$b differs"; same=0; }
done
[ "$(ls deploy/charts/weft/crds | wc -l)" = "$(($(ls deploy/crds/*.yaml | wc -l) - 1))" ] || same=0
[ "$same" = 1 ] && ok "deploy/charts/weft/crds = deploy/crds" || bad "deploy/charts/weft/crds != deploy/crds"
if GOPROXY=off GOFLAGS=-mod=mod tools/kube/update-crds --check >"$DIR/crds" 2>&1; then
  ok "deploy/crds is what tools/kube/update-crds makes"
elif grep -q 'out of date\|differs\|does not make' "$DIR/crds"; then
  cat "$DIR/crds"; bad "deploy/crds is not what tools/kube/update-crds makes"
else
  echo "render_test: update-crds --check not run (no Go, or the pinned modules are not in the module cache):"
  tail -1 "$DIR/crds"
fi

echo "render_test: $passed passed, $failed failed"
[ "$failed" = 0 ]
