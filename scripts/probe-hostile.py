#!/usr/bin/env python3
"""The front door against hostile and careless clients (issue 11, item 10): one line per attack.

  scripts/probe-hostile.py [--binary build/gpushare] [--hold 60] [--trickle 1000] [--silent 1000]
                           [--server-cpu 0] [--client-cpu 1]

Starts `gpushare serve` on 127.0.0.1 with fresh certificates (no cluster), pinned to
--server-cpu; the attackers and the measuring client run on --client-cpu (the attackers niced,
so that the measurement is not starved by them on a 2-core machine). Then:

  baseline   fresh-connection GET /healthz and POST /mutate, one every 20 ms, no attack
  slow+idle  the same while --trickle TLS connections send a request head at 1 byte/s and
             --silent TCP connections never send a ClientHello, for --hold seconds (each one
             the server closes is opened again at once, so the pressure stays)
  deadline   how long one trickling connection is kept (limits.readHeaderTimeout)
  chunked    a 100 MiB chunked body to /mutate: the status, the bytes the server took, its RSS
  pipelined  3 requests in one write: how many answers come back
  tls        TLS 1.2 with a CBC suite (refused) and with an AEAD suite (accepted)

A fresh call "fails" when it gets no 200 within 5 s. Exits 1 when the slow+idle p99 is not
under 50 ms or a fresh call failed under attack (the issue's target).
"""
import argparse
import asyncio
import multiprocessing
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

REVIEW = (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",'
          b'"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1",'
          b'"resource":"pods"},"namespace":"ml","operation":"CREATE","object":{"apiVersion":"v1",'
          b'"kind":"Pod","metadata":{"name":"p","namespace":"ml","annotations":'
          b'{"gpushare.io/mode":"mps"}},"spec":{"containers":[{"name":"c","image":"x","resources":'
          b'{"limits":{"nvidia.com/gpu":"1"}}}]}}}}')
HEAD = b"GET /healthz HTTP/1.1\r\nHost: gpushare\r\nUser-Agent: trickle\r\nAccept: */*\r\n\r\n"


def client_ctx(cafile=None):
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not cafile:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return None, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(head.split()[1]), rest[length:]


def fresh_call(port, ctx, path):
    """One request on a new connection; (status, seconds) or (None, seconds)."""
    start = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="gpushare") as s:
                if path == "/mutate":
                    s.sendall(b"POST /mutate HTTP/1.1\r\nHost: gpushare\r\nContent-Type: application/json\r\n"
                              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(REVIEW) + REVIEW)
                else:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: gpushare\r\nConnection: close\r\n\r\n")
                status, _ = read_response(s)
    except OSError:
        status = None
    return status, time.perf_counter() - start


def measure(port, ctx, seconds):
    """Fresh /healthz and /mutate alternately every 20 ms for `seconds`: latencies, failures."""
    lat, failed = [], 0
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        status, t = fresh_call(port, ctx, "/mutate" if i % 2 else "/healthz")
        i += 1
        if status != 200:
            failed += 1
        else:
            lat.append(t)
        time.sleep(0.02)
    return lat, failed


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def summary(lat, failed):
    return (f"{len(lat) + failed} calls, {failed} failed, p50 {pct(lat, 50) * 1000:.1f} ms, "
            f"p99 {pct(lat, 99) * 1000:.1f} ms, max {max(lat) * 1000 if lat else float('nan'):.1f} ms")


# ---- the attackers (a process of their own) ------------------------------------------------------

async def trickler(port, ctx, stats):
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                           server_hostname="gpushare")
            stats["trickle_connected"] += 1
            for b in HEAD[:-4]:  # never the end of the head
                writer.write(bytes([b]))
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(1), timeout=1.0)
                    if not data:  # closed by the server
                        break
                except asyncio.TimeoutError:
                    pass
            writer.close()
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            await asyncio.sleep(0.1)


async def silent(port, stats):
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            stats["silent_connected"] += 1
            await reader.read(1)  # returns when the server closes it
            writer.close()
        except OSError:
            await asyncio.sleep(0.1)


async def attack(port, trickle, silent_n, seconds, ready):
    stats = {"trickle_connected": 0, "silent_connected": 0}
    ctx = client_ctx()
    tasks = [asyncio.create_task(trickler(port, ctx, stats)) for _ in range(trickle)]
    tasks += [asyncio.create_task(silent(port, stats)) for _ in range(silent_n)]
    while stats["trickle_connected"] < trickle or stats["silent_connected"] < silent_n:
        await asyncio.sleep(0.1)
    ready.set()
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()
    return stats


def attacker_main(port, trickle, silent_n, seconds, ready, out):
    os.nice(10)
    stats = asyncio.run(attack(port, trickle, silent_n, seconds, ready))
    out.put(stats)


# ---- the probe ----------------------------------------------------------------------------------

def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def head_deadline(port, ctx):
    """Seconds one connection trickling 1 byte per 0.5 s is kept."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="gpushare") as s:
            s.settimeout(0.5)
            for b in (HEAD[:-4] * 20):
                try:
                    s.sendall(bytes([b]))
                    if s.recv(1) == b"":
                        break
                except socket.timeout:
                    continue
                except OSError:
                    break
    return time.monotonic() - start


def chunked_flood(port, ctx, pid, mib=100):
    sent, status, peak = 0, None, 0.0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="gpushare") as s:
            s.sendall(b"POST /mutate HTTP/1.1\r\nHost: gpushare\r\nContent-Type: application/json\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n" % 65536 + b" " * 65536 + b"\r\n"
            try:
                for _ in range(mib * 16):
                    s.sendall(chunk)
                    sent += 65536
                    peak = max(peak, rss_mb(pid))
            except OSError:
                pass
            try:
                status, _ = read_response(s)
            except OSError:
                pass
    return status, sent, peak


def pipelined(port, ctx):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="gpushare") as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: g\r\n\r\n" * 2 +
                      b"POST /mutate HTTP/1.1\r\nHost: g\r\nContent-Length: %d\r\n\r\n" % len(REVIEW) + REVIEW)
            answers, buf = [], b""
            s.settimeout(2)
            try:
                while len(answers) < 3:
                    data = s.recv(65536)
                    if not data:
                        break
                    buf += data
                    while b"\r\n\r\n" in buf:
                        head, _, rest = buf.partition(b"\r\n\r\n")
                        length = next((int(l.split(b":")[1]) for l in head.split(b"\r\n")
                                       if l.lower().startswith(b"content-length")), 0)
                        if len(rest) < length:
                            break
                        answers.append(int(head.split()[1]))
                        buf = rest[length:]
            except socket.timeout:
                pass
    return answers


def tls12(port, cipher):
    ctx = client_ctx()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(cipher)
    try:
        status, _ = fresh_call(port, ctx, "/healthz")
        return status == 200
    except ssl.SSLError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="build/gpushare")
    ap.add_argument("--hold", type=float, default=60)
    ap.add_argument("--trickle", type=int, default=1000)
    ap.add_argument("--silent", type=int, default=1000)
    ap.add_argument("--baseline", type=float, default=10, help="seconds of measurement without attack")
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--client-cpu", default="1")
    ap.add_argument("--port", type=int, default=18444)
    a = ap.parse_args()

    os.sched_setaffinity(0, {int(c) for c in a.client_cpu.split(",")})
    d = tempfile.mkdtemp(prefix="gpushare-hostile-")
    subprocess.run([a.binary, "certs", "--service", "gpushare", "--namespace", "x", "--out", d,
                    "--ip", "127.0.0.1"], check=True, capture_output=True)
    cfg = os.path.join(d, "config.yaml")
    with open(cfg, "w") as f:
        f.write(f'listen: "127.0.0.1:{a.port}"\n'
                f"tls: {{certFile: {d}/tls.crt, keyFile: {d}/tls.key}}\nlog: {{level: error}}\n")
    server = subprocess.Popen(["taskset", "-c", a.server_cpu, a.binary, "serve", "--config", cfg],
                              stderr=subprocess.DEVNULL)
    ok = True
    try:
        ctx = client_ctx(os.path.join(d, "ca.crt"))
        for _ in range(100):
            if fresh_call(a.port, ctx, "/healthz")[0] == 200:
                break
            time.sleep(0.05)
        print(f"server: pid {server.pid} on cpu {a.server_cpu}, probe on cpu {a.client_cpu}; "
              f"idle RSS {rss_mb(server.pid):.0f} MB")

        lat, failed = measure(a.port, ctx, a.baseline)
        print(f"baseline   {summary(lat, failed)}")

        ready, out = multiprocessing.Event(), multiprocessing.Queue()
        attacker = multiprocessing.Process(target=attacker_main,
                                           args=(a.port, a.trickle, a.silent, a.hold, ready, out))
        attacker.start()
        if not ready.wait(120):
            print("slow+idle  the attackers could not open their connections in 120 s")
            ok = False
        else:
            lat, failed = measure(a.port, ctx, a.hold)
            peak = rss_mb(server.pid)
            attacker.join(a.hold + 60)
            stats = out.get(timeout=10) if not out.empty() else {}
            print(f"slow+idle  {summary(lat, failed)}; {a.trickle} trickling + {a.silent} silent held "
                  f"({stats.get('trickle_connected', '?')} + {stats.get('silent_connected', '?')} "
                  f"connections opened in all); RSS {peak:.0f} MB")
            ok = ok and failed == 0 and pct(lat, 99) < 0.050
        attacker.kill()

        print(f"deadline   one connection trickling its head 2 bytes/s was kept "
              f"{head_deadline(a.port, ctx):.1f} s (limits.readHeaderTimeout)")
        status, sent, peak = chunked_flood(a.port, ctx, server.pid)
        print(f"chunked    100 MiB chunked body: status {status} after {sent / 2**20:.1f} MiB sent "
              f"(socket buffers included); server RSS peak {peak:.0f} MB")
        answers = pipelined(a.port, ctx)
        print(f"pipelined  3 requests in one write: {len(answers)} answered {answers}")
        print(f"tls        TLS 1.2 ECDHE-RSA/ECDSA-AES256-SHA384 (CBC) accepted: "
              f"{tls12(a.port, 'ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384')}; "
              f"ECDHE-ECDSA-AES128-GCM-SHA256 accepted: {tls12(a.port, 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256')}")
        print(f"server     RSS at the end {rss_mb(server.pid):.0f} MB; still answering: "
              f"{fresh_call(a.port, ctx, '/healthz')[0] == 200}")
    finally:
        server.terminate()
        server.wait(10)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
