#!/usr/bin/env python3
"""Bounded soak of `loom serve` (loopback only): N concurrent clients × R requests each, mixing
normal and streamed chat/completions requests with client-side cancels, streams dropped
mid-way, and bad requests (malformed JSON, invalid parameters, oversized bodies declared and
sent, a garbage request line, an oversized header, slowloris heads and bodies).

Records the server's RSS (VmRSS and VmHWM from /proc/PID/status) at start, after a 6 MB
body, during the run (peak) and at the end; requests by kind and outcome; latency
percentiles; and whether the server still answers and holds no slots afterwards. Exits 1 if
any request got an outcome other than the one expected for its kind, or slots leaked.

Either against a running server:

    python3 scripts/soak.py --port 8080 --pid $(pgrep -n loom)

or starting one (stopped with SIGTERM at the end):

    python3 scripts/soak.py --loom .build/release/loom --model smollm2

Slowloris connections run beside the clients (they are not counted in R) and must be closed
by the server within --slow-limit seconds (its header/body timeout is 30 s by default).
Standard library only.
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict

MAX_BODY = 8 << 20  # the server's default request body limit


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Server:
    def __init__(self, port, api_key):
        self.port = port
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"

    def conn(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path):
        c = self.conn(30)
        try:
            c.request("GET", path, headers=self.headers)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def metrics(self):
        _, text = self.get("/metrics")
        values = {}
        for line in text.decode().splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
        return values

    def raw(self, data, timeout=60, shut=False):
        """Sends raw bytes; returns (status or None, error code or None, bytes)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        finally:
            s.close()
        return parse_reply(b"".join(chunks))


def parse_reply(data):
    if not data:
        return None, None, data
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None, None, data
    code = None
    try:
        code = json.loads(body)["error"]["code"]
    except Exception:
        pass
    return status, code, data


def outcome_of(status, body):
    if status == 200:
        return "200"
    try:
        return f"{status} {json.loads(body)['error']['code']}"
    except Exception:
        return f"{status} (unshaped)"


MESSAGES = ["Say hello.", "Count to five.", "Name a colour.", "What is 2+2?", "Write one word."]


def normal_body(rng, chat, stream, max_tokens=None):
    body = {"max_tokens": max_tokens or rng.randint(2, 8), "temperature": rng.choice([0, 0.7]), "stream": stream}
    if chat:
        body["messages"] = [{"role": "user", "content": rng.choice(MESSAGES)}]
    else:
        body["prompt"] = rng.choice(MESSAGES)
    return body


def path_for(chat):
    return "/v1/chat/completions" if chat else "/v1/completions"


def run_kind(server, kind, rng):
    """Runs one request of `kind`; returns (outcome, expected?)."""
    h = server.headers
    if kind in ("chat", "completion", "chat-stream", "completion-stream"):
        chat = kind.startswith("chat")
        stream = kind.endswith("stream")
        c = server.conn()
        try:
            c.request("POST", path_for(chat), json.dumps(normal_body(rng, chat, stream)), h)
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
        out = outcome_of(r.status, data)
        if r.status == 200 and stream and not data.rstrip().endswith(b"data: [DONE]"):
            out = "200 stream without [DONE]"
        return out, out == "200"
    if kind == "cancel":
        # A whole (non-streamed) answer abandoned before it is complete.
        chat = rng.random() < 0.5
        c = server.conn(timeout=rng.uniform(0.02, 0.4))
        try:
            c.request("POST", path_for(chat), json.dumps(normal_body(rng, chat, False, 32)), h)
            r = c.getresponse()
            r.read()
            return "completed before cancel", True
        except (socket.timeout, TimeoutError):
            return "cancelled", True
        finally:
            c.close()
    if kind == "stream-drop":
        chat = rng.random() < 0.5
        c = server.conn()
        try:
            c.request("POST", path_for(chat), json.dumps(normal_body(rng, chat, True, 32)), h)
            r = c.getresponse()
            if r.status != 200:
                return outcome_of(r.status, r.read()), False
            for _ in range(rng.randint(1, 4)):
                if not r.fp.readline():
                    break
            return "dropped", True
        finally:
            c.close()
    if kind == "bad-json":
        c = server.conn()
        try:
            c.request("POST", path_for(rng.random() < 0.5), rng.choice(['{"messages": [', "[1,2]", "", "nul", '{"prompt": "x",}']), h)
            r = c.getresponse()
            out = outcome_of(r.status, r.read())
        finally:
            c.close()
        return out, out == "400 invalid_json"
    if kind == "bad-params":
        body = rng.choice([
            {"messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
            {"messages": [{"role": "user", "content": "x"}], "n": 0},
            {"messages": "hi"},
            {"prompt": [999999999]},
            {"prompt": "x", "top_p": 0},
            {"prompt": "x", "max_tokens": -3},
        ])
        c = server.conn()
        try:
            c.request("POST", path_for("messages" in body), json.dumps(body), h)
            r = c.getresponse()
            out = outcome_of(r.status, r.read())
        finally:
            c.close()
        return out, out.startswith("400 ")
    if kind == "big-valid":
        # A valid request carrying a 6 MB field the server ignores (OpenAI's `user` tag; an
        # unknown field would be a 400): buffered and parsed, then a tiny answer.
        body = json.dumps({"prompt": "Hi", "max_tokens": 2, "user": "x" * (6 << 20)})
        c = server.conn()
        try:
            c.request("POST", "/v1/completions", body, h)
            r = c.getresponse()
            out = outcome_of(r.status, r.read())
        finally:
            c.close()
        return out, out == "200"
    if kind == "oversized-sent":
        body = b'{"prompt": "' + b"x" * (MAX_BODY + 1024) + b'"}'
        head = (f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Authorization: {h.get('Authorization', '')}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        try:
            status, code, _ = server.raw(head + body)
        except (ConnectionError, OSError) as e:
            return f"connection error {type(e).__name__}", False
        return f"{status} {code}", status == 413
    if kind == "oversized-declared":
        head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {40 << 20}\r\n\r\n").encode()
        status, code, _ = server.raw(head)
        return f"{status} {code}", status == 413
    if kind == "chunked-oversized":
        head = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunk = b"100000\r\n" + b" " * 0x100000 + b"\r\n"
        try:
            status, code, _ = server.raw(head + chunk * 9 + b"0\r\n\r\n")
        except (ConnectionError, OSError) as e:
            return f"connection error {type(e).__name__}", False
        return f"{status} {code}", status == 413
    if kind == "bad-chunked":
        head = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        status, code, _ = server.raw(head + b"zz\r\n{}\r\n0\r\n\r\n")
        return f"{status} {code}", status == 400 and code is not None
    if kind == "garbage-line":
        status, code, _ = server.raw(b"\x16\x03\x01 garbage\r\n\r\n")
        return f"{status} {code}", status == 400 and code is not None
    if kind == "huge-header":
        status, code, _ = server.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 << 10) + b"\r\n\r\n")
        return f"{status} {code}", status == 431 and code is not None
    raise ValueError(kind)


# kind → weight (per client request)
MIX = {
    "chat": 22, "completion": 18, "chat-stream": 12, "completion-stream": 12,
    "cancel": 8, "stream-drop": 8, "bad-json": 5, "bad-params": 5,
    "big-valid": 2, "oversized-sent": 1, "oversized-declared": 2, "chunked-oversized": 1,
    "bad-chunked": 2, "garbage-line": 1, "huge-header": 1,
}


def slowloris(server, kind, limit, results):
    """A head that never ends, or a body shorter than its Content-Length; the server must
    close it (after its header or body timeout)."""
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", server.port), timeout=limit)
    try:
        if kind == "slow-head":
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
        else:
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1000\r\n\r\n{\"prompt\":")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        status, code, _ = parse_reply(data)
        out = f"closed after {time.monotonic() - start:.0f}s" + (f" with {status} {code}" if status else "")
        expected = status is None if kind == "slow-head" else status == 408
        results.append((kind, out, expected, time.monotonic() - start))
    except (socket.timeout, TimeoutError):
        results.append((kind, f"held > {limit:.0f}s", False, time.monotonic() - start))
    except OSError as e:
        results.append((kind, f"error {type(e).__name__}", False, time.monotonic() - start))
    finally:
        s.close()


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--pid", type=int, help="server process id (for RSS); set when --loom starts it")
    ap.add_argument("--loom", help="start this loom binary's `serve` (and stop it at the end)")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--api-key")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=200, help="requests per client")
    ap.add_argument("--slow", type=int, default=24, help="slowloris connections beside the clients")
    ap.add_argument("--slow-limit", type=float, default=45, help="seconds a slowloris connection may be held")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    proc = None
    if args.loom:
        cmd = [args.loom, "serve", "-m", args.model, "--port", str(args.port), "--parallel", str(args.parallel),
               "--ctx", str(args.ctx)] + (["--api-key", args.api_key] if args.api_key else [])
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open("/tmp/soak-server.log", "w"))
        args.pid = proc.pid
    server = Server(args.port, args.api_key)
    deadline = time.time() + 300
    while True:
        try:
            if server.get("/health")[0] == 200:
                break
        except OSError:
            pass
        if time.time() > deadline or (proc and proc.poll() is not None):
            sys.exit("the server did not become healthy (see /tmp/soak-server.log)")
        time.sleep(0.2)

    # Warm-up (weights paged in, first allocations made), then the starting RSS.
    for chat in (True, False):
        run_kind(server, "chat" if chat else "completion", random.Random(0))
    time.sleep(0.5)
    rss = {"start": status_kib(args.pid, "VmRSS")}
    # One large valid body first, to see what a single big request leaves behind.
    print("big body once:", run_kind(server, "big-valid", random.Random(0))[0], flush=True)
    time.sleep(1)
    rss["after one 6 MB body"] = status_kib(args.pid, "VmRSS")

    peak = [0]
    running = [True]

    def sample():
        while running[0]:
            v = status_kib(args.pid, "VmRSS")
            if v:
                peak[0] = max(peak[0], v)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    results = []  # (kind, outcome, expected, seconds)
    lock = threading.Lock()
    kinds, weights = zip(*MIX.items())

    def client(index):
        rng = random.Random(args.seed * 1000 + index)
        for _ in range(args.requests):
            kind = rng.choices(kinds, weights)[0]
            start = time.monotonic()
            try:
                out, ok = run_kind(server, kind, rng)
            except (ConnectionError, OSError, http.client.HTTPException) as e:
                out, ok = f"client error {type(e).__name__}", False
            with lock:
                results.append((kind, out, ok, time.monotonic() - start))

    slow_results = []
    slow_threads = []

    def slow_launcher():
        rng = random.Random(args.seed)
        for i in range(args.slow):
            if not running[0]:
                break
            t = threading.Thread(target=slowloris, args=(server, "slow-head" if i % 2 == 0 else "slow-body",
                                                         args.slow_limit, slow_results))
            t.start()
            slow_threads.append(t)
            time.sleep(rng.uniform(1, 8))

    t0 = time.monotonic()
    launcher = threading.Thread(target=slow_launcher)
    launcher.start()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    running[0] = False
    launcher.join()
    for t in slow_threads:
        t.join()
    time.sleep(2)
    rss["end"] = status_kib(args.pid, "VmRSS")
    rss["peak during run"] = peak[0]
    rss["high-water mark (VmHWM)"] = status_kib(args.pid, "VmHWM")

    health = server.get("/health")[0]
    m = server.metrics()
    leaked = (m.get("loom:requests_processing", 0), m.get("loom:requests_deferred", 0))

    all_results = results + slow_results
    print(f"\n{args.clients} clients × {args.requests} requests in {elapsed:.0f} s "
          f"(+ {len(slow_results)} slowloris connections)\n")
    print(f"{'kind':<20} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  outcomes")
    by_kind = defaultdict(list)
    for r in all_results:
        by_kind[r[0]].append(r)
    unexpected = Counter()
    for kind in list(MIX) + ["slow-head", "slow-body"]:
        rs = by_kind.get(kind, [])
        if not rs:
            continue
        lat = [r[3] * 1000 for r in rs]
        outs = Counter(r[1] if not r[1].startswith("closed after") else r[1].split(" with ")[-1] if " with " in r[1] else "closed"
                       for r in rs)
        for r in rs:
            if not r[2]:
                unexpected[(kind, r[1])] += 1
        print(f"{kind:<20} {len(rs):>5} {percentile(lat, 50):>8.0f} {percentile(lat, 95):>8.0f} "
              f"{percentile(lat, 99):>8.0f} {max(lat):>8.0f}  " + ", ".join(f"{k}: {v}" for k, v in outs.most_common()))
    normal = [r[3] * 1000 for r in results if r[0] in ("chat", "completion", "chat-stream", "completion-stream") and r[2]]
    print(f"\nnormal requests: p50 {percentile(normal, 50):.0f} ms, p95 {percentile(normal, 95):.0f} ms, "
          f"p99 {percentile(normal, 99):.0f} ms")
    print("\nRSS (MiB): " + ", ".join(f"{k} {v / 1024:.0f}" for k, v in rss.items() if v))
    print(f"after the run: /health {health}, slots processing {leaked[0]:.0f}, deferred {leaked[1]:.0f}")
    print(f"unexpected outcomes: {sum(unexpected.values())}")
    for (kind, out), n in unexpected.most_common():
        print(f"  {kind}: {out} × {n}")

    if proc:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"server exit code after SIGTERM: {proc.returncode}")
    sys.exit(1 if unexpected or leaked != (0, 0) or health != 200 else 0)


if __name__ == "__main__":
    main()
