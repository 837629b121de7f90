#!/usr/bin/env python3
"""The quantisation table of BENCHMARKS.md: SmolLM2-135M from an F16 GGUF quantised by
`loom quantize` to each type, with file size, bits per weight, quantise time and
`loom perplexity` on the shipped haystack text (Datasets/haystack.txt; the same --ctx and chunks
for every row) plus the KL-divergence of each type's next-token distributions from the F16 source's
(llama-perplexity's --kl-divergence method, `loom perplexity --kl-divergence`).

The F16 source is ~/.cache/loom/bench/SmolLM2-135M-Instruct.F16.gguf, made by llama.cpp's
quantiser from the catalog Q4_1 file (Benchmarks/peer_bench.py smollm2:F16); it is made here
the same way if missing. Bits per weight = tensor data bits / weight count (metadata excluded,
like llama.cpp's "BPW"). Quantise time is the median of --repeat runs of `loom quantize -t 2`.

    swift build -c release
    python3 Benchmarks/quant_table.py [--types Q8_0,Q4_K_M] [--ctx 512] [--threads 2] [--repeat 3]
pip install gguf numpy llama-cpp-python
"""
import argparse, ctypes, json, os, shutil, statistics, subprocess, sys, tempfile, time

from gguf import GGUFReader

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
LOOM = os.environ.get("LOOM_BIN", os.path.join(ROOT, ".build", "release", "loom"))
HAYSTACK = os.path.join(ROOT, "Datasets", "haystack.txt")
SOURCE = os.path.expanduser("~/.cache/loom/bench/SmolLM2-135M-Instruct.F16.gguf")
CATALOG = os.path.expanduser("~/.cache/loom/models/SmolLM2-135M-Instruct.Q4_1.gguf")
# TQ2_0/TQ1_0 (ternary): SmolLM2's 576-wide rows do not fit their 256-blocks, so as with
# llama-quantize only ffn_down (1536-wide) becomes ternary and the rest falls back to Q4_0; and the
# model was not trained ternary, so its perplexity there is poor by construction.
TYPES = ["Q8_0", "Q6_K", "Q5_K_M", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_1", "Q4_0", "Q3_K_M", "Q2_K", "TQ2_0", "TQ1_0"]


def make_source():
    import llama_cpp
    os.makedirs(os.path.dirname(SOURCE), exist_ok=True)
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype, p.allow_requantize, p.nthread = 1, True, 2  # LLAMA_FTYPE_MOSTLY_F16
    tmp = SOURCE + ".tmp"
    assert llama_cpp.llama_model_quantize(CATALOG.encode(), tmp.encode(), ctypes.byref(p)) == 0
    os.replace(tmp, SOURCE)


def bits_per_weight(path):
    r = GGUFReader(path)
    nbytes = sum(int(t.n_bytes) for t in r.tensors)
    elements = sum(int(t.n_elements) for t in r.tensors)
    return nbytes * 8 / elements


def perplexity(path, ctx, threads, work, base=None, save_base=None):
    """`loom perplexity` on the haystack (or against saved base log-probs); the JSON report."""
    out = os.path.join(work, "report.json")
    cmd = [LOOM, "perplexity", "-m", path, "--ctx", str(ctx), "-t", str(threads), "--json", out]
    cmd += ["--kl-divergence", base] if base else ["-f", HAYSTACK]
    if save_base:
        cmd += ["--kl-divergence-base", save_base]
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    with open(out) as f:
        return json.load(f)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--types", default=",".join(TYPES))
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not os.path.exists(SOURCE):
        make_source()
    work = tempfile.mkdtemp(prefix="loom-quant-table-")
    base = os.path.join(work, "f16.kld")
    r = perplexity(SOURCE, args.ctx, args.threads, work, save_base=base)
    rows = [("F16 (source)", os.path.getsize(SOURCE), bits_per_weight(SOURCE), None, r, None)]
    print(f"source: {r['textTokens']} tokens, {r['chunks']} chunks of {args.ctx}, {r['scoredTokens']} scored", file=sys.stderr)
    for t in args.types.split(","):
        out = os.path.join(work, t + ".gguf")
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([LOOM, "quantize", SOURCE, out, t, "-t", str(args.threads)], check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        r = perplexity(out, args.ctx, args.threads, work, base=base)
        rows.append((t, os.path.getsize(out), bits_per_weight(out), statistics.median(times), r, r["kld"]))
        print(f"{t}: {times}", file=sys.stderr)
        os.remove(out)
    shutil.rmtree(work)
    print(f"| type | size (MB) | bits/weight | quantise (s) | PPL | mean KLD vs F16 | same top token |")
    print("|---|---|---|---|---|---|---|")
    for name, size, bpw, secs, r, k in rows:
        kld = "—" if k is None else "%.4f ± %.4f" % (k["meanKLD"], k["meanKLDError"])
        same = "—" if k is None else "%.1f %%" % (100 * k["sameTopRate"])
        secs = "—" if secs is None else "%.2f" % secs
        print(f"| {name} | {size / 1e6:.1f} | {bpw:.2f} | {secs} | {r['perplexity']:.3f} ± {r['perplexityError']:.3f} | {kld} | {same} |")

if __name__ == "__main__":
    main()
