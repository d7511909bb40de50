"""The C library through ctypes: where it is, its structs and prototypes,
and status codes turned into exceptions.

This module is the only one that declares C types; the others call
``LIBRARY.rnnkit_*`` through ``call``. ``ctypes.CDLL`` releases the GIL for
the duration of every foreign call, so long calls (training, prediction) let
other Python threads run.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from .errors import ERRORS_BY_STATUS, InternalError

# The header this package was written against (rnnkit.h's RNNKIT_VERSION).
HEADER_VERSION = (1, 0, 0)

LIBRARY_ENVIRONMENT_VARIABLE = "RNNKIT_LIBRARY"
BUNDLED_LIBRARY = Path(__file__).parent / "_lib" / "libRNNKitC.so"

# Enumerations, by the names Python callers use.
CELLS = {"lstm": 0, "gru": 1, "rnn_tanh": 2, "rnn_relu": 3, "lstm_ln": 4}
INPUTS = {"dense": 0, "embedding": 1, "one_hot": 2}
TOPOLOGIES = {
    "many_to_many": 0,
    "many_to_one": 1,
    "one_to_one": 2,
    "one_to_many": 3,
    "encoder_decoder": 4,
}
HEADS = {"linear": 0, "identity": 1}
OPTIMIZERS = {"adam": 0, "adamw": 1, "sgd": 2}
SCHEDULES = {"constant": 0, "step": 1, "cosine": 2, "plateau": 3}
CLIP_NONE, CLIP_NORM, CLIP_VALUE = 0, 1, 2
STOP_REASONS = {0: "budget_spent", 1: "early_stopping"}
TARGETS_CLASSES, TARGETS_STEP_CLASSES, TARGETS_VALUES, TARGETS_STEP_VALUES = 0, 1, 2, 3

OK = 0
ERROR_BUFFER_TOO_SMALL = 9

float_pointer = ctypes.POINTER(ctypes.c_float)
int32_pointer = ctypes.POINTER(ctypes.c_int32)
int64_pointer = ctypes.POINTER(ctypes.c_int64)


class ModelConfig(ctypes.Structure):
    """rnnkit_model_config"""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("cell", ctypes.c_int32),
        ("input", ctypes.c_int32),
        ("topology", ctypes.c_int32),
        ("input_size", ctypes.c_int64),
        ("embedding_size", ctypes.c_int64),
        ("hidden_size", ctypes.c_int64),
        ("num_layers", ctypes.c_int64),
        ("bidirectional", ctypes.c_int32),
        ("bias", ctypes.c_int32),
        ("head", ctypes.c_int32),
        ("output_size", ctypes.c_int64),
        ("vocabulary", ctypes.c_char_p),
        ("dropout", ctypes.c_float),
        ("proj_size", ctypes.c_int64),
    ]


class Batch(ctypes.Structure):
    """rnnkit_batch"""

    _fields_ = [
        ("count", ctypes.c_int64),
        ("time_steps", ctypes.c_int64),
        ("features", float_pointer),
        ("features_count", ctypes.c_int64),
        ("tokens", int32_pointer),
        ("tokens_count", ctypes.c_int64),
        ("lengths", int32_pointer),
        ("decoder_inputs", float_pointer),
        ("decoder_inputs_count", ctypes.c_int64),
        ("decoder_time_steps", ctypes.c_int64),
        ("target_values", float_pointer),
        ("target_values_count", ctypes.c_int64),
        ("target_classes", int32_pointer),
        ("target_classes_count", ctypes.c_int64),
    ]


class TrainingSettings(ctypes.Structure):
    """rnnkit_training_settings"""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("optimizer", ctypes.c_int32),
        ("learning_rate", ctypes.c_float),
        ("momentum", ctypes.c_float),
        ("beta1", ctypes.c_float),
        ("beta2", ctypes.c_float),
        ("epsilon", ctypes.c_float),
        ("weight_decay", ctypes.c_float),
        ("schedule", ctypes.c_int32),
        ("schedule_steps", ctypes.c_int64),
        ("schedule_warmup", ctypes.c_int64),
        ("schedule_factor", ctypes.c_double),
        ("schedule_patience", ctypes.c_int64),
        ("clipping", ctypes.c_int32),
        ("clip_limit", ctypes.c_float),
        ("threads", ctypes.c_int32),
        ("batch_size", ctypes.c_int64),
        ("accumulation", ctypes.c_int64),
        ("shuffle", ctypes.c_int32),
        ("seed", ctypes.c_uint64),
        ("steps", ctypes.c_int64),
        ("seconds", ctypes.c_double),
        ("averaging_share", ctypes.c_double),
        ("maximum_bad_steps", ctypes.c_int64),
        ("early_stopping_patience", ctypes.c_int64),
        ("restore_best", ctypes.c_int32),
        ("checkpoint_path", ctypes.c_char_p),
        ("checkpoint_every_steps", ctypes.c_int64),
        ("checkpoint_every_seconds", ctypes.c_double),
        ("resume", ctypes.c_int32),
    ]


class Progress(ctypes.Structure):
    """rnnkit_progress"""

    _fields_ = [
        ("step", ctypes.c_int64),
        ("total_steps", ctypes.c_int64),
        ("smoothed_loss", ctypes.c_double),
        ("validation_loss", ctypes.c_double),
        ("skipped_steps", ctypes.c_int64),
        ("sequences_per_second", ctypes.c_double),
        ("elapsed_seconds", ctypes.c_double),
        ("remaining_seconds", ctypes.c_double),
        ("is_final", ctypes.c_int32),
    ]


class Summary(ctypes.Structure):
    """rnnkit_summary"""

    _fields_ = [
        ("steps", ctypes.c_int64),
        ("final_loss", ctypes.c_double),
        ("final_gradient_norm", ctypes.c_double),
        ("skipped_steps", ctypes.c_int64),
        ("seconds", ctypes.c_double),
        ("steps_this_run", ctypes.c_int64),
        ("sequences_this_run", ctypes.c_int64),
        ("sequences_per_second", ctypes.c_double),
        ("stop_reason", ctypes.c_int32),
        ("best_step", ctypes.c_int64),
        ("best_validation_loss", ctypes.c_double),
    ]


class DataInfo(ctypes.Structure):
    """rnnkit_data_info"""

    _fields_ = [
        ("count", ctypes.c_int64),
        ("time_steps", ctypes.c_int64),
        ("input_size", ctypes.c_int64),
        ("has_lengths", ctypes.c_int32),
        ("targets", ctypes.c_int32),
        ("target_size", ctypes.c_int64),
        ("class_count", ctypes.c_int64),
    ]


PROGRESS_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.POINTER(Progress), ctypes.c_void_p)

_status = ctypes.c_int32
_handle = ctypes.c_void_p
_handle_out = ctypes.POINTER(ctypes.c_void_p)
_string_out = ctypes.POINTER(ctypes.c_char_p)

# name: (return type, argument types)
_PROTOTYPES = {
    "rnnkit_version": (ctypes.c_uint32, []),
    "rnnkit_last_error": (ctypes.c_char_p, []),
    "rnnkit_model_config_init": (None, [ctypes.POINTER(ModelConfig)]),
    "rnnkit_model_create": (_status, [ctypes.POINTER(ModelConfig), ctypes.c_uint64, _handle_out]),
    "rnnkit_model_load": (_status, [ctypes.c_char_p, _handle_out]),
    "rnnkit_model_save": (_status, [_handle, ctypes.c_char_p]),
    "rnnkit_model_free": (None, [_handle]),
    "rnnkit_model_get_config": (_status, [_handle, ctypes.POINTER(ModelConfig)]),
    "rnnkit_model_kernels": (_status, [_handle, _string_out]),
    "rnnkit_model_parameter_count": (_status, [_handle, int64_pointer, int64_pointer]),
    "rnnkit_model_parameter_name": (_status, [_handle, ctypes.c_int64, _string_out]),
    "rnnkit_model_parameter_shape": (
        _status,
        [_handle, ctypes.c_char_p, int64_pointer, ctypes.c_int32, int32_pointer],
    ),
    "rnnkit_model_get_parameter": (_status, [_handle, ctypes.c_char_p, float_pointer, ctypes.c_int64]),
    "rnnkit_model_set_parameter": (_status, [_handle, ctypes.c_char_p, float_pointer, ctypes.c_int64]),
    "rnnkit_model_output_counts": (
        _status,
        [_handle, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, int64_pointer, int64_pointer, int64_pointer],
    ),
    "rnnkit_model_predict": (
        _status,
        [
            _handle,
            ctypes.POINTER(Batch),
            ctypes.c_int32,
            float_pointer,
            ctypes.c_int64,
            float_pointer,
            ctypes.c_int64,
            float_pointer,
            ctypes.c_int64,
        ],
    ),
    "rnnkit_model_sample_text": (
        _status,
        [
            _handle,
            ctypes.c_char_p,
            ctypes.c_int64,
            ctypes.c_float,
            ctypes.c_int32,
            ctypes.c_uint64,
            ctypes.c_char_p,
            ctypes.c_int64,
            int64_pointer,
        ],
    ),
    "rnnkit_training_settings_init": (None, [ctypes.POINTER(TrainingSettings)]),
    "rnnkit_train": (
        _status,
        [
            _handle,
            ctypes.POINTER(TrainingSettings),
            ctypes.POINTER(Batch),
            ctypes.POINTER(Batch),
            PROGRESS_CALLBACK,
            ctypes.c_void_p,
            ctypes.POINTER(Summary),
        ],
    ),
    "rnnkit_data_load": (_status, [ctypes.c_char_p, _handle_out]),
    "rnnkit_data_get_info": (_status, [_handle, ctypes.POINTER(DataInfo)]),
    "rnnkit_data_batch": (_status, [_handle, ctypes.POINTER(Batch)]),
    "rnnkit_data_class_name": (_status, [_handle, ctypes.c_int64, _string_out]),
    "rnnkit_data_free": (None, [_handle]),
}


def _load_library() -> ctypes.CDLL:
    """Opens the library named by RNNKIT_LIBRARY, else the bundled one, and
    checks that its major version is the header's."""
    configured = os.environ.get(LIBRARY_ENVIRONMENT_VARIABLE)
    path = Path(configured) if configured else BUNDLED_LIBRARY
    if not path.is_file():
        where = f"{LIBRARY_ENVIRONMENT_VARIABLE}={configured}" if configured else "the bundled library"
        raise ImportError(
            f"rnnkit cannot find its C library: {where} ({path}) is not a file. "
            f"Install the package with `pip install Sources/Python` from an RNNKit clone, "
            f"or point {LIBRARY_ENVIRONMENT_VARIABLE} at a libRNNKitC.so built by "
            f"`swift build -c release --product RNNKitC`."
        )
    try:
        library = ctypes.CDLL(str(path))
    except OSError as error:
        raise ImportError(f"rnnkit cannot load its C library {path}: {error}") from error
    for name, (result, arguments) in _PROTOTYPES.items():
        try:
            function = getattr(library, name)
        except AttributeError as error:
            raise ImportError(f"{path} is not RNNKit's C library: it has no function {name}") from error
        function.restype = result
        function.argtypes = arguments
    version = library.rnnkit_version()
    found = (version // 10000, version // 100 % 100, version % 100)
    if found[0] != HEADER_VERSION[0] or found[1] < HEADER_VERSION[1]:
        raise ImportError(
            f"{path} is RNNKit's C library version {'.'.join(map(str, found))}; this package needs "
            f"{HEADER_VERSION[0]}.x with x >= {HEADER_VERSION[1]}"
        )
    return library


LIBRARY = _load_library()


def library_version() -> tuple[int, int, int]:
    """The C library's version as (major, minor, patch)."""
    version = LIBRARY.rnnkit_version()
    return (version // 10000, version // 100 % 100, version % 100)


def raise_for(status: int) -> None:
    """Raises the exception for a status other than RNNKIT_OK, with the
    library's message for the last error on this thread."""
    if status == OK:
        return
    message = (LIBRARY.rnnkit_last_error() or b"").decode("utf-8", errors="replace")
    error = ERRORS_BY_STATUS.get(status)
    if error is None:
        raise InternalError(f"status {status}: {message}")
    raise error(message)


def call(name: str, *arguments) -> None:
    """Calls ``rnnkit_<name>`` and raises its error, if any."""
    raise_for(getattr(LIBRARY, "rnnkit_" + name)(*arguments))


def path_bytes(path: str | os.PathLike) -> bytes:
    """A file path as the library takes it (bytes in the file system's encoding)."""
    return os.fsencode(path)
