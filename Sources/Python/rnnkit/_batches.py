"""NumPy arrays checked against a model's shapes and handed to the library
as an ``rnnkit_batch``.

Conversion rules, the same for every call:

- Floats (features, decoder inputs, target values): a C-contiguous, aligned
  float32 array is passed as it is, without a copy; anything else numeric is
  converted with ``np.require(x, np.float32, ["C_CONTIGUOUS", "ALIGNED"])``
  (float64, Fortran order, slices, lists, integers).
- Integers (tokens, class labels, lengths): converted to int32 the same way;
  floats are accepted only when every value is a whole number, and values
  outside int32's range are refused.
- Shapes are checked here, so that a wrong one is refused with a
  ``DataMismatchError`` (a ``ValueError``) naming it; element counts, token and
  label ranges and lengths are checked again by the library.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from . import _native
from .errors import DataMismatchError

PER_STEP_TOPOLOGIES = ("many_to_many", "one_to_many", "encoder_decoder")
VECTOR_INPUT_TOPOLOGIES = ("one_to_one", "one_to_many")

_INT32 = np.iinfo(np.int32)


def as_float32(values, name: str) -> np.ndarray:
    """``values`` as a C-contiguous float32 array, the array itself when it
    already is one."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise DataMismatchError(f"{name} must hold real numbers, got an array of dtype {array.dtype}")
    return np.require(array, np.float32, ["C_CONTIGUOUS", "ALIGNED"])


def as_int32(values, name: str) -> np.ndarray:
    """``values`` as a C-contiguous int32 array; refuses values that are not
    whole numbers in int32's range."""
    array = np.asarray(values)
    if array.dtype.kind == "f":
        whole = np.isfinite(array) & (np.floor(array) == array)
        if not whole.all():
            position = tuple(int(i) for i in np.argwhere(~whole)[0])
            raise DataMismatchError(f"{name} must hold whole numbers, got {array[position].item()!r} at {position}")
    elif array.dtype.kind not in "biu":
        raise DataMismatchError(f"{name} must hold integers, got an array of dtype {array.dtype}")
    if array.size and array.dtype.kind != "b":
        low, high = array.min(), array.max()
        if low < _INT32.min or high > _INT32.max:
            raise DataMismatchError(f"{name} holds {low if low < _INT32.min else high}, outside int32's range")
    return np.require(array, np.int32, ["C_CONTIGUOUS", "ALIGNED"])


@dataclass(frozen=True)
class ModelShape:
    """What a model reads and writes, from its configuration."""

    topology: str
    input: str
    input_size: int
    embedding_size: int
    output_size: int

    @property
    def reads_tokens(self) -> bool:
        return self.input != "dense"

    @property
    def reads_one_vector(self) -> bool:
        """One-to-one and one-to-many models read one step per sequence."""
        return self.topology in VECTOR_INPUT_TOPOLOGIES

    @property
    def outputs_per_step(self) -> bool:
        return self.topology in PER_STEP_TOPOLOGIES

    @property
    def step_width(self) -> int:
        """The width of what the recurrent layers read per step, which is
        also the width of an encoder-decoder's decoder inputs."""
        return {"dense": self.input_size, "embedding": self.embedding_size, "one_hot": self.input_size}[self.input]

    def input_shape_text(self) -> str:
        """The shape of X, for messages."""
        if self.reads_tokens:
            return "[N] tokens" if self.reads_one_vector else "[N, T] tokens"
        return f"[N, {self.input_size}]" if self.reads_one_vector else f"[N, T, {self.input_size}]"


def _shape_text(array: np.ndarray) -> str:
    return "[" + ", ".join(str(size) for size in array.shape) + "]"


@dataclass
class PreparedBatch:
    """An ``rnnkit_batch`` and the arrays it points into, which live as long as it."""

    struct: _native.Batch
    count: int
    time_steps: int
    decoder_time_steps: int
    arrays: list

    def pointer(self):
        return ctypes.byref(self.struct)


def prepare_batch(
    shape: ModelShape,
    inputs,
    lengths=None,
    targets=None,
    decoder_inputs=None,
    time_steps: int | None = None,
    role: str = "",
) -> PreparedBatch:
    """Checks and converts the arrays of one batch for a model of ``shape``.

    Args:
        shape: The model's shapes.
        inputs: X: ``[N, T, I]`` features or ``[N, T]`` tokens; one-to-one and
            one-to-many models read ``[N, I]`` or ``[N]``.
        lengths: ``[N]`` valid steps per sequence, or None.
        targets: y: integer classes (``[N]`` or ``[N, T]``) or float values
            (``[N, O]`` or ``[N, T, O]``), as the topology says; None to predict.
        decoder_inputs: ``[N, T', W]`` for encoder-decoder models.
        time_steps: The outputs of a one-to-many model when it predicts
            without targets.
        role: Prefix for messages (``"validation "``).
    """
    names = {key: role + key for key in ("X", "y", "lengths", "decoder_inputs")}
    arrays = []
    batch = _native.Batch()

    if shape.reads_tokens:
        tokens = as_int32(inputs, names["X"])
        expected_rank = 1 if shape.reads_one_vector else 2
        if tokens.ndim != expected_rank:
            raise DataMismatchError(
                f"{names['X']} must be {shape.input_shape_text()} for this {shape.topology} model on "
                f"{shape.input} tokens, got shape {_shape_text(tokens)}"
            )
        batch.tokens = tokens.ctypes.data_as(_native.int32_pointer)
        batch.tokens_count = tokens.size
        given = tokens
    else:
        features = as_float32(inputs, names["X"])
        expected_rank = 2 if shape.reads_one_vector else 3
        if features.ndim != expected_rank or features.shape[-1] != shape.input_size:
            raise DataMismatchError(
                f"{names['X']} must be {shape.input_shape_text()} for this {shape.topology} model, "
                f"got shape {_shape_text(features)}"
            )
        batch.features = features.ctypes.data_as(_native.float_pointer)
        batch.features_count = features.size
        given = features
    arrays.append(given)
    count = given.shape[0]

    decoder_steps = 0
    if shape.topology == "encoder_decoder":
        if decoder_inputs is None:
            raise DataMismatchError(
                f"an encoder_decoder model needs {names['decoder_inputs']} [N, T', {shape.step_width}]"
            )
        decoder = as_float32(decoder_inputs, names["decoder_inputs"])
        if decoder.ndim != 3 or decoder.shape[0] != count or decoder.shape[2] != shape.step_width:
            raise DataMismatchError(
                f"{names['decoder_inputs']} must be [{count}, T', {shape.step_width}], got shape {_shape_text(decoder)}"
            )
        decoder_steps = decoder.shape[1]
        batch.decoder_inputs = decoder.ctypes.data_as(_native.float_pointer)
        batch.decoder_inputs_count = decoder.size
        arrays.append(decoder)
    elif decoder_inputs is not None:
        raise DataMismatchError(
            f"{names['decoder_inputs']} apply to encoder_decoder models, this one is {shape.topology}"
        )

    if time_steps is not None and shape.topology != "one_to_many":
        raise DataMismatchError(f"time_steps applies to one_to_many models, this one is {shape.topology}")
    if shape.topology == "one_to_one":
        steps = 1
    elif shape.topology == "one_to_many":
        steps = time_steps
    else:
        steps = given.shape[1]

    if targets is not None:
        steps = _set_targets(batch, arrays, shape, targets, count, steps, decoder_steps, names["y"])
    if steps is None:
        raise DataMismatchError("a one_to_many model needs time_steps: how many outputs to produce")

    if lengths is not None:
        valid = as_int32(lengths, names["lengths"])
        if valid.shape != (count,):
            raise DataMismatchError(f"{names['lengths']} must be [{count}], got shape {_shape_text(valid)}")
        batch.lengths = valid.ctypes.data_as(_native.int32_pointer)
        arrays.append(valid)

    batch.count = count
    batch.time_steps = steps
    batch.decoder_time_steps = decoder_steps
    return PreparedBatch(batch, count, steps, decoder_steps, arrays)


def _set_targets(batch, arrays, shape: ModelShape, targets, count, steps, decoder_steps, name) -> int:
    """Points ``batch`` at the targets: integer arrays are classes
    (cross-entropy), float arrays values (mean squared error). Returns the
    time steps, which a one-to-many model takes from its targets."""
    array = np.asarray(targets)
    classes = array.dtype.kind in "biu"
    output_steps = decoder_steps if shape.topology == "encoder_decoder" else steps
    per_step = shape.outputs_per_step
    if classes:
        expected = [count, output_steps] if per_step else [count]
    else:
        expected = [count, output_steps, shape.output_size] if per_step else [count, shape.output_size]
    if shape.topology == "one_to_many" and output_steps is None and array.ndim == len(expected):
        # A one-to-many model produces as many steps as its targets have.
        output_steps = steps = array.shape[1]
        expected[1] = output_steps
    if list(array.shape) != expected:
        kind = "class labels (integers)" if classes else "float values"
        wanted = "[" + ", ".join("T" if size is None else str(size) for size in expected) + "]"
        raise DataMismatchError(
            f"{name} as {kind} must be {wanted} for this {shape.topology} model, got shape {_shape_text(array)}"
        )
    if classes:
        labels = as_int32(array, name)
        batch.target_classes = labels.ctypes.data_as(_native.int32_pointer)
        batch.target_classes_count = labels.size
        arrays.append(labels)
    else:
        values = as_float32(array, name)
        batch.target_values = values.ctypes.data_as(_native.float_pointer)
        batch.target_values_count = values.size
        arrays.append(values)
    return steps
