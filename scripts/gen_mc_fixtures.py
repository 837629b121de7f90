#!/usr/bin/env python3
"""Independent multiple-choice log-likelihoods for LoomEval's MC tests (lm-eval semantics, REFERENCE §7.3).

What it makes: Tests/LoomEvalTests/Fixtures/mc_reference.json: for the first N questions of
Datasets/crypto_mc.jsonl (zero-shot), the context "Question: {q}\nAnswer:", each continuation
" {choice}", the context/continuation token ids (lm-eval's _encode_pair: whole = encode(ctx+cont),
cont = whole[len(encode(ctx)):]) and Σ log p(continuation) from the numpy float64 reference
forward (scripts/gen_model_fixtures.py, gguf-dequantised weights; independent of Loom) on SmolLM2.
Run: python3 scripts/gen_mc_fixtures.py [--n 4]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from gen_model_fixtures import CACHE, MODELS, Reference  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4)
    args = ap.parse_args()
    ref = Reference(os.path.join(CACHE, "models", MODELS["smollm2"]))
    items = [json.loads(l) for l in open(os.path.join(ROOT, "Datasets", "crypto_mc.jsonl"))][: args.n]
    prefix = [ref.bos] if ref.add_bos else []
    out = []
    for it in items:
        ctx = f"Question: {it['question']}\nAnswer:"
        ctx_ids = ref.tok.encode(ctx, add_special_tokens=False).ids
        choices = []
        for ch in it["choices"]:
            whole = ref.tok.encode(ctx + " " + ch, add_special_tokens=False).ids
            cont = whole[len(ctx_ids):]
            inp = prefix + ctx_ids + cont
            cache = {"n": 0, "k": [None] * ref.n_layer, "v": [None] * ref.n_layer}
            lp = ref.forward(inp[:-1], cache)
            n0 = len(prefix) + len(ctx_ids)
            ll = sum(float(lp[n0 - 1 + j][t]) for j, t in enumerate(cont))
            greedy = all(int(lp[n0 - 1 + j].argmax()) == t for j, t in enumerate(cont))
            choices.append({"continuation": cont, "loglikelihood": ll, "is_greedy": greedy})
        print(it["id"], [round(c["loglikelihood"], 3) for c in choices], file=sys.stderr)
        out.append({"id": it["id"], "context_ids": prefix + ctx_ids, "choices": choices})
    dest = os.path.join(ROOT, "Tests", "LoomEvalTests", "Fixtures", "mc_reference.json")
    json.dump({"generator": "scripts/gen_mc_fixtures.py", "model": "smollm2", "items": out}, open(dest, "w"),
              separators=(",", ":"))
    print("wrote", dest, file=sys.stderr)


if __name__ == "__main__":
    main()
