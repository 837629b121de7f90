#!/usr/bin/env python3
"""Time to first token of a long chat's second turn with and without the server's prompt cache
(issue #25: "the second turn of a 4K-token chat through the server reaches its first token ≥ 5×
sooner than the first turn").

Starts `loom serve` (one slot, --ctx 8192) on the default model, sends a chat whose user message
is a ~4K-token document plus a question (turn 1, streamed, time to the first content chunk), then
the same conversation with the assistant's answer and a follow-up question (turn 2), once with
`cache_prompt: false` (cold) and once with the cache. Prints each time, the cached token counts
and the ratios, medians over --rounds.

    python3 Benchmarks/prompt_cache_bench.py --loom .build/release/loom [--rounds 3] [--threads 2]

Standard library only.
"""
import argparse
import http.client
import json
import statistics
import subprocess
import sys
import time


def chat(port, messages, cache_prompt, max_tokens=16):
    """Streams one chat completion; returns (seconds to first content chunk, answer text, usage)."""
    body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, "cache_prompt": cache_prompt}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    first, text, usage = None, "", None
    for raw in resp:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        if event.get("usage"):
            usage = event["usage"]
        for choice in event.get("choices", []):
            content = choice.get("delta", {}).get("content")
            if content:
                if first is None:
                    first = time.perf_counter() - start
                text += content
    conn.close()
    return first, text, usage


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loom", required=True)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--port", type=int, default=8093)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--lines", type=int, default=260, help="document lines (~16 tokens each)")
    args = ap.parse_args()
    server = subprocess.Popen([args.loom, "serve", "-m", args.model, "--port", str(args.port), "--parallel", "1",
                               "--ctx", "8192", "-t", str(args.threads)], stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        document = "\n".join(f"Entry {i}: wallet {i * 37 % 1009} sent {i * 13} tokens to wallet {i * 71 % 997}."
                             for i in range(1, args.lines + 1))
        first_turn = [{"role": "user", "content": document + "\n\nWhich wallet received tokens in entry 5?"}]
        results = {"turn 1": [], "turn 2 cold": [], "turn 2 cached": []}
        cached_counts = []
        for _ in range(args.rounds):
            t1, answer, usage1 = chat(args.port, first_turn, cache_prompt=False)
            second_turn = first_turn + [{"role": "assistant", "content": answer},
                                        {"role": "user", "content": "And in entry 6?"}]
            cold, _, _ = chat(args.port, second_turn, cache_prompt=False)
            # Leave the first turn in the slot again, then ask the second turn with the cache.
            chat(args.port, first_turn, cache_prompt=False)
            warm, _, usage2 = chat(args.port, second_turn, cache_prompt=True)
            results["turn 1"].append(t1)
            results["turn 2 cold"].append(cold)
            results["turn 2 cached"].append(warm)
            cached_counts.append((usage2["prompt_tokens_details"]["cached_tokens"], usage2["prompt_tokens"]))
        med = {k: statistics.median(v) for k, v in results.items()}
        print(f"prompt tokens: turn 1 {usage1['prompt_tokens']}, turn 2 {cached_counts[0][1]} "
              f"(cached {cached_counts[0][0]})")
        for k, v in results.items():
            print(f"{k}: time to first token median {med[k]:.3f} s  ({', '.join(f'{x:.3f}' for x in v)})")
        print(f"turn 1 / turn 2 cached: {med['turn 1'] / med['turn 2 cached']:.1f}x; "
              f"turn 2 cold / cached: {med['turn 2 cold'] / med['turn 2 cached']:.1f}x")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
