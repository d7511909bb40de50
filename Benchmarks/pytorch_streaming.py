#!/usr/bin/env python3
"""PyTorch's side of `rnnkit-bench --streaming`: the character model
(nn.LSTM of 256 units over one-hot vectors of 65 characters, then a Linear
head) called once per step under torch.inference_mode, its state carried, at
1 and 8 streams. Prints microseconds per step, best of five rounds, as
rnnkit-bench does.

Usage: /tmp/torch-venv/bin/python Benchmarks/pytorch_streaming.py --threads 1 --seconds 2
"""
import argparse
import time

import torch


def measure(streams: int, seconds: float) -> float:
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(65, 256)
    head = torch.nn.Linear(256, 65)
    state = (torch.zeros(1, streams, 256), torch.zeros(1, streams, 256))
    tokens = torch.arange(streams) % 65
    with torch.inference_mode():
        def step(state):
            x = torch.nn.functional.one_hot(tokens, 65).float().unsqueeze(0)  # [1, streams, 65]
            out, state = lstm(x, state)
            head(out[0])
            return state

        for _ in range(200):
            state = step(state)
        best = float("inf")
        for _ in range(5):
            start, steps = time.perf_counter(), 0
            while time.perf_counter() - start < seconds / 5:
                for _ in range(50):
                    state = step(state)
                steps += 50
            best = min(best, (time.perf_counter() - start) / steps * 1e6)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=2.0)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    for streams in (1, 8):
        print(f"pytorch {torch.__version__} lstm 256 one-hot 65, {streams} streams, "
              f"{arguments.threads} threads: {measure(streams, arguments.seconds):.2f} us/step")


if __name__ == "__main__":
    main()
