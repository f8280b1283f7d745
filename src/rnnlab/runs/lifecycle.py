"""A run folder's life, as a small state machine: every state a stopped (killed) run can leave on
disk is either resumed by ``rnnlab train --resume RUN`` to the same end as an uninterrupted run,
or refused by every command with one line naming the one command that works.

The writes, in order; each **commit** moves the folder to the next state:

1. :func:`create` fills a hidden temporary folder (``config.toml``, ``labels.json``) and
   renames it to ``RUN`` — **commit: started**. A run folder never lacks its config.
2. Training: after each epoch the checkpoints, ``history.csv`` and the resume files
   (``checkpoints/last-<N>*.safetensors``), then ``checkpoints/last.json`` — **commit:
   training** (epoch N) — then the previous epoch's resume files are removed.
3. :func:`finish`: the final weights, predictions and plots (written by the trainer), then
   ``run.json``, ``log.txt`` and ``metrics.json`` — **commit: unsealed** once the resume state
   is gone: unless interrupted, ``last.json`` is removed first (a set of resume files is
   never named while half removed), then the resume files — then ``MODEL_CARD.md``
   (:mod:`.card`, not protected) and ``manifest.json`` —
   **commit: finished**. Changing a finished run's protected files (``rnnlab thresholds``)
   removes the manifest first (:func:`amend`): unsealed meanwhile.

::

    state        on disk                                   loading (predict)   train --resume RUN
    started      config.toml; no last.json, metrics.json   refused: resume     trains from the start
                 or manifest
    training     checkpoints/last.json; no manifest        refused: resume     continues after epoch N
                                                                               (all done: finishes)
    unsealed     metrics.json; no last.json or manifest    refused: resume     removes leftovers,
                                                                               writes the manifest
    interrupted  manifest; status 'interrupted' (Ctrl-C)   loads               continues (or starts
                                                                               again: no epoch saved)
    finished     manifest; any other status                loads               refused: nothing to do
    blend        model.type 'blend'; no manifest           refused: remove it and blend again

A started run (an RNN with no saved epoch, a linear baseline) trains again from the start with
its saved config (seeded, so to the same bytes). A k-fold parent keeps its finished folds and
resumes the others, each a run folder of its own, then writes its own files again. Temporary
files and folders and resume files that ``last.json`` does not name are leftovers, removed when
a run is resumed or sealed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

from .._io import remove, replace, temp_dir, write_json, write_text
from .._machine import load_average, machine
from .._version import __version__
from ..config import Config, load_config
from ..data.dataset import LabelSchema
from ..errors import ConfigError, RunError
from .card import write_card
from .files import read_json, write_labels
from .folder import CONFIG, FOLDS, MEMBERS, RunFolder, unique_run_dir
from .manifest import write_manifest

FINISHED = ("completed", "early_stopped")

STARTED, TRAINING, UNSEALED, INTERRUPTED, DONE = "started", "training", "unsealed", "interrupted", "finished"
# what `rnnlab train --resume` does in each resumable state
RESTART, CONTINUE, SEAL = "restart", "continue", "seal"


def require_new_folder(path: str | os.PathLike | None, runs_dir: str | os.PathLike) -> None:
    """A run folder can be made: ``path`` (when given) is absent or an empty folder, else
    ``runs_dir`` is not a file. :func:`create` checks it; training checks it before reading data.

    Raises:
        ConfigError: ``path`` is a file or a folder that is not empty, or ``runs_dir`` is a file.
    """
    if path is not None:
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out '{path}' is a file; the run folder must be a new (or empty) folder. Choose "
                              f"another path.")
        if path.is_dir() and any(path.iterdir()):
            raise ConfigError(f"The run folder '{path}' already exists and is not empty; choose another (--out) or "
                              f"remove it.")
        return
    runs_dir = Path(runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise ConfigError(f"runs_dir '{runs_dir}' is a file; set runs_dir to a folder (or pass --out).")


def create(config: Config, path: str | os.PathLike | None = None, schema: LabelSchema | None = None, *,
           again: bool = False) -> tuple[RunFolder, Config]:
    """Make a new run folder holding its ``config.toml`` (and ``labels.json`` given ``schema``).

    The files are written in a hidden temporary folder renamed to the run folder, so a run
    folder always has its config.

    Args:
        config: the resolved config; its ``name`` becomes the folder's name.
        path: the folder; default None = ``config.runs_dir/config.name`` (``-2``, ``-3``… if taken).
        schema: the labels, when known (k-fold runs write them when their folds are done).
        again: ``path`` is a started run trained again from the start (``rnnlab train --resume``):
            its files are rewritten in place. Default False.

    Returns:
        (the folder, the config as saved: ``name`` = the folder's name).

    Raises:
        ConfigError: ``path`` is a file or a folder that is not empty (without ``again``).
    """
    folder = RunFolder(Path(path) if path else unique_run_dir(config.runs_dir, config.name or "run"))
    config = dataclasses.replace(config, name=folder.name)
    if again:
        reopen(folder)
        write_text(folder.config, config.to_toml())
        if schema is not None:
            write_labels(folder, schema)
        return folder, config
    require_new_folder(folder.path, config.runs_dir)
    tmp = RunFolder(temp_dir(folder.path))
    try:
        write_text(tmp.config, config.to_toml())
        if schema is not None:
            write_labels(tmp, schema)
        replace(tmp.path, folder.path)  # onto an absent or empty folder
    except BaseException:
        shutil.rmtree(tmp.path, ignore_errors=True)
        raise
    return folder, config


def finish(folder: RunFolder, metrics: dict, started: float, info: dict | None = None,
           log: list[str] | None = None) -> None:
    """Write ``run.json`` (version, start, duration, status, the machine and its load average at
    the end — the 5- and 15-minute ones cover most runs — + ``info``), ``log.txt`` (given
    ``log`` lines) and ``metrics.json`` (the last file of a finished run: it marks one); remove
    the resume state unless the run was interrupted (``last.json`` first); write the manifest last."""
    write_json(folder.info, {
        "rnnlab_version": __version__, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_seconds": round(time.time() - started, 2), "status": metrics["status"],
        "machine": machine(), "load_average": load_average(), **(info or {})})
    if log is not None:
        write_text(folder.log, "\n".join(log) + "\n")
    write_json(folder.metrics, metrics)
    if metrics["status"] != "interrupted":
        discard_resume_state(folder)
    write_card(folder)
    write_manifest(folder)


def discard_resume_state(folder: RunFolder) -> None:
    """Remove ``checkpoints/last.json`` — first: it commits the files it names — then every
    resume file."""
    remove(folder.resume_state)
    for f in folder.resume_files():
        remove(f)


def is_finished(folder: RunFolder) -> bool:
    """True for a folder whose training ended normally (completed or early-stopped)."""
    return folder.manifest.exists() and read_json(folder.metrics).get("status") in FINISHED


def _saved_state_ok(folder: RunFolder) -> bool:
    """Whether ``last.json`` exists and every file it names is present."""
    if not folder.resume_state.exists():
        return False
    try:
        files = json.loads(folder.resume_state.read_text(encoding="utf-8"))["files"].values()
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        return False
    return all(isinstance(f, str) and (folder.checkpoints / f).is_file() for f in files)


def _is_blend(folder: RunFolder) -> bool:
    try:
        return load_config(folder.config).model.type == "blend"
    except ConfigError:
        return False


def state(folder: RunFolder) -> str:
    """The state of a run folder (see the module docstring).

    Raises:
        RunError: not a run folder (no config.toml), or an unfinished blend.
    """
    if not folder.config.exists():
        what = "does not exist" if not folder.path.exists() else f"has no {CONFIG}"
        raise RunError(f"'{folder.path}' is not a run folder (it {what}); pass the folder that `rnnlab train` "
                       f"printed, e.g. runs/jigsaw_lstm.")
    status = read_json(folder.metrics).get("status") if folder.metrics.exists() else None
    if folder.manifest.exists():
        return INTERRUPTED if status == "interrupted" else DONE
    if _is_blend(folder):
        raise RunError(f"'{folder.path}' is an unfinished blend (`rnnlab blend` stopped before it wrote "
                       f"{folder.manifest.name}); remove it and blend again: rnnlab blend RUN RUN ... --out "
                       f"{folder.path}")
    if _saved_state_ok(folder):
        return TRAINING
    return UNSEALED if status is not None and status != "interrupted" else STARTED


def unfinished_error(folder: RunFolder) -> RunError:
    """The one line loading says about a folder without a manifest (the command that works)."""
    try:
        state(folder)
    except RunError as exc:
        return exc
    return RunError(f"'{folder.path}' is an unfinished run: it stopped before its {folder.manifest.name} was "
                    f"written (killed, or still training); continue it with `rnnlab train --resume {folder.path}`.")


def resume_plan(folder: RunFolder) -> tuple[Config, str]:
    """What ``rnnlab train --resume`` does with ``folder``: (its config, RESTART, CONTINUE or SEAL).

    Raises:
        RunError: not a run folder, an unfinished blend, or a run that finished.
    """
    now = state(folder)
    if now == DONE:
        status = read_json(folder.metrics).get("status")
        raise RunError(f"'{folder.path}' finished ({status}); there is nothing to resume.")
    action = {TRAINING: CONTINUE, UNSEALED: SEAL, STARTED: RESTART}.get(now)
    if action is None:  # interrupted (Ctrl-C): from its saved epoch, or from the start
        action = CONTINUE if _saved_state_ok(folder) else RESTART
    return load_config(folder.config), action


def reopen(folder: RunFolder) -> None:
    """Make a folder about to train again unfinished: remove ``manifest.json`` (first: loading
    refuses it from now on), then ``metrics.json``; and remove leftovers (:func:`tidy`)."""
    remove(folder.manifest)
    remove(folder.metrics)
    remove(folder.card)
    tidy(folder)


def tidy(folder: RunFolder) -> None:
    """Remove leftovers of a killed run: temporary files and folders (``.<name>.*.tmp``) and
    resume files that ``last.json`` does not name."""
    for where in (folder.path, folder.checkpoints, folder.path / FOLDS, folder.path / MEMBERS):
        for tmp in where.glob(".*.tmp") if where.is_dir() else ():
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                remove(tmp)
    named: set[str] = set()
    if _saved_state_ok(folder):
        named = set(json.loads(folder.resume_state.read_text(encoding="utf-8"))["files"].values())
    else:
        remove(folder.resume_state)
    for f in folder.resume_files():
        if f.name not in named:
            remove(f)


@contextlib.contextmanager
def amend(folder: RunFolder) -> Iterator[None]:
    """Change protected files of a finished run (``rnnlab thresholds``, ``rnnlab calibrate``): the
    manifest is removed first — killed meanwhile, the folder is unsealed and ``rnnlab train
    --resume`` seals it again — then the model card is rewritten and the manifest written last."""
    remove(folder.manifest)
    yield
    write_card(folder)
    write_manifest(folder)


def seal(folder: RunFolder) -> None:
    """Finish an unsealed folder (its training and finishing files all written): remove the
    leftovers, then write the manifest."""
    tidy(folder)
    write_card(folder)
    write_manifest(folder)
