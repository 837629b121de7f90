#!/usr/bin/env python3
"""Check a Loom LLaMA-Factory export with LLaMA-Factory's own code.

An export directory (`loom finetune … --export llama-factory DIR`, or the committed examples
in Tests/LoomTrainingTests/Fixtures/llamafactory_export*, which LlamaFactoryExportTests checks the
Swift exporter reproduces byte for byte) holds train_lora.yaml, data/dataset_info.json, the
dataset file and optionally a DeepSpeed JSON. This script:

1. parses train_lora.yaml exactly as `llamafactory-cli train train_lora.yaml` does: sys.argv set
   to the YAML path, then `llamafactory.hparams.get_train_args()` (OmegaConf load, HfArgumentParser
   into ModelArguments/DataArguments/TrainingArguments/FinetuningArguments, LLaMA-Factory's checks);
2. asserts that every key of the YAML round-trips to the parsed argument objects with the same
   value (and a few semantic checks: LoRA, SFT, template, DeepSpeed file);
3. reads data/dataset_info.json with LLaMA-Factory's `get_dataset_list` and aligns the records
   with its converter (`align_dataset`), asserting every record converts.

Usage (llamafactory and deepspeed in their own venv, so the system transformers stays as is):
  python3 -m venv --system-site-packages /work/venv-lf
  /work/venv-lf/bin/pip install llamafactory deepspeed
  /work/venv-lf/bin/python scripts/check_llamafactory_export.py [DIR ...]
With no DIR, both committed exports are checked (Fixtures/llamafactory_export, sharegpt with
ZeRO-3 offload, and Fixtures/llamafactory_export_alpaca, alpaca with a validation file, ZeRO-2
and per-layer targets).
Runs on CPU: without CUDA the YAML is parsed with LLaMA-Factory's `use_cpu=true` command-line
override, since transformers refuses bf16/fp16 on a machine without a GPU otherwise.
"""
import math
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "LoomTrainingTests", "Fixtures")
# sharegpt + ZeRO-3 offload + bf16 + packing; alpaca + validation file + layer targets + ZeRO-2 + fp16
DEFAULTS = [os.path.join(FIXTURES, "llamafactory_export"), os.path.join(FIXTURES, "llamafactory_export_alpaca")]


def main():
    directories = [os.path.abspath(d) for d in sys.argv[1:]] or DEFAULTS
    for directory in directories:
        # Each export is parsed in its own interpreter: LLaMA-Factory's parser and accelerate keep
        # process-wide state (the distributed group, environment variables).
        import subprocess
        result = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", directory])
        if result.returncode != 0:
            sys.exit(f"FAILED: {directory}")
    print(f"all {len(directories)} exports accepted by LLaMA-Factory")


def check(directory):
    yaml_path = os.path.join(directory, "train_lora.yaml")
    with open(yaml_path, encoding="utf-8") as f:
        expected = yaml.safe_load(f)

    from llamafactory.hparams import get_train_args

    os.chdir(directory)  # dataset_dir and deepspeed are relative to the export directory
    # Without a GPU, transformers refuses bf16/fp16 unless told the run is on CPU; the override
    # goes through LLaMA-Factory's own `key=value` command-line overrides (OmegaConf.from_cli).
    import torch

    overrides = [] if torch.cuda.is_available() else ["use_cpu=true"]
    # `llamafactory-cli train` launches DeepSpeed runs under torchrun (FORCE_TORCHRUN=1), and the
    # parser refuses DeepSpeed outside a distributed launch; these are the variables torchrun
    # sets for a single process (accelerate then opens a 1-process gloo group on CPU).
    with open(yaml_path, encoding="utf-8") as f:
        if "deepspeed" in yaml.safe_load(f):
            os.environ.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
                               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": os.environ.get("MASTER_PORT", "29517")})
    sys.argv = ["llamafactory-cli", yaml_path] + overrides
    model_args, data_args, training_args, finetuning_args, _ = get_train_args()
    objects = [model_args, data_args, training_args, finetuning_args]

    def parsed(key):
        for obj in objects:
            if hasattr(obj, key):
                return getattr(obj, key)
        raise AssertionError(f"{key}: no LLaMA-Factory argument of that name")

    checked = 0
    for key, value in expected.items():
        got = parsed(key)
        if key in ("lora_target", "dataset", "eval_dataset"):
            assert got == value.split(","), f"{key}: {got!r} != {value!r}"
        elif key == "lr_scheduler_type":
            assert str(getattr(got, "value", got)) == value, f"{key}: {got!r} != {value!r}"
        elif key == "output_dir":
            assert os.path.normpath(got).endswith(os.path.normpath(value)), f"{key}: {got!r} != {value!r}"
        elif key == "deepspeed":
            assert got == value and os.path.isfile(value), f"{key}: {got!r} (file {value} missing?)"
        elif key == "report_to":
            assert got in ([], "none", ["none"]), f"{key}: {got!r}"
        elif key == "cutoff_len" and expected.get("packing"):
            # LLaMA-Factory's DataArguments.__post_init__ takes 1 off when packing; Loom's export
            # adds it so the packed length equals Loom's --cutoff-len.
            assert got == value - 1, f"{key}: {got!r} != {value!r} - 1"
        elif isinstance(value, float):
            assert math.isclose(float(got), value, rel_tol=1e-12), f"{key}: {got!r} != {value!r}"
        else:
            assert got == value, f"{key}: {got!r} != {value!r}"
        checked += 1
    assert finetuning_args.finetuning_type == "lora" and finetuning_args.stage in ("sft", "pt")
    assert data_args.template == expected["template"]
    print(f"get_train_args accepted {yaml_path}: {checked} keys round-trip")

    from llamafactory.data.parser import get_dataset_list
    from llamafactory.data.converter import align_dataset
    from datasets import load_dataset

    for attr in get_dataset_list(data_args.dataset + (data_args.eval_dataset or []), data_args.dataset_dir):
        path = os.path.join(data_args.dataset_dir, attr.dataset_name)
        records = load_dataset("json", data_files=path, split="train")
        aligned = align_dataset(records, attr, data_args, training_args)
        assert len(aligned) == len(records)
        for row in aligned:
            assert row["_prompt"] and (row["_response"] or finetuning_args.stage == "pt"), row
        print(f"dataset {attr.dataset_name}: {attr.formatting}, {len(aligned)} records aligned by LLaMA-Factory's converter")
        for i, row in enumerate(aligned):
            roles = [m["role"] for m in row["_prompt"]] + [m["role"] for m in row["_response"]]
            print(f"  record {i}: roles {roles}, system {row['_system']!r}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        check(sys.argv[2])
    else:
        main()
