#!/usr/bin/env python3
"""A/B speed check of two `loom` builds on the same machine in the same run: for each model,
alternate `loom bench --json` runs of OLD and NEW (so both see the same background load),
and report per-test medians and the NEW/OLD ratio. A refactor that must not change speed is
accepted when every ratio is within noise (the project's rule: ±5 %).

  python3 Benchmarks/ab_builds.py OLD_LOOM NEW_LOOM [--models smollm2,qwen2.5-0.5b]
                                   [--rounds 5] [-p 256] [-n 64] [--threads 2]
"""
import argparse, json, statistics, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("old"); ap.add_argument("new")
ap.add_argument("--models", default="smollm2,qwen2.5-0.5b")
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("-p", type=int, default=256)
ap.add_argument("-n", type=int, default=64)
ap.add_argument("--threads", default="2")
args = ap.parse_args()

def bench(binary, model, threads):
    out = subprocess.run([binary, "bench", "-m", model, "-p", str(args.p), "-n", str(args.n), "-r", "3",
                          "-t", threads, "--json"], check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["pp"]["median"], r["tg"]["median"]

print(f"| model | threads | test | old t/s (median of {args.rounds}) | new t/s | new/old |")
print("|---|---|---|---|---|---|")
worst = 1.0
for model in args.models.split(","):
    for threads in args.threads.split(","):
        runs = {"old": [], "new": []}
        for _ in range(args.rounds):
            for which in ("old", "new"):
                runs[which].append(bench(getattr(args, which), model, threads))
        for i, test in enumerate([f"pp{args.p}", f"tg{args.n}"]):
            old = statistics.median(r[i] for r in runs["old"])
            new = statistics.median(r[i] for r in runs["new"])
            worst = min(worst, new / old)
            print(f"| {model} | {threads} | {test} | {old:.1f} | {new:.1f} | {new / old:.3f} |", flush=True)
print(f"\nlowest new/old ratio: {worst:.3f}")
