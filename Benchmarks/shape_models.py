#!/usr/bin/env python3
"""Random-weight models at the shapes of the models in Loom's brief (issue #29), quantised by
llama.cpp's own quantiser, so `Benchmarks/peer_bench.py` runs Loom and llama.cpp on the very same
file at real layer shapes. Speed depends on the shapes, not on the weights; a few layers suffice
since tokens/s scales with the layer count (`--layers`).

Shapes (hidden / FFN, query / KV heads, vocabulary, layers of the full model):
  llama3-8b     4096 / 14336, 32 / 8, 128256, 32  (Llama-3-8B: Theia, Gradient)
  qwen2-1.5b    1536 / 8960,  12 / 2, 151936, 28  (Qwen2-1.5B: HEFT-Qwen; q/k/v biases, tied head)
  bitnet-large  1536 / 4096,  16 / 16, 49152, 24  (BitNet b1.58-large's layers, SmolLM2's vocabulary)

The F16 source is written with gguf-py: N(0, 0.02) weights, norms 1, biases N(0, 0.02). The
tokenizer is SmolLM2's (the catalog file's GPT-2 BPE), padded with unreachable
`<|bench_pad_N|>` tokens to the shape's vocabulary, so the embedding and LM head have the real
number of rows (the LM head is a large share of a small model's decode). Each type is then made
by `llama_model_quantize` with llama-quantize's default mix for it (Q4_K_M keeps some Q6_K
matrices, the LM head of the K mixes is Q6_K). Files go to <loom cache>/bench/ and are never
committed.

    python3 Benchmarks/shape_models.py --shape llama3-8b --layers 4 --types Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,F16
    python3 Benchmarks/peer_bench.py --models <printed paths> --threads 1,2 -p 512 -n 128
pip install gguf numpy llama-cpp-python
"""
import argparse, ctypes, os

import numpy as np
import gguf

# name: (hidden, ffn, heads, kv_heads, vocab, layers, qkv_bias, tied_output)
SHAPES = {
    "llama3-8b": (4096, 14336, 32, 8, 128256, 32, False, False),
    "qwen2-1.5b": (1536, 8960, 12, 2, 151936, 28, True, True),
    "bitnet-large": (1536, 4096, 16, 16, 49152, 24, False, True),
}
CACHE = os.environ.get("LOOM_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "loom")
TOKENIZER_SOURCE = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def copy_tokenizer(src, w, vocab):
    """SmolLM2's tokenizer fields, the token list padded to `vocab` entries."""
    tokens = [bytes(src.fields["tokenizer.ggml.tokens"].parts[i]).decode("utf-8")
              for i in src.fields["tokenizer.ggml.tokens"].data]
    assert vocab >= len(tokens), f"vocabulary {vocab} below the tokenizer's {len(tokens)}"
    pad = vocab - len(tokens)
    for field in src.fields.values():
        if not field.name.startswith("tokenizer."):
            continue
        value = field.contents()
        vtype = field.types[0]
        if field.name == "tokenizer.ggml.tokens":
            w.add_array(field.name, tokens + [f"<|bench_pad_{i}|>" for i in range(pad)])
        elif field.name == "tokenizer.ggml.token_type":
            w.add_array(field.name, list(value) + [int(gguf.TokenType.USER_DEFINED)] * pad)
        elif field.name == "tokenizer.ggml.scores":
            w.add_array(field.name, list(value) + [0.0] * pad)
        elif vtype == gguf.GGUFValueType.ARRAY:
            w.add_array(field.name, value)
        elif vtype == gguf.GGUFValueType.STRING:
            w.add_string(field.name, value)
        elif vtype == gguf.GGUFValueType.BOOL:
            w.add_bool(field.name, value)
        else:
            w.add_uint32(field.name, int(value))


def write_f16(path, dims, layers, name, seed=0):
    """An F16 model of `dims` (a ``SHAPES`` value) with `layers` layers at `path`
    (Benchmarks/ternary_model.py writes its sources with it too)."""
    hidden, ffn, heads, kv_heads, vocab, _, qkv_bias, tied = dims
    src = gguf.GGUFReader(TOKENIZER_SOURCE)
    arch = "qwen2" if qkv_bias else "llama"
    w = gguf.GGUFWriter(path, arch)
    w.add_name(name)
    w.add_block_count(layers)
    w.add_context_length(8192)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(1e-6 if qkv_bias else 1e-5)
    w.add_rope_freq_base(1000000.0 if qkv_bias else 500000.0)
    w.add_file_type(1)
    copy_tokenizer(src, w, vocab)
    rng = np.random.default_rng(seed)

    def matrix(rows, cols):
        return (rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(0.02)).astype(np.float16)

    def vector(n):
        return rng.standard_normal(n, dtype=np.float32) * np.float32(0.02)

    hd = hidden // heads
    w.add_tensor("token_embd.weight", matrix(vocab, hidden))
    w.add_tensor("output_norm.weight", np.ones(hidden, dtype=np.float32))
    if not tied:
        w.add_tensor("output.weight", matrix(vocab, hidden))
    for layer in range(layers):
        p = f"blk.{layer}."
        w.add_tensor(p + "attn_norm.weight", np.ones(hidden, dtype=np.float32))
        w.add_tensor(p + "attn_q.weight", matrix(heads * hd, hidden))
        w.add_tensor(p + "attn_k.weight", matrix(kv_heads * hd, hidden))
        w.add_tensor(p + "attn_v.weight", matrix(kv_heads * hd, hidden))
        if qkv_bias:
            w.add_tensor(p + "attn_q.bias", vector(heads * hd))
            w.add_tensor(p + "attn_k.bias", vector(kv_heads * hd))
            w.add_tensor(p + "attn_v.bias", vector(kv_heads * hd))
        w.add_tensor(p + "attn_output.weight", matrix(hidden, heads * hd))
        w.add_tensor(p + "ffn_norm.weight", np.ones(hidden, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", matrix(ffn, hidden))
        w.add_tensor(p + "ffn_up.weight", matrix(ffn, hidden))
        w.add_tensor(p + "ffn_down.weight", matrix(hidden, ffn))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def quantize(source, out, type_name):
    """`out` from `source` by llama.cpp's quantiser with llama-quantize's mix for `type_name`."""
    import llama_cpp as L
    params = L.llama_model_quantize_default_params()
    params.ftype = getattr(L, f"LLAMA_FTYPE_MOSTLY_{type_name.upper()}")
    params.nthread = os.cpu_count() or 1
    assert L.llama_model_quantize(source.encode(), (out + ".tmp").encode(), ctypes.byref(params)) == 0, type_name
    os.replace(out + ".tmp", out)


def models(shape, layers, types):
    """The paths of `shape` with `layers` layers in each of `types`, made when missing."""
    out_dir = os.path.join(CACHE, "bench")
    os.makedirs(out_dir, exist_ok=True)
    # "shape-", not ternary_model.py's "random-": that script's llama3-8b has SmolLM2's vocabulary.
    stem = os.path.join(out_dir, f"shape-{shape}-{layers}L")
    source = stem + ".F16.gguf"
    if not os.path.exists(source):
        write_f16(source + ".tmp", SHAPES[shape], layers, f"random-{shape}-{layers}L")
        os.replace(source + ".tmp", source)
    paths = []
    for t in types:
        out = f"{stem}.{t}.gguf"
        if not os.path.exists(out):
            quantize(source, out, t)
        paths.append(out)
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="llama3-8b", choices=sorted(SHAPES))
    ap.add_argument("--layers", type=int, help="override the layer count (fewer layers: a quicker benchmark)")
    ap.add_argument("--types", default="Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,F16")
    args = ap.parse_args()
    layers = args.layers or SHAPES[args.shape][5]
    for path in models(args.shape, layers, args.types.split(",")):
        print(path)


if __name__ == "__main__":
    main()
