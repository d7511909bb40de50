"""The same weights, bit for bit, as the command line for the same seed, data and settings."""

import subprocess

import numpy as np
import pytest

import rnnkit
from support import tool, write_safetensors

COUNT, STEPS, FEATURES, SEED = 50, 12, 3, 7

# (model, targets, command-line options, the same as fit's keyword arguments)
CASES = {
    "lstm classifier, adam": (
        dict(cell="lstm", hidden_size=24),
        "classes",
        [],
        {},
    ),
    "bidirectional 2-layer gru, per-step values, adamw cosine warm-up, clipped norm": (
        dict(cell="gru", hidden_size=16, num_layers=2, bidirectional=True),
        "step values",
        ["--optimizer", "adamw", "--lr", "0.003", "--schedule", "cosine", "--warmup", "5", "--clip", "1"],
        dict(optimizer="adamw", lr=0.003, schedule="cosine", schedule_warmup=5, clip_norm=1),
    ),
    "rnn_tanh, sgd with momentum, clipped values, in order": (
        dict(cell="rnn_tanh", hidden_size=20),
        "values",
        ["--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9", "--clip-value", "0.5", "--no-shuffle"],
        dict(optimizer="sgd", lr=0.05, momentum=0.9, clip_value=0.5, shuffle=False),
    ),
    "rnn_relu without biases, step schedule": (
        dict(cell="rnn_relu", hidden_size=20, bias=False),
        "step classes",
        ["--no-bias", "--schedule", "step", "--step-size", "10", "--gamma", "0.5", "--weight-decay", "0.01"],
        dict(schedule="step", schedule_steps=10, schedule_factor=0.5, weight_decay=0.01),
    ),
    "3-layer lstm with dropout, accumulated batches": (
        dict(cell="lstm", hidden_size=12, num_layers=3, dropout=0.4),
        "step values",
        ["--dropout", "0.4", "--batch", "8", "--accumulate", "2"],
        dict(batch_size=8, accumulation=2),
    ),
    "layer-normalised lstm, accumulated batches": (
        dict(cell="lstm_ln", hidden_size=16),
        "classes",
        ["--batch", "8", "--accumulate", "2"],
        dict(batch_size=8, accumulation=2),
    ),
}


def data_set(kind):
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(COUNT, STEPS, FEATURES)).astype(np.float32)
    lengths = rng.integers(2, STEPS + 1, COUNT)
    inputs[np.arange(STEPS)[None, :] >= lengths[:, None]] = 0
    targets = {
        "classes": np.arange(COUNT) % 4,
        "step classes": rng.integers(0, 3, (COUNT, STEPS)),
        "values": rng.normal(size=(COUNT, 2)).astype(np.float32),
        "step values": rng.normal(size=(COUNT, STEPS, 2)).astype(np.float32),
    }[kind]
    return inputs, targets, lengths


@pytest.mark.parametrize("case", CASES)
def test_fit_trains_the_bits_of_rnnkit_train(tmp_path, case):
    model_options, kind, options, settings = CASES[case]
    inputs, targets, lengths = data_set(kind)
    data = tmp_path / "data.safetensors"
    write_safetensors(data, {"inputs": inputs, "targets": targets, "lengths": lengths})
    reference = tmp_path / "reference.safetensors"
    command = [
        str(tool()),
        "train",
        "--data",
        str(data),
        "--out",
        str(reference),
        "--no-plot",
        "--json",
        "--steps",
        "30",
        "--seed",
        str(SEED),
        "--cell",
        model_options["cell"],
        "--hidden",
        str(model_options["hidden_size"]),
        "--layers",
        str(model_options.get("num_layers", 1)),
    ]
    command += ["--bidirectional"] if model_options.get("bidirectional") else []
    command += [] if "--batch" in options else ["--batch", "16"]
    subprocess.run(command + options, check=True, capture_output=True)

    per_step = kind.startswith("step")
    model = rnnkit.Model(
        **model_options,
        input_size=FEATURES,
        output_size=2 if "values" in kind else int(targets.max()) + 1,
        topology="many_to_many" if per_step else "many_to_one",
        seed=SEED,
    )
    model.fit(inputs, targets, lengths, **{"steps": 30, "batch_size": 16, "seed": SEED, **settings})
    expected, trained = rnnkit.load(reference).state_dict(), model.state_dict()
    assert list(trained) == list(expected)
    for name in expected:
        assert np.array_equal(trained[name].view(np.uint32), expected[name].view(np.uint32)), name
