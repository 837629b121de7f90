#!/usr/bin/env python3
"""LoRA decode cost: Loom and llama.cpp, each with and without the same adapter, in one run.

The adapter is a random r=16 LoRA on all seven projections of every layer (q, k, v, o, gate,
up, down), written as a PEFT directory (numpy + safetensors, seeded) and converted to a
llama.cpp GGUF LoRA (F16) by `loom convert-lora`; both engines load that one GGUF file, so
they read identical factors. Four measurements alternate `--rounds` times so all see the same
background load: Loom base, Loom + LoRA, llama.cpp base, llama.cpp + LoRA (llama.cpp through
llama-cpp-python's C API, `llama_adapter_lora_init` + `llama_set_adapter_lora`, as
`llama-cli --lora` does). Reported: tg medians and the ratios LoRA/base for each engine and
Loom/llama.cpp with the adapter.

Usage:
    swift build -c release
    CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python==0.3.36
    python3 Benchmarks/lora_bench.py [--model smollm2] [--threads 2] [-n 128] [--rounds 5]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_bench  # noqa: E402

SHAPES = {"self_attn.q_proj": "q", "self_attn.k_proj": "kv", "self_attn.v_proj": "kv", "self_attn.o_proj": "o",
          "mlp.gate_proj": "up", "mlp.up_proj": "up", "mlp.down_proj": "down"}


def write_peft(directory, layers, d, kv, ffn, rank=16, seed=0):
    from safetensors.numpy import save_file
    dims = {"q": (d, d), "kv": (kv, d), "o": (d, d), "up": (ffn, d), "down": (d, ffn)}
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in range(layers):
        for module, kind in SHAPES.items():
            out_f, in_f = dims[kind]
            key = f"base_model.model.model.layers.{layer}.{module}"
            tensors[key + ".lora_A.weight"] = (rng.standard_normal((rank, in_f)) * 0.02).astype(np.float32)
            tensors[key + ".lora_B.weight"] = (rng.standard_normal((out_f, rank)) * 0.02).astype(np.float32)
    os.makedirs(directory, exist_ok=True)
    save_file(tensors, os.path.join(directory, "adapter_model.safetensors"))
    with open(os.path.join(directory, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank, "bias": "none",
                   "target_modules": [m.split(".")[1] for m in SHAPES]}, f)


def loom_tg(path, threads, n, lora=None):
    cmd = [peer_bench.LOOM, "bench", "-m", path, "-t", str(threads), "-p", "0", "-n", str(n), "-r", "1", "--json"]
    if lora:
        cmd += ["--lora", lora]
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)["tg"]["median"]


class LlamaCppLoRA(peer_bench.LlamaCpp):
    def __init__(self, path, threads, n, lora=None):
        super().__init__(path, threads, 2, n)  # two prompt tokens: round() decodes prompt[0], then prompt[1]
        if lora:
            adapter = self.L.llama_adapter_lora_init(self.model, lora.encode())
            if not adapter:
                raise RuntimeError(f"llama.cpp could not load {lora}")
            rc = self.L.llama_set_adapter_lora(self.ctx, adapter, 1.0)
            if rc != 0:
                raise RuntimeError(f"llama_set_adapter_lora returned {rc}")
            self.adapter = adapter


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    path = peer_bench.model_file(args.model)
    info = subprocess.run([peer_bench.LOOM, "info", path], capture_output=True, text=True, check=True).stdout
    def field(pattern):
        return re.search(pattern, info, re.M).groups()
    layers, = map(int, field(r"^layers\s+(\d+)"))
    d, = map(int, field(r"^embedding\s+(\d+)"))
    ffn, = map(int, field(r"^feed-forward\s+(\d+)"))
    heads, kv_heads, head_dim = map(int, field(r"^heads \(query / kv\)\s+(\d+) / (\d+), head size (\d+)"))
    work = tempfile.mkdtemp(prefix="loom-lora-bench-")
    peft_dir, gguf_lora = os.path.join(work, "peft"), os.path.join(work, "lora-f16.gguf")
    write_peft(peft_dir, layers, d, kv_heads * head_dim, ffn)
    subprocess.run([peer_bench.LOOM, "convert-lora", peft_dir, "-m", path, "-o", gguf_lora, "--type", "f16"], check=True,
                   capture_output=True)
    cpp_base, cpp_lora = LlamaCppLoRA(path, args.threads, args.n), LlamaCppLoRA(path, args.threads, args.n, gguf_lora)
    cpp_base.round(); cpp_lora.round()  # warm-up
    runs = {k: [] for k in ("loom", "loom_lora", "cpp", "cpp_lora")}
    for _ in range(args.rounds):
        runs["loom"].append(loom_tg(path, args.threads, args.n))
        runs["loom_lora"].append(loom_tg(path, args.threads, args.n, gguf_lora))
        runs["cpp"].append(cpp_base.round()[1])
        runs["cpp_lora"].append(cpp_lora.round()[1])
    m = {k: statistics.median(v) for k, v in runs.items()}
    print(json.dumps({k: [round(x, 1) for x in v] for k, v in runs.items()}), file=sys.stderr)
    print(f"| model | threads | tg{args.n} Loom | tg{args.n} Loom + LoRA | LoRA ÷ base (Loom) | tg{args.n} llama.cpp | "
          f"tg{args.n} llama.cpp + LoRA | LoRA ÷ base (llama.cpp) | Loom ÷ llama.cpp with LoRA |\n"
          "|---|---|---|---|---|---|---|---|---|\n"
          f"| {os.path.basename(path)} | {args.threads} | {m['loom']:.1f} | {m['loom_lora']:.1f} | "
          f"{m['loom_lora'] / m['loom']:.2f}× | {m['cpp']:.1f} | {m['cpp_lora']:.1f} | {m['cpp_lora'] / m['cpp']:.2f}× | "
          f"{m['loom_lora'] / m['cpp_lora']:.2f}× |\n\n"
          f"r=16 LoRA on all seven projections of all {layers} layers, one F16 GGUF LoRA file for both engines; medians "
          f"of {args.rounds} alternating rounds, tokens/s.")


if __name__ == "__main__":
    main()
