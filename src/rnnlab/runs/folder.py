"""The run-folder contract: the one place that names the files of a run folder.

::

    runs/<name>/
      config.toml          the resolved config (every default filled in)
      labels.json          task and label names
      vocab.json           tokenizer settings and word index (RNN runs)
      model.safetensors    final weights (the best epoch's with restore_best_weights)
      baseline.json, baseline.safetensors    a linear baseline (instead of vocab + model)
      ensemble.json, ensemble.safetensors    a blend or k-fold run: members and method
      members/<i>-<name>/, folds/fold-<i>/   the member runs of an ensemble, complete run folders
      checkpoints/best.safetensors           weights of the best epoch (fit.checkpoint.monitor)
      checkpoints/epoch-<N>.safetensors      every epoch's weights (save_best_only = false)
      checkpoints/last.json, last-<N>*.safetensors   resume state of an unfinished run
      history.csv          one row per epoch
      metrics.json         validation metrics of the final model (deterministic for a seed)
      validation_predictions.csv   id, true labels and outputs on the validation split
      train_rows.safetensors       64-bit hashes of the training rows' texts (and ids), sorted
                                   (``rnnlab evaluate`` warns when it scores training rows)
      run.json             versions, device, timings, status
      thresholds.json      per-label decision thresholds (``rnnlab thresholds``), optional
      calibration.json     per-label temperature / Platt scaling (``rnnlab calibrate``), optional
      evaluation-<data>.json, reliability-<data>.png   ``rnnlab evaluate`` results
      MODEL_CARD.md        the model card (written at the end of training, rewritten by evaluate,
                           calibrate and thresholds; documentation, not covered by the manifest)
      manifest.json        sha256 and size of every file loading uses
      curves.png, lengths.png, log.txt
      tracking.json        the MLflow run this run logs to (track.mlflow): a resumed run continues it
      tensorboard/         TensorBoard event files (track.tensorboard)

No module outside :mod:`rnnlab.runs` spells one of these names: they use :class:`RunFolder`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONFIG = "config.toml"
LABELS = "labels.json"
VOCAB = "vocab.json"
WEIGHTS = "model.safetensors"
BASELINE = "baseline.json"
BASELINE_WEIGHTS = "baseline.safetensors"
ENSEMBLE = "ensemble.json"
ENSEMBLE_REFERENCES = "ensemble.safetensors"
METRICS = "metrics.json"
THRESHOLDS = "thresholds.json"
CALIBRATION = "calibration.json"
CARD = "MODEL_CARD.md"
MANIFEST = "manifest.json"
HISTORY = "history.csv"
PREDICTIONS = "validation_predictions.csv"
INFO = "run.json"
LOG = "log.txt"
CURVES = "curves.png"
LENGTHS = "lengths.png"
CHECKPOINTS = "checkpoints"
BEST = "best.safetensors"
RESUME_STATE = "last.json"
TRAIN_ROWS = "train_rows.safetensors"
MEMBERS = "members"
FOLDS = "folds"
TRACKING = "tracking.json"
TENSORBOARD = "tensorboard"

# what loading and serving read, and so what the manifest protects
PROTECTED = (CONFIG, LABELS, VOCAB, WEIGHTS, BASELINE, BASELINE_WEIGHTS, METRICS, THRESHOLDS, ENSEMBLE,
             ENSEMBLE_REFERENCES, CALIBRATION, TRAIN_ROWS)
REQUIRED = (CONFIG, LABELS)
REQUIRED_BY_KIND = {"rnn": (VOCAB, WEIGHTS), "baseline": (BASELINE, BASELINE_WEIGHTS), "ensemble": (ENSEMBLE,)}


@dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder (nothing is read or written here).

    Args:
        path: the folder; it need not exist yet.
    """

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    def __fspath__(self) -> str:  # RunFolder(folder) and Path(folder) accept a RunFolder too
        return os.fspath(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def kind(self) -> str:
        """'ensemble', 'baseline' or 'rnn', from the files present."""
        if (self.path / ENSEMBLE).exists():
            return "ensemble"
        return "baseline" if (self.path / BASELINE).exists() else "rnn"

    @property
    def ensemble_owner(self) -> "RunFolder | None":
        """The ensemble folder this run is a member of (``<ensemble>/members/…`` or
        ``<ensemble>/folds/fold-K``), or None."""
        parent = self.path.resolve().parent
        if parent.name in (MEMBERS, FOLDS) and (parent.parent / ENSEMBLE).exists():
            return RunFolder(parent.parent)
        return None

    def missing(self) -> list[str]:
        """The files this kind of run needs to be loaded that are absent."""
        return [f for f in (*REQUIRED, *REQUIRED_BY_KIND[self.kind]) if not (self.path / f).exists()]

    # ------------------------------------------------------------------ files
    config = property(lambda self: self.path / CONFIG)
    labels = property(lambda self: self.path / LABELS)
    vocab = property(lambda self: self.path / VOCAB)
    weights = property(lambda self: self.path / WEIGHTS)
    baseline = property(lambda self: self.path / BASELINE)
    baseline_weights = property(lambda self: self.path / BASELINE_WEIGHTS)
    ensemble = property(lambda self: self.path / ENSEMBLE)
    ensemble_references = property(lambda self: self.path / ENSEMBLE_REFERENCES)
    metrics = property(lambda self: self.path / METRICS)
    thresholds = property(lambda self: self.path / THRESHOLDS)
    calibration = property(lambda self: self.path / CALIBRATION)
    card = property(lambda self: self.path / CARD)
    manifest = property(lambda self: self.path / MANIFEST)
    history = property(lambda self: self.path / HISTORY)
    predictions = property(lambda self: self.path / PREDICTIONS)
    info = property(lambda self: self.path / INFO)
    log = property(lambda self: self.path / LOG)
    curves = property(lambda self: self.path / CURVES)
    lengths = property(lambda self: self.path / LENGTHS)
    tracking = property(lambda self: self.path / TRACKING)
    tensorboard = property(lambda self: self.path / TENSORBOARD)

    def tracked_files(self, *, model: bool = False) -> list[tuple[Path, str]]:
        """The files an experiment tracker stores, as (path, folder inside the tracked run's
        artifacts; '' = the top): the plots, metrics, config, manifest, history, log and run.json;
        with ``model`` (default False) also every other file of the folder under ``run/``, so a
        downloaded ``run/`` loads with ``rnnlab.load_run``. Only files present; never the tracker's
        own files (tracking.json, tensorboard/)."""
        names = (CURVES, LENGTHS, METRICS, CONFIG, MANIFEST, HISTORY, LOG, INFO)
        files = [(self.path / n, "") for n in names if (self.path / n).is_file()]
        if model:
            for p in sorted(self.path.rglob("*")):
                rel = p.relative_to(self.path)
                if p.is_file() and not p.is_symlink() and rel.parts[0] not in (TRACKING, TENSORBOARD) \
                        and not rel.name.startswith("."):
                    files.append((p, "/".join(("run", *rel.parts[:-1]))))
        return files
    train_rows = property(lambda self: self.path / TRAIN_ROWS)

    def evaluation(self, data: str | os.PathLike) -> Path:
        """Where ``rnnlab evaluate`` writes its metrics on the file ``data``."""
        return self.path / f"evaluation-{Path(data).name.split('.')[0]}.json"

    def reliability(self, data: str | os.PathLike) -> Path:
        """Where ``rnnlab evaluate`` draws the reliability diagrams on the file ``data``."""
        return self.path / f"reliability-{Path(data).name.split('.')[0]}.png"

    def evaluations(self) -> list[Path]:
        """Every ``evaluation-<data>.json`` present, by name."""
        return sorted(self.path.glob("evaluation-*.json"))

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def best(self) -> Path:
        """Weights of the best epoch so far."""
        return self.checkpoints / BEST

    def epoch_weights(self, epoch: int) -> Path:
        """Weights after ``epoch`` (``fit.checkpoint.save_best_only = false``)."""
        return self.checkpoints / f"epoch-{epoch}.safetensors"

    @property
    def resume_state(self) -> Path:
        """The JSON naming the resume files of the last finished epoch."""
        return self.checkpoints / RESUME_STATE

    @staticmethod
    def resume_name(epoch: int, part: str | None = None) -> str:
        """File name (inside checkpoints/) of one part of the resume state after ``epoch``:
        the weights (part None), 'state' (optimizer and RNG) or 'restore' (best weights)."""
        return f"last-{epoch}.safetensors" if part is None else f"last-{epoch}-{part}.safetensors"

    def resume_files(self) -> list[Path]:
        """Every resume weights file present."""
        return sorted(self.checkpoints.glob("last-*.safetensors"))

    # ------------------------------------------------------------------ members
    @staticmethod
    def member_name(index: int, name: str) -> str:
        """Relative path of the ``index``-th (from 1) member of a blend."""
        return f"{MEMBERS}/{index}-{name}"

    @staticmethod
    def fold_name(index: int) -> str:
        """Relative path of fold ``index`` (from 1) of a k-fold run."""
        return f"{FOLDS}/fold-{index}"

    def fold(self, index: int) -> "RunFolder":
        return RunFolder(self.path / self.fold_name(index))


def unique_run_dir(runs_dir: str | os.PathLike, name: str) -> Path:
    """``runs_dir/name``, or ``name-2``, ``name-3``… when taken."""
    base = Path(runs_dir)
    candidate = base / name
    k = 2
    while candidate.exists():
        candidate = base / f"{name}-{k}"
        k += 1
    return candidate
