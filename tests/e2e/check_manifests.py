#!/usr/bin/python3
"""check_manifests.py - the Kubernetes manifests of deploy/kubernetes/ cannot rot.

    check_manifests.py MANIFEST_DIR HELP_DIR

HELP_DIR holds the --help output of each binary as <binary>.help (rdial-server.help, ...).
Checks, with Debian's python3-yaml:
  - every *.yaml is well-formed YAML whose documents are objects of the expected kinds and
    API versions, named, in the rdial namespace;
  - the set is complete: Namespace, Secret, a headless Service (peer discovery, not-ready
    addresses published), a normal Service, the rdial-server Deployment, its
    PodDisruptionBudget, an example client Deployment;
  - selectors match the pod labels they mean; probe and Service ports name container ports;
  - the server uses -peers-dns NAME:PORT naming the headless Service and its port, readiness
    on /readyz, liveness on /healthz, and has resource requests;
  - every rdial flag (args) and RDIAL_* variable (env) a container uses exists in that
    binary's --help; every Secret key referenced exists.
Prints one line per problem and exits 1 if there is any; prints a summary and exits 0 else.
"""
import os
import re
import sys

import yaml

KINDS = {
    ("v1", "Namespace"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("policy/v1", "PodDisruptionBudget"),
}
NAMESPACE = "rdial"
problems = []


def bad(msg):
    problems.append(msg)


def load(mdir):
    docs = []
    files = sorted(f for f in os.listdir(mdir) if f.endswith((".yaml", ".yml")))
    if not files:
        bad("no YAML files in %s" % mdir)
    for f in files:
        path = os.path.join(mdir, f)
        try:
            with open(path) as fh:
                found = [d for d in yaml.safe_load_all(fh) if d is not None]
        except yaml.YAMLError as e:
            bad("%s: not well-formed YAML: %s" % (f, e))
            continue
        if not found:
            bad("%s: no document" % f)
        for d in found:
            docs.append((f, d))
    return docs


def check_doc(f, d):
    if not isinstance(d, dict):
        bad("%s: a document is not an object" % f)
        return False
    key = (d.get("apiVersion"), d.get("kind"))
    if key not in KINDS:
        bad("%s: unexpected apiVersion/kind %s/%s" % (f, key[0], key[1]))
        return False
    meta = d.get("metadata") or {}
    if not meta.get("name"):
        bad("%s: %s without metadata.name" % (f, key[1]))
        return False
    if key[1] == "Namespace":
        if meta["name"] != NAMESPACE:
            bad("%s: namespace %s, want %s" % (f, meta["name"], NAMESPACE))
    elif meta.get("namespace") != NAMESPACE:
        bad("%s: %s/%s not in namespace %s" % (f, key[1], meta["name"], NAMESPACE))
    return True


def read_help(hdir):
    """binary -> (set of flag names, set of RDIAL_* names)"""
    out = {}
    for f in os.listdir(hdir):
        if not f.endswith(".help"):
            continue
        text = open(os.path.join(hdir, f)).read()
        flags = set(re.findall(r"^  -([a-z0-9][a-z0-9-]*)", text, re.M))
        envs = set(re.findall(r"env (RDIAL_[A-Z0-9_]+)", text))
        out[f[: -len(".help")]] = (flags, envs)
    return out


def labels_match(selector, labels, what):
    for k, v in (selector or {}).items():
        if labels.get(k) != v:
            bad("%s: selector %s=%s matches no pod label" % (what, k, v))
            return False
    if not selector:
        bad("%s: empty selector" % what)
        return False
    return True


def check_container(where, c, helps, secrets):
    cmd = c.get("command") or []
    if not cmd:
        bad("%s: no command (the image runs the binary named there)" % where)
        return
    binary = os.path.basename(cmd[0])
    if binary not in helps:
        bad("%s: command %s is not an rdial binary" % (where, cmd[0]))
        return
    flags, envs = helps[binary]
    args = [str(a) for a in (c.get("args") or [])] + [str(a) for a in cmd[1:]]
    for a in args:
        if a.startswith("-") and not re.match(r"^-?\d", a):
            name = a.lstrip("-").split("=", 1)[0]
            if name not in flags:
                bad("%s: %s has no flag -%s (see %s --help)" % (where, binary, name, binary))
    for e in c.get("env") or []:
        n = e.get("name", "")
        if n.startswith("RDIAL_") and n not in envs:
            bad("%s: %s reads no variable %s" % (where, binary, n))
        ref = ((e.get("valueFrom") or {}).get("secretKeyRef")) or None
        if ref and ref.get("key") not in secrets.get(ref.get("name"), set()):
            bad("%s: env %s: no key %s in Secret %s" % (where, n, ref.get("key"), ref.get("name")))


def ports_of(c):
    return {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}


def arg_value(c, flag):
    args = [str(a) for a in c.get("args") or []]
    for i, a in enumerate(args):
        if a in ("-" + flag, "--" + flag) and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("-" + flag + "=") or a.startswith("--" + flag + "="):
            return a.split("=", 1)[1]
    return None


def check_server(dep, services, pdbs, secrets):
    name = dep["metadata"]["name"]
    tmpl = dep["spec"]["template"]
    labels = tmpl["metadata"].get("labels") or {}
    labels_match(dep["spec"]["selector"].get("matchLabels"), labels, "Deployment " + name)
    c = tmpl["spec"]["containers"][0]
    ports = ports_of(c)
    headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
    normal = [s for s in services if s["spec"].get("clusterIP") != "None"]
    if not headless:
        bad("no headless Service (clusterIP: None) for peer discovery")
    if not normal:
        bad("no normal Service for the main port")
    for s in services:
        labels_match(s["spec"].get("selector"), labels, "Service " + s["metadata"]["name"])
        for p in s["spec"].get("ports") or []:
            if p.get("targetPort") not in ports and p.get("targetPort") not in ports.values():
                bad("Service %s: targetPort %s is not a port of %s" % (
                    s["metadata"]["name"], p.get("targetPort"), name))
    for h in headless:
        if not h["spec"].get("publishNotReadyAddresses"):
            bad("Service %s: publishNotReadyAddresses should be true (peers find a starting "
                "replica before it is ready)" % h["metadata"]["name"])
    pd = arg_value(c, "peers-dns")
    if pd is None:
        bad("Deployment %s: no -peers-dns" % name)
    elif headless:
        host, _, port = pd.rpartition(":")
        h = headless[0]
        if host.split(".")[0] != h["metadata"]["name"]:
            bad("-peers-dns %s does not name the headless Service %s" % (pd, h["metadata"]["name"]))
        if not any(str(p.get("port")) == port for p in h["spec"].get("ports") or []):
            bad("-peers-dns %s: port %s is not a port of Service %s" % (pd, port, h["metadata"]["name"]))
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        g = ((c.get(probe) or {}).get("httpGet")) or {}
        if g.get("path") != path:
            bad("Deployment %s: %s should GET %s" % (name, probe, path))
        if g.get("port") not in ports and g.get("port") not in ports.values():
            bad("Deployment %s: %s port %s is not a container port" % (name, probe, g.get("port")))
    req = ((c.get("resources") or {}).get("requests")) or {}
    if "memory" not in req or "cpu" not in req:
        bad("Deployment %s: resource requests for memory and cpu" % name)
    if not [p for p in pdbs if labels_match(p["spec"].get("selector", {}).get("matchLabels"),
                                            labels, "PodDisruptionBudget " + p["metadata"]["name"])]:
        bad("no PodDisruptionBudget for %s" % name)
    env = {e["name"] for e in c.get("env") or []}
    if "RDIAL_TOKEN" not in env or "RDIAL_ID" not in env:
        bad("Deployment %s: RDIAL_ID and RDIAL_TOKEN (the -peers-dns group) must be set" % name)


def main():
    mdir, hdir = sys.argv[1], sys.argv[2]
    helps = read_help(hdir)
    docs = load(mdir)
    good = [(f, d) for f, d in docs if check_doc(f, d)]
    kinds = {}
    for f, d in good:
        kinds.setdefault(d["kind"], []).append(d)
    for k in ("Namespace", "Secret", "Service", "Deployment", "PodDisruptionBudget"):
        if k not in kinds:
            bad("no %s" % k)
    secrets = {}
    for s in kinds.get("Secret", []):
        secrets[s["metadata"]["name"]] = set((s.get("stringData") or {}).keys()) | set(
            (s.get("data") or {}).keys())
    servers, clients = [], []
    for dep in kinds.get("Deployment", []):
        spec = dep["spec"]["template"]["spec"]
        for c in spec.get("containers") or []:
            check_container("Deployment %s, container %s" % (dep["metadata"]["name"], c.get("name")),
                            c, helps, secrets)
        for v in spec.get("volumes") or []:
            sec = v.get("secret")
            if sec:
                for it in sec.get("items") or []:
                    if it.get("key") not in secrets.get(sec.get("secretName"), set()):
                        bad("Deployment %s: volume %s: no key %s in Secret %s" % (
                            dep["metadata"]["name"], v.get("name"), it.get("key"), sec.get("secretName")))
        cmd0 = os.path.basename(((spec.get("containers") or [{}])[0].get("command") or [""])[0])
        (servers if cmd0 == "rdial-server" else clients).append(dep)
        labels_match(dep["spec"]["selector"].get("matchLabels"),
                     dep["spec"]["template"]["metadata"].get("labels") or {},
                     "Deployment " + dep["metadata"]["name"])
    if len(servers) != 1:
        bad("want one rdial-server Deployment, found %d" % len(servers))
    else:
        check_server(servers[0], kinds.get("Service", []), kinds.get("PodDisruptionBudget", []), secrets)
    if not [d for d in clients if any(os.path.basename((c.get("command") or [""])[0]) == "rdial-client"
                                      for c in d["spec"]["template"]["spec"]["containers"])]:
        bad("no example rdial-client Deployment")
    normal = [s["metadata"]["name"] for s in kinds.get("Service", []) if s["spec"].get("clusterIP") != "None"]
    for d in clients:
        for c in d["spec"]["template"]["spec"]["containers"]:
            url = arg_value(c, "connect")
            if url and not re.match(r"^wss?://(%s)(\.[a-z0-9.-]+)?:\d+/connect$" % "|".join(map(re.escape, normal)), url):
                bad("Deployment %s: -connect %s does not name the Service %s" % (
                    d["metadata"]["name"], url, "/".join(normal)))
    for p in problems:
        print("manifests: " + p)
    if problems:
        return 1
    print("manifests: %d files, %d objects (%s), flags checked against %s" % (
        len({f for f, _ in docs}), len(good),
        ", ".join("%d %s" % (len(v), k) for k, v in sorted(kinds.items())),
        ", ".join(sorted(helps))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
