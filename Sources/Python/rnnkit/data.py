"""``rnnkit.load_data``: data set files read by the library into NumPy arrays."""

from __future__ import annotations

import ctypes
import os
from typing import NamedTuple

import numpy as np

from . import _native


class Dataset(NamedTuple):
    """A data set as arrays that ``Model.fit`` and the estimators take."""

    #: Features, float32 ``[N, T, input_size]``, zero past each length.
    X: np.ndarray
    #: Targets: int32 classes ``[N]`` or ``[N, T]``, or float32 values ``[N, O]`` or ``[N, T, O]``.
    y: np.ndarray
    #: int32 ``[N]`` valid steps of each sequence, or None when all have T.
    lengths: np.ndarray | None
    #: The names of the classes ``y`` numbers (``.ts`` files), else None.
    class_names: list[str] | None


def _copied(pointer, count: int, shape: tuple[int, ...]) -> np.ndarray:
    """A NumPy copy of ``count`` elements the library holds."""
    return np.ctypeslib.as_array(pointer, shape=(count,)).reshape(shape).copy()


def load_data(path: str | os.PathLike) -> Dataset:
    """Reads a data set file.

    - A UCR/UEA ``.ts`` classification file: ``y`` holds class indices in the
      order of its ``@classLabel`` line, named by ``class_names``; every case's
      length is in ``lengths``.
    - A safetensors file of ``inputs`` ``[N, T, I]``, ``targets`` and optional
      ``lengths`` (RNNKit's README describes it).

    Raises:
        FileError: The file cannot be read (an OSError).
        FormatError: It is not a data set (bad ``.ts`` syntax, a tensor
            missing or of the wrong shape), with the file, line or tensor at fault.
    """
    data = ctypes.c_void_p()
    _native.call("data_load", _native.path_bytes(path), ctypes.byref(data))
    try:
        info = _native.DataInfo()
        _native.call("data_get_info", data, ctypes.byref(info))
        batch = _native.Batch()
        _native.call("data_batch", data, ctypes.byref(batch))
        count, steps = info.count, info.time_steps
        X = _copied(batch.features, batch.features_count, (count, steps, info.input_size))
        target_shapes = {
            _native.TARGETS_CLASSES: (count,),
            _native.TARGETS_STEP_CLASSES: (count, steps),
            _native.TARGETS_VALUES: (count, info.target_size),
            _native.TARGETS_STEP_VALUES: (count, steps, info.target_size),
        }
        if info.targets in (_native.TARGETS_CLASSES, _native.TARGETS_STEP_CLASSES):
            y = _copied(batch.target_classes, batch.target_classes_count, target_shapes[info.targets])
        else:
            y = _copied(batch.target_values, batch.target_values_count, target_shapes[info.targets])
        lengths = _copied(batch.lengths, count, (count,)) if info.has_lengths else None
        class_names = []
        for index in range(info.class_count):
            name = ctypes.c_char_p()
            _native.call("data_class_name", data, index, ctypes.byref(name))
            class_names.append(name.value.decode("utf-8"))
    finally:
        _native.LIBRARY.rnnkit_data_free(data)
    return Dataset(X, y, lengths, class_names or None)
