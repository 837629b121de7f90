#!/usr/bin/env python3
"""Server throughput with per-request LoRA adapters: 8 streams on 4 different adapters vs
8 streams on one adapter (and on the base model), same server, same run.

Starts `loom serve --parallel 8` on the model with four random r=16 adapters on all seven
projections (Benchmarks/lora_bench.py's generator, different seeds) as `--lora-modules
a=… b=… c=… d=…`, then alternates `--rounds` times: 8 streams of `-n` tokens all naming
`a`; 8 streams naming a, b, c, d in turn (two each); 8 streams on the base model. Reports
the median aggregate generated tokens/s and the ratio mixed ÷ one adapter. Requests with
different adapters share every decode step (each adapter gathers its rows), so the ratio
should stay near 1.

Usage:
    swift build -c release
    python3 Benchmarks/lora_server_bench.py [--model smollm2] [--threads 2] [-n 64] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import lora_bench  # noqa: E402
import load_check  # noqa: E402
import peer_bench  # noqa: E402


def aggregate_rate(port, models, n, streams=8):
    counts = [0] * streams

    def stream(k):
        body = {"prompt": f"Story {k}: Once upon a time", "max_tokens": n, "temperature": 0, "stream": True,
                "stream_options": {"include_usage": True}, "logit_bias": {"0": -100, "1": -100, "2": -100},
                "model": models[k % len(models)]}
        status, data = load_check.request(port, "/v1/completions", body, {})
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {data[:300]!r}")
        for block in data.decode().split("\n\n"):
            if block.startswith("data: {"):
                usage = json.loads(block[6:]).get("usage")
                if usage:
                    counts[k] = usage["completion_tokens"]

    threads = [threading.Thread(target=stream, args=(k,)) for k in range(streams)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.time() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--port", type=int, default=18187)
    args = ap.parse_args()
    path = peer_bench.model_file(args.model)
    work = tempfile.mkdtemp(prefix="loom-lora-server-bench-")
    info = subprocess.run([peer_bench.LOOM, "info", path], capture_output=True, text=True, check=True).stdout
    import re
    layers = int(re.search(r"^layers\s+(\d+)", info, re.M).group(1))
    d = int(re.search(r"^embedding\s+(\d+)", info, re.M).group(1))
    ffn = int(re.search(r"^feed-forward\s+(\d+)", info, re.M).group(1))
    heads, kv, hd = map(int, re.search(r"^heads \(query / kv\)\s+(\d+) / (\d+), head size (\d+)", info, re.M).groups())
    modules = []
    for i, name in enumerate("abcd"):
        lora_bench.write_peft(os.path.join(work, name), layers, d, kv * hd, ffn, seed=i + 1)
        modules.append(f"{name}={os.path.join(work, name)}")
    cmd = [peer_bench.LOOM, "serve", "-m", path, "--port", str(args.port), "--parallel", "8", "--ctx", "256",
           "-t", str(args.threads)] + sum((["--lora-modules", m] for m in modules), [])
    server = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                import http.client
                c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=1)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        aggregate_rate(args.port, ["a"], 8)  # warm-up
        runs = {"base": [], "one": [], "four": []}
        for _ in range(args.rounds):
            runs["one"].append(aggregate_rate(args.port, ["a"], args.n))
            runs["four"].append(aggregate_rate(args.port, ["a", "b", "c", "d"], args.n))
            runs["base"].append(aggregate_rate(args.port, [""], args.n))
        m = {k: statistics.median(v) for k, v in runs.items()}
        print({k: [round(x, 1) for x in v] for k, v in runs.items()}, file=sys.stderr)
        print("| model | threads | 8 streams, base | 8 streams, one adapter | 8 streams, 4 adapters | 4 adapters ÷ one |\n"
              "|---|---|---|---|---|---|\n"
              f"| {os.path.basename(path)} | {args.threads} | {m['base']:.1f} | {m['one']:.1f} | {m['four']:.1f} | "
              f"{m['four'] / m['one']:.2f}× |\n\n"
              f"Aggregate generated tokens/s, medians of {args.rounds} alternating rounds of {args.n} tokens per stream; "
              "r=16 adapters on all seven projections.")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
