#!/usr/bin/env python3
"""Writes Tests/LoomModelsTests/Fixtures/hf_arch/: tiny RANDOM Hugging Face model directories of
architectures beyond Llama/Qwen2, saved by transformers itself (save_pretrained, safetensors),
plus the float32 logits transformers computes for them.

  phi3/     Phi3ForCausalLM, F32, untied. Fused weights: self_attn.qkv_proj.weight is
            [q rows; k rows; v rows] (heads*hd + 2*kv_heads*hd rows) and mlp.gate_up_proj.weight
            is [gate rows; up rows] (modeling_phi3.py: `gate, up_states = up_states.chunk(2,
            dim=-1)`, then `up_states * silu(gate)`). RoPE on rotate_half (NEOX) pairs,
            partial_rotary_factor 1.0, no rope_scaling, no sliding window.
  mistral/  MistralForCausalLM, F32, untied, sliding_window 4: every text is longer than the
            window, so the window changes the logits. A query at position q attends to keys
            q-3..q (masking_utils.sliding_window_overlay: kv_idx > q_idx - sliding_window).

The byte-level BPE tokenizer and the shape of reference_logits.json are those of
gen_hf_independent_fixtures.py (imported from it). The weights come from the deterministic
generator of synthetic_weights.py (default_spec scales, base seed 11 for phi3, 12 for mistral):
transformers saves them, the script checks the saved bytes against the generator, writes the
manifest weights.json and deletes model.safetensors, which is never committed; the tests
regenerate it from weights.json (Tests/LoomTestSupport/SyntheticFixture.swift).
Reference logits come from reloading each saved directory with from_pretrained(dtype=float32,
attn_implementation="eager").

reference_logits.json: {"transformers", "torch", "models": {model: {"dtype", "cases": [{"text",
"ids", "logits": [[vocab floats] per position]}], ...}}}; mistral also has
"without_sliding_window_max_diff" (max |logit change| with sliding_window=None, asserted large)
and "sliding_window".

pip install torch transformers tokenizers safetensors
"""
import json, os, shutil, sys

import torch
import transformers
from transformers import (AutoModelForCausalLM, AutoTokenizer, GenerationConfig, MistralConfig, MistralForCausalLM,
                          Phi3Config, Phi3ForCausalLM)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_hf_independent_fixtures import LLAMA3_REGEX, VOCAB, encode, train_tokenizer  # noqa: E402
import synthetic_weights  # noqa: E402

OUT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomModelsTests", "Fixtures", "hf_arch"))
# Both texts are well over the Mistral window (asserted below).
TEXTS = ["the cat sat on the mat and the dog sat on the log",
         "print('hello world') # 12"]
WINDOW = 4


def common(**extra):
    return dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=1,
                pad_token_id=1, tie_word_embeddings=False, rope_theta=10000.0, **extra)


def logits_for(directory, tokenizer, config_override=None):
    kwargs = dict(dtype=torch.float32, attn_implementation="eager")
    if config_override is not None:
        kwargs["config"] = config_override
    model = AutoModelForCausalLM.from_pretrained(directory, **kwargs).eval()
    assert model.config._attn_implementation == "eager", model.config._attn_implementation
    cases = []
    with torch.no_grad():
        for text in TEXTS:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            out = model(torch.tensor([ids])).logits[0].float()
            cases.append({"text": text, "ids": ids, "logits": out})
    return cases


def build(name, model_class, config, seed):
    directory = os.path.join(OUT, name)
    shutil.rmtree(directory, ignore_errors=True)
    torch.manual_seed(seed)
    model = model_class(config)
    specs = synthetic_weights.assign(model, seed)
    model.generation_config = GenerationConfig(bos_token_id=0, eos_token_id=1, do_sample=True, temperature=0.7,
                                               top_p=0.9, top_k=20)
    model.save_pretrained(directory, safe_serialization=True)
    synthetic_weights.write_manifest(directory, specs, seed)
    tokenizer = train_tokenizer(LLAMA3_REGEX)
    tokenizer.save_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    cases = logits_for(directory, tokenizer)
    files = sorted(os.listdir(directory))
    size = sum(os.path.getsize(os.path.join(directory, f)) for f in files)
    print(f"{name}: {size // 1024} KB, files {files}")
    return directory, tokenizer, cases


def tensor_names(directory):
    from safetensors import safe_open
    with safe_open(os.path.join(directory, "model.safetensors"), "pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}


def definition_logits(directory, ids, hidden, heads, kv_heads, intermediate, window=None, theta=10000.0, eps=1e-5):
    """Float64 NumPy forward pass written from the architectures' definitions (not transformers'
    code): fused [Q|K|V] rows and [gate|up] rows for Phi-3, rotate_half RoPE, GQA, and a sliding
    window in which query q sees keys q-window+1 ... q. Checks the layout facts the fixture encodes."""
    import numpy as np
    from safetensors.numpy import load_file
    w = {k: v.astype(np.float64) for k, v in load_file(os.path.join(directory, "model.safetensors")).items()}
    hd, n = hidden // heads, len(ids)

    def rms(x, weight):
        return weight * x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)

    def rope(x):
        angle = np.arange(n)[:, None] / theta ** (np.arange(0, hd, 2) / hd)[None]
        cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
        a, b = x[..., :hd // 2], x[..., hd // 2:]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin], -1)

    x = w["model.embed_tokens.weight"][ids]
    qi, ki = np.arange(n)[:, None], np.arange(n)[None]
    visible = (ki <= qi) & ((ki > qi - window) if window else True)
    layer = 0
    while f"model.layers.{layer}.input_layernorm.weight" in w:
        p = f"model.layers.{layer}."
        h = rms(x, w[p + "input_layernorm.weight"])
        if p + "self_attn.qkv_proj.weight" in w:
            qkv = h @ w[p + "self_attn.qkv_proj.weight"].T
            q, k, v = np.split(qkv, [heads * hd, (heads + kv_heads) * hd], axis=1)
        else:
            q, k, v = (h @ w[p + f"self_attn.{m}_proj.weight"].T for m in "qkv")
        q, k, v = rope(q.reshape(n, heads, hd)), rope(k.reshape(n, kv_heads, hd)), v.reshape(n, kv_heads, hd)
        out = np.zeros((n, heads, hd))
        for head in range(heads):
            g = head // (heads // kv_heads)
            s = np.where(visible, q[:, head] @ k[:, g].T / np.sqrt(hd), -np.inf)
            s = np.exp(s - s.max(-1, keepdims=True))
            out[:, head] = (s / s.sum(-1, keepdims=True)) @ v[:, g]
        x = x + out.reshape(n, -1) @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        if p + "mlp.gate_up_proj.weight" in w:
            gate, up = np.split(h @ w[p + "mlp.gate_up_proj.weight"].T, [intermediate], axis=1)
        else:
            gate, up = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T
        layer += 1
    return rms(x, w["model.norm.weight"]) @ w["lm_head.weight"].T


def check_definition(name, directory, cases, **shape):
    diff = max(float(abs(definition_logits(directory, c["ids"], **shape) - c["logits"].double().numpy()).max())
               for c in cases)
    print(f"{name}: max |logit diff| transformers vs definition (float64 NumPy) = {diff:.2e}")
    assert diff < 1e-3, f"{name}: transformers and the written-out definition disagree"


def main():
    os.makedirs(OUT, exist_ok=True)
    result = {"transformers": transformers.__version__, "torch": torch.__version__, "models": {}}

    config = Phi3Config(**common())
    assert config.num_key_value_heads == 2 and config.sliding_window is None
    assert config.rope_parameters.get("partial_rotary_factor", 1.0) == 1.0, config.rope_parameters
    directory, _, cases = build("phi3", Phi3ForCausalLM, config, 11)
    names = tensor_names(directory)
    hd = 64 // 4
    assert names["model.layers.0.self_attn.qkv_proj.weight"] == (4 * hd + 2 * 2 * hd, 64), names
    assert names["model.layers.0.mlp.gate_up_proj.weight"] == (2 * 96, 64), names
    assert not any(".q_proj." in k or ".gate_proj." in k for k in names), "expected fused tensors only"
    check_definition("phi3", directory, cases, hidden=64, heads=4, kv_heads=2, intermediate=96)
    result["models"]["phi3"] = {"dtype": "float32", "cases": encode(cases)}

    config = MistralConfig(**common(sliding_window=WINDOW))
    directory, tokenizer, cases = build("mistral", MistralForCausalLM, config, 12)
    with open(os.path.join(directory, "config.json")) as f:
        assert json.load(f)["sliding_window"] == WINDOW
    assert all(len(c["ids"]) >= 10 and len(c["ids"]) > WINDOW for c in cases), [len(c["ids"]) for c in cases]
    check_definition("mistral", directory, cases, hidden=64, heads=4, kv_heads=2, intermediate=96, window=WINDOW)
    plain = AutoModelForCausalLM.from_pretrained(directory).config
    plain.sliding_window = None
    unwindowed = logits_for(directory, tokenizer, plain)
    diff = max(float((a["logits"] - b["logits"]).abs().max()) for a, b in zip(cases, unwindowed))
    # The first WINDOW positions see every earlier key either way; position WINDOW is the first
    # to lose one (key 0): this pins the window's off-by-one (q attends to q-WINDOW+1 ... q).
    inside = max(float((a["logits"][:WINDOW] - b["logits"][:WINDOW]).abs().max()) for a, b in zip(cases, unwindowed))
    first = min(float((a["logits"][WINDOW] - b["logits"][WINDOW]).abs().max()) for a, b in zip(cases, unwindowed))
    print(f"mistral: max |logit change| without sliding window = {diff:.4f}; "
          f"positions < {WINDOW}: {inside:.2e}; position {WINDOW}: {first:.4f}")
    assert diff > 0.1, "the sliding window does not affect these logits; the fixture would not test it"
    assert inside < 1e-5 and first > 1e-3, "unexpected sliding-window semantics"
    result["models"]["mistral"] = {"dtype": "float32", "sliding_window": WINDOW, "cases": encode(cases),
                                   "without_sliding_window_max_diff": round(diff, 6)}

    for name in ("phi3", "mistral"):
        synthetic_weights.remove_weights(os.path.join(OUT, name))
    path = os.path.join(OUT, "reference_logits.json")
    with open(path, "w") as f:
        json.dump(result, f, separators=(",", ":"))
    print("wrote", path, os.path.getsize(path) // 1024, "KB")


if __name__ == "__main__":
    main()
