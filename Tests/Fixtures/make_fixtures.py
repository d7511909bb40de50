#!/usr/bin/env python3
"""Generate the PyTorch golden fixtures that RNNKit's Swift tests compare against.

Run from the repository root:

    /tmp/torch-venv/bin/python Tests/Fixtures/make_fixtures.py            # write + verify
    /tmp/torch-venv/bin/python Tests/Fixtures/make_fixtures.py --no-verify
    /tmp/torch-venv/bin/python Tests/Fixtures/make_fixtures.py --verify-only
    /tmp/torch-venv/bin/python Tests/Fixtures/make_fixtures.py --f32-report

Everything is written to Tests/Fixtures/golden/ (next to this script), one
`<case>.safetensors` per case plus MANIFEST.txt. See Tests/Fixtures/README.md.

Numerics: all reference math runs in float64 inside PyTorch. Every random
quantity (parameters, inputs, targets) is drawn in float64 from a per-case
seeded torch.Generator and rounded to float32 *before* use, so the reference is
exact (up to the final float32 rounding of what is stored) for the float32
values that the file holds. Stored floating tensors are F32, integers I64.

Determinism: seeds come from a CRC32 of the case name, torch runs with one
thread, and the safetensors files are serialised by this script (sorted JSON
header, fixed tensor order), so re-running produces byte-identical files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import struct
import sys
import zlib
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")

FORMAT_VERSION = "1"

# ---------------------------------------------------------------------------
# Shapes and hyper-parameters (shared by every case)
# ---------------------------------------------------------------------------
N = 3                       # batch
T = 5                       # sequence length (many_to_many / many_to_one / one_to_many)
TE = 4                      # encoder length (encoder_decoder)
TD = 5                      # decoder length (encoder_decoder)
I = 4                       # dense input size
H = 3                       # hidden size
O = 2                       # regression output size
C = 3                       # number of classes (cross-entropy)
VAR_LENGTHS = [5, 2, 4]
VAR_ENC_LENGTHS = [4, 1, 3]
EMB_VOCAB = 7
EMB_DIM = 4
ONE_HOT_VOCAB = 6
INIT_RANGE = 0.5            # parameters ~ U[-0.5, 0.5]
LN_GAIN_RANGE = (0.5, 1.5)  # lstm_ln: LayerNorm gains ~ U[0.5, 1.5] (biases as other parameters)
LN_EPS = 1e-5               # lstm_ln: LayerNorm epsilon (added to the biased variance)

SGD_LR = 0.1
SGD_MOMENTUM = 0.9
SGD_WEIGHT_DECAY = 0.01
SGD_STEPS = 3
CLIPPED_SGD_LR = 0.1        # clipped run: plain SGD, no momentum / weight decay
CLIP_FRACTION = 0.5         # clip_norm = CLIP_FRACTION * initial grad_norm, rounded
ADAM_LR = 0.01
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPS = 1e-8
ADAM_STEPS = 3

CELLS = ["lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_ln"]
LSTM_LIKE = ("lstm", "lstm_ln")     # cells with a (h, c) state
MODULE_PREFIXES = ("rnn.", "head.", "embedding.", "encoder.")
STATE_PREFIXES = ("grad.", "sgd.", "sgd_clipped.", "adam.")


@dataclasses.dataclass(frozen=True)
class Case:
    cell: str                       # lstm | gru | rnn_tanh | rnn_relu | lstm_ln
    bidirectional: bool
    num_layers: int
    var_lengths: bool               # variable lengths (encoder lengths for encoder_decoder)
    topology: str                   # many_to_many | many_to_one | one_to_one | one_to_many | encoder_decoder
    loss: str                       # mse | cross_entropy
    input_kind: str                 # dense | embedding | one_hot
    adam_weight_decay: float = 0.0
    bias: bool = True               # False: PyTorch's bias=False, no bias_ih / bias_hh
    proj_size: int = 0              # lstm: PyTorch's proj_size, h = W_hr (o * tanh(c))

    @property
    def name(self) -> str:
        parts = [
            self.cell,
            "bi" if self.bidirectional else "uni",
            f"l{self.num_layers}",
            "var" if self.var_lengths else "eq",
            self.topology,
            self.loss,
            self.input_kind,
        ]
        if self.adam_weight_decay != 0.0:
            parts.append("adam_wd")
        if not self.bias:
            parts.append("nobias")
        if self.proj_size:
            parts.append(f"proj{self.proj_size}")
        return "-".join(parts)

    @property
    def state_size(self) -> int:
        """Width of h and of each direction's output."""
        return self.proj_size or H

    @property
    def dirs(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def vocab_size(self) -> Optional[int]:
        return {"embedding": EMB_VOCAB, "one_hot": ONE_HOT_VOCAB}.get(self.input_kind)

    @property
    def rnn_input_size(self) -> int:
        if self.input_kind == "embedding":
            return EMB_DIM
        if self.input_kind == "one_hot":
            return ONE_HOT_VOCAB
        return I

    @property
    def output_size(self) -> int:
        if self.loss == "cross_entropy":
            return C
        if self.topology == "one_to_many":
            return self.rnn_input_size          # teacher forcing feeds targets back in
        return O

    @property
    def seq_len(self) -> int:
        if self.topology == "one_to_one":
            return 1
        if self.topology == "encoder_decoder":
            return TD
        return T

    @property
    def seed(self) -> int:
        return zlib.crc32(self.name.encode("utf-8"))


def all_cases() -> List[Case]:
    cases: List[Case] = []
    for cell in CELLS:
        for bi in (False, True):
            for layers in (1, 2):
                for var in (False, True):
                    for topo in ("many_to_many", "many_to_one"):
                        cases.append(Case(cell, bi, layers, var, topo, "mse", "dense"))
    for cell in CELLS:
        cases.append(Case(cell, False, 1, False, "one_to_one", "mse", "dense"))
        cases.append(Case(cell, False, 1, False, "one_to_many", "mse", "dense"))
        cases.append(Case(cell, False, 1, False, "encoder_decoder", "mse", "dense"))
        cases.append(Case(cell, False, 1, True, "encoder_decoder", "mse", "dense"))
        cases.append(Case(cell, False, 1, True, "many_to_many", "cross_entropy", "embedding"))
        cases.append(Case(cell, False, 1, True, "many_to_one", "cross_entropy", "one_hot"))
    cases.append(Case("lstm", True, 2, True, "encoder_decoder", "mse", "dense"))
    # Adam with (L2, torch.optim.Adam-style) weight decay 0.01.
    cases.append(Case("lstm", True, 2, True, "many_to_many", "mse", "dense", adam_weight_decay=0.01))
    cases.append(Case("gru", False, 1, True, "many_to_many", "cross_entropy", "embedding",
                      adam_weight_decay=0.01))
    # The layer-normalised LSTM also gets the two bidirectional extras of the plain LSTM.
    cases.append(Case("lstm_ln", True, 2, True, "encoder_decoder", "mse", "dense"))
    cases.append(Case("lstm_ln", True, 2, True, "many_to_many", "mse", "dense", adam_weight_decay=0.01))
    # PyTorch's bias=False: no bias_ih / bias_hh (the head keeps its bias).
    for cell in ("lstm", "gru", "rnn_tanh", "rnn_relu"):
        cases.append(Case(cell, True, 2, True, "many_to_many", "mse", "dense", bias=False))
        cases.append(Case(cell, False, 1, True, "many_to_one", "cross_entropy", "embedding", bias=False))
    # PyTorch's proj_size (LSTM only): h = W_hr (o * tanh(c)), P < H.
    cases.append(Case("lstm", True, 2, True, "many_to_many", "mse", "dense", proj_size=2))
    cases.append(Case("lstm", False, 2, True, "many_to_one", "cross_entropy", "embedding", proj_size=2))
    cases.append(Case("lstm", True, 2, True, "encoder_decoder", "mse", "dense", proj_size=2))
    cases.append(Case("lstm", False, 1, False, "one_to_many", "mse", "dense", proj_size=1))
    cases.append(Case("lstm", True, 2, True, "many_to_many", "mse", "dense", bias=False, proj_size=1))
    names = [c.name for c in cases]
    assert len(names) == len(set(names))
    return cases


# ---------------------------------------------------------------------------
# The layer-normalised LSTM (Ba et al. 2016; Haste's LayerNormLSTM). See
# Tests/Fixtures/LAYER_NORM_LSTM.md for the equations and the backward pass.
# ---------------------------------------------------------------------------
LN_PARAMETERS = ("weight_ih", "weight_hh", "ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias",
                 "ln_cell_weight", "ln_cell_bias")


def is_ln_gain(name: str) -> bool:
    """LayerNorm gains of an lstm_ln module: ln_{ih,hh,cell}_weight_l{k}[_reverse]."""
    base = name.rsplit(".", 1)[-1]
    return base.startswith("ln_") and "_weight_l" in base


class LayerNormLSTM(nn.Module):
    """A drop-in for nn.LSTM(batch_first=True) with the layer-normalised cell.

    Takes a padded [N, T, In] tensor or a PackedSequence (enforce_sorted=False is fine),
    an optional (h0, c0) of shape [layers*dirs, N, H] in the batch's own order, and returns
    (output, (h_n, c_n)) the way nn.LSTM does: a PackedSequence when the input was packed,
    the state in the batch's own order, index layer*dirs + direction. Per row n, the forward
    direction runs t = 0 .. len_n-1; the reverse direction reads the row's valid steps
    backwards (len_n-1 .. 0). Padded steps leave the state alone and output zeros.
    Built from plain torch ops in a per-step loop; autograd provides the gradients.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, batch_first: bool = True, eps: float = LN_EPS):
        super().__init__()
        assert batch_first, "only batch_first is implemented"
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.eps = bidirectional, eps
        dirs = 2 if bidirectional else 1
        g = 4 * hidden_size
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * dirs
            shapes = {"weight_ih": (g, layer_in), "weight_hh": (g, hidden_size),
                      "ln_ih_weight": (g,), "ln_ih_bias": (g,), "ln_hh_weight": (g,), "ln_hh_bias": (g,),
                      "ln_cell_weight": (hidden_size,), "ln_cell_bias": (hidden_size,)}
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                for base in LN_PARAMETERS:
                    self.register_parameter(base + sfx, nn.Parameter(torch.empty(shapes[base])))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.startswith("weight_"):
                    p.uniform_(-k, k)
                elif is_ln_gain(name):
                    p.fill_(1.0)
                else:
                    p.zero_()

    def _direction(self, x, valid, h, c, sfx):
        """One direction of one layer over [N, T, In] (already in reading order)."""
        w_ih, w_hh = getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)
        g_ih, b_ih = getattr(self, "ln_ih_weight" + sfx), getattr(self, "ln_ih_bias" + sfx)
        g_hh, b_hh = getattr(self, "ln_hh_weight" + sfx), getattr(self, "ln_hh_bias" + sfx)
        g_c, b_c = getattr(self, "ln_cell_weight" + sfx), getattr(self, "ln_cell_bias" + sfx)
        four_h, hid = w_ih.shape[0], self.hidden_size
        a_all = torch.matmul(x, w_ih.t())                       # [N, T, 4H], no bias
        outs = []
        for t in range(x.shape[1]):
            pre = (F.layer_norm(a_all[:, t], (four_h,), g_ih, b_ih, self.eps)
                   + F.layer_norm(torch.matmul(h, w_hh.t()), (four_h,), g_hh, b_hh, self.eps))
            i, f, gg, o = pre.chunk(4, dim=-1)                   # gate order i, f, g, o
            c2 = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
            h2 = torch.sigmoid(o) * torch.tanh(F.layer_norm(c2, (hid,), g_c, b_c, self.eps))
            m = valid[:, t]                                      # [N, 1] bool
            h = torch.where(m, h2, h)
            c = torch.where(m, c2, c)
            outs.append(torch.where(m, h2, torch.zeros_like(h2)))
        return torch.stack(outs, dim=1), h, c

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        if packed:
            x, lengths = pad_packed_sequence(input, batch_first=True)   # back in the batch's order
        else:
            x = input
            lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.int64)
        n_b, t_total = x.shape[0], x.shape[1]
        dirs = 2 if self.bidirectional else 1
        steps = torch.arange(t_total).unsqueeze(0)                       # [1, T]
        len_col = lengths.to(torch.int64).unsqueeze(1)                   # [N, 1]
        valid = (steps < len_col).unsqueeze(-1)                          # [N, T, 1]
        # Reading order of the reverse direction: row n's position t holds step len_n-1-t
        # (padded positions map to themselves and are masked anyway). The map is its own inverse.
        rev = torch.where(steps < len_col, len_col - 1 - steps, steps.expand(n_b, -1))

        def flip(z):
            return torch.gather(z, 1, rev.unsqueeze(-1).expand(-1, -1, z.shape[-1]))

        if hx is None:
            zeros = x.new_zeros(self.num_layers * dirs, n_b, self.hidden_size)
            h0, c0 = zeros, zeros
        else:
            h0, c0 = hx
        hs, cs = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                idx = layer * dirs + d
                seq = layer_in if d == 0 else flip(layer_in)
                out, h, c = self._direction(seq, valid, h0[idx], c0[idx], sfx)
                outs.append(out if d == 0 else flip(out))
                hs.append(h)
                cs.append(c)
            layer_in = torch.cat(outs, dim=-1)
        state = (torch.stack(hs), torch.stack(cs))
        if packed:
            return pack_padded_sequence(layer_in, lengths, batch_first=True, enforce_sorted=False), state
        return layer_in, state


# ---------------------------------------------------------------------------
# The model (mirror of RNNKit)
# ---------------------------------------------------------------------------
def make_rnn(case: Case) -> nn.Module:
    if case.cell == "lstm_ln":
        return LayerNormLSTM(case.rnn_input_size, H, num_layers=case.num_layers,
                             bidirectional=case.bidirectional, batch_first=True)
    kw = dict(input_size=case.rnn_input_size, hidden_size=H, num_layers=case.num_layers,
              bias=case.bias, batch_first=True, dropout=0.0, bidirectional=case.bidirectional)
    if case.cell == "lstm":
        return nn.LSTM(**kw, proj_size=case.proj_size)
    if case.cell == "gru":
        return nn.GRU(**kw)
    return nn.RNN(nonlinearity={"rnn_tanh": "tanh", "rnn_relu": "relu"}[case.cell], **kw)


def run_rnn(module: nn.Module, x: torch.Tensor, lengths: torch.Tensor, hx=None):
    """Run a batch_first RNN on a padded batch; pack only when some length < T."""
    t_total = x.shape[1]
    if bool((lengths == t_total).all()):
        out, state = module(x, hx)
    else:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out_p, state = module(packed, hx)
        out, _ = pad_packed_sequence(out_p, batch_first=True, total_length=t_total)
    if isinstance(state, tuple):
        h_n, c_n = state
    else:
        h_n, c_n = state, None
    return out, h_n, c_n


class Model(nn.Module):
    def __init__(self, case: Case):
        super().__init__()
        self.case = case
        if case.input_kind == "embedding":
            self.embedding = nn.Embedding(EMB_VOCAB, EMB_DIM)
        if case.topology == "encoder_decoder":
            self.encoder = make_rnn(case)
        self.rnn = make_rnn(case)
        self.head = nn.Linear(case.state_size * case.dirs, case.output_size)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        k = self.case.input_kind
        if k == "embedding":
            return self.embedding(x)
        if k == "one_hot":
            return F.one_hot(x, ONE_HOT_VOCAB).to(torch.float64)
        return x

    def forward(self, batch: Dict[str, torch.Tensor]):
        """Returns dict with outputs, h_n, c_n (and encoder_h_n / encoder_c_n)."""
        case = self.case
        lengths = batch["lengths"]
        res: Dict[str, Optional[torch.Tensor]] = {}
        if case.topology == "many_to_many":
            out, h_n, c_n = run_rnn(self.rnn, self.features(batch["inputs"]), lengths)
            res["outputs"] = self.head(out)
        elif case.topology in ("many_to_one", "one_to_one"):
            x = self.features(batch["inputs"])
            if case.topology == "one_to_one":
                x = x.unsqueeze(1)                             # [N, 1, I]
            out, h_n, c_n = run_rnn(self.rnn, x, lengths)
            last = out[torch.arange(x.shape[0]), lengths - 1]  # [N, H*dirs]
            res["outputs"] = self.head(last)
        elif case.topology == "one_to_many":
            x0 = self.features(batch["inputs"]).unsqueeze(1)  # [N, 1, I]
            x = torch.cat([x0, batch["targets"][:, :-1, :]], dim=1)
            out, h_n, c_n = run_rnn(self.rnn, x, lengths)
            res["outputs"] = self.head(out)
        elif case.topology == "encoder_decoder":
            _, eh, ec = run_rnn(self.encoder, self.features(batch["inputs"]), lengths)
            res["encoder_h_n"], res["encoder_c_n"] = eh, ec
            hx = (eh, ec) if ec is not None else eh
            dec_x = self.features(batch["decoder_inputs"])
            dec_len = torch.full((dec_x.shape[0],), dec_x.shape[1], dtype=torch.int64)
            out, h_n, c_n = run_rnn(self.rnn, dec_x, dec_len, hx)
            res["outputs"] = self.head(out)
        else:
            raise ValueError(case.topology)
        res["h_n"], res["c_n"] = h_n, c_n
        return res


def valid_mask(case: Case, batch) -> Optional[torch.Tensor]:
    """[N, T] float mask of valid positions for many_to_many, else None."""
    if case.topology != "many_to_many":
        return None
    lengths = batch["lengths"]
    t_total = batch["inputs"].shape[1]
    return (torch.arange(t_total).unsqueeze(0) < lengths.unsqueeze(1)).to(torch.float64)


def compute_loss(case: Case, outputs: torch.Tensor, batch) -> torch.Tensor:
    targets = batch["targets"]
    if case.loss == "cross_entropy":
        o = outputs.shape[-1]
        return F.cross_entropy(outputs.reshape(-1, o), targets.reshape(-1), ignore_index=-100)
    mask = valid_mask(case, batch)
    sq = (outputs - targets) ** 2
    if mask is None:
        return sq.mean()
    return (sq * mask.unsqueeze(-1)).sum() / (mask.sum() * outputs.shape[-1])


# ---------------------------------------------------------------------------
# Random data
# ---------------------------------------------------------------------------
def f32(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.float32).to(torch.float64)


def uniform(g: torch.Generator, shape, lo: float, hi: float) -> torch.Tensor:
    return f32(torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo)


def make_batch(case: Case, g: torch.Generator) -> Dict[str, torch.Tensor]:
    b: Dict[str, torch.Tensor] = {}
    topo = case.topology
    if topo in ("one_to_one", "one_to_many"):
        assert case.input_kind == "dense"
        b["inputs"] = uniform(g, (N, I), -1.0, 1.0)
        b["lengths"] = torch.full((N,), case.seq_len, dtype=torch.int64)
    else:
        t_in = TE if topo == "encoder_decoder" else T
        if case.var_lengths:
            lens = VAR_ENC_LENGTHS if topo == "encoder_decoder" else VAR_LENGTHS
        else:
            lens = [t_in] * N
        b["lengths"] = torch.tensor(lens, dtype=torch.int64)
        # Padded positions hold ordinary random values (not zeros): PyTorch never reads
        # them, so an implementation that does will disagree with the fixture.
        if case.input_kind == "dense":
            b["inputs"] = uniform(g, (N, t_in, I), -1.0, 1.0)
        else:
            b["inputs"] = torch.randint(0, case.vocab_size, (N, t_in), generator=g, dtype=torch.int64)
        if topo == "encoder_decoder":
            b["decoder_inputs"] = uniform(g, (N, TD, I), -1.0, 1.0)
    # targets
    if case.loss == "cross_entropy":
        if topo == "many_to_many":
            tg = torch.randint(0, C, (N, T), generator=g, dtype=torch.int64)
            mask = torch.arange(T).unsqueeze(0) < b["lengths"].unsqueeze(1)
            tg = torch.where(mask, tg, torch.full_like(tg, -100))
        else:
            tg = torch.randint(0, C, (N,), generator=g, dtype=torch.int64)
        b["targets"] = tg
    else:
        if topo in ("many_to_one", "one_to_one"):
            b["targets"] = uniform(g, (N, case.output_size), -1.0, 1.0)
        else:
            b["targets"] = uniform(g, (N, case.seq_len, case.output_size), -1.0, 1.0)
    return b


def init_params(model: nn.Module, g: torch.Generator) -> None:
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if is_ln_gain(name):        # only lstm_ln has these; other cells draw as before
                p.copy_(uniform(g, tuple(p.shape), *LN_GAIN_RANGE))
            else:
                p.copy_(uniform(g, tuple(p.shape), -INIT_RANGE, INIT_RANGE))


def param_dict(model: nn.Module) -> Dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def loss_and_grads(model: Model, batch) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    res = model(batch)
    loss = compute_loss(model.case, res["outputs"], batch)
    loss.backward()
    return loss, res


def global_grad_norm(model: nn.Module) -> float:
    return math.sqrt(sum(float((p.grad ** 2).sum()) for p in model.parameters() if p.grad is not None))


def clip_norm_for(grad_norm: float, fraction: float) -> float:
    """About fraction * grad_norm, 3 significant digits, exactly representable in F32."""
    v = float(f"{fraction * grad_norm:.3g}")
    return float(np.float32(v))


def train(case: Case, init_state: Dict[str, torch.Tensor], batch, kind: str, clip_norm: float = 0.0):
    """Run 3 full-batch optimiser steps from init_state; returns (params, extra info)."""
    model = Model(case)
    model.load_state_dict(init_state, strict=True)
    info: Dict[str, List[float]] = {"pre_clip_norms": []}
    if kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=SGD_LR, momentum=SGD_MOMENTUM,
                              weight_decay=SGD_WEIGHT_DECAY, foreach=False)
        steps = SGD_STEPS
    elif kind == "sgd_clipped":
        opt = torch.optim.SGD(model.parameters(), lr=CLIPPED_SGD_LR, momentum=0.0,
                              weight_decay=0.0, foreach=False)
        steps = SGD_STEPS
    elif kind == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR, betas=(ADAM_BETA1, ADAM_BETA2),
                               eps=ADAM_EPS, weight_decay=case.adam_weight_decay,
                               foreach=False, fused=False)
        steps = ADAM_STEPS
    else:
        raise ValueError(kind)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = compute_loss(case, model(batch)["outputs"], batch)
        loss.backward()
        if kind == "sgd_clipped":
            total = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm, norm_type=2.0,
                                                   foreach=False)
            info["pre_clip_norms"].append(float(total))
        opt.step()
    return param_dict(model), info


# ---------------------------------------------------------------------------
# safetensors writer (deterministic; format: u64 LE header length, JSON header, data)
# ---------------------------------------------------------------------------
def to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu()
    if t.dtype in (torch.float64, torch.float32):
        return t.to(torch.float32).contiguous().numpy()
    if t.dtype == torch.int64:
        return t.contiguous().numpy()
    raise TypeError(t.dtype)


def write_safetensors(path: str, tensors: Dict[str, torch.Tensor], metadata: Dict[str, str]) -> None:
    arrays = {k: to_numpy(v) for k, v in tensors.items()}
    # Same order as the reference implementation: larger alignment first, then by name,
    # so every I64 tensor starts 8-byte aligned and every F32 tensor 4-byte aligned.
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    header: Dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    blobs = []
    for k in order:
        a = arrays[k]
        dtype = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}[a.dtype]
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
        header[k] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)


def fmt(x) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    return repr(x)


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------
def generate_case(case: Case) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    g = torch.Generator().manual_seed(case.seed)
    model = Model(case)
    init_params(model, g)
    batch = make_batch(case, g)
    init_state = param_dict(model)

    loss, res = loss_and_grads(model, batch)
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    gnorm = global_grad_norm(model)
    # clip_norm starts at about half the initial grad_norm and is lowered (x0.8) until
    # clipping acts on every one of the steps.
    fraction = CLIP_FRACTION
    while True:
        clip_norm = clip_norm_for(gnorm, fraction)
        clipped_params, clip_info = train(case, init_state, batch, "sgd_clipped", clip_norm)
        if all(n > 1.05 * clip_norm for n in clip_info["pre_clip_norms"]):
            break
        fraction *= 0.8
        assert fraction > 0.05, case.name

    sgd_params, _ = train(case, init_state, batch, "sgd")
    adam_params, _ = train(case, init_state, batch, "adam")

    t: Dict[str, torch.Tensor] = {}
    t.update(init_state)
    for k in ("inputs", "targets", "lengths", "decoder_inputs"):
        if k in batch:
            t[k] = batch[k]
    t["outputs"] = res["outputs"].detach()
    t["loss"] = loss.detach().reshape(1)
    t["h_n"] = res["h_n"].detach()
    if res["c_n"] is not None:
        t["c_n"] = res["c_n"].detach()
    if res.get("encoder_h_n") is not None:
        t["encoder_h_n"] = res["encoder_h_n"].detach()
    if res.get("encoder_c_n") is not None:
        t["encoder_c_n"] = res["encoder_c_n"].detach()
    for n, v in grads.items():
        t["grad." + n] = v
    t["grad_norm"] = torch.tensor([gnorm])
    for prefix, d in (("sgd.", sgd_params), ("sgd_clipped.", clipped_params), ("adam.", adam_params)):
        for n, v in d.items():
            t[prefix + n] = v

    md = {
        "format_version": FORMAT_VERSION,
        "case": case.name,
        "seed": fmt(case.seed),
        "torch_version": torch.__version__.split("+")[0],
        "cell": case.cell,
        "input_size": fmt(case.rnn_input_size),
        "hidden_size": fmt(H),
        "num_layers": fmt(case.num_layers),
        "bidirectional": fmt(case.bidirectional),
        "output_size": fmt(case.output_size),
        "topology": case.topology,
        "loss": case.loss,
        "input_kind": case.input_kind,
        "batch_size": fmt(N),
        "seq_len": fmt(case.seq_len),
        "init_range": fmt(INIT_RANGE),
        "sgd_lr": fmt(SGD_LR),
        "sgd_momentum": fmt(SGD_MOMENTUM),
        "sgd_weight_decay": fmt(SGD_WEIGHT_DECAY),
        "sgd_steps": fmt(SGD_STEPS),
        "sgd_clipped_lr": fmt(CLIPPED_SGD_LR),
        "sgd_clipped_momentum": fmt(0.0),
        "sgd_clipped_weight_decay": fmt(0.0),
        "sgd_clipped_steps": fmt(SGD_STEPS),
        "clip_norm": fmt(clip_norm),
        "sgd_clipped_pre_clip_norms": ",".join(fmt(x) for x in clip_info["pre_clip_norms"]),
        "adam_lr": fmt(ADAM_LR),
        "adam_beta1": fmt(ADAM_BETA1),
        "adam_beta2": fmt(ADAM_BETA2),
        "adam_eps": fmt(ADAM_EPS),
        "adam_weight_decay": fmt(case.adam_weight_decay),
        "adam_steps": fmt(ADAM_STEPS),
    }
    if not case.bias:
        md["bias"] = "false"
    if case.proj_size:
        md["proj_size"] = fmt(case.proj_size)
    if case.topology == "encoder_decoder":
        md["encoder_seq_len"] = fmt(TE)
    if case.input_kind in ("embedding", "one_hot"):
        md["vocab_size"] = fmt(case.vocab_size)
    if case.input_kind == "embedding":
        md["embedding_dim"] = fmt(EMB_DIM)
    if case.cell == "lstm_ln":
        md["layer_norm_eps"] = fmt(LN_EPS)
        md["ln_gain_range"] = ",".join(fmt(x) for x in LN_GAIN_RANGE)
    return t, md


# ---------------------------------------------------------------------------
# Verification: reload files, strict load_state_dict, and an independent
# re-implementation of every formula (explicit per-step loops with masks,
# hand-written SGD / clipping / Adam) checked against the stored tensors.
# ---------------------------------------------------------------------------
def sig(x):
    return torch.sigmoid(x)


def cell_step(cell, x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr=None):
    if cell == "lstm":
        gi = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, gg, o = gi.chunk(4, dim=-1)              # PyTorch gate order: i, f, g, o
        c2 = sig(f) * c + sig(i) * torch.tanh(gg)
        h2 = sig(o) * torch.tanh(c2)
        return (h2 if w_hr is None else h2 @ w_hr.T), c2
    if cell == "gru":
        gi = x @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        ir, iz, in_ = gi.chunk(3, dim=-1)              # PyTorch gate order: r, z, n
        hr, hz, hn = gh.chunk(3, dim=-1)
        r = sig(ir + hr)
        z = sig(iz + hz)
        n = torch.tanh(in_ + r * hn)                   # r multiplies (W_hn h + b_hn)
        return (1 - z) * n + z * h, None
    pre = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    return (torch.tanh(pre) if cell == "rnn_tanh" else torch.relu(pre)), None


def manual_layer_norm(x, gamma, beta):
    """LayerNorm over the last axis from explicit sums (biased variance, eps inside the root).
    Returns (y, x_hat, rstd) so the hand-written backward pass can reuse them."""
    n = x.shape[-1]
    mean = x.sum(dim=-1, keepdim=True) / n
    xc = x - mean
    var = (xc * xc).sum(dim=-1, keepdim=True) / n
    rstd = 1.0 / torch.sqrt(var + LN_EPS)
    x_hat = xc * rstd
    return gamma * x_hat + beta, x_hat, rstd


def manual_sigmoid(z):
    return 1.0 / (1.0 + torch.exp(-z))


def ln_lstm_step(x, h, c, p):
    """One lstm_ln step, written out; p = (w_ih, w_hh, g_ih, b_ih, g_hh, b_hh, g_c, b_c).
    Returns h', c' and the cache the hand-written backward pass needs."""
    w_ih, w_hh, g_ih, b_ih, g_hh, b_hh, g_c, b_c = p
    hid = w_hh.shape[1]
    a = x @ w_ih.T                                     # no bias: the LN biases take its place
    r = h @ w_hh.T
    la, a_hat, a_rstd = manual_layer_norm(a, g_ih, b_ih)
    lr, r_hat, r_rstd = manual_layer_norm(r, g_hh, b_hh)
    pre = la + lr
    i = manual_sigmoid(pre[:, 0 * hid:1 * hid])
    f = manual_sigmoid(pre[:, 1 * hid:2 * hid])
    gg = torch.tanh(pre[:, 2 * hid:3 * hid])
    o = manual_sigmoid(pre[:, 3 * hid:4 * hid])
    c2 = f * c + i * gg
    lc, c_hat, c_rstd = manual_layer_norm(c2, g_c, b_c)
    th = torch.tanh(lc)
    h2 = o * th
    cache = dict(x=x, h=h, c=c, a_hat=a_hat, a_rstd=a_rstd, r_hat=r_hat, r_rstd=r_rstd,
                 i=i, f=f, g=gg, o=o, c_hat=c_hat, c_rstd=c_rstd, th=th)
    return h2, c2, cache


def ln_params(P, prefix, sfx):
    return tuple(P[f"{prefix}{base}{sfx}"] for base in LN_PARAMETERS)


def manual_rnn(case: Case, P: Dict[str, torch.Tensor], prefix: str, x, lengths, h0=None, c0=None):
    """Explicit masked recurrence; returns out [N,T,H*dirs], h_n, c_n (PyTorch layout)."""
    n_b, t_total, _ = x.shape
    mask = (torch.arange(t_total).unsqueeze(0) < lengths.unsqueeze(1)).to(x.dtype)  # [N,T]
    hs, cs = [], []
    layer_in = x
    for layer in range(case.num_layers):
        dir_outs = []
        for d in range(case.dirs):
            sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
            if case.cell == "lstm_ln":
                lnp = ln_params(P, prefix, sfx)
            else:
                w_ih, w_hh = P[f"{prefix}weight_ih{sfx}"], P[f"{prefix}weight_hh{sfx}"]
                # bias=False: the cell adds nothing, as zeros would.
                zeros = torch.zeros(w_ih.shape[0])
                b_ih = P.get(f"{prefix}bias_ih{sfx}", zeros)
                b_hh = P.get(f"{prefix}bias_hh{sfx}", zeros)
                w_hr = P.get(f"{prefix}weight_hr{sfx}")
            idx = layer * case.dirs + d
            h = h0[idx] if h0 is not None else torch.zeros(n_b, case.state_size)
            c = c0[idx] if c0 is not None else torch.zeros(n_b, H)
            outs = [None] * t_total
            steps = range(t_total) if d == 0 else range(t_total - 1, -1, -1)
            for t in steps:
                m = mask[:, t:t + 1]
                if case.cell == "lstm_ln":
                    h2, c2, _ = ln_lstm_step(layer_in[:, t, :], h, c, lnp)
                else:
                    h2, c2 = cell_step(case.cell, layer_in[:, t, :], h, c, w_ih, w_hh, b_ih, b_hh, w_hr)
                h = m * h2 + (1 - m) * h        # padded steps leave the state untouched
                if c2 is not None:
                    c = m * c2 + (1 - m) * c
                outs[t] = m * h2                # padded outputs are zeros
            dir_outs.append(torch.stack(outs, dim=1))
            hs.append(h)
            cs.append(c)
        layer_in = torch.cat(dir_outs, dim=-1)
    c_n = torch.stack(cs) if case.cell in LSTM_LIKE else None
    return layer_in, torch.stack(hs), c_n


def manual_forward(case: Case, P, batch):
    def feats(x):
        if case.input_kind == "embedding":
            return P["embedding.weight"][x]
        if case.input_kind == "one_hot":
            return F.one_hot(x, ONE_HOT_VOCAB).to(torch.float64)
        return x

    def head(z):
        return z @ P["head.weight"].T + P["head.bias"]

    lengths = batch["lengths"]
    res = {}
    if case.topology == "many_to_many":
        out, h_n, c_n = manual_rnn(case, P, "rnn.", feats(batch["inputs"]), lengths)
        res["outputs"] = head(out)
    elif case.topology in ("many_to_one", "one_to_one"):
        x = feats(batch["inputs"])
        if case.topology == "one_to_one":
            x = x.unsqueeze(1)
        out, h_n, c_n = manual_rnn(case, P, "rnn.", x, lengths)
        res["outputs"] = head(out[torch.arange(x.shape[0]), lengths - 1])
    elif case.topology == "one_to_many":
        x = torch.cat([batch["inputs"].unsqueeze(1), batch["targets"][:, :-1, :]], dim=1)
        out, h_n, c_n = manual_rnn(case, P, "rnn.", x, lengths)
        res["outputs"] = head(out)
    else:
        _, eh, ec = manual_rnn(case, P, "encoder.", feats(batch["inputs"]), lengths)
        res["encoder_h_n"], res["encoder_c_n"] = eh, ec
        dx = batch["decoder_inputs"]
        out, h_n, c_n = manual_rnn(case, P, "rnn.", dx, torch.full((dx.shape[0],), dx.shape[1]), eh, ec)
        res["outputs"] = head(out)
    res["h_n"], res["c_n"] = h_n, c_n
    return res


def manual_loss(case: Case, outputs, batch):
    tg = batch["targets"]
    if case.loss == "cross_entropy":
        logits = outputs.reshape(-1, outputs.shape[-1])
        tgf = tg.reshape(-1)
        valid = tgf != -100
        logp = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
        picked = logp[torch.arange(logits.shape[0]), tgf.clamp(min=0)]
        return -(picked * valid).sum() / valid.sum()
    mask = valid_mask(case, batch)
    if mask is None:
        return ((outputs - tg) ** 2).mean()
    return (((outputs - tg) ** 2) * mask.unsqueeze(-1)).sum() / (mask.sum() * outputs.shape[-1])


def manual_grads(case, P, batch):
    Pg = {k: v.clone().requires_grad_(True) for k, v in P.items()}
    loss = manual_loss(case, manual_forward(case, Pg, batch)["outputs"], batch)
    gr = torch.autograd.grad(loss, list(Pg.values()))
    return loss.detach(), dict(zip(Pg.keys(), gr))


def manual_train(case, P0, batch, kind, md):
    P = {k: v.clone() for k, v in P0.items()}
    state: Dict[str, torch.Tensor] = {}
    for step in range(1, 4):
        _, g = manual_grads(case, P, batch)
        if kind == "sgd_clipped":
            max_norm = float(md["clip_norm"])
            total = math.sqrt(sum(float((v ** 2).sum()) for v in g.values()))
            coef = min(max_norm / (total + 1e-6), 1.0)   # torch adds 1e-6 to the norm
            g = {k: v * coef for k, v in g.items()}
        for k in P:
            if kind == "sgd":
                d = g[k] + float(md["sgd_weight_decay"]) * P[k]
                buf = d if step == 1 else float(md["sgd_momentum"]) * state[k] + d
                state[k] = buf
                P[k] = P[k] - float(md["sgd_lr"]) * buf
            elif kind == "sgd_clipped":
                P[k] = P[k] - float(md["sgd_clipped_lr"]) * g[k]
            else:
                b1, b2 = float(md["adam_beta1"]), float(md["adam_beta2"])
                d = g[k] + float(md["adam_weight_decay"]) * P[k]
                m = b1 * state.get("m." + k, torch.zeros_like(d)) + (1 - b1) * d
                v = b2 * state.get("v." + k, torch.zeros_like(d)) + (1 - b2) * d * d
                state["m." + k], state["v." + k] = m, v
                bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
                denom = v.sqrt() / math.sqrt(bc2) + float(md["adam_eps"])
                P[k] = P[k] - (float(md["adam_lr"]) / bc1) * m / denom
    return P


# ---------------------------------------------------------------------------
# lstm_ln: the hand-written backward pass of LAYER_NORM_LSTM.md, checked against autograd
# ---------------------------------------------------------------------------
def manual_layer_norm_backward(dy, x_hat, rstd, gamma):
    """dx = rstd * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)), dgamma, dbeta (batch-summed)."""
    dx_hat = dy * gamma
    dx = rstd * (dx_hat - dx_hat.mean(dim=-1, keepdim=True)
                 - x_hat * (dx_hat * x_hat).mean(dim=-1, keepdim=True))
    return dx, (dy * x_hat).sum(dim=0), dy.sum(dim=0)


def ln_lstm_step_backward(cache, dh2, dc2, p):
    """Given dL/dh' and dL/dc' (the latter from the next step only), returns
    dx, dh, dc (w.r.t. this step's inputs) and the 8 parameter gradients, in LN_PARAMETERS order."""
    w_ih, w_hh, g_ih, b_ih, g_hh, b_hh, g_c, b_c = p
    i, f, gg, o, th = cache["i"], cache["f"], cache["g"], cache["o"], cache["th"]
    d_o = dh2 * th
    d_lc = dh2 * o * (1 - th * th)
    d_c_ln, dg_c, db_c = manual_layer_norm_backward(d_lc, cache["c_hat"], cache["c_rstd"], g_c)
    dc = dc2 + d_c_ln                                  # total dL/dc_t
    d_i, d_f, d_g = dc * gg, dc * cache["c"], dc * i
    dc_prev = dc * f
    dpre = torch.cat([d_i * i * (1 - i), d_f * f * (1 - f), d_g * (1 - gg * gg), d_o * o * (1 - o)], dim=-1)
    da, dg_ih, db_ih = manual_layer_norm_backward(dpre, cache["a_hat"], cache["a_rstd"], g_ih)
    dr, dg_hh, db_hh = manual_layer_norm_backward(dpre, cache["r_hat"], cache["r_rstd"], g_hh)
    dw_ih = da.T @ cache["x"]
    dx = da @ w_ih
    dw_hh = dr.T @ cache["h"]
    dh_prev = dr @ w_hh
    return dx, dh_prev, dc_prev, (dw_ih, dw_hh, dg_ih, db_ih, dg_hh, db_hh, dg_c, db_c)


def ln_lstm_sequence_backward(p, x, lengths, h0, c0, d_out, dh_n, dc_n):
    """Masked forward over [N, T, In] (padded steps keep the state, output 0), then BPTT by hand."""
    n_b, t_total, _ = x.shape
    mask = (torch.arange(t_total).unsqueeze(0) < lengths.unsqueeze(1)).to(x.dtype).unsqueeze(-1)
    h, c, caches = h0, c0, []
    for t in range(t_total):
        h2, c2, cache = ln_lstm_step(x[:, t], h, c, p)
        caches.append(cache)
        m = mask[:, t]
        h, c = m * h2 + (1 - m) * h, m * c2 + (1 - m) * c
    grads = [torch.zeros_like(w) for w in p]
    dx = torch.zeros_like(x)
    dh, dc = dh_n.clone(), dc_n.clone()          # dL/d(state after step t)
    for t in range(t_total - 1, -1, -1):
        m = mask[:, t]
        # out_t = m * h'_t and state = m * (h', c') + (1 - m) * (h, c): split the incoming gradient.
        sdx, sdh, sdc, sg = ln_lstm_step_backward(caches[t], m * (dh + d_out[:, t]), m * dc, p)
        dx[:, t] = sdx
        dh = sdh + (1 - m) * dh
        dc = sdc + (1 - m) * dc
        for k in range(len(grads)):
            grads[k] = grads[k] + sg[k]
    return dx, dh, dc, grads


def check_ln_lstm_backward() -> float:
    """The hand-written lstm_ln backward pass against autograd, float64: one step (random
    dL/dh', dL/dc'), and a 6-step sequence with variable lengths and a non-zero initial state.
    Returns the largest error relative to each gradient's max-abs."""
    g = torch.Generator().manual_seed(zlib.crc32(b"lstm_ln backward check"))
    n_b, n_in, hid, t_total = 4, 5, 6, 6
    lengths = torch.tensor([6, 2, 5, 1])

    def rnd(*shape, lo=-1.0, hi=1.0):
        return torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo

    p = (rnd(4 * hid, n_in), rnd(4 * hid, hid), rnd(4 * hid, lo=0.5, hi=1.5), rnd(4 * hid, lo=-0.5, hi=0.5),
         rnd(4 * hid, lo=0.5, hi=1.5), rnd(4 * hid, lo=-0.5, hi=0.5), rnd(hid, lo=0.5, hi=1.5),
         rnd(hid, lo=-0.5, hi=0.5))
    x, h0, c0 = rnd(n_b, t_total, n_in), rnd(n_b, hid), rnd(n_b, hid)
    d_out, dh_n, dc_n = rnd(n_b, t_total, hid), rnd(n_b, hid), rnd(n_b, hid)
    worst = 0.0

    def compare(got, ref):
        nonlocal worst
        scale = max(float(ref.abs().max()), 1e-300)
        worst = max(worst, float((got - ref).abs().max()) / scale)

    # one step, the autograd reference through F.layer_norm (the fixture module's path)
    leaves = [t.clone().requires_grad_(True) for t in (x[:, 0], h0, c0) + p]
    xs, hs, cs, *pp = leaves
    mod = LayerNormLSTM(n_in, hid)
    for base, v in zip(LN_PARAMETERS, pp):
        setattr(mod, base + "_l0", nn.Parameter(v.detach().clone()))
    hh, cc = mod(xs.unsqueeze(1), (hs.unsqueeze(0), cs.unsqueeze(0)))[1]
    ((hh[0] * dh_n).sum() + (cc[0] * dc_n).sum()).backward()
    ref = [xs.grad, hs.grad, cs.grad] + [getattr(mod, base + "_l0").grad for base in LN_PARAMETERS]
    _, _, cache = ln_lstm_step(x[:, 0], h0, c0, p)
    dx, dh, dc, gp = ln_lstm_step_backward(cache, dh_n, dc_n, p)
    for got, r in zip([dx, dh, dc] + list(gp), ref):
        compare(got, r)

    # a sequence with padding: autograd through the explicit forward
    leaves = [t.clone().requires_grad_(True) for t in (x, h0, c0) + p]
    xs, hs, cs, *pp = leaves
    h, c, outs = hs, cs, []
    mask = (torch.arange(t_total).unsqueeze(0) < lengths.unsqueeze(1)).to(x.dtype).unsqueeze(-1)
    for t in range(t_total):
        h2, c2, _ = ln_lstm_step(xs[:, t], h, c, tuple(pp))
        m = mask[:, t]
        h, c = m * h2 + (1 - m) * h, m * c2 + (1 - m) * c
        outs.append(m * h2)
    loss = (torch.stack(outs, 1) * d_out).sum() + (h * dh_n).sum() + (c * dc_n).sum()
    ref = torch.autograd.grad(loss, leaves)
    dx, dh, dc, gp = ln_lstm_sequence_backward(p, x, lengths, h0, c0, d_out, dh_n, dc_n)
    for got, r in zip([dx, dh, dc] + list(gp), ref):
        compare(got, r)
    return worst


def load_file(path):
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        md = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return tensors, md


def as64(t):
    return t.to(torch.float64) if t.is_floating_point() else t


# Largest |got - ref| / max|ref| seen per check kind ("torch" / "manual"), over the run.
WORST: Dict[str, Tuple[float, str]] = {}


def close(name, got: torch.Tensor, ref: torch.Tensor, errors: List[str], rtol=1e-6):
    got, ref = as64(got), as64(ref)
    if got.shape != ref.shape:
        errors.append(f"{name}: shape {tuple(got.shape)} != {tuple(ref.shape)}")
        return
    scale = max(float(ref.abs().max()), 1e-30) if ref.numel() else 1.0
    err = (got - ref).abs()
    if err.numel():
        kind = name.split(".", 1)[0]
        rel = float(err.max()) / scale
        if rel > WORST.get(kind, (-1.0, ""))[0]:
            WORST[kind] = (rel, name)
    bad = err > rtol * ref.abs() + 1e-7 * scale
    if bool(bad.any()):
        errors.append(f"{name}: max abs err {float(err.max()):.3g} (scale {scale:.3g})")


def verify_file(case: Case, path: str) -> List[str]:
    errors: List[str] = []
    t, md = load_file(path)
    for k, v in t.items():
        if v.dtype not in (torch.float32, torch.int64):
            errors.append(f"{k}: dtype {v.dtype}")
    params = {k: as64(v) for k, v in t.items() if k.startswith(MODULE_PREFIXES)}
    batch = {k: as64(t[k]) for k in ("inputs", "targets", "lengths", "decoder_inputs") if k in t}

    # 1. PyTorch module accepts the parameters strictly and reproduces the stored values.
    model = Model(case)
    model.load_state_dict(params, strict=True)
    loss, res = loss_and_grads(model, batch)
    close("torch.loss", t["loss"], loss.detach().reshape(1), errors)
    close("torch.outputs", t["outputs"], res["outputs"].detach(), errors)
    for n, p in model.named_parameters():
        close("torch.grad." + n, t["grad." + n], p.grad, errors)
    if set(k[len("grad."):] for k in t if k.startswith("grad.")) != set(params):
        errors.append("grad.* keys do not match parameters")
    for pre in STATE_PREFIXES[1:]:
        if set(k[len(pre):] for k in t if k.startswith(pre)) != set(params):
            errors.append(f"{pre}* keys do not match parameters")

    # 2. Independent re-implementation of every formula.
    mres = manual_forward(case, params, batch)
    mloss, mg = manual_grads(case, params, batch)
    close("manual.loss", t["loss"], mloss.reshape(1), errors)
    close("manual.outputs", t["outputs"], mres["outputs"], errors)
    for k in ("h_n", "c_n", "encoder_h_n", "encoder_c_n"):
        if mres.get(k) is not None:
            if k not in t:
                errors.append(f"missing {k}")
            else:
                close("manual." + k, t[k], mres[k], errors)
        elif k in t:
            errors.append(f"unexpected {k}")
    for k, v in mg.items():
        close("manual.grad." + k, t["grad." + k], v, errors)
    gn = math.sqrt(sum(float((v ** 2).sum()) for v in mg.values()))
    close("manual.grad_norm", t["grad_norm"], torch.tensor([gn]), errors)
    cn = float(md["clip_norm"])
    if not (0.15 * gn < cn < 0.55 * gn):
        errors.append(f"clip_norm {cn} not about half of grad_norm {gn}")
    for kind in ("sgd", "sgd_clipped", "adam"):
        P = manual_train(case, params, batch, kind, md)
        for k, v in P.items():
            close(f"manual.{kind}.{k}", t[f"{kind}.{k}"], v, errors, rtol=1e-6)
    # padded many_to_many outputs equal head.bias exactly (zero rnn output)
    if case.topology == "many_to_many":
        L = t["lengths"]
        for n_i in range(L.shape[0]):
            for ti in range(int(L[n_i]), t["outputs"].shape[1]):
                if not torch.equal(t["outputs"][n_i, ti], t["head.bias"]):
                    errors.append(f"padded output [{n_i},{ti}] != head.bias")
    # metadata sanity
    required = ["cell", "input_size", "hidden_size", "num_layers", "bidirectional", "output_size",
                "topology", "loss", "input_kind", "sgd_lr", "sgd_momentum", "sgd_weight_decay",
                "sgd_steps", "adam_lr", "adam_beta1", "adam_beta2", "adam_eps", "adam_weight_decay",
                "adam_steps", "clip_norm"]
    for k in required:
        if k not in md:
            errors.append(f"metadata missing {k}")
    return errors


# ---------------------------------------------------------------------------
# Optional: how far a float32 computation lands from the float64 reference
# (run the same pipeline in float32 PyTorch) -- informs the Swift tolerances.
# ---------------------------------------------------------------------------
def f32_report(cases: List[Case]) -> None:
    worst: Dict[str, Tuple[float, str]] = {}

    def note(kind, got, ref, cname):
        got, ref = got.to(torch.float64), ref.to(torch.float64)
        scale = max(float(ref.abs().max()), 1e-30)
        elem = float(((got - ref).abs() / ref.abs().clamp(min=1e-30)).max())
        norm = float((got - ref).abs().max()) / scale
        for key, val in ((kind + " elementwise-rel", elem), (kind + " rel-to-maxabs", norm)):
            if val > worst.get(key, (-1.0, ""))[0]:
                worst[key] = (val, cname)

    for case in cases:
        t, md = load_file(os.path.join(GOLDEN, case.name + ".safetensors"))
        torch.set_default_dtype(torch.float32)
        try:
            model = Model(case).to(torch.float32)
            params = {k: v for k, v in t.items() if k.startswith(MODULE_PREFIXES)}
            model.load_state_dict(params, strict=True)
            batch = {k: t[k] for k in ("inputs", "targets", "lengths", "decoder_inputs") if k in t}
            # Model.features casts one-hot to float64; cast back for this run
            orig = model.features
            model.features = lambda x, _o=orig: _o(x).to(torch.float32)
            model.zero_grad()
            out = model(batch)["outputs"]
            loss = compute_loss(case, out, batch)
            loss.backward()
            note("outputs", out.detach(), t["outputs"], case.name)
            note("loss", loss.detach().reshape(1), t["loss"], case.name)
            for n, p in model.named_parameters():
                note("grad", p.grad, t["grad." + n], case.name)
            for kind in ("sgd", "sgd_clipped", "adam"):
                m2 = Model(case).to(torch.float32)
                m2.load_state_dict(params, strict=True)
                o2 = m2.features
                m2.features = lambda x, _o=o2: _o(x).to(torch.float32)
                if kind == "sgd":
                    opt = torch.optim.SGD(m2.parameters(), lr=SGD_LR, momentum=SGD_MOMENTUM,
                                          weight_decay=SGD_WEIGHT_DECAY, foreach=False)
                elif kind == "sgd_clipped":
                    opt = torch.optim.SGD(m2.parameters(), lr=CLIPPED_SGD_LR, foreach=False)
                else:
                    opt = torch.optim.Adam(m2.parameters(), lr=ADAM_LR, betas=(ADAM_BETA1, ADAM_BETA2),
                                           eps=ADAM_EPS, weight_decay=case.adam_weight_decay,
                                           foreach=False, fused=False)
                for _ in range(3):
                    opt.zero_grad()
                    compute_loss(case, m2(batch)["outputs"], batch).backward()
                    if kind == "sgd_clipped":
                        torch.nn.utils.clip_grad_norm_(m2.parameters(), float(md["clip_norm"]), foreach=False)
                    opt.step()
                for n, p in m2.named_parameters():
                    note(kind, p.detach(), t[f"{kind}.{n}"], case.name)
        finally:
            torch.set_default_dtype(torch.float64)
    print("float32 PyTorch vs stored float64 reference (worst case over all files):")
    for k in sorted(worst):
        v, cname = worst[k]
        print(f"  {k:32s} {v:.3e}  ({cname})")


# ---------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-verify", action="store_true", help="skip verification after writing")
    ap.add_argument("--verify-only", action="store_true", help="only verify existing files")
    ap.add_argument("--f32-report", action="store_true", help="report float32-vs-reference error")
    ap.add_argument("--only", default=None, help="substring filter on case names")
    args = ap.parse_args(argv)

    cases = all_cases()
    if args.only:
        cases = [c for c in cases if args.only in c.name]
    os.makedirs(GOLDEN, exist_ok=True)

    if not args.verify_only and not args.f32_report:
        for case in cases:
            tensors, md = generate_case(case)
            write_safetensors(os.path.join(GOLDEN, case.name + ".safetensors"), tensors, md)
        if not args.only:
            expected = {c.name + ".safetensors" for c in cases}
            for f in os.listdir(GOLDEN):
                if f.endswith(".safetensors") and f not in expected:
                    os.remove(os.path.join(GOLDEN, f))
            with open(os.path.join(GOLDEN, "MANIFEST.txt"), "w") as f:
                for c in sorted(cases, key=lambda c: c.name):
                    f.write(c.name + ".safetensors\n")
        print(f"wrote {len(cases)} fixtures to {os.path.relpath(GOLDEN)}")

    if args.f32_report:
        f32_report(cases)
        return 0

    if args.no_verify:
        return 0
    failed = 0
    bw = check_ln_lstm_backward()
    bw_ok = bw < 1e-10
    print(f"{'ok' if bw_ok else 'FAIL'}: lstm_ln hand-written backward pass vs autograd, max rel err {bw:.2e}")
    for case in cases:
        errs = verify_file(case, os.path.join(GOLDEN, case.name + ".safetensors"))
        if errs:
            failed += 1
            print(f"FAIL {case.name}")
            for e in errs[:20]:
                print("    " + e)
    for kind, (rel, name) in sorted(WORST.items()):
        print(f"  worst {kind} check: max|err|/max|ref| {rel:.2e} ({name})")
    print(f"verified {len(cases) - failed}/{len(cases)} fixtures")
    return 1 if failed or not bw_ok else 0


if __name__ == "__main__":
    sys.exit(main())
