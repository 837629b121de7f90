#!/usr/bin/env python3
"""Generate Tests/LoomKernelsTests/Fixtures/quant_fixtures.json.

What it makes
-------------
Expected values for LoomKernels' block-format kernels and fp16/bf16 conversions, computed
by an independent implementation: the `gguf` Python package (gguf-py, ggml's reference
quantisers/dequantisers in numpy) and numpy itself.

* "rows": one entry per case with the raw stored bytes of a row, the row dequantised by
  `gguf.quants.dequantize`, a random float32 activation vector x and the dot product
  sum(dequant * x) accumulated in float64.
  - F32/F16/BF16/Q4_0/Q4_1/Q5_0/Q5_1/Q8_0: random floats quantised with `gguf.quants.quantize`
    (a few blocks, including an all-zero block and a block with one large outlier).
  - Q2_K/Q3_K/Q4_K/Q5_K/Q6_K: gguf-py cannot quantise these, so the blocks are random bytes
    with sane fp16 super-block scales (|d| in [1e-3, 1e-1], random sign).
  - Real blocks taken from the two test models (SmolLM2-135M Q4_1/Q8_0, Qwen2.5-Coder-0.5B
    Q5_0/Q8_0/Q4_K/Q6_K/F32), read with `gguf.GGUFReader`.
* "halfToFloat", "floatToHalf", "bf16ToFloat", "floatToBF16": [input bits, output bits]
  pairs for edge cases (zeros, subnormals, min/max normal, overflow, ties to even, inf,
  NaN) and random values. fp16 results come from numpy's float16 casts (round to nearest
  even); floatToBF16 comes from gguf-py's BF16 quantiser, which mirrors ggml's
  `ggml_compute_fp32_to_bf16` including its NaN rule.

All float arrays are stored as little-endian float32 bytes in hex, so the Swift tests can
compare bit for bit; "dot" is a JSON double.

How to run
----------
    python3 scripts/gen_quant_fixtures.py            # needs numpy, gguf (0.19) and the models
    python3 scripts/gen_quant_fixtures.py --skip-model-blocks   # without the model files

The models are looked up like the Swift tests do: $LOOM_CACHE, else $XDG_CACHE_HOME/loom,
else ~/.cache/loom, plus /models/<file>. Output is deterministic (fixed seed).
"""

import argparse
import importlib.metadata
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize, dequantize

SEED = 20250101
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LoomKernelsTests", "Fixtures",
                   "quant_fixtures.json")

# Byte offsets of the fp16 super-block scales inside each K-quant block (REFERENCE.md §1.3).
K_QUANTS = {
    T.Q2_K: (84, [80, 82]),
    T.Q3_K: (110, [108]),
    T.Q4_K: (144, [0, 2]),
    T.Q5_K: (176, [0, 2]),
    T.Q6_K: (210, [208]),
}


def f32hex(a):
    return np.ascontiguousarray(a, dtype="<f4").tobytes().hex()


def row_case(name, qtype, raw, rng, source):
    raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1)
    deq = dequantize(raw, qtype).astype(np.float32).reshape(-1)
    x = rng.standard_normal(deq.size).astype(np.float32)
    dot = float(np.sum(deq.astype(np.float64) * x.astype(np.float64)))
    return {
        "name": name,
        "type": qtype.name,
        "typeId": int(qtype.value),
        "source": source,
        "count": int(deq.size),
        "blocks": raw.tobytes().hex(),
        "dequant": f32hex(deq),
        "x": f32hex(x),
        "dot": dot,
    }


def random_weights(rng, n, block):
    """Gaussian weights with per-block magnitudes, one all-zero block and one outlier block."""
    w = rng.standard_normal(n).astype(np.float32)
    blocks = n // block
    w *= np.repeat(10.0 ** rng.uniform(-3, 0, blocks), block).astype(np.float32)
    if blocks >= 3:
        w[block:2 * block] = 0.0                      # d = 0 path
        w[2 * block + 5] = 37.5                       # one large outlier dominates the scale
    return w


def simple_cases(rng):
    cases = []
    for qtype, blocks in [(T.Q4_0, 8), (T.Q4_1, 8), (T.Q5_0, 8), (T.Q5_1, 8), (T.Q8_0, 8)]:
        w = random_weights(rng, 32 * blocks, 32)
        cases.append(row_case(f"{qtype.name} random", qtype, quantize(w, qtype).view(np.uint8), rng,
                              "gguf.quants.quantize of random floats"))
    # Unquantised types: an odd length exercises the kernels' scalar tails.
    for qtype, n in [(T.F32, 77), (T.F16, 77), (T.BF16, 77), (T.F16, 256), (T.BF16, 256)]:
        w = (rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 1, n)).astype(np.float32)
        raw = quantize(w, qtype) if qtype != T.F32 else w
        cases.append(row_case(f"{qtype.name} random {n}", qtype, np.asarray(raw).view(np.uint8), rng,
                              "gguf.quants.quantize of random floats"))
    # Subnormal halves in an F16 row (their decode is the least obvious part of fp16).
    sub = rng.integers(1, 0x400, 64, dtype=np.uint16) | (rng.integers(0, 2, 64, dtype=np.uint16) << 15)
    cases.append(row_case("F16 subnormals", T.F16, sub.view(np.uint8), rng, "random subnormal fp16 bit patterns"))
    return cases


def k_quant_cases(rng):
    cases = []
    for qtype, (nbytes, half_offsets) in K_QUANTS.items():
        blocks = 3
        raw = rng.integers(0, 256, (blocks, nbytes), dtype=np.uint8)
        for b in range(blocks):
            for off in half_offsets:
                d = np.float16(rng.choice([-1.0, 1.0]) * 10.0 ** rng.uniform(-3, -1))
                raw[b, off:off + 2] = np.frombuffer(d.tobytes(), dtype=np.uint8)
        cases.append(row_case(f"{qtype.name} random bytes", qtype, raw, rng,
                              "random block bytes, fp16 scales |d| in [1e-3, 1e-1]"))
    return cases


def cache_dir():
    if os.environ.get("LOOM_CACHE"):
        return os.environ["LOOM_CACHE"]
    if os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.environ["XDG_CACHE_HOME"], "loom")
    return os.path.expanduser("~/.cache/loom")


def model_cases(rng):
    picks = [
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "blk.0.ffn_down.weight", 2),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "token_embd.weight", 2),
        ("Qwen2.5-Coder-0.5B-Instruct.gguf", "blk.0.ffn_gate.weight", 2),
        ("Qwen2.5-Coder-0.5B-Instruct.gguf", "blk.0.attn_v.weight", 2),
        ("Qwen2.5-Coder-0.5B-Instruct.gguf", "blk.11.ffn_down.weight", 2),
        ("Qwen2.5-Coder-0.5B-Instruct.gguf", "blk.0.ffn_down.weight", 2),
        ("Qwen2.5-Coder-0.5B-Instruct.gguf", "blk.0.attn_norm.weight", 64),
    ]
    cases = []
    readers = {}
    for file, tensor, blocks in picks:
        path = os.path.join(cache_dir(), "models", file)
        if not os.path.exists(path):
            sys.exit(f"missing model file {path} (run with --skip-model-blocks to leave these cases out)")
        reader = readers.setdefault(path, gguf.GGUFReader(path))
        t = next(t for t in reader.tensors if t.name == tensor)
        block_size, type_size = gguf.GGML_QUANT_SIZES[t.tensor_type]
        row = np.asarray(t.data).view(np.uint8).reshape(-1)
        # Row 3 (or the start, for a 1-D tensor), first `blocks` blocks.
        row_bytes = int(t.shape[0]) // block_size * type_size
        start = 3 * row_bytes if len(t.shape) > 1 else 0
        raw = row[start:start + blocks * type_size]
        cases.append(row_case(f"{t.tensor_type.name} {file} {tensor}", t.tensor_type, raw, rng,
                              f"{file}: {tensor} row {3 if len(t.shape) > 1 else 0}, first {blocks} blocks"))
    return cases


def half_edge_inputs(rng):
    h = [0x0000, 0x8000, 0x0001, 0x8001, 0x0002, 0x03FF, 0x83FF, 0x0400, 0x8400, 0x3C00, 0xBC00, 0x3BFF,
         0x3C01, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0x7DFF, 0x7FFF, 0xFFFF, 0x3555, 0x0200]
    h += list(rng.integers(0, 0x10000, 300))
    return np.array(h, dtype=np.uint16)


def float_to_half_inputs(rng):
    f = [0.0, -0.0, 1.0, -1.0, 0.5, 65504.0, 65519.0, 65519.996, 65520.0, -65520.0, 65536.0, 1e10, -1e10,
         float("inf"), float("-inf"), 2.0 ** -24, -(2.0 ** -24), 2.0 ** -25, 1.5 * 2.0 ** -24, 2.5 * 2.0 ** -24,
         3.5 * 2.0 ** -24, 2.0 ** -14, 2.0 ** -14 - 2.0 ** -25, 2.0 ** -14 - 2.0 ** -24, 1 + 2.0 ** -11,
         1 + 3 * 2.0 ** -11, 1 + 2.0 ** -11 + 2.0 ** -23, 1 - 2.0 ** -12, 3.14159265, 1e-40, -1e-45,
         3.4028234663852886e38, 1e-8, 2.0 ** -26]
    f = np.array(f, dtype=np.float32)
    bits = [f.view(np.uint32)]
    # Exact midpoints between neighbouring halves (ties), and one float ulp either side.
    h = rng.integers(0, 0x7BFF, 150).astype(np.uint16) | (rng.integers(0, 2, 150).astype(np.uint16) << 15)
    lo = h.view(np.float16).astype(np.float64)
    hi = (h + 1).astype(np.uint16).view(np.float16).astype(np.float64)
    mid = ((lo + hi) / 2).astype(np.float32)   # exact: 12 significant bits
    bits += [mid.view(np.uint32), mid.view(np.uint32) + 1, mid.view(np.uint32) - 1]
    bits.append(rng.integers(0, 2 ** 32, 300, dtype=np.uint64).astype(np.uint32))
    # NaNs (quiet, signalling, negative); only NaN-ness and sign are compared for these.
    bits.append(np.array([0x7FC00000, 0x7F800001, 0xFFC00001, 0x7FA00000], dtype=np.uint32))
    return np.concatenate(bits).astype(np.uint32)


def bf16_inputs(rng):
    u = [0x3F800000, 0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF, 0x7F7FFFFF, 0x7F7F7FFF, 0x7F7F8000,
         0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFF812345, 0x7FFFFFFF, 0x00008000,
         0x00018000, 0x00000001, 0x80000000, 0x00000000, 0x80008001]
    return np.concatenate([np.array(u, dtype=np.uint32),
                           rng.integers(0, 2 ** 32, 400, dtype=np.uint64).astype(np.uint32)])


def conversion_cases(rng):
    h = half_edge_inputs(rng)
    half_to_float = h.view(np.float16).astype(np.float32).view(np.uint32)
    f = float_to_half_inputs(rng)
    with np.errstate(over="ignore", invalid="ignore"):
        float_to_half = f.view(np.float32).astype(np.float16).view(np.uint16)
    b = bf16_inputs(rng)
    float_to_bf16 = np.asarray(quantize(b.view(np.float32), T.BF16)).view(np.uint16)
    bh = rng.integers(0, 0x10000, 200).astype(np.uint16)
    bf16_to_float = np.asarray(dequantize(bh.view(np.uint8), T.BF16)).astype(np.float32).view(np.uint32)
    pairs = lambda a, r: [[int(x), int(y)] for x, y in zip(a, r)]
    return {
        "halfToFloat": pairs(h, half_to_float),
        "floatToHalf": pairs(f, float_to_half),
        "bf16ToFloat": pairs(bh, bf16_to_float),
        "floatToBF16": pairs(b, float_to_bf16),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-model-blocks", action="store_true", help="leave out the blocks read from the test models")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    rows = simple_cases(rng) + k_quant_cases(rng)
    if not args.skip_model_blocks:
        rows += model_cases(rng)
    fixture = {
        "generator": "scripts/gen_quant_fixtures.py",
        "gguf": importlib.metadata.version("gguf"),
        "numpy": np.__version__,
        "rows": rows,
        **conversion_cases(rng),
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fp:
        json.dump(fixture, fp, separators=(",", ":"))
        fp.write("\n")
    print(f"wrote {args.out}: {len(rows)} rows, {os.path.getsize(args.out) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
