#!/bin/sh
# How much of the held-out perplexity quantisation-aware training to ternary weights recovers
# (`loom finetune --qat ternary`, issue #24 item 4), on SmolLM2-135M-Instruct (the Q4_1 file as
# stored; its dequantised weights are the latent weights' starting point).
#
# Corpus: the prose of README.md as of commit 75044f2 (fenced code, tables, headings and lines
# under 60 characters dropped), 8 lines per document → 59 documents; every 10th (index 5, 15, …)
# held out (6 documents, 1285 tokens), the other 53 trained on (packed to 256 tokens).
#
# The held-out loss is printed for the base (λ = 0), the base ternarised without training
# (λ = 1, zero steps) and after training (λ = 1), and saved in OUT/qat_eval.json. With
# --qat-export ternary, OUT/model.gguf holds the ternary weights themselves, so `loom perplexity`
# on it measures the ternary-weight model through the inference path (f32 activations, no int8).
#
# usage: scripts/measure_qat_smollm2.sh [STEPS] [LR] [WARMUP] [OUT]   (from the repository root, after a release build)
set -eu
STEPS=${1:-200}; LR=${2:-3e-4}; WARMUP=${3:-25}; OUT=${4:-/tmp/qat-smollm2}
LOOM=${LOOM:-.build/release/loom}
DATA=$(mktemp -d)
git show 75044f2:README.md | python3 -c '
import sys
lines, fence = [], False
for line in sys.stdin:
    s = line.strip()
    if s.startswith("```"):
        fence = not fence
        continue
    if fence or not s or s.startswith("|") or s.startswith("#") or len(s) < 60:
        continue
    lines.append(s)
docs = [" ".join(lines[i:i + 8]) for i in range(0, len(lines), 8)]
d = sys.argv[1]
open(d + "/train.txt", "w").write("\n".join(x for i, x in enumerate(docs) if i % 10 != 5) + "\n")
open(d + "/heldout.txt", "w").write("\n".join(x for i, x in enumerate(docs) if i % 10 == 5) + "\n")
' "$DATA"
nice -n 19 "$LOOM" finetune -m smollm2 --text "$DATA/train.txt" --val-file "$DATA/heldout.txt" --packing --cutoff-len 256 \
    --grad-accum 2 --max-steps "$STEPS" --lr "$LR" --schedule cosine --warmup 5 \
    --qat ternary --qat-warmup-steps "$WARMUP" --qat-export ternary --eval-steps 50 -t 2 -o "$OUT"
cat "$OUT/qat_eval.json"
# The ternary weights through the inference path, against the base.
nice -n 19 "$LOOM" perplexity -m smollm2 -m "$OUT/model.gguf" -f "$DATA/heldout.txt" --ctx 256 -t 2
