#!/usr/bin/env python3
"""Writes Tests/LoomModelsTests/Fixtures/ternary_synthetic_reference.json: reference log-probs of
the tiny synthetic llama of Tests/LoomModelsTests/SyntheticModel.swift (embedding 256, 4 heads,
2 KV heads, FFN 512, 2 layers, tied output) quantised to TQ1_0 and TQ2_0 (`--pure`: every
matrix, token embedding included), computed independently of Loom:

  1. the F32 weights are regenerated here with SyntheticModel's generator (a 64-bit LCG,
     value = (top 24 bits / 2^24 - 0.5) * 2 * 0.2 in float32, tensors in SyntheticModel's order);
  2. every matrix is quantised with gguf-py (`gguf.quants.quantize`; byte-identical to
     llama.cpp's quantize_row_tq*_ref, see gen_ternary_fixtures.py) and its SHA-256 stored, so
     the Swift test can check that Loom's writer + quantiser made the very same tensors;
  3. the matrices are dequantised with gguf-py and run through the float64 numpy forward pass
     of gen_model_fixtures.py (`Reference`, written from the HF Llama definition).

For a fixed token sequence (a prompt of 18 ids, then 3 more fed one at a time) it stores the
full log-prob vector after the prompt and after each later token.

It also writes the same model (same tensors, SyntheticModel's metadata and byte tokenizer) as a
GGUF with gguf-py and lets llama.cpp (llama-cpp-python) continue the prompt greedily for
GREEDY_TOKENS tokens: "llamacpp_greedy". There the token embedding (the tied LM head) stays F32, as
BitNet keeps it in high precision: a ternary head with one absmax scale per 256 weights maps most
rows to the same few codes and ties whole groups of logits, which two engines break differently.
Both with an F32 and with an F16 KV cache (llama.cpp's default); the two differ from token 21 on.
"llamacpp_gaps" holds llama.cpp's top-1/top-2 logit gap at each step of each path
("llamacpp_min_gap") so a reader can see how far from a tie each choice was.

    python3 scripts/gen_ternary_model_fixtures.py     # needs numpy, gguf (0.19), llama-cpp-python (0.3.36)
"""
import hashlib
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize, dequantize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_model_fixtures import Reference  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LoomModelsTests", "Fixtures",
                   "ternary_synthetic_reference.json")
EMBD, HEADS, KV, FF, LAYERS, VOCAB = 256, 4, 2, 512, 2, 258
IDS = [72, 101, 108, 108, 111, 32, 116, 101, 114, 110, 97, 114, 121, 32, 119, 111, 114, 108]
MORE = [100, 33, 10]
GREEDY_TOKENS = 24


class LCG:
    def __init__(self, seed=1):
        self.seed = seed

    def random(self, count, scale=0.2):
        out = np.empty(count, dtype=np.float32)
        s = self.seed
        for i in range(count):
            s = (s * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
            out[i] = (np.float32(s >> 40) / np.float32(1 << 24) - np.float32(0.5)) * np.float32(2) * np.float32(scale)
        self.seed = s
        return out


def tensors():
    """(name, ggml dims) in SyntheticModel.write's order (tied output, no biases)."""
    hd = EMBD // HEADS
    yield "token_embd.weight", [EMBD, VOCAB]
    yield "output_norm.weight", [EMBD]
    for layer in range(LAYERS):
        p = f"blk.{layer}."
        yield p + "attn_norm.weight", [EMBD]
        yield p + "attn_q.weight", [EMBD, HEADS * hd]
        yield p + "attn_k.weight", [EMBD, KV * hd]
        yield p + "attn_v.weight", [EMBD, KV * hd]
        yield p + "attn_output.weight", [HEADS * hd, EMBD]
        yield p + "ffn_norm.weight", [EMBD]
        yield p + "ffn_gate.weight", [EMBD, FF]
        yield p + "ffn_up.weight", [EMBD, FF]
        yield p + "ffn_down.weight", [FF, EMBD]


def reference(weights):
    ref = Reference.__new__(Reference)
    ref.arch, ref.n_layer, ref.n_embd, ref.n_head, ref.n_kv = "llama", LAYERS, EMBD, HEADS, KV
    ref.eps, ref.base, ref.hd = 1e-5, 10000.0, EMBD // HEADS
    ref.w = dict(weights)
    ref.w["output.weight"] = ref.w["token_embd.weight"]
    return ref


def byte_tokens():
    """SyntheticModel.tokens: 256 byte tokens in GPT-2's byte-to-unicode order plus two controls."""
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    mapping, extra = {}, 256
    for b in range(256):
        if b in printable:
            mapping[b] = b
        else:
            mapping[b] = extra
            extra += 1
    return [chr(mapping[b]) for b in range(256)] + ["<|im_start|>", "<|im_end|>"]


def llamacpp_greedy(floats, qtype, directory):
    """llama.cpp's greedy continuation of IDS on the model quantised to `qtype` (every matrix)."""
    import gguf
    from llama_cpp import Llama
    path = os.path.join(directory, f"synthetic-{qtype.name}.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("synthetic-llama")
    w.add_block_count(LAYERS)
    w.add_context_length(64)
    w.add_embedding_length(EMBD)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    tokens = byte_tokens()
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([1 if i < 256 else 3 for i in range(len(tokens))])
    w.add_token_merges(["Ġ t"])
    w.add_eos_token_id(257)
    for name, dims, values in floats:
        if len(dims) == 1 or name == "token_embd.weight":
            w.add_tensor(name, values.reshape(list(reversed(dims))))
        else:
            q = quantize(values.reshape(dims[1], dims[0]), qtype)
            w.add_tensor(name, q, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    result = {}
    for cache, ggml_type in (("f32", 0), ("f16", 1)):
        llm = Llama(model_path=path, n_ctx=64, n_threads=2, n_batch=64, logits_all=True, verbose=False,
                    type_k=ggml_type, type_v=ggml_type)
        llm.eval(IDS)
        out, gaps = [], []
        for _ in range(GREEDY_TOKENS):
            logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
            top = np.argsort(logits)[::-1][:2]
            gaps.append(float(logits[top[0]] - logits[top[1]]))
            out.append(int(top[0]))
            llm.eval([int(top[0])])
        result[cache] = (out, gaps)
        del llm
    os.remove(path)
    return result


def main():
    rng = LCG()
    floats = [(name, dims, rng.random(int(np.prod(dims)))) for name, dims in tensors()]
    result = {"ids": IDS, "more": MORE, "types": {}}
    for qtype in (T.TQ1_0, T.TQ2_0):
        weights, hashes = {}, {}
        for name, dims, values in floats:
            if len(dims) == 1:
                weights[name] = values.astype(np.float64)
                continue
            rows = values.reshape(dims[1], dims[0])
            q = quantize(rows, qtype)
            hashes[name] = hashlib.sha256(q.tobytes()).hexdigest()
            weights[name] = dequantize(q, qtype).reshape(dims[1], dims[0]).astype(np.float64)
        ref = reference(weights)
        cache = {"n": 0, "k": [None] * LAYERS, "v": [None] * LAYERS}
        steps = [ref.forward(IDS, cache)[-1]]
        for token in MORE:
            steps.append(ref.forward([token], cache)[-1])
        result["types"][qtype.name] = {"sha256": hashes, "logprobs": [[float(v) for v in s] for s in steps]}
        import tempfile
        import llama_cpp
        with tempfile.TemporaryDirectory() as directory:
            greedy = llamacpp_greedy(floats, qtype, directory)
        result["types"][qtype.name] |= {"llamacpp_greedy": {cache: tokens for cache, (tokens, _) in greedy.items()},
                                        "llamacpp_gaps": {cache: gaps for cache, (_, gaps) in greedy.items()}}
        result["llama_cpp_python"] = llama_cpp.__version__
        print(qtype.name, "llama.cpp greedy", greedy)
    with open(OUT, "w") as f:
        json.dump(result, f, indent=0)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
