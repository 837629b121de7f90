#!/usr/bin/env python3
"""Deterministic synthetic weights for Loom's tiny test checkpoints, so no weight file is committed.

A fixture directory keeps its configs, tokenizer files and a manifest `weights.json`; the weight
files are regenerated from the manifest both here (the fixture scripts, before they compute
reference outputs) and by the Swift twin, Tests/LoomTestSupport/SyntheticWeights.swift, which the
tests use to materialise the directory and which verifies every tensor against the manifest's
sha256. The two implementations must stay bit-identical; `python3 synthetic_weights.py` prints
the pinned values that Tests/LoomModelsTests/SyntheticWeightsTests.swift checks.

The generator (extends the SmolLM2 adapter generator of gen_peft_fixtures.py):

  splitmix64 (Steele, Lea, Flood 2014; Vigna's reference C, prng.di.unimi.it/splitmix64.c):
      state += 0x9E3779B97F4A7C15 (mod 2^64); z = state
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB
      return z ^ (z >> 31)
  The state starts at the tensor seed and the i-th value (0-based) uses the (i+1)-th output, so
  output i is mix(seed + (i + 1) * 0x9E3779B97F4A7C15): vectorised here.
  Tensor seed = FNV-1a 64 (offset basis 0xCBF29CE484222325, prime 0x100000001B3) of the tensor
  name's UTF-8 bytes, plus the fixture's base seed (mod 2^64).

  kind "uniform": value = offset + amplitude * ((x >> 40) / 2^23 - 1), computed exactly in
      float64 (24-bit integer, power-of-two amplitude, small dyadic offset) and rounded once to
      float32 (round to nearest even). Uniform on [offset - amplitude, offset + amplitude).
  kind "ternary": t = ((x >> 40) * 3 >> 24) - 1 in {-1, 0, 1}, laid out [rows, cols] row-major
      and stored packed the way transformers' integrations/bitnet.py pack_weights does: uint8
      [rows/4, cols], byte (p, c) = sum_k (t[k * rows/4 + p, c] + 1) << 2k.
  Values fill the tensor's (PyTorch) shape row-major. Stored dtypes: F32; F16 (IEEE half, round
  to nearest even from the float32 value); BF16 (the float32's upper 16 bits, round to nearest
  even); U8 for ternary.

Manifest weights.json:
  {"generator": "scripts/synthetic_weights.py", "base_seed": int,
   "files": [{"name": "model.safetensors", "metadata": {...} or null,
              "tensors": [{"name", "dtype", "shape", "kind", "seed" (decimal string),
                           "amplitude", "offset" (uniform), "rows" (ternary: unpacked rows),
                           "sha256" (of the stored bytes)}]}]}
Tensors are listed in the file's data order.
"""
import contextlib
import hashlib
import json
import math
import os
import struct

import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
GENERATOR = "scripts/synthetic_weights.py"


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for b in name.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def tensor_seed(name, base_seed):
    return (fnv1a64(name) + base_seed) & MASK


def splitmix64(seed, count):
    """The first `count` outputs of splitmix64 started at `seed`, as a uint64 array."""
    with np.errstate(over="ignore"):
        i = np.arange(1, count + 1, dtype=np.uint64)
        z = np.uint64(seed) + i * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(seed, shape, amplitude, offset=0.0):
    """Float32 values of kind "uniform" filling `shape` row-major."""
    assert amplitude == 0 or math.frexp(amplitude)[0] == 0.5, f"amplitude {amplitude} is not a power of two"
    n = int(np.prod(shape, dtype=np.int64))
    u = (splitmix64(seed, n) >> np.uint64(40)).astype(np.float64)
    return (offset + amplitude * (u / 2.0 ** 23 - 1.0)).astype(np.float32).reshape(shape)


def ternary(seed, shape):
    """Int8 values in {-1, 0, 1} of kind "ternary" filling `shape` row-major."""
    n = int(np.prod(shape, dtype=np.int64))
    t = (((splitmix64(seed, n) >> np.uint64(40)) * np.uint64(3)) >> np.uint64(24)).astype(np.int8) - 1
    return t.reshape(shape)


def pack_ternary(t):
    """transformers integrations/bitnet.py pack_weights on an [rows, cols] ternary array."""
    rows = t.shape[0]
    assert rows % 4 == 0, rows
    q = (t.astype(np.int16) + 1).astype(np.uint8).reshape(4, rows // 4, *t.shape[1:])
    return (q[0] | (q[1] << 2) | (q[2] << 4) | (q[3] << 6)).astype(np.uint8)


def to_stored(values, dtype):
    """The stored little-endian bytes of float32 `values` as F32, F16 or BF16."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    if dtype == "F32":
        return values.astype("<f4").tobytes()
    if dtype == "F16":
        return values.astype("<f2").tobytes()
    if dtype == "BF16":
        u = values.view(np.uint32).astype(np.uint64)
        return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2").tobytes()
    raise ValueError(f"unsupported float dtype {dtype}")


def from_stored(data, dtype, shape):
    """Float32 values of stored bytes (what a loader upcasts to)."""
    if dtype == "F32":
        return np.frombuffer(data, "<f4").reshape(shape).copy()
    if dtype == "F16":
        return np.frombuffer(data, "<f2").astype(np.float32).reshape(shape)
    if dtype == "BF16":
        return (np.frombuffer(data, "<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    raise ValueError(dtype)


def float_spec(name, shape, base_seed, amplitude, offset=0.0, dtype="F32"):
    return {"name": name, "dtype": dtype, "shape": list(shape), "kind": "uniform",
            "seed": str(tensor_seed(name, base_seed)), "amplitude": amplitude, "offset": offset}


def ternary_spec(name, rows, cols, base_seed):
    return {"name": name, "dtype": "U8", "shape": [rows // 4, cols], "kind": "ternary",
            "seed": str(tensor_seed(name, base_seed)), "rows": rows}


def default_spec(name, shape, base_seed, dtype="F32"):
    """The scale rule of the model fixtures, close to the statistics of the random weights they
    replace (norms 1 + 0.2 N(0,1), biases 0.5 N(0,1), embeddings N(0,1), matrices
    N(0, 1/fan_in)): norm weights 1 + U(-1/4, 1/4), biases U(-1, 1), embeddings U(-2, 2),
    matrices U(-a, a) with a the power of two nearest (in log) to sqrt(3 / fan_in)."""
    if name.endswith("norm.weight"):
        return float_spec(name, shape, base_seed, 0.25, 1.0, dtype)
    if name.endswith(".bias"):
        return float_spec(name, shape, base_seed, 1.0, 0.0, dtype)
    if "embed_tokens" in name:
        return float_spec(name, shape, base_seed, 2.0, 0.0, dtype)
    assert len(shape) == 2, (name, shape)
    amplitude = 2.0 ** round(math.log2(math.sqrt(3.0 / shape[1])))
    return float_spec(name, shape, base_seed, amplitude, 0.0, dtype)


def values(spec):
    """The logical values of a spec: float32 for "uniform", int8 ternary [rows, cols] for "ternary"."""
    seed = int(spec["seed"])
    if spec["kind"] == "uniform":
        return uniform(seed, spec["shape"], spec["amplitude"], spec["offset"])
    if spec["kind"] == "ternary":
        return ternary(seed, (spec["rows"], *spec["shape"][1:]))
    raise ValueError(spec["kind"])


def stored_bytes(spec):
    v = values(spec)
    if spec["kind"] == "ternary":
        return pack_ternary(v).tobytes()
    return to_stored(v, spec["dtype"])


def stored_values(spec):
    """Float32 values a loader sees (after the stored dtype's rounding); uniform kinds only."""
    return from_stored(stored_bytes(spec), spec["dtype"], spec["shape"])


def read_safetensors(path):
    """(metadata or None, [(name, dtype, shape, bytes)] in data order) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", None)
    base = 8 + n
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    return metadata, [(k, v["dtype"], v["shape"], raw[base + v["data_offsets"][0]:base + v["data_offsets"][1]])
                      for k, v in entries]


def write_manifest(directory, specs, base_seed):
    """Writes directory/weights.json for the safetensors files in `directory` (as transformers or
    safetensors saved them), asserting every stored tensor is byte-identical to its generator
    spec (so the Swift side, which writes the same bytes, reproduces the checkpoint)."""
    by_name = {s["name"]: s for s in specs}
    files = []
    for fname in sorted(f for f in os.listdir(directory) if f.endswith(".safetensors")):
        metadata, tensors = read_safetensors(os.path.join(directory, fname))
        listed = []
        for name, dtype, shape, data in tensors:
            assert name in by_name, f"{fname}: tensor {name} has no generator spec"
            spec = dict(by_name.pop(name))
            assert spec["dtype"] == dtype and spec["shape"] == list(shape), (name, dtype, shape, spec)
            assert stored_bytes(spec) == data, f"{fname}: {name} was not saved as the generator's bytes"
            spec["sha256"] = hashlib.sha256(data).hexdigest()
            listed.append(spec)
        files.append({"name": fname, "metadata": metadata, "tensors": listed})
    assert files, f"no safetensors file in {directory}"
    path = os.path.join(directory, "weights.json")
    with open(path, "w") as f:  # one tensor per line: readable diffs
        f.write(f'{{"generator": {json.dumps(GENERATOR)}, "base_seed": {base_seed}, "files": [\n')
        for i, entry in enumerate(files):
            f.write(f' {{"name": {json.dumps(entry["name"])}, "metadata": {json.dumps(entry["metadata"])}, "tensors": [\n')
            f.write(",\n".join("  " + json.dumps(t) for t in entry["tensors"]))
            f.write("]}" + ("," if i + 1 < len(files) else "") + "\n")
        f.write("]}\n")
    return path


def materialize(manifest_path):
    """Writes the safetensors files a weights.json describes next to it (the Python twin of
    SyntheticFixture.write(manifest:)), checking every tensor's sha256."""
    from safetensors import serialize_file, TensorSpec
    directory = os.path.dirname(manifest_path)
    with open(manifest_path) as f:
        manifest = json.load(f)
    names = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "U8": "uint8"}
    for entry in manifest["files"]:
        specs, keep = {}, []
        for t in entry["tensors"]:
            assert int(t["seed"]) == tensor_seed(t["name"], manifest["base_seed"]), t["name"]
            data = stored_bytes(t)
            assert hashlib.sha256(data).hexdigest() == t["sha256"], f"{entry['name']}: {t['name']} digest differs"
            buf = np.frombuffer(data, np.uint8)
            keep.append(buf)
            specs[t["name"]] = TensorSpec(dtype=names[t["dtype"]], shape=t["shape"], data_ptr=buf.ctypes.data,
                                          data_len=buf.nbytes)
        serialize_file(specs, os.path.join(directory, entry["name"]), entry["metadata"])


@contextlib.contextmanager
def materialized(*roots):
    """While in the block, every directory below `roots` that has a weights.json also has its
    weight files (for fixture scripts that load other fixtures' models); removed afterwards so
    they are not committed by accident."""
    written = []
    try:
        for root in roots:
            for directory, _, files in sorted(os.walk(root)):
                if "weights.json" in files:
                    materialize(os.path.join(directory, "weights.json"))
                    written.append(directory)
        yield
    finally:
        for directory in written:
            remove_weights(directory)


def remove_weights(directory):
    """Deletes the generated weight files (never committed); weights.json recreates them."""
    for fname in os.listdir(directory):
        if fname.endswith(".safetensors"):
            os.remove(os.path.join(directory, fname))


def assign(model, base_seed, dtype="F32"):
    """Overwrites every parameter of a torch model with its default_spec values; returns the specs
    (tied parameters appear once, under the name named_parameters gives them)."""
    import torch
    specs = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            spec = default_spec(name, tuple(p.shape), base_seed, dtype)
            p.copy_(torch.from_numpy(values(spec)))
            specs.append(spec)
    return specs


def pinned():
    """The values Tests/LoomModelsTests/SyntheticWeightsTests.swift pins."""
    name = "model.layers.0.self_attn.q_proj.weight"
    seed = tensor_seed(name, 7)
    return {
        "fnv1a64('')": fnv1a64(""),
        "fnv1a64(name)": fnv1a64(name),
        "seed(name, 7)": seed,
        "splitmix64(0)[:3]": [int(v) for v in splitmix64(0, 3)],
        "uniform(seed, amp 1/8)[:4]": [float(v) for v in uniform(seed, (4,), 0.125)],
        "uniform(seed, amp 1/4, offset 1)[:4]": [float(v) for v in uniform(seed, (4,), 0.25, 1.0)],
        "ternary(seed)[:8]": [int(v) for v in ternary(seed, (8,))],
        "packed(ternary(seed,(8,2)))": [int(v) for v in pack_ternary(ternary(seed, (8, 2))).reshape(-1)],
        "bf16(uniform(seed, amp 2)[:4])": struct.unpack("<4H", to_stored(uniform(seed, (4,), 2.0), "BF16")),
        "f16(uniform(seed, amp 2)[:4])": struct.unpack("<4H", to_stored(uniform(seed, (4,), 2.0), "F16")),
    }


if __name__ == "__main__":
    for k, v in pinned().items():
        print(k, "=", v)
