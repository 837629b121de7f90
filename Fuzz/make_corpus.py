#!/usr/bin/env python3
"""Writes the small seed corpora in Fuzz/Corpus/ (committed; libFuzzer only reads them).

Seeds are valid inputs, so the fuzzers start inside the formats instead of at random bytes:
  GGUF/         tiny Llama and Qwen2 models written by gguf-py's GGUFWriter (the reference
                writer, https://github.com/ggml-org/llama.cpp/tree/master/gguf-py): 1 layer,
                width 4, a 266-token byte-level vocabulary with merges and a chat template.
  Safetensors/  tiny files written by the `safetensors` package (F32, F16, BF16, I8; metadata).
  HFConfig/     Llama/Qwen2 config.json files (RoPE none/linear/llama3/yarn), from the test fixtures.
  HFTokenizer/  tokenizer.json files cut down from the small trained ones in the tests' fixtures
                (each pre-tokenizer Loom supports, added tokens, TemplateProcessing).
  JSON/         a few JSON documents (escapes, numbers, nesting).
  Jinja/        real chat templates of the test models (from chat_templates.json).
  BPE/          byte 0 selects tokenizer and flags (see FuzzBPE.swift), the rest is text.
  ServerRequest/ chat and completion request bodies.

Run from the package root with numpy, gguf and safetensors installed:
    python3 Fuzz/make_corpus.py
"""

import json
import os

import numpy as np
from gguf import GGUFWriter, GGMLQuantizationType
from safetensors.numpy import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Fuzz", "Corpus")


def out(kind, name, data):
    os.makedirs(os.path.join(OUT, kind), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(OUT, kind, name), mode) as f:
        f.write(data)


def bytes_to_unicode():
    """GPT-2's byte → printable character table (openai/gpt-2 encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def tiny_vocab():
    table = bytes_to_unicode()
    tokens = [table[b] for b in range(256)]
    merges = []
    for a, b in [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"), ("o", "n"), ("Ġ", "w")]:
        merges.append(f"{a} {b}")
        tokens.append(a + b)
    return tokens, merges


def gguf_seed(name, arch, pre, template, tied, bias):
    path = os.path.join(OUT, "GGUF", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    w = GGUFWriter(path, arch)
    d, ffn, heads, kv = 4, 8, 2, 1
    w.add_name(name)
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(d)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    tokens, merges = tiny_vocab()
    specials = ["<|im_start|>", "<|im_end|>"]
    tokens += specials
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types([1] * (len(tokens) - 2) + [3, 3])
    w.add_token_merges(merges)
    w.add_bos_token_id(len(tokens) - 2)
    w.add_eos_token_id(len(tokens) - 1)
    w.add_chat_template(template)
    rng = np.random.default_rng(0)
    vocab = len(tokens)

    def t(n, *shape):
        w.add_tensor(n, rng.standard_normal(shape).astype(np.float16 if len(shape) == 2 else np.float32))

    t("token_embd.weight", vocab, d)
    t("output_norm.weight", d)
    if not tied:
        t("output.weight", vocab, d)
    t("blk.0.attn_norm.weight", d)
    t("blk.0.attn_q.weight", d, d)
    t("blk.0.attn_k.weight", kv * d // heads, d)
    t("blk.0.attn_v.weight", kv * d // heads, d)
    if bias:
        t("blk.0.attn_q.bias", d)
        t("blk.0.attn_k.bias", kv * d // heads)
        t("blk.0.attn_v.bias", kv * d // heads)
    t("blk.0.attn_output.weight", d, d)
    t("blk.0.ffn_norm.weight", d)
    t("blk.0.ffn_gate.weight", ffn, d)
    t("blk.0.ffn_up.weight", ffn, d)
    t("blk.0.ffn_down.weight", d, ffn)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    templates = {t["name"]: t["source"] for t in json.load(open(os.path.join(ROOT, "Tests/LoomJinjaTests/Fixtures/chat_templates.json")))["templates"]}
    for name in ["smollm2", "qwen2.5", "llama3.1", "mistral-nemo", "gemma3", "phi3.5"]:
        out("Jinja", name + ".jinja", templates[name])

    gguf_seed("llama", "llama", "smollm", templates["smollm2"], tied=True, bias=False)
    gguf_seed("qwen2", "qwen2", "qwen2", templates["smollm2"], tied=False, bias=True)

    os.makedirs(os.path.join(OUT, "Safetensors"), exist_ok=True)
    save_file({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4, dtype=np.float16)},
              os.path.join(OUT, "Safetensors", "f32_f16"), metadata={"format": "pt"})
    save_file({"w": np.arange(8, dtype=np.int8), "s": np.zeros((0, 3), dtype=np.float32)},
              os.path.join(OUT, "Safetensors", "i8_empty"))
    bf16 = np.array([0x3F80, 0xC000, 0x7F80], dtype=np.uint16)
    header = json.dumps({"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    out("Safetensors", "bf16", len(header).to_bytes(8, "little") + header + bf16.tobytes())

    for f in ["llama_none", "llama_llama3", "qwen2_yarn", "qwen2_linear", "legacy_llama31"]:
        out("HFConfig", f + ".json", open(os.path.join(ROOT, "Tests/LoomFormatsTests/Fixtures/hf_configs", f + ".json")).read())

    small = json.load(open(os.path.join(ROOT, "Tests/LoomTokenizerTests/Fixtures/hf_tokenizer_small.json")))
    for v in small["variants"]:
        tok = json.loads(v["tokenizer_json"])
        model = tok["model"]
        keep = 300  # the byte alphabet and the first merges: a few KB per file
        vocab = {k: i for k, i in model["vocab"].items() if i < keep}
        merges = []
        for m in model["merges"]:
            a, b = m.split(" ", 1) if isinstance(m, str) else m
            if a in vocab and b in vocab and a + b in vocab:
                merges.append(m)
        model["vocab"], model["merges"] = vocab, merges
        added = [a for a in tok["added_tokens"] if a["id"] < keep]
        tok["added_tokens"] = added
        out("HFTokenizer", v["name"] + ".json", json.dumps(tok, ensure_ascii=False, separators=(",", ":")))

    out("JSON", "object.json", '{"a": [1, -2.5e-3, true, false, null], "b": {"c": "\\u00e9\\ud83d\\ude00\\n"}, "d": ""}')
    out("JSON", "numbers.json", "[0, -0, 1e308, 123456789012345678901234567890, 9223372036854775807, -9223372036854775808, 1.5E+2]")
    out("JSON", "nested.json", "[[[[{\"k\": [[[]]]}]]]]")
    out("JSON", "string.json", '"tab\\t quote\\" slash\\/ backslash\\\\ \\u0000"')

    out("BPE", "plain", b"\x00Hello, world! It's 2024-06-01; 3.14159 \xc3\xa9t\xc3\xa9")
    out("BPE", "special", b"\x07<|im_start|>user\nhi<|im_end|>\n<|begin_of_text|>x")
    out("BPE", "mixed", "\x03  spaces\t\ttabs\r\n\u4e2d\u6587 \U0001F600 don't I'll 12345678".encode())
    out("BPE", "invalid", b"\x01ab\xff\xfe\xc3(\xe2\x82 \xf0\x9f\x98")

    out("ServerRequest", "chat.json", json.dumps({"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
                                                   "max_tokens": 16, "temperature": 0.7, "top_p": 0.9, "seed": 1, "n": 2, "stream": True,
                                                   "stream_options": {"include_usage": True}, "stop": ["\n\n"], "logprobs": True, "top_logprobs": 3}))
    out("ServerRequest", "tools.json", json.dumps({"messages": [{"role": "user", "content": "Weather?"},
                                                                {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                                                                {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
                                                   "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]}))
    out("ServerRequest", "completion.json", json.dumps({"model": "m", "prompt": ["a", "b"], "max_tokens": 4, "echo": True, "logprobs": 2,
                                                         "frequency_penalty": 0.5, "presence_penalty": -0.5, "logit_bias": {"42": -100}}))
    out("ServerRequest", "ids.json", json.dumps({"prompt": [[1, 2, 3], [4]], "max_completion_tokens": 0, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1}))


if __name__ == "__main__":
    main()
