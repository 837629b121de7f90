"""PyTorch's single-thread float32 matmul at the shapes of scripts/bench_training_gemm.swift
(SmolLM2-135M, 512 tokens): y = x @ W.T (nn.Linear forward) and dx = dy @ W (its input
gradient). Prints GFLOPS (2*M*N*K per second of this thread's CPU time, time.thread_time),
best and median of 5 passes of >= 0.2 s each.

    python3 scripts/bench_training_gemm_torch.py [--tokens 512] [--head]
"""
import argparse
import time

import torch


def measure(fn, flops):
    rates = []
    for _ in range(5):
        calls, start = 0, time.thread_time()
        while True:
            fn()
            calls += 1
            elapsed = time.thread_time() - start
            if elapsed >= 0.2:
                break
        rates.append(flops * calls / elapsed / 1e9)
    rates.sort()
    return f"{rates[-1]:.1f} / {rates[len(rates) // 2]:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--head", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    m = args.tokens
    shapes = [(576, 576), (192, 576), (1536, 576), (576, 1536)] + ([(49152, 576)] if args.head else [])
    print(f"torch {torch.__version__} M={m}, one thread, GFLOPS best / median (CPU time)")
    g = torch.Generator().manual_seed(0)
    for n, k in shapes:
        w = torch.rand(n, k, generator=g) - 0.5
        x = torch.rand(m, k, generator=g) - 0.5
        dy = torch.rand(m, n, generator=g) - 0.5
        flops = 2 * m * n * k
        with torch.no_grad():
            fwd = measure(lambda: torch.matmul(x, w.t()), flops)
            bwd = measure(lambda: torch.matmul(dy, w), flops)
        print(f"F32 N×K={n}×{k}: x·Wᵀ {fwd}   dy·W {bwd}")


if __name__ == "__main__":
    main()
