#!/usr/bin/env python3
"""Writes Tests/LoomModelsTests/Fixtures/hf_independent/: tiny RANDOM Hugging Face model
directories saved by transformers itself (save_pretrained, safetensors), plus the float32 logits
transformers computes for them, so Loom's HF-directory loader is checked against an independent
writer and an independent forward pass.

  llama_f32_untied/   LlamaForCausalLM, F32, untied lm_head, head_dim 16 != hidden/heads
  qwen2_tied_bias/    Qwen2ForCausalLM, F32, q/k/v biases, tie_word_embeddings
  llama3_rope_bf16/   LlamaForCausalLM, rope_scaling llama3, saved in bfloat16
  qwen2_yarn/         Qwen2ForCausalLM, rope_scaling yarn (factor 4, original context 16)
  llama_sharded_f16/  LlamaForCausalLM, F16, saved in shards (model.safetensors.index.json)

Each directory gets a byte-level BPE tokenizer trained here with the `tokenizers` package
(tokenizer.json + tokenizer_config.json, chat template) and a generation_config.json.
Weights are random with O(1) scales (norm weights, biases included), so logits are O(1) and
every tensor matters. The reference logits come from reloading each saved directory with
`from_pretrained(dtype=float32)` (BF16/F16 weights upcast exactly), eager attention.

reference_logits.json: {model: {"cases": [{"text", "ids", "logits": [[vocab floats] per position]}],
                                "without_rope_scaling_max_diff"?}}

pip install torch transformers tokenizers safetensors
"""
import json, os, shutil, sys

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (AutoModelForCausalLM, AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM,
                          PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM)
import transformers

OUT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomModelsTests", "Fixtures", "hf_independent"))

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = LLAMA3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")
SPECIAL = ["<|begin|>", "<|end|>"]
VOCAB = 300
CORPUS = [
    "the cat sat on the mat and the dog sat on the log",
    "numbers like 1234567890 and 9876543210 appear in tables",
    "it's what they're doing; we'll see if you've got it",
    "print('hello world') # a comment",
    "The quick brown fox jumps over the lazy dog.",
] * 20
TEMPLATE = ("{% for m in messages %}<|begin|>{{ m['role'] }}\n{{ m['content'] }}<|end|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|begin|>assistant\n{% endif %}")
TEXTS = ["the cat", "the dog sat on 12 mats"]


def train_tokenizer(regex):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer=trainer)
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=SPECIAL[0], eos_token=SPECIAL[1], chat_template=TEMPLATE)


def randomize(model, seed):
    """O(1)-scale random parameters: linear weights N(0, 1/fan_in), embeddings N(0, 1),
    norm weights 1 + 0.2 N(0, 1), biases 0.5 N(0, 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if name.endswith("norm.weight"):
                v = 1 + 0.2 * r
            elif name.endswith(".bias"):
                v = 0.5 * r
            elif "embed_tokens" in name:
                v = r
            else:
                v = r / p.shape[1] ** 0.5
            p.copy_(v.to(p.dtype))


def common(**extra):
    return dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=1,
                **extra)


def logits_for(directory, tokenizer, config_override=None):
    kwargs = dict(dtype=torch.float32, attn_implementation="eager")
    if config_override is not None:
        kwargs["config"] = config_override
    model = AutoModelForCausalLM.from_pretrained(directory, **kwargs).eval()
    cases = []
    with torch.no_grad():
        for text in TEXTS:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            out = model(torch.tensor([ids])).logits[0].float()
            cases.append({"text": text, "ids": ids, "logits": out})
    return cases


def build(name, model_class, config, seed, dtype, regex, shard=None):
    directory = os.path.join(OUT, name)
    shutil.rmtree(directory, ignore_errors=True)
    torch.manual_seed(seed)
    model = model_class(config)
    randomize(model, seed)
    if config.tie_word_embeddings:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    model = model.to(dtype)
    model.generation_config = GenerationConfig(bos_token_id=0, eos_token_id=1, do_sample=True, temperature=0.7,
                                               top_p=0.9, top_k=20, repetition_penalty=1.1)
    kwargs = {"safe_serialization": True}
    if shard:
        kwargs["max_shard_size"] = shard
    model.save_pretrained(directory, **kwargs)
    tokenizer = train_tokenizer(regex)
    tokenizer.save_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    cases = logits_for(directory, tokenizer)
    files = sorted(os.listdir(directory))
    size = sum(os.path.getsize(os.path.join(directory, f)) for f in files)
    print(f"{name}: {size // 1024} KB, files {files}")
    return directory, tokenizer, cases


def encode(cases):
    return [{"text": c["text"], "ids": c["ids"], "logits": [[round(float(v), 5) for v in row] for row in c["logits"]]}
            for c in cases]


def scaled_entry(name, dtype, directory, tokenizer, cases):
    """Fixture entry of a RoPE-scaled model, with how far its logits move without the scaling
    (asserted large, else the fixture would not test the scaling)."""
    plain = AutoModelForCausalLM.from_pretrained(directory).config
    plain.rope_scaling = None
    if hasattr(plain, "rope_parameters"):
        plain.rope_parameters = {"rope_type": "default", "rope_theta": plain.rope_theta if hasattr(plain, "rope_theta") else 10000.0}
    unscaled = logits_for(directory, tokenizer, plain)
    diff = max(float((a["logits"] - b["logits"]).abs().max()) for a, b in zip(cases, unscaled))
    print(f"{name}: max |logit change| without rope scaling = {diff:.4f}")
    assert diff > 0.01, f"{name}: rope scaling does not affect these logits; the fixture would not test it"
    return {"dtype": dtype, "cases": encode(cases), "without_rope_scaling_max_diff": round(diff, 6)}


def main():
    os.makedirs(OUT, exist_ok=True)
    result = {"transformers": transformers.__version__, "torch": torch.__version__, "models": {}}

    config = LlamaConfig(**common(head_dim=16, tie_word_embeddings=False, rope_theta=10000.0))
    _, _, cases = build("llama_f32_untied", LlamaForCausalLM, config, 1, torch.float32, LLAMA3_REGEX)
    result["models"]["llama_f32_untied"] = {"dtype": "float32", "cases": encode(cases)}

    config = Qwen2Config(**common(tie_word_embeddings=True, rope_theta=1000000.0, use_sliding_window=False))
    _, _, cases = build("qwen2_tied_bias", Qwen2ForCausalLM, config, 2, torch.float32, QWEN2_REGEX)
    result["models"]["qwen2_tied_bias"] = {"dtype": "float32", "cases": encode(cases)}

    # llama3 scaling with a short original context so it changes positions 0..10 measurably.
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}
    config = LlamaConfig(**common(head_dim=16, tie_word_embeddings=False, rope_theta=10000.0, rope_scaling=scaling))
    directory, tokenizer, cases = build("llama3_rope_bf16", LlamaForCausalLM, config, 3, torch.bfloat16, LLAMA3_REGEX)
    result["models"]["llama3_rope_bf16"] = scaled_entry("llama3_rope_bf16", "bfloat16", directory, tokenizer, cases)

    # YaRN as Qwen2.5's long-context configs use it, with a tiny original context so the ramp
    # and the attention factor both change positions 0..10 measurably.
    scaling = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}
    config = Qwen2Config(**common(tie_word_embeddings=True, rope_theta=10000.0, use_sliding_window=False,
                                  rope_scaling=scaling))
    directory, tokenizer, cases = build("qwen2_yarn", Qwen2ForCausalLM, config, 5, torch.float32, QWEN2_REGEX)
    result["models"]["qwen2_yarn"] = scaled_entry("qwen2_yarn", "float32", directory, tokenizer, cases)

    config = LlamaConfig(**common(tie_word_embeddings=False, rope_theta=500000.0))
    directory, _, cases = build("llama_sharded_f16", LlamaForCausalLM, config, 4, torch.float16, LLAMA3_REGEX,
                                shard="20KB")
    assert os.path.exists(os.path.join(directory, "model.safetensors.index.json")), "not sharded"
    result["models"]["llama_sharded_f16"] = {"dtype": "float16", "cases": encode(cases)}

    path = os.path.join(OUT, "reference_logits.json")
    with open(path, "w") as f:
        json.dump(result, f, separators=(",", ":"))
    print("wrote", path, os.path.getsize(path) // 1024, "KB")


if __name__ == "__main__":
    main()
