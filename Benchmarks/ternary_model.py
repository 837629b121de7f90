#!/usr/bin/env python3
"""A random-weight llama of a given shape for ternary benchmarks, quantised to TQ1_0/TQ2_0 by
llama.cpp's own quantiser, so `Benchmarks/peer_bench.py` can run Loom and llama.cpp on the very
same TQ file. The shapes matter for speed and the weights do not (issue #24's speed model):
`--shape bitnet-large` is BitNet b1.58-large's (hidden 1536, FFN 4096, 16 heads, 24 layers),
`--shape llama3-8b` Llama-3-8B's (4096/14336, 32 heads, 8 KV heads, 32 layers).

The F16 source is written by Loom (`loom bench --write-shape`, through Benchmarks/shape_models.py;
N(0, 0.02) weights, norms 1) with SmolLM2's tokenizer (the catalog file's vocabulary, 49152
tokens; tied output), then quantised by
`llama_model_quantize` with llama-quantize's default mix for the type (token embedding /
LM head Q6_K, every other matrix TQ). `loom quantize` makes the same bytes (the
RequantizedModelTests fixture checks that on SmolLM2). Files go to <loom cache>/bench/.

    python3 Benchmarks/ternary_model.py --shape bitnet-large --layers 24 --types TQ2_0,TQ1_0
    python3 Benchmarks/peer_bench.py --models <printed paths> --threads 2
swift build -c release; pip install llama-cpp-python
"""
import argparse, os

import shape_models

SHAPES = {"bitnet-large": 24, "llama3-8b": 32}  # full layer counts
CACHE = shape_models.CACHE


def write_f16(path, shape, layers):
    """The F16 source: Benchmarks/shape_models.py's writer with SmolLM2's vocabulary and a tied head."""
    shape_models.write_f16(path, shape, layers, extra=("--vocabulary", "49152", "--tied-output"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="bitnet-large", choices=sorted(SHAPES))
    ap.add_argument("--layers", type=int, help="override the layer count (fewer layers: a quicker benchmark)")
    ap.add_argument("--types", default="TQ2_0,TQ1_0")
    args = ap.parse_args()
    layers = args.layers or SHAPES[args.shape]
    out_dir = os.path.join(CACHE, "bench")
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, f"random-{args.shape}-{layers}L")
    source = stem + ".F16.gguf"
    if not os.path.exists(source):
        write_f16(source, args.shape, layers)
    for t in args.types.split(","):
        out = f"{stem}.{t}.gguf"
        if not os.path.exists(out):
            shape_models.quantize(source, out, t)
        print(out)


if __name__ == "__main__":
    main()
