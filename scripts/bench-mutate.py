#!/usr/bin/env python3
"""POST /mutate side by side with the TLS floor (issue 13, item 1).

  scripts/bench-mutate.py [--binary build/gpushare] [--server-config YAML] [--rounds 5] [--seconds 8]
                          [--connections 8] [--rate 0]

Runs, back to back and interleaved for --rounds rounds, with the same certificate and the same
realistic ~10 KB pod AdmissionReview (gpushare.io/mode: mps, two containers, env, probes,
volumes):
  nginx   (Debian's nginx-light) answering every POST with a fixed body of the size of
          gpushare's answer: the floor for a TLS HTTP server on this machine;
  gpushare serve (no cluster);
  go-peer  a webhook on controller-runtime's admission package doing the same mapping
          (test/bench/webhook-peer, built into build/webhook-peer when Go is here; --no-peer
          leaves it out);
  with --baseline B, also B (another gpushare build) as gpushare-base.
Each server is pinned to CPU 0 and wrk (Debian's wrk, --connections keep-alive TLS
connections, one thread) to CPU 1. Prints per round and as medians (with min-max spread):
requests/s, p50/p99 latency at saturation, and server CPU per request (utime+stime of the
server process over the requests it answered). With --rate R it also runs a fixed rate of R
req/s per round (wrk2 is not in Debian, so a Lua pacer in wrk: each connection sends at R/conns
per second, --paced-connections of them) and reports p99 and the rate reached there; R=0 uses half
of gpushare's median saturation.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def review():
    env = [{"name": f"SETTING_{i:02d}", "value": f"value-{i:02d}-" + "x" * 24} for i in range(90)]
    container = {
        "name": "server", "image": "registry.example.com/ml/inference-server:2.41.0",
        "args": ["--model", "/models/llama", "--port", "8000", "--max-batch", "16"],
        "ports": [{"containerPort": 8000, "name": "http", "protocol": "TCP"}],
        "env": env,
        "resources": {"limits": {"nvidia.com/gpu": "1", "cpu": "4", "memory": "16Gi"},
                      "requests": {"nvidia.com/gpu": "1", "cpu": "2", "memory": "12Gi"}},
        "volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": True},
                         {"name": "cache", "mountPath": "/cache"},
                         {"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                          "readOnly": True}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": 8000}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/health", "port": 8000}, "periodSeconds": 10,
                          "failureThreshold": 6},
        "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    sidecar = {"name": "metrics", "image": "registry.example.com/ops/exporter:1.8.2",
               "env": env[:20], "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}}
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "generateName": "inference-7d9f8c6b5-", "namespace": "ml",
            "labels": {"app": "inference", "pod-template-hash": "7d9f8c6b5", "team": "search",
                       "app.kubernetes.io/name": "inference", "app.kubernetes.io/version": "2.41.0"},
            "annotations": {"gpushare.io/mode": "mps", "gpushare.io/gpu-memory": "8Gi",
                            "prometheus.io/scrape": "true", "prometheus.io/port": "9100",
                            "kubectl.kubernetes.io/restartedAt": "2026-12-01T10:00:00Z"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": "inference-7d9f8c6b5", "uid": "6c1e0a4e-9d7f-4f4e-8b1a-0c9c2f1d7e55",
                                 "controller": True, "blockOwnerDeletion": True}]},
        "spec": {
            "containers": [container, sidecar],
            "volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": "models"}},
                        {"name": "cache", "emptyDir": {"sizeLimit": "10Gi"}},
                        {"name": "kube-api-access-abcde", "projected": {"sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {"configMap": {"name": "kube-root-ca.crt",
                                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300},
                            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "schedulerName": "default-scheduler", "priority": 0,
            "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority"},
    }
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "request": {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                                   "kind": {"group": "", "version": "v1", "kind": "Pod"},
                                   "resource": {"group": "", "version": "v1", "resource": "pods"},
                                   "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
                                   "requestResource": {"group": "", "version": "v1", "resource": "pods"},
                                   "namespace": "ml", "operation": "CREATE",
                                   "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                                                "uid": "a1b2", "groups": ["system:serviceaccounts",
                                                                          "system:serviceaccounts:kube-system",
                                                                          "system:authenticated"]},
                                   "object": pod, "oldObject": None, "dryRun": False,
                                   "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}},
                      separators=(",", ":"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def wait_port(port):
    import socket
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))

    def ms(label):
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v = float(m.group(1))
        return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "total": total, "p50": ms("50%"), "p99": ms("99%"),
            "errors": int(errors.group(1)) if errors else 0, "socket": sock.group(1) if sock else ""}


WRK_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()
local rate = {rate}
local interval = 0
local owed = 0
function init(args) if rate > 0 then interval = 1000 * {conns} / rate end end
-- Exponential think times (the connections together send as a Poisson stream, as independent
-- clients do; equal ones line the connections up into bursts). wrk truncates a delay to whole
-- milliseconds; carrying the fraction over keeps the mean exact.
function delay()
  if interval == 0 then return 0 end
  owed = owed - math.log(1 - math.random()) * interval
  local ms = math.floor(owed)
  owed = owed - ms
  return ms
end
"""


def run_wrk(port, lua, conns, seconds):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency",
                          "-s", lua, f"https://127.0.0.1:{port}/mutate"],
                         check=True, capture_output=True, text=True).stdout
    return parse_wrk(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/gpushare")
    ap.add_argument("--server-config", action="append", default=[], metavar="YAML",
                    help="a line added to gpushare's config, e.g. 'limits: {workerThreads: 2}' "
                         "(repeatable)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--paced-connections", type=int, default=8,
                    help="connections of the fixed-rate runs: each waits rate/conns between its "
                         "requests, so that the think time, not the response, sets the pace")
    ap.add_argument("--baseline", help="another gpushare binary (e.g. the previous commit's) to run "
                                       "interleaved with the others, as gpushare-base")
    ap.add_argument("--peer", default="build/webhook-peer",
                    help="the Go controller-runtime peer; built from test/bench/webhook-peer if missing")
    ap.add_argument("--no-peer", action="store_true", help="leave the Go peer out")
    a = ap.parse_args()
    if not a.no_peer and not os.path.exists(a.peer):
        if not shutil.which("go"):
            sys.exit(f"{a.peer} is missing and Go is not here to build it: pass --no-peer")
        print(f"building {a.peer} (test/bench/webhook-peer) ...", flush=True)
        subprocess.run(["go", "build", "-trimpath", "-o", os.path.abspath(a.peer), "."],
                       cwd="test/bench/webhook-peer", check=True)
    for tool in ("nginx", "wrk", "taskset"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"{tool} not found: apt-get install nginx-light wrk")
    d = tempfile.mkdtemp(prefix="gpushare-bench-mutate-")
    subprocess.run([a.binary, "certs", "--service", "gpushare", "--namespace", "x", "--out", d,
                    "--ip", "127.0.0.1"], check=True, capture_output=True)
    body_path = os.path.join(d, "review.json")
    with open(body_path, "w") as f:
        f.write(review())
    answer = subprocess.run([a.binary, "mutate", body_path], check=True, capture_output=True,
                            text=True).stdout.strip()
    with open(os.path.join(d, "answer.json"), "w") as f:
        f.write(answer)

    gp_port, ng_port, peer_port = 18453, 18454, 18455
    with open(os.path.join(d, "config.yaml"), "w") as f:
        f.write(f'listen: "127.0.0.1:{gp_port}"\n'
                f"tls: {{certFile: {d}/tls.crt, keyFile: {d}/tls.key}}\nlog: {{level: warn}}\n"
                + "".join(line + "\n" for line in a.server_config))
    answer_conf = answer.replace("\\", "\\\\").replace("'", "\\'")
    if "$" in answer_conf:
        sys.exit("the answer holds '$', which nginx would read as a variable")
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
master_process off;
error_log {d}/nginx-error.log;
pid {d}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  keepalive_requests 1000000;
  client_max_body_size 3m;
  client_body_buffer_size 64k;
  server {{
    listen 127.0.0.1:{ng_port} ssl;
    ssl_certificate {d}/tls.crt;
    ssl_certificate_key {d}/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    default_type application/json;
    location / {{ return 200 '{answer_conf}'; }}
  }}
}}
""")
    saturate = os.path.join(d, "saturate.lua")
    with open(saturate, "w") as f:
        f.write(WRK_LUA.format(body=body_path, rate=0, conns=a.connections))

    servers = {
        "nginx": ["taskset", "-c", "0", "/usr/sbin/nginx", "-c", os.path.join(d, "nginx.conf")],
        "gpushare": ["taskset", "-c", "0", a.binary, "serve", "--config", os.path.join(d, "config.yaml")],
    }
    ports = {"nginx": ng_port, "gpushare": gp_port}
    if not a.no_peer:
        servers["go-peer"] = ["taskset", "-c", "0", a.peer, "--listen", f"127.0.0.1:{peer_port}",
                              "--cert", f"{d}/tls.crt", "--key", f"{d}/tls.key"]
        ports["go-peer"] = peer_port
    if a.baseline:
        servers["gpushare-base"] = ["taskset", "-c", "0", a.baseline, "serve", "--config",
                                    os.path.join(d, "config.yaml")]
        ports["gpushare-base"] = gp_port
    results = {name: [] for name in servers}
    fixed = []
    print(f"review {len(review())} B, answer {len(answer)} B; {a.rounds} rounds x {a.seconds} s, "
          f"wrk -t1 -c{a.connections} on CPU 1, servers on CPU 0")

    def measure(name, lua, conns=a.connections):
        proc = subprocess.Popen(servers[name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(ports[name])
            run_wrk(ports[name], lua, conns, 1)  # warm-up: handshakes, caches
            before = cpu_seconds(proc.pid)
            r = run_wrk(ports[name], lua, conns, a.seconds)
            r["cpu_us"] = (cpu_seconds(proc.pid) - before) * 1e6 / max(r["total"], 1)
            return r
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()

    for rnd in range(a.rounds):
        order = list(servers) if rnd % 2 == 0 else list(reversed(servers))
        for name in order:
            r = measure(name, saturate)
            results[name].append(r)
            print(f"round {rnd + 1} {name:9s} {r['rps']:9.0f} req/s  p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  "
                  f"server CPU {r['cpu_us']:6.1f} us/req  non-2xx {r['errors']} {r['socket']}")
    med = {n: {k: statistics.median(x[k] for x in rs) for k in ("rps", "p50", "p99", "cpu_us")}
           for n, rs in results.items()}
    print("\nmedians (min-max):")
    for n, rs in results.items():
        spread = f"{min(x['rps'] for x in rs):.0f}-{max(x['rps'] for x in rs):.0f}"
        print(f"  {n:9s} {med[n]['rps']:9.0f} req/s ({spread})  p50 {med[n]['p50']:.2f} ms  "
              f"p99 {med[n]['p99']:.2f} ms  server CPU {med[n]['cpu_us']:.1f} us/req")
    print(f"  gpushare / nginx: {med['gpushare']['rps'] / med['nginx']['rps']:.3f}x req/s, "
          f"{med['gpushare']['cpu_us'] / med['nginx']['cpu_us']:.1f}x CPU per request")
    if not a.no_peer:
        print(f"  gpushare / go-peer: {med['gpushare']['rps'] / med['go-peer']['rps']:.2f}x req/s, "
              f"{med['gpushare']['cpu_us'] / med['go-peer']['cpu_us']:.3f}x CPU per request")
    if a.baseline:
        print(f"  gpushare / gpushare-base: {med['gpushare']['rps'] / med['gpushare-base']['rps']:.2f}x req/s, "
              f"{med['gpushare']['cpu_us'] / med['gpushare-base']['cpu_us']:.2f}x CPU per request")

    rate = a.rate or int(med["gpushare"]["rps"] / 2)
    paced = os.path.join(d, "paced.lua")

    def pace(asked):
        with open(paced, "w") as f:
            f.write(WRK_LUA.format(body=body_path, rate=asked, conns=a.paced_connections))

    # The pacer waits after each answer, so the response time slows it down: calibrate the rate
    # it is asked for until the rate it reaches is within 3% of the target.
    asked = rate
    for _ in range(4):
        pace(asked)
        got = measure("gpushare", paced, a.paced_connections)["rps"]
        if abs(got - rate) <= 0.03 * rate:
            break
        asked = int(asked * rate / max(got, 1))
    print(f"fixed rate {rate}/s: the pacer is asked for {asked}/s over {a.paced_connections} connections")
    for rnd in range(a.rounds):
        r = measure("gpushare", paced, a.paced_connections)
        fixed.append(r)
        print(f"fixed rate {rate}/s, round {rnd + 1}: got {r['rps']:.0f} req/s  p50 {r['p50']:.2f} ms  "
              f"p99 {r['p99']:.2f} ms")
    print(f"gpushare at {rate} req/s (half its saturation; reached "
          f"{statistics.median(x['rps'] for x in fixed):.0f}/s): p99 median "
          f"{statistics.median(x['p99'] for x in fixed):.2f} ms "
          f"({min(x['p99'] for x in fixed):.2f}-{max(x['p99'] for x in fixed):.2f})")
    bad = sum(x["errors"] for rs in results.values() for x in rs) + sum(x["errors"] for x in fixed)
    shutil.rmtree(d, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
