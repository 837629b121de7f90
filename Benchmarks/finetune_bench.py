#!/usr/bin/env python3
"""LoRA training-step speed: Loom's LoRATrainer and PyTorch + PEFT on CPU, same model, same LoRA
config, same thread count, one run.

Model: SmolLM2-135M-Instruct, the Loom catalog GGUF (SmolLM2-135M-Instruct.Q4_1.gguf, fetched by
Loom's model store into ~/.cache/loom/models/). Loom trains on it as stored (QLoRA: the Q4_1 base is
read through its kernels, never expanded); PyTorch gets transformers' float32 dequantisation of the
same file (from_pretrained(folder, gguf_file=...)). LoRA: r=8, alpha=16, q_proj,k_proj,v_proj,o_proj,
gate_proj,up_proj,down_proj on all layers, dropout 0, AdamW, max grad norm 1.0. Data: one sequence of
random token ids per step (batch 1), every label trained.

A step = forward, backward, clip_grad_norm_, AdamW. Each measurement is one process (one engine, one
sequence length): one warm-up step, then the median of --steps timed steps, in tokens/s, and the peak
resident set of the training (VmHWM, reset after the model is loaded by writing 5 to
/proc/self/clear_refs, so it covers the weights as held in memory plus everything training allocates).
The engines alternate (Loom, PyTorch, Loom with gradient checkpointing) for --rounds rounds, so a
noisy machine slows all of them alike; the table gives the median over the rounds and the ratios.

Loom's side runs LoomTrainingTests' TrainingSpeedTests in release with LOOM_FINETUNE_BENCH set (built
once, then run with --skip-build); it prints `loom-finetune-bench seq=N threads=T checkpoint=C
tokens_per_s=X activation_bytes=B peak_rss_kb=K`, and with --profile the time per kind of op.

usage: python3 Benchmarks/finetune_bench.py [--lengths 128,512] [--threads 2] [--steps 3] [--rounds 3]
                                           [--skip-loom] [--profile]
pip install torch transformers peft gguf
"""
import argparse, json, os, re, statistics, subprocess, sys, time

CACHE = os.path.expanduser("~/.cache/loom/models")
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SEVEN = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def peak_rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def torch_worker(length, threads, steps):
    """One PyTorch + PEFT measurement in this process; prints one JSON line."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(CACHE, gguf_file=GGUF, dtype=torch.float32, attn_implementation="sdpa")
    model = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules=SEVEN, lora_dropout=0.0, bias="none",
                                            task_type="CAUSAL_LM"))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
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
    print(json.dumps({"tokens_per_s": length / statistics.median(times), "peak_rss_kb": peak_rss_kb()}))


def torch_run(length, threads, steps):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-worker", str(length), "--threads", str(threads),
                          "--steps", str(steps)], capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines:
        print(out.stdout[-2000:], out.stderr[-3000:])
        return None
    return json.loads(lines[-1])


def loom_build():
    subprocess.run(["swift", "build", "-c", "release", "-Xswiftc", "-enable-testing", "--build-tests"], cwd=ROOT, check=True,
                   capture_output=True)


def loom_run(length, threads, steps, checkpoint, profile):
    env = dict(os.environ, LOOM_FINETUNE_BENCH="1", LOOM_FINETUNE_BENCH_LENGTHS=str(length),
               LOOM_FINETUNE_BENCH_THREADS=str(threads), LOOM_FINETUNE_BENCH_STEPS=str(steps),
               LOOM_FINETUNE_BENCH_CHECKPOINT="1" if checkpoint else "0", LOOM_TRAIN_PROFILE="1" if profile else "0")
    out = subprocess.run(["swift", "test", "-c", "release", "-Xswiftc", "-enable-testing", "--skip-build", "--filter",
                          "LoomTrainingTests.TrainingSpeedTests"], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    m = re.search(r"loom-finetune-bench seq=(\d+) threads=\d+ checkpoint=\d tokens_per_s=([\d.]+) activation_bytes=(\d+) "
                  r"peak_rss_kb=(-?\d+)", out)
    if not m:
        print(out[-3000:])
        return None
    for line in out.splitlines():
        if line.startswith("loom-finetune-profile"):
            print("   ", line)
    return {"tokens_per_s": float(m[2]), "activation_bytes": int(m[3]), "peak_rss_kb": int(m[4])}


def median(runs, key):
    values = [r[key] for r in runs if r]
    return statistics.median(values) if values else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", default="128,512")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-loom", action="store_true")
    ap.add_argument("--profile", action="store_true", help="print Loom's time per kind of op")
    ap.add_argument("--torch-worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        torch_worker(args.torch_worker, args.threads, args.steps)
        return
    lengths = [int(x) for x in args.lengths.split(",")]
    if not args.skip_loom:
        loom_build()
    results = {n: {"torch": [], "loom": [], "loom_ckpt": []} for n in lengths}
    for rnd in range(args.rounds):
        for n in lengths:
            r = results[n]
            if not args.skip_loom:
                r["loom"].append(loom_run(n, args.threads, args.steps, False, args.profile))
                print(f"round {rnd + 1} seq {n} loom: {r['loom'][-1]}", flush=True)
            r["torch"].append(torch_run(n, args.threads, args.steps))
            print(f"round {rnd + 1} seq {n} torch: {r['torch'][-1]}", flush=True)
            if not args.skip_loom:
                r["loom_ckpt"].append(loom_run(n, args.threads, args.steps, True, args.profile))
                print(f"round {rnd + 1} seq {n} loom --grad-checkpoint: {r['loom_ckpt'][-1]}", flush=True)
    print()
    print(f"| seq | torch+peft tok/s | loom tok/s | loom/torch | torch peak RSS MB | loom peak RSS MB | loom ckpt tok/s "
          f"| ckpt/no-ckpt speed | loom activations MB (no ckpt / ckpt) | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in lengths:
        r = results[n]
        t, l, c = median(r["torch"], "tokens_per_s"), median(r["loom"], "tokens_per_s"), median(r["loom_ckpt"], "tokens_per_s")
        tr, lr = median(r["torch"], "peak_rss_kb") / 1024, median(r["loom"], "peak_rss_kb") / 1024
        a, ac = median(r["loom"], "activation_bytes") / 2**20, median(r["loom_ckpt"], "activation_bytes") / 2**20
        print(f"| {n} | {t:.1f} | {l:.1f} | {l / t:.2f}x | {tr:.0f} | {lr:.0f} | {c:.1f} | {c / l:.2f} | {a:.1f} / {ac:.1f} "
              f"| {a / ac:.1f}x |")


if __name__ == "__main__":
    main()
