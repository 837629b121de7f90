#!/usr/bin/env python3
"""Writes Tests/LoomKernelsTests/Fixtures/ternary_fixtures.json: TQ1_0 and TQ2_0 (llama.cpp's
ternary block types, ids 34 and 35) as the independent references make them.

* "quantize": float rows and the blocks made of them by gguf-py (`gguf.quants.quantize`, the
  numpy port) AND by llama.cpp's own `quantize_row_tq1_0_ref` / `quantize_row_tq2_0_ref`
  (ggml-quants.c from the llama-cpp-python sdist, compiled with gcc as in
  gen_quantize_fixtures.py). The script stops if the two disagree, so the bytes stored are
  both references' (what llama-quantize writes: TQ types take no importance matrix).
  Rows include the corner cases of gen_quantize_fixtures.py and pre-ternarised rows
  ({-s, 0, +s} per block, per row, with zero blocks), which must round-trip exactly.
* "rows": stored blocks with the row dequantised by gguf-py (`gguf.quants.dequantize`), a
  random activation vector x and sum(dequant * x) in float64, in the format of
  quant_fixtures.json, so the RowKernels fixture tests cover the ternary types. Blocks are
  quantised rows and random bytes (every code value, including TQ2_0's unused code 3 and
  TQ1_0 bytes >= 243, which the dequantisers still define).

    python3 scripts/gen_ternary_fixtures.py [--sdist llama_cpp_python-X.tar.gz]

Needs numpy, gguf (0.19) and gcc; deterministic (fixed seed).
"""
import argparse
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize, dequantize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_quantize_fixtures import build_reference, c_quantize, find_sdist, rows as corner_rows  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LoomKernelsTests", "Fixtures",
                   "ternary_fixtures.json")
TYPES = {T.TQ1_0: "tq1_0", T.TQ2_0: "tq2_0"}


def ternary_rows(rng):
    """Rows that are already ternary: {-s, 0, +s} with s per 256-block or per row."""
    n = 1024
    out = {}
    t = rng.integers(-1, 2, n).astype(np.float32)
    s = np.repeat(np.array([0.0173, 1.5, 0.0, 3e-4], dtype=np.float32), 256)
    out["ternary_per_block"] = t * s
    out["ternary_per_row"] = t * np.float32(0.0421)
    out["ternary_fp16_scale"] = t * np.float32(np.float16(0.1234))
    out["ternary_sparse"] = np.where(rng.random(n) < 0.9, 0, t).astype(np.float32) * np.float32(2.5)
    return out


def row_case(name, qtype, raw, rng, source):
    raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1)
    deq = dequantize(raw, qtype).astype(np.float32).reshape(-1)
    x = rng.standard_normal(deq.size).astype(np.float32)
    return {"name": name, "type": qtype.name, "typeId": int(qtype.value), "source": source, "count": int(deq.size),
            "blocks": raw.tobytes().hex(), "dequant": deq.astype("<f4").tobytes().hex(), "x": x.astype("<f4").tobytes().hex(),
            "dot": float(np.sum(deq.astype(np.float64) * x.astype(np.float64)))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdist", help="llama-cpp-python source tarball (downloaded with pip if omitted)")
    args = ap.parse_args()
    rng = np.random.default_rng(20261206)
    lib, source = build_reference(find_sdist(args.sdist))
    cases, rows = [], []
    inputs = dict(corner_rows(rng))
    inputs.update(ternary_rows(rng))
    with np.errstate(all="ignore"):
        for rname, row in inputs.items():
            for qtype, cname in TYPES.items():
                py = quantize(row.reshape(1, -1), qtype).reshape(-1)
                c = c_quantize(lib, cname, qtype, row)
                if not np.array_equal(py, c):
                    sys.exit(f"gguf-py and ggml-quants.c ({source}) differ for {qtype.name} {rname}")
                cases.append({"name": rname, "type": qtype.name, "typeId": int(qtype), "source": f"gguf-py = ggml-quants.c ({source})",
                              "x": row.astype("<f4").tobytes().hex(), "blocks": py.tobytes().hex()})
                if rname in ("gaussian", "outliers", "mixed_scales", "ternary_per_block"):
                    rows.append(row_case(f"{qtype.name} quantised {rname}", qtype, py, rng, "gguf-py"))
        for qtype in TYPES:
            block, size = gguf.GGML_QUANT_SIZES[qtype]
            raw = rng.integers(0, 256, 3 * size, dtype=np.uint8).reshape(3, size)
            # Sane fp16 scales (the last two bytes), one negative.
            d = (rng.uniform(1e-3, 1e-1, 3) * np.array([1, -1, 1])).astype(np.float16)
            raw[:, size - 2:] = d.view(np.uint8).reshape(3, 2)
            rows.append(row_case(f"{qtype.name} random bytes", qtype, raw, rng, "random bytes, gguf-py dequantize"))
    with open(OUT, "w") as f:
        json.dump({"gguf": importlib_version(), "reference": source, "quantize": cases, "rows": rows}, f, indent=0)
    print(f"wrote {len(cases)} quantize cases and {len(rows)} rows to {os.path.normpath(OUT)}")


def importlib_version():
    import importlib.metadata
    return importlib.metadata.version("gguf")


if __name__ == "__main__":
    main()
