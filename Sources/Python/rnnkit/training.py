"""A training run: its settings, its progress reports, its summary, and the
handling of Ctrl-C while the library trains."""

from __future__ import annotations

import ctypes
import math
import os
import signal
import threading
from dataclasses import dataclass

from . import _native
from .errors import InvalidArgumentError


@dataclass(frozen=True)
class Progress:
    """What a training run reports after every step to ``fit``'s ``progress``."""

    step: int
    #: None for a run limited by time only.
    total_steps: int | None
    smoothed_loss: float
    #: None before the first validation round (or without validation data).
    validation_loss: float | None
    skipped_steps: int
    sequences_per_second: float
    elapsed_seconds: float
    #: None while unknown.
    remaining_seconds: float | None
    is_final: bool

    @classmethod
    def _from_struct(cls, report: _native.Progress) -> Progress:
        return cls(
            step=report.step,
            total_steps=None if report.total_steps == -1 else report.total_steps,
            smoothed_loss=report.smoothed_loss,
            validation_loss=_known(report.validation_loss),
            skipped_steps=report.skipped_steps,
            sequences_per_second=report.sequences_per_second,
            elapsed_seconds=report.elapsed_seconds,
            remaining_seconds=_known(report.remaining_seconds),
            is_final=bool(report.is_final),
        )


@dataclass(frozen=True)
class TrainingSummary:
    """How a training run went, as ``fit`` returns it."""

    #: Optimiser steps, counting those before a resume.
    steps: int
    final_loss: float
    #: The last step's gradient norm, before clipping.
    final_gradient_norm: float
    #: Steps whose loss or gradient was not finite, which changed nothing.
    skipped_steps: int
    seconds: float
    steps_this_run: int
    sequences_this_run: int
    sequences_per_second: float
    #: ``"budget_spent"`` (the step or time limit) or ``"early_stopping"``.
    stop_reason: str
    #: With early stopping, the step of the best validation loss (None without a finite one).
    best_step: int | None
    best_validation_loss: float | None

    @classmethod
    def _from_struct(cls, summary: _native.Summary) -> TrainingSummary:
        return cls(
            steps=summary.steps,
            final_loss=summary.final_loss,
            final_gradient_norm=summary.final_gradient_norm,
            skipped_steps=summary.skipped_steps,
            seconds=summary.seconds,
            steps_this_run=summary.steps_this_run,
            sequences_this_run=summary.sequences_this_run,
            sequences_per_second=summary.sequences_per_second,
            stop_reason=_native.STOP_REASONS[summary.stop_reason],
            best_step=None if summary.best_step == -1 else summary.best_step,
            best_validation_loss=_known(summary.best_validation_loss),
        )


def _known(value: float) -> float | None:
    """The library's NaN for "not yet known" as None."""
    return None if math.isnan(value) else value


def _refuse_unused(options: dict, applies: str) -> None:
    given = [name for name, value in options.items() if value is not None]
    if given:
        raise InvalidArgumentError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to {applies}")


def _unsigned(value: int, name: str) -> int:
    if not 0 <= value < 2**64:
        raise InvalidArgumentError(f"{name} must be in 0..2**64-1, got {value}")
    return value


def training_settings(
    *,
    optimizer,
    lr,
    weight_decay,
    momentum,
    betas,
    eps,
    schedule,
    schedule_steps,
    schedule_warmup,
    schedule_factor,
    schedule_patience,
    clip_norm,
    clip_value,
    batch_size,
    accumulation,
    shuffle,
    seed,
    steps,
    seconds,
    threads,
    averaging_share,
    max_bad_steps,
    early_stopping_patience,
    restore_best,
    checkpoint,
    checkpoint_every_steps,
    checkpoint_every_seconds,
    resume,
) -> _native.TrainingSettings:
    """``rnnkit_training_settings`` from ``Model.fit``'s keyword arguments
    (documented there). Options that the chosen optimiser or schedule does
    not use are refused, as the command line refuses them; the library
    checks the values."""
    settings = _native.TrainingSettings()
    _native.LIBRARY.rnnkit_training_settings_init(ctypes.byref(settings))

    if optimizer not in _native.OPTIMIZERS:
        raise InvalidArgumentError(f"optimizer must be 'adam', 'adamw' or 'sgd', got {optimizer!r}")
    settings.optimizer = _native.OPTIMIZERS[optimizer]
    if optimizer == "sgd":
        _refuse_unused({"betas": betas, "eps": eps}, "optimizer='adam' and 'adamw'")
        if momentum is not None:
            settings.momentum = momentum
    else:
        _refuse_unused({"momentum": momentum}, "optimizer='sgd'")
        if betas is not None:
            settings.beta1, settings.beta2 = betas
        if eps is not None:
            settings.epsilon = eps
    if lr is not None:
        settings.learning_rate = lr
    if weight_decay is not None:
        settings.weight_decay = weight_decay
    elif optimizer == "adamw":
        settings.weight_decay = 0.01  # torch.optim.AdamW's default

    if schedule not in _native.SCHEDULES:
        raise InvalidArgumentError(
            f"schedule must be one of {', '.join(map(repr, _native.SCHEDULES))}, got {schedule!r}"
        )
    settings.schedule = _native.SCHEDULES[schedule]
    schedule_options = {
        "schedule_steps": (schedule_steps, ("step", "cosine")),
        "schedule_warmup": (schedule_warmup, ("cosine",)),
        "schedule_factor": (schedule_factor, ("step", "plateau")),
        "schedule_patience": (schedule_patience, ("plateau",)),
    }
    for name, (value, owners) in schedule_options.items():
        if value is not None and schedule not in owners:
            raise InvalidArgumentError(f"{name} applies to schedule={' or '.join(map(repr, owners))}")
    if schedule == "step" and schedule_steps is None:
        raise InvalidArgumentError("schedule='step' needs schedule_steps: the steps between reductions")
    if schedule == "cosine" and schedule_steps is None:
        if steps is None:
            raise InvalidArgumentError("schedule='cosine' spans the run's steps: give steps or schedule_steps")
        schedule_steps = steps
    for field, value in (
        ("schedule_steps", schedule_steps),
        ("schedule_warmup", schedule_warmup),
        ("schedule_factor", schedule_factor),
        ("schedule_patience", schedule_patience),
    ):
        if value is not None:
            setattr(settings, field, value)

    if clip_norm is not None and clip_value is not None:
        raise InvalidArgumentError("give clip_norm or clip_value, not both")
    if clip_norm is not None:
        settings.clipping, settings.clip_limit = _native.CLIP_NORM, clip_norm
    elif clip_value is not None:
        settings.clipping, settings.clip_limit = _native.CLIP_VALUE, clip_value

    if steps is None and seconds is None:
        raise InvalidArgumentError("a run needs a limit: steps, seconds or both")
    settings.steps = -1 if steps is None else steps
    settings.seconds = seconds or 0.0
    settings.threads = threads
    settings.batch_size = batch_size
    settings.accumulation = accumulation
    settings.shuffle = bool(shuffle)
    settings.seed = _unsigned(seed, "seed")
    settings.averaging_share = averaging_share
    settings.maximum_bad_steps = max_bad_steps
    settings.early_stopping_patience = early_stopping_patience
    settings.restore_best = bool(restore_best)
    if checkpoint is not None:
        settings.checkpoint_path = os.fsencode(checkpoint)
    settings.checkpoint_every_steps = checkpoint_every_steps
    settings.checkpoint_every_seconds = checkpoint_every_seconds
    settings.resume = bool(resume)
    return settings


class _InterruptCatcher:
    """Turns SIGINT into a flag for the length of a training run.

    Python runs a signal's handler at the next bytecode boundary of the main
    thread, which during ``rnnkit_train`` is the first instruction of the
    progress trampoline: before any ``try`` in it, so a KeyboardInterrupt
    raised there would escape into ctypes, which prints and drops it. While
    the run lasts, Python's default handler is replaced by one that only
    records the signal; the trampoline then asks the library to stop, and
    ``run_training`` raises KeyboardInterrupt once the library has returned.
    A handler the application installed itself is left alone.
    """

    def __init__(self):
        self.interrupted = False
        self._previous = None

    def _record(self, signum, frame):
        self.interrupted = True

    def __enter__(self):
        in_main_thread = threading.current_thread() is threading.main_thread()
        if in_main_thread and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._record)
        return self

    def __exit__(self, *exception):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def run_training(handle, settings, training, validation, progress) -> TrainingSummary:
    """Runs ``rnnkit_train`` on a model handle with prepared batches.

    The progress trampoline is installed even without a ``progress``
    callback, so that Ctrl-C can stop the run.
    """
    raised = []
    with _InterruptCatcher() as interrupts:

        def trampoline(report, _user_data):
            try:
                if interrupts.interrupted:
                    return 1
                stop = progress is not None and progress(Progress._from_struct(report.contents))
                return 1 if stop else 0
            except BaseException as error:  # KeyboardInterrupt included: it must stop the run, not vanish
                raised.append(error)
                return 1

        callback = _native.PROGRESS_CALLBACK(trampoline)
        summary = _native.Summary()
        status = _native.LIBRARY.rnnkit_train(
            handle,
            ctypes.byref(settings),
            training.pointer(),
            validation.pointer() if validation is not None else None,
            callback,
            None,
            ctypes.byref(summary),
        )
    if raised:
        raise raised[0]
    if interrupts.interrupted:
        raise KeyboardInterrupt
    _native.raise_for(status)
    return TrainingSummary._from_struct(summary)
