#!/usr/bin/env bash
# The image deploy/ pulls (deploy/Dockerfile), built without a Docker engine by tools/image
# (buildah, chroot isolation, a debootstrap'd debian:12 base) from the build tree's programs:
#   - its tag is the version deploy/ and the Helm chart pull; the config is what the
#     manifests assume (entrypoint weft-agent, user 65532, the version label);
#   - every program's shared libraries resolve inside the runtime image (ldd);
#   - the programs work there as the non-root user: weftctl makes a CA root (OpenSSL) and
#     analyzes examples/demo (YAML, RE2, protobuf), weft-agent and weft-waypoint start far
#     enough to print their flags;
#   - `tools/image save` writes a docker-archive that kind and k3d load (manifest, tag);
#   - the Dockerfile's build stage installs only packages tools/setup installs (no drift).
# Root only (buildah's storage); exits 77 (skipped) without root or buildah unless CI is set.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
skip() {
  echo "image_test: $*"
  [ -n "${CI:-}" ] && exit 1
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root"
command -v buildah >/dev/null || skip "buildah missing (tools/setup installs it)"
command -v debootstrap >/dev/null || skip "debootstrap missing (tools/setup installs it)"
export WEFT_BUILD=${WEFT_BUILD:-$ROOT/build}
IMAGE="$ROOT/tools/image"
fail() { echo "FAIL: $*" >&2; exit 1; }

VERSION=$(sed -n 's/^version: *//p' "$ROOT/deploy/charts/weft/Chart.yaml")
TAG=ghcr.io/weft-mesh/weft:$VERSION
for f in "$ROOT"/deploy/base/*.yaml; do
  grep -q "image: ghcr.io/weft-mesh/weft:" "$f" || continue
  grep -q "image: $TAG\$" "$f" || fail "$f does not pull $TAG"
done

# The build stage's packages must be ones tools/setup installs (what the tests build with).
setup_pkgs=$(sed -n '/^PACKAGES=(/,/^)/p' "$ROOT/tools/setup" | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^PACKAGES\|^(\|^)\|^$' | sort -u)
build_pkgs=$(sed -n '/^FROM debian:12 AS build/,/^FROM/p' "$ROOT/deploy/Dockerfile" |
  sed -n '/apt-get install/,/rm -rf/p' | sed 's/^.*apt-get install//; s/&&.*$//' |
  tr -s ' \t\\' '\n' | grep -v '^-\|^$' | sort -u)
extra=$(comm -13 <(echo "$setup_pkgs") <(echo "$build_pkgs") | grep -v '^ca-certificates$' || true)
[ -z "$extra" ] || fail "deploy/Dockerfile's build stage installs packages tools/setup does not: $extra"

echo "== tools/image build"
"$IMAGE" build -t "$TAG"

echo "== image config"
config=$(buildah inspect --type image "$TAG")
user=$(echo "$config" | python3 -c 'import json,sys; print(json.load(sys.stdin)["OCIv1"]["config"].get("User",""))')
entry=$(echo "$config" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["OCIv1"]["config"].get("Entrypoint") or []))')
label=$(echo "$config" | python3 -c 'import json,sys; print(json.load(sys.stdin)["OCIv1"]["config"].get("Labels",{}).get("org.opencontainers.image.version",""))')
[ "$user" = "65532:65532" ] || fail "image user is '$user', want 65532:65532"
[ "$entry" = "/usr/local/bin/weft-agent" ] || fail "entrypoint is '$entry'"
[ "$label" = "$VERSION" ] || fail "version label is '$label', want $VERSION"

echo "== shared libraries resolve in the runtime image"
ldd_out=$("$IMAGE" run -t "$TAG" -- sh -c 'for p in weft-agent weft-waypoint weftctl; do echo "# $p"; ldd /usr/local/bin/$p; done')
echo "$ldd_out" | grep -q "libbpf" || fail "ldd printed no libbpf for weft-agent: $ldd_out"
if echo "$ldd_out" | grep -q "not found"; then
  echo "$ldd_out" >&2
  fail "libraries missing from the runtime image (deploy/Dockerfile's runtime packages)"
fi

echo "== the programs run as the image's user"
id_out=$("$IMAGE" run -t "$TAG" -- id -u)
[ "$id_out" = 65532 ] || fail "runs as uid '$id_out'"
v=$("$IMAGE" run -t "$TAG" -- weftctl --version)
echo "$v" | grep -q "weftctl $VERSION" || fail "weftctl --version: $v"
secret=$("$IMAGE" run -t "$TAG" -- weftctl ca init --trust-domain image.test)
echo "$secret" | grep -q "kind: Secret" || fail "weftctl ca init printed no Secret"
echo "$secret" | grep -q "BEGIN .*PRIVATE KEY" || fail "weftctl ca init printed no key"
"$IMAGE" run -t "$TAG" -v "$ROOT/examples:/examples:ro" -- weftctl analyze -f /examples/demo ||
  fail "weftctl analyze -f examples/demo failed in the image"
bad=$("$IMAGE" run -t "$TAG" -- sh -c 'printf "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: d}\nspec:\n  hosts: [a]\n  http:\n  - match: [{uri: {regex: \"((\"}}]\n    route: [{destination: {host: a}}]\n" > /tmp/bad.yaml; weftctl analyze -f /tmp/bad.yaml; echo "rc=$?"' 2>&1)
echo "$bad" | grep -q "rc=1" || fail "weftctl analyze of an invalid regex did not fail in the image: $bad"
"$IMAGE" run -t "$TAG" -- weft-agent --help | grep -q -- "--kubernetes" || fail "weft-agent --help"
"$IMAGE" run -t "$TAG" -- weft-agent ca --help | grep -q -- "--root-cert" || fail "weft-agent ca --help"
"$IMAGE" run -t "$TAG" -- weft-waypoint --help | grep -q "weft-waypoint" || fail "weft-waypoint --help"

echo "== tools/image save (docker-archive for kind/k3d)"
TMP=$(mktemp -d /tmp/weft-image-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$IMAGE" save -t "$TAG" "$TMP/weft.tar"
tar -xOf "$TMP/weft.tar" manifest.json | grep -q "\"$TAG\"" || fail "the archive's manifest.json does not name $TAG"
echo "image_test: ok ($TAG, $(du -h "$TMP/weft.tar" | cut -f1) archive)"
