#!/usr/bin/env python3
"""The cost of the Python boundary: rnnkit.Model.fit against the Swift
trainer (rnnkit-bench) on the same shape and work, in alternating rounds.

Both train the bench's workload: many-to-many, no head, dense standard-normal
inputs [B, T, I], MSE against standard-normal targets [B, T, H], SGD lr 1e-3,
one mini-batch of B rows per step. rnnkit-bench times Trainer.step in a child
process; here `fit` runs the library's TrainingRun through the C interface,
timed by the wall clock around the whole call (the progress trampoline, the
copy of the data on entry and the trainer's allocation included). Rounds
alternate which side runs first, so that both see the same machine load.

Usage, with the package installed (Tests/python.sh makes .build-python-venv):
    swift build -c release --product rnnkit-bench
    .build-python-venv/bin/python Benchmarks/python_boundary.py --rounds 5 --seconds 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

import rnnkit

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CELLS = {"rnn": "rnn_tanh"}


def swift_throughput(bench, shape, threads, seconds):
    """rnnkit-bench's training sequences per second on `shape`."""
    command = [bench, "--shape", shape, "--threads", str(threads), "--min-time", str(seconds)]
    command += ["--peak-time", "0", "--no-inference", "--json"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])["seq_per_s"]


def python_throughput(model, inputs, targets, threads, steps):
    """Sequences per second of one `fit` of `steps` steps, by the wall clock,
    and as the run inside the library clocked itself."""
    start = time.perf_counter()
    summary = model.fit(
        inputs, targets, optimizer="sgd", lr=1e-3, batch_size=len(inputs), shuffle=False, steps=steps,
        threads=threads,
    )
    elapsed = time.perf_counter() - start
    return len(inputs) * steps / elapsed, summary.sequences_per_second


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="lstm:64:100:128:256:1", help="CELL:BATCH:SEQ:INPUT:HIDDEN:LAYERS")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3, help="timed seconds per side and round")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--bench", default=os.path.join(REPO, ".build", "release", "rnnkit-bench"))
    options = parser.parse_args()

    cell, batch, steps, features, hidden, layers = options.shape.split(":")
    batch, steps, features, hidden, layers = map(int, (batch, steps, features, hidden, layers))
    generator = np.random.default_rng(0)
    inputs = generator.standard_normal((batch, steps, features), dtype=np.float32)
    targets = generator.standard_normal((batch, steps, hidden), dtype=np.float32)
    model = rnnkit.Model(
        cell=CELLS.get(cell, cell), input_size=features, hidden_size=hidden, num_layers=layers,
        topology="many_to_many", head="identity",
    )
    # Warm-up, and the step count that fills the time asked for.
    rate, _ = python_throughput(model, inputs, targets, options.threads, 3)
    fit_steps = max(3, round(options.seconds * rate / batch))

    swift, python, inside = [], [], []
    for round_index in range(options.rounds):
        sides = ["swift", "python"] if round_index % 2 == 0 else ["python", "swift"]
        for side in sides:
            if side == "swift":
                swift.append(swift_throughput(options.bench, options.shape, options.threads, options.seconds))
            else:
                wall, clocked = python_throughput(model, inputs, targets, options.threads, fit_steps)
                python.append(wall)
                inside.append(clocked)
        print(
            f"round {round_index + 1}: swift {swift[-1]:.1f} seq/s, python fit {python[-1]:.1f} seq/s "
            f"(ratio {python[-1] / swift[-1]:.3f})",
            flush=True,
        )
    print(
        f"{options.shape}, {options.threads} threads, {options.rounds} rounds of {options.seconds:g} s: "
        f"median swift {statistics.median(swift):.1f} seq/s, python fit {statistics.median(python):.1f} seq/s "
        f"(run's own clock {statistics.median(inside):.1f}); "
        f"python/swift {statistics.median(python) / statistics.median(swift):.3f}, "
        f"median of per-round ratios {statistics.median(p / s for p, s in zip(python, swift)):.3f}"
    )


if __name__ == "__main__":
    sys.exit(main())
