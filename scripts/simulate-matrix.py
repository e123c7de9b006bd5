#!/usr/bin/env python3
"""The repartitioning matrix BENCHMARKS.md records (issue 9): `gpushare simulate` for each cluster
size, load and mix, on the same seeds for every policy, medians over the seeds.

  scripts/simulate-matrix.py [--nodes 20,200] [--loads 0.5,0.8,1.0]
                             [--mixes default,balanced,shifting] [--seeds 1,2,3] [--hours 8]
                             [--jobs N] [--binary build/gpushare]

Prints one markdown table per cluster size and, per row, whether on-demand met the bar: never
more pods waiting at the end and never a larger share waiting > 5 min than static or greedy, and
at load 0.8 a mean wait at least 30% below static's. Exits 1 when a row misses it (so a CI smoke
can run a small matrix).
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys


def run(binary, nodes, load, mix, seeds, hours):
    out = subprocess.run(
        [binary, "simulate", "--cluster", str(nodes), "--load", str(load), "--mix", mix,
         "--seed", seeds, "--hours", str(hours), "--json"],
        check=True, capture_output=True, text=True).stdout
    doc = json.loads(out)
    return (nodes, load, mix), {p["policy"]: p for p in doc["policies"]}


def minutes(s):
    return f"{s / 60:.1f}m"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", default="20,200")
    ap.add_argument("--loads", default="0.5,0.8,1.0")
    ap.add_argument("--mixes", default="default,balanced,shifting")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--hours", default="8")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--binary", default=os.environ.get("GPUSHARE", "build/gpushare"))
    a = ap.parse_args()
    configs = [(int(n), float(l), m) for n in a.nodes.split(",") for l in a.loads.split(",")
               for m in a.mixes.split(",")]
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futures = [pool.submit(run, a.binary, n, l, m, a.seeds, a.hours) for n, l, m in configs]
        for f in futures:
            key, value = f.result()
            results[key] = value
    failed = 0
    for nodes in sorted({c[0] for c in configs}):
        print(f"\n{nodes} nodes x 8 GPUs, {a.hours} h, seeds {a.seeds} (medians)\n")
        print("| load | mix | policy | waiting at end | waited > 5 min | wait mean | wait p95 "
              "| GPU allocated | reconfigs | planner p99 | bar |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for (n, load, mix) in configs:
            if n != nodes:
                continue
            r = results[(n, load, mix)]
            med = {p: r[p]["median"] for p in r}
            verdict = ""
            if {"static", "on-demand", "greedy"} <= set(med):
                od = med["on-demand"]
                misses = []
                for other in ("static", "greedy"):
                    if od["waiting"] > med[other]["waiting"]:
                        misses.append(f"waiting > {other}")
                    if od["waitedOver5MinShare"] > med[other]["waitedOver5MinShare"] + 1e-9:
                        misses.append(f">5min > {other}")
                if abs(load - 0.8) < 1e-9 and med["static"]["waitMeanSeconds"] > 0:
                    cut = 1 - od["waitMeanSeconds"] / med["static"]["waitMeanSeconds"]
                    if cut < 0.30:
                        misses.append(f"mean wait only {cut:.0%} below static")
                verdict = "met" if not misses else "MISSED: " + ", ".join(misses)
                failed += bool(misses)
            for p in ("static", "on-demand", "greedy"):
                if p not in r:
                    continue
                m = r[p]["median"]
                ms = r[p]["plannerMs"]
                print(f"| {load} | {mix} | {p} | {m['waiting']:.0f} | "
                      f"{m['waitedOver5MinShare'] * 100:.1f}% | {minutes(m['waitMeanSeconds'])} | "
                      f"{minutes(m['waitP95Seconds'])} | {m['gpuAllocated'] * 100:.1f}% | "
                      f"{m['reconfigurations']:.0f} | "
                      f"{(str(round(ms['p99'], 1)) + ' ms') if ms['calls'] else '-'} | "
                      f"{verdict if p == 'on-demand' else ''} |")
    print(f"\n{failed} row(s) missed the bar")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
