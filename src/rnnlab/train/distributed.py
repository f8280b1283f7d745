"""Data-parallel training on PyTorch's own engine: ``torch.distributed`` +
``DistributedDataParallel``, launched by ``torchrun`` (or ``rnnlab train --nproc N``, which
starts torchrun's elastic agent for one node: :mod:`.launch`).

A process started by torchrun finds ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous
in its environment; :func:`join` opens the process group (``gloo`` on the CPU, ``nccl`` on CUDA,
every collective bounded by ``RNNLAB_DDP_TIMEOUT`` seconds, default 600) and returns the
:class:`Group` the training loop asks:

- **batches**: every rank draws the same global, length-bucketed batches of ``fit.batch_size``
  rows from the same seeded generator (one new permutation per epoch) and takes its slice of
  each (:meth:`Group.shard`: ``np.array_split`` into ``world`` parts, sizes differing by at most
  one row). Every rank makes the same number of steps, so no rank waits on uneven inputs, and
  each epoch every training row is seen exactly once in all. A slice's loss is scaled by
  ``rows * world / global_rows`` so that DDP's gradient average equals the single-process
  gradient of the global batch; a rank whose slice of a last, tiny batch is empty runs one
  row with weight 0 (it only joins the gradient all-reduce).
- **validation**: each rank scores a contiguous share of the validation rows and the outputs are
  gathered in order (:meth:`Group.gather_rows`); every rank computes the metrics on the whole
  validation set, and rank 0's epoch logs are broadcast so early stopping, ReduceLROnPlateau
  and checkpoint decisions are made once and taken by all.
- **files**: only rank 0 (``main``) writes the run folder, the manifest and the progress output.

``RNNLAB_DDP_TRACE=DIR`` (a test hook) makes each rank append one JSON line per epoch to
``DIR/rank-<r>.jsonl`` with the training rows it consumed and the validation metrics it computed;
``RNNLAB_DDP_KILL_AT=RANK:EPOCH:STEP`` makes that rank kill itself with SIGKILL at that step.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ..errors import RnnlabError, param_error

TIMEOUT_ENV = "RNNLAB_DDP_TIMEOUT"
TRACE_ENV = "RNNLAB_DDP_TRACE"
KILL_ENV = "RNNLAB_DDP_KILL_AT"
DEFAULT_TIMEOUT = 600.0


class PeersLost(RnnlabError):
    """A collective failed: another rank died or stopped answering. Not a failed training —
    the run folder keeps its last finished epoch for ``rnnlab train --resume``."""

    exit_code = 1


@dataclass(frozen=True)
class Group:
    """This process's place in a data-parallel job (world 1: a plain single-process training)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def shard(self, rows: np.ndarray) -> np.ndarray:
        """This rank's slice of one global batch (contiguous; sizes differ by at most one)."""
        return rows if not self.active else np.array_split(rows, self.world)[self.rank]

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        _collective(dist.broadcast_object_list, box, src=0)
        return box[0]

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over ranks (float64)."""
        if not self.active:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=_comm_device())
        _collective(dist.all_reduce, t)
        return t.cpu().tolist()

    def gather_rows(self, obj) -> list:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.active:
            return [obj]
        out = [None] * self.world
        _collective(dist.all_gather_object, out, obj)
        return out

    def share(self, n: int) -> np.ndarray:
        """This rank's contiguous share of ``n`` rows (validation)."""
        return np.array_split(np.arange(n), self.world)[self.rank] if self.active else np.arange(n)

    def barrier(self) -> None:
        if self.active:
            _collective(dist.barrier)

    def wrap(self, model, device: torch.device):
        """``model`` under DistributedDataParallel (itself when alone)."""
        if not self.active:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)


SINGLE = Group()


def _comm_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) \
        if dist.get_backend() == "nccl" else torch.device("cpu")


def _collective(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (RuntimeError, ConnectionError) as exc:  # DistBackendError, gloo's 'Connection closed by peer'
        raise lost(exc) from None


def lost(exc: BaseException) -> PeersLost:
    why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return PeersLost(f"Data-parallel training lost its other processes ({why[:160]}); the run folder keeps its last "
                     f"finished epoch: continue it with `rnnlab train --resume RUN --nproc N`.")


def requested() -> bool:
    """True in a process torchrun started as one of several (``WORLD_SIZE`` > 1)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def join(device: torch.device) -> tuple[Group, torch.device]:
    """Open (once) the process group torchrun's environment describes; returns (the group, the
    device this rank trains on: ``cuda:LOCAL_RANK`` on CUDA). Alone: (:data:`SINGLE`, ``device``).

    Raises:
        ConfigError: a malformed ``RNNLAB_DDP_TIMEOUT``.
    """
    if not requested():
        return SINGLE, device
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(seconds=timeout()))
    return Group(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local), device


def timeout() -> float:
    """Seconds a collective may wait (``RNNLAB_DDP_TIMEOUT``, default 600)."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise param_error(TIMEOUT_ENV, "a number of seconds > 0", raw)
    return value


class Trace:
    """The test hook of the module docstring (off unless ``RNNLAB_DDP_TRACE`` is set)."""

    def __init__(self, group: Group):
        where = os.environ.get(TRACE_ENV)
        self.path = Path(where) / f"rank-{group.rank}.jsonl" if where else None
        self.rank = group.rank
        self.kill = None
        spec = os.environ.get(KILL_ENV)
        if spec:
            r, e, s = (int(x) for x in spec.split(":"))
            self.kill = (e, s) if r == group.rank else None
        self.rows: list[np.ndarray] = []

    def step(self, epoch: int, step: int, rows: np.ndarray) -> None:
        if self.kill == (epoch, step):
            os.kill(os.getpid(), signal.SIGKILL)
        if self.path is not None:
            self.rows.append(rows)

    def epoch(self, epoch: int, metrics: dict) -> None:
        if self.path is None:
            return
        rows = np.concatenate(self.rows).tolist() if self.rows else []
        self.rows = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"rank": self.rank, "epoch": epoch, "rows": rows, "metrics": metrics},
                                default=float) + "\n")
