#!/usr/bin/env python3
"""Reference token ids and loss masks for LoomTraining's chat-data tokenisation.

Writes Tests/LoomTrainingTests/Fixtures/finetune_data.json: for the SmolLM2-135M-Instruct and
Qwen2.5-Coder-0.5B-Instruct test models (Loom's catalog GGUFs), and for Llama 3 (Meta's
tokenizer.json, Loom's catalog `llama3-tokenizer`, with Meta-Llama-3-8B-Instruct's chat template
as stored in Tests/LoomJinjaTests/Fixtures/chat_templates.json), a set of conversations with
  input_ids  transformers' `tokenizer.apply_chat_template(messages, tools=…, tokenize=True)`
             with the model's own chat template (the tokenizer is transformers' GGUF loader:
             `AutoTokenizer.from_pretrained(dir, gguf_file=…)`);
  labels     -100 except on assistant turns, computed independently of Loom's method: the
             rendered text is searched for each assistant header (ChatML `<|im_start|>assistant\\n`,
             Llama 3 `<|start_header_id|>assistant<|end_header_id|>\\n\\n`), the trained span runs
             from the header's end through the turn's end (`<|im_end|>\\n`, `<|eot_id|>`), and the
             tokens whose character offsets (the fast tokenizer's `offset_mapping`) start inside a
             span are trained. This is the mask LLaMA-Factory's supervised processor builds
             (train_on_prompt=false) with its templates: format_assistant `{{content}}<|im_end|>\\n`
             (qwen, smollm2) and `{{content}}<|eot_id|>` (llama3).
  llamafactory_truncated  the same with cutoff_len = half the conversation's length, so that
             LLaMA-Factory's per-turn truncation (`infer_seqlen`) cuts it.
  llamafactory  (cases without tools that end on an assistant turn, when the `llamafactory`
             package is importable) the ids and labels of LLaMA-Factory's own supervised
             preprocessing (`SupervisedDatasetProcessor._encode_data_example`) with its `smollm2`
             `qwen` and `llama3` templates, as a second reference.

Usage: python3 scripts/gen_finetune_data_fixtures.py [--models ~/.cache/loom/models]
(packages: transformers, gguf; optional llamafactory, e.g. in a venv:
 python3 -m venv --system-site-packages /work/venv-lf && /work/venv-lf/bin/pip install llamafactory
 /work/venv-lf/bin/python scripts/gen_finetune_data_fixtures.py)
"""
import argparse
import json
import os
import re

import gguf
from tokenizers import AddedToken
from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "LoomTrainingTests", "Fixtures", "finetune_data.json")
IGNORE = -100

TOOLS = [{"type": "function", "function": {
    "name": "get_price", "description": "Spot price of a coin in USD.",
    "parameters": {"type": "object", "properties": {"coin": {"type": "string"}}, "required": ["coin"]}}}]

CASES = [
    ("single", [{"role": "user", "content": "What is a hash function?"},
                {"role": "assistant", "content": "A function mapping data of any size to a fixed-size digest."}], None),
    ("system", [{"role": "system", "content": "You are a terse crypto tutor."},
                {"role": "user", "content": "Define a nonce."},
                {"role": "assistant", "content": "A number used once."}], None),
    ("multi_turn", [{"role": "user", "content": "Hi!"},
                    {"role": "assistant", "content": "Hello. How can I help?"},
                    {"role": "user", "content": "What does PoW stand for?"},
                    {"role": "assistant", "content": "Proof of work."},
                    {"role": "user", "content": "And PoS?"},
                    {"role": "assistant", "content": "Proof of stake."}], None),
    ("unicode_newlines", [{"role": "user", "content": "Écris « bonjour » ✨\n\nthen a list:"},
                          {"role": "assistant", "content": "bonjour 👋\n- one\n- two\n"}], None),
    ("trailing_user", [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"},
                       {"role": "user", "content": "Q2 left unanswered"}], None),
]
QWEN_ONLY = [
    ("tool_call", [{"role": "user", "content": "Price of BTC?"},
                   {"role": "assistant", "content": None, "tool_calls": [
                       {"type": "function", "function": {"name": "get_price", "arguments": {"coin": "BTC"}}}]},
                   {"role": "tool", "content": "97000"},
                   {"role": "assistant", "content": "About $97,000."}], TOOLS),
]
# (Loom catalog name, model file, cases, LLaMA-Factory template name)
MODELS = [("smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", CASES, "smollm2"),
          ("qwen2.5-0.5b", "Qwen2.5-Coder-0.5B-Instruct.gguf", CASES + QWEN_ONLY, "qwen"),
          ("llama3-tokenizer", "llama3-tokenizer.json", CASES, "llama3")]
HEADERS = {"<|im_start|>assistant\n": "<|im_end|>\n",
           "<|start_header_id|>assistant<|end_header_id|>\n\n": "<|eot_id|>"}


def llama3_tokenizer(directory, file_name):
    """Meta's Llama 3 tokenizer.json with the Llama-3-8B-Instruct chat template, as Loom's Jinja
    fixtures store it (the catalog ships only the tokenizer file)."""
    from transformers import PreTrainedTokenizerFast
    with open(os.path.join(ROOT, "Tests", "LoomJinjaTests", "Fixtures", "chat_templates.json"), encoding="utf-8") as f:
        template = next(t for t in json.load(f)["templates"] if t["name"] == "llama3")
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(directory, file_name),
                                        bos_token=template["bos_token"], eos_token=template["eos_token"])
    tokenizer.chat_template = template["source"]
    return tokenizer


def load_tokenizer(directory, file_name):
    """transformers' GGUF tokenizer, with the GGUF's user-defined tokens (Qwen's `<tool_call>`,
    `</tool_call>`) registered as non-special added tokens, as they are in the model's own
    tokenizer.json; some transformers versions' GGUF conversion (5.6) leaves them out, which
    would split `<tool_call>` into plain pieces."""
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=file_name)
    reader = gguf.GGUFReader(os.path.join(directory, file_name))
    tokens = reader.fields["tokenizer.ggml.tokens"]
    types = reader.fields["tokenizer.ggml.token_type"]
    user_defined = [bytes(tokens.parts[t]).decode("utf-8") for t, k in zip(tokens.data, types.data)
                    if int(types.parts[k][0]) == gguf.TokenType.USER_DEFINED]
    if user_defined:
        tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in user_defined])
    return tokenizer


def span_labels(tokenizer, text, ids):
    """Labels from character spans: after each assistant header through the end of its turn."""
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    assert encoding["input_ids"] == ids, "tokenising the rendered text differs from apply_chat_template"
    spans = []
    for opening, closing in HEADERS.items():
        for header in re.finditer(re.escape(opening), text):
            end = text.index(closing, header.end()) + len(closing)
            spans.append((header.end(), end))
    labels = []
    for token, (start, _) in zip(ids, encoding["offset_mapping"]):
        labels.append(token if any(a <= start < b for a, b in spans) else IGNORE)
    return labels


def llamafactory_reference(tokenizer, messages, template_name, cutoff_len=100000):
    """LLaMA-Factory's supervised encoding with its own template, or None when unavailable.
    A small cutoff_len exercises its per-turn truncation (`infer_seqlen`)."""
    try:
        from llamafactory.data import get_template_and_fix_tokenizer
        from llamafactory.data.processor.supervised import SupervisedDatasetProcessor
        from llamafactory.hparams import DataArguments
    except ImportError:
        return None
    data_args = DataArguments(template=template_name, cutoff_len=cutoff_len)
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    system = ""
    turns = list(messages)
    if turns[0]["role"] == "system":
        system = turns.pop(0)["content"]
    if len(turns) % 2:
        return None
    prompt = [{"role": m["role"], "content": m["content"]} for m in turns[:-1]]
    response = [{"role": "assistant", "content": turns[-1]["content"]}]
    processor = SupervisedDatasetProcessor(template=template, tokenizer=tokenizer, processor=None, data_args=data_args)
    ids, labels = processor._encode_data_example(prompt=prompt, response=response, system=system, tools="",
                                                 images=[], videos=[], audios=[])
    return {"input_ids": ids, "labels": labels}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=os.path.expanduser("~/.cache/loom/models"))
    args = parser.parse_args()
    import transformers
    fixture = {"generator": "scripts/gen_finetune_data_fixtures.py",
               "transformers": transformers.__version__, "models": []}
    try:
        import llamafactory
        fixture["llamafactory"] = llamafactory.__version__
    except ImportError:
        pass
    for catalog, file_name, cases, lf_template in MODELS:
        if file_name.endswith(".json"):
            tokenizer = llama3_tokenizer(args.models, file_name)
        else:
            tokenizer = load_tokenizer(args.models, file_name)
        entry = {"catalog": catalog, "file": file_name, "cases": []}
        if file_name.endswith(".json"):
            entry.update(chat_template=tokenizer.chat_template, bos_token=tokenizer.bos_token, eos_token=tokenizer.eos_token)
        for name, messages, tools in cases:
            text = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
            ids = tokenizer.apply_chat_template(messages, tools=tools, tokenize=True, return_dict=True)["input_ids"]
            case = {"name": name, "messages": messages, "tools": tools, "text": text,
                    "input_ids": ids, "labels": span_labels(tokenizer, text, ids)}
            if tools is None:
                reference = llamafactory_reference(tokenizer, messages, lf_template)
                if reference is not None:
                    case["llamafactory"] = reference
                    cutoff = max(8, len(ids) // 2)
                    truncated = llamafactory_reference(tokenizer, messages, lf_template, cutoff)
                    case["llamafactory_truncated"] = dict(cutoff_len=cutoff, **truncated)
            entry["cases"].append(case)
            print(catalog, name, len(ids), "tokens,", sum(l != IGNORE for l in case["labels"]), "trained",
                  "(+ llamafactory)" if "llamafactory" in case else "")
        fixture["models"].append(entry)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
