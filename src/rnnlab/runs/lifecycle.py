"""A run folder's life: :func:`create` it (config and labels first), train into it, then
:func:`finish` it (metrics, run info, log and — last — the manifest that makes it loadable).

A folder without a manifest is unfinished: ``rnnlab train --resume`` continues it
(:func:`resumable_config` says whether it can), loading refuses it.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from .._io import write_json, write_text
from .._version import __version__
from ..config import Config, load_config
from ..data.dataset import LabelSchema
from ..errors import ConfigError, RunError
from .files import read_json, write_labels
from .folder import RunFolder, unique_run_dir
from .manifest import write_manifest

FINISHED = ("completed", "early_stopped")


def create(config: Config, path: str | os.PathLike | None = None, schema: LabelSchema | None = None,
           ) -> tuple[RunFolder, Config]:
    """Make a new run folder and write its ``config.toml`` (and ``labels.json`` given ``schema``).

    Args:
        config: the resolved config; its ``name`` becomes the folder's name.
        path: the folder; default None = ``config.runs_dir/config.name`` (``-2``, ``-3``… if taken).
        schema: the labels, when known (k-fold runs write them when their folds are done).

    Returns:
        (the folder, the config as saved: ``name`` = the folder's name).

    Raises:
        ConfigError: ``path`` exists and is not empty.
    """
    folder = RunFolder(Path(path) if path else unique_run_dir(config.runs_dir, config.name or "run"))
    if folder.path.exists() and any(folder.path.iterdir()):
        raise ConfigError(f"The run folder '{folder.path}' already exists and is not empty; choose another "
                          f"(--out) or remove it.")
    config = dataclasses.replace(config, name=folder.name)
    write_text(folder.config, config.to_toml())
    if schema is not None:
        write_labels(folder, schema)
    return folder, config


def finish(folder: RunFolder, metrics: dict, started: float, info: dict | None = None,
           log: list[str] | None = None) -> None:
    """Write ``metrics.json``, ``run.json`` (version, start, duration, status + ``info``),
    ``log.txt`` (given ``log`` lines) and, last, the manifest."""
    write_json(folder.metrics, metrics)
    write_json(folder.info, {
        "rnnlab_version": __version__, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_seconds": round(time.time() - started, 2), "status": metrics["status"], **(info or {})})
    if log is not None:
        write_text(folder.log, "\n".join(log) + "\n")
    write_manifest(folder)


def is_finished(folder: RunFolder) -> bool:
    """True for a folder whose training ended normally (completed or early-stopped)."""
    return folder.manifest.exists() and read_json(folder.metrics).get("status") in FINISHED


def resumable_config(folder: RunFolder) -> Config:
    """The config of a run folder that can be resumed (killed, or stopped with Ctrl-C).

    Raises:
        RunError: not a run folder, or a run that finished.
    """
    if not folder.config.exists():
        raise RunError(f"'{folder.path}' is not a run folder (no {folder.config.name}); pass the folder of the "
                       f"interrupted run.")
    if folder.manifest.exists():
        status = read_json(folder.metrics).get("status")
        if status != "interrupted":
            raise RunError(f"'{folder.path}' finished ({status}); there is nothing to resume.")
    return load_config(folder.config)
