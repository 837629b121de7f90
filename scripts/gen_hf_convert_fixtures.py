#!/usr/bin/env python3
"""Writes Tests/LoomFormatsTests/Fixtures/hf_convert/: two tiny Hugging Face checkpoints
(llama with Llama 3.1 RoPE scaling and BF16 weights; qwen2 with biases, F32, tied embeddings,
two shards) and, for each, expected.json describing the tensors convert_hf_to_gguf.py produces
at --outtype f32: GGUF names, dimensions (gguf-py order), `LlamaModel.permute` applied to llama
q/k, and the llama3 `rope_freqs` (computed in float32 as with torch), each as the sha256 of its
F32 data, plus the metadata the test checks.

The weights come from the deterministic generator of synthetic_weights.py (default_spec scales,
base seed 61 for llama, 62 for qwen2). The script writes them with the safetensors library,
checks the bytes against the generator, writes the manifest weights.json and deletes the
safetensors files, which are never committed; the tests regenerate them
(Tests/LoomTestSupport/SyntheticFixture.swift). model.safetensors.index.json stays committed.
pip install numpy safetensors transformers
"""
import json
import math
import os

import hashlib
import sys

import numpy as np
from safetensors.numpy import save_file
from safetensors import serialize_file, TensorSpec
from transformers import LlamaConfig, Qwen2Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synthetic_weights  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomFormatsTests", "Fixtures", "hf_convert")


def permute(w, n_head, n_head_kv):  # convert_hf_to_gguf.py LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


NAMES = {"input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
         "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
         "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
         "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias", "self_attn.v_proj.bias": "attn_v.bias",
         "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight"}


def model(arch, seed):
    """Config and generator specs of the tiny checkpoint (shapes as before; values generated)."""
    h, heads, kv, ff, vocab, layers = 32, 4, 2, 64, 48, 2
    dtype = "BF16" if arch == "llama" else "F32"
    shapes = {"model.embed_tokens.weight": (vocab, h), "model.norm.weight": (h,)}
    for l in range(layers):
        p = f"model.layers.{l}."
        shapes[p + "input_layernorm.weight"] = (h,)
        shapes[p + "post_attention_layernorm.weight"] = (h,)
        shapes[p + "self_attn.q_proj.weight"] = (heads * 8, h)
        shapes[p + "self_attn.k_proj.weight"] = (kv * 8, h)
        shapes[p + "self_attn.v_proj.weight"] = (kv * 8, h)
        shapes[p + "self_attn.o_proj.weight"] = (h, heads * 8)
        shapes[p + "mlp.gate_proj.weight"] = (ff, h)
        shapes[p + "mlp.up_proj.weight"] = (ff, h)
        shapes[p + "mlp.down_proj.weight"] = (h, ff)
        if arch == "qwen2":
            shapes[p + "self_attn.q_proj.bias"] = (heads * 8,)
            shapes[p + "self_attn.k_proj.bias"] = (kv * 8,)
            shapes[p + "self_attn.v_proj.bias"] = (kv * 8,)
    if arch == "llama":
        shapes["lm_head.weight"] = (vocab, h)
    specs = {k: synthetic_weights.default_spec(k, v, seed, dtype) for k, v in shapes.items()}
    kw = dict(hidden_size=h, intermediate_size=ff, num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
              vocab_size=vocab, max_position_embeddings=16384, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2)
    if arch == "llama":
        cfg = LlamaConfig(**kw, rope_theta=500000.0, architectures=["LlamaForCausalLM"], tie_word_embeddings=False,
                          rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                        "original_max_position_embeddings": 8192})
    else:
        cfg = Qwen2Config(**kw, rope_theta=1000000.0, architectures=["Qwen2ForCausalLM"], tie_word_embeddings=True)
    return cfg, specs, dict(heads=heads, kv=kv, h=h, layers=layers)


def write(arch, seed):
    d = os.path.join(OUT, arch)
    os.makedirs(d, exist_ok=True)
    cfg, specs, hp = model(arch, seed)
    cfg.to_json_file(os.path.join(d, "config.json"), use_diff=False)
    stored = {k: synthetic_weights.stored_values(s) for k, s in specs.items()}
    if arch == "llama":  # BF16 single file
        ts, keep = {}, []
        for k, s in specs.items():
            data = np.frombuffer(synthetic_weights.stored_bytes(s), np.uint8)
            keep.append(data)
            ts[k] = TensorSpec(dtype="bfloat16", shape=list(s["shape"]), data_ptr=data.ctypes.data, data_len=data.nbytes)
        serialize_file(ts, os.path.join(d, "model.safetensors"), {"format": "pt"})
    else:  # F32, two shards + index
        names = sorted(specs)
        shards = [names[: len(names) // 2], names[len(names) // 2:]]
        wm = {}
        for i, s in enumerate(shards):
            fname = f"model-0000{i + 1}-of-00002.safetensors"
            save_file({k: stored[k] for k in s}, os.path.join(d, fname), {"format": "pt"})
            wm.update({k: fname for k in s})
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f, indent=2)
    synthetic_weights.write_manifest(d, list(specs.values()), seed)
    synthetic_weights.remove_weights(d)

    tensors = []

    def add(name, v):
        v = np.ascontiguousarray(v, dtype=np.float32)
        # gguf-py lists dimensions innermost first (GGUFWriter.add_tensor_info: reversed shape).
        tensors.append({"name": name, "type": "F32", "dimensions": list(reversed(v.shape)),
                        "sha256": hashlib.sha256(v.tobytes()).hexdigest()})

    for k in sorted(stored):
        v = stored[k]
        if k == "model.embed_tokens.weight":
            name = "token_embd.weight"
        elif k == "model.norm.weight":
            name = "output_norm.weight"
        elif k == "lm_head.weight":
            name = "output.weight"
        else:
            layer, rest = k[len("model.layers."):].split(".", 1)
            name = f"blk.{layer}.{NAMES[rest]}"
        if arch == "llama" and "q_proj" in k:
            v = permute(v, hp["heads"], hp["heads"])
        if arch == "llama" and "k_proj" in k:
            v = permute(v, hp["heads"], hp["kv"])
        add(name, v)
    metadata = {"general.architecture": arch, f"{arch}.block_count": hp["layers"],
                f"{arch}.attention.head_count_kv": hp["kv"], f"{arch}.embedding_length": hp["h"],
                f"{arch}.rope.freq_base": cfg.rope_theta if hasattr(cfg, "rope_theta") else cfg.rope_parameters["rope_theta"]}
    if arch == "llama":  # LlamaModel.generate_extra_tensors, float32 like torch
        base, dim = 500000.0, 8
        freqs = 1.0 / (np.float32(base) ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
        factors = []
        for freq in freqs:
            wavelen = 2 * math.pi / float(freq)
            if wavelen < 8192 / 4.0:
                factors.append(1)
            elif wavelen > 8192 / 1.0:
                factors.append(8.0)
            else:
                smooth = (8192 / wavelen - 1.0) / (4.0 - 1.0)
                factors.append(1 / ((1 - smooth) / 8.0 + smooth))
        add("rope_freqs.weight", np.array(factors, dtype=np.float32))
    with open(os.path.join(d, "expected.json"), "w") as f:
        f.write('{"metadata": ' + json.dumps(metadata) + ', "tensors": [\n')
        f.write(",\n".join(" " + json.dumps(t) for t in tensors))
        f.write("]}\n")


def main():
    for arch, seed in [("llama", 61), ("qwen2", 62)]:
        write(arch, seed)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
