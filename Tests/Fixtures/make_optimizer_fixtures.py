#!/usr/bin/env python3
"""Generate the PyTorch fixtures for RNNKit's optimisers and learning-rate schedules.

Run from the repository root:

    /tmp/torch-venv/bin/python Tests/Fixtures/make_optimizer_fixtures.py             # write + verify
    /tmp/torch-venv/bin/python Tests/Fixtures/make_optimizer_fixtures.py --verify-only

Writes Tests/Fixtures/golden-optimizers/<run>.safetensors plus MANIFEST.txt; see
the "Optimiser and schedule fixtures" section of Tests/Fixtures/README.md.

Each run trains one small model of make_fixtures.py (same cases, same seeded
parameters and batch) for several full-batch steps with torch.optim (SGD, Adam,
AdamW) under a torch.optim.lr_scheduler (StepLR, CosineAnnealingLR, SequentialLR
of LinearLR and CosineAnnealingLR, ReduceLROnPlateau fed a fixed metric sequence),
in float64, and stores the learning rate of every step (exact, as repr() in the
metadata) and the final weights. The same run in float32 PyTorch gives the
float32 error the Swift side can expect (`f32_error`).

Verification recomputes every learning rate from the schedules' closed forms
(and plateau's rule) and the AdamW run with hand-written updates.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as base  # noqa: E402  (sets float64, one thread, determinism)

OUT = os.path.join(base.HERE, "golden-optimizers")
FORMAT_VERSION = "1"


def f32(x: float) -> float:
    """The float32 nearest x, as a Python float: the Swift side holds settings as Float."""
    return float(np.float32(x))


LSTM = base.Case("lstm", False, 1, True, "many_to_many", "mse", "dense")
GRU = base.Case("gru", False, 1, True, "many_to_many", "cross_entropy", "embedding")
BI = base.Case("lstm", True, 2, True, "many_to_one", "mse", "dense")

# Plateau's metric after every step: two reductions with patience 1, one of them after
# a metric (0.79995) that is lower than the best (0.8) but not by the relative 1e-4.
PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.91, 0.8, 0.79995, 0.85, 0.82, 0.6, 0.7]

# name: case, optimizer settings, schedule settings, steps
RUNS: Dict[str, dict] = {
    "adamw": dict(case=LSTM, optimizer=dict(kind="adamw", lr=f32(0.01), weight_decay=f32(0.05)),
                  schedule=dict(kind="constant"), steps=8),
    "adamw-defaults": dict(case=GRU, optimizer=dict(kind="adamw", lr=f32(1e-3), weight_decay=f32(0.01)),
                           schedule=dict(kind="constant"), steps=6),
    "adamw-cosine-warmup": dict(case=BI, optimizer=dict(kind="adamw", lr=f32(0.02), weight_decay=f32(0.1)),
                                schedule=dict(kind="cosine", steps=10, warmup=3), steps=10),
    "sgd-step": dict(case=LSTM, optimizer=dict(kind="sgd", lr=f32(0.1), momentum=f32(0.9), weight_decay=f32(0.01)),
                     schedule=dict(kind="step", step_size=3, gamma=0.5), steps=10),
    "adam-step": dict(case=GRU, optimizer=dict(kind="adam", lr=f32(0.01), weight_decay=0.0),
                      schedule=dict(kind="step", step_size=4, gamma=0.1), steps=9),
    "adam-cosine": dict(case=LSTM, optimizer=dict(kind="adam", lr=f32(0.01), weight_decay=0.0),
                        schedule=dict(kind="cosine", steps=8, warmup=0), steps=8),
    "sgd-cosine-warmup": dict(case=GRU, optimizer=dict(kind="sgd", lr=f32(0.5), momentum=0.0, weight_decay=0.0),
                              schedule=dict(kind="cosine", steps=9, warmup=2), steps=9),
    "adam-plateau": dict(case=LSTM, optimizer=dict(kind="adam", lr=f32(0.01), weight_decay=0.0),
                         schedule=dict(kind="plateau", factor=0.5, patience=1), steps=10),
    "sgd-plateau": dict(case=BI, optimizer=dict(kind="sgd", lr=f32(0.2), momentum=f32(0.5), weight_decay=0.0),
                        schedule=dict(kind="plateau", factor=f32(0.3), patience=0), steps=10),
}

# Learning rates only, over long runs: the recursive forms' rounding builds up.
LONG_SCHEDULES: Dict[str, dict] = {
    "cosine_1000": dict(kind="cosine", steps=1000, warmup=0),
    "cosine_1000_warmup_37": dict(kind="cosine", steps=1000, warmup=37),
    "cosine_7_past_end": dict(kind="cosine", steps=7, warmup=0),  # stepped 40 times: past T_max, up again
    "step_7_gamma_0.9": dict(kind="step", step_size=7, gamma=0.9),
}
LONG_STEPS = {"cosine_1000": 1000, "cosine_1000_warmup_37": 1000, "cosine_7_past_end": 40, "step_7_gamma_0.9": 300}
LONG_BASE_LR = f32(3e-3)


def make_optimizer(params, settings: dict):
    kind = settings["kind"]
    if kind == "sgd":
        return torch.optim.SGD(params, lr=settings["lr"], momentum=settings["momentum"],
                               weight_decay=settings["weight_decay"], foreach=False)
    if kind == "adam":
        return torch.optim.Adam(params, lr=settings["lr"], weight_decay=settings["weight_decay"], foreach=False, fused=False)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=settings["lr"], weight_decay=settings["weight_decay"], foreach=False, fused=False)
    raise ValueError(kind)


def make_scheduler(optimizer, settings: dict):
    kind = settings["kind"]
    sched = torch.optim.lr_scheduler
    if kind == "constant":
        return None
    if kind == "step":
        return sched.StepLR(optimizer, step_size=settings["step_size"], gamma=settings["gamma"])
    if kind == "cosine":
        steps, warmup = settings["steps"], settings["warmup"]
        if warmup == 0:
            return sched.CosineAnnealingLR(optimizer, T_max=steps, eta_min=0)
        linear = sched.LinearLR(optimizer, start_factor=1 / warmup, total_iters=warmup)
        # The cosine keeps T_max = the run's steps and starts at milestone N (not T_max = steps - N).
        cosine = sched.CosineAnnealingLR(optimizer, T_max=steps, eta_min=0)
        return sched.SequentialLR(optimizer, [linear, cosine], milestones=[warmup])
    if kind == "plateau":
        return sched.ReduceLROnPlateau(optimizer, mode="min", factor=settings["factor"], patience=settings["patience"],
                                       threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr=0)
    raise ValueError(kind)


def run(spec: dict, init_state, batch, dtype=torch.float64):
    """Full-batch steps; returns (learning rates before each step and after the last, final parameters)."""
    case = spec["case"]
    model = base.Model(case).to(dtype)
    model.load_state_dict(init_state, strict=True)
    if dtype == torch.float32:
        batch = {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in batch.items()}
        original = model.features
        model.features = lambda x, _o=original: _o(x).to(torch.float32)
    optimizer = make_optimizer(model.parameters(), spec["optimizer"])
    scheduler = make_scheduler(optimizer, spec["schedule"])
    lrs = [optimizer.param_groups[0]["lr"]]
    for step in range(spec["steps"]):
        optimizer.zero_grad(set_to_none=True)
        base.compute_loss(case, model(batch)["outputs"], batch).backward()
        optimizer.step()
        if spec["schedule"]["kind"] == "plateau":
            scheduler.step(PLATEAU_METRICS[step])
        elif scheduler is not None:
            scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs, {n: p.detach().clone() for n, p in model.named_parameters()}


def long_learning_rates(settings: dict, steps: int) -> List[float]:
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=LONG_BASE_LR)
    scheduler = make_scheduler(optimizer, settings)
    lrs = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs


def settings_metadata(prefix: str, settings: dict) -> Dict[str, str]:
    return {f"{prefix}_{k}" if k != "kind" else prefix: (v if isinstance(v, str) else base.fmt(v)) for k, v in settings.items()}


def generate(name: str, spec: dict):
    case = spec["case"]
    g = torch.Generator().manual_seed(case.seed)
    model = base.Model(case)
    base.init_params(model, g)
    batch = base.make_batch(case, g)
    init_state = base.param_dict(model)
    lrs, trained = run(spec, init_state, batch)
    lrs32, trained32 = run(spec, {k: v.to(torch.float32) for k, v in init_state.items()}, batch, torch.float32)
    assert lrs32 == lrs, name
    # float32 PyTorch's error against float64, per tensor relative to its largest magnitude.
    f32_error = max(float((trained32[n].double() - trained[n]).abs().max() / trained[n].abs().max()) for n in trained)

    tensors: Dict[str, torch.Tensor] = dict(init_state)
    for k in ("inputs", "targets", "lengths", "decoder_inputs"):
        if k in batch:
            tensors[k] = batch[k]
    for n, v in trained.items():
        tensors["trained." + n] = v
    md = {
        "format_version": FORMAT_VERSION, "run": name, "case": case.name, "seed": base.fmt(case.seed),
        "torch_version": torch.__version__.split("+")[0],
        "cell": case.cell, "input_size": base.fmt(case.rnn_input_size), "hidden_size": base.fmt(base.H),
        "num_layers": base.fmt(case.num_layers), "bidirectional": base.fmt(case.bidirectional),
        "output_size": base.fmt(case.output_size), "topology": case.topology, "loss": case.loss,
        "input_kind": case.input_kind, "steps": base.fmt(spec["steps"]),
        "learning_rates": ",".join(base.fmt(x) for x in lrs), "f32_error": base.fmt(f32_error),
    }
    if case.input_kind in ("embedding", "one_hot"):
        md["vocab_size"] = base.fmt(case.vocab_size)
    if case.input_kind == "embedding":
        md["embedding_dim"] = base.fmt(base.EMB_DIM)
    md.update(settings_metadata("optimizer", spec["optimizer"]))
    md.update(settings_metadata("schedule", spec["schedule"]))
    if spec["schedule"]["kind"] == "plateau":
        md["metrics"] = ",".join(base.fmt(x) for x in PLATEAU_METRICS[:spec["steps"]])
    return tensors, md


def generate_long():
    md = {"format_version": FORMAT_VERSION, "torch_version": torch.__version__.split("+")[0],
          "base_lr": base.fmt(LONG_BASE_LR), "names": ",".join(LONG_SCHEDULES)}
    for name, settings in LONG_SCHEDULES.items():
        md.update(settings_metadata(name, settings))
        md[f"{name}_learning_rates"] = ",".join(base.fmt(x) for x in long_learning_rates(settings, LONG_STEPS[name]))
    return {"base_lr": torch.tensor([LONG_BASE_LR])}, md


# ---------------------------------------------------------------------------
# Verification: the schedules' closed forms and a hand-written AdamW
# ---------------------------------------------------------------------------
def closed_form_learning_rates(settings: dict, base_lr: float, steps: int, metrics=None) -> List[float]:
    kind = settings["kind"]
    out = []
    lr = base_lr
    best, bad = math.inf, 0
    for k in range(steps + 1):
        if kind == "constant":
            out.append(base_lr)
        elif kind == "step":
            out.append(base_lr * settings["gamma"] ** (k // settings["step_size"]))
        elif kind == "cosine":
            total, warmup = settings["steps"], settings["warmup"]
            if k < warmup:
                out.append(base_lr * (1 / warmup + (1 - 1 / warmup) * k / warmup))
            else:
                out.append(base_lr * (1 + math.cos(math.pi * (k - warmup) / total)) / 2)
        elif kind == "plateau":
            out.append(lr)
            if k < steps:
                if metrics[k] < best * (1 - 1e-4):
                    best, bad = metrics[k], 0
                else:
                    bad += 1
                if bad > settings["patience"]:
                    lr, bad = lr * settings["factor"], 0
    return out


def learning_rates_agree(name: str, got: List[float], settings: dict, base_lr: float, metrics=None) -> List[str]:
    want = closed_form_learning_rates(settings, base_lr, len(got) - 1, metrics)
    errors = []
    for k, (a, b) in enumerate(zip(got, want)):
        if abs(a - b) > 1e-12 * base_lr:
            errors.append(f"{name}: learning rate of step {k} is {a!r}, the closed form gives {b!r}")
    return errors


def manual_adamw(spec: dict, init_state, batch) -> Dict[str, torch.Tensor]:
    """AdamW without torch.optim: p *= 1 - lr*wd, then Adam on the plain gradient; lr from the stored sequence."""
    case, settings = spec["case"], spec["optimizer"]
    model = base.Model(case)
    model.load_state_dict(init_state, strict=True)
    m = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    v = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    lrs = closed_form_learning_rates(spec["schedule"], settings["lr"], spec["steps"])
    for t in range(1, spec["steps"] + 1):
        model.zero_grad(set_to_none=True)
        base.compute_loss(case, model(batch)["outputs"], batch).backward()
        lr = lrs[t - 1]
        with torch.no_grad():
            for n, p in model.named_parameters():
                g = p.grad
                p.mul_(1 - lr * settings["weight_decay"])
                m[n] = 0.9 * m[n] + 0.1 * g
                v[n] = 0.999 * v[n] + 0.001 * g * g
                denom = v[n].sqrt() / math.sqrt(1 - 0.999 ** t) + 1e-8
                p.sub_(lr / (1 - 0.9 ** t) * m[n] / denom)
    return base.param_dict(model)


def verify(name: str, spec: dict, path: str) -> List[str]:
    t, md = base.load_file(path)
    errors: List[str] = []
    lrs = [float(x) for x in md["learning_rates"].split(",")]
    if len(lrs) != spec["steps"] + 1:
        errors.append(f"{name}: {len(lrs)} learning rates for {spec['steps']} steps")
    errors += learning_rates_agree(name, lrs, spec["schedule"], spec["optimizer"]["lr"], PLATEAU_METRICS)
    params = {k: base.as64(v) for k, v in t.items() if k.startswith(base.MODULE_PREFIXES)}
    batch = {k: base.as64(t[k]) for k in ("inputs", "targets", "lengths", "decoder_inputs") if k in t}
    model = base.Model(spec["case"])
    model.load_state_dict(params, strict=True)
    _, again = run(spec, params, batch)
    for n, p in again.items():
        base.close(f"{name} trained.{n} (rerun)", p, t["trained." + n], errors)
    if spec["optimizer"]["kind"] == "adamw" and spec["schedule"]["kind"] != "plateau":
        for n, p in manual_adamw(spec, params, batch).items():
            base.close(f"{name} trained.{n} (hand-written AdamW)", p, t["trained." + n], errors)
    return errors


def verify_long(path: str) -> List[str]:
    _, md = base.load_file(path)
    errors: List[str] = []
    for name, settings in LONG_SCHEDULES.items():
        lrs = [float(x) for x in md[f"{name}_learning_rates"].split(",")]
        if name == "cosine_7_past_end":
            # Past T_max the closed form goes on along the cosine; check the run itself.
            lrs = lrs[:settings["steps"] + 1]
        errors += learning_rates_agree(name, lrs, settings, LONG_BASE_LR)
    return errors


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verify-only", action="store_true", help="only verify existing files")
    args = ap.parse_args(argv)
    os.makedirs(OUT, exist_ok=True)
    files = sorted([name + ".safetensors" for name in RUNS] + ["schedules-long.safetensors"])
    if not args.verify_only:
        for name, spec in RUNS.items():
            tensors, md = generate(name, spec)
            base.write_safetensors(os.path.join(OUT, name + ".safetensors"), tensors, md)
        tensors, md = generate_long()
        base.write_safetensors(os.path.join(OUT, "schedules-long.safetensors"), tensors, md)
        for f in os.listdir(OUT):
            if f.endswith(".safetensors") and f not in files:
                os.remove(os.path.join(OUT, f))
        with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
            f.writelines(name + "\n" for name in files)
        print(f"wrote {len(files)} fixtures to {os.path.relpath(OUT)}")
    failed = 0
    for name, spec in RUNS.items():
        errors = verify(name, spec, os.path.join(OUT, name + ".safetensors"))
        errors += []
        if errors:
            failed += 1
            print(f"FAIL {name}")
            for e in errors[:20]:
                print("    " + e)
    long_errors = verify_long(os.path.join(OUT, "schedules-long.safetensors"))
    if long_errors:
        failed += 1
        print("FAIL schedules-long")
        for e in long_errors[:20]:
            print("    " + e)
    print(f"verified {len(files) - failed}/{len(files)} fixtures")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
