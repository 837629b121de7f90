#!/usr/bin/env python3
"""Random-weight models at the shapes of the models in Loom's brief (issue #29), quantised by
llama.cpp's own quantiser, so `Benchmarks/peer_bench.py` runs Loom and llama.cpp on the very same
file at real layer shapes. Speed depends on the shapes, not on the weights; a few layers suffice
since tokens/s scales with the layer count (`--layers`).

Shapes (hidden / FFN, query / KV heads, vocabulary, layers of the full model):
  llama3-8b     4096 / 14336, 32 / 8, 128256, 32  (Llama-3-8B: Theia, Gradient)
  qwen2-1.5b    1536 / 8960,  12 / 2, 151936, 28  (Qwen2-1.5B: HEFT-Qwen; q/k/v biases, tied head)
  bitnet-large  1536 / 4096,  16 / 16, 49152, 24  (BitNet b1.58-large's layers, SmolLM2's vocabulary)

The F16 source is written by Loom itself (`loom bench --write-shape SHAPE --layers N -o FILE`,
`BenchmarkShape` in LoomFormats): N(0, 0.02) weights, norms 1, biases N(0, 0.02). The tokenizer
is SmolLM2's (the catalog file's GPT-2 BPE), padded with unreachable `<|bench_pad_N|>` tokens to
the shape's vocabulary, so the embedding and LM head have the real number of rows (the LM head
is a large share of a small model's decode). Each type is then made
by `llama_model_quantize` with llama-quantize's default mix for it (Q4_K_M keeps some Q6_K
matrices, the LM head of the K mixes is Q6_K). Files go to <loom cache>/bench/ and are never
committed.

    python3 Benchmarks/shape_models.py --shape llama3-8b --layers 4 --types Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,F16
    python3 Benchmarks/peer_bench.py --models <printed paths> --threads 1,2 -p 512 -n 128
swift build -c release; pip install llama-cpp-python
"""
import argparse, ctypes, os, subprocess, sys

# name: (hidden, ffn, heads, kv_heads, vocab, layers, qkv_bias, tied_output)
SHAPES = {
    "llama3-8b": (4096, 14336, 32, 8, 128256, 32, False, False),
    "qwen2-1.5b": (1536, 8960, 12, 2, 151936, 28, True, True),
    "bitnet-large": (1536, 4096, 16, 16, 49152, 24, False, True),
}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOOM = os.path.join(ROOT, ".build", "release", "loom")
CACHE = os.environ.get("LOOM_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "loom")
TOKENIZER_SOURCE = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def write_f16(path, shape, layers, extra=()):
    """An F16 model of `shape` (a ``SHAPES`` key) with `layers` layers at `path`, written by
    Loom's own GGUF writer (`loom bench --write-shape`), with SmolLM2's tokenizer padded to the
    shape's vocabulary (Benchmarks/ternary_model.py writes its sources with it too)."""
    if not os.path.exists(LOOM):
        sys.exit("build Loom first: swift build -c release")
    subprocess.run([LOOM, "bench", "--write-shape", shape, "--layers", str(layers), "-m", TOKENIZER_SOURCE,
                    "-o", path, *extra], check=True)


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
        write_f16(source, shape, layers)
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
