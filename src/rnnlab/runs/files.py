"""Reading and writing the files of a run folder: weights as safetensors, the rest JSON / CSV.

Every write is atomic (temporary name, fsync, rename); nothing is ever pickled or unpickled.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_numpy, save_file as save_numpy
from safetensors.torch import load_file as load_torch, save_file as save_torch

from .._io import atomic_path, write_json, write_text
from .._version import __version__
from ..data.dataset import LabelSchema
from ..errors import RunError
from ..models.baselines import LinearBaseline
from ..text.tokenizer import Tokenizer
from .folder import RunFolder


# ------------------------------------------------------------------------------ weights
def save_weights(state: dict, path: Path) -> None:
    """Write a dict of tensors as safetensors (reproducible header bytes)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    with atomic_path(path) as tmp:
        save_torch(tensors, str(tmp), metadata={"format": "pt"})  # one key: the header bytes are reproducible


def load_weights(path: Path) -> dict:
    """The tensors of a safetensors file.

    Raises:
        RunError: the file is missing, damaged or not safetensors.
    """
    try:
        return load_torch(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunError(f"Cannot read the weights '{path}': {exc}. The file is damaged or not a "
                       f"safetensors file; retrain or restore it.") from None


# ------------------------------------------------------------------------------ JSON
def read_json(path: Path) -> dict:
    """A JSON file of the run folder, or {} when it is absent."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def write_labels(folder: RunFolder, schema: LabelSchema) -> None:
    write_json(folder.labels, {"rnnlab_version": __version__, "schema": schema.to_dict()})


def write_vocab(folder: RunFolder, tokenizer: Tokenizer, vocab_size: int) -> None:
    """The tokenizer (settings and word index) and the model's input size."""
    write_json(folder.vocab, {"vocab_size": vocab_size, "tokenizer": tokenizer.to_dict()})


def read_vocab(folder: RunFolder) -> tuple[Tokenizer, int]:
    """(tokenizer, model input size) of an RNN run."""
    vocab = json.loads(folder.vocab.read_text(encoding="utf-8"))
    return Tokenizer.from_dict(vocab["tokenizer"]), int(vocab["vocab_size"])


# ------------------------------------------------------------------------------ linear baselines
def save_baseline(folder: RunFolder | str | os.PathLike, model: LinearBaseline) -> None:
    """A fitted linear baseline: its arrays as safetensors, then its metadata as JSON."""
    folder = RunFolder(folder)
    meta, arrays = model.to_state()
    with atomic_path(folder.baseline_weights) as tmp:
        save_numpy(arrays, str(tmp))
    write_json(folder.baseline, meta)


def load_baseline(folder: RunFolder | str | os.PathLike) -> LinearBaseline:
    """The baseline :func:`save_baseline` wrote; it predicts exactly as the saved one.

    Raises:
        RunError: a file is missing, the JSON is invalid, or the format version differs.
    """
    folder = RunFolder(folder)
    meta_file, weights_file = folder.baseline, folder.baseline_weights
    for file in (meta_file, weights_file):
        if not file.is_file():
            raise RunError(f"'{folder.path}' has no {file.name}; it is not a saved linear baseline (expected "
                           f"{meta_file.name} and {weights_file.name} written by rnnlab).")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunError(f"'{meta_file}' is not valid JSON ({exc}); refit and save the baseline again.") from None
    return LinearBaseline.from_state(meta, load_numpy(str(weights_file)), source=str(meta_file))


# ------------------------------------------------------------------------------ ensembles
def write_ensemble(folder: RunFolder, members: list[tuple[str, float]], method: str,
                   references: list[np.ndarray] | None) -> None:
    """The members (relative paths) with their weights and the method; for rank blends also
    each member's sorted validation scores."""
    write_json(folder.ensemble, {"rnnlab_version": __version__, "method": method,
                                 "members": [{"path": p, "weight": w} for p, w in members]})
    if method == "rank":
        save_weights({f"member{i}": torch.from_numpy(np.ascontiguousarray(r, dtype=np.float32))
                      for i, r in enumerate(references)}, folder.ensemble_references)


def read_ensemble(folder: RunFolder) -> tuple[dict, list[np.ndarray] | None]:
    """(the spec written by :func:`write_ensemble`, the rank references or None)."""
    spec = json.loads(folder.ensemble.read_text(encoding="utf-8"))
    refs = None
    if spec["method"] == "rank":
        state = load_weights(folder.ensemble_references)
        refs = [state[f"member{i}"].numpy() for i in range(len(spec["members"]))]
    return spec, refs


# ------------------------------------------------------------------------------ CSV
def write_history(folder: RunFolder, history: list[dict]) -> None:
    """history.csv: one row per epoch (blank cells for missing values)."""
    if not history:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    write_text(folder.history, buf.getvalue())


def read_history(folder: RunFolder) -> list[dict]:
    """The epochs of history.csv as dicts of floats (None for blanks); [] when absent."""
    if not folder.history.exists():
        return []
    with open(folder.history, newline="", encoding="utf-8") as fh:
        return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()}
                for row in csv.DictReader(fh)]


def write_predictions(folder: RunFolder, ids: Sequence, targets: np.ndarray, outputs: np.ndarray,
                      schema: LabelSchema) -> None:
    """validation_predictions.csv: id, the true labels (``y_<label>``; multi-class: ``y``) and
    the outputs (``p_<label>``) — what ROC curves, thresholds and blends need."""
    frame = pd.DataFrame({"id": ids})
    if schema.task == "multiclass":
        frame["y"] = [schema.labels[int(k)] for k in targets]
    else:
        for j, label in enumerate(schema.labels):
            frame[f"y_{label}"] = targets[:, j].astype(int)
    for j in range(outputs.shape[1]):
        name = schema.labels[j] if outputs.shape[1] == len(schema.labels) else str(j)
        frame[f"p_{name}"] = outputs[:, j]
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.6g")
    write_text(folder.predictions, buf.getvalue())


def read_predictions(folder: RunFolder, schema: LabelSchema, hint: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids as str, targets, outputs) from validation_predictions.csv.

    Args:
        folder: the run folder.
        schema: the run's labels.
        hint: what to do when the file is absent (ends the error message).

    Raises:
        RunError: the run has no validation predictions.
    """
    path = folder.predictions
    if not path.exists():
        raise RunError(f"'{folder.path}' has no {path.name}{hint}")
    frame = pd.read_csv(path, dtype={"id": str}, keep_default_na=False)
    p_cols = [c for c in frame.columns if c.startswith("p_")]
    if schema.task == "multiclass":
        y = np.asarray([schema.labels.index(v) for v in frame["y"].astype(str)], dtype=np.int64)
    else:
        y = frame[[f"y_{label}" for label in schema.labels]].to_numpy(dtype=np.float32)
    return frame["id"].to_numpy(dtype=str), y, frame[p_cols].to_numpy(dtype=np.float32)
