#!/usr/bin/env python3
"""Load check and throughput benchmark for a running `loom serve` (loopback only, bounded).

Load check (default): N concurrent clients each send R requests (alternating streamed and
whole chat/completions requests with small max_tokens). Reports errors, leaked slots
(requests_processing / requests_deferred after the run, from /metrics) and the server's RSS
(from /proc/PID/status) after warm-up and at the end.

    python3 scripts/load_check.py --port 8080 --pid $(pgrep -n loom) --clients 16 --requests 200

Throughput (--throughput 1,4,8): for each concurrency C, C clients stream completions of
--gen-tokens tokens at once (--ban'ned end tokens, so every stream runs to the end); reports aggregate
generated tokens per second (median of --repeats runs).

Standard library only.
"""
import argparse
import http.client
import json
import statistics
import sys
import threading
import time


def rss_kib(pid):
    if not pid:
        return None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def request(port, path, body, headers, timeout=300):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **headers})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data
    finally:
        conn.close()


def metrics(port, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics", headers=headers)
    text = conn.getresponse().read().decode()
    conn.close()
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values


def one_request(port, headers, i, max_tokens):
    stream = i % 2 == 0
    if i % 4 < 2:
        body = {"messages": [{"role": "user", "content": f"Say a number near {i}."}], "max_tokens": max_tokens,
                "temperature": 0.7, "seed": i, "stream": stream}
        path = "/v1/chat/completions"
    else:
        body = {"prompt": f"Item {i}: the", "max_tokens": max_tokens, "temperature": 0.7, "seed": i, "stream": stream}
        path = "/v1/completions"
    status, data = request(port, path, body, headers)
    if status != 200:
        return f"{path} -> {status}: {data[:200]!r}"
    text = data.decode("utf-8", "replace")
    if stream:
        if not text.rstrip().endswith("data: [DONE]"):
            return f"{path} stream did not end with [DONE]: {text[-200:]!r}"
    else:
        obj = json.loads(text)
        if not obj.get("choices") or obj["choices"][0].get("finish_reason") not in ("stop", "length"):
            return f"{path} bad answer: {text[:200]!r}"
    return None


def load_check(args, headers):
    errors = []
    lock = threading.Lock()
    done = [0]
    warm = threading.Event()
    total = args.clients * args.requests
    rss = {"start": rss_kib(args.pid)}

    def client(c):
        for r in range(args.requests):
            try:
                err = one_request(args.port, headers, c * args.requests + r, args.max_tokens)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                err = f"exception {e!r}"
            with lock:
                done[0] += 1
                if err:
                    errors.append(err)
                if done[0] == max(1, total // 10):
                    rss["warm"] = rss_kib(args.pid)
                    warm.set()

    start = time.time()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - start
    time.sleep(0.5)
    m = metrics(args.port, headers)
    rss["end"] = rss_kib(args.pid)
    print(f"requests: {total} in {elapsed:.1f}s ({total / elapsed:.1f} req/s), errors: {len(errors)}")
    for e in errors[:10]:
        print("  error:", e)
    print(f"after the run: requests_processing={m.get('loom:requests_processing')} requests_deferred={m.get('loom:requests_deferred')} "
          f"kv_cache_tokens={m.get('loom:kv_cache_tokens')}")
    print(f"generated tokens total={m.get('loom:tokens_predicted_total')}, prompt tokens total={m.get('loom:prompt_tokens_total')}, "
          f"avg busy slots per step={m.get('loom:n_busy_slots_per_decode'):.2f}")
    if args.pid:
        print(f"RSS KiB: start={rss['start']} after warm-up={rss.get('warm')} end={rss['end']}")
    leaked = (m.get("loom:requests_processing", 0) or 0) + (m.get("loom:requests_deferred", 0) or 0)
    return 0 if not errors and leaked == 0 else 1


def throughput(args, headers):
    for concurrency in [int(x) for x in args.throughput.split(",")]:
        rates = []
        for _ in range(args.repeats):
            counts = [0] * concurrency
            ban = {t: -100 for t in args.ban.split(",")} if args.ban else {}

            def stream(k):
                body = {"prompt": f"Story {k}: Once upon a time", "max_tokens": args.gen_tokens, "temperature": 0,
                        "stream": True, "stream_options": {"include_usage": True}, "logit_bias": ban}
                if args.models:
                    names = args.models.split(",")
                    body["model"] = names[k % len(names)]
                status, data = request(args.port, "/v1/completions", body, headers)
                for block in data.decode().split("\n\n"):
                    if block.startswith("data: {"):
                        obj = json.loads(block[6:])
                        if obj.get("usage"):
                            counts[k] = obj["usage"]["completion_tokens"]

            threads = [threading.Thread(target=stream, args=(k,)) for k in range(concurrency)]
            start = time.time()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.time() - start
            rates.append(sum(counts) / elapsed)
        print(f"concurrency {concurrency}: aggregate {statistics.median(rates):.1f} generated tokens/s "
              f"(median of {args.repeats}; runs {[round(r, 1) for r in rates]})")
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--api-key")
    p.add_argument("--pid", type=int, help="server process id, for RSS")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=200, help="requests per client")
    p.add_argument("--max-tokens", type=int, default=8)
    p.add_argument("--throughput", help="comma-separated concurrencies, e.g. 1,4,8")
    p.add_argument("--gen-tokens", type=int, default=64)
    p.add_argument("--models", help="throughput runs: model names given to the streams in turn (e.g. LoRA modules a,b,c,d)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--ban", default="0,1,2", help="end-of-generation token ids to ban in throughput runs (SmolLM2: 0,1,2)")
    args = p.parse_args()
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    sys.exit(throughput(args, headers) if args.throughput else load_check(args, headers))


if __name__ == "__main__":
    main()
