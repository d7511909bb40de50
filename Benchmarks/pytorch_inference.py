#!/usr/bin/env python3
"""PyTorch's side of RNNKit's inference timing: the anchor's models
(../shared/anchors/pytorch_rnn_bench.py: a bare nn.RNN/LSTM/GRU on dense
inputs [T, B, I]) run forward only, under torch.inference_mode, timed as
rnnkit-bench times a reused Predictor: 3 warm-up passes, then passes until
--min-time seconds and at least 3 have run; their mean. Prints one JSON line
per shape.

Usage: /tmp/torch-venv/bin/python Benchmarks/pytorch_inference.py --threads 1 --shape lstm:64:100:128:256:1
"""
import argparse
import json
import time

import torch

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def forward_flops(cell, batch, steps, inputs, hidden, layers):
    """Σ_layers 2·B·T·G·H·(in + H), rnnkit-bench's inference count."""
    total = 0
    for layer in range(layers):
        width = inputs if layer == 0 else hidden
        total += 2 * batch * steps * GATES[cell] * hidden * (width + hidden)
    return total


def measure(spec, min_time):
    cell, batch, steps, inputs, hidden, layers = spec.split(":")
    cell = cell.replace("rnn_tanh", "rnn")
    batch, steps, inputs, hidden, layers = map(int, (batch, steps, inputs, hidden, layers))
    torch.manual_seed(0)
    model = MODULES[cell](inputs, hidden, num_layers=layers)
    x = torch.randn(steps, batch, inputs)
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        runs, start = 0, time.perf_counter()
        while True:
            model(x)
            runs += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time and runs >= 3:
                break
    per_run = elapsed / runs
    return {"anchor": "pytorch-inference", "version": torch.__version__, "shape": spec,
            "threads": torch.get_num_threads(), "run_ms": round(per_run * 1e3, 3),
            "seq_per_s": round(batch / per_run, 1),
            "gflops": round(forward_flops(cell, batch, steps, inputs, hidden, layers) / per_run / 1e9, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    parser.add_argument("--shape", action="append", required=True,
                        help="CELL:BATCH:SEQ:INPUT:HIDDEN:LAYERS (repeatable), e.g. lstm:64:100:128:256:1")
    parser.add_argument("--min-time", type=float, default=2.0, help="timed seconds per shape (default 2)")
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    for spec in arguments.shape:
        print(json.dumps(measure(spec, arguments.min_time)), flush=True)


if __name__ == "__main__":
    main()
