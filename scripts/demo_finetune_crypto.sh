#!/usr/bin/env bash
# Issue #23's demonstration, as Theia's card reports its fine-tune: LoRA-train SmolLM2 (the default
# model, Q4_1 GGUF, trained as stored: QLoRA) on 60 of the 80 pairs of Datasets/crypto_qa.jsonl and
# compare `loom eval qa` (answer perplexity, BERTScore against the reference answers) of the base
# and of base + adapter on the 20 held-out pairs (every 4th line).
#
#   scripts/demo_finetune_crypto.sh [OUT_DIR] [extra loom finetune flags…]
#
# Needs `swift build -c release` first. Writes OUT_DIR (default .build/demo-finetune): the split,
# a LLaMA-Factory dataset_info.json mapping the QA columns, the adapter, and qa_base.json /
# qa_adapter.json.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build/demo-finetune}
[[ $# -gt 0 ]] && shift
loom=${LOOM:-.build/release/loom}
mkdir -p "$out"
awk 'NR % 4 != 0' Datasets/crypto_qa.jsonl > "$out/train.jsonl"
awk 'NR % 4 == 0' Datasets/crypto_qa.jsonl > "$out/heldout.jsonl"
cat > "$out/dataset_info.json" <<'JSON'
{"crypto_qa": {"file_name": "train.jsonl", "formatting": "alpaca",
               "columns": {"prompt": "question", "response": "answer", "system": "system"}}}
JSON
time "$loom" finetune -m smollm2 --dataset-info "$out" -o "$out/adapter" \
    --lora-r 16 --lora-alpha 32 --target all-linear --lr 2e-4 --epochs 3 --grad-accum 4 --seed 42 "$@"
"$loom" eval qa -m smollm2 --data "$out/heldout.jsonl" --json "$out/qa_base.json"
"$loom" eval qa -m smollm2 --lora "$out/adapter" --data "$out/heldout.jsonl" --json "$out/qa_adapter.json"
