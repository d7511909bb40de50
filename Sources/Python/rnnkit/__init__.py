"""RNNKit for Python: recurrent networks (LSTM, GRU, vanilla RNN) trained
on CPUs by RNNKit's C library, with NumPy arrays in and out.

- ``rnnkit.Model``: build, ``fit``, ``predict``, ``save``; weights under
  PyTorch's names (``state_dict``, ``load_state_dict``); ``rnnkit.load``.
- ``rnnkit.RNNClassifier``, ``rnnkit.RNNRegressor``: scikit-learn style
  estimators for ``[n, time, features]`` sequences.
- ``rnnkit.load_data``: UCR/UEA ``.ts`` and safetensors data sets as arrays.
- ``rnnkit.RNNKitError`` and its subclasses: the library's errors.

The library is the one bundled in ``rnnkit/_lib``, or the file named by the
environment variable ``RNNKIT_LIBRARY``.
"""

from ._native import library_version
from .data import Dataset, load_data
from .errors import (
    BufferTooSmallError,
    CancelledError,
    DataMismatchError,
    DivergedError,
    FileError,
    FormatError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NullPointerError,
    RNNKitError,
)
from .estimators import RNNClassifier, RNNRegressor
from .model import Model, load
from .training import Progress, TrainingSummary

__all__ = [
    "BufferTooSmallError",
    "CancelledError",
    "DataMismatchError",
    "Dataset",
    "DivergedError",
    "FileError",
    "FormatError",
    "InternalError",
    "InvalidArgumentError",
    "Model",
    "NotFoundError",
    "NullPointerError",
    "Progress",
    "RNNClassifier",
    "RNNKitError",
    "RNNRegressor",
    "TrainingSummary",
    "library_version",
    "load",
    "load_data",
]
