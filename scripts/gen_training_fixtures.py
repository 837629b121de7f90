#!/usr/bin/env python3
"""Fixtures for LoomTraining from the reference implementations (issue #23).

    pip install torch transformers
    python3 scripts/gen_training_fixtures.py

schedules.json: the learning rate at every step of transformers' constant/linear/cosine
schedules with warm-up (optimization.py), which PEFT and LLaMA-Factory train with.
"""
import json
import os

import torch
from transformers import (get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup,
                          get_linear_schedule_with_warmup)

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LoomTrainingTests", "Fixtures")


def rates(make, peak, warmup, total):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=peak)
    scheduler = make(optimizer, warmup, total)
    out = []
    for _ in range(total + 3):  # a few steps past the end: the rate stays at the floor
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for kind, make in [
        ("constant", lambda o, w, t: get_constant_schedule_with_warmup(o, w)),
        ("linear", get_linear_schedule_with_warmup),
        ("cosine", get_cosine_schedule_with_warmup),
    ]:
        for peak, warmup, total in [(2e-4, 10, 100), (1e-3, 0, 7), (5e-5, 3, 3), (3e-4, 1, 2)]:
            cases.append({"kind": kind, "peak": peak, "warmup": warmup, "total": total,
                          "rates": rates(make, peak, warmup, total)})
    with open(os.path.join(OUT, "schedules.json"), "w") as f:
        json.dump({"generator": "transformers " + __import__("transformers").__version__,
                   "cases": cases}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
