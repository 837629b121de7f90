#!/usr/bin/env python3
"""Writes safetensors fixtures with the Python `safetensors` package (pip install safetensors
numpy) into Tests/LoomFormatsTests/Fixtures/safetensors/:

* single.safetensors: F32, F16, BF16, I8, U8, a scalar and an empty tensor, with __metadata__.
* sharded/: model.safetensors.index.json + two shards, as transformers' save_pretrained writes.
* expected.json: for every tensor, dtype, shape and its values as little-endian f32 hex
  (BF16/F16 widened exactly), so the Swift reader is checked against independent bytes.
"""
import argparse
import glob
import json
import os

import numpy as np
from safetensors import serialize_file, TensorSpec

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomFormatsTests", "Fixtures", "safetensors")


def spec(arr, dtype):
    arr = np.require(arr, requirements="C")  # (ascontiguousarray would turn a scalar into shape [1])
    return TensorSpec(dtype=dtype, shape=list(arr.shape), data_ptr=arr.ctypes.data, data_len=arr.nbytes), arr


def bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even (as torch does)."""
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def main():
    os.makedirs(os.path.join(OUT, "sharded"), exist_ok=True)
    rng = np.random.default_rng(6)
    expected = {}
    keep = []

    def add(store, name, values_f32, dtype_name, raw):
        s, arr = spec(raw, dtype_name)
        keep.append(arr)
        store[name] = s
        expected[name] = {"dtype": {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "int8": "I8", "uint8": "U8"}[dtype_name],
                          "shape": list(raw.shape), "values": np.ascontiguousarray(values_f32, dtype=np.float32).tobytes().hex()}

    single = {}
    w = rng.standard_normal((4, 6)).astype(np.float32)
    add(single, "model.layers.0.mlp.up_proj.weight", w, "float32", w)
    h = rng.standard_normal((3, 5)).astype(np.float16)
    add(single, "model.layers.0.self_attn.q_proj.weight", h.astype(np.float32), "float16", h)
    b = rng.standard_normal((2, 8)).astype(np.float32)
    bb = bf16_bits(b)
    add(single, "model.embed_tokens.weight", (bb.astype(np.uint32) << 16).view(np.float32), "bfloat16", bb)
    i8 = rng.integers(-128, 128, (7,)).astype(np.int8)
    add(single, "quant.i8", i8.astype(np.float32), "int8", i8)
    u8 = rng.integers(0, 256, (2, 2, 3)).astype(np.uint8)
    add(single, "quant.u8", u8.astype(np.float32), "uint8", u8)
    sc = np.array(3.25, dtype=np.float32)
    add(single, "scalar", sc.reshape(()), "float32", sc)
    e = np.zeros((0, 4), dtype=np.float32)
    add(single, "empty", e, "float32", e)
    serialize_file(single, os.path.join(OUT, "single.safetensors"), {"format": "pt", "note": "loom fixture"})
    single_names = list(single)

    shard_expected = {}
    shards = [{}, {}]
    names = ["model.norm.weight", "model.layers.0.input_layernorm.weight", "lm_head.weight", "model.layers.1.mlp.down_proj.weight"]
    for i, name in enumerate(names):
        v = rng.standard_normal((3, 4) if "proj" in name or "lm_head" in name else (4,)).astype(np.float32)
        vb = bf16_bits(v)
        add(shards[i % 2], name, (vb.astype(np.uint32) << 16).view(np.float32), "bfloat16", vb)
    files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    weight_map = {}
    for shard, fname in zip(shards, files):
        serialize_file(shard, os.path.join(OUT, "sharded", fname), {"format": "pt"})
        for k in shard:
            weight_map[k] = fname
    total = sum(len(bytes.fromhex(expected[k]["values"])) // 2 for k in weight_map)
    with open(os.path.join(OUT, "sharded", "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"single": {k: expected[k] for k in single_names}, "single_metadata": {"format": "pt", "note": "loom fixture"},
                   "sharded": {k: expected[k] for k in weight_map}}, f, indent=1, sort_keys=True)
    print("wrote", OUT)


def minilm(path):
    """Facts about the real all-MiniLM-L6-v2 model.safetensors (MODELS.md), read with safetensors."""
    from safetensors.numpy import load_file
    tensors = load_file(path)
    facts = {"count": len(tensors), "shapes": {k: list(v.shape) for k, v in tensors.items()},
             "dtypes": {k: {"float32": "F32", "int64": "I64"}[v.dtype.name] for k, v in tensors.items()}, "samples": {}}
    for name in ["embeddings.word_embeddings.weight", "encoder.layer.5.output.dense.bias", "pooler.dense.weight"]:
        v = tensors[name].astype(np.float32).reshape(-1)
        facts["samples"][name] = {"first": v[:8].tobytes().hex(), "last": v[-8:].tobytes().hex(), "sum": float(v.astype(np.float64).sum())}
    with open(os.path.join(OUT, "minilm_expected.json"), "w") as f:
        json.dump(facts, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm", help="path to all-MiniLM-L6-v2 model.safetensors (default: the Loom model cache)")
    args = ap.parse_args()
    main()
    hits = [args.minilm] if args.minilm else glob.glob(os.path.expanduser("~/.cache/loom/models/all-MiniLM-L6-v2.safetensors"))
    if hits:
        minilm(hits[0])
    else:
        print("all-MiniLM-L6-v2 not found; minilm_expected.json not rewritten")
