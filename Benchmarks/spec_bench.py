#!/usr/bin/env python3
"""Speculative decoding benchmark: greedy `loom run` plain, with prompt lookup (--lookup) and
optionally with a draft model (--model-draft), on two copying workloads:

  edit   an ~300-token Python function and the request to rename one variable and output the
         whole function;
  quote  an ~250-token passage and the request to quote it exactly.

For every model, workload and mode it reports the median generation speed (tokens/s, from
`--stats`) over --rounds runs, the speed-up over plain decoding, the acceptance rate, and
whether the answer is byte-identical to the plain one (it must be).

  python3 Benchmarks/spec_bench.py LOOM [--models smollm2,qwen2.5-0.5b] [--draft MODEL=DRAFT ...]
                                   [--rounds 3] [-n 256] [--threads 2] [--draft-max 8]
"""
import argparse, re, statistics, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("loom")
ap.add_argument("--models", default="smollm2,qwen2.5-0.5b")
ap.add_argument("--draft", action="append", default=[], help="MODEL=DRAFT: also run MODEL with this draft model")
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("-n", type=int, default=256, help="--max-tokens")
ap.add_argument("--threads", default="2")
ap.add_argument("--draft-max", default=None)
ap.add_argument("--ngram-max", default=None)
ap.add_argument("--ngram-min", default=None)
args = ap.parse_args()

FUNCTION = '''def summarize_orders(orders, tax_rate=0.2, currency="EUR"):
    """Group orders by customer and return totals with tax, sorted by spend."""
    totals = {}
    for order in orders:
        customer = order["customer"]
        amount = order["quantity"] * order["unit_price"]
        if order.get("discount"):
            amount = amount * (1 - order["discount"])
        if customer not in totals:
            totals[customer] = {"net": 0.0, "orders": 0, "items": 0}
        totals[customer]["net"] += amount
        totals[customer]["orders"] += 1
        totals[customer]["items"] += order["quantity"]
    result = []
    for customer, data in totals.items():
        gross = data["net"] * (1 + tax_rate)
        average = data["net"] / data["orders"]
        result.append({
            "customer": customer,
            "net": round(data["net"], 2),
            "gross": round(gross, 2),
            "average_order": round(average, 2),
            "items": data["items"],
            "currency": currency,
        })
    result.sort(key=lambda row: row["gross"], reverse=True)
    return result
'''

PASSAGE = ("The lighthouse at the end of the harbour was built in 1872, after a winter storm drove three "
           "fishing boats onto the rocks below the cliffs. Its lamp was first fed with whale oil, later with "
           "kerosene, and since 1931 with electricity from the town's small power station. For more than a "
           "century a keeper lived in the white cottage beside the tower, climbing its hundred and twelve steps "
           "at dusk and again at midnight to wind the clockwork that turned the lens. The last keeper, Margaret "
           "Hale, retired in 1989, when the light was automated and the cottage became a museum. Visitors can "
           "still climb the tower on summer afternoons, and on clear days the beam can be seen from the islands "
           "twenty miles to the west. Every year on the first Sunday of December the town gathers on the pier "
           "to remember the fishermen lost in the storm, and the lamp is left burning all day in their honour.")

WORKLOADS = {
    "edit": "Rename the variable `totals` to `per_customer` in this Python function and output the whole function, "
            "with no explanation.\n\n```python\n" + FUNCTION + "```",
    "quote": "Quote the following passage exactly, word for word, with no comment.\n\n" + PASSAGE,
}

STATS = re.compile(r"generated: (\d+) tokens in ([\d.]+) s \(([\d.]+) tokens/s\)")
SPEC = re.compile(r"drafted (\d+), accepted (\d+)")

def run(model, prompt, extra):
    cmd = [args.loom, "run", "-m", model, "-p", prompt, "--temperature", "0", "--max-tokens", str(args.n),
           "-t", args.threads, "--stats"] + extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} … failed: {p.stderr.strip()}")
    m = STATS.search(p.stderr)
    s = SPEC.search(p.stderr)
    return p.stdout, int(m.group(1)), float(m.group(3)), (int(s.group(1)), int(s.group(2))) if s else None

def spec_flags(base):
    flags = list(base)
    if args.draft_max: flags += ["--draft-max", args.draft_max]
    if args.ngram_max and "--lookup" in base: flags += ["--lookup-ngram-max", args.ngram_max]
    if args.ngram_min and "--lookup" in base: flags += ["--lookup-ngram-min", args.ngram_min]
    return flags

drafts = dict(d.split("=", 1) for d in args.draft)
print(f"| model | workload | mode | tokens | tg t/s (median of {args.rounds}) | speed-up | accepted/drafted | identical |")
print("|---|---|---|---|---|---|---|---|")
for model in args.models.split(","):
    modes = [("plain", []), ("lookup", spec_flags(["--lookup"]))]
    if model in drafts: modes.append((f"draft {drafts[model]}", spec_flags(["--model-draft", drafts[model]])))
    for name, prompt in WORKLOADS.items():
        results = {}
        for _ in range(args.rounds):
            # Modes alternate within a round, so every mode sees the same background load.
            for mode, flags in modes:
                results.setdefault(mode, []).append(run(model, prompt, flags))
        reference = results["plain"][0][0]
        plain_tg = statistics.median(r[2] for r in results["plain"])
        for mode, _ in modes:
            runs = results[mode]
            tg = statistics.median(r[2] for r in runs)
            spec = runs[0][3]
            acc = f"{spec[1]}/{spec[0]} ({100 * spec[1] / max(spec[0], 1):.0f} %)" if spec else "–"
            same = all(r[0] == reference for r in runs)
            print(f"| {model} | {name} | {mode} | {runs[0][1]} | {tg:.1f} | {tg / plain_tg:.2f}× | {acc} | {'yes' if same else 'NO'} |",
                  flush=True)
