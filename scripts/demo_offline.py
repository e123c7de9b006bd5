#!/usr/bin/env python3
"""Offline demo: every example pod through `gpushare mutate`, then `gpushare filter` and
`gpushare prioritize` against examples/nodes.json, exactly as kube-apiserver and
kube-scheduler would call the server. Prints one row per pod."""
import base64
import json
import pathlib
import subprocess
import sys
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "gpushare"
NODES = ROOT / "examples" / "nodes.json"


def run(cmd, payload):
    p = subprocess.run([str(BIN), cmd, "--nodes", str(NODES), "-"], input=json.dumps(payload).encode(),
                       capture_output=True, check=False)
    if p.returncode != 0:
        sys.exit(f"gpushare {cmd} failed ({p.returncode}): {p.stderr.decode().strip()}")
    return json.loads(p.stdout)


def apply_patch(obj, patch):
    """Minimal RFC 6902 add/remove for the demo's output (the tests use a strict applier)."""
    for op in patch:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        target = obj
        for p in parts[:-1]:
            target = target[int(p)] if isinstance(target, list) else target[p]
        last = parts[-1]
        if op["op"] == "remove":
            del target[int(last) if isinstance(target, list) else last]
        elif op["op"] in ("add", "replace"):
            target[last] = op["value"]
    return obj


def intent(pod):
    ann = pod["metadata"].get("annotations", {})
    return ", ".join(f"{k.split('/', 1)[1]}={v}" for k, v in ann.items() if k.startswith("gpushare.io/")) or "-"


def main():
    nodes = json.loads(NODES.read_text())
    names = [n["metadata"]["name"] for n in nodes["items"]]
    rows = [("POD", "INTENT", "RESOURCE", "NODE", "OUTCOME / REASON")]
    for path in sorted((ROOT / "examples" / "pods").glob("*.json")):
        pod = json.loads(path.read_text())
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "request": {"uid": str(uuid.uuid4()), "kind": {"group": "", "version": "v1", "kind": "Pod"},
                              "resource": {"group": "", "version": "v1", "resource": "pods"},
                              "namespace": "demo", "operation": "CREATE", "object": pod}}
        resp = run("mutate", review)["response"]
        name = pod["metadata"]["name"]
        asked = intent(pod)
        if not resp["allowed"]:
            rows.append((name, asked, "-", "-", "refused: " + resp["status"]["message"]))
            continue
        if "patch" in resp:
            pod = apply_patch(pod, json.loads(base64.b64decode(resp["patch"])))
        resource = pod["metadata"].get("annotations", {}).get("gpushare.io/assigned-resource")
        if resource is None:
            rows.append((name, asked, "nvidia.com/gpu", "-", "not gpushare's: left to the default scheduler"))
            continue
        args = {"Pod": pod, "Nodes": None, "NodeNames": names}
        filt = run("filter", args)
        passed = filt.get("NodeNames") or []
        if not passed:
            reasons = "; ".join(f"{n}: {r}" for n, r in {**filt.get("FailedNodes", {}),
                                                         **filt.get("FailedAndUnresolvableNodes", {})}.items())
            rows.append((name, asked, resource, "-", "pending: " + reasons))
            continue
        scores = run("prioritize", {"Pod": pod, "Nodes": None, "NodeNames": passed})
        best = max(scores, key=lambda s: (s["Score"], -passed.index(s["Host"])))
        why = f"best score {best['Score']} of {len(passed)} feasible" if len(passed) > 1 else "the only feasible node"
        rows.append((name, asked, resource, best["Host"], "scheduled: " + why))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])


if __name__ == "__main__":
    main()
