#!/usr/bin/env python3
"""Independent perplexity references for LoomEval (llama-perplexity's method, REFERENCE §7.1).

What it makes: Tests/LoomEvalTests/Fixtures/perplexity_reference.json with, for SmolLM2 on
Datasets/haystack.txt at n_ctx=128 (first CHUNKS chunks):
  - `tokens`: the text's tokens (HF `tokenizers` built from the GGUF, BOS as the GGUF says),
  - `chunk_nll`: per-chunk sum of NLLs over the scored half, `ppl`, `ppl_err` computed by a
    numpy float64 forward pass over `gguf`-dequantised weights (scripts/gen_model_fixtures.py's
    Reference class — independent of Loom's kernels),
  - `llama_cpp`: the same method through llama-cpp-python's low-level API (logits_all) when
    installed (llama.cpp quantises activations to 8 bits, so it sits ~0.5 % above float).
Method: chunks of n_ctx tokens; each from an empty cache; first token replaced by BOS only when
the tokenizer adds BOS (llama.cpp's rule); logits at positions n_ctx/2 … n_ctx-2 score the next
token; PPL = exp(mean nll), ± = PPL·sqrt((mean(nll²)-mean²)/(n-1)).

Run: python3 scripts/gen_perplexity_fixtures.py [--ctx 128] [--chunks 6]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from gen_model_fixtures import CACHE, MODELS, Reference  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")


def stats(nlls):
    nlls = np.array(nlls, dtype=np.float64)
    mean = nlls.mean()
    ppl = float(np.exp(mean))
    var = (nlls * nlls).mean() - mean * mean
    return ppl, float(ppl * np.sqrt(var / (len(nlls) - 1))) if var > 0 else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ctx", type=int, default=128)
    ap.add_argument("--chunks", type=int, default=6)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--text", default=os.path.join(ROOT, "Datasets", "haystack.txt"))
    args = ap.parse_args()
    path = os.path.join(CACHE, "models", MODELS[args.model])
    text = open(args.text, encoding="utf-8").read()
    ref = Reference(path)
    tokens = ref.encode(text)
    ctx, first = args.ctx, args.ctx // 2
    n_chunk = min(len(tokens) // ctx, args.chunks)
    assert len(tokens) >= 2 * ctx
    nlls, chunk_nll = [], []
    for c in range(n_chunk):
        chunk = list(tokens[c * ctx:(c + 1) * ctx])
        inp = list(chunk)
        if ref.add_bos:
            inp[0] = ref.bos
        cache = {"n": 0, "k": [None] * ref.n_layer, "v": [None] * ref.n_layer}
        lp = ref.forward(inp, cache)
        cn = [-float(lp[i][chunk[i + 1]]) for i in range(first, ctx - 1)]
        nlls += cn
        chunk_nll.append(sum(cn))
        print(f"[{c + 1}]{np.exp(np.mean(nlls)):.4f}", file=sys.stderr)
    ppl, err = stats(nlls)
    print(f"float reference: PPL = {ppl:.4f} +/- {err:.5f}", file=sys.stderr)
    out = {"generator": "scripts/gen_perplexity_fixtures.py", "model": args.model, "text": "Datasets/haystack.txt",
           "ctx": ctx, "chunks": n_chunk, "add_bos": bool(ref.add_bos), "tokens": [int(t) for t in tokens],
           "chunk_nll": chunk_nll, "ppl": ppl, "ppl_err": err}
    try:
        import llama_cpp
        llm = llama_cpp.Llama(model_path=path, n_ctx=ctx, n_batch=ctx, logits_all=True, verbose=False)
        lt = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        lnll = []
        for c in range(n_chunk):
            chunk = list(lt[c * ctx:(c + 1) * ctx])
            inp = list(chunk)
            if ref.add_bos:
                inp[0] = llm.token_bos()
            llm.reset()
            llm.eval(inp)
            for i in range(first, ctx - 1):
                l = np.array(llm.scores[i], dtype=np.float32)
                m = l.max()
                lnll.append(float(m) + np.log(np.exp((l - m).astype(np.float64)).sum()) - float(l[chunk[i + 1]]))
        lppl, lerr = stats(lnll)
        out["llama_cpp"] = {"version": llama_cpp.__version__, "tokens_equal": list(lt) == list(tokens),
                            "ppl": lppl, "ppl_err": lerr}
        print(f"llama.cpp ({llama_cpp.__version__}): PPL = {lppl:.4f} +/- {lerr:.5f} (tokens equal: {list(lt) == list(tokens)})",
              file=sys.stderr)
    except ImportError as e:
        print(f"llama_cpp unavailable: {e}", file=sys.stderr)
    dest = os.path.join(ROOT, "Tests", "LoomEvalTests", "Fixtures", "perplexity_reference.json")
    with open(dest, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {dest}", file=sys.stderr)


if __name__ == "__main__":
    main()
