"""The exceptions RNNKit raises: one class per status code of the C library.

Every error the library reports becomes an instance of the class for its
status code, carrying the library's message (``rnnkit_last_error()``). The
classes also derive from the built-in exception a Python caller would expect
(``ValueError`` for bad arguments and data, ``OSError`` for files,
``KeyError`` for a missing name), so ``except ValueError`` catches a badly
shaped array whether NumPy, this package or the library noticed it.
"""

from __future__ import annotations


class RNNKitError(Exception):
    """Base class of every error RNNKit reports.

    ``status`` is the C library's status code (``RNNKIT_ERROR_*``).
    """

    status = 10

    def __str__(self) -> str:
        # KeyError and OSError would otherwise show the message quoted or as a tuple.
        return str(self.args[0]) if self.args else ""


class NullPointerError(RNNKitError):
    """A pointer the call needs was NULL (a bug in this package if it happens)."""

    status = 1


class InvalidArgumentError(RNNKitError, ValueError):
    """A setting or configuration value that no model or run can use."""

    status = 2


class DataMismatchError(RNNKitError, ValueError):
    """Data that does not fit the model or the call: a wrong shape, a token
    outside the vocabulary, a length out of range."""

    status = 3


class FileError(RNNKitError, OSError):
    """A file that cannot be read or written."""

    status = 4


class FormatError(RNNKitError, ValueError):
    """A file that was read but is not what it should be (not safetensors, a
    tensor missing or of the wrong shape, bad metadata, bad ``.ts`` syntax)."""

    status = 5


class NotFoundError(RNNKitError, KeyError):
    """No parameter of that name, or an index past the end."""

    status = 6


class DivergedError(RNNKitError, ArithmeticError):
    """Training left the finite numbers (too many non-finite steps in a row).

    The model keeps the last finite weights.
    """

    status = 7


class CancelledError(RNNKitError):
    """A training run was stopped before its budget was spent; the model
    holds the weights of the last step."""

    status = 8


class BufferTooSmallError(RNNKitError):
    """An output buffer was too small (handled inside this package)."""

    status = 9


class InternalError(RNNKitError):
    """The processor lacks what the library needs, or anything else."""

    status = 10


ERRORS_BY_STATUS = {
    error.status: error
    for error in (
        NullPointerError,
        InvalidArgumentError,
        DataMismatchError,
        FileError,
        FormatError,
        NotFoundError,
        DivergedError,
        CancelledError,
        BufferTooSmallError,
        InternalError,
    )
}
