#!/usr/bin/env python3
"""Drive a running `loom serve` with the official `openai` Python package and check the
answers' shapes: chat (whole and streamed, with usage), text completions with logprobs,
echo + logprobs (prompt-token scoring as lm-evaluation-harness does it), embeddings (base64
and float), models, errors.

    loom serve -m smollm2 --port 8080 --api-key secret &
    python3 scripts/openai_client_check.py --base-url http://127.0.0.1:8080/v1 --api-key secret

Exits non-zero on the first failed check.
"""
import argparse
import math
import sys

import openai
from openai import OpenAI


def check(condition, message):
    if not condition:
        print(f"FAIL: {message}")
        sys.exit(1)
    print(f"ok   {message}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="http://127.0.0.1:8080/v1")
    parser.add_argument("--api-key", default="none")
    args = parser.parse_args()
    client = OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=120)

    models = client.models.list()
    model = models.data[0].id
    check(len(models.data) == 1 and model, f"models.list -> {model}")

    chat = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=16, temperature=0, logprobs=True, top_logprobs=3)
    choice = chat.choices[0]
    check(chat.object == "chat.completion" and choice.message.role == "assistant", "chat: object and role")
    check(isinstance(choice.message.content, str) and choice.message.content, f"chat: content {choice.message.content!r}")
    check(choice.finish_reason in ("stop", "length"), f"chat: finish_reason {choice.finish_reason}")
    check(chat.usage.total_tokens == chat.usage.prompt_tokens + chat.usage.completion_tokens > 0, f"chat: usage {chat.usage}")
    lp = choice.logprobs.content
    check(len(lp) == chat.usage.completion_tokens - (1 if choice.finish_reason == "stop" else 0) or len(lp) == chat.usage.completion_tokens,
          f"chat: {len(lp)} logprob entries")
    check(all(len(e.top_logprobs) == 3 and e.logprob <= 0 for e in lp), "chat: top_logprobs has 3 alternatives, logprobs <= 0")
    check(abs(lp[0].top_logprobs[0].logprob - lp[0].logprob) < 1e-5 and lp[0].top_logprobs[0].token == lp[0].token,
          "chat: greedy token is its own top alternative")

    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=16, temperature=0, stream=True, stream_options={"include_usage": True})
    text, finish, usage, roles = "", None, None, []
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            if c.delta.role:
                roles.append(c.delta.role)
            text += c.delta.content or ""
            finish = c.finish_reason or finish
    check(roles == ["assistant"], "stream: one role delta")
    check(text == choice.message.content, f"stream: text equals the non-streamed answer ({text!r})")
    check(finish == choice.finish_reason, f"stream: finish_reason {finish}")
    check(usage is not None and usage.completion_tokens == chat.usage.completion_tokens, f"stream: usage {usage}")

    comp = client.completions.create(model=model, prompt="The quick brown fox", max_tokens=8, temperature=0, logprobs=2)
    c = comp.choices[0]
    check(comp.object == "text_completion" and c.text, f"completions: text {c.text!r}")
    check(len(c.logprobs.tokens) == len(c.logprobs.token_logprobs) == comp.usage.completion_tokens - (1 if c.finish_reason == "stop" else 0)
          or len(c.logprobs.tokens) == comp.usage.completion_tokens, "completions: one logprob per generated token")
    check(all(len(t) <= 2 for t in c.logprobs.top_logprobs), "completions: <= 2 alternatives each")

    echo = client.completions.create(model=model, prompt="Paris is the capital of France", max_tokens=1,
                                     temperature=0, logprobs=1, echo=True)
    e = echo.choices[0]
    n_prompt = echo.usage.prompt_tokens
    check(e.text.startswith("Paris is the capital of France"), "echo: text starts with the prompt")
    check(len(e.logprobs.token_logprobs) == n_prompt + 1, f"echo: {n_prompt} prompt + 1 generated logprobs")
    check(e.logprobs.token_logprobs[0] is None and e.logprobs.top_logprobs[0] is None, "echo: first prompt token has null logprob")
    check(all(x is not None and x <= 0 and math.isfinite(x) for x in e.logprobs.token_logprobs[1:]), "echo: prompt logprobs finite and <= 0")
    total = sum(e.logprobs.token_logprobs[1:n_prompt])
    check(total < 0, f"echo: sum of prompt logprobs {total:.3f}")

    # Embeddings: the SDK asks for base64 by default and decodes it; ask for floats too.
    texts = ["A blockchain is a shared ledger.", "Bitcoin's supply is capped."]
    emb = client.embeddings.create(model="text-embedding-3-small", input=texts)
    check(len(emb.data) == 2 and [d.index for d in emb.data] == [0, 1], "embeddings: one vector per input, in order")
    vec = emb.data[0].embedding
    check(len(vec) == 384 and abs(sum(x * x for x in vec) - 1) < 1e-4, "embeddings: 384-wide (MiniLM), unit length (base64)")
    floats = client.embeddings.create(model="text-embedding-3-small", input=texts[0], encoding_format="float")
    check(max(abs(a - b) for a, b in zip(floats.data[0].embedding, vec)) < 1e-6, "embeddings: float and base64 agree")
    check(emb.usage.prompt_tokens > 0 and emb.usage.total_tokens == emb.usage.prompt_tokens, "embeddings: usage counts tokens")
    try:
        client.embeddings.create(model="text-embedding-3-small", input="x", dimensions=64)
        check(False, "dimensions must fail")
    except openai.BadRequestError as err:
        check(err.status_code == 400 and "dimensions" in str(err), "embeddings: dimensions -> 400 naming it")

    other = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=1)
    check(other.model == model, "any model name serves the loaded model (as llama-server)")
    check(client.models.retrieve("gpt-4o").id == model, "models.retrieve of any name gives the model")
    try:
        client.completions.create(model=model, prompt="hi", max_tokens=1, extra_body={"mirostat": 2})
        check(False, "an unsupported field must fail")
    except openai.BadRequestError as err:
        check(err.status_code == 400 and "mirostat" in str(err), "unsupported field -> 400 naming it")
    raw = client.completions.with_raw_response.create(model=model, prompt="hi", max_tokens=2, temperature=0)
    timings = raw.http_response.json().get("timings", {})
    check(timings.get("predicted_n") == 2 and timings.get("prompt_ms", 0) > 0, "llama.cpp timings in the response")
    try:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=-1)
        check(False, "negative max_tokens must fail")
    except openai.BadRequestError as err:
        check(err.status_code == 400 and "max_tokens" in str(err), "max_tokens -1 -> 400 BadRequestError")
    if args.api_key != "none":
        try:
            OpenAI(base_url=args.base_url, api_key="wrong", max_retries=0).models.list()
            check(False, "wrong key must fail")
        except openai.AuthenticationError as err:
            check(err.status_code == 401, "wrong API key -> 401 AuthenticationError")
    print("all checks passed")


if __name__ == "__main__":
    main()
