#!/usr/bin/env python3
"""Generate the GGUF reader/writer test fixtures for LoomFormatsTests.

What it makes (in Tests/LoomFormatsTests/Fixtures/):
  gguf_<model>.json   One per real model file. Everything gguf-py's GGUFReader (the
                      independent reference) sees in it: version, alignment, data offset,
                      tensor count, every metadata key in file order with its value type (and
                      array element type), scalar values, array lengths with the first/last 3
                      elements and a CRC-32 of each array's full payload bytes, and every
                      tensor's name, ggml type id, dims (ne order), relative offset, byte size.
  gguf_pywriter.json  A tiny GGUF written by gguf-py's GGUFWriter (every value type, arrays,
                      alignment 64, F32/F16/Q8_0/Q4_K tensors), as base64, plus the spec used to
                      write it. The Swift tests parse those bytes and check Loom's GGUFWriter
                      produces the identical bytes from the same spec.

Integers of 64-bit types are written as decimal strings so no JSON parser rounds them.

How to run (from the package root; needs the `gguf` 0.19 and `numpy` packages and the two
test models in $LOOM_CACHE/models, else $XDG_CACHE_HOME/loom/models, else ~/.cache/loom/models):
    python3 scripts/gen_gguf_fixtures.py
"""

import base64
import json
import os
import struct
import sys
import tempfile
import zlib

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter

MODELS = {
    "smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen_coder": "Qwen2.5-Coder-0.5B-Instruct.gguf",
}
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LoomFormatsTests", "Fixtures")
WIDE_INTS = {GGUFValueType.UINT64, GGUFValueType.INT64}


def cache_dir():
    if os.environ.get("LOOM_CACHE"):
        return os.environ["LOOM_CACHE"]
    if os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.environ["XDG_CACHE_HOME"], "loom")
    return os.path.expanduser("~/.cache/loom")


def json_value(value, vtype):
    """A scalar as JSON: 64-bit ints as strings, floats as the exact double."""
    if vtype in WIDE_INTS:
        return str(int(value))
    if vtype in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        return float(value)
    if vtype == GGUFValueType.BOOL:
        return bool(value)
    if vtype == GGUFValueType.STRING:
        return value
    return int(value)


def describe_field(field):
    main = field.types[0]
    entry = {"key": field.name, "type": int(main)}
    if main == GGUFValueType.ARRAY:
        sub = field.types[-1]
        if len(field.types) != 2:
            raise SystemExit(f"{field.name}: nested array not expected in test models")
        values = field.contents()
        # parts: key length, key bytes, value type, element type, count, then the elements.
        payload = b"".join(part.tobytes() for part in field.parts[5:])
        entry.update({
            "element_type": int(sub),
            "count": len(values),
            "head": [json_value(v, sub) for v in values[:3]],
            "tail": [json_value(v, sub) for v in values[-3:]],
            "payload_crc32": zlib.crc32(payload),
            "payload_bytes": len(payload),
        })
    else:
        entry["value"] = json_value(field.contents(), main)
    return entry


def describe_model(path):
    reader = GGUFReader(path)
    fields = [f for f in reader.fields.values() if not f.name.startswith("GGUF.")]
    tensors = []
    for tensor in reader.tensors:
        # The tensor-info field's last part is the u64 offset relative to the data section.
        relative = int(tensor.field.parts[-1][0])
        assert tensor.data_offset == reader.data_offset + relative
        tensors.append({
            "name": tensor.name,
            "type": int(tensor.tensor_type),
            "dims": [int(d) for d in tensor.shape],
            "offset": relative,
            "n_bytes": int(tensor.n_bytes),
        })
    return {
        "file": os.path.basename(path),
        "file_size": os.path.getsize(path),
        "version": int(reader.fields["GGUF.version"].contents()),
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "n_tensors": len(reader.tensors),
        "metadata": [describe_field(f) for f in fields],
        "tensors": tensors,
    }


def pywriter_fixture():
    """A tiny file from gguf-py's own writer, and the spec it was written from."""
    rng = np.random.default_rng(7)
    kvs = [  # key, GGUFValueType, value(s), array element type
        ("general.architecture", GGUFValueType.STRING, "loomtest", None),
        ("t.u8", GGUFValueType.UINT8, 200, None),
        ("t.i8", GGUFValueType.INT8, -100, None),
        ("t.u16", GGUFValueType.UINT16, 60000, None),
        ("t.i16", GGUFValueType.INT16, -30000, None),
        ("t.u32", GGUFValueType.UINT32, 4000000000, None),
        ("t.i32", GGUFValueType.INT32, -2000000000, None),
        ("t.u64", GGUFValueType.UINT64, 18446744073709551615, None),
        ("t.i64", GGUFValueType.INT64, -9223372036854775807, None),
        ("t.f32", GGUFValueType.FLOAT32, float(np.float32(0.1)), None),
        ("t.f64", GGUFValueType.FLOAT64, -2.5e-300, None),
        ("t.bool", GGUFValueType.BOOL, True, None),
        ("t.str", GGUFValueType.STRING, "héllo, 世界 🦙", None),
        ("t.arr_str", GGUFValueType.ARRAY, ["a", "", "Ġb c", "é"], GGUFValueType.STRING),
        ("t.arr_i32", GGUFValueType.ARRAY, [1, -2, 3], GGUFValueType.INT32),
        ("t.arr_u8", GGUFValueType.ARRAY, [0, 255], GGUFValueType.UINT8),
        ("t.arr_f32", GGUFValueType.ARRAY, [0.5, -1.25], GGUFValueType.FLOAT32),
        ("t.arr_bool", GGUFValueType.ARRAY, [True, False, True], GGUFValueType.BOOL),
        ("t.arr_u64", GGUFValueType.ARRAY, [1, 18446744073709551615], GGUFValueType.UINT64),
        ("general.alignment", GGUFValueType.UINT32, 64, None),
    ]
    q8_rows = 2  # Q8_0: 34 bytes per 32 elements
    tensors = [  # name, type, ne dims, raw bytes
        ("f32", GGMLQuantizationType.F32, [4, 3], rng.standard_normal(12).astype(np.float32).tobytes()),
        ("f16", GGMLQuantizationType.F16, [8], rng.standard_normal(8).astype(np.float16).tobytes()),
        ("q8", GGMLQuantizationType.Q8_0, [32, q8_rows], rng.integers(0, 256, 34 * q8_rows, dtype=np.uint8).tobytes()),
        ("q4k", GGMLQuantizationType.Q4_K, [256], rng.integers(0, 256, 144, dtype=np.uint8).tobytes()),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "py.gguf")
        writer = GGUFWriter(path, arch="loomtest")  # writes general.architecture itself
        for key, vtype, value, sub in kvs[1:]:
            if key == "general.alignment":
                writer.add_custom_alignment(value)
            elif vtype == GGUFValueType.ARRAY:
                writer.add_key_value(key, value, vtype, sub_type=sub)
            else:
                writer.add_key_value(key, value, vtype)
        for name, qtype, dims, raw in tensors:
            block, type_size = GGML_QUANT_SIZES[qtype]
            # gguf-py takes numpy (outermost-first) shapes whose last axis, for raw uint8
            # data, counts bytes per row; ne order is the reverse of the element shape.
            byte_shape = list(reversed(dims[1:])) + [dims[0] // block * type_size]
            array = np.frombuffer(raw, dtype=np.uint8).reshape(byte_shape)
            writer.add_tensor(name, array, raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        with open(path, "rb") as f:
            data = f.read()
        check = GGUFReader(path)  # gguf-py must read back what it wrote
        assert [t.name for t in check.tensors] == [t[0] for t in tensors]

    def spec_value(vtype, value, sub):
        if vtype == GGUFValueType.ARRAY:
            return [json_value(v, sub) for v in value]
        return json_value(value, vtype)

    return {
        "alignment": 64,
        "metadata": [
            {"key": k, "type": int(t), "value": spec_value(t, v, s), **({"element_type": int(s)} if s is not None else {})}
            for k, t, v, s in kvs
        ],
        "tensors": [
            {"name": n, "type": int(q), "dims": d, "data_base64": base64.b64encode(raw).decode()}
            for n, q, d, raw in tensors
        ],
        "file_base64": base64.b64encode(data).decode(),
    }


def write_json(name, obj):
    path = os.path.join(OUT_DIR, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for short, file in MODELS.items():
        path = os.path.join(cache_dir(), "models", file)
        if not os.path.exists(path):
            sys.exit(f"missing test model {path}")
        write_json(f"gguf_{short}.json", describe_model(path))
    write_json("gguf_pywriter.json", pywriter_fixture())


if __name__ == "__main__":
    main()
