"""The two strong linear baselines every comparison table shows beside the RNNs.

- ``tfidf_lr``: TF-IDF features (word n-grams and character n-grams, side by side) and one
  logistic regression per label (multi-class: one multinomial logistic regression).
- ``nbsvm``: Wang & Manning's NB-SVM as in the Kaggle Jigsaw "NB-SVM strong linear baseline":
  the same TF-IDF features scaled per label by the naive-Bayes log-count ratios
  ``r = log((p / ||p||_1) / (q / ||q||_1))`` (``p``/``q``: 1 + the feature sums of the positive/
  negative rows), then a logistic regression per label. Multi-class: one-vs-rest, each row
  renormalised to sum to 1.

scikit-learn does the fitting: liblinear in its dual form (as in the Kaggle kernel; the same L2
problem as the primal, several times faster on text where features outnumber rows) for each
binary problem (on float64 features, which liblinear requires), lbfgs for the multinomial one (on
the float32 features). A saved baseline is its metadata as JSON (kind, seed, options, label
schema, vectorizer settings and vocabularies, notes) and its arrays as safetensors (idf weights,
coefficients, intercepts, NB ratios, priors): :meth:`LinearBaseline.to_state`; no pickle. Predictions are computed from
those arrays with scipy.sparse, so a loaded model predicts exactly what the fitted one did.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from ..config import BaselineConfig, validate_baseline
from ..data.dataset import LabelSchema
from ..errors import DataError, RunError, param_error

KINDS = ("tfidf_lr", "nbsvm")
CHAR_ANALYZER = "char_wb"  # character n-grams inside word boundaries (padded with spaces)
NB_ALPHA = 1.0
FORMAT = 1


def vectorizer_settings(options: BaselineConfig) -> dict[str, dict]:
    """TfidfVectorizer arguments of the word and character blocks that ``options`` turns on."""
    common = {"lowercase": True, "strip_accents": "unicode", "sublinear_tf": options.sublinear_tf}
    blocks = {}
    if options.word_ngrams:
        blocks["word"] = {"analyzer": "word", "token_pattern": r"(?u)\b\w+\b",
                          "ngram_range": list(options.word_ngrams), "max_features": options.word_max_features,
                          **common}
    if options.char_ngrams:
        blocks["char"] = {"analyzer": CHAR_ANALYZER, "ngram_range": list(options.char_ngrams),
                          "max_features": options.char_max_features, **common}
    return blocks


def _vectorizer(settings: dict, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(**{**settings, "ngram_range": tuple(settings["ngram_range"])}, vocabulary=vocabulary,
                           dtype=np.float32)


def nb_ratios(X: sp.csr_matrix, y: np.ndarray, alpha: float = NB_ALPHA) -> np.ndarray:
    """NB log-count ratios of one 0/1 label ``y`` over the rows of ``X`` (float64, one per column)."""
    p = alpha + np.asarray(X[y == 1].sum(axis=0), dtype=np.float64).ravel()
    q = alpha + np.asarray(X[y == 0].sum(axis=0), dtype=np.float64).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


class LinearBaseline:
    """A TF-IDF linear text classifier: ``tfidf_lr`` or ``nbsvm`` (see the module docstring).

    Args:
        kind: ``"tfidf_lr"`` or ``"nbsvm"``.
        options: a :class:`~rnnlab.config.BaselineConfig` (default ``BaselineConfig()``: C=4,
            word 1-2-grams and character 2-5-grams, 50,000 of each, sublinear tf, max_iter=1000).
        seed: ``random_state`` of the liblinear solver (default 0); a fit is deterministic.

    After :meth:`fit` (or :meth:`from_state`): ``schema``, ``vectorizers`` (block name -> fitted
    ``TfidfVectorizer``), ``coef_`` (n_outputs, n_features) and ``intercept_`` (n_outputs,)
    float64, ``r_`` (NB ratios, same shape as ``coef_``; ``None`` for tfidf_lr), ``prior_``
    (training rate of each output), ``fitted_`` (False where an output predicts its prior), and
    ``notes`` (what the fit had to do: constant labels, solver not converged).
    """

    def __init__(self, kind: str, options: BaselineConfig | None = None, seed: int = 0):
        if kind not in KINDS:
            raise param_error("model.type", "'tfidf_lr' or 'nbsvm' for a linear baseline", kind)
        self.kind = kind
        self.options = options or BaselineConfig()
        validate_baseline(self.options)
        self.seed = seed
        self.notes: list[str] = []

    # ----------------------------------------------------------------------------- fitting
    def fit(self, texts: list[str], targets: np.ndarray, schema: LabelSchema,
            sample_weight: np.ndarray | None = None) -> "LinearBaseline":
        """Fit the vectorizers on ``texts`` and the logistic regressions on ``targets``.

        Args:
            texts: the training texts.
            targets: (n, k) 0/1 floats for binary/multi-label, (n,) int class ids for multi-class.
            schema: what the targets mean.
            sample_weight: scikit-learn sample weights of the rows (class weights): (n,) for
                every regression, or (n, k) with one column per label's regression; default
                None (unweighted). The NB ratios of ``nbsvm`` stay unweighted.

        Returns:
            ``self``, fitted.
        """
        onehot = _onehot_targets(targets, schema, len(texts))
        weights = _weight_columns(sample_weight, onehot.shape)
        self.schema, self.notes = schema, []
        self.vectorizers = {name: _vectorizer(s) for name, s in vectorizer_settings(self.options).items()}
        X = self._fit_features(texts)
        k, d = onehot.shape[1], X.shape[1]
        self.coef_, self.intercept_ = np.zeros((k, d)), np.zeros(k)
        self.r_ = np.zeros((k, d)) if self.kind == "nbsvm" else None
        self.prior_ = onehot.mean(axis=0, dtype=np.float64)
        self.fitted_ = np.zeros(k, dtype=bool)
        if schema.task == "multiclass" and self.kind == "tfidf_lr":
            self._fit_multinomial(X, np.asarray(targets, dtype=np.int64), None if weights is None else weights[0])
            return self
        X = X.astype(np.float64)  # liblinear works in float64: convert once, not once per label
        for j, label in enumerate(schema.labels):
            y = onehot[:, j]
            if y.min() == y.max():
                self.notes.append(f"{label!r} is {int(y[0])} in every training row: it predicts {int(y[0])} for "
                                  f"every text (no model fitted).")
                continue
            Xj = X
            if self.r_ is not None:
                self.r_[j] = nb_ratios(X, y)
                Xj = X.multiply(self.r_[j]).tocsr()
            lr = self._logistic_regression(Xj, y, "liblinear", label, None if weights is None else weights[j])
            self.coef_[j], self.intercept_[j], self.fitted_[j] = lr.coef_[0], lr.intercept_[0], True
        return self

    def _fit_features(self, texts: list[str]) -> sp.csr_matrix:
        blocks = []
        for name, vectorizer in self.vectorizers.items():
            try:
                blocks.append(vectorizer.fit_transform(texts))
            except ValueError as exc:  # "empty vocabulary; perhaps the documents only contain stop words"
                raise DataError(f"The {name} TF-IDF features of the {len(texts)} training texts are empty ({exc}). "
                                f"Check the text column, or turn the {name} features off with "
                                f"model.baseline.{name}_ngrams = [].") from None
        return sp.hstack(blocks, format="csr")

    def _fit_multinomial(self, X: sp.csr_matrix, classes: np.ndarray, sample_weight: np.ndarray | None) -> None:
        labels = self.schema.labels
        present = np.unique(classes)
        for c in sorted(set(range(len(labels))) - set(present.tolist())):
            self.notes.append(f"class {labels[c]!r} has no training rows: its probability is 0 for every text.")
        if len(present) < 2:
            self.notes.append(f"only class {labels[present[0]]!r} occurs in training: it gets probability 1 for "
                              f"every text (no model fitted).")
            return
        lr = self._logistic_regression(X, classes, "lbfgs", "the multinomial model", sample_weight)
        coef, intercept = lr.coef_, lr.intercept_
        if len(present) == 2:  # scikit-learn keeps one row for two classes: softmax([0, s]) == sigmoid(s)
            coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
        self.coef_[present], self.intercept_[present], self.fitted_[present] = coef, intercept, True

    def _logistic_regression(self, X, y, solver: str, label: str, sample_weight: np.ndarray | None = None
                             ) -> LogisticRegression:
        lr = LogisticRegression(C=self.options.c, max_iter=self.options.max_iter, solver=solver,
                                dual=solver == "liblinear", random_state=self.seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lr.fit(X, y, sample_weight=sample_weight)
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                self.notes.append(f"{label}: the {solver} solver stopped at max_iter={self.options.max_iter} "
                                  f"before converging; raise model.baseline.max_iter.")
            else:
                warnings.warn(w.message, w.category, stacklevel=3)
        return lr

    # ----------------------------------------------------------------------------- predicting
    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """The (n, n_features) float32 TF-IDF matrix of ``texts`` (word block, then char block)."""
        self._check_fitted()
        return sp.hstack([v.transform(texts) for v in self.vectorizers.values()], format="csr")

    def predict(self, texts: list[str]) -> np.ndarray:
        """(n, n_outputs) float32 probabilities, columns in the order of ``schema.labels``."""
        X = self.transform(texts)
        probs = np.tile(self.prior_, (X.shape[0], 1))
        f = self.fitted_
        if not f.any():
            return probs.astype(np.float32)
        weights = self.coef_[f] if self.r_ is None else self.coef_[f] * self.r_[f]
        scores = np.asarray(X @ weights.T) + self.intercept_[f]
        multiclass = self.schema.task == "multiclass"
        probs[:, f] = softmax(scores, axis=1) if multiclass and self.kind == "tfidf_lr" else expit(scores)
        if multiclass and self.kind == "nbsvm":
            probs /= probs.sum(axis=1, keepdims=True)
        return probs.astype(np.float32)

    @property
    def n_params(self) -> int:
        """Learned coefficients + intercepts of the fitted logistic regressions (NB ratios and
        idf weights are not counted)."""
        self._check_fitted()
        return int(self.fitted_.sum()) * (self.coef_.shape[1] + 1)

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise RuntimeError(f"This {self.kind} baseline is not fitted: call fit(texts, targets, schema) or "
                               f"LinearBaseline.from_state(...) first.")

    # ----------------------------------------------------------------------------- state
    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """What a saved baseline holds: (JSON-ready metadata, named arrays). The run folder
        writes them as safetensors + JSON (:mod:`rnnlab.runs.files`); nothing is pickled."""
        self._check_fitted()
        arrays = {"coef": self.coef_, "intercept": self.intercept_, "prior": self.prior_,
                  "fitted": self.fitted_.astype(np.uint8)}
        if self.r_ is not None:
            arrays["r"] = self.r_
        vectorizers = {}
        for name, v in self.vectorizers.items():
            arrays[f"{name}_idf"] = v.idf_
            vectorizers[name] = {"settings": vectorizer_settings(self.options)[name],
                                 "vocabulary": sorted(v.vocabulary_, key=v.vocabulary_.get)}
        meta = {"format": FORMAT, "kind": self.kind, "seed": self.seed, "options": dataclasses.asdict(self.options),
                "schema": self.schema.to_dict(), "notes": self.notes, "vectorizers": vectorizers}
        return meta, {k: np.ascontiguousarray(a) for k, a in arrays.items()}

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray], source: str = "the baseline") -> "LinearBaseline":
        """The baseline :meth:`to_state` described; it predicts exactly as the saved one.

        Args:
            meta: the metadata dict.
            arrays: the named arrays.
            source: where ``meta`` was read from, for messages.

        Raises:
            RunError: ``meta`` has another format version.
        """
        if meta.get("format") != FORMAT:
            raise RunError(f"'{source}' has format {meta.get('format')!r}; this rnnlab reads format "
                           f"{FORMAT}. Refit the baseline with this version.")
        model = cls(meta["kind"], BaselineConfig(**meta["options"]), seed=meta["seed"])
        model.schema, model.notes = LabelSchema.from_dict(meta["schema"]), list(meta["notes"])
        model.vectorizers = {}
        for name, v in meta["vectorizers"].items():
            vectorizer = _vectorizer(v["settings"], vocabulary={t: i for i, t in enumerate(v["vocabulary"])})
            vectorizer.idf_ = arrays[f"{name}_idf"]
            model.vectorizers[name] = vectorizer
        model.coef_, model.intercept_, model.prior_ = arrays["coef"], arrays["intercept"], arrays["prior"]
        model.fitted_ = arrays["fitted"].astype(bool)
        model.r_ = arrays.get("r")
        return model


def _weight_columns(sample_weight: np.ndarray | None, shape: tuple[int, int]) -> list[np.ndarray] | None:
    """The sample weights of each output's regression (one column each), or None.

    Raises:
        DataError: weights that are not one per row (and per output), or not all > 0.
    """
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == 1:
        w = np.repeat(w[:, None], shape[1], axis=1)
    if w.shape != shape or not (w > 0).all():
        raise DataError(f"sample_weight must be (n,) or (n, {shape[1]}) weights > 0 for {shape[0]} rows; got shape "
                        f"{np.shape(sample_weight)}.")
    return [w[:, j] for j in range(shape[1])]


def _onehot_targets(targets: np.ndarray, schema: LabelSchema, n_texts: int) -> np.ndarray:
    """Check ``targets`` against ``schema`` and return them as an (n, n_outputs) 0/1 float64 array."""
    targets = np.asarray(targets)
    k = schema.n_outputs
    if len(targets) != n_texts:
        raise DataError(f"Got {n_texts} texts but {len(targets)} targets; pass one target row per text.")
    if n_texts == 0:
        raise DataError("Got no training texts; a baseline needs at least one labelled row per class.")
    if schema.task == "multiclass":
        if targets.ndim != 1 or not np.issubdtype(targets.dtype, np.integer) or targets.min() < 0 or targets.max() >= k:
            raise DataError(f"Multi-class targets must be an (n,) array of int class ids in [0, {k}); got shape "
                            f"{targets.shape}, dtype {targets.dtype}, values {np.unique(targets)[:5].tolist()}. "
                            f"Pass TextDataset.targets of a multi-class schema.")
        return np.eye(k)[targets]
    if targets.shape != (n_texts, k) or not np.isin(targets, (0, 1)).all():
        raise DataError(f"{schema.task} targets must be an ({n_texts}, {k}) array of 0/1 (one column per label "
                        f"{schema.labels}); got shape {targets.shape} with values {np.unique(targets)[:5].tolist()}.")
    return targets.astype(np.float64)
