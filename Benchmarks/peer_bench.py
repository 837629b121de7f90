#!/usr/bin/env python3
"""Loom vs llama.cpp on the same GGUF files, thread counts and machine, in one run.

For every (model, threads) pair the two engines run ALTERNATELY, `--rounds` times each, so
both see the same background load; each round is one llama-bench-style measurement:
  pp  – one batch of `-p` tokens evaluated from an empty KV cache, tokens/s;
  tg  – `-n` tokens decoded one at a time from an empty cache, tokens/s.
With `--depth N` both tests start with N tokens already in the cache instead (llama-bench's
`-d`): each engine evaluates them once, untimed, and cuts its cache back to them before
every test.
The table reports medians and the ratio Loom ÷ llama.cpp (> 1 means Loom is faster).

llama.cpp runs through the `llama-cpp-python` package, built once from PyPI with native CPU
flags (`CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python==0.3.36`); this script calls
its low-level C API (llama_decode on a batch) so Python overhead stays out of the timings.
Loom runs as `loom bench --json` from a release build (`swift build -c release`).

Models: catalog names (`smollm2`, `qwen2.5-0.5b`), GGUF paths, or `smollm2:TYPE` for
SmolLM2 requantised by llama.cpp's own quantiser (`llama_model_quantize`, TYPE one of Q8_0,
Q4_0, Q4_1, F16, ...). Requantised files are made once from the shipped Q4_1 file and cached
in `<loom cache>/bench/` (`$LOOM_CACHE`, else `$XDG_CACHE_HOME/loom`, else `~/.cache/loom`),
never in the repository.

Decode roofline: a generated token reads every weight once (the token embedding only as the
LM head when the output matrix is tied to it), so tokens/s ≤ read bandwidth ÷ weight bytes.
The bandwidth is measured here by a small probe (numpy sums over a 1 GiB array, one slice
per thread), so the ceiling is this machine's, in this run.

Usage:
    swift build -c release
    python3 Benchmarks/peer_bench.py [--models smollm2,smollm2:Q8_0,smollm2:Q4_0,smollm2:F16,qwen2.5-0.5b]
        [--threads 1,2] [-p 512] [-n 128] [--rounds 5] [--markdown BENCHMARKS-table.md]
"""
import argparse
import ctypes
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOOM = os.path.join(ROOT, ".build", "release", "loom")


def loom_path(name):
    """The cached file of a catalog model (Loom fetches it if needed)."""
    out = subprocess.run([LOOM, "info", name], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].split(None, 1)[1].strip()


def loom_cache():
    return os.environ.get("LOOM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "loom")


def requantized(name, type_name):
    """`name` requantised to `type_name` by llama.cpp's quantiser, cached under the Loom cache."""
    import llama_cpp as L
    source = loom_path(name)
    stem = os.path.basename(source).split(".")[0]
    out_dir = os.path.join(loom_cache(), "bench")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, f"{stem}.{type_name}.gguf")
    if os.path.exists(out):
        return out
    ftype = getattr(L, f"LLAMA_FTYPE_MOSTLY_{type_name.upper()}", None)
    if ftype is None:
        sys.exit(f"unknown llama.cpp file type {type_name}")
    params = L.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    tmp = out + ".tmp"
    rc = L.llama_model_quantize(source.encode(), tmp.encode(), ctypes.byref(params))
    if rc != 0:
        sys.exit(f"llama_model_quantize({source} -> {type_name}) returned {rc}")
    os.replace(tmp, out)
    return out


def model_file(spec):
    if os.path.exists(spec):
        return spec
    if ":" in spec:
        name, type_name = spec.split(":", 1)
        return requantized(name, type_name)
    return loom_path(spec)


def weight_bytes_per_token(path):
    """Bytes of weights one generated token reads: every tensor once, except the token
    embedding, of which one row is read — unless the LM head is tied to it."""
    import gguf
    reader = gguf.GGUFReader(path)
    sizes = {t.name: int(t.n_bytes) for t in reader.tensors}
    total = sum(sizes.values())
    if "output.weight" in sizes and "token_embd.weight" in sizes:
        total -= sizes["token_embd.weight"]
    return total


def bandwidth_probe(threads, gib=1.0, repeats=5):
    """Read bandwidth in bytes/s: `threads` numpy sums over disjoint slices of one array
    (numpy releases the GIL in the reduction), best of `repeats`."""
    import numpy as np
    a = np.ones(int(gib * (1 << 30)) // 8, dtype=np.float64)
    slices = np.array_split(a, threads)
    best = float("inf")
    for _ in range(repeats):
        workers = [threading.Thread(target=np.sum, args=(s,)) for s in slices]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = min(best, time.perf_counter() - t0)
    return a.nbytes / best


# KV cache type of both engines (`--cache-type`; llama.cpp's default f16, Loom's too).
CACHE_TYPE = "f16"
# ggml type ids (ggml.h) of the cache types both engines take.
GGML_CACHE_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "bf16": 30}


def loom_round(path, threads, p, n, depth=0):
    out = subprocess.run([LOOM, "bench", "-m", path, "-t", str(threads), "-p", str(p), "-n", str(n),
                          "-d", str(depth), "-r", "1", "-ctk", CACHE_TYPE, "-ctv", CACHE_TYPE, "--json"],
                         capture_output=True, text=True, check=True).stdout
    j = json.loads(out)
    return j["pp"]["median"], j["tg"]["median"], j["load_seconds"], j["peak_rss_bytes"]


class LlamaCpp:
    def __init__(self, path, threads, p, n, depth=0):
        import llama_cpp as L
        self.L = L
        L.llama_backend_init()
        t0 = time.perf_counter()
        mp = L.llama_model_default_params()
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        self.load_seconds = time.perf_counter() - t0
        cp = L.llama_context_default_params()
        cp.n_ctx = depth + p + n + 16
        cp.n_batch = max(p, depth, 1)
        cp.n_ubatch = max(p, depth, 1)
        cp.n_threads = threads
        cp.n_threads_batch = threads
        # Flash attention stays on llama.cpp's default (auto: on for the CPU), which a
        # quantised V cache needs.
        cp.type_k = cp.type_v = GGML_CACHE_TYPES[CACHE_TYPE]
        self.ctx = L.llama_init_from_model(self.model, cp)
        vocab = L.llama_n_vocab(L.llama_model_get_vocab(self.model))
        rng = random.Random(1)
        self.prompt = [rng.randrange(100, vocab // 2) for _ in range(max(p, 1))]
        self.p, self.n, self.depth = p, n, depth
        if depth > 0:
            self.decode([rng.randrange(100, vocab // 2) for _ in range(depth)])

    def clear(self):
        """Back to the `depth` untimed context tokens (an empty cache without --depth)."""
        memory = self.L.llama_get_memory(self.ctx)
        if self.depth > 0:
            self.L.llama_memory_seq_rm(memory, 0, self.depth, -1)
        else:
            self.L.llama_memory_clear(memory, True)

    def decode(self, ids):
        arr = (self.L.llama_token * len(ids))(*ids)
        rc = self.L.llama_decode(self.ctx, self.L.llama_batch_get_one(arr, len(ids)))
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        self.L.llama_synchronize(self.ctx)

    def round(self):
        self.clear()
        t0 = time.perf_counter()
        self.decode(self.prompt[: self.p])
        pp = self.p / (time.perf_counter() - t0)
        self.clear()
        tok = self.prompt[0]
        t0 = time.perf_counter()
        for _ in range(self.n):
            self.decode([tok])
            tok = self.prompt[1]  # fixed next token: the sampler is not part of the test
        tg = self.n / (time.perf_counter() - t0)
        return pp, tg


def peak_rss_llama(path, threads, p, n, depth=0):
    """llama.cpp's peak RSS, measured as VmHWM in a fresh child process (getrusage's maxrss
    would include this driver's own peak, which survives fork and exec)."""
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r});"
            f"import peer_bench; peer_bench.CACHE_TYPE = {CACHE_TYPE!r}; e = peer_bench.LlamaCpp({path!r}, {threads}, {p}, {n}, {depth}); e.round();"
            "print([int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:')][0])")
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="smollm2,smollm2:Q8_0,smollm2:Q4_0,smollm2:F16,qwen2.5-0.5b")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-d", "--depth", type=int, default=0, help="tokens already in the cache when each test starts")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cache-type", default="f16", choices=sorted(GGML_CACHE_TYPES),
                    help="KV cache type of both engines (keys and values; default f16, llama.cpp's default)")
    ap.add_argument("--markdown", help="write the table to this file too")
    ap.add_argument("--loom", default=LOOM, help="the loom binary to run (default: this checkout's release build), "
                    "e.g. a saved copy for a before/after comparison in the same session")
    args = ap.parse_args()
    globals()["LOOM"] = args.loom
    globals()["CACHE_TYPE"] = args.cache_type
    if not os.path.exists(args.loom):
        sys.exit("build Loom first: swift build -c release")
    rows = []
    thread_counts = [int(t) for t in args.threads.split(",")]
    bandwidth = {t: bandwidth_probe(t) for t in thread_counts}
    print(json.dumps({"bandwidth_GBps": {t: round(b / 1e9, 1) for t, b in bandwidth.items()}}), file=sys.stderr)
    for name in args.models.split(","):
        path = model_file(name)
        per_token = weight_bytes_per_token(path)
        for threads in thread_counts:
            engine = LlamaCpp(path, threads, args.p, args.n, args.depth)
            engine.round()  # warm-up
            loom_pp, loom_tg, cpp_pp, cpp_tg, loom_load, rss = [], [], [], [], [], []
            for _ in range(args.rounds):
                a, b, load, r = loom_round(path, threads, args.p, args.n, args.depth)
                loom_pp.append(a); loom_tg.append(b); loom_load.append(load); rss.append(r)
                c, d = engine.round()
                cpp_pp.append(c); cpp_tg.append(d)
            cpp_rss = peak_rss_llama(path, threads, args.p, args.n, args.depth)
            row = dict(model=os.path.basename(path), threads=threads, depth=args.depth, cache_type=args.cache_type,
                       loom_pp=statistics.median(loom_pp), cpp_pp=statistics.median(cpp_pp),
                       loom_tg=statistics.median(loom_tg), cpp_tg=statistics.median(cpp_tg),
                       loom_load=statistics.median(loom_load), cpp_load=engine.load_seconds,
                       loom_rss=max(rss), cpp_rss=cpp_rss,
                       weight_mb=per_token / 1e6, roofline=bandwidth[threads] / per_token)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    at = f" @ d{args.depth}" if args.depth else ""
    head = (f"| model | threads | pp{args.p}{at} Loom | pp{args.p}{at} llama.cpp | pp ratio | tg{args.n}{at} Loom | "
            f"tg{args.n}{at} llama.cpp | tg ratio | roofline tg (Loom / llama.cpp % of it) | "
            f"load Loom / llama.cpp (s) | peak RSS Loom / llama.cpp (MB) |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['model']} | {r['threads']} | {r['loom_pp']:.1f} | {r['cpp_pp']:.1f} | {r['loom_pp'] / r['cpp_pp']:.2f}× | "
        f"{r['loom_tg']:.1f} | {r['cpp_tg']:.1f} | {r['loom_tg'] / r['cpp_tg']:.2f}× | "
        f"{r['roofline']:.0f} ({100 * r['loom_tg'] / r['roofline']:.0f} / {100 * r['cpp_tg'] / r['roofline']:.0f} %) | "
        f"{r['loom_load']:.2f} / {r['cpp_load']:.2f} | {r['loom_rss'] / 1e6:.0f} / {r['cpp_rss'] / 1e6:.0f} |\n"
        for r in rows)
    bw = ", ".join(f"{t} thread{'s' if t > 1 else ''} {b / 1e9:.1f} GB/s" for t, b in bandwidth.items())
    weights = ", ".join(sorted({f"{r['model']} {r['weight_mb']:.0f} MB" for r in rows}))
    note = (f"\nRoofline = measured read bandwidth ({bw}) ÷ weight bytes read per token ({weights})"
            f"{'; with --depth the cached keys and values are read too and are not counted' if args.depth else ''}.\n"
            f"\nMedians of {args.rounds} alternating rounds, tokens/s; {platform.machine()}, "
            f"{os.cpu_count()} cores; llama.cpp via llama-cpp-python "
            f"{__import__('llama_cpp').__version__}.\n")
    print(head + body + note)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(head + body + note)


if __name__ == "__main__":
    main()
