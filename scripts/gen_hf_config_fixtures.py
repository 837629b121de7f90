#!/usr/bin/env python3
"""Writes Tests/LoomFormatsTests/Fixtures/hf_configs/: config.json files for LlamaForCausalLM
and Qwen2ForCausalLM with every RoPE scaling type, and expected.json with the values
transformers itself reads back from each (pip install transformers; torch is not needed).

Two generations of the format are covered: files written by the installed transformers
(`rope_parameters`, transformers >= 5) and files in the older layout (`rope_theta` +
`rope_scaling` with `type` or `rope_type`), which transformers still loads.
"""
import json
import os

from transformers import LlamaConfig, Qwen2Config

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomFormatsTests", "Fixtures", "hf_configs")

BASE = dict(hidden_size=64, intermediate_size=176, num_hidden_layers=3, num_attention_heads=8, num_key_value_heads=2,
            vocab_size=1000, max_position_embeddings=131072, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=[2, 3])

SCALINGS = {
    "none": None,
    "linear": {"rope_type": "linear", "factor": 4.0},
    "dynamic": {"rope_type": "dynamic", "factor": 2.0},
    "yarn": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768, "beta_fast": 32.0, "beta_slow": 1.0},
    "llama3": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192},
    "longrope": {"rope_type": "longrope", "short_factor": [1.0 + i / 8 for i in range(4)], "long_factor": [2.0 + i for i in range(4)],
                 "original_max_position_embeddings": 4096, "factor": 32.0},
}

# Older-format files (as published with Llama 3.1 and Qwen2 checkpoints).
LEGACY = {
    "legacy_llama31": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
        "rope_theta": 500000.0, "max_position_embeddings": 131072, "vocab_size": 128256, "bos_token_id": 128000,
        "eos_token_id": [128001, 128008, 128009], "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "attention_bias": False, "mlp_bias": False,
        "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"}},
    "legacy_qwen2": {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864,
        "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0, "max_position_embeddings": 32768, "vocab_size": 151936, "bos_token_id": 151643,
        "eos_token_id": 151645, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "rope_scaling": None,
        "sliding_window": 32768, "use_sliding_window": False},
    "legacy_qwen2_yarn_type": {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864,
        "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0, "max_position_embeddings": 131072, "vocab_size": 151936, "eos_token_id": 151645,
        "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}},
}


def expected_of(cfg):
    rope = dict(getattr(cfg, "rope_parameters", None) or {})
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    eos = cfg.eos_token_id
    return {
        "architecture": cfg.architectures[0], "hidden_size": cfg.hidden_size, "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_hidden_layers, "num_attention_heads": cfg.num_attention_heads,
        "num_key_value_heads": cfg.num_key_value_heads, "head_dim": head_dim, "rms_norm_eps": cfg.rms_norm_eps,
        "rope_theta": rope.get("rope_theta", getattr(cfg, "rope_theta", 10000.0)),
        "rope_type": rope.get("rope_type", rope.get("type", "default")), "rope_factor": rope.get("factor"),
        "max_position_embeddings": cfg.max_position_embeddings, "tie_word_embeddings": cfg.tie_word_embeddings,
        "vocab_size": cfg.vocab_size, "bos_token_id": cfg.bos_token_id,
        "eos_token_ids": [] if eos is None else (list(eos) if isinstance(eos, (list, tuple)) else [eos]),
        "torch_dtype": str(getattr(cfg, "dtype", None) or getattr(cfg, "torch_dtype", None) or "") or None,
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for arch, cls in [("llama", LlamaConfig), ("qwen2", Qwen2Config)]:
        for name, scaling in SCALINGS.items():
            kwargs = dict(BASE, architectures=[cls.__name__.replace("Config", "ForCausalLM")])
            if scaling is not None:
                kwargs["rope_scaling"] = scaling
            cfg = cls(**kwargs)
            fname = f"{arch}_{name}.json"
            cfg.to_json_file(os.path.join(OUT, fname), use_diff=False)
            expected[fname] = expected_of(cls.from_json_file(os.path.join(OUT, fname)))
    for name, obj in LEGACY.items():
        fname = f"{name}.json"
        with open(os.path.join(OUT, fname), "w") as f:
            json.dump(obj, f, indent=2)
        cls = LlamaConfig if obj["model_type"] == "llama" else Qwen2Config
        e = expected_of(cls.from_json_file(os.path.join(OUT, fname)))
        e["torch_dtype"] = obj.get("torch_dtype")
        expected[fname] = e
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
    print(f"wrote {len(expected)} configs to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
