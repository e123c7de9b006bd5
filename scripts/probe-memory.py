#!/usr/bin/env python3
"""Memory of `gpushare serve` under large and many admission reviews (issue 11, item 3).

  scripts/probe-memory.py [--binary build/gpushare] [--large 40] [--small 20000]
                          [--size-mb 2.5] [--clients 4]

Starts gpushare serve on 127.0.0.1 with fresh certificates (no cluster), then sends, over
keep-alive TLS connections from --clients threads: --large valid AdmissionReviews of about
--size-mb each (a pod with one large annotation, under the 3 MiB body limit), then --small
reviews of a few KB. Prints the server's RSS (VmRSS, and VmHWM for the peak) idle, after the
large ones, and after the small ones. Exits 1 if a request fails.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time


def review(annotation_bytes, many=True):
    # Many small annotations (as env vars, labels and managedFields make a real large pod):
    # thousands of small allocations per request, the case that fragments malloc's arenas.
    filler = ({f"example.com/key-{i:06d}": "v" * 48 for i in range(annotation_bytes // 80)}
              if many else {"filler": "x" * annotation_bytes})
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "namespace": "ml",
                        "annotations": {"gpushare.io/mode": "mps", **filler}},
           "spec": {"containers": [{"name": "main", "image": "busybox",
                                    "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "request": {"uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                                   "resource": {"group": "", "version": "v1", "resource": "pods"},
                                   "namespace": "ml", "operation": "CREATE", "object": pod}}).encode()


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) // 1024
    return out


def send(port, ctx, body, n):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=60)
    for _ in range(n):
        conn.request("POST", "/mutate", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"status {r.status}")
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/gpushare")
    ap.add_argument("--large", type=int, default=40)
    ap.add_argument("--small", type=int, default=20000)
    ap.add_argument("--size-mb", type=float, default=2.5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--port", type=int, default=18443)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="gpushare-probe-")
    subprocess.run([a.binary, "certs", "--service", "gpushare", "--namespace", "x", "--out", d,
                    "--ip", "127.0.0.1"], check=True, capture_output=True)
    cfg = os.path.join(d, "config.yaml")
    with open(cfg, "w") as f:
        f.write(f'listen: "127.0.0.1:{a.port}"\n'
                f"tls: {{certFile: {d}/tls.crt, keyFile: {d}/tls.key}}\nlog: {{level: warn}}\n")
    server = subprocess.Popen([a.binary, "serve", "--config", cfg], stderr=subprocess.DEVNULL)
    try:
        ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
        ctx.check_hostname = False
        for _ in range(100):
            try:
                send(a.port, ctx, review(10), 1)
                break
            except OSError:
                time.sleep(0.1)
        idle = rss(server.pid)
        big = review(int(a.size_mb * 1024 * 1024))
        per = max(1, a.large // a.clients)
        with concurrent.futures.ThreadPoolExecutor(a.clients) as pool:
            list(pool.map(lambda _: send(a.port, ctx, big, per), range(a.clients)))
        after_large = rss(server.pid)
        small = review(2000)
        per = max(1, a.small // a.clients)
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(a.clients) as pool:
            list(pool.map(lambda _: send(a.port, ctx, small, per), range(a.clients)))
        after_small = rss(server.pid)
        print(f"body {len(big) / 1e6:.2f} MB x {a.large}, then {a.small} x {len(small)} B, "
              f"{a.clients} keep-alive clients")
        print(f"RSS idle {idle['VmRSS']} MB | after large {after_large['VmRSS']} MB "
              f"(peak {after_large['VmHWM']} MB) | after small {after_small['VmRSS']} MB "
              f"({a.small / (time.time() - t0):.0f} req/s)")
    finally:
        server.terminate()
        server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
