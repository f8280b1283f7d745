"""Reading and writing the files of a run folder: weights as safetensors, the rest JSON / CSV.

Every write is atomic (temporary name, fsync, rename); nothing is ever pickled or unpickled.
Every read goes through one bounded, validated reader (:func:`read_run_bytes`): a run file
that is not a regular file inside its folder (a FIFO, a device, a link out of the folder, a
folder) is refused before it is read, at most a per-kind number of bytes is read, and invalid
JSON or CSV is a one-line :class:`~rnnlab.errors.RunError` naming the file and the fix.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.numpy import load as load_numpy, save_file as save_numpy
from safetensors.torch import load as load_torch, save_file as save_torch

from .._io import atomic_path, write_json, write_text
from .._version import __version__
from ..data.dataset import LabelSchema
from ..data.rows import HASH, RowKeys
from ..errors import RunError
from ..models.baselines import LinearBaseline
from ..text.tokenizer import Tokenizer
from .folder import BASELINE, INFO, VOCAB, RunFolder

# ------------------------------------------------------------------------------ bounded reading
MiB = 1 << 20
JSON_MAX_BYTES = 8 * MiB  # run.json, metrics.json, labels.json, thresholds.json, ensemble.json, manifest.json
INDEX_MAX_BYTES = 1024 * MiB  # vocab.json and baseline.json: a word index / feature vocabulary of a big corpus
TABLE_MAX_BYTES = 1024 * MiB  # history.csv, validation_predictions.csv
WEIGHTS_MAX_BYTES = 64 * 1024 * MiB  # safetensors files without a size recorded in the manifest


def json_limit(path: Path) -> int:
    """How many bytes the run file ``path`` (a JSON file) may have."""
    return INDEX_MAX_BYTES if Path(path).name in (VOCAB, BASELINE) else JSON_MAX_BYTES


def open_run_file(path: str | os.PathLike, root: str | os.PathLike | None = None) -> BinaryIO:
    """Open a run file for reading, refusing anything but a regular file inside ``root``.

    The path is resolved first (a link is followed only when it stays inside ``root``), then
    opened without blocking (a FIFO does not hang the open) and checked again on the open file,
    so a FIFO, a device such as /dev/zero or a folder is never read.

    Args:
        path: the run file.
        root: the folder it must stay in; default None = the file's own folder.

    Returns:
        The file, open in binary mode (the caller closes it).

    Raises:
        FileNotFoundError: the file does not exist.
        RunError: it is not a regular file inside ``root``.
    """
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    target = path.resolve()
    if not target.is_relative_to(root.resolve()) or (target.exists() and not target.is_file()):
        raise _not_regular(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags)
    except FileNotFoundError:
        raise FileNotFoundError(f"'{path}' does not exist") from None
    except OSError:
        raise _not_regular(path) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced between the check and the open
        os.close(fd)
        raise _not_regular(path)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _not_regular(path: Path) -> RunError:
    return RunError(f"'{path}' is not a regular file inside the run folder (a link out of the folder, a FIFO, a "
                    f"device or a folder); rnnlab reads only the files it wrote: restore the file or retrain.")


def read_run_bytes(path: str | os.PathLike, limit: int, root: str | os.PathLike | None = None) -> bytes:
    """The bytes of a run file, at most ``limit`` of them (see :func:`open_run_file`).

    Args:
        path: the run file.
        limit: the most bytes it may have.
        root: the folder it must stay in; default None = the file's own folder.

    Raises:
        FileNotFoundError: the file does not exist.
        RunError: it is not a regular file inside ``root``, or it has more than ``limit`` bytes.
    """
    with open_run_file(path, root) as fh:
        size = os.fstat(fh.fileno()).st_size
        blocks = [fh.read(min(size, limit) + 1)]  # its size and one byte more (it may grow while read)
        total = len(blocks[0])
        while blocks[-1] and total <= limit:
            blocks.append(fh.read(min(limit + 1 - total, 1 << 20)))
            total += len(blocks[-1])
    data = blocks[0] if len(blocks) == 1 else b"".join(blocks)
    if len(data) > limit:
        raise RunError(f"'{path}' has more than {limit:,} bytes, more than rnnlab writes there; it is not the "
                       f"file rnnlab wrote: restore it or retrain.")
    return data


def _fix(path: Path) -> str:
    if path.name == INFO:
        return "restore it, or delete it (it only records versions and timings)"
    return "restore the original file or retrain"


def parse_json(data: bytes, path: Path) -> dict:
    """The JSON object in ``data`` (the bytes of the run file ``path``).

    Raises:
        RunError: not UTF-8, not valid JSON, or not a JSON object.
    """
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RunError(f"'{path}' is not UTF-8 (byte 0x{data[exc.start]:02x} at position {exc.start}); "
                       f"{_fix(path)}.") from None
    except json.JSONDecodeError as exc:
        raise RunError(f"'{path}' is not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg}); "
                       f"{_fix(path)}.") from None
    except RecursionError:
        raise RunError(f"'{path}' is not valid JSON (nested too deeply); {_fix(path)}.") from None
    if not isinstance(value, dict):
        raise RunError(f"'{path}' is not a JSON object (it holds a {type(value).__name__}); {_fix(path)}.")
    return value


# ------------------------------------------------------------------------------ weights
def save_weights(state: dict, path: Path) -> None:
    """Write a dict of tensors as safetensors (reproducible header bytes)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    with atomic_path(path) as tmp:
        save_torch(tensors, str(tmp), metadata={"format": "pt"})  # one key: the header bytes are reproducible


def load_weights(path: Path, max_bytes: int | None = None) -> dict:
    """The tensors of a safetensors file of a run folder, read through :func:`read_run_bytes`.

    Args:
        path: the file.
        max_bytes: the most bytes it may have (the manifest's recorded size); default None =
            ``WEIGHTS_MAX_BYTES``.

    Raises:
        RunError: the file is missing, not a regular file, too large, damaged or not safetensors.
    """
    try:
        data = read_run_bytes(path, WEIGHTS_MAX_BYTES if max_bytes is None else max_bytes)
        return load_torch(data)
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunError(f"Cannot read the weights '{path}': {exc}. The file is damaged or not a "
                       f"safetensors file; retrain or restore it.") from None


# ------------------------------------------------------------------------------ JSON
def read_json(path: Path, missing_ok: bool = True) -> dict:
    """A JSON object file of the run folder (bounded and validated: :func:`read_run_bytes`).

    Args:
        path: the file.
        missing_ok: return {} when the file is absent; default True.

    Raises:
        RunError: the file is not a regular file inside its folder, too large, not UTF-8, not
            valid JSON or not a JSON object (or absent, with ``missing_ok=False``).
    """
    path = Path(path)
    try:
        data = read_run_bytes(path, json_limit(path))
    except FileNotFoundError:
        if missing_ok and not path.is_symlink():
            return {}
        raise RunError(f"'{path}' is missing; restore it or retrain.") from None
    return parse_json(data, path)


def write_tracking(folder: RunFolder, record: dict) -> None:
    """The experiment-tracker run this run logs to, e.g. ``{"mlflow": {"run_id", "tracking_uri",
    "experiment_id"}}`` (``rnnlab train --resume`` continues it)."""
    write_json(folder.tracking, record)


def read_tracking(folder: RunFolder) -> dict:
    """What :func:`write_tracking` recorded; {} when the run is not tracked."""
    return read_json(folder.tracking)


def write_labels(folder: RunFolder, schema: LabelSchema) -> None:
    write_json(folder.labels, {"rnnlab_version": __version__, "schema": schema.to_dict()})


def write_vocab(folder: RunFolder, tokenizer: Tokenizer, vocab_size: int) -> None:
    """The tokenizer (settings and word index) and the model's input size."""
    write_json(folder.vocab, {"vocab_size": vocab_size, "tokenizer": tokenizer.to_dict()})


def read_vocab(folder: RunFolder) -> tuple[Tokenizer, int]:
    """(tokenizer, model input size) of an RNN run."""
    vocab = read_json(folder.vocab, missing_ok=False)
    try:
        return Tokenizer.from_dict(vocab["tokenizer"]), int(vocab["vocab_size"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RunError(f"'{folder.vocab}' is not the vocabulary rnnlab writes ({type(exc).__name__}: {exc}); "
                       f"restore the original file or retrain.") from None


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
    meta = read_json(meta_file, missing_ok=False)
    try:
        arrays = load_numpy(read_run_bytes(weights_file, WEIGHTS_MAX_BYTES))
    except (SafetensorError, ValueError) as exc:
        raise RunError(f"Cannot read '{weights_file}': {exc}. The file is damaged or not a safetensors file; "
                       f"refit and save the baseline again.") from None
    return LinearBaseline.from_state(meta, arrays, source=str(meta_file))


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
    spec = read_json(folder.ensemble, missing_ok=False)
    refs = None
    if spec["method"] == "rank":
        state = load_weights(folder.ensemble_references)
        refs = [state[f"member{i}"].numpy() for i in range(len(spec["members"]))]
    return spec, refs


# ------------------------------------------------------------------------------ training rows
TRAIN_ROWS_FORMAT = "rnnlab-train-rows-1"


def write_train_rows(folder: RunFolder, keys: RowKeys) -> None:
    """train_rows.safetensors: the sorted uint64 keys of the training rows (:mod:`rnnlab.data.rows`):
    ``texts`` always, ``ids`` when the data had an id column."""
    arrays = {"texts": np.ascontiguousarray(keys.texts, dtype="<u8")}
    if keys.ids is not None:
        arrays["ids"] = np.ascontiguousarray(keys.ids, dtype="<u8")
    # one metadata key: safetensors writes several in any order, and the file must be reproducible
    meta = json.dumps({"format": TRAIN_ROWS_FORMAT, "hash": HASH, "id_column": keys.id_column}, sort_keys=True)
    with atomic_path(folder.train_rows) as tmp:
        save_numpy(arrays, str(tmp), metadata={"rnnlab": meta})


def read_train_rows(folder: RunFolder) -> RowKeys | None:
    """The training rows' keys :func:`write_train_rows` wrote; None for a run without the file
    (trained before rnnlab kept them).

    Raises:
        RunError: the file is damaged or not the one rnnlab writes.
    """
    path = folder.train_rows
    try:
        data = read_run_bytes(path, WEIGHTS_MAX_BYTES)
    except FileNotFoundError:
        return None
    try:
        arrays = load_numpy(data)
        texts, ids = arrays["texts"], arrays.get("ids")
        if texts.dtype != np.uint64 or texts.ndim != 1 or (ids is not None and (ids.dtype != np.uint64
                                                                                 or ids.ndim != 1)):
            raise ValueError("the keys are not 1-D uint64 arrays")
        header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
        header = json.loads((header.get("__metadata__") or {}).get("rnnlab") or "{}")
        if header.get("format") != TRAIN_ROWS_FORMAT:
            raise ValueError(f"format {header.get('format')!r}")
    except (SafetensorError, ValueError, KeyError, TypeError) as exc:
        raise RunError(f"Cannot read '{path}': {exc}. It is not the training-rows file rnnlab writes; restore it "
                       f"or retrain.") from None
    return RowKeys(texts, ids, header.get("id_column") or None)


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
    path = folder.history
    try:
        text = read_run_bytes(path, TABLE_MAX_BYTES).decode("utf-8")
        return [{str(k): (float(v) if v not in ("", None) else None) for k, v in row.items()}
                for row in csv.DictReader(io.StringIO(text, newline=""))]
    except FileNotFoundError:
        if path.is_symlink():
            raise RunError(f"'{path}' is a link to a file that does not exist; restore it or delete it.") from None
        return []
    except (UnicodeDecodeError, ValueError, TypeError, csv.Error) as exc:
        raise RunError(f"'{path}' is not the per-epoch CSV rnnlab writes ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''}); restore it, or delete it (it only "
                       f"records the training curves).") from None


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
    try:
        frame = pd.read_csv(io.BytesIO(read_run_bytes(path, TABLE_MAX_BYTES)), dtype={"id": str},
                            keep_default_na=False)
        p_cols = [c for c in frame.columns if c.startswith("p_")]
        if schema.task == "multiclass":
            y = np.asarray([schema.labels.index(v) for v in frame["y"].astype(str)], dtype=np.int64)
        else:
            y = frame[[f"y_{label}" for label in schema.labels]].to_numpy(dtype=np.float32)
        return frame["id"].to_numpy(dtype=str), y, frame[p_cols].to_numpy(dtype=np.float32)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, KeyError, ValueError) as exc:
        raise RunError(f"'{path}' is not the validation predictions rnnlab writes ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''}); restore it or retrain.") from None
