#!/usr/bin/env python3
"""Writes Tests/LoomTrainingTests/Fixtures/peft_export/: adapters that `loom finetune` trained and
wrote as PEFT directories, and what PEFT itself makes of them, so "the final adapter loads in PEFT"
(issue #23) is checked against PEFT, not against Loom's own loader.

For each case the script
  1. runs the built `loom finetune` on the tiny random llama of
     Tests/LoomModelsTests/Fixtures/hf_independent/llama_f32_untied (hidden 32, 2 layers, vocab 300)
     with the alpaca data below and the case's flags, a few optimiser steps;
  2. loads the written directory in PEFT strictly: PeftConfig.from_pretrained, get_peft_model,
     load_peft_weights + set_peft_model_state_dict, failing on any unexpected key or any missing
     lora_ key (PeftModel.from_pretrained only warns), and checks that
     PeftModel.from_pretrained gives the same logits;
     (a --train-norms case: its norms, saved as PEFT's modules_to_save, land on PEFT's
     modules_to_save copies with the file's values);
  3. records PEFT's float32 logits at every position of IDS (eval mode), how far the adapter moves
     them from the base's (max_vs_base: proof the case tests something), and the flags.
The adapter files are committed next to reference.json (a few KB each). Tests/LoomCLITests/
FinetuneCLITests.testLoomTrainedAdapterMatchesPEFT runs the same command, checks its fresh adapter
against the committed one, and checks Loom's logits with the committed adapter against PEFT's.

usage: swift build -c release && python3 scripts/gen_peft_export_fixtures.py [--loom .build/release/loom]
pip install torch transformers peft safetensors
"""
import argparse, json, os, shutil, subprocess, tempfile

import torch
from peft import PeftConfig, PeftModel, get_peft_model
from peft.utils import load_peft_weights, set_peft_model_state_dict
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = os.path.join(ROOT, "Tests/LoomModelsTests/Fixtures/hf_independent/llama_f32_untied")
OUT = os.path.join(ROOT, "Tests/LoomTrainingTests/Fixtures/peft_export")
IDS = [0, 5, 17, 42, 99, 123, 250, 7, 64, 3]

# The alpaca data, one line per example; FinetuneCLITests.peftExportData() writes the same.
DATA = [{"instruction": f"Say the number {i}.", "input": "", "output": f"The number is {i}."} for i in range(5)]
COMMON = ["--lr", "5e-2", "--warmup", "0", "--batch-size", "1", "--grad-accum", "2", "--max-steps", "3", "-t", "1", "--seed", "11"]
CASES = {
    "all_linear": ["--lora-r", "4", "--lora-alpha", "8", "--target", "all-linear"],
    "rslora_layer1": ["--lora-r", "2", "--lora-alpha", "8", "--use-rslora", "--target", "q_proj,v_proj,down_proj", "--layers", "1"],
    # Trained norms: PEFT's modules_to_save on layer 1's two norms and model.norm.
    "train_norms_layer1": ["--lora-r", "2", "--lora-alpha", "4", "--target", "q_proj,v_proj", "--layers", "1", "--train-norms"],
}


def logits(model):
    with torch.no_grad():
        return model(torch.tensor([IDS])).logits[0].double()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loom", default=os.path.join(ROOT, ".build/release/loom"))
    args = ap.parse_args()
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    work = tempfile.mkdtemp()
    data = os.path.join(work, "train.jsonl")
    with open(data, "w") as f:
        f.write("".join(json.dumps(d) + "\n" for d in DATA))
    base = AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32, attn_implementation="eager").eval()
    base_logits = logits(base)
    reference = {"ids": IDS, "data": DATA, "common": COMMON, "cases": {}}
    for name, flags in CASES.items():
        out = os.path.join(work, name)
        subprocess.run([args.loom, "finetune", "-m", BASE, "--data", data, "-o", out] + COMMON + flags, check=True)
        # Strict load: every tensor of the file lands on a LoRA parameter and vice versa.
        config = PeftConfig.from_pretrained(out)
        strict = get_peft_model(AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32, attn_implementation="eager"), config)
        result = set_peft_model_state_dict(strict, load_peft_weights(out, device="cpu"))
        missing = [k for k in result.missing_keys if "lora_" in k or "modules_to_save" in k]
        assert not result.unexpected_keys and not missing, (name, result.unexpected_keys, missing)
        # Saved modules (trained norms) replaced PEFT's copies with the file's values.
        saved = {k: v for k, v in load_peft_weights(out, device="cpu").items() if "lora_" not in k}
        assert bool(saved) == ("--train-norms" in flags), (name, sorted(saved))
        state = strict.state_dict()
        for key, value in saved.items():
            module = key.removesuffix(".weight")
            assert torch.equal(state[module + ".modules_to_save.default.weight"], value), key
        strict.eval()
        peft_logits = logits(strict)
        loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32, attn_implementation="eager"), out).eval()
        assert torch.allclose(logits(loaded), peft_logits, atol=1e-6), name
        target = os.path.join(OUT, name)
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target)
        for file in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.copy(os.path.join(out, file), target)
        reference["cases"][name] = {
            "flags": flags,
            "lora_tensors": len([k for k in load_peft_weights(out, device="cpu")]),
            "logits": [[float(f"{x:.8g}") for x in row] for row in peft_logits.tolist()],  # float32 precision
            "max_vs_base": float((peft_logits - base_logits).abs().max()),
        }
        print(name, "tensors", reference["cases"][name]["lora_tensors"], "max_vs_base", reference["cases"][name]["max_vs_base"])
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(reference, f)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
