#!/usr/bin/env python3
"""Writes Tests/LoomModelsTests/Fixtures/rope_scaling/reference_logits.json: transformers' logits
for the RoPE scalings whose frequencies depend on the sequence length, on tiny random models the
other fixture scripts already define (no new weights; their weight files are regenerated from
their weights.json manifests for the run, synthetic_weights.materialized):

  llama_dynamic   hf_independent/llama_f32_untied (LlamaForCausalLM, F32) with
                  max_position_embeddings 16 and rope_parameters {rope_type: dynamic, factor: 2}
                  (transformers modeling_rope_utils._compute_dynamic_ntk_parameters: past the
                  trained length θ becomes θ·(factor·len/max − (factor − 1))^(d/(d−2))).
  phi3_longrope   hf_arch/phi3 (Phi3ForCausalLM) with original_max_position_embeddings 16,
                  max_position_embeddings 64 and rope_type longrope with random short/long
                  per-pair factors (_compute_longrope_parameters: short factors up to the
                  original length, long beyond; cos/sin × sqrt(1 + ln(64/16)/ln 16)).

Both scalings are dynamic in transformers (modeling_rope_utils.dynamic_rope_update): the
frequencies are recomputed from max(position_ids)+1 on every forward call, and keys already in
the cache keep the rotation they were stored with. So each model has two references:
  "full":  one forward over all 40 ids (every position sees frequencies for length 40);
  "steps": a forward of the first 10 ids, then one id per call with a DynamicCache, the logits
           of every call's last position (the frequencies grow with the sequence while the
           cached keys keep theirs).
"without_scaling_max_diff" is how far the logits move with rope scaling removed: proof the
cases exercise it.

JSON: {"transformers", "torch", "models": {name: {"source": fixture directory, "config": the
config.json to write over the source's, "ids", "prefill", "full": [[vocab] × 40],
"steps": [[vocab] × (40 − 10 + 1)], "without_scaling_max_diff"}}}

pip install torch transformers safetensors
"""
import json, os, shutil, sys, tempfile

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, DynamicCache

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import synthetic_weights  # noqa: E402

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomModelsTests", "Fixtures"))
OUT = os.path.join(FIXTURES, "rope_scaling")
LENGTH, PREFILL = 40, 10


def patched(source, patch):
    """A temporary copy of `source` whose config.json is transformers' own save of the patched config."""
    directory = tempfile.mkdtemp()
    for name in os.listdir(source):
        shutil.copy(os.path.join(source, name), directory)
    config = AutoConfig.from_pretrained(source)
    patch(config)
    config.save_pretrained(directory)
    with open(os.path.join(directory, "config.json")) as f:
        text = f.read()
    return directory, text


def references(directory, ids):
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        full = model(torch.tensor([ids])).logits[0]
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32, attn_implementation="eager").eval()
        cache = DynamicCache(config=model.config)
        out = model(torch.tensor([ids[:PREFILL]]), past_key_values=cache, use_cache=True)
        steps = [out.logits[0, -1]]
        for i in range(PREFILL, len(ids)):
            out = model(torch.tensor([[ids[i]]]), past_key_values=out.past_key_values, use_cache=True)
            steps.append(out.logits[0, -1])
    return full, torch.stack(steps)


def plain_logits(source, ids):
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0]


def rounded(t):
    return [[round(float(x), 5) for x in row] for row in t]


def main():
    os.makedirs(OUT, exist_ok=True)
    result = {"transformers": transformers.__version__, "torch": torch.__version__, "models": {}}
    generator = torch.Generator().manual_seed(5)

    def dynamic(c):
        c.max_position_embeddings = 16
        c.rope_parameters = {"rope_type": "dynamic", "factor": 2.0, "rope_theta": c.rope_parameters["rope_theta"]}

    half = 16 // 2  # head_dim 16 in both sources
    short = (1 + torch.rand(half, generator=generator)).tolist()
    long = (1 + 8 * torch.rand(half, generator=generator)).tolist()

    def longrope(c):
        c.max_position_embeddings = 64
        c.original_max_position_embeddings = 16
        c.rope_parameters = {"rope_type": "longrope", "short_factor": short, "long_factor": long,
                             "original_max_position_embeddings": 16, "rope_theta": c.rope_parameters["rope_theta"],
                             "partial_rotary_factor": 1.0}

    for name, source, patch in [("llama_dynamic", "hf_independent/llama_f32_untied", dynamic),
                                ("phi3_longrope", "hf_arch/phi3", longrope)]:
        directory, config_text = patched(os.path.join(FIXTURES, source), patch)
        vocab = json.loads(config_text)["vocab_size"]
        ids = torch.randint(2, vocab, (LENGTH,), generator=generator).tolist()
        full, steps = references(directory, ids)
        # The incremental run's last step sees the same frequencies for its query as the full
        # run, but its cached keys were rotated with the frequencies of shorter lengths.
        plain = plain_logits(os.path.join(FIXTURES, source), ids)
        moved = float((plain - full).abs().max())
        drift = float((steps[-1] - full[-1]).abs().max())
        print(f"{name}: |full - unscaled| max {moved:.4f}; |last step - full last| {drift:.4f}")
        assert moved > 0.05, f"{name}: the scaling does not change these logits"
        result["models"][name] = {"source": source, "config": json.loads(config_text), "ids": ids, "prefill": PREFILL,
                                  "full": rounded(full), "steps": rounded(steps),
                                  "without_scaling_max_diff": round(moved, 6),
                                  "steps_vs_full_last_diff": round(drift, 6)}
        shutil.rmtree(directory)

    path = os.path.join(OUT, "reference_logits.json")
    with open(path, "w") as f:
        json.dump(result, f, separators=(",", ":"))
    print("wrote", path, os.path.getsize(path) // 1024, "KB")


if __name__ == "__main__":
    with synthetic_weights.materialized(os.path.join(FIXTURES, "hf_independent"), os.path.join(FIXTURES, "hf_arch")):
        main()
