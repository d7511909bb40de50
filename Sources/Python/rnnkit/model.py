"""``rnnkit.Model``: a recurrent network held by the C library."""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import weakref
from collections import OrderedDict

import numpy as np

from . import _native
from ._batches import ModelShape, as_float32, prepare_batch
from .errors import DataMismatchError, InvalidArgumentError, NotFoundError
from .training import TrainingSummary, run_training, training_settings

_MAXIMUM_RANK = 8


def _choice(table: dict, value: str, name: str) -> int:
    try:
        return table[value]
    except (KeyError, TypeError):
        raise InvalidArgumentError(
            f"{name} must be one of {', '.join(repr(key) for key in table)}, got {value!r}"
        ) from None


def _name_of(table: dict, code: int) -> str:
    return next(name for name, value in table.items() if value == code)


class _Handle:
    """Owns an ``rnnkit_model *``: frees it with the Python object, and
    keeps two threads from using it at once, as the library requires."""

    def __init__(self, pointer: ctypes.c_void_p):
        self.pointer = pointer
        self._lock = threading.Lock()
        self._user = None
        weakref.finalize(self, _native.LIBRARY.rnnkit_model_free, pointer)

    @contextlib.contextmanager
    def use(self):
        """Holds the model for one call; a call from the thread already
        inside one (a progress callback using the model being trained) is
        refused rather than left to deadlock."""
        if self._user == threading.get_ident():
            raise RuntimeError(
                "this model is busy on this thread: a progress callback cannot use the model that is training"
            )
        with self._lock:
            self._user = threading.get_ident()
            try:
                yield self.pointer
            finally:
                self._user = None


class Model:
    """A recurrent network (LSTM, GRU, vanilla RNN) with a linear head,
    trained and run on CPUs by RNNKit's C library.

    The vocabulary is PyTorch's: the cells compute exactly ``torch.nn.LSTM``,
    ``torch.nn.GRU`` and ``torch.nn.RNN`` with ``batch_first=True``, a fresh
    model is initialised like them (U(-1/sqrt(H), 1/sqrt(H)), drawn from
    ``seed``), and ``state_dict()`` names the weights as a module with
    attributes ``rnn`` (the recurrent layers), ``head`` (``torch.nn.Linear``)
    and ``embedding`` (``torch.nn.Embedding``) would.

    Arrays are batch first: features ``[N, T, input_size]`` (or token ids
    ``[N, T]``), with optional ``lengths`` ``[N]`` marking each sequence's
    valid steps; steps past a length are padding that changes nothing.

    Long calls release the GIL. A model serves one call at a time: a call
    from another thread waits until the current one (a ``fit``, say) returns.
    Separate models train and predict concurrently.

    Example::

        model = rnnkit.Model(cell="gru", input_size=8, hidden_size=32, output_size=3)
        model.fit(X, labels, lengths, steps=200)      # X [N, T, 8], labels [N] in 0..2
        logits = model.predict(X, lengths)           # [N, 3]

    Args:
        cell: ``"lstm"``, ``"gru"``, ``"rnn_tanh"``, ``"rnn_relu"`` or
            ``"lstm_ln"`` (the layer-normalised LSTM).
        input_size: Features per step; for token inputs the vocabulary size,
            by default ``len(vocabulary)``. That counts code points: give it
            when a character of the vocabulary is several (``"\\r\\n"``, a
            letter and a combining accent).
        hidden_size: Units per layer and direction.
        output_size: Outputs of the linear head: values to regress or classes
            to score. With ``head="identity"`` it is ``hidden_size`` times the
            directions, and may be left out.
        num_layers: Stacked recurrent layers.
        bidirectional: Run every layer in both directions.
        topology: ``"many_to_one"`` (an output per sequence, at its last valid
            step), ``"many_to_many"`` (an output per step), ``"one_to_one"``,
            ``"one_to_many"`` (one vector in, a sequence out) or
            ``"encoder_decoder"``.
        bias: PyTorch's ``bias=``: False leaves out ``bias_ih`` and ``bias_hh``.
        dropout: PyTorch's ``dropout=``: in training, each output of every
            layer but the last is zeroed with this probability (the masks
            come from ``fit``'s seed); predictions use every output.
        proj_size: PyTorch's ``proj_size`` (LSTM only): each layer's hidden
            state is projected to this width, so outputs and ``h_n`` are this
            wide and ``c_n`` keeps ``hidden_size``; 0 is none.
        head: ``"linear"`` or ``"identity"`` (the top layer's outputs as they are).
        input: ``"dense"`` float features, or token ids looked up in an
            ``"embedding"`` of ``embedding_size`` or fed ``"one_hot"``.
        embedding_size: The embedding's width, for ``input="embedding"``.
        vocabulary: For character models: a string whose characters (extended
            grapheme clusters) are the tokens 0, 1, ...; ``sample_text`` uses it.
        seed: The seed of the initial weights.

    Raises:
        InvalidArgumentError: A configuration no model can have.
    """

    def __init__(
        self,
        *,
        cell: str = "lstm",
        input_size: int | None = None,
        hidden_size: int,
        output_size: int | None = None,
        num_layers: int = 1,
        bidirectional: bool = False,
        topology: str = "many_to_one",
        bias: bool = True,
        dropout: float = 0.0,
        proj_size: int = 0,
        head: str = "linear",
        input: str = "dense",
        embedding_size: int = 0,
        vocabulary: str | None = None,
        seed: int = 0,
    ):
        if input_size is None:
            if not vocabulary or input == "dense":
                raise InvalidArgumentError("input_size is required (the features per step, or the vocabulary size)")
            input_size = 0  # the library counts the vocabulary's characters as its tokenizer does
        if output_size is None:
            if head != "identity":
                raise InvalidArgumentError("output_size is required for a model with a linear head")
            output_size = (proj_size or hidden_size) * (2 if bidirectional else 1)
        config = _native.ModelConfig()
        _native.LIBRARY.rnnkit_model_config_init(ctypes.byref(config))
        config.cell = _choice(_native.CELLS, cell, "cell")
        config.input = _choice(_native.INPUTS, input, "input")
        config.topology = _choice(_native.TOPOLOGIES, topology, "topology")
        config.head = _choice(_native.HEADS, head, "head")
        config.input_size = input_size
        config.embedding_size = embedding_size
        config.hidden_size = hidden_size
        config.num_layers = num_layers
        config.bidirectional = bool(bidirectional)
        config.bias = bool(bias)
        config.dropout = dropout
        config.proj_size = proj_size
        config.output_size = output_size
        config.vocabulary = vocabulary.encode("utf-8") if vocabulary else None
        pointer = ctypes.c_void_p()
        _native.call("model_create", ctypes.byref(config), seed, ctypes.byref(pointer))
        self._adopt(pointer)

    @classmethod
    def _from_pointer(cls, pointer: ctypes.c_void_p) -> Model:
        model = cls.__new__(cls)
        model._adopt(pointer)
        return model

    def _adopt(self, pointer: ctypes.c_void_p) -> None:
        """Takes ownership of a model the library made, and reads its configuration once."""
        self._handle = _Handle(pointer)
        config = _native.ModelConfig()
        _native.LIBRARY.rnnkit_model_config_init(ctypes.byref(config))
        with self._handle.use() as handle:
            _native.call("model_get_config", handle, ctypes.byref(config))
        self._config = {
            "cell": _name_of(_native.CELLS, config.cell),
            "input_size": config.input_size,
            "hidden_size": config.hidden_size,
            "output_size": config.output_size,
            "num_layers": config.num_layers,
            "bidirectional": bool(config.bidirectional),
            "topology": _name_of(_native.TOPOLOGIES, config.topology),
            "bias": bool(config.bias),
            "dropout": config.dropout,
            "proj_size": config.proj_size,
            "head": _name_of(_native.HEADS, config.head),
            "input": _name_of(_native.INPUTS, config.input),
            "embedding_size": config.embedding_size,
            "vocabulary": (config.vocabulary or b"").decode("utf-8") or None,
        }
        self._shape = ModelShape(
            topology=self._config["topology"],
            input=self._config["input"],
            input_size=config.input_size,
            embedding_size=config.embedding_size,
            output_size=config.output_size,
        )

    # MARK: Description

    @property
    def config(self) -> dict:
        """The configuration as the constructor's keyword arguments:
        ``rnnkit.Model(**model.config)`` makes a fresh model of the same shape."""
        return dict(self._config)

    @property
    def parameters(self) -> OrderedDict:
        """Each parameter tensor's shape, by PyTorch name, in the library's order."""
        with self._handle.use() as handle:
            return OrderedDict((name, self._parameter_shape(handle, name)) for name in self._parameter_names(handle))

    @property
    def parameter_count(self) -> int:
        """The number of trainable floats."""
        count, elements = ctypes.c_int64(), ctypes.c_int64()
        with self._handle.use() as handle:
            _native.call("model_parameter_count", handle, ctypes.byref(count), ctypes.byref(elements))
        return elements.value

    @property
    def kernels(self) -> str:
        """The instruction set this model's kernels run on this processor:
        ``"avx512"``, ``"avx2"``, ``"baseline"`` or ``"neon"``: the widest the
        processor runs, unless the ``RNNKIT_ISA`` environment variable names
        another."""
        name = ctypes.c_char_p()
        with self._handle.use() as handle:
            _native.call("model_kernels", handle, ctypes.byref(name))
        return name.value.decode("ascii")

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self._config.items() if value is not None)
        return f"rnnkit.Model({arguments})"

    # MARK: Weights

    def state_dict(self) -> OrderedDict:
        """Copies of the weights as float32 NumPy arrays under PyTorch's names.

        Recurrent tensors are ``rnn.weight_ih_l0``, ``rnn.bias_hh_l1_reverse``
        and so on, then ``head.weight`` and ``head.bias`` (and first
        ``embedding.weight``, or ``encoder.*`` for an encoder-decoder), so a
        PyTorch module with attributes ``rnn = nn.LSTM(..., batch_first=True)``
        and ``head = nn.Linear(...)`` loads them with
        ``module.load_state_dict({k: torch.from_numpy(v) for k, v in d.items()})``.
        """
        with self._handle.use() as handle:
            weights = OrderedDict()
            for name in self._parameter_names(handle):
                values = np.empty(self._parameter_shape(handle, name), dtype=np.float32)
                _native.call(
                    "model_get_parameter",
                    handle,
                    name.encode(),
                    values.ctypes.data_as(_native.float_pointer),
                    values.size,
                )
                weights[name] = values
            return weights

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Replaces weights with arrays (NumPy, or anything ``np.asarray`` reads,
        such as CPU torch tensors) under the names ``state_dict()`` uses.

        Every array is checked before any weight changes, so a refused call
        leaves the model as it was.

        Args:
            state_dict: A mapping from parameter name to array of its shape.
            strict: Require exactly the model's names, as PyTorch does; when
                False, names the model lacks are refused still, and missing
                ones keep their weights.

        Raises:
            NotFoundError: A name the model lacks, or (strict) a name left out.
            DataMismatchError: An array of the wrong shape, or not finite.
        """
        shapes = self.parameters
        unexpected = [name for name in state_dict if name not in shapes]
        missing = [name for name in shapes if name not in state_dict]
        if unexpected or (strict and missing):
            problems = []
            if unexpected:
                problems.append(f"unexpected {', '.join(unexpected)}")
            if strict and missing:
                problems.append(f"missing {', '.join(missing)}")
            raise NotFoundError(f"load_state_dict: {'; '.join(problems)}; the model has {', '.join(shapes)}")
        arrays = {}
        for name, values in state_dict.items():
            array = as_float32(values, name)
            if array.shape != shapes[name]:
                raise DataMismatchError(
                    f"{name} has shape {list(shapes[name])}, got an array of shape {list(array.shape)}"
                )
            if not np.isfinite(array).all():
                raise DataMismatchError(f"{name} holds values that are not finite")
            arrays[name] = array
        with self._handle.use() as handle:
            for name, array in arrays.items():
                _native.call(
                    "model_set_parameter",
                    handle,
                    name.encode(),
                    array.ctypes.data_as(_native.float_pointer),
                    array.size,
                )

    @staticmethod
    def _parameter_names(handle) -> list[str]:
        count, elements = ctypes.c_int64(), ctypes.c_int64()
        _native.call("model_parameter_count", handle, ctypes.byref(count), ctypes.byref(elements))
        names = []
        for index in range(count.value):
            name = ctypes.c_char_p()
            _native.call("model_parameter_name", handle, index, ctypes.byref(name))
            names.append(name.value.decode("utf-8"))
        return names

    @staticmethod
    def _parameter_shape(handle, name: str) -> tuple[int, ...]:
        shape = (ctypes.c_int64 * _MAXIMUM_RANK)()
        rank = ctypes.c_int32()
        _native.call("model_parameter_shape", handle, name.encode(), shape, _MAXIMUM_RANK, ctypes.byref(rank))
        return tuple(shape[axis] for axis in range(rank.value))

    # MARK: Files

    def save(self, path: str | os.PathLike) -> None:
        """Writes the model as a safetensors file that ``rnnkit.load`` and the
        ``rnnkit`` command line read (and PyTorch, see RNNKit's README),
        atomically: a failed save leaves no file behind.

        Raises:
            FileError: The file cannot be written.
            DataMismatchError: A weight is not finite.
        """
        with self._handle.use() as handle:
            _native.call("model_save", handle, _native.path_bytes(path))

    # MARK: Inference

    def predict(
        self,
        X,
        lengths=None,
        *,
        decoder_inputs=None,
        time_steps: int | None = None,
        return_state: bool = False,
        threads: int = 0,
    ):
        """Runs the model forward.

        Args:
            X: Features ``[N, T, input_size]`` or tokens ``[N, T]``; one-to-one
                and one-to-many models read ``[N, input_size]`` or ``[N]``.
            lengths: ``[N]`` valid steps of each sequence, each in 1..T.
            decoder_inputs: ``[N, T', width]`` for an encoder-decoder.
            time_steps: How many outputs a one-to-many model produces.
            return_state: Also return the final state, as PyTorch's modules
                do: ``h_n``, or ``(h_n, c_n)`` for LSTMs, each
                ``[num_layers * directions, N, hidden_size]`` (``h_n``
                ``proj_size`` wide with projections).
            threads: Worker threads; 0 uses all cores. Results are the same
                bits for any count.

        Returns:
            The outputs, float32: ``[N, T, output_size]`` for models with an
            output per step (``[N, T', output_size]`` for an encoder-decoder),
            ``[N, output_size]`` otherwise; with ``return_state``, the tuple
            ``(outputs, state)``.

        Raises:
            DataMismatchError: Arrays that do not fit the model (a ValueError).
        """
        batch = prepare_batch(self._shape, X, lengths, decoder_inputs=decoder_inputs, time_steps=time_steps)
        outputs_count, hidden_count, cell_count = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        with self._handle.use() as handle:
            _native.call(
                "model_output_counts",
                handle,
                batch.count,
                batch.time_steps,
                batch.decoder_time_steps,
                ctypes.byref(outputs_count),
                ctypes.byref(hidden_count),
                ctypes.byref(cell_count),
            )
            outputs = np.empty(outputs_count.value, dtype=np.float32)
            hidden = np.empty(hidden_count.value if return_state else 0, dtype=np.float32)
            cell = np.empty(cell_count.value if return_state else 0, dtype=np.float32)

            def buffer(array):
                return (array.ctypes.data_as(_native.float_pointer) if array.size else None), array.size

            _native.call(
                "model_predict", handle, batch.pointer(), threads, *buffer(outputs), *buffer(hidden), *buffer(cell)
            )
        if self._shape.outputs_per_step:
            outputs = outputs.reshape(batch.count, -1, self._shape.output_size)
        else:
            outputs = outputs.reshape(batch.count, self._shape.output_size)
        if not return_state:
            return outputs
        hidden = hidden.reshape(-1, batch.count, self._config["proj_size"] or self._config["hidden_size"])
        return outputs, ((hidden, cell.reshape(-1, batch.count, self._config["hidden_size"])) if cell.size else hidden)

    def sample_text(
        self, prime: str = "", length: int = 200, temperature: float = 1.0, top_k: int | None = None, seed: int = 0
    ) -> str:
        """Generates text from a character model (token inputs, many-to-many,
        with a vocabulary).

        Args:
            prime: Text the model reads first, in its vocabulary.
            length: Characters to generate after it.
            temperature: Divides the logits; below 1 is more conservative.
            top_k: Draw among the k most likely characters only; None: all.
            seed: The seed of the draws.

        Returns:
            The prime followed by the generated characters.
        """
        prime_bytes = prime.encode("utf-8")
        needed = ctypes.c_int64()
        # Characters of the vocabulary may take several bytes; the library says how many if this is short.
        capacity = len(prime_bytes) + 4 * length + 1
        with self._handle.use() as handle:
            for _ in range(2):
                text = ctypes.create_string_buffer(capacity)
                status = _native.LIBRARY.rnnkit_model_sample_text(
                    handle, prime_bytes, length, temperature, top_k or 0, seed, text, capacity, ctypes.byref(needed)
                )
                if status != _native.ERROR_BUFFER_TOO_SMALL:
                    break
                capacity = needed.value
            _native.raise_for(status)
        return text.raw[: needed.value - 1].decode("utf-8")

    # MARK: Training

    def fit(
        self,
        X,
        y,
        lengths=None,
        validation=None,
        *,
        decoder_inputs=None,
        progress=None,
        optimizer: str = "adam",
        lr: float | None = None,
        weight_decay: float | None = None,
        momentum: float | None = None,
        betas: tuple[float, float] | None = None,
        eps: float | None = None,
        schedule: str = "constant",
        schedule_steps: int | None = None,
        schedule_warmup: int | None = None,
        schedule_factor: float | None = None,
        schedule_patience: int | None = None,
        clip_norm: float | None = None,
        clip_value: float | None = None,
        batch_size: int = 32,
        accumulation: int = 1,
        shuffle: bool = True,
        seed: int = 0,
        steps: int | None = 100,
        seconds: float | None = None,
        threads: int = 0,
        averaging_share: float = 0.0,
        max_bad_steps: int = 10,
        early_stopping_patience: int = 0,
        restore_best: bool = False,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every_steps: int = 0,
        checkpoint_every_seconds: float = 0.0,
        resume: bool = False,
    ) -> TrainingSummary:
        """Trains the model in place: epochs of shuffled mini-batches until
        the step or time limit is spent, or early stopping ends the run.

        Targets decide the loss: integer arrays are class labels (softmax
        cross-entropy), float arrays are values (mean squared error). With
        per-sequence outputs they are ``[N]`` labels or ``[N, output_size]``
        values; with an output per step ``[N, T]`` or ``[N, T, output_size]``.

        Ctrl-C stops the run after the current step and raises
        ``KeyboardInterrupt``; the model keeps the weights of the last step
        (and the checkpoint, if any, is saved).

        Args:
            X, lengths, decoder_inputs: The inputs, as for ``predict``.
            y: The targets.
            validation: ``(X, y)``, ``(X, y, lengths)`` or
                ``(X, y, lengths, decoder_inputs)``: held-out data scored about
                ten times along the way and at the end.
            progress: Called after every step with a ``Progress``; a true
                return value stops the run, which then raises
                ``CancelledError`` (the model keeps the weights of the last
                step taken). Exceptions it raises stop the run and propagate.
            optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"``, as ``torch.optim``'s.
            lr: Learning rate (default 1e-3).
            weight_decay: L2 decay for adam and sgd (default 0), decoupled for
                adamw (default 0.01, PyTorch's).
            momentum: SGD's momentum (default 0).
            betas, eps: Adam's and AdamW's (default (0.9, 0.999) and 1e-8).
            schedule: ``"constant"``, ``"step"`` (StepLR: every
                ``schedule_steps`` steps multiply by ``schedule_factor``,
                default 0.1), ``"cosine"`` (CosineAnnealingLR with T_max
                ``schedule_steps``, by default ``steps``, after
                ``schedule_warmup`` linear steps) or ``"plateau"``
                (ReduceLROnPlateau by ``schedule_factor`` after
                ``schedule_patience`` epochs, default 10).
            clip_norm: Clip the global gradient norm at this value.
            clip_value: Clamp every gradient element into ±this value instead.
            batch_size: Sequences per mini-batch.
            accumulation: Mini-batches per optimiser step (the same bits as
                one mini-batch that many times as large).
            shuffle: Draw each epoch's rows in a seeded shuffle.
            seed: The shuffle's seed (the model's initial weights have their own).
            steps: Optimiser steps; None for a run limited by ``seconds`` only.
            seconds: A training time limit; None for none.
            threads: Worker threads; 0 uses all cores. Results are the same
                bits for any count.
            averaging_share: End with the mean of the weights over this last
                share of the run (0.25 averages the last quarter).
            max_bad_steps: Non-finite steps in a row before ``DivergedError``.
            early_stopping_patience: Stop after this many validation rounds
                without a better loss (needs ``validation``); 0: off.
            restore_best: With early stopping, end with the best round's weights.
            checkpoint: Save the whole training state to this file, at the end,
                on cancellation and every ``checkpoint_every_steps`` steps or
                ``checkpoint_every_seconds`` seconds.
            resume: Continue from ``checkpoint`` if it exists, to the same bits
                as a run never interrupted.

        Returns:
            A ``TrainingSummary``.

        Raises:
            InvalidArgumentError: Settings no run can use (a ValueError).
            DataMismatchError: Arrays that do not fit the model (a ValueError).
            DivergedError: Too many non-finite steps in a row.
            CancelledError: The progress callback asked to stop.
            KeyboardInterrupt: Ctrl-C.
        """
        settings = training_settings(
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            momentum=momentum,
            betas=betas,
            eps=eps,
            schedule=schedule,
            schedule_steps=schedule_steps,
            schedule_warmup=schedule_warmup,
            schedule_factor=schedule_factor,
            schedule_patience=schedule_patience,
            clip_norm=clip_norm,
            clip_value=clip_value,
            batch_size=batch_size,
            accumulation=accumulation,
            shuffle=shuffle,
            seed=seed,
            steps=steps,
            seconds=seconds,
            threads=threads,
            averaging_share=averaging_share,
            max_bad_steps=max_bad_steps,
            early_stopping_patience=early_stopping_patience,
            restore_best=restore_best,
            checkpoint=checkpoint,
            checkpoint_every_steps=checkpoint_every_steps,
            checkpoint_every_seconds=checkpoint_every_seconds,
            resume=resume,
        )
        training = prepare_batch(self._shape, X, lengths, y, decoder_inputs)
        held_out = None
        if validation is not None:
            if not isinstance(validation, (tuple, list)) or not 2 <= len(validation) <= 4:
                raise InvalidArgumentError(
                    "validation must be (X, y), (X, y, lengths) or (X, y, lengths, decoder_inputs)"
                )
            X_held, y_held, lengths_held, decoder_held = (*validation, None, None)[:4]
            held_out = prepare_batch(self._shape, X_held, lengths_held, y_held, decoder_held, role="validation ")
        with self._handle.use() as handle:
            return run_training(handle, settings, training, held_out, progress)


def load(path: str | os.PathLike) -> Model:
    """Reads a model file written by ``Model.save``, by the ``rnnkit``
    command line, or by PyTorch with RNNKit's metadata.

    Raises:
        FileError: The file cannot be read (an OSError).
        FormatError: It is not an RNNKit model file.
    """
    pointer = ctypes.c_void_p()
    _native.call("model_load", _native.path_bytes(path), ctypes.byref(pointer))
    return Model._from_pointer(pointer)
