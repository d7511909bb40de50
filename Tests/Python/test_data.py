"""load_data: .ts and safetensors data sets as NumPy arrays."""

import numpy as np
import pytest

import rnnkit
from support import japanese_vowels, write_safetensors


def test_a_ts_file_reads_as_padded_sequences_with_lengths_and_class_names():
    train, _ = japanese_vowels()
    data = rnnkit.load_data(train)
    assert data.X.shape == (270, 26, 12) and data.X.dtype == np.float32
    assert data.y.shape == (270,) and data.y.dtype == np.int32
    assert data.lengths.dtype == np.int32 and data.lengths.min() >= 7 and data.lengths.max() == 26
    assert data.class_names == [str(number) for number in range(1, 10)]
    assert sorted(set(data.y.tolist())) == list(range(9))
    # Zero past each length.
    assert not data.X[np.arange(26)[None, :] >= data.lengths[:, None]].any()


@pytest.mark.parametrize(
    "targets",
    [
        np.array([0, 2, 1], np.int64),
        np.arange(12, dtype=np.int32).reshape(3, 4) % 3,
        np.ones((3, 2), np.float32),
        np.ones((3, 4, 2), np.float32),
    ],
)
def test_a_safetensors_data_set_reads_back_as_written(tmp_path, targets):
    inputs = np.random.default_rng(0).uniform(-1, 1, (3, 4, 5)).astype(np.float32)
    lengths = np.array([4, 2, 3], np.int64)
    path = tmp_path / "data.safetensors"
    write_safetensors(path, {"inputs": inputs, "targets": targets, "lengths": lengths})
    data = rnnkit.load_data(path)
    assert np.array_equal(data.X, inputs)
    assert np.array_equal(data.y, targets) and data.y.dtype == (np.int32 if targets.dtype.kind == "i" else np.float32)
    assert np.array_equal(data.lengths, lengths)
    assert data.class_names is None


def test_a_data_set_without_lengths_has_none(tmp_path):
    path = tmp_path / "data.safetensors"
    write_safetensors(path, {"inputs": np.zeros((2, 3, 1), np.float32), "targets": np.zeros(2, np.int32)})
    assert rnnkit.load_data(path).lengths is None


def test_a_malformed_ts_file_names_its_line(tmp_path):
    path = tmp_path / "bad.ts"
    path.write_text("@problemName bad\n@classLabel true a b\n@data\n1,2,3:a\n1,x,3:b\n")
    with pytest.raises(rnnkit.FormatError, match="bad.ts.*5"):
        rnnkit.load_data(path)
