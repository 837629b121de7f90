#!/usr/bin/env python3
"""Reference next-token log-probabilities and greedy continuations for Loom's model tests.

What it makes: Tests/LoomModelsTests/Fixtures/model_reference_<model>.json, one per real test
model, holding for each prompt
  - `ids`: the prompt's token ids (HF `tokenizers` built from the GGUF vocabulary),
  - `positions`: for every prompt position, the top-5 next-token log-probs (checks the batched
    prompt pass position by position),
  - `top10`: the top-10 next-token log-probs after the whole prompt,
  - `greedy`: a 32-token greedy continuation, with `gaps[i]` = logprob(top1) - logprob(top2) at
    step i (the test compares tokens only up to the first step whose gap is < 0.05, where float
    rounding may legitimately flip the choice).

The reference is an independent float implementation: weights are dequantised by the `gguf`
package's own dequantisers (not Loom's), and the forward pass below is plain numpy in float64,
written from the HF Llama/Qwen2 definitions (REFERENCE.md §1.6/§1.6b). When `llama_cpp`
(llama-cpp-python) is importable the script also cross-checks its top-1 token against llama.cpp on
each prompt and prints the largest log-prob difference (llama.cpp quantises activations to 8 bits,
so ~0.1–0.25 is expected there).

Run (needs `pip install gguf numpy tokenizers`; the models are fetched by Loom into ~/.cache/loom):
    python3 scripts/gen_model_fixtures.py [--models smollm2,qwen2.5-0.5b]
"""
import argparse
import json
import os
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

CACHE = os.environ.get("LOOM_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "loom")
MODELS = {
    "smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-0.5b": "Qwen2.5-Coder-0.5B-Instruct.gguf",
}
PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    ",
    "Bitcoin is a decentralized",
    "<|im_start|>user\nWhat is a blockchain?<|im_end|>\n<|im_start|>assistant\n",
    "1, 2, 3, 4, 5,",
    "Once upon a time, in a small village,",
]
GREEDY_STEPS = 32

QWEN2_REGEX = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
               r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def hf_tokenizer(reader):
    """An HF `tokenizers` BPE tokenizer equivalent to the GGUF's (independent of Loom)."""
    from tokenizers import Tokenizer, Regex, AddedToken, models, pre_tokenizers, decoders
    tokens = field(reader, "tokenizer.ggml.tokens")
    merges = field(reader, "tokenizer.ggml.merges")
    types = field(reader, "tokenizer.ggml.token_type")
    pre = field(reader, "tokenizer.ggml.pre")
    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, ignore_merges=False))
    if pre == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    elif pre == "qwen2":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        raise SystemExit(f"unsupported pre-tokenizer {pre}")
    tok.decoder = decoders.ByteLevel()
    special = [AddedToken(t, special=True, normalized=False)
               for t, ty in zip(tokens, types) if ty in (3, 4)]
    tok.add_special_tokens(special)
    return tok


class Reference:
    """Float64 numpy forward pass of GGUF llama/qwen2 models."""

    def __init__(self, path):
        r = GGUFReader(path)
        self.arch = field(r, "general.architecture")
        a = self.arch
        self.n_layer = int(field(r, f"{a}.block_count"))
        self.n_embd = int(field(r, f"{a}.embedding_length"))
        self.n_head = int(field(r, f"{a}.attention.head_count"))
        self.n_kv = int(field(r, f"{a}.attention.head_count_kv") or self.n_head)
        self.eps = float(field(r, f"{a}.attention.layer_norm_rms_epsilon"))
        self.base = float(field(r, f"{a}.rope.freq_base") or 10000.0)
        self.hd = self.n_embd // self.n_head
        self.tok = hf_tokenizer(r)
        self.add_bos = bool(field(r, "tokenizer.ggml.add_bos_token"))
        self.bos = field(r, "tokenizer.ggml.bos_token_id")
        self.w = {}
        for t in r.tensors:
            # numpy shape is reversed ggml ne: [rows, cols] = [out, in] for matrices.
            arr = dequantize(t.data, t.tensor_type).astype(np.float64)
            self.w[t.name] = arr.reshape([int(x) for x in reversed(t.shape)])
        if "output.weight" not in self.w:
            self.w["output.weight"] = self.w["token_embd.weight"]

    def rms(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, pos):
        # x: [T, heads, hd]. GGUF llama rotates adjacent pairs (2i, 2i+1) because the converter
        # permuted Wq/Wk; qwen2 rotates (i, i + hd/2) (NEOX), REFERENCE.md §1.6.
        hd = self.hd
        inv = self.base ** (-np.arange(0, hd // 2) * 2.0 / hd)
        ang = np.outer(pos, inv)[:, None, :]
        c, s = np.cos(ang), np.sin(ang)
        if self.arch == "llama":
            x0, x1 = x[..., 0::2], x[..., 1::2]
            out = np.empty_like(x)
            out[..., 0::2] = x0 * c - x1 * s
            out[..., 1::2] = x0 * s + x1 * c
        else:
            x0, x1 = x[..., : hd // 2], x[..., hd // 2:]
            out = np.concatenate([x0 * c - x1 * s, x0 * s + x1 * c], axis=-1)
        return out

    def lin(self, x, name, bias=True):
        y = x @ self.w[name + ".weight"].T
        if bias and (name + ".bias") in self.w:
            y = y + self.w[name + ".bias"]
        return y

    def forward(self, ids, cache):
        """Log-probs for each of `ids`, appended after the cached positions."""
        start = cache["n"]
        T = len(ids)
        pos = np.arange(start, start + T)
        x = self.w["token_embd.weight"][ids]
        group = self.n_head // self.n_kv
        for L in range(self.n_layer):
            p = f"blk.{L}."
            h = self.rms(x, self.w[p + "attn_norm.weight"])
            q = self.lin(h, p + "attn_q").reshape(T, self.n_head, self.hd)
            k = self.lin(h, p + "attn_k").reshape(T, self.n_kv, self.hd)
            v = self.lin(h, p + "attn_v").reshape(T, self.n_kv, self.hd)
            q, k = self.rope(q, pos), self.rope(k, pos)
            K = np.concatenate([cache["k"][L], k]) if start else k
            V = np.concatenate([cache["v"][L], v]) if start else v
            cache["k"][L], cache["v"][L] = K, V
            out = np.empty((T, self.n_head, self.hd))
            for hh in range(self.n_head):
                kv = hh // group
                sc = q[:, hh, :] @ K[:, kv, :].T / np.sqrt(self.hd)
                mask = np.arange(K.shape[0])[None, :] > pos[:, None]
                sc[mask] = -np.inf
                sc = sc - sc.max(axis=1, keepdims=True)
                pr = np.exp(sc)
                pr /= pr.sum(axis=1, keepdims=True)
                out[:, hh, :] = pr @ V[:, kv, :]
            x = x + self.lin(out.reshape(T, -1), p + "attn_output")
            h = self.rms(x, self.w[p + "ffn_norm.weight"])
            g = self.lin(h, p + "ffn_gate")
            u = self.lin(h, p + "ffn_up")
            x = x + self.lin(g / (1 + np.exp(-g)) * u, p + "ffn_down")
        cache["n"] = start + T
        logits = self.rms(x, self.w["output_norm.weight"]) @ self.w["output.weight"].T
        m = logits.max(axis=-1, keepdims=True)
        return logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))

    def encode(self, text):
        ids = self.tok.encode(text, add_special_tokens=False).ids
        return ([self.bos] if self.add_bos else []) + ids


def top(lp, n):
    idx = np.argsort(-lp, kind="stable")[:n]
    return [[int(i), float(lp[i])] for i in idx]


def run(name):
    path = os.path.join(CACHE, "models", MODELS[name])
    ref = Reference(path)
    llama = None
    try:
        import llama_cpp
        llama = llama_cpp.Llama(model_path=path, n_ctx=256, logits_all=True, verbose=False)
    except Exception as e:  # optional cross-check only
        print(f"[{name}] llama_cpp cross-check unavailable: {e}", file=sys.stderr)
    cases = []
    for prompt in PROMPTS:
        ids = ref.encode(prompt)
        cache = {"n": 0, "k": [None] * ref.n_layer, "v": [None] * ref.n_layer}
        lp = ref.forward(ids, cache)
        positions = [top(lp[i], 5) for i in range(len(ids))]
        last = lp[-1]
        greedy, gaps = [], []
        cur = last
        for _ in range(GREEDY_STEPS):
            t2 = top(cur, 2)
            greedy.append(t2[0][0])
            gaps.append(t2[0][1] - t2[1][1])
            cur = ref.forward([t2[0][0]], cache)[-1]
        cases.append({"prompt": prompt, "ids": [int(i) for i in ids], "positions": positions,
                      "top10": top(last, 10), "greedy": greedy, "gaps": gaps,
                      "greedy_text": ref.tok.decode(greedy, skip_special_tokens=False)})
        if llama is not None:
            llama.reset()
            llama.eval(ids)
            lc = np.array(llama.scores[len(ids) - 1], dtype=np.float64)
            lc = lc - lc.max() - np.log(np.exp(lc - lc.max()).sum())
            t10 = [i for i, _ in top(last, 10)]
            print(f"[{name}] {prompt!r}: top1 ref {t10[0]} llama.cpp {int(np.argmax(lc))}, "
                  f"max |Δlogprob| on top-10 {np.max(np.abs(lc[t10] - last[t10])):.3f}", file=sys.stderr)
        print(f"[{name}] {prompt!r} -> {cases[-1]['greedy_text']!r}", file=sys.stderr)
    out = {"model": name, "file": MODELS[name], "generator": "scripts/gen_model_fixtures.py",
           "reference": "numpy float64 forward over gguf.quants.dequantize weights", "cases": cases}
    dest = os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomModelsTests", "Fixtures",
                        f"model_reference_{name}.json")
    with open(dest, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=None, separators=(",", ":"))
    print(f"wrote {dest}", file=sys.stderr)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    for m in ap.parse_args().models.split(","):
        run(m)
