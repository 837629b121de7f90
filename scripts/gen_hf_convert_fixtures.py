#!/usr/bin/env python3
"""Writes Tests/LoomFormatsTests/Fixtures/hf_convert/: two tiny Hugging Face checkpoints
(llama with Llama 3.1 RoPE scaling and BF16 weights; qwen2 with biases, F32, tied embeddings,
two shards) and, for each, expected.gguf written with gguf-py holding the tensors
convert_hf_to_gguf.py produces at --outtype f32: GGUF names, `LlamaModel.permute` applied to
llama q/k, and the llama3 `rope_freqs` (computed in float32 as with torch).
pip install numpy safetensors transformers gguf
"""
import json
import math
import os

import numpy as np
import gguf
from safetensors.numpy import save_file
from safetensors import serialize_file, TensorSpec
from transformers import LlamaConfig, Qwen2Config

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomFormatsTests", "Fixtures", "hf_convert")


def permute(w, n_head, n_head_kv):  # convert_hf_to_gguf.py LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def bf16(x):
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    bits = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return bits, (bits.astype(np.uint32) << 16).view(np.float32)


NAMES = {"input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
         "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
         "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
         "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias", "self_attn.v_proj.bias": "attn_v.bias",
         "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight"}


def model(arch, rng):
    h, heads, kv, ff, vocab, layers = 32, 4, 2, 64, 48, 2
    t = {"model.embed_tokens.weight": rng.standard_normal((vocab, h)), "model.norm.weight": 1 + 0.1 * rng.standard_normal(h)}
    for l in range(layers):
        p = f"model.layers.{l}."
        t[p + "input_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(h)
        t[p + "post_attention_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(h)
        t[p + "self_attn.q_proj.weight"] = rng.standard_normal((heads * 8, h))
        t[p + "self_attn.k_proj.weight"] = rng.standard_normal((kv * 8, h))
        t[p + "self_attn.v_proj.weight"] = rng.standard_normal((kv * 8, h))
        t[p + "self_attn.o_proj.weight"] = rng.standard_normal((h, heads * 8))
        t[p + "mlp.gate_proj.weight"] = rng.standard_normal((ff, h))
        t[p + "mlp.up_proj.weight"] = rng.standard_normal((ff, h))
        t[p + "mlp.down_proj.weight"] = rng.standard_normal((h, ff))
        if arch == "qwen2":
            t[p + "self_attn.q_proj.bias"] = rng.standard_normal(heads * 8)
            t[p + "self_attn.k_proj.bias"] = rng.standard_normal(kv * 8)
            t[p + "self_attn.v_proj.bias"] = rng.standard_normal(kv * 8)
    if arch == "llama":
        t["lm_head.weight"] = rng.standard_normal((vocab, h))
    t = {k: (0.05 * v).astype(np.float32) for k, v in t.items()}
    kw = dict(hidden_size=h, intermediate_size=ff, num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
              vocab_size=vocab, max_position_embeddings=16384, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2)
    if arch == "llama":
        cfg = LlamaConfig(**kw, rope_theta=500000.0, architectures=["LlamaForCausalLM"], tie_word_embeddings=False,
                          rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                        "original_max_position_embeddings": 8192})
    else:
        cfg = Qwen2Config(**kw, rope_theta=1000000.0, architectures=["Qwen2ForCausalLM"], tie_word_embeddings=True)
    return cfg, t, dict(heads=heads, kv=kv)


def write(arch, rng):
    d = os.path.join(OUT, arch)
    os.makedirs(d, exist_ok=True)
    cfg, tensors, hp = model(arch, rng)
    cfg.to_json_file(os.path.join(d, "config.json"), use_diff=False)
    stored = {}
    if arch == "llama":  # BF16 single file
        specs, keep = {}, []
        for k, v in tensors.items():
            bits, back = bf16(v)
            keep.append(bits)
            stored[k] = back
            specs[k] = TensorSpec(dtype="bfloat16", shape=list(v.shape), data_ptr=bits.ctypes.data, data_len=bits.nbytes)
        serialize_file(specs, os.path.join(d, "model.safetensors"), {"format": "pt"})
    else:  # F32, two shards + index
        names = sorted(tensors)
        shards = [dict((k, tensors[k]) for k in names[: len(names) // 2]), dict((k, tensors[k]) for k in names[len(names) // 2:])]
        wm = {}
        for i, s in enumerate(shards):
            fname = f"model-0000{i + 1}-of-00002.safetensors"
            save_file(s, os.path.join(d, fname), {"format": "pt"})
            wm.update({k: fname for k in s})
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f, indent=2)
        stored = tensors

    w = gguf.GGUFWriter(os.path.join(d, "expected.gguf"), arch)
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
        w.add_tensor(name, np.ascontiguousarray(v, dtype=np.float32))
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
        w.add_tensor("rope_freqs.weight", np.array(factors, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    rng = np.random.default_rng(61)
    for arch in ["llama", "qwen2"]:
        write(arch, rng)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
