#!/usr/bin/env python3
"""Drive a running `loom serve` with the official `openai` Python package and check tool
calls: required and named calls (whole and streamed), arguments valid under the tool's schema
(checked with the `jsonschema` package), parallel_tool_calls=false, tool_choice "none", a tool
result sent back, and a 400 naming a bad field.

    loom serve -m qwen2.5-0.5b --port 8080 --api-key secret &
    python3 scripts/openai_client_tools.py --base-url http://127.0.0.1:8080/v1 --api-key secret

Exits non-zero on the first failed check.
"""
import argparse
import json
import sys

import jsonschema
import openai
from openai import OpenAI

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": {"type": "object",
                       "properties": {"city": {"type": "string", "maxLength": 30},
                                      "unit": {"enum": ["celsius", "fahrenheit"]}},
                       "required": ["city", "unit"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "convert_currency", "description": "Convert an amount between currencies",
        "parameters": {"type": "object",
                       "properties": {"amount": {"type": "number"},
                                      "from": {"type": "string", "pattern": "^[A-Z]{3}$"},
                                      "to": {"type": "string", "pattern": "^[A-Z]{3}$"}},
                       "required": ["amount", "from", "to"], "additionalProperties": False}}},
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}


def check(condition, message):
    if not condition:
        print(f"FAIL: {message}")
        sys.exit(1)
    print(f"ok   {message}")


def check_call(call, where, name=None):
    check(call.type == "function" and call.id, f"{where}: call has an id and type function ({call.id})")
    check(call.function.name in SCHEMAS and (name is None or call.function.name == name),
          f"{where}: calls {call.function.name}")
    arguments = json.loads(call.function.arguments)
    try:
        jsonschema.validate(arguments, SCHEMAS[call.function.name],
                            format_checker=jsonschema.FormatChecker())
        valid = True
    except jsonschema.ValidationError as error:
        print(error)
        valid = False
    check(valid, f"{where}: arguments {call.function.arguments} validate against the schema")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="http://127.0.0.1:8080/v1")
    parser.add_argument("--api-key", default="none")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    client = OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=300)
    model = client.models.list().data[0].id
    weather = [{"role": "user", "content": "What's the weather like in Lisbon?"}]

    for seed in range(args.seeds):
        reply = client.chat.completions.create(model=model, messages=weather, tools=TOOLS, tool_choice="required",
                                               parallel_tool_calls=False, max_tokens=120, temperature=0.8, seed=seed)
        choice = reply.choices[0]
        check(choice.finish_reason == "tool_calls", f"required (seed {seed}): finish_reason {choice.finish_reason}")
        check(len(choice.message.tool_calls) == 1, f"required (seed {seed}): one call with parallel_tool_calls=false")
        check_call(choice.message.tool_calls[0], f"required (seed {seed})")

    named = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "How much is 120 US dollars in euros?"}], tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "convert_currency"}}, max_tokens=120, temperature=0)
    check(named.choices[0].finish_reason == "tool_calls", "named: finish_reason tool_calls")
    for call in named.choices[0].message.tool_calls:
        check_call(call, "named", name="convert_currency")

    # Streamed: the SDK accumulates delta.tool_calls by index.
    calls = {}
    finish = None
    content = ""
    for chunk in client.chat.completions.create(model=model, messages=weather, tools=TOOLS, tool_choice="required",
                                                parallel_tool_calls=False, max_tokens=120, temperature=0, stream=True):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        content += delta.content or ""
        for part in delta.tool_calls or []:
            entry = calls.setdefault(part.index, {"id": None, "name": "", "arguments": ""})
            entry["id"] = part.id or entry["id"]
            if part.function:
                entry["name"] += part.function.name or ""
                entry["arguments"] += part.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    check(finish == "tool_calls", f"stream: finish_reason {finish}")
    check(len(calls) == 1, f"stream: one call ({list(calls.values())})")
    streamed = calls[0]
    check(streamed["id"] and streamed["name"] in SCHEMAS, f"stream: call {streamed['name']} with id {streamed['id']}")
    jsonschema.validate(json.loads(streamed["arguments"]), SCHEMAS[streamed["name"]])
    check(True, f"stream: arguments {streamed['arguments']} validate")

    # The call and its result go back; the model answers.
    first = client.chat.completions.create(model=model, messages=weather, tools=TOOLS,
                                           tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                           max_tokens=120, temperature=0)
    call = first.choices[0].message.tool_calls[0]
    follow = client.chat.completions.create(
        model=model, tools=TOOLS, max_tokens=40, temperature=0,
        messages=weather + [first.choices[0].message.model_dump(exclude_none=True),
                            {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 19, "sky": "sunny"})}])
    check(follow.choices[0].finish_reason in ("stop", "length", "tool_calls"), f"tool result sent back: {follow.choices[0].message}")

    none = client.chat.completions.create(model=model, messages=weather, tools=TOOLS, tool_choice="none",
                                          max_tokens=16, temperature=0)
    check(not none.choices[0].message.tool_calls and none.choices[0].finish_reason in ("stop", "length"),
          "tool_choice none: a plain answer")

    try:
        client.chat.completions.create(model=model, messages=weather, max_tokens=4,
                                       tools=[{"type": "function", "function": {"name": "bad name"}}])
        check(False, "a bad tool name is refused")
    except openai.BadRequestError as error:
        check(error.status_code == 400 and "tools[0].function.name" in str(error), f"bad tool name: 400 ({error.body})")
    print("all tool checks passed")


if __name__ == "__main__":
    main()
