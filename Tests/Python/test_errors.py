"""Errors: Python exceptions of RNNKit's classes, with RNNKit's messages."""

import os
import subprocess
import sys

import numpy as np
import pytest

import rnnkit


@pytest.fixture
def model():
    return rnnkit.Model(cell="lstm", input_size=4, hidden_size=8, output_size=2)


def test_a_wrong_shape_is_a_value_error_naming_it(model):
    with pytest.raises(rnnkit.DataMismatchError, match=r"X must be \[N, T, 4\].*got shape \[3, 6, 5\]") as raised:
        model.predict(np.zeros((3, 6, 5)))
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, rnnkit.RNNKitError)
    with pytest.raises(ValueError, match=r"got shape \[6, 4\]"):
        model.predict(np.zeros((6, 4)))
    with pytest.raises(ValueError, match=r"lengths must be \[3\], got shape \[2\]"):
        model.predict(np.zeros((3, 6, 4)), lengths=[1, 2])
    with pytest.raises(ValueError, match=r"y as class labels \(integers\) must be \[3\]"):
        model.fit(np.zeros((3, 6, 4)), np.zeros((4,), int))


def test_the_librarys_checks_arrive_with_its_message(model):
    with pytest.raises(rnnkit.DataMismatchError, match=r"sequence 1 has length 9, expected 1...6"):
        model.predict(np.zeros((3, 6, 4)), lengths=[6, 9, 2])
    with pytest.raises(rnnkit.DataMismatchError, match=r"class label 5"):
        model.fit(np.zeros((3, 6, 4)), np.array([0, 1, 5]))


def test_bad_settings_are_invalid_arguments(model):
    X, y = np.zeros((4, 6, 4)), np.zeros(4, int)
    with pytest.raises(rnnkit.InvalidArgumentError, match="learning rate") as raised:
        model.fit(X, y, lr=-1)
    assert isinstance(raised.value, ValueError)
    with pytest.raises(rnnkit.InvalidArgumentError, match="optimizer must be 'adam', 'adamw' or 'sgd', got 'rmsprop'"):
        model.fit(X, y, optimizer="rmsprop")
    with pytest.raises(ValueError, match="momentum applies to optimizer='sgd'"):
        model.fit(X, y, momentum=0.9)
    with pytest.raises(ValueError, match="give clip_norm or clip_value, not both"):
        model.fit(X, y, clip_norm=1, clip_value=1)
    with pytest.raises(ValueError, match="schedule_warmup applies to schedule='cosine'"):
        model.fit(X, y, schedule_warmup=5)
    with pytest.raises(ValueError, match="batch_size is 0, expected 1"):
        model.fit(X, y, batch_size=0)


def test_a_configuration_no_model_can_have_is_refused():
    with pytest.raises(rnnkit.InvalidArgumentError, match="hidden"):
        rnnkit.Model(cell="gru", input_size=4, hidden_size=0, output_size=2)
    with pytest.raises(ValueError, match="cell must be one of 'lstm', 'gru', 'rnn_tanh', 'rnn_relu', 'lstm_ln'"):
        rnnkit.Model(cell="transformer", input_size=4, hidden_size=8, output_size=2)
    with pytest.raises(ValueError, match="output_size is required"):
        rnnkit.Model(input_size=4, hidden_size=8)


def test_files_that_are_missing_or_not_models(tmp_path):
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(rnnkit.FileError, match="missing.safetensors") as raised:
        rnnkit.load(missing)
    assert isinstance(raised.value, OSError)
    with pytest.raises(OSError, match="missing.ts"):
        rnnkit.load_data(tmp_path / "missing.ts")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\xff" * 64)
    with pytest.raises(rnnkit.FormatError, match="garbage.safetensors"):
        rnnkit.load(garbage)
    model = rnnkit.Model(input_size=2, hidden_size=3, output_size=1)
    with pytest.raises(rnnkit.FileError):
        model.save(tmp_path / "no such folder" / "model.safetensors")


def test_a_missing_library_is_a_clear_import_error(tmp_path):
    absent = tmp_path / "libRNNKitC.so"
    environment = dict(os.environ, RNNKIT_LIBRARY=str(absent))
    result = subprocess.run([sys.executable, "-c", "import rnnkit"], env=environment, capture_output=True, text=True)
    assert result.returncode != 0
    assert f"ImportError: rnnkit cannot find its C library: RNNKIT_LIBRARY={absent}" in result.stderr
