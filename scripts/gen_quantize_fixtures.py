#!/usr/bin/env python3
"""Writes Tests/LoomKernelsTests/Fixtures/quantize_fixtures.json: float rows and the blocks
the independent reference quantisers make of them.

* Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: `gguf.quants.quantize` (pip install gguf numpy) — Loom's
  quantisers must reproduce these bytes exactly.
* Q2_K … Q6_K: llama.cpp's own `quantize_row_q*_K_ref` from ggml-quants.c, compiled here with
  gcc into a small shared library and called through ctypes. The C source comes from the
  llama-cpp-python source distribution on PyPI (which vendors llama.cpp):

      pip download --no-deps --no-binary :all: llama-cpp-python   # or pass --sdist PATH

  It is compiled with -ffp-contract=off, so every float operation is rounded separately, as
  in Loom's Swift port; the bytes are then the reference's exactly. (Builds of llama.cpp with
  -march=native may fuse multiply-adds and differ in rare last-bit ties; that is why the
  tests also check the round-trip error.) The same library's Q4_0…Q8_0 reference functions
  are checked against gguf-py here, as a sanity check of the harness.

Inputs are stored as little-endian f32 bytes in hex, blocks as hex.
"""
import argparse
import ctypes
import glob
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomKernelsTests", "Fixtures",
                   "quantize_fixtures.json")

STUBS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
void ggml_abort(const char *file, int line, const char *fmt, ...) { fprintf(stderr, "abort %s:%d\n", file, line); abort(); }
size_t ggml_row_size(int type, long long ne) { (void)type; (void)ne; abort(); }
const char *ggml_type_name(int type) { (void)type; return "?"; }
size_t ggml_type_size(int type) { (void)type; abort(); }
"""


def find_sdist(path):
    if path:
        return path
    hits = glob.glob("/tmp/**/llama_cpp_python-*.tar.gz", recursive=True)
    if hits:
        return hits[0]
    d = tempfile.mkdtemp()
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                           "--no-build-isolation", "-d", d, "llama-cpp-python"])
    return glob.glob(os.path.join(d, "llama_cpp_python-*.tar.gz"))[0]


def build_reference(sdist):
    work = tempfile.mkdtemp()
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/vendor/llama.cpp/ggml/" in m.name]
        tar.extractall(work, members=members)
    ggml = glob.glob(os.path.join(work, "*", "vendor", "llama.cpp", "ggml"))[0]
    stubs = os.path.join(work, "stubs.c")
    with open(stubs, "w") as f:
        f.write(STUBS)
    lib = os.path.join(work, "ggml_quants_ref.so")
    subprocess.check_call(["gcc", "-O2", "-ffp-contract=off", "-fPIC", "-shared",
                           "-I", os.path.join(ggml, "include"), "-I", os.path.join(ggml, "src"),
                           os.path.join(ggml, "src", "ggml-quants.c"), stubs, "-o", lib, "-lm"])
    return ctypes.CDLL(lib), os.path.basename(sdist)


def c_quantize(lib, name, qtype, row):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    row = np.ascontiguousarray(row, dtype=np.float32)
    out = np.zeros(len(row) // block * size, dtype=np.uint8)
    fn = getattr(lib, f"quantize_row_{name}_ref")
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn(row.ctypes.data, out.ctypes.data, len(row))
    return out


def rows(rng):
    """Named test rows: ordinary weights and the corner cases of each quantiser."""
    n = 512
    g = rng.standard_normal(n).astype(np.float32)
    out = {
        "gaussian": g * np.float32(0.02),
        "gaussian_unit": g.copy(),
        "outliers": np.where(rng.random(n) < 0.01, g * 40, g).astype(np.float32) * np.float32(0.05),
        "uniform_positive": rng.random(n).astype(np.float32) * np.float32(3) + np.float32(0.5),
        "uniform_negative": -rng.random(n).astype(np.float32) * np.float32(2) - np.float32(0.25),
        "sparse": np.where(rng.random(n) < 0.8, 0, g).astype(np.float32),
        "zeros": np.zeros(n, dtype=np.float32),
        "constant": np.full(n, 0.375, dtype=np.float32),
        "tiny": g * np.float32(1e-6),
        "large": g * np.float32(300),
        "integers": rng.integers(-8, 8, n).astype(np.float32),
        "ties": np.tile(np.array([1, -1, 0.5, -0.5, 0.25, 2, -2, 0], dtype=np.float32), n // 8),
    }
    # A row whose blocks alternate between very different scales.
    mixed = g.copy()
    mixed[::64] *= 1000
    out["mixed_scales"] = mixed
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sdist", help="llama-cpp-python source tarball (downloaded with pip if omitted)")
    args = ap.parse_args()
    rng = np.random.default_rng(20261123)
    lib, source = build_reference(find_sdist(args.sdist))
    legacy = {T.Q8_0: "q8_0", T.Q4_0: "q4_0", T.Q4_1: "q4_1", T.Q5_0: "q5_0", T.Q5_1: "q5_1"}
    kquants = {T.Q2_K: "q2_K", T.Q3_K: "q3_K", T.Q4_K: "q4_K", T.Q5_K: "q5_K", T.Q6_K: "q6_K"}
    cases = []
    with np.errstate(all="ignore"):
        for rname, row in rows(rng).items():
            for qtype, cname in legacy.items():
                py = gguf.quants.quantize(row.reshape(1, -1), qtype).reshape(-1)
                c = c_quantize(lib, cname, qtype, row)
                if not np.array_equal(py, c):
                    print(f"note: gguf-py and C reference differ for {qtype.name} {rname}", file=sys.stderr)
                cases.append({"name": rname, "type": qtype.name, "typeId": int(qtype), "source": "gguf-py",
                              "x": row.tobytes().hex(), "blocks": py.tobytes().hex()})
            for qtype, cname in kquants.items():
                c = c_quantize(lib, cname, qtype, row)
                cases.append({"name": rname, "type": qtype.name, "typeId": int(qtype),
                              "source": f"ggml-quants.c ({source})",
                              "x": row.tobytes().hex(), "blocks": c.tobytes().hex()})
    with open(OUT, "w") as f:
        json.dump({"gguf": getattr(gguf, "__version__", "?"), "reference": source, "cases": cases}, f, indent=0)
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
