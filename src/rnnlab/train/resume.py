"""Resumable training state, written after every epoch and read by ``rnnlab train --resume``.

``checkpoints/last.json`` names one complete set of files for the last finished epoch —
``last-<epoch>.safetensors`` (weights), ``last-<epoch>-state.safetensors`` (optimizer
tensors and torch's RNG state) and, with ``restore_best_weights``,
``last-<epoch>-restore.safetensors`` — plus the numpy RNG, the optimizer counters (its step
count drives a learning-rate schedule) and current learning rate, the early stopping,
ReduceLROnPlateau and checkpoint monitors, the history and the resolved class weights (a
resumed run trains with the numbers it started with). The JSON is written last (atomically), so a
crash at any moment leaves the previous epoch's set intact. Resuming restores all of it: the
result is bit-identical to a run that was never interrupted. A run that ends removes ``last.json``
first, then the files (:func:`rnnlab.runs.lifecycle.finish`); files it does not name are
leftovers (:func:`rnnlab.runs.lifecycle.tidy`).
"""

from __future__ import annotations

import json

import numpy as np
import torch

from .._io import remove, write_json
from ..errors import RunError
from ..runs import RunFolder, load_weights, save_weights
from .fit import FitState


def save(folder: RunFolder, model, optimizer, rng: np.random.Generator, state: FitState,
         class_weight: dict[str, float] | None = None, vectors: dict | None = None) -> None:
    """Write the state after epoch ``len(state.history)`` and drop the previous epoch's files;
    ``class_weight`` (the resolved weights) and ``vectors`` (the pretrained vectors' coverage
    record of metrics.json), default None, are kept for :func:`saved_class_weight` and
    :func:`saved_vectors`."""
    ck = folder.checkpoints
    epoch = len(state.history)
    sd = optimizer.state_dict()
    tensors = {f"{i}/{k}": v for i, s in sd["state"].items() for k, v in s.items() if torch.is_tensor(v)}
    scalars = {f"{i}/{k}": v for i, s in sd["state"].items() for k, v in s.items() if not torch.is_tensor(v)}
    tensors["__torch_rng__"] = torch.get_rng_state()
    files = {"weights": folder.resume_name(epoch), "state": folder.resume_name(epoch, "state")}
    save_weights(model.state_dict(), ck / files["weights"])
    save_weights(tensors, ck / files["state"])
    if state.best_state is not None:
        files["restore"] = folder.resume_name(epoch, "restore")
        save_weights(state.best_state, ck / files["restore"])
    extra = {k: v for k, v in sd.items() if k not in ("state", "param_groups")}
    saved = {"epoch": epoch, "files": files, "fit": state.to_dict(), "optimizer_scalars": scalars,
             "optimizer_extra": extra, "learning_rates": [g["learning_rate"] for g in sd["param_groups"]],
             "numpy_rng": rng.bit_generator.state}
    if class_weight is not None:
        saved["class_weight"] = class_weight
    if vectors is not None:
        saved["pretrained_vectors"] = vectors
    write_json(folder.resume_state, saved)  # the commit: from now on these files are the state
    for old in folder.resume_files():
        if old.name not in files.values():
            remove(old)


def load(folder: RunFolder, model, optimizer, rng: np.random.Generator, fresh: FitState) -> FitState:
    """Restore model, optimizer, RNGs and the loop state saved by :func:`save`."""
    ck = folder.checkpoints
    path = folder.resume_state
    if not path.exists():
        raise RunError(f"'{folder.path}' has no {path.relative_to(folder.path)}: no epoch finished before it stopped, "
                       f"so there is nothing to resume; train it again.")
    saved = json.loads(path.read_text(encoding="utf-8"))
    files = saved["files"]
    model.load_state_dict(load_weights(ck / files["weights"]))
    tensors = load_weights(ck / files["state"])
    torch.set_rng_state(tensors.pop("__torch_rng__"))
    state: dict[int, dict] = {}
    for key, value in [*tensors.items(), *saved["optimizer_scalars"].items()]:
        i, name = key.split("/", 1)
        state.setdefault(int(i), {})[name] = value
    sd = optimizer.state_dict()
    optimizer.load_state_dict({**sd, **saved["optimizer_extra"], "state": state})
    for group, rate in zip(optimizer.param_groups, saved.get("learning_rates", [])):
        group["learning_rate"] = rate  # lowered by ReduceLROnPlateau, or a schedule's last
    rng.bit_generator.state = saved["numpy_rng"]
    best = load_weights(ck / files["restore"]) if "restore" in files else None
    fresh.restore(saved["fit"], best)
    return fresh


def saved_class_weight(folder: RunFolder) -> dict[str, float] | None:
    """The class weights the interrupted run trained with, or None (none saved, or no state)."""
    path = folder.resume_state
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("class_weight")


def saved_vectors(folder: RunFolder) -> dict | None:
    """The pretrained vectors' coverage record the interrupted run wrote, or None."""
    path = folder.resume_state
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("pretrained_vectors")
