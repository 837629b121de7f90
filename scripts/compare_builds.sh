#!/usr/bin/env bash
# Checks that two builds of `loom` give bit-identical outputs on both real test models:
# greedy continuations with --top-logprobs (one JSON line per token: id, text, log-prob and
# the 5 best alternatives), a chat answer, and perplexity (prompt path, every position's
# logits). Used to show that a refactor changes nothing.
#
#   scripts/compare_builds.sh OLD_LOOM NEW_LOOM [OUT_DIR]
#
# Exit 0 when every output is byte-identical; prints the diff of the first difference.
set -euo pipefail
old=$1 new=$2 out=${3:-$(mktemp -d)}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
prompts=("The capital of France is" "def fibonacci(n):" "Bitcoin is a decentralised")
status=0
run_case() { # name, then loom arguments
    local name=$1; shift
    "$old" "$@" > "$out/$name.old" 2> "$out/$name.old.err" || { echo "old build failed: $name"; cat "$out/$name.old.err"; status=1; return; }
    "$new" "$@" > "$out/$name.new" 2> "$out/$name.new.err" || { echo "new build failed: $name"; cat "$out/$name.new.err"; status=1; return; }
    if cmp -s "$out/$name.old" "$out/$name.new"; then
        echo "identical  $name ($(wc -l < "$out/$name.new") lines)"
    else
        echo "DIFFERENT  $name"; diff "$out/$name.old" "$out/$name.new" | head -5; status=1
    fi
}
for model in smollm2 qwen2.5-0.5b; do
    for i in "${!prompts[@]}"; do
        run_case "$model-greedy-$i" run -m "$model" --raw -p "${prompts[$i]}" --temperature 0 --max-tokens 48 --top-logprobs 5 -t 2
    done
    run_case "$model-chat" run -m "$model" -p "What is a blockchain?" --temperature 0 --max-tokens 64 -t 2
    run_case "$model-perplexity" perplexity -m "$model" -f "$here/Datasets/haystack.txt" --ctx 256 --chunks 4 -t 2
done
exit $status
