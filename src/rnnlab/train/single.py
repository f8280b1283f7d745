"""One model (no k-fold): CPU threads, device, the data and its notes, then a linear baseline
(with the doctor's data rules) or the recurrent network (:mod:`.rnn`)."""

from __future__ import annotations

from typing import Callable

import torch

from ..config import Config
from ..data import MemoryTable, load_splits
from ..engine.threads import AUTO
from ..runs import Run
from ..runs.lifecycle import CONTINUE, RESTART
from .baseline import train_baseline
from .distributed import SINGLE, Group
from .doctor import consult
from .prepare import device_for, tokenize_splits
from .progress import Reporter
from .rnn import train_rnn


def train_single(cfg: Config, run_dir, rep: Reporter, started: float, *, force: bool = False,
                 on_epoch_end: Callable[[list[dict]], None] | None = None, resume: str | None = None,
                 track: dict | None = None, table: MemoryTable | None = None, group: Group = SINGLE) -> Run:
    """Train the one model ``cfg`` describes into ``run_dir``; see :func:`rnnlab.train.trainer.train`
    for the arguments. ``resume`` (:func:`rnnlab.runs.resume_plan`) is None for a new folder,
    'restart' to train the unfinished run there again from the start, 'continue' to go on from
    its saved epoch. ``track``: a sweep's MLflow child run (:class:`rnnlab.train.track.Tracker`).
    ``table``: the training table in memory, read instead of ``data.path``. ``group``: the
    data-parallel job (:mod:`.distributed`; default none)."""
    if cfg.fit.threads != AUTO:  # 'auto': the training loop plans and tunes them (engine/threads.py)
        torch.set_num_threads(cfg.fit.threads)
    device = device_for(cfg)
    if group.active and device.type == "cuda":
        device = torch.device("cuda", group.local_rank)
    splits = load_splits(cfg, table)
    schema = splits.train.schema
    for note in splits.notes:
        rep.message(f"data: {note}")
    rep.message(f"data: {len(splits.train):,} train / {len(splits.validation):,} validation rows, "
                f"{schema.task}, labels: {', '.join(schema.labels)}")
    if cfg.model.type != "rnn":  # fitted in one step: an unfinished one is fitted again (seeded: the same)
        findings = consult(cfg, splits, tokenize_splits(cfg, splits), rep, force)
        return train_baseline(cfg, splits, rep, run_dir, started, findings, again=resume is not None, track=track)
    if resume == RESTART:
        rep.message(f"run: {run_dir}  no epoch had finished; training again from the start")
    return train_rnn(cfg, splits, rep, run_dir, device, started, force=force, on_epoch_end=on_epoch_end,
                     resume=resume == CONTINUE, again=resume == RESTART, track=track, group=group)
