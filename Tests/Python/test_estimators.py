"""RNNClassifier and RNNRegressor: scikit-learn's conventions, the command line's results."""

import json
import subprocess

import numpy as np
import pytest

import rnnkit
from support import DATASETS, tool


def ucr_uea(name):
    folder = DATASETS / "ucr-uea"
    train, test = folder / f"{name}_TRAIN.ts", folder / f"{name}_TEST.ts"
    if not (train.is_file() and test.is_file()):
        pytest.skip(f"{name} is not in {folder} (the data sets live in ../shared/datasets beside the repository)")
    return train, test


@pytest.mark.parametrize("name", ["JapaneseVowels", "GunPoint"])
def test_the_classifier_trains_the_command_lines_model(tmp_path, name):
    """With its defaults the classifier prepares and trains exactly as
    `rnnkit train --data X_TRAIN.ts` does (GunPoint's 150 steps are read 3 at
    a time), so it reaches the same test accuracy (README: JapaneseVowels
    0.9730, GunPoint 0.9733)."""
    train_path, test_path = ucr_uea(name)
    out = tmp_path / "model.safetensors"
    result = subprocess.run(
        [str(tool()), "train", "--data", str(train_path), "--out", str(out), "--no-plot", "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    reported = json.loads(result.stdout.strip().splitlines()[-1])

    train, test = rnnkit.load_data(train_path), rnnkit.load_data(test_path)
    classifier = rnnkit.RNNClassifier().fit(train.X, train.y, train.lengths)
    expected, trained = rnnkit.load(out).state_dict(), classifier.model_.state_dict()
    for parameter in expected:
        assert np.array_equal(trained[parameter], expected[parameter]), parameter
    accuracy = classifier.score(test.X, test.y, test.lengths)
    assert accuracy == pytest.approx(reported["test_accuracy"], abs=1e-12)
    assert accuracy > 0.96


def test_the_classifier_follows_scikit_learns_conventions():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8, 2)).astype(np.float32)
    labels = np.array(["rising", "falling"])[(X[:, :, 0].sum(axis=1) > 0).astype(int)]
    classifier = rnnkit.RNNClassifier(hidden_size=16, steps=150)
    assert repr(classifier) == "RNNClassifier(hidden_size=16, steps=150)"
    assert classifier.fit(X[:40], labels[:40]) is classifier
    assert classifier.classes_.tolist() == ["falling", "rising"]
    probabilities = classifier.predict_proba(X[40:])
    assert probabilities.shape == (20, 2) and np.allclose(probabilities.sum(axis=1), 1)
    assert classifier.predict(X[40:]).tolist() == classifier.classes_[probabilities.argmax(axis=1)].tolist()
    assert classifier.score(X[40:], labels[40:]) >= 0.8
    clone = type(classifier)(**classifier.get_params())
    assert clone.get_params() == classifier.get_params() and not hasattr(clone, "model_")
    assert clone.set_params(cell="lstm", patch=2) is clone and clone.cell == "lstm"
    with pytest.raises(ValueError, match="no parameter 'depth'"):
        clone.set_params(depth=3)
    with pytest.raises(RuntimeError, match="not fitted"):
        clone.predict(X)
    with pytest.raises(ValueError, match=r"X has 3 features per step, the estimator was fitted on 2"):
        classifier.predict(np.zeros((1, 8, 3)))


def test_the_regressor_predicts_in_the_targets_units():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (120, 12, 3)).astype(np.float32)
    lengths = rng.integers(4, 13, 120)
    X[np.arange(12)[None, :] >= lengths[:, None]] = 0
    y = 100 + 20 * X[:, :, 0].sum(axis=1) / lengths
    regressor = rnnkit.RNNRegressor(hidden_size=32, steps=300).fit(X[:90], y[:90], lengths[:90])
    predictions = regressor.predict(X[90:], lengths[90:])
    assert predictions.shape == (30,)
    assert regressor.score(X[90:], y[90:], lengths[90:]) > 0.9
    two_outputs = np.stack([y, -y], axis=1)
    assert rnnkit.RNNRegressor(steps=20).fit(X, two_outputs, lengths).predict(X, lengths).shape == (120, 2)
