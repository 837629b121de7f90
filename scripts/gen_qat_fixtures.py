#!/usr/bin/env python3
"""Writes Tests/LoomTrainingTests/Fixtures/qat_steps.json: quantisation-aware training steps
(`loom finetune --qat ternary`) computed by PyTorch on the tiny random transformers models of
Tests/LoomModelsTests/Fixtures/hf_independent/ (the bases of gen_finetune_fixtures.py, NOT
regenerated here), so Loom's fake quantisation, straight-through estimator, latent-weight
gradients, clipping and AdamW are checked against an independent implementation.

The trained projections are nn.Linear modules whose forward is BitLinear in training mode with
the warm-up factor lambda of Hugging Face's "Fine-tuning LLMs to 1.58bit: extreme quantization
made easy" (https://huggingface.co/blog/1_58_llm_extreme_quantization):

    x_quant = x + lam * (activation_quant(x) - x).detach()
    w_quant = w + lam * (weight_quant(w) - w).detach()
    y = F.linear(x_quant, w_quant, bias)           (the bias, if any, frozen)

    weight_quant(w):     scale = 1 / w.abs().mean().clamp(min=1e-5); (w*scale).round().clamp(-1, 1) / scale
    activation_quant(x): scale = 127 / x.abs().max(-1, keepdim=True).clamp(min=1e-5);
                         (x*scale).round().clamp(-128, 127) / scale

Every other parameter is frozen. A step is a transformers Trainer step: zero_grad, loss.backward(),
record gradients (step 1), clip_grad_norm_ over the trained weights (its returned norm recorded),
torch.optim.AdamW step, record weights. The "plain" case trains the same projections as ordinary
nn.Linear layers (no quantisation code at all): Loom at lambda = 0 must reproduce it.

Rounding margins. round() is discontinuous, and Loom's f32 forward differs from PyTorch's in
the last bits (summation order), so a value that lands within ~1e-4 of a rounding boundary
(x*scale near k+0.5 for activations, w*scale near +-0.5 for weights) could round differently and
move the loss and gradients far more than the tolerances. Each lambda > 0 case therefore searches
data seeds until every fake-quantised value of every step is at least MARGIN_ACT (activations, in
units of the int8 step) / MARGIN_W (weights, in units of the ternary step) from a boundary, and
records the seed and the margins found.

Mutations recorded for step 1 (the Swift test asserts they are far from Loom's numbers, i.e. the
checks have the power to catch these bugs): "no_ste" = gradients without .detach() (autograd
through round/clamp and through the scale's dependence on w), "inverted_scale" = the loss with
scale = mean|w| instead of 1/mean|w|.

Recorded tensors: per trained projection "L.module" (HF module name) a sample of 64 elements at
stride numel//64 (row-major [out, in]) and float64 "sum" and "abs_sum" over the whole tensor, for
the step-1 gradients and for the weights after each step. Floats with 9 significant digits.

usage: python3 scripts/gen_qat_fixtures.py     (pip install torch transformers)
"""
import json, os

import torch
import torch.nn.functional as F
import transformers
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
BASES = os.path.normpath(os.path.join(HERE, "..", "Tests", "LoomModelsTests", "Fixtures", "hf_independent"))
OUT = os.path.normpath(os.path.join(HERE, "..", "Tests", "LoomTrainingTests", "Fixtures", "qat_steps.json"))

ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
CASES = {
    # lambda fixed at 0.5 (half-way through the warm-up), every projection of both layers,
    # weight decay 0.1 and clipping at 1.0.
    "llama_lambda_half": dict(base="llama_f32_untied", modules=ALL, layers=None, lambdas=[0.5, 0.5],
                              weight_decay=0.1, max_grad_norm=1.0, seed=100),
    # The warm-up schedule of --qat-warmup-steps 2: lambda = min(t/2, 1) for t = 0, 1, 2 completed
    # steps; layer 1's attention projections only.
    "llama_warmup2": dict(base="llama_f32_untied", modules=["q_proj", "k_proj", "v_proj", "o_proj"], layers=[1],
                          lambdas=[0.0, 0.5, 1.0], warmup=2, weight_decay=0.0, max_grad_norm=1.0, seed=200),
    # Fully ternary from the start on qwen2 (frozen q/v biases, tied embeddings), no clipping.
    "qwen2_lambda_one": dict(base="qwen2_tied_bias", modules=["q_proj", "v_proj", "up_proj", "down_proj"], layers=None,
                             lambdas=[1.0, 1.0], weight_decay=0.01, max_grad_norm=1000.0, seed=300),
    # Plain full-weight training (ordinary nn.Linear): Loom with lambda = 0 must give the same.
    "llama_plain": dict(base="llama_f32_untied", modules=ALL, layers=None, lambdas=[0.0, 0.0], plain=True,
                        weight_decay=0.01, max_grad_norm=1.0, seed=400),
}
LR, BETAS, EPS = 1e-3, (0.9, 0.999), 1e-8
MARGIN_ACT, MARGIN_W = 2e-4, 1e-5
TOKENS = 10


def g9(v):
    return float(f"{float(v):.9g}")


class Margins:
    """Smallest distance to a rounding boundary seen while lambda > 0."""

    def __init__(self):
        self.act = float("inf")
        self.w = float("inf")


def weight_quant(w, inverted=False):
    m = w.abs().mean().clamp(min=1e-5)
    scale = m if inverted else 1.0 / m
    return (w * scale).round().clamp(-1, 1) / scale, scale


def activation_quant(x):
    scale = 127.0 / x.abs().max(dim=-1, keepdim=True).values.clamp(min=1e-5)
    return (x * scale).round().clamp(-128, 127) / scale, scale


class QATLinear(torch.nn.Module):
    def __init__(self, linear, state):
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias
        if self.bias is not None:
            self.bias.requires_grad_(False)
        self.state = state

    def forward(self, x):
        lam = self.state["lambda"]
        xq, xs = activation_quant(x)
        wq, ws = weight_quant(self.weight, inverted=self.state.get("inverted", False))
        if lam > 0 and self.state.get("margins") is not None:
            m = self.state["margins"]
            v = (x * xs).detach().abs()
            m.act = min(m.act, float((v - v.floor() - 0.5).abs().min()))
            u = (self.weight * ws).detach().abs()
            m.w = min(m.w, float((u - 0.5).abs().min()))
        if self.state.get("no_ste"):
            x_q = x + lam * (xq - x)
            w_q = self.weight + lam * (wq - self.weight)
        else:
            x_q = x + lam * (xq - x).detach()
            w_q = self.weight + lam * (wq - self.weight).detach()
        return F.linear(x_q, w_q, self.bias)


def trained_linears(model, modules, layers):
    """(key "L.module", parent module, attribute name) sorted by layer then module name."""
    out = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or "layers." not in name:
            continue
        parts = name.split(".")
        layer = int(parts[parts.index("layers") + 1])
        if parts[-1] in modules and (layers is None or layer in layers):
            parent = model.get_submodule(".".join(parts[:-1]))
            out.append((f"{layer}.{parts[-1]}", parent, parts[-1]))
    return sorted(out, key=lambda t: (int(t[0].split(".")[0]), ALL.index(t[0].split(".")[1])))


def summary(t):
    flat = t.detach().reshape(-1)
    stride = max(1, flat.numel() // 64)
    sample = [g9(v) for v in flat[::stride][:64].tolist()]
    d = flat.double()
    return {"sample": sample, "stride": stride, "sum": float(d.sum()), "abs_sum": float(d.abs().sum())}


def run(spec, seed, mutate=None):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(os.path.join(BASES, spec["base"]), dtype=torch.float32,
                                                 attn_implementation="eager")
    model.train()
    for p in model.parameters():
        p.requires_grad_(False)
    margins = Margins()
    state = {"lambda": 0.0, "margins": margins}
    if mutate:
        state[mutate] = True
    linears = trained_linears(model, spec["modules"], spec["layers"])
    weights = {}
    for key, parent, attr in linears:
        lin = getattr(parent, attr)
        lin.weight.requires_grad_(True)
        weights[key] = lin.weight
        if not spec.get("plain"):
            setattr(parent, attr, QATLinear(lin, state))
    g = torch.Generator().manual_seed(seed)
    vocab = model.config.vocab_size
    tokens = torch.randint(0, vocab, (2, TOKENS), generator=g)
    labels = tokens.clone()
    labels[0, :3] = -100
    labels[1, 4:6] = -100
    params = [weights[k] for k, _, _ in linears]
    optimizer = torch.optim.AdamW(params, lr=LR, betas=BETAS, eps=EPS, weight_decay=spec["weight_decay"])
    steps = []
    for i, lam in enumerate(spec["lambdas"]):
        state["lambda"] = lam
        optimizer.zero_grad()
        loss = model(input_ids=tokens, labels=labels).loss
        loss.backward()
        grads = {k: summary(w.grad) for k, w in weights.items()} if i == 0 else None
        if mutate:
            return loss.item(), grads
        norm = float(torch.nn.utils.clip_grad_norm_(params, spec["max_grad_norm"]))
        optimizer.step()
        entry = {"lambda": lam, "loss": g9(loss.item()), "grad_norm": g9(norm), "after": {k: summary(w) for k, w in weights.items()}}
        if grads is not None:
            entry["grads"] = grads
        steps.append(entry)
    return dict(tokens=tokens.tolist(), labels=labels.tolist(), steps=steps), margins


def make_case(name, spec):
    quantised = any(l > 0 for l in spec["lambdas"]) and not spec.get("plain")
    for seed in range(spec["seed"], spec["seed"] + 2000):
        result, margins = run(spec, seed)
        if not quantised or (margins.act >= MARGIN_ACT and margins.w >= MARGIN_W):
            break
    else:
        raise SystemExit(f"{name}: no seed with rounding margins {MARGIN_ACT}/{MARGIN_W}")
    case = dict(base=spec["base"], modules=spec["modules"], layers=spec["layers"], lr=LR, betas=list(BETAS), eps=EPS,
                weight_decay=spec["weight_decay"], max_grad_norm=spec["max_grad_norm"], data_seed=seed, **result)
    if spec.get("warmup") is not None:
        case["warmup_steps"] = spec["warmup"]
    if quantised:
        case["margins"] = {"activation": g9(margins.act), "weight": g9(margins.w)}
        first = next(i for i, l in enumerate(spec["lambdas"]) if l > 0)
        if first == 0:
            _, no_ste = run(spec, seed, mutate="no_ste")
            inverted, _ = run(spec, seed, mutate="inverted")
            case["mutations"] = {"no_ste_grads": no_ste, "inverted_scale_loss": g9(inverted)}
    print(f"{name}: seed {seed}, losses {[s['loss'] for s in case['steps']]}, margins {case.get('margins')}")
    return case


def main():
    cases = {name: make_case(name, spec) for name, spec in CASES.items()}
    with open(OUT, "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "cases": cases}, f,
                  separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}: {os.path.getsize(OUT) // 1024} KB")


if __name__ == "__main__":
    main()
