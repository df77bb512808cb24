#!/usr/bin/env bash
# deploy/ against the real Kubernetes control plane (tools/kube/control-plane: etcd,
# kube-apiserver, controller manager, scheduler, built by tools/setup-go-tools), on ports of
# its own (API 27443, etcd 23379/23380):
#   - `helm install` of deploy/charts/weft: CRDs established, objects made; `helm upgrade`
#     with a value changes the DaemonSet's args; `helm uninstall` removes weft, keeps the CRDs;
#   - `kubectl apply -k deploy/` (client-side, as DESIGN.md promises) over that, then
#     `kubectl apply --server-side -k deploy/` (docs/install.md) over it without conflicts;
#   - the controllers make the agent's and the CA's Pods for a Node (admission accepts the
#     privileged agent, system-node-critical in weft-system, the projected token);
#   - RBAC as promised (`kubectl auth can-i --as` each ServiceAccount): the agent reads what
#     the compiler reads and no Secret; the CA creates TokenReviews, gets only its own Secret;
#   - the Istio and Gateway API objects of examples/demo, and objects of each served version,
#     validate against the CRDs; the schemas refuse a bad enum value.
# No weft binary runs here (no kubelet runs the Pods): that is tools/cluster's part.
# Exits 77 (skipped) without the binaries unless CI is set, where that is a failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${WEFT_CACHE:-/var/cache/weft}/go/bin
missing=""
for b in weft-kube etcd kubectl helm; do [ -x "$BIN/$b" ] || missing="$missing $BIN/$b"; done
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3  # Debian's, with python3-yaml (tools/setup)
"$PY" -c 'import yaml' 2>/dev/null || missing="$missing python3-yaml"
if [ -n "$missing" ]; then
  echo "apply_test: missing:$missing (tools/setup and tools/setup-go-tools install them)"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
DIR=$(mktemp -d /tmp/weft-deploy-test.XXXXXX)
CP="$ROOT/tools/kube/control-plane"
cleanup() {
  local rc=$1
  if [ "$rc" != 0 ] && [ -d "$DIR/cp" ]; then
    for f in "$DIR"/cp/*.log; do echo "== $f (last 15 lines)"; tail -15 "$f"; done
  fi
  "$CP" down "$DIR/cp" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap 'rc=$?; cleanup $rc; exit $rc' EXIT
export HELM_CACHE_HOME=$DIR/helm/cache HELM_CONFIG_HOME=$DIR/helm/config HELM_DATA_HOME=$DIR/helm/data
cd "$ROOT"
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
fatal() { echo "FAIL: $*"; echo "apply_test: $passed passed, $((failed + 1)) failed"; exit 1; }

"$CP" up "$DIR/cp" --api-port 27443 --etcd-port 23379 --no-controllers ||
  fatal "control plane did not start"
# Real clusters (kubeadm, kind, k3d) run the API server with --allow-privileged=true, without
# which no privileged container (the agent) is admitted. Added here if the control plane's
# flags lack it (before the controllers start: they exit if the API server is away then).
if ! grep -q -- '--allow-privileged' "$DIR/cp/kube-apiserver.cmd"; then
  sed -i 's|--authorization-mode Node,RBAC|--authorization-mode Node,RBAC --allow-privileged=true|' \
    "$DIR/cp/kube-apiserver.cmd"
  grep -q -- '--allow-privileged' "$DIR/cp/kube-apiserver.cmd" || fatal "cannot add --allow-privileged"
  "$CP" stop "$DIR/cp" kube-apiserver
  "$CP" start "$DIR/cp" kube-apiserver >/dev/null || fatal "kube-apiserver did not restart"
fi
# (`control-plane start` of a component other than the API server may exit 1 after starting it.)
"$CP" start "$DIR/cp" kube-controller-manager || true
"$CP" start "$DIR/cp" kube-scheduler || true
[ -s "$DIR/cp/kube-controller-manager.pid" ] || fatal "kube-controller-manager did not start"
KC=$DIR/cp/admin.kubeconfig
k() { "$BIN/kubectl" --kubeconfig "$KC" "$@"; }
helm() { "$BIN/helm" --kubeconfig "$KC" "$@"; }

# A node for the DaemonSet (the scheduler leaves its Pod pending: no kubelet reports capacity).
k apply -f - >/dev/null <<'Y'
apiVersion: v1
kind: Node
metadata: {name: node1}
Y

# --- Helm ---
if helm install weft deploy/charts/weft -n weft-system --create-namespace >"$DIR/helm.log" 2>&1; then
  ok "helm install weft deploy/charts/weft -n weft-system --create-namespace"
else
  cat "$DIR/helm.log"; fatal "helm install"
fi
if k wait --for condition=Established --timeout 30s crd --all >/dev/null; then
  n=$(k get crd -o name | wc -l)
  [ "$n" = 11 ] && ok "11 CRDs established" || bad "$n CRDs, expected 11"
else
  bad "CRDs not established in 30 s"
fi
have=$(k get -n weft-system daemonset/weft-agent deployment/weft-ca service/weft-ca \
  poddisruptionbudget/weft-ca serviceaccount/weft-agent serviceaccount/weft-ca role/weft-ca \
  rolebinding/weft-ca -o name 2>&1 | wc -l)
have2=$(k get clusterrole/weft-agent clusterrole/weft-ca clusterrolebinding/weft-agent \
  clusterrolebinding/weft-ca -o name 2>&1 | wc -l)
[ "$have" = 8 ] && [ "$have2" = 4 ] && ok "helm: the chart's 12 objects exist" ||
  bad "helm: objects missing ($have of 8 namespaced, $have2 of 4 cluster-scoped)"
args() {  # KIND/NAME: the first container's args, one a line
  k get -n weft-system "$1" -o jsonpath='{range .spec.template.spec.containers[0].args[*]}{@}{"\n"}{end}'
}
if helm upgrade weft deploy/charts/weft -n weft-system --set sockmapAcceleration=false \
    --set trustDomain=example.org >"$DIR/helm.log" 2>&1 &&
  args daemonset/weft-agent | grep -qx -- --no-sockmap-accel &&
  args deployment/weft-ca | grep -qx -- --trust-domain=example.org; then
  ok "helm upgrade --set sockmapAcceleration=false,trustDomain=example.org reaches the args"
else
  cat "$DIR/helm.log"; bad "helm upgrade with values"
fi
helm uninstall weft -n weft-system >"$DIR/helm.log" 2>&1 || { cat "$DIR/helm.log"; bad "helm uninstall"; }
for _ in $(seq 1 50); do
  k get -n weft-system daemonset/weft-agent >/dev/null 2>&1 || break
  sleep 0.2
done
if ! k get -n weft-system daemonset/weft-agent >/dev/null 2>&1 &&
  ! k get clusterrole/weft-agent >/dev/null 2>&1 && [ "$(k get crd -o name | wc -l)" = 11 ]; then
  ok "helm uninstall removes weft and keeps the CRDs"
else
  bad "helm uninstall: weft left behind or CRDs gone"
fi

# --- kustomize ---
if k apply -k deploy/ >"$DIR/apply.log" 2>&1; then
  ok "kubectl apply -k deploy/"
else
  cat "$DIR/apply.log"; bad "kubectl apply -k deploy/"
fi
if k apply --server-side -k deploy/ >"$DIR/apply.log" 2>&1; then
  ok "kubectl apply --server-side -k deploy/ over it (no field conflicts)"
else
  cat "$DIR/apply.log"; bad "kubectl apply --server-side -k deploy/"
fi
psa=$(k get namespace weft-system -o jsonpath='{.metadata.labels.pod-security\.kubernetes\.io/enforce}')
[ "$psa" = privileged ] && ok "namespace weft-system: pod-security enforce=privileged" ||
  bad "namespace weft-system label pod-security.kubernetes.io/enforce: '$psa'"
args daemonset/weft-agent | grep -qx -- --no-sockmap-accel &&
  bad "kubectl apply -k left the chart's --no-sockmap-accel in place" ||
  ok "kubectl apply -k: the DaemonSet's args are deploy/'s"

# The controllers make the Pods: admission accepted the privileged agent in weft-system with
# priority system-node-critical, its ServiceAccount and projected token.
agent_pod="" ca_pod=""
for _ in $(seq 1 100); do
  agent_pod=$(k get pods -n weft-system -l app.kubernetes.io/name=weft-agent \
    -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)
  ca_pod=$(k get pods -n weft-system -l app.kubernetes.io/name=weft-ca \
    -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)
  [ -n "$agent_pod" ] && [ -n "$ca_pod" ] && break
  sleep 0.2
done
if [ -n "$agent_pod" ] && [ -n "$ca_pod" ]; then
  ok "the DaemonSet and the Deployment made their Pods ($agent_pod, $ca_pod)"
  prio=$(k get pod -n weft-system "$agent_pod" -o jsonpath='{.spec.priority}')
  [ "$prio" = 2000001000 ] && ok "agent Pod priority system-node-critical" ||
    bad "agent Pod priority '$prio'"
  affinity=$(k get pod -n weft-system "$agent_pod" -o jsonpath='{.spec.affinity.nodeAffinity}')
  case $affinity in *node1*) ok "agent Pod is for node1" ;; *) bad "agent Pod affinity: $affinity" ;; esac
else
  k get events -n weft-system
  bad "Pods not made in 20 s (agent '$agent_pod', CA '$ca_pod')"
fi

# --- RBAC ---
can() {  # expected SA verb resource [-n NS]
  local want=$1 sa=$2
  shift 2
  local got
  got=$(k auth can-i --as "system:serviceaccount:weft-system:$sa" "$@" 2>/dev/null || true)
  if [ "$got" = "$want" ]; then
    ok "can-i $sa $*: $got"
  else
    bad "can-i $sa $*: '$got', expected $want"
  fi
}
for r in pods services namespaces nodes serviceaccounts endpointslices.discovery.k8s.io \
  virtualservices.networking.istio.io destinationrules.networking.istio.io \
  serviceentries.networking.istio.io peerauthentications.security.istio.io \
  authorizationpolicies.security.istio.io gateways.gateway.networking.k8s.io \
  httproutes.gateway.networking.k8s.io gatewayclasses.gateway.networking.k8s.io; do
  can yes weft-agent watch "$r" -A
done
can no weft-agent get secrets -n weft-system
can no weft-agent list secrets -A
can no weft-agent get secrets/weft-ca-root -n weft-system
can no weft-agent get configmaps -n weft-system
can no weft-agent create pods -n default
can no weft-agent update virtualservices.networking.istio.io -n default
can no weft-agent create tokenreviews.authentication.k8s.io
can yes weft-ca create tokenreviews.authentication.k8s.io
can yes weft-ca watch pods -A
can yes weft-ca get secrets/weft-ca-root -n weft-system
can no weft-ca get secrets/other -n weft-system
can no weft-ca list secrets -n weft-system
can no weft-ca get secrets/weft-ca-root -n default
can yes weft-ca create deployments.apps -n demo
can yes weft-ca patch services -n demo
can yes weft-ca patch gateways.gateway.networking.k8s.io --subresource=status -n demo
can no weft-ca update gateways.gateway.networking.k8s.io -n demo
can yes weft-ca create events.events.k8s.io -n demo
can no weft-ca create pods -n demo

# --- the CRDs take the objects users apply: those of examples/demo (Istio v1, Gateway API v1;
# its Pods and Nodes are local mode's, without containers, and are left out) ---
"$PY" - examples/demo/*.yaml >"$DIR/demo.yaml" <<'EOF'
import sys, yaml
docs = [d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]
print(yaml.safe_dump_all([d for d in docs if d.get("kind") not in ("Pod", "Node")]))
EOF
if k apply --server-side -f "$DIR/demo.yaml" >"$DIR/demo.log" 2>&1; then
  n=$(k get destinationrules.networking.istio.io,virtualservices.networking.istio.io,gateways.gateway.networking.k8s.io \
    -A -o name | wc -l)
  [ "$n" -ge 3 ] && ok "examples/demo applied ($n Istio and Gateway API objects)" ||
    bad "examples/demo: $n Istio and Gateway API objects"
else
  cat "$DIR/demo.log"; bad "kubectl apply of examples/demo/"
fi
# Every version each CRD serves takes an object (v1alpha3 and v1beta1 Istio objects as users have).
k apply --server-side -f - >"$DIR/versions.log" 2>&1 <<'Y' && ok "Istio v1alpha3/v1beta1, Gateway API v1 HTTPRoute/GRPCRoute/ReferenceGrant objects accepted" || { cat "$DIR/versions.log"; bad "objects of older served versions"; }
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: old, namespace: demo}
spec:
  hosts: [old.demo.svc.cluster.local]
  http: [{route: [{destination: {host: old.demo.svc.cluster.local}}], retries: {attempts: 3, perTryTimeout: 2s}}]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: ext, namespace: demo}
spec: {hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: demo}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-get, namespace: demo}
spec:
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/client]}}], to: [{operation: {methods: [GET]}}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: split, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: old, port: 80}]
  rules: [{backendRefs: [{name: old, port: 80, weight: 90}, {name: new, port: 80, weight: 10}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: old, port: 80}]
  rules: [{backendRefs: [{name: old, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: from-demo, namespace: default}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: demo}]
  to: [{group: "", kind: Service}]
Y
# ... and the structural schemas refuse what upstream refuses.
if k apply --server-side -f - >"$DIR/bad.log" 2>&1 <<'Y'; then
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: bad, namespace: demo}
spec: {host: x, trafficPolicy: {loadBalancer: {simple: NOT_A_POLICY}}}
Y
  bad "a DestinationRule with loadBalancer.simple NOT_A_POLICY was accepted"
else
  ok "a DestinationRule with loadBalancer.simple NOT_A_POLICY is refused by the schema"
fi

echo "apply_test: $passed passed, $failed failed"
[ "$failed" = 0 ]
