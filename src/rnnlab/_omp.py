"""OpenMP's wait policy, set before torch loads (``import rnnlab`` runs this first).

torch's CPU thread pool is libgomp's: a thread that finishes its share of an operation spins
(``OMP_WAIT_POLICY`` unset: ~300,000 spins) before it sleeps. On a machine where another
process holds a core, the spinning thread burns the time slice its descheduled partner needs,
and every barrier of an RNN step waits for it: measured on 2 cores beside other work, an
Emb+LSTM(32) training step went from 61 us/token (unset) to 7.7 us/token with
``OMP_WAIT_POLICY=PASSIVE`` (1 thread: 9.5); see docs/benchmarks.md ("Threads under
contention"). libgomp reads the variable once, when torch loads, so it is set here, before any
rnnlab module imports torch, and only when the user has not set it. The thread COUNT is
decided later, per model and load, by :mod:`rnnlab.engine.threads`.
"""

from __future__ import annotations

import os
import sys

WAIT_POLICY = "PASSIVE"


def set_wait_policy() -> dict:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it or torch is already loaded.

    Returns:
        What applies in this process: ``{"omp_wait_policy": value or None, "set_by": "rnnlab" |
        "user" | "torch loaded first"}`` (recorded in run.json).
    """
    given = os.environ.get("OMP_WAIT_POLICY")
    if given is not None:
        return {"omp_wait_policy": given, "set_by": "user"}
    if "torch" in sys.modules:  # too late: libgomp has read its environment
        return {"omp_wait_policy": None, "set_by": "torch loaded first"}
    os.environ["OMP_WAIT_POLICY"] = WAIT_POLICY
    return {"omp_wait_policy": WAIT_POLICY, "set_by": "rnnlab"}


STATE = set_wait_policy()
