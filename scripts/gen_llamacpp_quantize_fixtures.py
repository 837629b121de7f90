#!/usr/bin/env python3
"""Writes Tests/LoomModelsTests/Fixtures/llamacpp_quantize_smollm2.json: for SmolLM2-135M
(the Loom catalog's Q4_1 GGUF) quantised by llama.cpp itself (llama-cpp-python's
llama_model_quantize, allow_requantize) to several types, the type of every tensor and the
SHA-256 of each tensor's bytes, so `loom quantize` can be checked to produce the same file
contents. pip install llama-cpp-python gguf numpy
"""
import ctypes, hashlib, json, os, sys, tempfile
import numpy as np
import llama_cpp
from gguf import GGUFReader

SRC = os.path.expanduser("~/.cache/loom/models/SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomModelsTests", "Fixtures", "llamacpp_quantize_smollm2.json")
TYPES = {"Q8_0": 7, "Q4_0": 2, "Q5_1": 9, "Q2_K": 10, "Q3_K_M": 12, "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18,
         "TQ1_0": 36, "TQ2_0": 37}


def main():
    result = {"source": os.path.basename(SRC), "llama_cpp_python": llama_cpp.__version__, "types": {}}
    d = tempfile.mkdtemp()
    for name, ftype in TYPES.items():
        p = llama_cpp.llama_model_quantize_default_params()
        p.ftype = ftype
        p.allow_requantize = True
        p.nthread = 2
        out = os.path.join(d, name + ".gguf")
        assert llama_cpp.llama_model_quantize(SRC.encode(), out.encode(), ctypes.byref(p)) == 0
        r = GGUFReader(out)
        result["types"][name] = {t.name: [t.tensor_type.name, hashlib.sha256(np.asarray(t.data).view(np.uint8).tobytes()).hexdigest()]
                                 for t in r.tensors}
        os.remove(out)
    with open(OUT, "w") as f:
        json.dump(result, f, indent=0, sort_keys=True)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
