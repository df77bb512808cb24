#!/usr/bin/env python3
"""Compares the objects of `kubectl kustomize deploy/` with those of `helm template
deploy/charts/weft` (tests/deploy/render_test.sh) and checks the RBAC rules weft promises.

  compare_manifests.py KUSTOMIZE.yaml HELM.yaml   the same objects, field for field
  compare_manifests.py --args HELM.yaml KIND/NAME ARG...
                                                  that container's args include each ARG
  compare_manifests.py --no-args HELM.yaml KIND/NAME ARG...
                                                  ... and include none of them

The same objects: equal (kind, namespace, name) sets but for the Namespace weft-system, which
the chart leaves to `helm install --create-namespace`; each object equal as a whole once the
labels only Helm adds (app.kubernetes.io/managed-by, helm.sh/chart) are removed. That covers
the CRDs byte for byte, the DaemonSet's and CA's pod specs (image, command, args, env,
volumes, securityContext, hostNetwork, probes, resources), and every RBAC rule. Then in each
rendering: the agent's roles grant nothing on Secrets (nor a wildcard), the CA may read only
the Secret weft-ca-root. Exits 1 with the differences, one per line.
"""
import sys

import yaml

HELM_ONLY_LABELS = ("app.kubernetes.io/managed-by", "helm.sh/chart")
NAMESPACE = "weft-system"


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def key(obj):
    md = obj.get("metadata", {})
    return (obj.get("kind"), md.get("namespace", ""), md.get("name"))


def strip_helm(obj):
    labels = obj.get("metadata", {}).get("labels")
    if labels:
        for k in HELM_ONLY_LABELS:
            labels.pop(k, None)
    return obj


def diff(a, b, path, out):
    """Appends to out one line per difference between a and b."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a:
                out.append(f"{path}.{k}: only in helm: {b[k]!r:.200}")
            elif k not in b:
                out.append(f"{path}.{k}: only in kustomize: {a[k]!r:.200}")
            else:
                diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: kustomize {a!r:.200} != helm {b!r:.200}")


def subjects_of(objs, kind, name):
    """Rules of the roles bound to ServiceAccount weft-system/name."""
    roles = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
             for o in objs if o.get("kind") in ("Role", "ClusterRole")}
    rules = []
    for o in objs:
        if o.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == name and
                   s.get("namespace") == NAMESPACE for s in o.get("subjects", [])):
            continue
        ref = o["roleRef"]
        ns = o["metadata"].get("namespace", "") if ref["kind"] == "Role" else ""
        role = roles.get((ref["kind"], ns, ref["name"]))
        if role is None:
            raise SystemExit(f"{kind}: {o['kind']} {o['metadata']['name']} refers to missing "
                             f"{ref['kind']} {ref['name']}")
        rules += [(role["kind"], role["metadata"]["name"], r) for r in role.get("rules", [])]
    return rules


def check_rbac(objs, what):
    errors = []
    agent = subjects_of(objs, what, "weft-agent")
    if not agent:
        errors.append(f"{what}: no role bound to ServiceAccount weft-agent")
    for kind, name, r in agent:
        groups, resources = r.get("apiGroups", []), r.get("resources", [])
        if "*" in r.get("verbs", []) or "*" in groups or "*" in resources:
            errors.append(f"{what}: {kind} {name} bound to weft-agent has a wildcard: {r}")
        if "" in groups and any(x == "secrets" or x.startswith("secrets/") for x in resources):
            errors.append(f"{what}: {kind} {name} lets weft-agent at Secrets: {r}")
        if set(r.get("verbs", [])) - {"get", "list", "watch"}:
            errors.append(f"{what}: {kind} {name} lets weft-agent write: {r}")
    ca = subjects_of(objs, what, "weft-ca")
    for kind, name, r in ca:
        if "*" in r.get("verbs", []) or "*" in r.get("apiGroups", []) or "*" in r.get("resources", []):
            errors.append(f"{what}: {kind} {name} bound to weft-ca has a wildcard: {r}")
        if "" in r.get("apiGroups", []) and "secrets" in r.get("resources", []):
            if kind != "Role" or r.get("resourceNames") != ["weft-ca-root"] or r.get("verbs") != ["get"]:
                errors.append(f"{what}: weft-ca may do more than get Secret weft-ca-root: {kind} {name} {r}")
    return errors


def compare(kustomize_path, helm_path):
    k = {key(o): o for o in load(kustomize_path)}
    h = {key(o): strip_helm(o) for o in load(helm_path)}
    errors = []
    ns_key = ("Namespace", "", NAMESPACE)
    if ns_key not in k:
        errors.append("kustomize: no Namespace weft-system")
    if ns_key in h:
        errors.append("helm: renders the Namespace (helm install --create-namespace makes it)")
    k.pop(ns_key, None)
    for x in sorted(set(k) - set(h), key=str):
        errors.append(f"only in kustomize: {x}")
    for x in sorted(set(h) - set(k), key=str):
        errors.append(f"only in helm: {x}")
    for x in sorted(set(k) & set(h), key=str):
        out = []
        diff(k[x], h[x], "", out)
        errors += [f"{x[0]} {x[1]}/{x[2]}: {line}" for line in out]
    for what, objs in (("kustomize", list(k.values())), ("helm", list(h.values()))):
        errors += check_rbac(objs, what)
        kinds = {o["kind"] for o in objs}
        for must in ("DaemonSet", "Deployment", "CustomResourceDefinition", "ClusterRole"):
            if must not in kinds:
                errors.append(f"{what}: no {must}")
    return errors, len(k)


def container_args(path, ref):
    kind, name = ref.split("/")
    for o in load(path):
        if o.get("kind") == kind and o["metadata"]["name"] == name:
            return o["spec"]["template"]["spec"]["containers"][0].get("args", [])
    raise SystemExit(f"{path}: no {ref}")


def main(argv):
    if len(argv) >= 4 and argv[1] in ("--args", "--no-args"):
        args = container_args(argv[2], argv[3])
        want = argv[1] == "--args"
        bad = [a for a in argv[4:] if (a in args) != want]
        if bad:
            print(f"{argv[3]} args {args}: {'missing' if want else 'unexpected'} {bad}")
            return 1
        return 0
    if len(argv) != 3:
        print(__doc__)
        return 2
    errors, n = compare(argv[1], argv[2])
    for e in errors:
        print(e)
    if errors:
        return 1
    print(f"compare_manifests: {n} objects equal in kustomize and helm; RBAC checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
