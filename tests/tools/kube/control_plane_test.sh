#!/usr/bin/env bash
# The real Kubernetes control plane that tools/setup-go-tools builds from the Go module proxy
# (docs/kubernetes.md): etcd, kube-apiserver (TLS, client certificates, RBAC, the
# ServiceAccount token signer), kube-controller-manager (every default controller) and
# kube-scheduler, on loopback in a scratch directory. Checks that the API answers with the
# pinned version; that the controllers create ServiceAccounts and a Deployment's ReplicaSet
# and Pods; that the scheduler binds the Pods to the one Node that reports itself Ready; that
# RBAC refuses a user without a binding. Exits 77 (skipped) without the binaries unless CI is
# set, where that is a failure.
set -euo pipefail
BIN=${WEFT_CACHE:-/var/cache/weft}/go/bin
if [ ! -x "$BIN/weft-kube" ] || [ ! -x "$BIN/etcd" ]; then
  echo "control_plane_test: $BIN/weft-kube or $BIN/etcd missing (tools/setup-go-tools builds them)"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
DIR=$(mktemp -d /tmp/weft-kube-test.XXXXXX)
PIDS=()
cleanup() {
  # SIGTERM, last started first (etcd last), up to 5 s to stop gracefully, then SIGKILL (the
  # controller manager can take long).
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true  # all dead by now: reaps them quietly
  if [ "${1:-0}" != 0 ]; then
    for f in "$DIR"/*.log; do echo "== $f (last 20 lines)"; tail -20 "$f"; done
  fi
  rm -rf "$DIR"
}
trap 'rc=$?; cleanup $rc; exit $rc' EXIT
fail() { echo "control_plane_test: FAIL: $*"; exit 1; }
cd "$DIR"
# Ports off the usual ones, so that a control plane of a developer's own does not collide.
API=26443 ETCD=22379 PEER=22380 CM=20257 SCHED=20259
ssl() { openssl "$@" 2>/dev/null; }
ssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj "/CN=test-ca"
printf '[ext]\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.cnf
cert() {  # name subject [extfile]
  ssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
  ssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 1 \
    ${3:+-extfile "$3" -extensions ext}
}
cert apiserver "/CN=kube-apiserver" san.cnf
cert admin "/O=system:masters/CN=admin"
cert nobody "/CN=nobody"
ssl genrsa -out sa.key 2048
ssl rsa -in sa.key -pubout -out sa.pub
kubeconfig() {  # user
  cat >"$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: t, cluster: {server: "https://127.0.0.1:$API", certificate-authority: $DIR/ca.crt}}]
users: [{name: u, user: {client-certificate: $DIR/$1.crt, client-key: $DIR/$1.key}}]
contexts: [{name: t, context: {cluster: t, user: u}}]
current-context: t
KC
}
kubeconfig admin
kubeconfig nobody
k() { "$BIN/weft-kube" kubectl --kubeconfig "$DIR/admin.kubeconfig" "$@"; }

"$BIN/etcd" --data-dir "$DIR/etcd" --listen-client-urls "http://127.0.0.1:$ETCD" \
  --advertise-client-urls "http://127.0.0.1:$ETCD" --listen-peer-urls "http://127.0.0.1:$PEER" \
  --initial-advertise-peer-urls "http://127.0.0.1:$PEER" \
  --initial-cluster "default=http://127.0.0.1:$PEER" >etcd.log 2>&1 &
PIDS+=($!)
start=$(date +%s.%N)
# A loopback advertise address is refused by the endpoint reconciler: none here (the
# kubernetes Service's endpoints do not matter to this test).
"$BIN/weft-kube" kube-apiserver --etcd-servers "http://127.0.0.1:$ETCD" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API" \
  --endpoint-reconciler-type none --tls-cert-file apiserver.crt \
  --tls-private-key-file apiserver.key --client-ca-file ca.crt \
  --service-account-issuer https://kubernetes.default.svc --service-account-key-file sa.pub \
  --service-account-signing-key-file sa.key --service-cluster-ip-range 10.96.0.0/16 \
  --authorization-mode Node,RBAC >apiserver.log 2>&1 &
PIDS+=($!)
for _ in $(seq 1 120); do
  k get --raw /readyz >/dev/null 2>&1 && break
  sleep 0.5
done
k get --raw /readyz >/dev/null 2>&1 || fail "kube-apiserver not ready in 60 s"
echo "kube-apiserver ready in $(echo "$(date +%s.%N) - $start" | bc | cut -c1-4) s"
version=$(k get --raw /version | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p')
[ "$version" = "v1.37.2" ] || fail "version $version, expected v1.37.2"

common=(--kubeconfig admin.kubeconfig --authentication-kubeconfig admin.kubeconfig
  --authorization-kubeconfig admin.kubeconfig --bind-address 127.0.0.1 --leader-elect=false)
"$BIN/weft-kube" kube-controller-manager "${common[@]}" --secure-port "$CM" \
  --service-account-private-key-file sa.key --root-ca-file ca.crt \
  --use-service-account-credentials --controllers '*' >controller-manager.log 2>&1 &
PIDS+=($!)
"$BIN/weft-kube" kube-scheduler "${common[@]}" --secure-port "$SCHED" >scheduler.log 2>&1 &
PIDS+=($!)

# What a kubelet would report for its node: Ready, capacity.
k apply -f - >/dev/null <<'Y'
apiVersion: v1
kind: Node
metadata: {name: node1, labels: {topology.kubernetes.io/zone: a}}
spec: {podCIDR: 10.244.1.0/24}
Y
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
k patch node node1 --subresource=status --type=merge -p '{"status":{
  "capacity":{"cpu":"2","memory":"8Gi","pods":"110"},
  "allocatable":{"cpu":"2","memory":"8Gi","pods":"110"},
  "conditions":[{"type":"Ready","status":"True","reason":"Test",
    "lastHeartbeatTime":"'"$now"'","lastTransitionTime":"'"$now"'"}],
  "addresses":[{"type":"InternalIP","address":"10.0.0.1"}]}}' >/dev/null
k create namespace demo >/dev/null
k apply -f - >/dev/null <<'Y'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: weft.dev/none}]}
Y
bound=0
for _ in $(seq 1 60); do
  bound=$(k get pods -n demo -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' |
    grep -c '^node1$' || true)
  [ "$bound" = 2 ] && break
  sleep 0.5
done
[ "$bound" = 2 ] || fail "2 pods of the Deployment bound to node1: $bound"
k get serviceaccount default -n demo >/dev/null || fail "no default ServiceAccount in demo"
# RBAC: a user with no binding may not list pods; the admin (system:masters) may.
if "$BIN/weft-kube" kubectl --kubeconfig "$DIR/nobody.kubeconfig" get pods -n demo >/dev/null 2>&1; then
  fail "a user without RBAC bindings listed pods"
fi
can=$(k auth can-i list pods -n demo --as nobody 2>/dev/null || true)
[ "$can" = no ] || fail "kubectl auth can-i list pods --as nobody: '$can', expected no"
can=$(k auth can-i list pods -n demo 2>/dev/null || true)
[ "$can" = yes ] || fail "kubectl auth can-i list pods as admin: '$can', expected yes"
echo "control_plane_test: passed (etcd, kube-apiserver $version, controller-manager, scheduler)"
