"""Training runs: summaries, progress, stopping, checkpoints, threads and Ctrl-C."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import rnnkit


def mean_of_first_feature(count, seed=0, steps=10, width=4):
    """Sequences of 3 to ``steps`` steps whose target is the mean of their first feature."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (count, steps, width)).astype(np.float32)
    lengths = rng.integers(3, steps + 1, count).astype(np.int32)
    X[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    y = (X[:, :, 0].sum(axis=1) / lengths)[:, None].astype(np.float32)
    return X, y, lengths


def regressor(seed=0):
    return rnnkit.Model(cell="lstm", input_size=4, hidden_size=16, output_size=1, seed=seed)


def test_fit_trains_and_summarises_the_run():
    X, y, lengths = mean_of_first_feature(64)
    model = regressor()
    before = float(np.mean((model.predict(X, lengths) - y) ** 2))
    summary = model.fit(X, y, lengths, lr=1e-2, batch_size=16, steps=120)
    after = float(np.mean((model.predict(X, lengths) - y) ** 2))
    assert after < before / 4
    assert summary.steps == summary.steps_this_run == 120
    assert summary.sequences_this_run == 120 * 16
    assert summary.stop_reason == "budget_spent"
    assert summary.best_step is None and summary.best_validation_loss is None
    assert np.isfinite(summary.final_loss) and summary.skipped_steps == 0


def test_progress_arrives_after_every_step_with_validation_losses():
    X, y, lengths = mean_of_first_feature(80)
    reports = []
    summary = regressor().fit(
        X[:64],
        y[:64],
        lengths[:64],
        validation=(X[64:], y[64:], lengths[64:]),
        steps=30,
        batch_size=16,
        progress=reports.append,
    )
    assert [report.step for report in reports] == list(range(1, 31))
    assert all(report.total_steps == 30 for report in reports)
    assert [report.is_final for report in reports] == [False] * 29 + [True]
    assert reports[0].validation_loss is None and reports[-1].validation_loss is not None
    # The best round is tracked by early stopping only.
    assert summary.best_step is None and summary.best_validation_loss is None


def test_a_progress_callback_returning_true_stops_the_run():
    X, y, lengths = mean_of_first_feature(32)
    model = regressor()
    before = model.state_dict()
    with pytest.raises(rnnkit.CancelledError):
        model.fit(X, y, lengths, steps=1000, progress=lambda report: report.step == 5)
    assert not np.array_equal(before["rnn.weight_hh_l0"], model.state_dict()["rnn.weight_hh_l0"])
    assert model.predict(X, lengths).shape == (32, 1)


def test_an_exception_in_the_progress_callback_stops_the_run_and_propagates():
    X, y, lengths = mean_of_first_feature(32)

    def fail(report):
        if report.step == 3:
            raise LookupError("from the callback")

    with pytest.raises(LookupError, match="from the callback"):
        regressor().fit(X, y, lengths, steps=1000, progress=fail)


def test_a_cancelled_run_resumes_from_its_checkpoint_to_the_uninterrupted_bits(tmp_path):
    X, y, lengths = mean_of_first_feature(48)
    settings = dict(steps=40, batch_size=16, lr=1e-2)
    uninterrupted = regressor()
    uninterrupted.fit(X, y, lengths, **settings)
    checkpoint = tmp_path / "run.checkpoint.safetensors"
    interrupted = regressor()
    with pytest.raises(rnnkit.CancelledError):
        interrupted.fit(X, y, lengths, **settings, checkpoint=checkpoint, progress=lambda report: report.step == 15)
    assert checkpoint.is_file()
    summary = interrupted.fit(X, y, lengths, **settings, checkpoint=checkpoint, resume=True)
    assert summary.steps == 40 and summary.steps_this_run < 40
    expected, resumed = uninterrupted.state_dict(), interrupted.state_dict()
    assert all(np.array_equal(expected[name], resumed[name]) for name in expected)


def test_early_stopping_ends_the_run_with_the_best_weights():
    X, y, lengths = mean_of_first_feature(80)
    summary = regressor().fit(
        X[:64],
        y[:64],
        lengths[:64],
        validation=(X[64:], y[64:], lengths[64:]),
        lr=0.3,
        steps=400,
        early_stopping_patience=1,
        restore_best=True,
    )
    assert summary.stop_reason == "early_stopping"
    assert summary.steps < 400 and summary.best_step <= summary.steps


def test_a_diverging_run_raises_diverged():
    X, y, lengths = mean_of_first_feature(16)
    with pytest.raises(rnnkit.DivergedError) as raised:
        regressor().fit(X, y * 1e30, lengths, optimizer="sgd", lr=1e30, steps=100, max_bad_steps=3)
    assert isinstance(raised.value, ArithmeticError)


def test_other_python_threads_run_while_fit_trains():
    """fit releases the GIL: a pure-Python loop in the main thread keeps
    counting while another thread trains (on one core, leaving one free)."""

    def count_for(seconds):
        iterations, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            iterations += 1
        return iterations

    alone = count_for(0.5) / 0.5
    X, y, lengths = mean_of_first_feature(256, steps=40)
    model = rnnkit.Model(cell="lstm", input_size=4, hidden_size=128, output_size=1)
    trainer = threading.Thread(target=model.fit, args=(X, y, lengths), kwargs=dict(steps=None, seconds=2, threads=1))
    started = time.perf_counter()
    trainer.start()
    iterations = 0
    while trainer.is_alive():
        iterations += 1
    elapsed = time.perf_counter() - started
    assert elapsed > 1.5
    # Were the GIL held during the run, the loop would stand still until it ended.
    assert iterations / elapsed > 0.1 * alone, f"{iterations / elapsed:.0f} iterations/s during fit, {alone:.0f} alone"


def test_ctrl_c_stops_fit_with_keyboard_interrupt_and_leaves_the_model_usable():
    X, y, lengths = mean_of_first_feature(64)
    model = regressor()
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    started = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, lengths, steps=None, seconds=60)
    assert time.perf_counter() - started < 10
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert np.isfinite(model.predict(X, lengths)).all()
    assert model.fit(X, y, lengths, steps=5).steps == 5


def test_the_model_being_trained_refuses_calls_from_its_progress_callback():
    X, y, lengths = mean_of_first_feature(16)
    model = regressor()
    with pytest.raises(RuntimeError, match="progress callback cannot use the model"):
        model.fit(X, y, lengths, steps=5, progress=lambda report: model.predict(X))


@pytest.mark.parametrize(
    "topology, inputs, targets, decoder_inputs",
    [
        ("many_to_one", (8, 6, 3), np.arange(8) % 3, None),
        ("many_to_many", (8, 6, 3), np.zeros((8, 6, 3), np.float32), None),
        ("one_to_one", (8, 3), np.arange(8) % 3, None),
        ("one_to_many", (8, 3), np.ones((8, 5, 3), np.float32), None),
        ("encoder_decoder", (8, 6, 3), np.arange(8 * 4).reshape(8, 4) % 3, np.zeros((8, 4, 3), np.float32)),
    ],
)
def test_every_topology_trains_with_validation(topology, inputs, targets, decoder_inputs):
    X = np.random.default_rng(0).normal(size=inputs).astype(np.float32)
    model = rnnkit.Model(cell="gru", input_size=3, hidden_size=8, output_size=3, topology=topology)
    held_out = (X, targets, None, decoder_inputs)
    summary = model.fit(X, targets, decoder_inputs=decoder_inputs, validation=held_out, steps=3, batch_size=4)
    assert summary.steps == 3 and np.isfinite(summary.final_loss)
