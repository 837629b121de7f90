#!/usr/bin/env python3
"""Token-generation speed with and without a grammar (issue #26: "tg overhead ≤ 15 % on a nested
schema").

Runs `loom run --stats` on the default model with the same chat prompt and sampling settings,
once unconstrained and once under a nested JSON Schema (objects in an array in an object, enums,
a date, a pattern, numbers), for several seeds, alternating the two so that machine load hits
both alike. Reads "generated: N tokens in S s (X tokens/s)" from each run and prints the median
tokens/s of both, the overhead, and whether every constrained answer parsed as JSON.

    python3 Benchmarks/grammar_bench.py --loom .build/release/loom [--seeds 5] [--max-tokens 160]

Standard library only.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

SCHEMA = {
    "type": "object",
    "properties": {
        "token": {"type": "string", "maxLength": 24},
        "chain": {"enum": ["ethereum", "solana", "bsc", "base"]},
        "risk": {"enum": ["low", "medium", "high"]},
        "score": {"type": "number"},
        "listed": {"type": "string", "format": "date"},
        "contract": {"type": "string", "pattern": "^0x[0-9a-f]{8}$"},
        "findings": {
            "type": "array", "minItems": 1, "maxItems": 4,
            "items": {
                "type": "object",
                "properties": {
                    "kind": {"enum": ["honeypot", "mint", "owner", "liquidity", "tax"]},
                    "severity": {"type": "integer"},
                    "detail": {"type": "string", "maxLength": 60},
                },
                "required": ["kind", "severity", "detail"],
                "additionalProperties": False,
            },
        },
        "holders": {"type": "object", "properties": {"top10": {"type": "number"}, "count": {"type": "integer"}},
                    "required": ["top10", "count"]},
    },
    "required": ["token", "chain", "risk", "score", "findings", "holders"],
    "additionalProperties": False,
}

PROMPT = ("Assess the crypto token PEPE2 (contract 0x1a2b3c4d on ethereum, listed 2024-03-01, top 10 holders own "
          "71% of 1200 holders, owner can mint) and answer as a JSON risk report.")

STATS = re.compile(r"generated: (\d+) tokens in ([0-9.]+) s \(([0-9.]+) tokens/s\)")


def run(loom, seed, max_tokens, threads, schema_path=None):
    args = [loom, "run", "-p", PROMPT, "--temperature", "0.8", "--seed", str(seed), "--max-tokens", str(max_tokens),
            "--stats", "--threads", str(threads)]
    if schema_path:
        args += ["--json-schema", schema_path]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    m = STATS.search(out.stderr)
    if not m:
        sys.exit(f"no stats in: {out.stderr}")
    return int(m.group(1)), float(m.group(3)), out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loom", default=".build/release/loom")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(SCHEMA, f)
        schema_path = f.name
    try:
        free, constrained, parsed = [], [], 0
        for seed in range(args.seeds):
            n0, tps0, _ = run(args.loom, seed, args.max_tokens, args.threads)
            n1, tps1, text = run(args.loom, seed, args.max_tokens, args.threads, schema_path)
            try:
                json.loads(text)
                parsed += 1
            except ValueError:
                pass
            free.append(tps0)
            constrained.append(tps1)
            print(f"seed {seed}: free {n0} tokens {tps0:.1f} tok/s; schema {n1} tokens {tps1:.1f} tok/s")
        a, b = statistics.median(free), statistics.median(constrained)
        print(f"median tg: free {a:.1f} tok/s, schema {b:.1f} tok/s, overhead {100 * (a - b) / a:.1f} %; "
              f"{parsed}/{args.seeds} constrained answers complete JSON")
    finally:
        os.unlink(schema_path)


if __name__ == "__main__":
    main()
