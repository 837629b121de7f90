#!/usr/bin/env python3
"""Writes Tests/LoomModelsTests/Fixtures/llamacpp_q8_0_greedy_smollm2.json: llama.cpp's own
Q8_0 of SmolLM2-135M and what llama.cpp generates with it, so Loom's
`export-hf` → `convert --type q8_0` path can be checked against it.

Source: the Loom catalog's SmolLM2-135M-Instruct.Q4_1.gguf, dequantised to F32 by llama.cpp
(llama_model_quantize, ftype ALL_F32, allow_requantize) — the same F32 values Loom's export-hf
writes — then quantised by llama.cpp to Q8_0 (ftype MOSTLY_Q8_0). Records:
  tensors: {name: [ggml type, sha256 of the tensor bytes]} of llama.cpp's Q8_0 file
  cases:   per prompt, its token ids, then 32 greedy tokens from llama.cpp (llama-cpp-python,
           2 threads) and at each step the gap between the top two logits.
pip install llama-cpp-python gguf numpy
"""
import ctypes, hashlib, json, os, tempfile

import numpy as np
import llama_cpp
from gguf import GGUFReader

SRC = os.path.expanduser("~/.cache/loom/models/SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomModelsTests", "Fixtures",
                                    "llamacpp_q8_0_greedy_smollm2.json"))
PROMPTS = [
    "The capital of France is",
    "<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n<|im_start|>assistant\n",
    "def fibonacci(n):\n",
]
STEPS = 32


def quantize(src, dst, ftype):
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.allow_requantize = True
    p.nthread = 2
    assert llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p)) == 0, (src, ftype)


def main():
    d = tempfile.mkdtemp()
    f32, q8 = os.path.join(d, "f32.gguf"), os.path.join(d, "q8_0.gguf")
    quantize(SRC, f32, 0)   # LLAMA_FTYPE_ALL_F32
    quantize(f32, q8, 7)    # LLAMA_FTYPE_MOSTLY_Q8_0
    tensors = {t.name: [t.tensor_type.name, hashlib.sha256(np.asarray(t.data).view(np.uint8).tobytes()).hexdigest()]
               for t in GGUFReader(q8).tensors}

    llm = llama_cpp.Llama(model_path=q8, n_ctx=256, n_threads=2, n_batch=256, verbose=False)
    cases = []
    for prompt in PROMPTS:
        ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        llm.reset()
        llm.eval(ids)
        greedy, gaps = [], []
        for _ in range(STEPS):
            # Llama.scores is only filled with logits_all; read the last row from the context.
            row = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
            logits = np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).astype(np.float64)
            top = np.argsort(logits)[::-1][:2]
            greedy.append(int(top[0]))
            gaps.append(round(float(logits[top[0]] - logits[top[1]]), 4))
            llm.eval([int(top[0])])
        cases.append({"prompt": prompt, "ids": ids, "greedy": greedy, "gaps": gaps,
                      "text": llm.detokenize(greedy).decode(errors="replace")})
        print(repr(prompt), "->", repr(cases[-1]["text"]), "min gap", min(gaps))
    result = {"source": os.path.basename(SRC), "llama_cpp_python": llama_cpp.__version__, "tensors": tensors, "cases": cases}
    with open(OUT, "w") as f:
        json.dump(result, f, indent=0, sort_keys=True)
    for p in (f32, q8):
        os.remove(p)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
