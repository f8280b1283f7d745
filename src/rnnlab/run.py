"""A run folder: everything needed to use a trained model later, with no training state.

::

    runs/<name>/
      config.toml          the resolved config (every default filled in)
      labels.json          task and label names
      vocab.json           tokenizer settings and word index
      model.safetensors    final weights (the best epoch's with restore_best_weights)
      checkpoints/best.safetensors   weights of the best epoch (fit.checkpoint.monitor)
      history.csv          one row per epoch
      metrics.json         validation metrics of the final model (deterministic for a seed)
      validation_predictions.csv   id, true labels and outputs on the validation split
      run.json             versions, device, timings, status
      thresholds.json      per-label decision thresholds (``rnnlab thresholds``), optional
      manifest.json        sha256 and size of every file loading uses
      curves.png, lengths.png, log.txt

Weights are safetensors and everything else JSON/TOML/CSV: nothing is ever unpickled.
Every file is written atomically (temporary name, fsync, rename). Loading verifies
``manifest.json``: a modified, truncated or missing file is refused with the file's name.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import __version__
from ._io import atomic_path, sha256_file, write_json, write_text
from .config import Config, load_config
from .data.dataset import LabelSchema, TextDataset
from .errors import RunError
from .models import build_model
from .text.sequences import Sequences
from .text.tokenizer import Tokenizer
from .train.fit import predict_outputs
from .train.losses import Loss
from .train.metrics import compute_metrics

REQUIRED = ("config.toml", "labels.json")
MANIFEST = "manifest.json"
# what loading and serving read, and so what the manifest protects
PROTECTED = ("config.toml", "labels.json", "vocab.json", "model.safetensors", "baseline.json",
             "baseline.safetensors", "metrics.json", "thresholds.json", "ensemble.json", "ensemble.safetensors")


def write_manifest(folder: Path) -> None:
    """Record sha256 and size of every protected file present in ``folder``."""
    files = {name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size}
             for name in PROTECTED if (folder / name).exists()}
    write_json(folder / MANIFEST, {"rnnlab_version": __version__, "files": files})


def verify_manifest(folder: Path) -> None:
    """Refuse a run folder whose protected files differ from its manifest."""
    path = folder / MANIFEST
    if not path.exists():
        raise RunError(f"'{folder}' has no {MANIFEST}: training did not finish (resume it with "
                       f"`rnnlab train --resume {folder}`) or the folder was not written by rnnlab.")
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise RunError(f"'{path}' is damaged (not the JSON rnnlab writes); restore it or retrain.") from None
    for name in PROTECTED:
        if (folder / name).exists() and name not in files:
            raise RunError(f"'{folder / name}' is not in {MANIFEST}: the file was added after training; "
                           f"remove it or retrain.")
    for name, entry in files.items():
        file = folder / name
        if not file.exists():
            raise RunError(f"'{file}' is missing (listed in {MANIFEST}); restore it or retrain.")
        size = file.stat().st_size
        if size != entry.get("bytes") or sha256_file(file) != entry.get("sha256"):
            what = "truncated" if size < entry.get("bytes", 0) else "modified"
            raise RunError(f"'{file}' does not match {MANIFEST} (it was {what}: {size:,} bytes, sha256 differs); "
                           f"restore the original file or retrain. Nothing was loaded.")
REQUIRED_BY_TYPE = {"rnn": ("vocab.json", "model.safetensors"), "baseline": ("baseline.json", "baseline.safetensors"),
                    "ensemble": ("ensemble.json",)}


def save_weights(state: dict, path: Path) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})  # one key: the header bytes are reproducible


def load_weights(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunError(f"Cannot read the weights '{path}': {exc}. The file is damaged or not a "
                       f"safetensors file; retrain or restore it.") from None


def unique_run_dir(runs_dir: str | Path, name: str) -> Path:
    """``runs_dir/name``, or ``name-2``, ``name-3``… when taken."""
    base = Path(runs_dir)
    candidate = base / name
    k = 2
    while candidate.exists():
        candidate = base / f"{name}-{k}"
        k += 1
    return candidate


def write_history(path: Path, history: list[dict]) -> None:
    if not history:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    write_text(path, buf.getvalue())


class Run:
    """A trained model and its folder. ``Run.load(path)`` reads a folder; ``rnnlab.train``
    returns one. ``predict(texts)`` gives one probability (or output value) per label."""

    def __init__(self, path: str | Path, config: Config, schema: LabelSchema, tokenizer: Tokenizer | None,
                 vocab_size: int, model=None):
        self.dir = Path(path)
        self.config = config
        self.schema = schema
        self.tokenizer = tokenizer  # None for the linear baselines, which featurise texts themselves
        self.vocab_size = vocab_size
        self._model = model

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path) -> "Run":
        path = Path(path)
        if not path.is_dir():
            raise RunError(f"'{path}' is not a run folder (it does not exist or is a file). Pass the folder "
                           f"that `rnnlab train` printed, e.g. runs/jigsaw_lstm.")
        kind = ("ensemble" if (path / "ensemble.json").exists() else
                "baseline" if (path / "baseline.json").exists() else "rnn")
        missing = [f for f in (*REQUIRED, *REQUIRED_BY_TYPE[kind]) if not (path / f).exists()]
        if missing and not (path / MANIFEST).exists():
            hint = (f" Training may still be running, or was killed before it finished: continue it with "
                    f"`rnnlab train --resume {path}`." if (path / "config.toml").exists() else "")
            raise RunError(f"'{path}' is not a complete run folder: {', '.join(missing)} missing.{hint}")
        verify_manifest(path)
        try:
            labels = json.loads((path / "labels.json").read_text(encoding="utf-8"))
            vocab = json.loads((path / "vocab.json").read_text(encoding="utf-8")) if kind == "rnn" else None
            if kind == "ensemble":
                json.loads((path / "ensemble.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunError(f"'{path}': labels.json or vocab.json is not valid JSON ({exc}).") from None
        major = str(labels.get("rnnlab_version", "0")).split(".")[0]
        if major != __version__.split(".")[0]:
            raise RunError(f"'{path}' was written by rnnlab {labels.get('rnnlab_version')}; this is "
                           f"rnnlab {__version__}. Retrain the model with this version.")
        if kind == "ensemble":
            from .ensemble import EnsembleRun

            return EnsembleRun.load(path)
        config = load_config(path / "config.toml")
        schema = LabelSchema.from_dict(labels["schema"])
        if vocab is None:
            return cls(path, config, schema, None, 0)
        return cls(path, config, schema, Tokenizer.from_dict(vocab["tokenizer"]), int(vocab["vocab_size"]))

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
            from .models.baselines import LinearBaseline

            self._model = LinearBaseline.load(self.dir)
        if self._model is None:
            torch.manual_seed(0)
            model = build_model(self.config.model, vocab_size=self.vocab_size, maxlen=self.config.text.maxlen)
            state = load_weights(self.dir / "model.safetensors")
            try:
                model.load_state_dict(state, strict=True)
            except RuntimeError as exc:
                raise RunError(f"'{self.dir / 'model.safetensors'}' does not fit the model in config.toml "
                               f"({str(exc).splitlines()[0]}). The folder's files do not belong together.") from None
            model.eval()
            self._model = model
        return self._model

    @property
    def labels(self) -> list[str]:
        return list(self.schema.labels)

    def _json(self, name: str) -> dict:
        p = self.dir / name
        return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}

    @property
    def thresholds(self) -> dict[str, float] | None:
        """Per-label decision thresholds from thresholds.json, or None (then 0.5 applies)."""
        t = self._json("thresholds.json")
        return {k: float(v) for k, v in t["thresholds"].items()} if t else None

    def decide(self, outputs: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """0/1 decisions per label: ``threshold`` for every label, else the stored per-label
        thresholds, else 0.5."""
        if threshold is None and self.thresholds:
            t = np.asarray([self.thresholds.get(label, 0.5) for label in self.labels], dtype=np.float32)
        else:
            t = np.float32(0.5 if threshold is None else threshold)
        return (outputs >= t).astype(np.int8)

    @property
    def metrics(self) -> dict:
        return self._json("metrics.json")

    @property
    def info(self) -> dict:
        return self._json("run.json")

    @property
    def history(self) -> list[dict]:
        p = self.dir / "history.csv"
        if not p.exists():
            return []
        with open(p, newline="", encoding="utf-8") as fh:
            return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()}
                    for row in csv.DictReader(fh)]

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
        f = self.config.fit
        return None if f.bucketing else self.config.text.maxlen

    def predict(self, data: TextDataset | Sequence[str] | Sequences, batch_size: int = 1024) -> np.ndarray:
        """Outputs of the model, shape (n, outputs): per-label probabilities for sigmoid
        outputs, class probabilities for softmax. Batched by length, in inference mode."""
        if self.is_baseline:
            return self.model.predict(_texts(data))
        seqs = self._sequences(data)
        out, _ = predict_outputs(self.model, seqs, batch_size, self.config.text.padding, self._width(),
                                 torch.device("cpu"), self.config.fit.bucketing, maxlen=self.config.text.maxlen)
        return out

    def score(self, data: TextDataset, batch_size: int = 1024) -> tuple[np.ndarray, float]:
        """(model outputs, mean loss) on labelled ``data``."""
        if data.targets is None or data.schema is None:
            raise RunError(f"'{data.source}' has no labels to evaluate against.")
        if data.schema.labels != self.schema.labels or data.schema.task != self.schema.task:
            raise RunError(f"'{data.source}' has labels {data.schema.labels} ({data.schema.task}); the run was "
                           f"trained on {self.schema.labels} ({self.schema.task}).")
        if self.is_baseline:
            out = self.model.predict(_texts(data))
            return out, probability_loss(out, data.targets, self.schema)
        seqs = self._sequences(data)
        n_out = self.model.infos[-1].output_shape[-1]
        loss = Loss(self.config.compile.loss, n_out, self.schema.task)
        out, value = predict_outputs(self.model, seqs, batch_size, self.config.text.padding, self._width(),
                                     torch.device("cpu"), self.config.fit.bucketing, loss, data.targets,
                                     self.config.text.maxlen)
        return out, value

    def evaluate(self, data: TextDataset, batch_size: int = 1024) -> dict:
        """Loss and metrics (accuracy beside the majority baseline, AUC per label) on ``data``."""
        out, value = self.score(data, batch_size)
        return {"loss": value, **compute_metrics(self.schema, data.targets, out)}


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


def probability_loss(probs: np.ndarray, targets: np.ndarray, schema: LabelSchema) -> float:
    """Keras cross-entropy on predicted probabilities (binary per label; sparse categorical for
    multi-class), the loss reported for models that output probabilities directly."""
    name = "sparse_categorical_crossentropy" if schema.task == "multiclass" else "binary_crossentropy"
    loss = Loss(name, probs.shape[1], schema.task)
    return float(loss(torch.from_numpy(probs), torch.from_numpy(targets), logits=False).mean())


def write_predictions(path: Path, data: TextDataset, outputs: np.ndarray, schema: LabelSchema) -> None:
    """CSV of id, the true labels (``y_<label>``; multi-class: ``y``) and the model outputs
    (``p_<label>``) — what ROC curves and error analysis need."""
    import pandas as pd

    frame = pd.DataFrame({"id": data.ids})
    if schema.task == "multiclass":
        frame["y"] = [schema.labels[int(k)] for k in data.targets]
    else:
        for j, label in enumerate(schema.labels):
            frame[f"y_{label}"] = data.targets[:, j].astype(int)
    for j in range(outputs.shape[1]):
        name = schema.labels[j] if outputs.shape[1] == len(schema.labels) else str(j)
        frame[f"p_{name}"] = outputs[:, j]
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.6g")
    write_text(path, buf.getvalue())
