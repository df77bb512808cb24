#!/usr/bin/env bash
# The differential test of docs/compatibility.md: weft's verdict on every document of a
# generated corpus (tests/compat/seeds and mutations of them derived from the pinned CRDs'
# schemas, weft-compat corpus) against the real validators:
#   - Istio's validation (istio.io/istio pkg/config/validation, what `istioctl validate` runs:
#     weft-compat istio, built by tools/setup-go-tools at the pinned version);
#   - the real API server with deploy/crds installed, server-side dry-run with strict field
#     validation (what `kubectl apply --dry-run=server` asks; tools/kube/control-plane on ports
#     of its own: API 28443, etcd 24379/24380).
# A document is valid upstream when both accept it; every disagreement with weftctl validate
# must be listed in tests/compat/intended.yaml (which docs/policies.md explains).
#
#   differential_test.sh WEFTCTL [--count N] [--keep DIR] [--seeds DIR] [--seeds-only]
#                                [--write-fields]
#
# The full run also regenerates docs/fields.md (what weft does with every field path) and fails
# when the committed file differs; --write-fields writes it instead.
# --seeds-only: the seed corpus alone (each seed's "# expect:" lines against weftctl validate,
# and its verdict against Istio's validation), without mutations or an API server: seconds.
#
# Exits 77 (skipped) without the Go tools unless CI is set, where that is a failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${WEFT_CACHE:-/var/cache/weft}/go/bin
WEFTCTL=${1:?usage: differential_test.sh WEFTCTL [--count N] [--keep DIR]}
shift
COUNT=8000
KEEP=""
SEEDS_ONLY=""
WRITE_FIELDS=""
SEEDS=$ROOT/tests/compat/seeds
while [ $# -gt 0 ]; do
  case $1 in
    --count) COUNT=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --seeds-only) SEEDS_ONLY=--seeds-only; shift ;;
    --write-fields) WRITE_FIELDS=1; shift ;;
    *) echo "differential_test: unknown argument $1" >&2; exit 2 ;;
  esac
done
missing=""
tools="weft-compat weft-kube etcd kubectl"
[ -n "$SEEDS_ONLY" ] && tools=weft-compat
for b in $tools; do [ -x "$BIN/$b" ] || missing="$missing $BIN/$b"; done
if [ -n "$missing" ]; then
  echo "differential_test: missing:$missing (tools/setup-go-tools builds them)"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
DIR=$(mktemp -d /tmp/weft-compat-test.XXXXXX)
CP="$ROOT/tools/kube/control-plane"
cleanup() {
  local rc=$1
  if [ "$rc" != 0 ] && [ -d "$DIR/cp" ]; then
    for f in "$DIR"/cp/kube-apiserver.log; do echo "== $f (last 15 lines)"; tail -15 "$f"; done
  fi
  "$CP" down "$DIR/cp" >/dev/null 2>&1 || true
  if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP" && cp "$DIR"/*.yaml* "$DIR"/*.jsonl "$KEEP"/ 2>/dev/null || true
  fi
  rm -rf "$DIR"
}
trap 'rc=$?; cleanup $rc; exit $rc' EXIT
t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0)) s"; }

"$BIN/weft-compat" corpus --crds "$ROOT/deploy/crds" --seeds "$SEEDS" \
  --out "$DIR/corpus.yaml" --count "$COUNT" $SEEDS_ONLY
rc=0
"$WEFTCTL" validate -f "$DIR/corpus.yaml" -o jsonl >"$DIR/weft.jsonl" || rc=$?
[ "$rc" -le 1 ] || { echo "FAIL: weftctl validate exited $rc"; exit 1; }
echo "weftctl validate: $(wc -l <"$DIR/weft.jsonl") verdicts ($(elapsed))"
"$BIN/weft-compat" istio "$DIR/corpus.yaml" >"$DIR/istio.jsonl"
echo "Istio's validation: $(wc -l <"$DIR/istio.jsonl") verdicts ($(elapsed))"

if [ -n "$SEEDS_ONLY" ]; then
  "$BIN/weft-compat" compare --index "$DIR/corpus.yaml.index.jsonl" --weft "$DIR/weft.jsonl" \
    --istio "$DIR/istio.jsonl" --intended "$ROOT/tests/compat/intended.yaml"
  echo "differential_test --seeds-only: done in $(elapsed)"
  exit 0
fi

"$CP" up "$DIR/cp" --api-port 28443 --etcd-port 24379 --no-controllers >"$DIR/cp-up.log" 2>&1 ||
  { echo "FAIL: the control plane did not start"; exit 1; }
k() { "$BIN/kubectl" --kubeconfig "$DIR/cp/admin.kubeconfig" "$@"; }
k apply --server-side -k "$ROOT/deploy/crds" >/dev/null
k wait --for condition=Established --timeout 60s crd --all >/dev/null
# A CRD is Established before its schema and CEL rules are in force on every handler: wait
# until an object they refuse is refused.
for _ in $(seq 1 50); do
  if ! k apply --dry-run=server -f - >/dev/null 2>&1 <<'Y'; then break; fi
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: probe, namespace: default}
spec: {hosts: [a], http: [{route: [{destination: {host: a}, weight: 1000}]}]}
Y
  sleep 0.2
done
"$BIN/weft-compat" dryrun --cluster "$DIR/cp" "$DIR/corpus.yaml" >"$DIR/apiserver.jsonl"
echo "API server dry-run: $(wc -l <"$DIR/apiserver.jsonl") verdicts ($(elapsed))"
"$CP" down "$DIR/cp" >/dev/null 2>&1 || true

"$BIN/weft-compat" compare --index "$DIR/corpus.yaml.index.jsonl" --weft "$DIR/weft.jsonl" \
  --istio "$DIR/istio.jsonl" --apiserver "$DIR/apiserver.jsonl" \
  --intended "$ROOT/tests/compat/intended.yaml"
fields_rc=0
"$BIN/weft-compat" fields --index "$DIR/corpus.yaml.index.jsonl" --weft "$DIR/weft.jsonl" \
  --istio "$DIR/istio.jsonl" --apiserver "$DIR/apiserver.jsonl" >"$DIR/fields.md"
if [ -n "$WRITE_FIELDS" ]; then
  cp "$DIR/fields.md" "$ROOT/docs/fields.md"
  echo "wrote $ROOT/docs/fields.md"
elif ! diff -u "$ROOT/docs/fields.md" "$DIR/fields.md" >"$DIR/fields.diff"; then
  head -40 "$DIR/fields.diff"
  echo "FAIL: docs/fields.md is out of date: run $0 WEFTCTL --write-fields"
  fields_rc=1
fi
echo "differential_test: done in $(elapsed)"
exit $fields_rc
