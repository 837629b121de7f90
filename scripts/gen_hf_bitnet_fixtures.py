#!/usr/bin/env python3
"""Writes Tests/LoomModelsTests/Fixtures/hf_bitnet/: tiny RANDOM Hugging Face checkpoints in the
BitNet quantisation format (transformers `quant_method: "bitnet"`), packed with transformers' own
`integrations/bitnet.py` `pack_weights`, and the float32 logits transformers computes when it loads
them back through its BitNet quantiser (BitLinear / AutoBitLinear modules).

  llama_bitnet/  LlamaForCausalLM with quantization_config {quant_method: bitnet,
                 linear_class: bitlinear, quantization_mode: offline}, the format of the
                 Llama3-8B-1.58 card. Every linear of the layers is packed (uint8 [out/4, in],
                 4 ternary values per byte, value k of byte (p, c) is row k*out/4 + p) with a
                 `weight_scale` [1]; lm_head stays float (the quantiser never converts it).
                 BitLinear.forward DIVIDES by weight_scale: y = (xq . Wq) / (x_scale * weight_scale),
                 so weight_scale = 1 / mean|W| here.
  bitnet/        BitNetForCausalLM (tied embeddings) (model_type bitnet: attn_sub_norm before o_proj, ffn_sub_norm
                 before down_proj, relu2 gated FFN) with {linear_class: autobitlinear,
                 quantization_mode: offline}, the format of microsoft/bitnet-b1.58-2B-4T.
                 AutoBitLinear MULTIPLIES by weight_scale: y = (ActQuant(x) . Wq) * weight_scale, so
                 weight_scale = mean|W| here.

Weights come from the deterministic generator of synthetic_weights.py (base seed 21 for
llama_bitnet, 22 for bitnet): float tensors by its default_spec scales; each projection's packed
ternary matrix by its "ternary" kind (uniform over {-1, 0, 1}) and its weight_scale [1] by
"uniform": U(9, 11) for BitLinear (a divisor, ~ 1 / mean|W| of the N(0, 1/fan_in) weights the
fixture had before), U(1/16, 1/8) for AutoBitLinear (a factor). The script checks the saved
bytes against the generator, writes the manifest weights.json and deletes model.safetensors,
which is never committed; the tests regenerate it (Tests/LoomTestSupport/SyntheticFixture.swift).

  llama_online/  a plain float LlamaForCausalLM (seed 23, no quantization_config), the input of
                 `loom quantize --ternary`; its reference "llama_online" is transformers loading
                 it with BitNetQuantConfig(linear_class="autobitlinear", quantization_mode="online"):
                 AutoBitLinear's WeightQuant (absmean: scale = 1/mean|W|, round, clamp to ±1,
                 per tensor) and ActQuant (per-token absmax int8) on every linear of the layers.

reference_logits.json: {"transformers", "torch", "models": {name: {"dtype", "cases": [...]}},
with name_float the same weights (ternary * scale) run in plain float without activation
quantisation, the reference for GGUF conversions of these directories;
"bitlinear_example": {...}, "weight_quant_example": {...}} where weight_quant_example is one
matrix through transformers' WeightQuant (inputs, the ternary codes and the value scale mean|W|), and
bitlinear_example pins the packing order and BitLinear's arithmetic on
one tiny module: a ternary matrix, transformers' packed bytes for it, a weight_scale, inputs and
BitLinear.forward's outputs.

pip install torch transformers accelerate tokenizers safetensors
"""
import json, os, shutil, sys

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")  # bitnet.py's @torch.compile: same math, no compiler needed
import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer, BitNetConfig, BitNetForCausalLM, GenerationConfig, LlamaConfig, LlamaForCausalLM
from transformers.integrations import bitnet as integration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_hf_independent_fixtures import LLAMA3_REGEX, VOCAB, encode, train_tokenizer  # noqa: E402
import synthetic_weights  # noqa: E402

OUT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomModelsTests", "Fixtures", "hf_bitnet"))
TEXTS = ["the cat sat on the mat and the dog sat on the log",
         "print('hello world') # 12"]
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def common(**extra):
    return dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=1,
                pad_token_id=1, tie_word_embeddings=False, **extra)


def build(name, model_class, config, seed, linear_class):
    directory = os.path.join(OUT, name)
    shutil.rmtree(directory, ignore_errors=True)
    torch.manual_seed(seed)
    model = model_class(config)
    specs = {spec["name"]: spec for spec in synthetic_weights.assign(model, seed)}
    state = {}
    # The same network with every linear replaced by its ternary value times its scale, run
    # in plain float (no activation quantisation): what a GGUF of these weights computes
    # (llama.cpp's convert_hf_to_gguf BitnetModel writes unpacked * weight_scale).
    dequantized = model_class(config).eval()
    dequantized_state = {}
    for key, value in model.state_dict().items():
        value = value.detach().float().contiguous()
        dequantized_state[key] = value
        if key == "lm_head.weight" and config.tie_word_embeddings:
            continue  # the embedding itself; transformers' save_pretrained drops it too
        if key.split(".")[-2] in PROJECTIONS and key.endswith(".weight"):
            rows, cols = value.shape
            del specs[key]
            ternary = synthetic_weights.ternary_spec(key, rows, cols, seed)
            # BitLinear divides by weight_scale, AutoBitLinear multiplies by it (integrations/bitnet.py).
            if linear_class == "bitlinear":
                scale = synthetic_weights.float_spec(key + "_scale", [1], seed, 1.0, 10.0)
            else:
                scale = synthetic_weights.float_spec(key + "_scale", [1], seed, 2.0 ** -5, 3 / 32)
            specs[ternary["name"]], specs[scale["name"]] = ternary, scale
            q = torch.from_numpy(synthetic_weights.values(ternary).astype("float32"))
            s = torch.from_numpy(synthetic_weights.values(scale))
            dequantized_state[key] = q / s if linear_class == "bitlinear" else q * s
            state[key] = integration.pack_weights(q.clone()).contiguous()
            assert bytes(state[key].numpy().tobytes()) == synthetic_weights.stored_bytes(ternary), key
            state[key + "_scale"] = s
        else:
            state[key] = value
    os.makedirs(directory)
    save_file(state, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    synthetic_weights.write_manifest(directory, list(specs.values()), seed)
    config.quantization_config = {"quant_method": "bitnet", "linear_class": linear_class,
                                  "quantization_mode": "offline", "modules_to_not_convert": None}
    config.architectures = [model_class.__name__]
    config.save_pretrained(directory)
    GenerationConfig(bos_token_id=0, eos_token_id=1, do_sample=True, temperature=0.7, top_p=0.9,
                     top_k=20).save_pretrained(directory)
    tokenizer = train_tokenizer(LLAMA3_REGEX)
    tokenizer.save_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)

    loaded = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32, attn_implementation="eager").eval()
    expected = integration.BitLinear if linear_class == "bitlinear" else integration.AutoBitLinear
    q_proj = loaded.model.layers[0].self_attn.q_proj
    assert isinstance(q_proj, expected), type(q_proj)
    assert not isinstance(loaded.lm_head, (integration.BitLinear, integration.AutoBitLinear))
    dequantized.load_state_dict(dequantized_state)
    cases, float_cases = [], []
    with torch.no_grad():
        for text in TEXTS:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            out = loaded(torch.tensor([ids])).logits[0].float()
            cases.append({"text": text, "ids": ids, "logits": out})
            out = dequantized(torch.tensor([ids])).logits[0].float()
            float_cases.append({"text": text, "ids": ids, "logits": out})
    gap = max(float((a["logits"] - b["logits"]).abs().max()) for a, b in zip(cases, float_cases))
    print(f"{name}: max |logit diff| int8-activation BitNet vs float ternary weights = {gap:.4f}")
    files = sorted(os.listdir(directory))
    size = sum(os.path.getsize(os.path.join(directory, f)) for f in files)
    print(f"{name}: {size // 1024} KB, files {files}")
    return cases, float_cases


def build_online(name, config, seed):
    """A float checkpoint and transformers' online BitNet quantisation of it (absmean weights,
    int8 activations): the reference for Loom's `quantize --ternary` on any float model."""
    directory = os.path.join(OUT, name)
    shutil.rmtree(directory, ignore_errors=True)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    specs = synthetic_weights.assign(model, seed)
    os.makedirs(directory)
    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    synthetic_weights.write_manifest(directory, specs, seed)
    config.architectures = ["LlamaForCausalLM"]
    config.save_pretrained(directory)
    tokenizer = train_tokenizer(LLAMA3_REGEX)
    tokenizer.save_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    # from_pretrained refuses BitNet quantisation of a float checkpoint ("requires the model to be
    # pre-quantized"), so the layers' linears are swapped for the integration's own online
    # AutoBitLinear modules by hand, holding the same float weights.
    quantized = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32, attn_implementation="eager").eval()
    for layer in quantized.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for attr in PROJECTIONS:
                linear = getattr(parent, attr, None)
                if linear is None:
                    continue
                module = integration.AutoBitLinear(linear.in_features, linear.out_features, bias=linear.bias is not None,
                                                   dtype=torch.float32, online_quant=True)
                with torch.no_grad():
                    module.weight.copy_(linear.weight)
                    if linear.bias is not None:
                        module.bias.copy_(linear.bias)
                setattr(parent, attr, module.eval())
    q_proj = quantized.model.layers[0].self_attn.q_proj
    assert isinstance(q_proj, integration.AutoBitLinear) and q_proj.online_quant, type(q_proj)
    plain = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32, attn_implementation="eager").eval()
    # Per-token int8 activations make logits discontinuous: an activation within float rounding
    # of a code boundary takes the other code under any other engine's rounding, and every later
    # position moves (0.02 on "the cat sat ..."). Keep only texts whose logits stay put when the
    # embeddings get 1e-6 relative noise, so a tight tolerance tests the arithmetic, not luck.
    candidates = TEXTS + ["a quick brown fox jumps over the lazy dog", "hello world, the log sat on the cat",
                          "12 cats and 7 dogs", "on the mat the dog sat"]
    cases = []
    gap = 0.0
    embedding = quantized.model.embed_tokens.weight.detach().clone()
    noise = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for text in candidates:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            out = quantized(torch.tensor([ids])).logits[0].float()
            moved = 0.0
            for _ in range(8):
                quantized.model.embed_tokens.weight.copy_(embedding * (1 + 1e-6 * torch.randn(embedding.shape, generator=noise)))
                moved = max(moved, float((quantized(torch.tensor([ids])).logits[0].float() - out).abs().max()))
            quantized.model.embed_tokens.weight.copy_(embedding)
            print(f"{name}: '{text}' moves {moved:.2e} under 1e-6 input noise")
            if moved > 1e-4:
                continue
            gap = max(gap, float((out - plain(torch.tensor([ids])).logits[0].float()).abs().max()))
            cases.append({"text": text, "ids": ids, "logits": out})
    assert len(cases) >= 2, "too few stable texts"
    print(f"{name}: max |logit diff| online-ternarised vs float = {gap:.4f}")
    return cases, gap


def weight_quant_example():
    """transformers' WeightQuant on one 8 x 6 matrix: codes round(W/mean|W|) clamped to ±1."""
    g = torch.Generator().manual_seed(6)
    w = torch.randn(8, 6, generator=g) * 0.05
    w[0, 0] = 0.0
    with torch.no_grad():
        q = integration.WeightQuant.apply(w.clone())
    mean = float(w.abs().mean())
    codes = torch.round(q / mean).int()
    assert torch.allclose(codes.float() * mean, q, rtol=1e-6, atol=0)
    return {"weights": w.tolist(), "codes": codes.tolist(), "mean_abs": mean}


def bitlinear_example():
    """One BitLinear (8 outputs, 3 inputs) run by transformers: pins pack order, scale direction,
    per-token absmax int8 activations (round half to even, the 1e-5 floor)."""
    g = torch.Generator().manual_seed(5)
    ternary = torch.randint(-1, 2, (8, 3), generator=g).float()
    packed = integration.pack_weights(ternary.clone())
    assert torch.equal(integration.unpack_weights(packed, dtype=torch.float32), ternary)
    module = integration.BitLinear(3, 8, bias=False, dtype=torch.float32)
    module.weight.copy_(packed)
    module.weight_scale.fill_(4.0)
    x = torch.tensor([[0.5, -1.25, 2.0], [1e-7, -3e-7, 2e-7], [0.0, 0.0, 0.0], [1.0, 0.5, -0.25]])
    with torch.no_grad():
        y = module(x)
    return {"ternary": ternary.int().tolist(), "packed": packed.int().tolist(), "weight_scale": 4.0,
            "inputs": x.tolist(), "outputs": y.tolist()}


def main():
    os.makedirs(OUT, exist_ok=True)
    result = {"transformers": transformers.__version__, "torch": torch.__version__, "models": {}}
    cases, float_cases = build("llama_bitnet", LlamaForCausalLM, LlamaConfig(**common(rope_theta=10000.0)), 21, "bitlinear")
    result["models"]["llama_bitnet"] = {"dtype": "float32", "cases": encode(cases)}
    result["models"]["llama_bitnet_float"] = {"dtype": "float32", "cases": encode(float_cases)}
    # Tied like microsoft/bitnet-b1.58-2B-4T: llama.cpp's bitnet graph always uses token_embd as the head.
    config = BitNetConfig(**common(hidden_act="relu2", rope_theta=10000.0) | {"tie_word_embeddings": True})
    cases, float_cases = build("bitnet", BitNetForCausalLM, config, 22, "autobitlinear")
    result["models"]["bitnet"] = {"dtype": "float32", "cases": encode(cases)}
    result["models"]["bitnet_float"] = {"dtype": "float32", "cases": encode(float_cases)}
    cases, gap = build_online("llama_online", LlamaConfig(**common(rope_theta=10000.0)), 23)
    result["models"]["llama_online"] = {"dtype": "float32", "cases": encode(cases), "ternarisation_max_diff": gap}
    result["bitlinear_example"] = bitlinear_example()
    result["weight_quant_example"] = weight_quant_example()
    for name in ("llama_bitnet", "bitnet", "llama_online"):
        synthetic_weights.remove_weights(os.path.join(OUT, name))
    path = os.path.join(OUT, "reference_logits.json")
    with open(path, "w") as f:
        json.dump(result, f, separators=(",", ":"))
    print("wrote", path, os.path.getsize(path) // 1024, "KB")


if __name__ == "__main__":
    main()
