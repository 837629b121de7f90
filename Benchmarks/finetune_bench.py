#!/usr/bin/env python3
"""LoRA training-step speed: Loom's LoRATrainer and PyTorch + PEFT on CPU, same model, same LoRA
config, same thread count, one run.

Model: SmolLM2-135M-Instruct, the Loom catalog GGUF (SmolLM2-135M-Instruct.Q4_1.gguf, fetched by
Loom's model store into ~/.cache/loom/models/). Loom trains on it as stored (QLoRA: the Q4_1 base is
read through its kernels, never expanded); PyTorch gets transformers' float32 dequantisation of the
same file (from_pretrained(folder, gguf_file=...)). LoRA: r=8, alpha=16, q_proj,k_proj,v_proj,o_proj,
gate_proj,up_proj,down_proj on all layers, dropout 0, AdamW, max grad norm 1.0. Data: one sequence of
random token ids per step (batch 1), every label trained.

A step = forward, backward, clip_grad_norm_, AdamW. Reported: the median of --steps timed steps after
one warm-up step, in tokens/s, for each --lengths.

Loom's side runs LoomTrainingTests' TrainingSpeedTests in release with LOOM_FINETUNE_BENCH set; it
prints lines `loom-finetune-bench seq=N threads=T tokens_per_s=X`.

usage: python3 Benchmarks/finetune_bench.py [--lengths 128,512] [--threads 2] [--steps 3] [--skip-loom]
pip install torch transformers peft gguf
"""
import argparse, os, re, statistics, subprocess, time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

CACHE = os.path.expanduser("~/.cache/loom/models")
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SEVEN = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def torch_speed(length, threads, steps):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(CACHE, gguf_file=GGUF, dtype=torch.float32, attn_implementation="sdpa")
    model = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules=SEVEN, lora_dropout=0.0, bias="none",
                                            task_type="CAUSAL_LM"))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    times = []
    for i in range(steps + 1):
        ids = torch.randint(0, base.config.vocab_size, (1, length))
        start = time.perf_counter()
        opt.zero_grad()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if i > 0:
            times.append(time.perf_counter() - start)
    return length / statistics.median(times)


def loom_speed(lengths, threads, steps):
    env = dict(os.environ, LOOM_FINETUNE_BENCH="1", LOOM_FINETUNE_BENCH_LENGTHS=",".join(map(str, lengths)),
               LOOM_FINETUNE_BENCH_THREADS=str(threads), LOOM_FINETUNE_BENCH_STEPS=str(steps))
    out = subprocess.run(["swift", "test", "-c", "release", "-Xswiftc", "-enable-testing", "--filter",
                          "LoomTrainingTests.TrainingSpeedTests"], env=env, capture_output=True, text=True).stdout
    found = {int(m[0]): float(m[1]) for m in re.findall(r"loom-finetune-bench seq=(\d+) threads=\d+ tokens_per_s=([\d.]+)", out)}
    if not found:
        print(out[-3000:])
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", default="128,512")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--skip-loom", action="store_true")
    args = ap.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    loom = {} if args.skip_loom else loom_speed(lengths, args.threads, args.steps)
    for n in lengths:
        t = torch_speed(n, args.threads, args.steps)
        l = loom.get(n)
        ratio = f"{l / t:.2f}x" if l else "-"
        print(f"seq {n}, {args.threads} threads: torch+peft {t:.1f} tok/s, loom {l if l else '-'} tok/s, loom/torch {ratio}")


if __name__ == "__main__":
    main()
