"""``rnnlab.train(config, data=...) -> Run``: the whole training pipeline.

config → data → text → model → fit → run folder. This module decides what kind of training a
config asks for — a resumed run, k folds (:mod:`.folds`), or one model (:mod:`.single`: a linear
baseline or the recurrent network of :mod:`.rnn`); :mod:`.prepare` says what the model will be.
The resolved config (output units, activation and loss filled in from the data) is saved in the
run folder before training starts.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from ..config import Config, coerce_config
from ..data import attach_data
from ..data.memory import is_memory_ref
from ..errors import ConfigError, RunError
from ..runs import Run, RunFolder, resume_plan, seal
from ..runs.lifecycle import SEAL, require_new_folder
from . import distributed
from .folds import train_folds
from .prepare import device_for
from .progress import Reporter
from .rnn import require_pretrained
from .single import train_single
from .track import require_trackers

__all__ = ["train"]


def train(config: Config | str | os.PathLike | dict | None = None, overrides: list[str] | dict | None = None, *,
          data: object = None, run_dir: str | Path | None = None, verbose: str | None = None,
          reporter: Reporter | None = None, force: bool = False,
          on_epoch_end: Callable[[list[dict]], None] | None = None, resume: str | Path | None = None,
          track: dict | None = None) -> Run:
    """Train the model a config describes and return its :class:`~rnnlab.runs.Run`.

    Args:
        config: a :class:`~rnnlab.config.Config`, a TOML path or a dict (not needed with ``resume``).
        overrides: ``--set`` style overrides, e.g. ``["fit.epochs=3"]``; default None.
        data: the training data instead of ``data.path`` (``data.dataset = 'table'``): a pandas
            DataFrame (columns ``data.text_column``, default 'text', and ``data.label_columns``,
            default ['label']), a ``(texts, labels)`` pair (labels one per text: 0/1, class
            values; or an (n, k) array of 0/1 for k labels) or a path. A table in memory is
            validated and split as a file is; the saved config's ``data.path`` records it as
            ``memory:DataFrame:sha256=<16 hex>`` and metrics.json its sha256 (``data``). With
            ``resume``, the same table again (checked). Default None.
        run_dir: the run folder; default None = ``runs_dir/name`` (``-2``, ``-3``… if taken).
        verbose: progress display, overrides ``fit.verbose`` ('auto', 'bar', 'line', 'quiet').
        reporter: where messages go (default: the console).
        force: train even when the config doctor finds errors (default False).
        on_epoch_end: called with the history after every epoch; may raise
            :class:`~rnnlab.train.fit.StopTraining` (sweeps use it for pruning).
        resume: a run folder whose training was interrupted (killed, Ctrl-C): continue from its
            last finished epoch with the saved optimizer, RNG and early-stopping state (from the
            start when none finished; only the finishing when all did); the result equals an
            uninterrupted run's. Default None.
        track: an MLflow run made for this training by a sweep (its child run of a variant):
            ``{"run_id": id, "tags": {...}}``; default None (``[track]`` alone decides).

    Returns:
        The trained run (its folder is complete: predict, evaluate, serve it). Ctrl-C stops
        training and still returns a usable run (status 'interrupted').

    Raises:
        ConfigError: an invalid config, an output that is a file or a non-empty folder, or errors
            found by the config doctor (without ``force``).
        DataError: unreadable or invalid data.
        RunError: a ``resume`` folder that cannot be resumed, or ``data`` that is not the table it
            was trained on.
        TrainingFailed: the loss became NaN/inf (after saving the run).
    """
    started = time.time()
    action, table = None, None
    if resume is not None:
        cfg, action = resume_plan(RunFolder(resume))  # runs/lifecycle.py: restart, continue or seal
        run_dir, force = Path(resume), True  # the doctor already judged this config when it started
        if action != SEAL and (data is not None or is_memory_ref(cfg.data.path)):
            table = _same_table(cfg, data, resume)  # sealing reads no data
        if action == SEAL:  # training and finishing were done; only the manifest was missing
            group = distributed.join(device_for(cfg))[0] if distributed.requested() else distributed.SINGLE
            if group.main:
                seal(RunFolder(run_dir))
                (reporter or Reporter(verbose or cfg.fit.verbose)).message(
                    f"run: {run_dir}  had finished training; its run folder is now complete")
            group.barrier()
            return Run.load(run_dir)
    else:
        cfg, table = attach_data(coerce_config(config, overrides), data)
    group = distributed.join(device_for(cfg))[0] if distributed.requested() else distributed.SINGLE
    rep = (reporter or Reporter(verbose or cfg.fit.verbose)) if group.main else Reporter("quiet")
    if cfg.model.type == "blend":
        raise ConfigError("model.type = 'blend' marks a folder written by `rnnlab blend`; it is not trained. "
                          "Blend trained runs with `rnnlab blend RUN RUN ...`.")
    if group.active and (cfg.fit.folds > 1 and cfg.data.fold is None or cfg.model.type != "rnn"):
        raise ConfigError(f"Data-parallel training (torchrun, --nproc) trains one recurrent network; "
                          f"{'fit.folds > 1' if cfg.fit.folds > 1 else f'model.type = {cfg.model.type!r}'} is trained "
                          f"in one process: drop --nproc (or run it without torchrun).")
    require_trackers(cfg)  # a missing tracking package is one line, before any work
    if resume is None:
        require_pretrained(cfg)  # before any folder is made: a missing package is one line
        if group.main:
            require_new_folder(run_dir, cfg.runs_dir)  # before the data is read
    if cfg.fit.folds > 1 and cfg.data.fold is None:
        return train_folds(cfg, run_dir, rep, force=force, resume=resume is not None, table=table)
    return train_single(cfg, run_dir, rep, started, force=force, on_epoch_end=on_epoch_end, resume=action,
                        track=track, table=table, group=group)


def _same_table(cfg: Config, data: object, resume) -> object:
    """The table in memory a resumed run trained on, given again as ``data`` (checked by its sha256).

    Raises:
        RunError: no table given for a run trained on one, or another table.
    """
    if data is None:
        raise RunError(f"'{resume}' was trained on a table in memory ({cfg.data.path}); resume it with the same "
                       f"table: rnnlab.train(resume=RUN, data=frame).")
    if not is_memory_ref(cfg.data.path):
        raise RunError(f"'{resume}' was trained on the file {cfg.data.path}; resume it without data=.")
    _, table = attach_data(cfg, data)
    if table is None or table.ref != cfg.data.path:
        got = table.ref if table is not None else str(data)
        raise RunError(f"'{resume}' was trained on {cfg.data.path}; the data given is {got}. Pass the same table "
                       f"(same columns and cells) to resume it.")
    return table

