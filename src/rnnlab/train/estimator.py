"""``rnnlab.RNNClassifier``: a scikit-learn classifier over :func:`rnnlab.train`.

``fit(X, y)`` trains the configured network on the texts ``X`` and labels ``y`` into a run
folder (as ``rnnlab train`` does: same data validation, split, doctor, files), and the fitted
estimator predicts through the trained :class:`~rnnlab.runs.Run`. It clones, takes part in a
``Pipeline``, ``cross_val_score`` and ``GridSearchCV``.

Config keys are estimator parameters, spelled with ``__`` for the dots
(``fit__epochs=2`` sets ``fit.epochs``; ``model__layers__0__units=16`` the first layer's
units): ``get_params`` lists the ones given, ``set_params`` and grid searches set any key of
docs/config.md (an unknown key fails at ``fit`` with the config's one-line error).

scikit-learn's ``check_estimator`` feeds numeric 2-D arrays, which this estimator does not
take (its input is text), so the estimator declares ``input_tags.string`` and no
``two_d_array`` and ``check_estimator`` skips it. The API checks that apply to text input run
in tests/train/test_estimator.py (clone, repr, get/set_params, no attributes set in
``__init__``, default-constructible parameters, mixin order, tag types), together with text
versions of the fitting checks: ``fit`` returns self and does not change the parameters, an
unfitted estimator raises ``NotFittedError``, a single class is a ``ValueError``, predictions
keep the order of the rows and match ``classes_``. Not claimed: sample weights (use the
``fit__class_weight`` key), pickling (the fitted model is its run folder: keep ``run_dir_``
and ``rnnlab.load_run`` it), numeric and sparse input, NaN checks, ``partial_fit``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.utils.validation import check_is_fitted

from ..config import Config, coerce_config
from .trainer import train

__all__ = ["DEFAULT_CONFIG", "RNNClassifier"]

# A small GRU that trains in seconds on a few thousand short texts (the default of
# RNNClassifier(); pass config= for a preset, a TOML file or your own dict).
DEFAULT_CONFIG: dict = {
    "name": "rnn_classifier",
    "text": {"num_words": 20000, "maxlen": 200},
    "model": {"embedding": {"dim": 32}, "layers": [{"type": "GRU", "units": 32}, {"type": "Dense"}]},
    "compile": {"optimizer": "adam", "learning_rate": 0.005},
    "fit": {"epochs": 5, "batch_size": 32},
}
_OWN = ("config", "runs_dir", "verbose")
TEXT, LABEL = "text", "label"


class RNNClassifier(ClassifierMixin, BaseEstimator):
    """A recurrent-network text classifier with the scikit-learn API.

    Args:
        config: the base config: a dict, a TOML path, a preset's path or a
            :class:`~rnnlab.config.Config`; default None = :data:`DEFAULT_CONFIG` (embedding 32,
            GRU 32, adam, 5 epochs, ``maxlen`` 200). Its ``[data]`` is replaced by ``X``, ``y``.
        runs_dir: the folder that gets one run folder per ``fit`` (``<name>``, ``<name>-2``…);
            default None = the config's ``runs_dir`` ('runs').
        verbose: training progress ('quiet', 'line', 'bar', 'auto'); default 'quiet'.
        **overrides: config keys with ``__`` for the dots, e.g. ``fit__epochs=2``,
            ``fit__threads=1``, ``text__maxlen=50``, ``seed=7``.

    Attributes:
        classes_: the classes, sorted (multi-label ``y``: the column indices).
        run_: the trained :class:`~rnnlab.runs.Run`.
        run_dir_: its folder.

    ``fit`` holds out ``data.validation_split`` (default 0.2, stratified, seeded) of the rows for
    validation, as ``rnnlab train`` does (early stopping and checkpoints monitor it).
    ``score`` is the accuracy for single-label ``y`` and the mean ROC AUC over the labels for
    multi-label ``y`` (an (n, k) array of 0/1).

    >>> clf = RNNClassifier(fit__epochs=2, fit__threads=1, runs_dir="runs")  # doctest: +SKIP
    >>> clf.fit(texts, labels).predict(["free entry to win a prize"])  # doctest: +SKIP
    """

    def __init__(self, config: Config | str | os.PathLike | dict | None = None, *, runs_dir: str | None = None,
                 verbose: str = "quiet", **overrides: Any):
        self.config = config
        self.runs_dir = runs_dir
        self.verbose = verbose
        self._overrides = dict(overrides)

    # ------------------------------------------------------------------ parameters
    def get_params(self, deep: bool = True) -> dict:
        """``config``, ``runs_dir``, ``verbose`` and every config key given (``fit__epochs``…)."""
        return {**{k: getattr(self, k) for k in _OWN}, **self._overrides}

    def set_params(self, **params: Any) -> "RNNClassifier":
        """Set parameters: ``config``, ``runs_dir``, ``verbose``, or any config key with ``__`` for
        the dots (checked when ``fit`` builds the config)."""
        for key, value in params.items():
            if key in _OWN:
                setattr(self, key, value)
            else:
                self._overrides[key] = value
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # one text per row, not a numeric matrix
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.classifier_tags.multi_label = True
        return tags

    def _config(self, task: str, labels: list[str], classes: list | None) -> Config:
        over = {"data.stratify": "auto"}  # a base config's stratify column is not among X, y's columns
        over.update({key.replace("__", "."): value for key, value in self._overrides.items()})
        over.update({"data.dataset": "table", "data.text_column": TEXT, "data.label_columns": labels,
                     "data.task": task, "data.classes": classes, "data.positive_class": None,
                     "data.id_column": None, "data.validation_path": None, "data.fold": None})
        if self.runs_dir is not None:
            over["runs_dir"] = os.fspath(self.runs_dir)
        base = DEFAULT_CONFIG if self.config is None else self.config
        if isinstance(base, Config):
            return base.replace(over)
        return coerce_config(base if isinstance(base, dict) else Path(base), over)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y) -> "RNNClassifier":
        """Train on the texts ``X`` and labels ``y`` into a new run folder.

        Args:
            X: the texts (a list, a 1-D array or a pandas Series of str).
            y: one label per text (any values: 2 classes train one sigmoid output, more a
                softmax), or an (n, k) array of 0/1 for k labels (multi-label).

        Returns:
            self.

        Raises:
            ValueError: fewer than two classes, or ``X`` and ``y`` of different lengths.
            ConfigError: an invalid config key or value.
            DataError: invalid texts (the row is named).
        """
        texts = _texts(X)
        y = np.asarray(y)
        if len(y) != len(texts):
            raise ValueError(f"X has {len(texts):,} texts but y has {len(y):,} labels; pass one label per text.")
        if y.ndim == 2:
            if not np.isin(y, (0, 1)).all():
                raise ValueError("a 2-D y is multi-label data and holds 0/1 only; for several classes pass one "
                                 "label per text (1-D y).")
            self.classes_ = np.arange(y.shape[1])
            labels = [f"{LABEL}_{j}" for j in range(y.shape[1])]
            cfg, columns = self._config("multilabel", labels, None), y.astype(np.int64)
        elif y.ndim == 1:
            self.classes_, codes = np.unique(y, return_inverse=True)
            if len(self.classes_) < 2:
                raise ValueError(f"RNNClassifier needs at least two classes in y; got one class: "
                                 f"{self.classes_.tolist()!r}.")
            binary = len(self.classes_) == 2
            cfg = self._config("binary" if binary else "multiclass", [LABEL],
                               None if binary else list(range(len(self.classes_))))
            columns = codes.astype(np.int64)
        else:
            raise ValueError(f"y has shape {y.shape}; pass one label per text or an (n, k) array of 0/1.")
        self.run_ = train(cfg, data=(texts, columns), verbose=self.verbose)
        self.run_dir_ = self.run_.dir
        self.multilabel_ = y.ndim == 2
        return self

    # ------------------------------------------------------------------ predicting
    def predict_proba(self, X) -> np.ndarray:
        """Probabilities: (n, n_classes) for single-label ``y`` (columns in ``classes_`` order),
        (n, k) per-label probabilities for multi-label ``y``."""
        check_is_fitted(self, "run_")
        out = np.asarray(self.run_.predict(_texts(X)), dtype=np.float64)
        if not self.multilabel_ and out.shape[1] == 1:
            out = np.hstack([1.0 - out, out])
        return out

    def predict(self, X) -> np.ndarray:
        """The most probable class (multi-label: 0/1 per label at probability 0.5)."""
        proba = self.predict_proba(X)
        if self.multilabel_:
            return (proba >= 0.5).astype(np.int64)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy for single-label ``y``; the mean ROC AUC over the labels for multi-label ``y``."""
        check_is_fitted(self, "run_")
        if self.multilabel_:
            return float(roc_auc_score(np.asarray(y), self.predict_proba(X), average="macro",
                                       sample_weight=sample_weight))
        return float(accuracy_score(y, self.predict(X), sample_weight=sample_weight))


def _texts(X) -> list[str]:
    """The texts of ``X``: a list, 1-D array, (n, 1) array/DataFrame or Series of str."""
    if isinstance(X, str):
        raise ValueError("X is one string; pass a list of texts (one per row).")
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:  # a one-column DataFrame
        if X.shape[1] != 1:
            raise ValueError(f"X has {X.shape[1]} columns; pass one column of texts.")
        X = X.iloc[:, 0]
    arr = np.asarray(X, dtype=object)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"X has shape {arr.shape}; RNNClassifier takes texts: a list or 1-D array of str.")
    return arr.tolist()
