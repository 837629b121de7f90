#!/usr/bin/env python3
"""One-off check (not a fixture): transformers loads a GGUF (from_pretrained(gguf_file=...)),
saves it as an HF directory with save_pretrained, and records its float32 logits at every
position of a few prompts. Loom then loads that directory and compares
(LOOM_HF_CHECK_DIR=<out> swift test --filter IndependentHFDirectoryTests/testExternalDirectory).

usage: check_hf_transformers_gguf.py GGUF OUT_DIR
pip install torch transformers gguf
"""
import json, os, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = ["The capital of France is", "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"]


def main():
    gguf, out = os.path.abspath(sys.argv[1]), sys.argv[2]
    folder, name = os.path.split(gguf)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # transformers marks GGUF-loaded models as quantized (not serializable); its weights are
    # already dequantised to float32, so move them into a plain model built from the config.
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict(), strict=True)
    plain.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager").eval()
    cases = []
    with torch.no_grad():
        for p in PROMPTS:
            ids = tok(p, add_special_tokens=False)["input_ids"]
            logits = model(torch.tensor([ids])).logits[0]
            cases.append({"text": p, "ids": ids, "logits": [[round(float(v), 5) for v in row] for row in logits]})
    with open(os.path.join(out, "reference_logits.json"), "w") as f:
        json.dump({"cases": cases}, f)
    print("wrote", out, [len(c["ids"]) for c in cases])


if __name__ == "__main__":
    main()
