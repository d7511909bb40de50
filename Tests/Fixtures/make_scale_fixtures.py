#!/usr/bin/env python3
"""PyTorch reference results at real sizes, for RNNKit's scale golden tests.

Run from the repository root (torch 2.15 CPU and numpy in a venv, see README.md here):

    /tmp/torch-venv/bin/python Tests/Fixtures/make_scale_fixtures.py            # write golden-scale/
    /tmp/torch-venv/bin/python Tests/Fixtures/make_scale_fixtures.py --only lstm # subset

The small fixtures (make_fixtures.py) run at hidden size 3; these run where the
kernels do their real work: hidden sizes with and without generated kernels and
vector tails (17, 32, 64, 100, 256), batches of several 32-row shards, two
layers, both directions, variable lengths, every cell, and a character model of 256
units.

Keeping the files small: parameters, inputs and targets are not stored. Both
sides draw them from the same counter-based generator (`draw` below, mirrored
in Tests/RNNKitTests/ScaleGoldenTests.swift): value i of stream s is a
splitmix64 hash of (seed, FNV-1a(s), i), mapped to a multiple of 2^-23 in
[-1, 1), which float32 holds exactly; parameters are that times a power of two
near 1/sqrt(hidden). Results are stored at a fixed sample of positions
(`index.<name>`, the same positions for a parameter's gradient and its trained
values), plus, per quantity, its scale, the L2 norm of the whole tensor and
PyTorch float32's error (`<quantity>:stats`).

Two references: everything is computed in float64 (the stored values) and again
in float32 (PyTorch's own float32 result, kept only as its error against
float64). The Swift test judges RNNKit against float64 with a tolerance set by
PyTorch float32's error on the same quantity: two float32 implementations
legitimately differ by about that much. ReLU cases are redrawn until no
pre-activation lies within 1e-6 of the kink (ten times float32 rounding at their scale), in any forward pass of any run, so
that no unit can flip between implementations. Adam's trained weights are
judged in units of the learning rate: its first steps divide by tiny moments,
so rounding on near-zero gradients moves a weight by up to a step either way.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import make_fixtures  # the deterministic safetensors writer (same folder)

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "golden-scale")
SAMPLES = 96              # sampled positions per tensor
RELU_MARGIN = 1e-6        # no ReLU pre-activation closer than this to 0 (float32 rounding of one is ~1e-7)
MASK64 = (1 << 64) - 1

LN_GAIN_SPREAD = 0.5      # lstm_ln: LayerNorm gains are float32(1 + 0.5 * u), in [0.5, 1.5)
SGD = dict(lr=0.05, momentum=0.9, weight_decay=0.01)
ADAM = dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8)
STEPS = 3


# ---------------------------------------------------------------------------
# The shared generator
# ---------------------------------------------------------------------------
def fnv1a(text: str) -> int:
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h


def draw(seed: int, stream: str, count: int) -> np.ndarray:
    """`count` 64-bit words: splitmix64(seed * golden + fnv1a(stream) + i)."""
    with np.errstate(over="ignore"):
        base = np.uint64((seed * 0x9E3779B97F4A7C15 + fnv1a(stream)) & MASK64)
        z = base + np.arange(count, dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(seed: int, stream: str, count: int) -> np.ndarray:
    """Multiples of 2^-23 in [-1, 1): exact in float32."""
    top = (draw(seed, stream, count) >> np.uint64(40)).astype(np.int64)
    return (top - (1 << 23)).astype(np.float64) / float(1 << 23)


def integers(seed: int, stream: str, count: int, below: int) -> np.ndarray:
    return (draw(seed, stream, count) % np.uint64(below)).astype(np.int64)


def parameter_range(hidden: int) -> float:
    """The power of two nearest 1/sqrt(hidden), so scaled draws stay exact."""
    return 2.0 ** round(math.log2(1 / math.sqrt(hidden)))


def ln_gains(seed: int, stream: str, count: int) -> np.ndarray:
    """lstm_ln LayerNorm gains around 1: 1 + 0.5 * u rounded (to nearest even) to float32.
    The rounding is needed above 1, where float32 steps are 2^-23; Float(Double) does the same."""
    return (1.0 + LN_GAIN_SPREAD * uniform(seed, stream, count)).astype(np.float32).astype(np.float64)


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    cell: str
    hidden: int
    batch: int
    steps: int
    features: int = 6          # dense input width, or the vocabulary for tokens
    layers: int = 1
    bidirectional: bool = False
    topology: str = "many_to_many"
    loss: str = "mse"
    input_kind: str = "dense"  # dense | one_hot | embedding
    embedding_dim: int = 0
    outputs: int = 3           # regression width or class count
    encoder_steps: int = 0
    runs: Tuple[str, ...] = ("sgd", "sgd_clip_norm", "adam")
    chunk: int = 0             # truncated BPTT: steps per chunk (0: whole sequence)
    proj: int = 0              # lstm: PyTorch's proj_size
    seed: int = 1

    @property
    def dirs(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def rnn_input(self) -> int:
        return {"dense": self.features, "one_hot": self.features, "embedding": self.embedding_dim}[self.input_kind]


def all_cases() -> List[Case]:
    cases: List[Case] = []
    for cell in ("lstm", "gru", "rnn_tanh", "rnn_relu"):
        # Vector tails (17 = 16 + 1), no generated kernels, split over two shards.
        cases.append(Case(f"{cell}-h17-bi-l2-n40", cell, 17, 40, 9, layers=2, bidirectional=True))
        # A generated size, one-hot input, per-sequence classes, three shards.
        cases.append(Case(f"{cell}-h32-uni-l1-n70-onehot-class", cell, 32, 70, 8, features=11,
                          topology="many_to_one", loss="cross_entropy", input_kind="one_hot", outputs=5))
        # A generated size, stacked, embedding input, per-step classes, four shards.
        cases.append(Case(f"{cell}-h64-uni-l2-n100-embedding", cell, 64, 100, 7, features=13,
                          layers=2, loss="cross_entropy", input_kind="embedding", embedding_dim=9, outputs=4))
        # No generated kernels and a 4-float tail (100 = 6 x 16 + 4), bidirectional, per-sequence output.
        cases.append(Case(f"{cell}-h100-bi-l1-n48-many_to_one", cell, 100, 48, 6, features=8, bidirectional=True,
                          topology="many_to_one"))
    cases.append(Case("lstm-h64-encoder_decoder-n40", "lstm", 64, 40, 6, topology="encoder_decoder", encoder_steps=7))
    cases.append(Case("gru-h32-encoder_decoder-n50", "gru", 32, 50, 5, layers=2, topology="encoder_decoder",
                      encoder_steps=6))
    # A character model (the main job's shape before its default became 128 units): LSTM 256,
    # one-hot over 65 characters, Adam with clipping.
    cases.append(Case("main-job-lstm-h256-onehot", "lstm", 256, 64, 16, features=65, loss="cross_entropy",
                      input_kind="one_hot", outputs=65, runs=("adam_clip_norm",)))
    # Clipping by value end to end.
    cases.append(Case("gru-h32-clip-value-n40", "gru", 32, 40, 8, layers=2, runs=("sgd_clip_value",)))
    cases.append(Case("lstm-h17-clip-value-n40", "lstm", 17, 40, 8, bidirectional=True,
                      topology="many_to_one", runs=("sgd_clip_value",)))
    # Truncated BPTT: 12 steps in chunks of 4, the state carried (not differentiated) across chunks.
    for cell in ("lstm", "gru", "rnn_tanh"):
        cases.append(Case(f"{cell}-h32-tbptt-n40", cell, 32, 40, 12, layers=2, chunk=4, runs=("sgd_tbptt",)))
    # The layer-normalised LSTM: two layers, both directions, variable lengths.
    cases.append(Case("lstm_ln-h64-bi-l2-n40", "lstm_ln", 64, 40, 9, layers=2, bidirectional=True))
    cases.append(Case("lstm_ln-h100-bi-l2-n48-many_to_one", "lstm_ln", 100, 48, 6, features=8, layers=2,
                      bidirectional=True, topology="many_to_one"))
    cases.append(Case("lstm_ln-h64-bi-l2-n44-embedding", "lstm_ln", 64, 44, 7, features=13, layers=2,
                      bidirectional=True, loss="cross_entropy", input_kind="embedding", embedding_dim=9,
                      outputs=4))
    # Projections (proj_size): a generated hidden size projected to a size with a vector tail, and
    # truncated BPTT carrying the projected state.
    cases.append(Case("lstm-h64-p20-bi-l2-n40", "lstm", 64, 40, 9, layers=2, bidirectional=True, proj=20))
    cases.append(Case("lstm-h100-p33-tbptt-n40", "lstm", 100, 40, 12, layers=2, chunk=4, runs=("sgd_tbptt",),
                      proj=33))
    return cases


# ---------------------------------------------------------------------------
# Data and model
# ---------------------------------------------------------------------------
def make_data(case: Case) -> Dict[str, np.ndarray]:
    n, t, s = case.batch, case.steps, case.seed
    d: Dict[str, np.ndarray] = {}
    in_steps = case.encoder_steps if case.topology == "encoder_decoder" else t
    variable = case.chunk == 0  # truncated BPTT keeps every row full, as a text stream does
    lengths = 1 + integers(s, "lengths", n, in_steps) if variable else np.full(n, in_steps, dtype=np.int64)
    lengths[0] = in_steps
    d["lengths"] = lengths
    if case.input_kind == "dense":
        d["inputs"] = uniform(s, "inputs", n * in_steps * case.features).reshape(n, in_steps, case.features)
    else:
        d["inputs"] = integers(s, "inputs", n * in_steps, case.features).reshape(n, in_steps)
    if case.topology == "encoder_decoder":
        d["decoder_inputs"] = uniform(s, "decoder_inputs", n * t * case.features).reshape(n, t, case.features)
    per_step = case.topology in ("many_to_many", "encoder_decoder")
    positions = n * t if per_step else n
    if case.loss == "cross_entropy":
        d["targets"] = integers(s, "targets", positions, case.outputs).reshape((n, t) if per_step else (n,))
    else:
        d["targets"] = uniform(s, "targets", positions * case.outputs).reshape(
            (n, t, case.outputs) if per_step else (n, case.outputs))
    return d


def make_rnn(case: Case, input_size: int) -> nn.Module:
    if case.cell == "lstm_ln":
        return make_fixtures.LayerNormLSTM(input_size, case.hidden, num_layers=case.layers,
                                           bidirectional=case.bidirectional, batch_first=True)
    kw = dict(input_size=input_size, hidden_size=case.hidden, num_layers=case.layers, batch_first=True,
              bidirectional=case.bidirectional)
    if case.cell == "lstm":
        return nn.LSTM(**kw, proj_size=case.proj)
    if case.cell == "gru":
        return nn.GRU(**kw)
    return nn.RNN(nonlinearity=case.cell[4:], **kw)


class Net(nn.Module):
    def __init__(self, case: Case):
        super().__init__()
        self.case = case
        if case.input_kind == "embedding":
            self.embedding = nn.Embedding(case.features, case.embedding_dim)
        if case.topology == "encoder_decoder":
            self.encoder = make_rnn(case, case.rnn_input)
        self.rnn = make_rnn(case, case.rnn_input)
        self.head = nn.Linear((case.proj or case.hidden) * case.dirs, case.outputs)

    def features(self, x):
        kind = self.case.input_kind
        if kind == "embedding":
            return self.embedding(x)
        if kind == "one_hot":
            return F.one_hot(x, self.case.features).to(self.head.weight.dtype)
        return x

    def forward(self, data, state=None):
        case = self.case
        x = self.features(data["inputs"])
        lengths = data["lengths"]
        if case.topology == "encoder_decoder":
            _, state, _ = run_rnn(self.encoder, x, lengths)
            dx = data["decoder_inputs"]
            out, final, _ = run_rnn(self.rnn, dx, torch.full((dx.shape[0],), dx.shape[1]), state)
            return self.head(out), final
        out, final, last = run_rnn(self.rnn, x, lengths, state)
        return self.head(last if case.topology == "many_to_one" else out), final


def run_rnn(module, x, lengths, state=None):
    """Packed when lengths vary; returns outputs, final state, each row's last valid output."""
    total = x.shape[1]
    if bool((lengths == total).all()):
        out, final = module(x, state)
    else:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, final = module(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=total)
    return out, final, out[torch.arange(x.shape[0]), lengths - 1]


def loss_of(case: Case, outputs, data):
    targets = data["targets"]
    per_step = outputs.dim() == 3
    if per_step and case.topology == "many_to_many":
        mask = torch.arange(outputs.shape[1]).unsqueeze(0) < data["lengths"].unsqueeze(1)
    else:
        mask = torch.ones(outputs.shape[:-1], dtype=torch.bool)
    if case.loss == "cross_entropy":
        return F.cross_entropy(outputs[mask], targets[mask])
    return ((outputs - targets) ** 2)[mask].mean()


def build(case: Case, dtype) -> Net:
    net = Net(case).to(dtype)
    scale = parameter_range(case.hidden)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if make_fixtures.is_ln_gain(name):
                values = ln_gains(case.seed, name, p.numel())
            else:
                values = uniform(case.seed, name, p.numel()) * (1.0 if name.startswith("embedding.") else scale)
            p.copy_(torch.from_numpy(values).reshape(p.shape).to(dtype))
    return net


def chunk_data(data, start: int, stop: int, dtype):
    """Steps start..<stop of a truncated-BPTT case (all rows full length)."""
    out = {}
    for k, v in data.items():
        t = torch.from_numpy(v)
        if k == "lengths":
            out[k] = torch.full_like(t, stop - start)
        else:
            t = t[:, start:stop]
            out[k] = t.to(dtype) if t.dtype == torch.float64 else t
    return out


def whole_data(data, dtype):
    return {k: (torch.from_numpy(v).to(dtype) if v.dtype == np.float64 else torch.from_numpy(v))
            for k, v in data.items()}


# ---------------------------------------------------------------------------
# One pass of the reference in a given precision
# ---------------------------------------------------------------------------
@torch.no_grad()
def check_lstm_ln(case: Case, net: Net, data, outputs, final) -> None:
    """The lstm_ln module's float64 forward pass against the explicit re-implementation
    in make_fixtures.py (masked loops, LayerNorm from sums), at this case's real size."""
    assert case.topology != "encoder_decoder"
    params = {name: p.detach() for name, p in net.named_parameters()}
    spec = dataclasses.make_dataclass("Spec", ["cell", "num_layers", "dirs"])(case.cell, case.layers, case.dirs)
    x, lengths = net.features(data["inputs"]), data["lengths"]
    zeros = torch.zeros(case.layers * case.dirs, x.shape[0], case.hidden, dtype=torch.float64)
    out, h_n, c_n = make_fixtures.manual_rnn(spec, params, "rnn.", x, lengths, zeros, zeros)
    last = out[torch.arange(x.shape[0]), lengths - 1]
    expect = net.head(last if case.topology == "many_to_one" else out)
    for got, ref in ((outputs, expect), (final[0], h_n), (final[1], c_n)):
        err = float((got - ref).abs().max()) / float(ref.abs().max())
        assert err < 1e-12, f"{case.name}: lstm_ln module and re-implementation differ by {err:.2e}"


def clip_setting(case: Case, net: Net, data, run: str) -> float:
    """A clipping threshold that acts on every step: about half the first gradient's norm,
    or for values a quarter of its largest element; rounded to 3 digits, exact in float32."""
    net.zero_grad()
    loss_of(case, net(data)[0], data).backward()
    grads = [p.grad for p in net.parameters()]
    if run == "sgd_clip_value":
        value = 0.25 * max(float(g.abs().max()) for g in grads)
    else:
        value = 0.5 * math.sqrt(sum(float((g ** 2).sum()) for g in grads))
    return float(np.float32(float(f"{value:.3g}")))


def optimizer_for(run: str, params):
    if run.startswith("adam"):
        return torch.optim.Adam(params, **ADAM, foreach=False)
    if run == "sgd":
        return torch.optim.SGD(params, **SGD, foreach=False)
    return torch.optim.SGD(params, lr=SGD["lr"], foreach=False)


class ReLUMargin:
    """The smallest |pre-activation| of a ReLU net's forward passes, re-run by hand (float64)."""

    def __init__(self, case: Case):
        self.case = case
        self.smallest = math.inf

    @torch.no_grad()
    def observe(self, net: Net, data) -> None:
        case = self.case
        if case.cell != "rnn_relu":
            return
        x, lengths = net.features(data["inputs"]).double(), data["lengths"]
        total = x.shape[1]
        mask = torch.arange(total).unsqueeze(0) < lengths.unsqueeze(1)
        for layer in range(case.layers):
            outs = []
            for d in range(case.dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                w_ih, w_hh = getattr(net.rnn, "weight_ih" + sfx).double(), getattr(net.rnn, "weight_hh" + sfx).double()
                b = (getattr(net.rnn, "bias_ih" + sfx) + getattr(net.rnn, "bias_hh" + sfx)).double()
                h = torch.zeros(x.shape[0], case.hidden, dtype=torch.float64)
                out = torch.zeros(x.shape[0], total, case.hidden, dtype=torch.float64)
                for t in (range(total) if d == 0 else range(total - 1, -1, -1)):
                    z = x[:, t] @ w_ih.T + h @ w_hh.T + b
                    m = mask[:, t]
                    self.smallest = min(self.smallest, float(z[m].abs().min()))
                    h = torch.where(m.unsqueeze(1), torch.relu(z), h)
                    out[:, t] = torch.where(m.unsqueeze(1), h, torch.zeros_like(h))
                outs.append(out)
            x = torch.cat(outs, dim=-1)


def reference(case: Case, dtype, clip: Dict[str, float], margin: ReLUMargin):
    """Every stored quantity, computed in `dtype`."""
    data = make_data(case)
    whole = whole_data(data, dtype)
    result: Dict[str, torch.Tensor] = {}

    def store_state(prefix: str, final) -> None:
        result[prefix + "h_n"] = (final[0] if case.cell in make_fixtures.LSTM_LIKE else final).detach()
        if case.cell in make_fixtures.LSTM_LIKE:
            result[prefix + "c_n"] = final[1].detach()

    if case.chunk == 0:
        net = build(case, dtype)
        margin.observe(net, whole)
        outputs, final = net(whole)
        if case.cell == "lstm_ln" and dtype == torch.float64:
            check_lstm_ln(case, net, whole, outputs, final)
        loss = loss_of(case, outputs, whole)
        loss.backward()
        result["outputs"] = outputs.detach()
        store_state("", final)
        result["loss"] = loss.detach().reshape(1)
        for name, p in net.named_parameters():
            result["grad." + name] = p.grad.detach().clone()
    for run in case.runs:
        trained = build(case, dtype)
        opt = optimizer_for(run, trained.parameters())
        chunks = [(start, start + case.chunk) for start in range(0, case.steps, case.chunk)] if case.chunk else []
        state, losses = None, []
        for step in range(len(chunks) if chunks else STEPS):
            part = chunk_data(data, *chunks[step], dtype) if chunks else whole
            opt.zero_grad()
            outputs, state = trained(part, state if chunks else None)
            loss = loss_of(case, outputs, part)
            loss.backward()
            if run.endswith("clip_norm"):
                torch.nn.utils.clip_grad_norm_(trained.parameters(), clip[run], foreach=False)
            elif run == "sgd_clip_value":
                torch.nn.utils.clip_grad_value_(trained.parameters(), clip[run], foreach=False)
            opt.step()
            margin.observe(trained, part)
            losses.append(float(loss.detach()))
            # Truncated BPTT: the next chunk starts from this state, which gradients do not reach.
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        if chunks:
            store_state(run + ".", state)
        result[run + ".losses"] = torch.tensor(losses, dtype=torch.float64)
        for name, p in trained.named_parameters():
            result[f"{run}.{name}"] = p.detach().clone()
    return result


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------
def sample_positions(name: str, count: int, seed: int) -> np.ndarray:
    if count <= SAMPLES:
        return np.arange(count, dtype=np.int64)
    rng = np.random.default_rng(fnv1a(f"{seed}:{name}") & 0xFFFFFFFF)
    return np.sort(rng.choice(count, SAMPLES, replace=False)).astype(np.int64)


def generate(case: Case) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    seed = case.seed
    while True:
        case = dataclasses.replace(case, seed=seed)
        whole = whole_data(make_data(case), torch.float64)
        clip = {run: clip_setting(case, build(case, torch.float64), whole, run) for run in case.runs if "clip" in run}
        margin = ReLUMargin(case)
        ref = reference(case, torch.float64, clip, margin)
        if margin.smallest > RELU_MARGIN:
            break
        seed += 1
    low = reference(case, torch.float32, clip, ReLUMargin(case))
    arrays: Dict[str, np.ndarray] = {"lengths": make_data(case)["lengths"]}
    for key, value in ref.items():
        if key.endswith(".losses") or key == "loss":
            arrays[key] = value.numpy().astype(np.float32)
            continue
        base = key.split(".", 1)[1] if key.startswith(("grad.", "sgd", "adam")) else key
        run = key.split(".", 1)[0]
        full = value.numpy().reshape(-1)
        index_name = "index." + base
        if index_name not in arrays:
            arrays[index_name] = sample_positions(base, full.size, case.seed)
        idx = arrays[index_name]
        error = np.abs(low[key].double().numpy().reshape(-1) - full)
        # Adam's weights are judged in units of its step size, everything else against the tensor's scale.
        unit = ADAM["lr"] if run.startswith("adam") else max(float(np.abs(full).max()), 1e-30)
        arrays[key] = full[idx].astype(np.float32)
        arrays[key + ":stats"] = np.array([unit, math.sqrt(float((full ** 2).sum())), float(error.max()) / unit],
                                          dtype=np.float32)
    metadata = {
        "case": case.name,
        "seed": str(case.seed),
        "torch_version": torch.__version__.split("+")[0],
        "cell": case.cell,
        "hidden_size": str(case.hidden),
        "num_layers": str(case.layers),
        "bidirectional": "true" if case.bidirectional else "false",
        "topology": case.topology,
        "loss": case.loss,
        "input_kind": case.input_kind,
        "input_size": str(case.features),
        "embedding_dim": str(case.embedding_dim),
        "output_size": str(case.outputs),
        "batch_size": str(case.batch),
        "seq_len": str(case.steps),
        "encoder_seq_len": str(case.encoder_steps),
        "chunk": str(case.chunk),
        "parameter_range": repr(parameter_range(case.hidden)),
        "runs": ",".join(case.runs),
        "steps": str(STEPS),
        "sgd_lr": repr(SGD["lr"]), "sgd_momentum": repr(SGD["momentum"]),
        "sgd_weight_decay": repr(SGD["weight_decay"]),
        "adam_lr": repr(ADAM["lr"]), "adam_beta1": repr(ADAM["betas"][0]), "adam_beta2": repr(ADAM["betas"][1]),
        "adam_eps": repr(ADAM["eps"]),
    }
    for run, value in clip.items():
        metadata[f"{run}_limit"] = repr(value)
    if case.proj:
        metadata["proj_size"] = str(case.proj)
    if case.cell == "rnn_relu":
        metadata["relu_margin"] = f"{margin.smallest:.3g}"
    if case.cell == "lstm_ln":
        metadata["layer_norm_eps"] = repr(make_fixtures.LN_EPS)
        metadata["ln_gain_spread"] = repr(LN_GAIN_SPREAD)
    return arrays, metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="substring of the case names to write")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    cases = [c for c in all_cases() if not args.only or args.only in c.name]
    for case in cases:
        arrays, metadata = generate(case)
        make_fixtures.write_safetensors(os.path.join(OUT, case.name + ".safetensors"),
                                        {k: torch.from_numpy(v) for k, v in arrays.items()}, metadata)
        worst = max(float(v[2]) for k, v in arrays.items() if k.endswith(":stats"))
        print(f"{case.name}: seed {metadata['seed']}, PyTorch float32 worst error {worst:.2e}", flush=True)
    if not args.only:
        names = sorted(c.name + ".safetensors" for c in all_cases())
        for stale in set(os.listdir(OUT)) - set(names) - {"MANIFEST.txt"}:
            os.remove(os.path.join(OUT, stale))
        with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
            f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
