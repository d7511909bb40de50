"""How arrays reach the library: without a copy when they can, by one clear rule when not."""

import numpy as np
import pytest

import rnnkit
from rnnkit._batches import ModelShape, as_float32, as_int32, prepare_batch


def test_c_contiguous_float32_and_int32_arrays_are_passed_as_they_are():
    features = np.zeros((2, 3, 4), np.float32)
    labels = np.zeros(2, np.int32)
    assert as_float32(features, "X") is features
    assert as_int32(labels, "y") is labels
    shape = ModelShape(topology="many_to_one", input="dense", input_size=4, embedding_size=0, output_size=3)
    batch = prepare_batch(shape, features, targets=labels)
    assert batch.struct.features_count == 24
    # The batch points into the caller's arrays themselves.
    assert np.ctypeslib.as_array(batch.struct.features, shape=(24,)).ctypes.data == features.ctypes.data
    assert np.ctypeslib.as_array(batch.struct.target_classes, shape=(2,)).ctypes.data == labels.ctypes.data


def test_other_layouts_and_dtypes_give_the_same_outputs():
    model = rnnkit.Model(cell="gru", input_size=4, hidden_size=8, output_size=2)
    X = np.random.default_rng(0).uniform(-1, 1, (5, 6, 4)).astype(np.float32)
    expected = model.predict(X)
    wide = np.zeros((5, 6, 8), np.float32)
    wide[:, :, ::2] = X
    for variant in (X.astype(np.float64), np.asfortranarray(X), wide[:, :, ::2], X.tolist()):
        assert np.array_equal(model.predict(variant), expected)
    lengths = [6, 5, 4, 3, 2]
    by_list = model.predict(X, lengths)
    for variant in (np.array(lengths, np.int64), np.array(lengths, np.float64), np.array(lengths, np.uint8)):
        assert np.array_equal(model.predict(X, variant), by_list)


def test_integers_must_be_whole_and_fit_int32():
    assert as_int32(np.array([1.0, 2.0]), "lengths").tolist() == [1, 2]
    with pytest.raises(rnnkit.DataMismatchError, match=r"lengths must hold whole numbers, got 2.5 at \(1,\)"):
        as_int32(np.array([1.0, 2.5]), "lengths")
    with pytest.raises(ValueError, match="whole numbers"):
        as_int32(np.array([np.nan]), "y")
    with pytest.raises(ValueError, match="outside int32's range"):
        as_int32(np.array([2**40]), "tokens")
    with pytest.raises(ValueError, match="must hold integers, got an array of dtype <U1"):
        as_int32(np.array(["a"]), "y")
    with pytest.raises(ValueError, match="must hold real numbers"):
        as_float32(np.array([1 + 2j]), "X")


def test_the_dtype_of_the_targets_chooses_the_loss():
    model = rnnkit.Model(cell="gru", input_size=4, hidden_size=8, output_size=3, topology="many_to_many")
    X = np.zeros((2, 5, 4), np.float32)
    model.fit(X, np.zeros((2, 5), np.int64), steps=1)  # class labels: cross-entropy
    model.fit(X, np.zeros((2, 5, 3), np.float32), steps=1)  # values: mean squared error
    with pytest.raises(rnnkit.DataMismatchError, match=r"y as float values must be \[2, 5, 3\].*got shape \[2, 5\]"):
        model.fit(X, np.zeros((2, 5), np.float32), steps=1)
