"""``rnnlab train CONFIG --nproc N``: start torchrun's elastic agent for one node
(``torch.distributed.launcher.api.elastic_launch``, what ``torchrun --standalone`` runs) with N
workers, each ``python -m rnnlab train ...`` — the same as
``torchrun --standalone --nproc-per-node N -m rnnlab train ...``. Several machines: run
``torchrun --nnodes M --nproc-per-node N --rdzv-backend c10d --rdzv-endpoint HOST:PORT -m rnnlab
train ...`` on each (docs/scale.md)."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from pathlib import Path

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from .._io import write_text
from ..config import Config
from ..errors import TrainingFailed, param_error
from ..runs import Run


class RanksFailed(TrainingFailed):
    """A worker of a data-parallel job ended badly; the agent stopped the others. ``exit_code``
    is the worker's own when it exited with one (2: it printed a user error)."""


def launch(args: list[str], nproc: int) -> None:
    """Run ``rnnlab train ARGS`` as ``nproc`` data-parallel processes on this machine.

    Args:
        args: the arguments after ``rnnlab train`` (without ``--nproc``).
        nproc: processes (ranks), >= 2.

    Raises:
        ConfigError: ``nproc`` < 2.
        RanksFailed: a process died (killed, out of memory) or failed; the message names the
            rank and how it ended, and the command that continues the run.
    """
    if nproc < 2:
        raise param_error("--nproc", "an int >= 2 to train data-parallel", nproc)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as torchrun does; fit uses 1 thread per rank (docs/scale.md)
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"rnnlab-{uuid.uuid4().hex[:12]}",
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.2)
    try:
        elastic_launch(config, sys.executable)("-m", "rnnlab", "train", *args)
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        code = failure.exitcode
        how = f"was killed by {failure.signal_name()}" if code < 0 else f"exited with code {code}"
        error = RanksFailed(f"Data-parallel training stopped: rank {rank} (pid {failure.pid}) {how}; the other "
                            f"processes were stopped. The run folder keeps its last finished epoch: continue it with "
                            f"`rnnlab train --resume RUN --nproc {nproc}`.")
        if code == 2:  # a user error, already printed by the rank
            error.exit_code = 2
        raise error from None


def train_parallel(cfg: Config, run_dir: str | os.PathLike, nproc: int, *, force: bool = False,
                   quiet: bool = True) -> Run:
    """Train ``cfg`` into ``run_dir`` on ``nproc`` data-parallel processes of this machine (a sweep
    trial with ``--nproc``); returns the loaded run.

    Args:
        cfg: the config (its data paths absolute, as loading makes them).
        run_dir: the new run folder.
        nproc: processes, >= 2.
        force: train even when the config doctor finds errors; default False.
        quiet: no progress output; default True.

    Raises:
        RanksFailed: as :func:`launch`.
    """
    with tempfile.TemporaryDirectory(prefix="rnnlab-ddp-") as tmp:
        path = Path(tmp) / "trial.toml"
        write_text(path, cfg.to_toml())
        launch([str(path), "--out", str(run_dir), *(["--quiet"] if quiet else []), *(["--force"] if force else [])],
               nproc)
    return Run.load(run_dir)
