#!/usr/bin/env python3
"""`loom data` memory on a corpus much larger than the memory it may use (issue #27, "RSS bounded").

Builds a JSONL corpus at least --factor times the memory limit by repeating the ingested
python3-doc corpus (scripts/fetch_data_corpus.sh); every copy of a document gets its own
first line ("Copy K of this page."), so copies are distinct texts: exact dedup keeps them,
and MinHash/LSH has to find them as near duplicates (clusters of --copies documents). Then
runs `clean` and `dedup` under a hard address-space limit (`prlimit --as`, which bounds RSS
from above: a process cannot touch more memory than it has mapped; an allocation past the
limit fails and the run dies), and reports wall time, CPU time and peak RSS (wait4's
ru_maxrss). Outputs are deleted after each stage and the corpus at the end.

    python3 Benchmarks/data_rss_bench.py --loom .build/release/loom --limit-mb 1024 --factor 10
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time


def run(cmd, limit_bytes):
    env = dict(os.environ, MALLOC_ARENA_MAX="2")  # glibc reserves 64 MB of address space per arena
    start = time.perf_counter()
    proc = subprocess.Popen(["prlimit", f"--as={limit_bytes}", *cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    return status, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loom", default=".build/release/loom")
    ap.add_argument("--docs", default=None, help="HTML folder (default: scripts/fetch_data_corpus.sh)")
    ap.add_argument("--limit-mb", type=int, default=1024, help="address-space limit of each loom run")
    ap.add_argument("--factor", type=float, default=10, help="corpus size / limit")
    ap.add_argument("--stages", default="clean --no-quality --no-repetition,dedup",
                    help="comma-separated loom data stages with their options (the Gopher rules are left out "
                         "of clean by default: they are slow, and they keep no state across documents)")
    ap.add_argument("--work", default=None, help="folder for the corpus (needs factor × limit of disk, twice)")
    args = ap.parse_args()
    docs = args.docs or subprocess.run(["scripts/fetch_data_corpus.sh"], check=True, capture_output=True, text=True).stdout.strip()
    work = tempfile.mkdtemp(prefix="loom-rss-", dir=args.work)
    try:
        ingested = os.path.join(work, "docs.jsonl")
        subprocess.run([args.loom, "data", "ingest", docs, "-o", ingested], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        records = [json.loads(line) for line in open(ingested, encoding="utf-8") if line.strip()]
        target = int(args.factor * args.limit_mb * (1 << 20))
        big = os.path.join(work, "big.jsonl")
        size = copies = documents = 0
        with open(big, "w", encoding="utf-8") as f:
            while size < target:
                chunk = "".join(json.dumps({"id": f"{r['id']}-k{copies}", "source": r["source"],
                                            "text": f"Copy {copies} of this page.\n" + r["text"]}, ensure_ascii=False) + "\n"
                                for r in records)
                f.write(chunk)
                size += len(chunk.encode())
                copies += 1
                documents += len(records)
        print(f"corpus: {size / 1e9:.2f} GB, {documents} documents ({copies} copies of {len(records)}); "
              f"limit {args.limit_mb} MB of address space; load {os.getloadavg()[0]:.2f}")
        limit = args.limit_mb << 20
        for stage in args.stages.split(","):
            name, *options = stage.split()
            out = os.path.join(work, f"{name}.jsonl")
            status, wall, cpu, rss, log = run([args.loom, "data", name, big, "-o", out, *options], limit)
            name = stage
            ok = "ok" if status == 0 else f"FAILED (status {status}): {log[-400:]}"
            print(f"{name}: {ok}; {wall:.1f} s wall, {cpu:.1f} s CPU ({size / 1e6 / cpu:.1f} MB/s per core); "
                  f"peak RSS {rss:.0f} MB; load {os.getloadavg()[0]:.2f}")
            for suffix in ("", ".stats.json", ".clusters.jsonl", ".checkpoint.json"):
                if os.path.exists(out + suffix):
                    os.remove(out + suffix)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
