#!/usr/bin/env python3
"""Writes Tests/LoomModelsTests/Fixtures/kv_cache_llamacpp.json: how far llama.cpp's own
quantised KV caches move each test model, for Loom's KVCacheTypeTests to compare with.

For SmolLM2-135M and Qwen2.5-0.5B (the Loom catalog's GGUF files) and the text in
Tests/LoomModelsTests/Fixtures/kv_cache_text.txt (the first 2 100 tokens), llama.cpp
(llama-cpp-python, 2 threads) scores every next token with f32, f16 and q8_0 keys and values.
Flash attention is on only for q8_0, which needs it for a quantised V cache: llama.cpp's CPU
flash attention rounds through f16 whatever the cache type, so with it an "f32" cache gives
exactly the f16 results and would not be a reference. Records per model:
  ids:     the token ids (Loom must tokenise the text to the same ids)
  types:   {type: {"mean_abs_delta": mean |Δ log p(next token)| against f32,
                   "max_abs_delta": …, "top1_agreement": share of positions whose greedy
                   token equals f32's}}
pip install llama-cpp-python numpy
"""
import json, os

import numpy as np
import llama_cpp

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Tests", "LoomModelsTests", "Fixtures")
MODELS = {
    "smollm2": "~/.cache/loom/models/SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-0.5b": "~/.cache/loom/models/Qwen2.5-Coder-0.5B-Instruct.gguf",
}
TOKENS = 2100
# ggml type ids (ggml.h): F32 0, F16 1, Q8_0 8.
TYPES = {"f32": 0, "f16": 1, "q8_0": 8}


def score(path, ids, type_id):
    llm = llama_cpp.Llama(model_path=path, n_ctx=TOKENS, n_batch=512, n_ubatch=512, n_threads=2, logits_all=True,
                          type_k=type_id, type_v=type_id, flash_attn=type_id not in (0, 1), verbose=False)
    llm.eval(ids)
    logits = np.array(llm.scores[:len(ids)], dtype=np.float64)
    m = logits.max(axis=1, keepdims=True)
    logz = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    targets = np.array(ids[1:])
    logprobs = logits[np.arange(len(ids) - 1), targets] - logz[:-1]
    return logprobs, logits[:-1].argmax(axis=1)


def main():
    text = open(os.path.join(FIXTURES, "kv_cache_text.txt"), encoding="utf-8").read()
    out = {"tokens": TOKENS, "models": {}}
    for name, path in MODELS.items():
        path = os.path.expanduser(path)
        vocab_only = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        ids = vocab_only.tokenize(text.encode(), add_bos=True, special=True)[:TOKENS]
        assert len(ids) == TOKENS, len(ids)
        reference, top = score(path, ids, TYPES["f32"])
        entry = {"ids": ids, "types": {}}
        for t in ("f16", "q8_0"):
            lp, tp = score(path, ids, TYPES[t])
            d = np.abs(lp - reference)
            entry["types"][t] = {"mean_abs_delta": float(d.mean()), "max_abs_delta": float(d.max()),
                                 "top1_agreement": float((tp == top).mean())}
            print(name, t, entry["types"][t])
        out["models"][name] = entry
    with open(os.path.join(FIXTURES, "kv_cache_llamacpp.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
