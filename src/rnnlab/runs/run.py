"""A trained model and its run folder: everything needed to use it later, with no training state.

``Run.load(path)`` verifies the folder's manifest (a modified, truncated or missing file is
refused by name) and opens an RNN run, a linear-baseline run, or — through the kinds
registered by subclasses — an ensemble run (:class:`~rnnlab.runs.ensemble.EnsembleRun`).
The network itself is built and its weights read on first use (:attr:`Run.model`).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np
import torch

from .._version import __version__
from ..config import Config, load_config
from ..data.dataset import LabelSchema, TextDataset
from ..engine import Loss, compute_metrics, predict_outputs, probability_loss
from ..engine import calibration as calib
from ..errors import RunError
from ..models import build_model
from ..text.sequences import Sequences
from ..text.tokenizer import Tokenizer
from .files import load_baseline, load_weights, read_history, read_json, read_vocab
from .folder import WEIGHTS, RunFolder
from .lifecycle import unfinished_error
from .manifest import recorded_bytes, verify_manifest

# run.json is not covered by the manifest (it only records versions, device and timings), so
# what is read from it is checked when it is read
_INFO_TYPES = {"rnnlab_version": str, "created_at": str, "status": str, "device": str,
               "duration_seconds": (int, float)}


class Run:
    """A trained model and its folder. ``Run.load(path)`` reads a folder; ``rnnlab.train``
    returns one. ``predict(texts)`` gives one probability (or output value) per label.

    Args:
        path: the run folder.
        config: its resolved config.
        schema: its labels.
        tokenizer: the fitted tokenizer; None for linear baselines and ensembles.
        vocab_size: the model's input size (0 without a tokenizer).
        model: the network (or LinearBaseline) when already in memory; default None = read
            from the folder on first use.
    """

    # folder kind -> class: a subclass declared with ``kind="..."`` registers itself and provides
    # ``open(folder, config, schema)``, called by :meth:`load` once the folder is verified
    kinds: ClassVar[dict[str, type["Run"]]] = {}

    def __init_subclass__(cls, kind: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if kind is not None:
            Run.kinds[kind] = cls

    def __init__(self, path: str | Path, config: Config, schema: LabelSchema, tokenizer: Tokenizer | None,
                 vocab_size: int, model=None):
        self.dir = Path(path)
        self.folder = RunFolder(self.dir)
        self.config = config
        self.schema = schema
        self.tokenizer = tokenizer  # None for the linear baselines, which featurise texts themselves
        self.vocab_size = vocab_size
        self._model = model

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path) -> "Run":
        """Open a run folder written by ``rnnlab train``, ``rnnlab blend`` or k-fold training.

        Args:
            path: the run folder.

        Returns:
            A :class:`Run` (an :class:`~rnnlab.runs.EnsembleRun` for blends and k-fold runs).

        Raises:
            RunError: not a run folder, an unfinished run, a file that differs from the
                manifest, or a run written by another major version of rnnlab.
        """
        folder = RunFolder(path)
        if not folder.path.is_dir():
            raise RunError(f"'{folder.path}' is not a run folder (it does not exist or is a file). Pass the folder "
                           f"that `rnnlab train` printed, e.g. runs/jigsaw_lstm.")
        if not folder.manifest.exists():
            raise unfinished_error(folder)  # names the one command that works (runs/lifecycle.py)
        verify_manifest(folder)
        kind = folder.kind
        labels = read_json(folder.labels, missing_ok=False)
        vocab = read_vocab(folder) if kind == "rnn" else None
        if kind == "ensemble":
            read_json(folder.ensemble, missing_ok=False)
        major = str(labels.get("rnnlab_version", "0")).split(".")[0]
        if major != __version__.split(".")[0]:
            raise RunError(f"'{folder.path}' was written by rnnlab {labels.get('rnnlab_version')}; this is "
                           f"rnnlab {__version__}. Retrain the model with this version.")
        config = load_config(folder.config)
        schema = LabelSchema.from_dict(labels["schema"])
        if kind in Run.kinds:
            return Run.kinds[kind].open(folder, config, schema)
        if vocab is None:
            return Run(folder.path, config, schema, None, 0)
        return Run(folder.path, config, schema, *vocab)

    @property
    def is_baseline(self) -> bool:
        return self.config.model.type != "rnn"

    @property
    def is_ensemble(self) -> bool:
        """True for runs made of member runs (``rnnlab blend``, ``fit.folds``)."""
        return False

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def model(self):
        """The trained network (an RnnClassifier), or the LinearBaseline of a baseline run."""
        if self._model is None and self.is_baseline:
            self._model = load_baseline(self.folder)
        if self._model is None:
            torch.manual_seed(0)
            model = build_model(self.config.model, vocab_size=self.vocab_size, maxlen=self.config.text.maxlen)
            state = load_weights(self.folder.weights, max_bytes=recorded_bytes(self.folder, WEIGHTS))
            try:
                model.load_state_dict(state, strict=True)
            except RuntimeError as exc:
                raise RunError(f"'{self.folder.weights}' does not fit the model in {self.folder.config.name} "
                               f"({str(exc).splitlines()[0]}). The folder's files do not belong together.") from None
            model.eval()
            self._model = model
        return self._model

    @property
    def labels(self) -> list[str]:
        return list(self.schema.labels)

    @property
    def thresholds(self) -> dict[str, float] | None:
        """Per-label decision thresholds from thresholds.json, or None (then 0.5 applies)."""
        t = read_json(self.folder.thresholds)
        return {k: float(v) for k, v in t["thresholds"].items()} if t else None

    @property
    def calibration(self) -> dict | None:
        """The stored calibration (calibration.json, ``rnnlab calibrate``), or None."""
        return read_json(self.folder.calibration) or None

    def calibrate(self, outputs: np.ndarray) -> np.ndarray:
        """``outputs`` (raw model probabilities) through the stored calibration; unchanged
        without one."""
        spec = self.calibration
        return outputs if spec is None else calib.apply(spec, outputs, self.labels)

    def decide(self, outputs: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """0/1 decisions per label: ``threshold`` for every label, else the stored per-label
        thresholds, else 0.5."""
        stored = self.thresholds if threshold is None else None  # thresholds.json read once per call
        if stored:
            t = np.asarray([stored.get(label, 0.5) for label in self.labels], dtype=np.float32)
        else:
            t = np.float32(0.5 if threshold is None else threshold)
        return (outputs >= t).astype(np.int8)

    @property
    def metrics(self) -> dict:
        """metrics.json: status, validation metrics, parameters, doctor findings."""
        return read_json(self.folder.metrics)

    @property
    def info(self) -> dict:
        """run.json: versions, device, timings ({} when absent).

        Raises:
            RunError: run.json is not a regular file, too large, not a JSON object, or a known
                key holds a value of the wrong type.
        """
        info = read_json(self.folder.info)
        for key, types in _INFO_TYPES.items():
            value = info.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
                what = "a string" if types is str else "a number"
                raise RunError(f"'{self.folder.info}': '{key}' must be {what}, got {_short(value)}; restore "
                               f"it, or delete it (it only records versions and timings).")
        return info

    @property
    def history(self) -> list[dict]:
        """history.csv: one dict per epoch."""
        return read_history(self.folder)

    # ------------------------------------------------------------------ using
    def encode(self, texts: Sequence[str]) -> Sequences:
        """Token ids as the model saw them in training (tokenized, truncated to maxlen)."""
        return self.tokenizer.encode(list(texts)).truncate(self.config.text.maxlen, self.config.text.truncating)

    def _sequences(self, data: TextDataset | Sequence[str] | Sequences) -> Sequences:
        if isinstance(data, Sequences):
            return data.truncate(self.config.text.maxlen, self.config.text.truncating)
        if isinstance(data, TextDataset):
            if data.sequences is not None:
                return data.sequences.truncate(self.config.text.maxlen, self.config.text.truncating)
            return self.encode(data.texts)
        if isinstance(data, str):
            raise TypeError("predict() takes a list of texts, not one string: use predict([text]).")
        return self.encode(list(data))

    def _width(self):
        return None if self.config.fit.bucketing else self.config.text.maxlen

    def predict(self, data: TextDataset | Sequence[str] | Sequences, batch_size: int = 1024,
                raw: bool = False) -> np.ndarray:
        """Outputs of the model, batched by length, in inference mode; calibrated when the run
        stores a calibration (``rnnlab calibrate``: calibration.json).

        Args:
            data: a list of texts, a :class:`~rnnlab.data.TextDataset`, or token ids
                (:class:`~rnnlab.text.Sequences`, RNN runs only).
            batch_size: rows per forward pass; default 1024.
            raw: return the network's own outputs, without the stored calibration; default False.

        Returns:
            (n, outputs) float32: per-label probabilities for sigmoid outputs, class
            probabilities for softmax (calibrated unless ``raw`` or the run has none).

        Raises:
            TypeError: ``data`` is one string (pass ``[text]``).
            RunError: token ids given to a linear baseline.
        """
        if self.is_baseline:
            out = self.model.predict(_texts(data))
        else:
            seqs = self._sequences(data)
            out, _ = predict_outputs(self.model, seqs, batch_size, self.config.text.padding, self._width(),
                                     torch.device("cpu"), self.config.fit.bucketing, maxlen=self.config.text.maxlen,
                                     threads=self.config.fit.threads)
        return out if raw else self.calibrate(out)

    def score(self, data: TextDataset, batch_size: int = 1024) -> tuple[np.ndarray, float]:
        """(model outputs, mean loss) on labelled ``data``; with a stored calibration, the
        calibrated probabilities and their cross-entropy.

        Raises:
            RunError: ``data`` has no labels, or other labels than the run.
        """
        check_labels(self, data)
        if self.is_baseline or self.calibration is not None:
            out = self.predict(data, batch_size)
            return out, probability_loss(out, data.targets, self.schema)
        seqs = self._sequences(data)
        n_out = self.model.infos[-1].output_shape[-1]
        loss = Loss(self.config.compile.loss, n_out, self.schema.task)
        out, value = predict_outputs(self.model, seqs, batch_size, self.config.text.padding, self._width(),
                                     torch.device("cpu"), self.config.fit.bucketing, loss, data.targets,
                                     self.config.text.maxlen, threads=self.config.fit.threads)
        return out, value

    def evaluate(self, data: TextDataset, batch_size: int = 1024) -> dict:
        """Loss and metrics (accuracy beside the majority baseline, AUC per label) on ``data``.

        Args:
            data: labelled data (e.g. ``rnnlab.data.load_for_run(run.config, path)``).
            batch_size: rows per forward pass; default 1024.

        Returns:
            The metrics dict (``loss``, ``accuracy``, ``majority_accuracy``, ``auc``,
            ``auc_per_label``, …) as in metrics.json, with ``ece_per_label`` and ``ece`` (their
            mean; :mod:`rnnlab.engine.calibration`: 15 equal-width bins, count-weighted) and
            ``calibrated`` (whether a stored calibration was applied).

        Raises:
            RunError: ``data`` has no labels, or other labels than the run.
        """
        return self.scored(data, batch_size)[0]

    def scored(self, data: TextDataset, batch_size: int = 1024) -> tuple[dict, np.ndarray]:
        """(:meth:`evaluate`'s metrics, the outputs they were computed on)."""
        out, value = self.score(data, batch_size)
        m = {"loss": value, **compute_metrics(self.schema, data.targets, out)}
        width = (len(self.labels), 2) if self.schema.task == "binary" else (len(self.labels),)
        if np.isfinite(out).all() and out.shape[1] in width:
            ece = calib.ece_per_label(self.schema.task, self.labels, data.targets, out)
            m["ece_per_label"], m["ece"] = ece, float(np.mean(list(ece.values())))
        m["calibrated"] = self.calibration is not None
        return m, out


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_labels(run: Run, data: TextDataset) -> None:
    """Refuse unlabelled ``data`` or data with other labels than the run's."""
    if data.targets is None or data.schema is None:
        raise RunError(f"'{data.source}' has no labels to evaluate against.")
    if data.schema.labels != run.schema.labels or data.schema.task != run.schema.task:
        raise RunError(f"'{data.source}' has labels {data.schema.labels} ({data.schema.task}); the run was "
                       f"trained on {run.schema.labels} ({run.schema.task}).")


def _texts(data) -> list[str]:
    if isinstance(data, TextDataset):
        if data.texts is None:
            raise RunError(f"'{data.source}' holds token ids, not texts; a linear baseline needs texts.")
        return data.texts
    if isinstance(data, str):
        raise TypeError("predict() takes a list of texts, not one string: use predict([text]).")
    if isinstance(data, Sequences):
        raise RunError("A linear baseline scores texts, not token ids.")
    return list(data)
