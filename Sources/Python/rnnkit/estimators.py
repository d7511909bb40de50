"""scikit-learn style estimators: ``RNNClassifier`` and ``RNNRegressor``.

They follow scikit-learn's conventions (``fit``/``predict``/``score``,
``get_params``/``set_params``, fitted attributes ending in ``_``) without
importing it, so they work in its pipelines and model selection tools when
it is installed. Both read sequences as ``[n, time, features]`` arrays with
optional ``lengths`` and prepare them as ``rnnkit train`` prepares a UCR/UEA
``.ts`` set, whose defaults they share: every feature standardised with the
mean and deviation of the training data's valid steps, and sequences longer
than 50 steps read several steps at a time.
"""

from __future__ import annotations

import inspect

import numpy as np

from ._batches import as_float32, as_int32
from .errors import DataMismatchError, InvalidArgumentError
from .model import Model

# Sequences longer than this are read `patch` steps at a time (the command line's `--patch` default).
_LONGEST_STEPS = 50


class _SequenceEstimator:
    """What the classifier and the regressor share: parameters, input
    preparation, and the training run."""

    def __init__(
        self,
        *,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        proj_size: int = 0,
        optimizer: str = "adam",
        lr: float = 3e-3,
        weight_decay: float = 1e-3,
        clip_norm: float | None = 1.0,
        batch_size: int = 16,
        steps: int = 600,
        averaging_share: float = 0.25,
        patch: int | None = None,
        standardize: bool = True,
        seed: int = 0,
        threads: int = 0,
    ):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.proj_size = proj_size
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.batch_size = batch_size
        self.steps = steps
        self.averaging_share = averaging_share
        self.patch = patch
        self.standardize = standardize
        self.seed = seed
        self.threads = threads

    # MARK: Parameters, as scikit-learn's BaseEstimator

    @classmethod
    def _parameter_names(cls) -> list[str]:
        signature = inspect.signature(_SequenceEstimator.__init__)
        return [name for name in signature.parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments, by name (``deep`` is accepted for
        scikit-learn; these estimators hold no nested estimators)."""
        return {name: getattr(self, name) for name in self._parameter_names()}

    def set_params(self, **params):
        """Sets constructor arguments by name; returns the estimator."""
        valid = self._parameter_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {name!r}; it has {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = inspect.signature(_SequenceEstimator.__init__).parameters
        changed = [f"{name}={value!r}" for name, value in self.get_params().items() if value != defaults[name].default]
        return f"{type(self).__name__}({', '.join(changed)})"

    # MARK: Inputs

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet: call fit first")

    @staticmethod
    def _sequences(X, lengths):
        """X as float32 ``[n, time, features]`` and its lengths as int32 ``[n]`` (all ``time`` when None)."""
        features = as_float32(X, "X")
        if features.ndim != 3:
            raise DataMismatchError(f"X must be [n, time, features], got shape {list(features.shape)}")
        if lengths is None:
            return features, np.full(features.shape[0], features.shape[1], dtype=np.int32)
        valid = as_int32(lengths, "lengths")
        if valid.shape != (features.shape[0],):
            raise DataMismatchError(f"lengths must be [{features.shape[0]}], got shape {list(valid.shape)}")
        if valid.size and (valid.min() < 1 or valid.max() > features.shape[1]):
            raise DataMismatchError(f"lengths must lie in 1..{features.shape[1]}, got {valid.min()}..{valid.max()}")
        return features, valid

    @staticmethod
    def _valid_steps(features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``[n, time]``: whether each step lies within its sequence's length."""
        return np.arange(features.shape[1]) < lengths[:, None]

    def _fit_inputs(self, X, lengths):
        """Fits the scaling and patch on the training sequences and returns them prepared."""
        features, valid_lengths = self._sequences(X, lengths)
        self.n_features_in_ = features.shape[2]
        if self.standardize:
            # Over valid steps only, in float64, as FeatureScaling fits it; a constant feature stays unscaled.
            values = features[self._valid_steps(features, valid_lengths)].astype(np.float64)
            mean = values.mean(axis=0)
            deviation = np.sqrt(((values - mean) ** 2).mean(axis=0)).astype(np.float32)
            usable = np.isfinite(deviation) & (deviation > 1e-12)
            self.feature_mean_ = mean.astype(np.float32)
            self.feature_scale_ = np.where(usable, deviation, np.float32(1))
        if self.patch is not None and self.patch < 1:
            raise InvalidArgumentError(f"patch must be 1 or more (or None), got {self.patch}")
        longest = int(valid_lengths.max())
        self.patch_ = self.patch or -(-longest // _LONGEST_STEPS)
        return self._prepared(features, valid_lengths, lengths is None)

    def _inputs(self, X, lengths):
        """New sequences prepared with the fitted scaling and patch."""
        self._check_fitted()
        features, valid_lengths = self._sequences(X, lengths)
        if features.shape[2] != self.n_features_in_:
            raise DataMismatchError(
                f"X has {features.shape[2]} features per step, the estimator was fitted on {self.n_features_in_}"
            )
        return self._prepared(features, valid_lengths, lengths is None)

    def _prepared(self, features, lengths, full_length: bool):
        """Standardises the valid steps and reads them ``patch_`` at a time,
        as ``TimeSeriesClassificationSet.modelBatch`` does: ``[n, ceil(T / patch),
        patch * features]``, a sequence's last partial patch repeating its last
        valid step. Returns the features and the lengths (None when every
        sequence has all steps)."""
        valid = self._valid_steps(features, lengths)
        if self.standardize:
            scaled = (features - self.feature_mean_) / self.feature_scale_
            features = np.where(valid[:, :, None], scaled, features)
        if self.patch_ == 1:
            return features, None if full_length else lengths
        patch, (count, time_steps, width) = self.patch_, features.shape
        steps = -(-time_steps // patch)
        patched_lengths = -(-lengths // patch)
        # The step each patch position reads: step s, offset o reads s * patch + o, at most the last valid step.
        source = np.arange(steps)[:, None] * patch + np.arange(patch)[None, :]
        source = np.minimum(source[None, :, :], (lengths - 1)[:, None, None])
        patched = features[np.arange(count)[:, None, None], source].reshape(count, steps, patch * width)
        patched[np.arange(steps)[None, :] >= patched_lengths[:, None]] = 0
        return np.ascontiguousarray(patched), None if (patched_lengths == steps).all() else patched_lengths

    def _train(self, inputs, lengths, targets, output_size: int) -> None:
        self.model_ = Model(
            cell=self.cell,
            input_size=inputs.shape[2],
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            proj_size=self.proj_size,
            output_size=output_size,
            topology="many_to_one",
            seed=self.seed,
        )
        self.summary_ = self.model_.fit(
            inputs,
            targets,
            lengths,
            optimizer=self.optimizer,
            lr=self.lr,
            weight_decay=self.weight_decay,
            clip_norm=self.clip_norm,
            batch_size=min(self.batch_size, inputs.shape[0]),
            steps=self.steps,
            averaging_share=self.averaging_share,
            seed=self.seed,
            threads=self.threads,
        )


class RNNClassifier(_SequenceEstimator):
    """A recurrent sequence classifier in scikit-learn's style: one class per
    sequence, from a many-to-one model trained with cross-entropy.

    Defaults are the command line's for UCR/UEA ``.ts`` sets (``rnnkit train
    --data X_TRAIN.ts``): a 64-unit GRU, Adam at 3e-3 with weight decay 1e-3,
    gradient norm clipped at 1, 600 steps of 16 sequences, the weights
    averaged over the last quarter of the steps. On the same data and seed
    it trains the same weights as the command line.

    Example::

        train = rnnkit.load_data("JapaneseVowels_TRAIN.ts")
        test = rnnkit.load_data("JapaneseVowels_TEST.ts")
        classifier = rnnkit.RNNClassifier().fit(train.X, train.y, train.lengths)
        classifier.score(test.X, test.y, test.lengths)    # accuracy

    Args:
        cell, hidden_size, num_layers, bidirectional, dropout, proj_size: The
            model, as ``rnnkit.Model``'s.
        optimizer, lr, weight_decay, clip_norm, batch_size, steps,
        averaging_share, threads: The training run, as ``Model.fit``'s
            (``batch_size`` is capped at the number of sequences).
        patch: Read this many consecutive steps as one; None: enough that
            the longest training sequence takes at most 50 steps.
        standardize: Scale every feature by the mean and deviation of the
            training data's valid steps.
        seed: The seed of the initial weights and of the shuffle.

    Attributes:
        classes_: The sorted distinct labels seen by ``fit``.
        model_: The trained ``rnnkit.Model``.
        summary_: Its ``TrainingSummary``.
        patch_, feature_mean_, feature_scale_, n_features_in_: How inputs are prepared.
    """

    def fit(self, X, y, lengths=None) -> RNNClassifier:
        """Trains on sequences ``X`` ``[n, time, features]`` with labels ``y``
        ``[n]`` (any values ``np.unique`` sorts: integers, strings) and
        optional ``lengths`` ``[n]``. Returns the classifier."""
        inputs, prepared_lengths = self._fit_inputs(X, lengths)
        labels = np.asarray(y)
        if labels.shape != (inputs.shape[0],):
            raise DataMismatchError(f"y must be [{inputs.shape[0]}] labels, got shape {list(labels.shape)}")
        self.classes_, indices = np.unique(labels, return_inverse=True)
        self._train(inputs, prepared_lengths, indices.astype(np.int32), len(self.classes_))
        return self

    def decision_function(self, X, lengths=None) -> np.ndarray:
        """The model's logits, float32 ``[n, classes]``."""
        inputs, prepared_lengths = self._inputs(X, lengths)
        return self.model_.predict(inputs, prepared_lengths, threads=self.threads)

    def predict_proba(self, X, lengths=None) -> np.ndarray:
        """Each class's probability, the softmax of the logits: float64 ``[n, classes]``."""
        logits = self.decision_function(X, lengths).astype(np.float64)
        exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exponentials / exponentials.sum(axis=1, keepdims=True)

    def predict(self, X, lengths=None) -> np.ndarray:
        """The most likely class of each sequence, ``[n]`` of ``classes_``' type."""
        logits = self.decision_function(X, lengths)
        return self.classes_[np.argmax(logits, axis=1)]

    def score(self, X, y, lengths=None) -> float:
        """The accuracy on ``X`` and labels ``y``."""
        return float(np.mean(self.predict(X, lengths) == np.asarray(y)))


class RNNRegressor(_SequenceEstimator):
    """A recurrent sequence regressor in scikit-learn's style: one value (or
    vector) per sequence, from a many-to-one model trained with mean squared
    error.

    Defaults are ``RNNClassifier``'s. With ``standardize`` the targets are
    standardised too (each output by its mean and deviation over the
    training sequences), and predictions are returned in the targets' units.

    Example::

        regressor = rnnkit.RNNRegressor(steps=300).fit(X, y, lengths)   # y [n] or [n, outputs]
        regressor.score(X_test, y_test, lengths_test)                   # R^2

    Args:
        See ``RNNClassifier``.

    Attributes:
        model_, summary_, patch_, feature_mean_, feature_scale_, n_features_in_: As ``RNNClassifier``'s.
        target_mean_, target_scale_: The targets' standardisation (``standardize``).
    """

    def fit(self, X, y, lengths=None) -> RNNRegressor:
        """Trains on sequences ``X`` ``[n, time, features]`` with targets ``y``
        ``[n]`` or ``[n, outputs]`` and optional ``lengths`` ``[n]``. Returns
        the regressor."""
        inputs, prepared_lengths = self._fit_inputs(X, lengths)
        targets = as_float32(y, "y")
        if targets.ndim not in (1, 2) or targets.shape[0] != inputs.shape[0]:
            raise DataMismatchError(
                f"y must be [{inputs.shape[0]}] or [{inputs.shape[0]}, outputs], got {list(targets.shape)}"
            )
        self._single_output = targets.ndim == 1
        targets = targets.reshape(inputs.shape[0], -1)
        if self.standardize:
            self.target_mean_ = targets.mean(axis=0, dtype=np.float64).astype(np.float32)
            deviation = targets.std(axis=0, dtype=np.float64).astype(np.float32)
            self.target_scale_ = np.where(deviation > 1e-12, deviation, np.float32(1))
            targets = (targets - self.target_mean_) / self.target_scale_
        self._train(inputs, prepared_lengths, targets, targets.shape[1])
        return self

    def predict(self, X, lengths=None) -> np.ndarray:
        """Each sequence's predicted target, float32 ``[n]`` or ``[n, outputs]`` as ``y`` was."""
        inputs, prepared_lengths = self._inputs(X, lengths)
        outputs = self.model_.predict(inputs, prepared_lengths, threads=self.threads)
        if self.standardize:
            outputs = outputs * self.target_scale_ + self.target_mean_
        return outputs[:, 0] if self._single_output else outputs

    def score(self, X, y, lengths=None) -> float:
        """The coefficient of determination R^2 on ``X`` and ``y``, averaged
        over outputs as scikit-learn's ``r2_score`` does."""
        actual = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        predicted = self.predict(X, lengths).astype(np.float64).reshape(actual.shape)
        residual = ((actual - predicted) ** 2).sum(axis=0)
        total = ((actual - actual.mean(axis=0)) ** 2).sum(axis=0)
        return float(np.mean(1 - residual / total))
