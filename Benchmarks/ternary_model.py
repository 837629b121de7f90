#!/usr/bin/env python3
"""A random-weight llama of a given shape for ternary benchmarks, quantised to TQ1_0/TQ2_0 by
llama.cpp's own quantiser, so `Benchmarks/peer_bench.py` can run Loom and llama.cpp on the very
same TQ file. The shapes matter for speed and the weights do not (issue #24's speed model):
`--shape bitnet-large` is BitNet b1.58-large's (hidden 1536, FFN 4096, 16 heads, 24 layers),
`--shape llama3-8b` Llama-3-8B's (4096/14336, 32 heads, 8 KV heads, 32 layers).

The F16 source is written with gguf-py (N(0, 0.02) weights, norms 1) with SmolLM2's tokenizer
(the catalog file's vocabulary, 49152 tokens; tied output), then quantised by
`llama_model_quantize` with llama-quantize's default mix for the type (token embedding /
LM head Q6_K, every other matrix TQ). `loom quantize` makes the same bytes (the
RequantizedModelTests fixture checks that on SmolLM2). Files go to <loom cache>/bench/.

    python3 Benchmarks/ternary_model.py --shape bitnet-large --layers 24 --types TQ2_0,TQ1_0
    python3 Benchmarks/peer_bench.py --models <printed paths> --threads 2
pip install gguf numpy llama-cpp-python
"""
import argparse, ctypes, os, sys

import numpy as np
import gguf

SHAPES = {"bitnet-large": (1536, 4096, 16, 16, 24), "llama3-8b": (4096, 14336, 32, 8, 32)}
CACHE = os.environ.get("LOOM_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "loom")
TOKENIZER_SOURCE = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def write_f16(path, hidden, ffn, heads, kv_heads, layers, seed=0):
    src = gguf.GGUFReader(TOKENIZER_SOURCE)
    w = gguf.GGUFWriter(path, "llama")
    w.add_name(f"random-ternary-bench-{hidden}x{ffn}x{layers}")
    w.add_block_count(layers)
    w.add_context_length(4096)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(1)
    for field in src.fields.values():
        if not field.name.startswith("tokenizer."):
            continue
        value = field.contents()
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            w.add_array(field.name, value)
        elif vtype == gguf.GGUFValueType.STRING:
            w.add_string(field.name, value)
        elif vtype == gguf.GGUFValueType.BOOL:
            w.add_bool(field.name, value)
        else:
            w.add_uint32(field.name, int(value))
    vocab = len(src.fields["tokenizer.ggml.tokens"].data)
    rng = np.random.default_rng(seed)

    def matrix(rows, cols):
        return (rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(0.02)).astype(np.float16)

    hd = hidden // heads
    w.add_tensor("token_embd.weight", matrix(vocab, hidden))
    w.add_tensor("output_norm.weight", np.ones(hidden, dtype=np.float32))
    for layer in range(layers):
        p = f"blk.{layer}."
        w.add_tensor(p + "attn_norm.weight", np.ones(hidden, dtype=np.float32))
        w.add_tensor(p + "attn_q.weight", matrix(heads * hd, hidden))
        w.add_tensor(p + "attn_k.weight", matrix(kv_heads * hd, hidden))
        w.add_tensor(p + "attn_v.weight", matrix(kv_heads * hd, hidden))
        w.add_tensor(p + "attn_output.weight", matrix(hidden, heads * hd))
        w.add_tensor(p + "ffn_norm.weight", np.ones(hidden, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", matrix(ffn, hidden))
        w.add_tensor(p + "ffn_up.weight", matrix(ffn, hidden))
        w.add_tensor(p + "ffn_down.weight", matrix(hidden, ffn))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="bitnet-large", choices=sorted(SHAPES))
    ap.add_argument("--layers", type=int, help="override the layer count (fewer layers: a quicker benchmark)")
    ap.add_argument("--types", default="TQ2_0,TQ1_0")
    args = ap.parse_args()
    import llama_cpp as L
    hidden, ffn, heads, kv, layers = SHAPES[args.shape]
    layers = args.layers or layers
    out_dir = os.path.join(CACHE, "bench")
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, f"random-{args.shape}-{layers}L")
    source = stem + ".F16.gguf"
    if not os.path.exists(source):
        write_f16(source + ".tmp", hidden, ffn, heads, kv, layers)
        os.replace(source + ".tmp", source)
    for t in args.types.split(","):
        out = f"{stem}.{t}.gguf"
        if not os.path.exists(out):
            params = L.llama_model_quantize_default_params()
            params.ftype = getattr(L, f"LLAMA_FTYPE_MOSTLY_{t.upper()}")
            params.nthread = os.cpu_count() or 1
            assert L.llama_model_quantize(source.encode(), (out + ".tmp").encode(), ctypes.byref(params)) == 0
            os.replace(out + ".tmp", out)
        print(out)


if __name__ == "__main__":
    main()
