"""Data-parallel training and parallel scoring (docs/scale.md): what a user gets wrong or meets."""

from __future__ import annotations

from .cases import Case

CASES = [
    Case("ddp-rank-killed", "one process of `rnnlab train --nproc N` killed (`kill -9`, out of memory)",
         "`rnnlab train --nproc`",
         None, 1, r"Data-parallel training stopped: rank 1 \(pid \d+\) was killed by SIGKILL",
         "`RanksFailed` (exit 1): the agent stops the other processes; the run folder keeps its last finished "
         "epoch and `rnnlab train --resume RUN --nproc N` continues it",
         "tests/train/test_distributed.py::test_kill_9_of_one_rank_is_a_clear_error_and_resume_finishes"),
    Case("ddp-folds", "`fit.folds > 1` (or a linear baseline) under `--nproc` / torchrun",
         "`rnnlab train --nproc`",
         None, 2, r"Data-parallel training \(torchrun, --nproc\) trains one recurrent network; fit\.folds > 1 is "
                  r"trained in one process",
         "`ConfigError` on every rank before any folder is made",
         "tests/train/test_distributed.py::test_k_folds_are_refused_on_every_rank_in_one_line"),
    Case("ddp-timeout-bad", "`RNNLAB_DDP_TIMEOUT` not a number of seconds > 0 (`abc`, `0`)",
         "environment",
         None, 2, r"The 'RNNLAB_DDP_TIMEOUT' parameter must be a number of seconds > 0\. Got 'abc' instead\.",
         "`ConfigError`",
         "tests/train/test_distributed.py::test_a_bad_timeout_is_one_line"),
]
