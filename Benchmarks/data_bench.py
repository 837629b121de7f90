#!/usr/bin/env python3
"""`loom data` speed and agreement (issue #27 targets).

1. Ingests the real corpus (Debian's python3-doc, see scripts/fetch_data_corpus.sh), then times
   normalisation alone (`clean` with boilerplate and filters off) and exact dedup
   (`dedup --exact-only`) in MB/s of text, per core.
2. Builds a near-duplicate corpus: every document of the ingested corpus plus --copies edited
   copies (random word substitutions at 0–30 %), shuffled.
3. Times `loom data dedup` (MinHash + LSH) and datasketch (pip) on the same documents with the
   same parameters (word 5-shingles, 128 permutations, threshold 0.7; both verify LSH
   candidates on their signatures), and reports the agreement on the pairs whose exact
   Jaccard similarity is at or above the threshold: the fraction of such pairs that both put
   in one cluster or both keep apart.

    scripts/fetch_data_corpus.sh && pip install datasketch
    python3 Benchmarks/data_bench.py --loom .build/release/loom [--copies 3]
"""
import argparse
import json
import os
import random
import re
import subprocess
import tempfile
import time

WORD = re.compile(r"[^\W_]+")


def run(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def text_bytes(path):
    with open(path, encoding="utf-8") as f:
        return sum(len(json.loads(line)["text"].encode()) for line in f if line.strip())


def shingles(text, k):
    words = WORD.findall(text.lower())
    if not words:
        return set()
    k = min(k, len(words))
    return {" ".join(words[i:i + k]) for i in range(len(words) - k + 1)}


def find(parent, x):
    while parent.setdefault(x, x) != x:
        parent[x] = parent.setdefault(parent[x], parent[x])
        x = parent[x]
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loom", default=".build/release/loom")
    ap.add_argument("--docs", default=None, help="HTML folder (default: scripts/fetch_data_corpus.sh)")
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--shingle", type=int, default=5)
    ap.add_argument("--threshold", type=float, default=0.7)
    args = ap.parse_args()
    docs = args.docs or subprocess.run(["scripts/fetch_data_corpus.sh"], check=True, capture_output=True, text=True).stdout.strip()
    cores = os.cpu_count()
    work = tempfile.mkdtemp(prefix="loom-data-bench-")
    ingested = os.path.join(work, "docs.jsonl")
    t = run([args.loom, "data", "ingest", docs, "-o", ingested])
    size = text_bytes(ingested)
    print(f"ingest: {size / 1e6:.1f} MB of text in {t:.2f} s")
    t = run([args.loom, "data", "clean", ingested, "-o", os.path.join(work, "norm.jsonl"), "--keep-boilerplate",
             "--no-quality", "--no-repetition", "--min-words", "0"])
    print(f"normalise: {size / 1e6 / t:.1f} MB/s on {cores} cores = {size / 1e6 / t / cores:.1f} MB/s per core")
    t = run([args.loom, "data", "dedup", ingested, "-o", os.path.join(work, "exact.jsonl"), "--exact-only"])
    print(f"exact dedup: {size / 1e6 / t:.1f} MB/s on {cores} cores = {size / 1e6 / t / cores:.1f} MB/s per core")

    rng = random.Random(27)
    records = [json.loads(line) for line in open(ingested, encoding="utf-8") if line.strip()]
    corpus = []
    for r in records:
        corpus.append({"id": r["id"], "source": r["source"], "text": r["text"]})
        words = r["text"].split()
        for c in range(args.copies):
            rate = rng.choice([0.0, 0.02, 0.05, 0.1, 0.2, 0.3])
            edited = [w if rng.random() >= rate else f"edit{rng.randrange(10**6)}" for w in words]
            corpus.append({"id": f"{r['id']}-c{c}", "source": r["source"], "text": " ".join(edited)})
    rng.shuffle(corpus)
    bench = os.path.join(work, "bench.jsonl")
    with open(bench, "w", encoding="utf-8") as f:
        for r in corpus:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    bench_size = sum(len(r["text"].encode()) for r in corpus)
    print(f"near-duplicate corpus: {len(corpus)} documents, {bench_size / 1e6:.1f} MB")

    out = os.path.join(work, "dedup.jsonl")
    loom_time = run([args.loom, "data", "dedup", bench, "-o", out, "--num-perm", str(args.num_perm),
                     "--shingle", str(args.shingle), "--threshold", str(args.threshold)])
    loom_cluster = {}
    with open(out + ".clusters.jsonl", encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            for m in c["members"]:
                loom_cluster[m] = c["representative"]

    from datasketch import MinHash, MinHashLSH
    start = time.perf_counter()
    lsh = MinHashLSH(threshold=args.threshold, num_perm=args.num_perm)
    sigs = {}
    for r in corpus:
        m = MinHash(num_perm=args.num_perm)
        m.update_batch([s.encode() for s in shingles(r["text"], args.shingle)])
        sigs[r["id"]] = m
        lsh.insert(r["id"], m)
    ds_parent = {}
    candidates = set()
    for r in corpus:
        for other in lsh.query(sigs[r["id"]]):
            if other != r["id"]:
                pair = tuple(sorted((r["id"], other)))
                candidates.add(pair)
                if sigs[pair[0]].jaccard(sigs[pair[1]]) >= args.threshold:
                    ds_parent[find(ds_parent, pair[0])] = find(ds_parent, pair[1])
    ds_time = time.perf_counter() - start

    by_id = {r["id"]: r["text"] for r in corpus}
    for member, rep in loom_cluster.items():
        if member != rep:
            candidates.add(tuple(sorted((member, rep))))
    cache = {}

    def sh(i):
        if i not in cache:
            cache[i] = shingles(by_id[i], args.shingle)
        return cache[i]

    above = agree = loom_found = ds_found = 0
    for a, b in candidates:
        x, y = sh(a), sh(b)
        j = len(x & y) / len(x | y) if x | y else 1.0
        if j < args.threshold:
            continue
        above += 1
        same_loom = loom_cluster.get(a, a) == loom_cluster.get(b, b)
        same_ds = find(ds_parent, a) == find(ds_parent, b)
        loom_found += same_loom
        ds_found += same_ds
        agree += same_loom == same_ds
    print(f"MinHash+LSH dedup: loom {loom_time:.2f} s, datasketch {ds_time:.2f} s: {ds_time / loom_time:.1f}x")
    print(f"pairs at Jaccard >= {args.threshold}: {above}; loom clusters {loom_found}, datasketch {ds_found}; "
          f"agreement {100.0 * agree / max(1, above):.2f} %")


if __name__ == "__main__":
    main()
