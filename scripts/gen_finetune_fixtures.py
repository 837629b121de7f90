#!/usr/bin/env python3
"""Writes Tests/LoomTrainingTests/Fixtures/finetune_steps.json: LoRA training steps computed by
PyTorch + PEFT on the tiny random transformers models of Tests/LoomModelsTests/Fixtures/hf_independent/
(written by gen_hf_independent_fixtures.py, NOT regenerated here), so Loom's backward pass, gradient
clipping and AdamW are checked against an independent implementation.

Per case: PEFT LoraConfig(r, lora_alpha, use_rslora, target_modules, layers_to_transform,
lora_dropout (0.0, or p with fixed recorded masks), bias="none") on the base loaded with from_pretrained(dtype=float32,
attn_implementation="eager"); every lora_A / lora_B overwritten with seeded NON-zero values (PEFT's
B = 0 would make the gradients of A zero): A ~ N(0,1)/sqrt(in), B ~ 0.5 N(0,1)/sqrt(r). The initial
values are recorded, so Loom starts from the same factors.

Data: a batch of two sequences of 12 token ids (seeded, in the vocabulary), no padding, labels = ids
with some positions -100. Loss: model(input_ids, labels=labels).loss, i.e. transformers'
ForCausalLMLoss (logits at t predict label t+1, mean over non-ignored labels of the whole batch).

Each step, as a transformers Trainer step: zero_grad, loss.backward(), record the LoRA gradients
(unclipped), torch.nn.utils.clip_grad_norm_(lora params, max_grad_norm) (recorded: its returned
total norm), torch.optim.AdamW(lr, betas, eps, weight_decay).step() (the default single-tensor path
on CPU), record the LoRA parameters. Two steps on the same batch (the second exercises the moments
and bias corrections at t = 2); gradients are recorded for step 1 only.

JSON: {"transformers", "torch", "peft", "cases": {name: {"base", "r", "lora_alpha", "use_rslora",
"targets", "layers", "lr", "betas", "eps", "weight_decay", "max_grad_norm", "tokens": [[id]],
"labels": [[id or -100]], "initial": {"L.module": {"a": [r*in], "b": [out*r]}},
"steps": [{"loss", "grad_norm", "clipped", "grads": {...} (step 1 only), "after": {...},
"dropout_masks" (dropout case only): {"L.module": [one "0101…" string per sequence, row-major
[tokens, in], 1 = kept]}, "loss_scale" (f16 case only)}], "dropout" (dropout case only): p,
"precision" and "f32_reference": {"loss", "grads"} (autocast cases only),
"quantized" (QLoRA case only): {"type": "Q4_0", "dequantized_sums": {GGUF tensor name: sum}},
"norms_initial" (trained-norms case only): {HF module name: [d]}, and per step "norms_after" and
(step 1) "norm_grads" in the same form}}}
Keys "L.module" are layer index and PEFT module name (e.g. "1.q_proj"); tensors are row-major
(lora_A [r, in], lora_B [out, r]), floats with 9 significant digits (exact float32).

usage: python3 scripts/gen_finetune_fixtures.py     (pip install torch transformers peft)
"""
import json, os

import torch
import transformers
import peft
from peft import LoraConfig, get_peft_model
from peft.tuners.lora import LoraLayer
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
BASES = os.path.normpath(os.path.join(HERE, "..", "Tests", "LoomModelsTests", "Fixtures", "hf_independent"))
OUT = os.path.normpath(os.path.join(HERE, "..", "Tests", "LoomTrainingTests", "Fixtures", "finetune_steps.json"))

CASES = {
    # All seven projections of both layers, plain LoRA scaling alpha/r = 2.
    "llama": dict(base="llama_f32_untied", r=2, lora_alpha=4, use_rslora=False,
                  targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                  layers=None, seed=11, max_grad_norm=2.0),
    # qwen2 (q/k/v biases, tied embeddings), selective layer 1 only, rsLoRA scaling alpha/sqrt(r) = 4.
    "qwen2": dict(base="qwen2_tied_bias", r=4, lora_alpha=8, use_rslora=True,
                  targets=["q_proj", "v_proj", "up_proj", "down_proj"], layers=[1], seed=12, max_grad_norm=1000.0),
    # A BF16 checkpoint (Loom reads it in place, PyTorch gets the exact float32 upcast) with llama3
    # RoPE scaling (per-pair frequency factors).
    "llama3_bf16": dict(base="llama3_rope_bf16", r=2, lora_alpha=4, use_rslora=False,
                        targets=["q_proj", "k_proj", "down_proj"], layers=None, seed=14, max_grad_norm=1.0),
    # QLoRA: the qwen2 base with every matrix (the tied embedding too) rounded through Q4_0, as
    # `llama-quantize --pure` / Loom's GGUFQuantizer(pure) store it; PyTorch trains on the dequantised
    # values (gguf-py's reference Q4_0, ggml's quantize_row_q4_0_ref), Loom on the Q4_0 GGUF itself.
    # LoRA dropout p = 0.25 on the llama case: PEFT's own lora_dropout modules with their noise
    # fixed per step (drawn here with torch.bernoulli and recorded, so Loom applies the same).
    "llama_dropout": dict(base="llama_f32_untied", r=2, lora_alpha=4, use_rslora=False,
                          targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                          layers=None, seed=15, max_grad_norm=1000.0, dropout=0.25),
    # Mixed precision: the BF16 llama3 base (so autocast's cast of the base weights is exact) under
    # torch.autocast(device_type="cpu", dtype=bfloat16), SDPA attention (16-bit q/k/v in, f32
    # softmax inside, 16-bit out, as Loom's fused attention); "f32_reference" holds the same
    # step-1 loss and gradients without autocast, to measure how far bf16 moves them.
    "llama3_autocast_bf16": dict(base="llama3_rope_bf16", r=2, lora_alpha=4, use_rslora=False,
                                 targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                                 layers=None, seed=16, max_grad_norm=1.0, precision="bf16", attn="sdpa"),
    # The same in float16 with torch.amp.GradScaler("cpu") (init scale 65536): loss.backward() on
    # the scaled loss, unscale_, clip, scaler.step, scaler.update; the gradients are recorded
    # after unscale_.
    "llama3_autocast_f16": dict(base="llama3_rope_bf16", r=2, lora_alpha=4, use_rslora=False,
                                targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                                layers=None, seed=17, max_grad_norm=1.0, precision="f16", attn="sdpa"),
    "qwen2_q4_0": dict(base="qwen2_tied_bias", r=2, lora_alpha=4, use_rslora=False,
                       targets=["q_proj", "k_proj", "o_proj", "gate_proj", "down_proj"],
                       layers=None, seed=13, max_grad_norm=1.0, quantize="Q4_0"),
    # Trained norms (`loom finetune --train-norms`): PEFT modules_to_save on layer 1's
    # input_layernorm and post_attention_layernorm and on model.norm, with LoRA on layer 1 only.
    # The optimiser has transformers Trainer's two parameter groups (get_decay_parameter_names:
    # no decay for norm weights and biases): LoRA factors with weight_decay, norms with 0. The
    # decay is large (0.5) so a decayed norm would be off by lr*0.5*w ~ 5e-4, far outside 1e-5.
    # Clipping is on (max_grad_norm 0.5) and its norm covers the norm gradients too.
    "llama_norms": dict(base="llama_f32_untied", r=2, lora_alpha=4, use_rslora=False,
                        targets=["q_proj", "v_proj", "down_proj"], layers=[1], seed=18, max_grad_norm=0.5,
                        weight_decay=0.5,
                        norms=["model.layers.1.input_layernorm", "model.layers.1.post_attention_layernorm", "model.norm"]),
}
# transformers parameter name suffix -> GGUF tensor name suffix (convert_hf_to_gguf.py's names).
GGUF_NAMES = {"embed_tokens.weight": "token_embd.weight", "self_attn.q_proj.weight": "attn_q.weight",
              "self_attn.k_proj.weight": "attn_k.weight", "self_attn.v_proj.weight": "attn_v.weight",
              "self_attn.o_proj.weight": "attn_output.weight", "mlp.gate_proj.weight": "ffn_gate.weight",
              "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight"}


def quantize_base(model, kind):
    """Rounds every matrix of `model` through `kind` (gguf-py's numpy port of ggml's reference
    quantiser) in place; returns {GGUF name: float64 sum of the dequantised values}, which the
    Swift test compares with the GGUF Loom's quantiser writes (same rounding, or it fails)."""
    import gguf
    qtype = getattr(gguf.GGMLQuantizationType, kind)
    sums = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            suffix = next((k for k in GGUF_NAMES if name.endswith(k)), None)
            if suffix is None:
                continue
            w = p.detach().numpy()
            d = gguf.quants.dequantize(gguf.quants.quantize(w, qtype), qtype).reshape(w.shape)
            p.copy_(torch.from_numpy(d.copy()))
            layer = name.split("layers.")[1].split(".")[0] if "layers." in name else None
            key = GGUF_NAMES[suffix] if layer is None else f"blk.{layer}.{GGUF_NAMES[suffix]}"
            sums[key] = float(d.astype("float64").sum())
    return sums
LR, BETAS, EPS, WEIGHT_DECAY = 1e-3, (0.9, 0.999), 1e-8, 0.01


def g9(v):
    return float(f"{float(v):.9g}")


def flat(t):
    return [g9(v) for v in t.detach().reshape(-1).tolist()]


def lora_modules(model):
    """(key "L.module", LoraLayer) sorted by layer then module name."""
    out = []
    for name, module in model.named_modules():
        if isinstance(module, LoraLayer):
            parts = name.split(".")
            layer = int(parts[parts.index("layers") + 1])
            out.append((f"{layer}.{parts[-1]}", module))
    return sorted(out, key=lambda kv: kv[0])


class FixedDropout(torch.nn.Module):
    """nn.Dropout(p) in train mode with a given keep mask: x * mask / (1 - p), the expression
    ATen's CPU dropout evaluates (`input * bernoulli(1 - p).div_(1 - p)`)."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.mask = None

    def forward(self, x):
        noise = self.mask.to(x.dtype).div_(1 - self.p)
        return x * noise


def make_case(name, spec):
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(os.path.join(BASES, spec["base"]), dtype=torch.float32,
                                                attn_implementation=spec.get("attn", "eager"))
    sums = quantize_base(base, spec["quantize"]) if spec.get("quantize") else None
    config = LoraConfig(r=spec["r"], lora_alpha=spec["lora_alpha"], use_rslora=spec["use_rslora"],
                        target_modules=spec["targets"], layers_to_transform=spec["layers"],
                        lora_dropout=spec.get("dropout", 0.0), modules_to_save=spec.get("norms"),
                        bias="none", task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    model.train()
    g = torch.Generator().manual_seed(spec["seed"])
    modules = lora_modules(model)
    modules_by_key = dict(modules)
    with torch.no_grad():
        for _, m in modules:
            a, b = m.lora_A["default"].weight, m.lora_B["default"].weight
            a.copy_(torch.randn(a.shape, generator=g) / a.shape[1] ** 0.5)
            b.copy_(0.5 * torch.randn(b.shape, generator=g) / b.shape[1] ** 0.5)
    dropouts = {}
    if spec.get("dropout"):
        for key, m in modules:
            assert isinstance(m.lora_dropout["default"], torch.nn.Dropout)
            m.lora_dropout["default"] = dropouts[key] = FixedDropout(spec["dropout"])
    vocab = base.config.vocab_size
    tokens = torch.randint(0, vocab, (2, 12), generator=g)
    labels = tokens.clone()
    labels[0, :4] = -100          # a prompt that is not learned
    labels[1, 5:8] = -100         # a masked span in the middle
    labels[1, 11] = -100
    params = [p for n, p in model.named_parameters() if p.requires_grad]
    # modules_to_save wraps each norm; its trained copy is the "modules_to_save.default" weight.
    norms = {n.split(".modules_to_save.")[0].removeprefix("base_model.model."): p
             for n, p in model.named_parameters() if p.requires_grad and ".modules_to_save.default." in n}
    assert sorted(norms) == sorted(spec.get("norms") or [])
    assert all("lora_" in n or ".modules_to_save.default." in n for n, p in model.named_parameters() if p.requires_grad)
    weight_decay = spec.get("weight_decay", WEIGHT_DECAY)
    with torch.no_grad():
        for key in sorted(norms):
            norms[key].copy_(1 + 0.2 * torch.randn(norms[key].shape, generator=g))
    lora_params = [p for n, p in model.named_parameters() if p.requires_grad and "lora_" in n]
    groups = [{"params": lora_params, "weight_decay": weight_decay}]
    if norms:
        groups.append({"params": [norms[k] for k in sorted(norms)], "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups, lr=LR, betas=BETAS, eps=EPS, weight_decay=weight_decay)

    def norm_snapshot(kind):
        return {k: flat(getattr(p, kind) if kind else p) for k, p in norms.items()}

    def snapshot(kind):
        return {k: {"a": flat(getattr(m.lora_A["default"].weight, kind) if kind else m.lora_A["default"].weight),
                    "b": flat(getattr(m.lora_B["default"].weight, kind) if kind else m.lora_B["default"].weight)}
                for k, m in modules}

    result = dict(base=spec["base"], r=spec["r"], lora_alpha=spec["lora_alpha"], use_rslora=spec["use_rslora"],
                  targets=spec["targets"], layers=spec["layers"], lr=LR, betas=list(BETAS), eps=EPS,
                  weight_decay=weight_decay, max_grad_norm=spec["max_grad_norm"],
                  tokens=tokens.tolist(), labels=labels.tolist(), initial=snapshot(None), steps=[])
    if norms:
        result["norms_initial"] = norm_snapshot(None)
    if dropouts:
        result["dropout"] = spec["dropout"]
    if sums is not None:
        result["quantized"] = {"type": spec["quantize"], "dequantized_sums": sums}
    precision = spec.get("precision")
    amp_dtype = {"bf16": torch.bfloat16, "f16": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler("cpu") if precision == "f16" else None
    if precision:
        result["precision"] = precision
        optimizer.zero_grad()
        reference = model(input_ids=tokens, labels=labels).loss
        reference.backward()
        result["f32_reference"] = {"loss": g9(reference.item()), "grads": snapshot("grad")}
    for step in range(2):
        masks = {}
        for key, d in dropouts.items():
            d.mask = torch.bernoulli(torch.full((*tokens.shape, modules_by_key[key].in_features), 1 - d.p), generator=g)
            masks[key] = ["".join("1" if v else "0" for v in seq.reshape(-1).tolist()) for seq in d.mask]
        optimizer.zero_grad()
        with torch.autocast(device_type="cpu", dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = model(input_ids=tokens, labels=labels).loss
        assert loss.dtype == torch.float32
        scale = None
        if scaler is not None:
            scale = float(scaler.get_scale())
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        grads = snapshot("grad") if step == 0 else None
        norm_grads = norm_snapshot("grad") if step == 0 and norms else None
        norm = float(torch.nn.utils.clip_grad_norm_(params, spec["max_grad_norm"]))
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        entry = {"loss": g9(loss.item()), "grad_norm": g9(norm), "clipped": norm > spec["max_grad_norm"],
                 "after": snapshot(None)}
        if scale is not None:
            entry["loss_scale"] = scale
        if grads is not None:
            entry["grads"] = grads
        if norms:
            if grads is not None:
                entry["norm_grads"] = norm_grads
            entry["norms_after"] = norm_snapshot(None)
        if masks:
            entry["dropout_masks"] = masks
        result["steps"].append(entry)
        print(f"{name} step {step + 1}: loss {loss.item():.6f}, grad norm {norm:.5f}, clipped {entry['clipped']}")
    return result


def main():
    cases = {name: make_case(name, spec) for name, spec in CASES.items()}
    with open(OUT, "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "peft": peft.__version__,
                   "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}: {os.path.getsize(OUT) // 1024} KB")


if __name__ == "__main__":
    main()
