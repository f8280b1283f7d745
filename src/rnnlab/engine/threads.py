"""How many CPU threads torch uses: the policy behind ``fit.threads = "auto"``, for training,
``Run.predict`` and ``rnnlab serve``.

torch splits every operation over its intra-op threads and waits for all of them at the end.
An RNN step is many small operations, so when another process holds a core, every step waits
for a thread the scheduler has put aside: measured on 2 cores beside one busy process, two
threads trained a SimpleRNN 4x slower than one, and up to 80x slower on a machine busier than
that. libgomp's spinning made it worse (:mod:`rnnlab._omp` sets ``OMP_WAIT_POLICY=PASSIVE``);
without any other work, two threads are up to 1.45x faster than one for the larger models. So
the count follows the load:

- :func:`decide` is the first guess from what can be measured at once: the cores this process
  may use (:func:`cores_available`), how many of them other processes keep busy
  (:func:`busy_cores`, /proc/stat over 0.1 s) and the work of one step (:func:`step_work`);
- :class:`Tuner` then measures: it times batches (per token: rows x padded width, since bucketed
  batches differ), tries one thread and all of them for a few batches each, keeps the faster,
  and probes again later, sooner when the speed drifts (the load changed).

Training gets a :class:`ThreadPlan` from :func:`plan_threads`; inference
(:func:`rnnlab.engine.predict_outputs` with ``threads="auto"``) uses one :class:`Tuner` per
calling thread (:func:`inference_tuner`) that lives across calls, so the serve batcher's worker
thread learns over its requests. torch's thread count is per calling thread (OpenMP), which is
why each thread is tuned where it runs.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from .. import _omp

AUTO = "auto"
# multiply-adds of one step (weights outside embedding tables x batch rows) below which a second
# thread cannot pay for its synchronisation (M2 = Emb(500,16) + SimpleRNN(8), batch 64: 12,800)
MIN_PARALLEL_WORK = 200_000


def cores_available() -> int:
    """The cores this process may run on: its affinity mask (``os.cpu_count()`` where there is
    none), capped by ``OMP_NUM_THREADS`` when the user set it (a whole number >= 1)."""
    try:
        cores = max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        cores = max(os.cpu_count() or 1, 1)
    cap = os.environ.get("OMP_NUM_THREADS", "").strip()
    return min(cores, int(cap)) if cap.isdigit() and int(cap) >= 1 else cores


def cpu_times(stat: str = "/proc/stat") -> tuple[float, float] | None:
    """(busy, total) clock ticks of all cores together from ``stat`` (the first line of
    /proc/stat), or None where it cannot be read."""
    try:
        with open(stat) as f:
            fields = f.readline().split()
        vals = [float(v) for v in fields[1:9]]
    except (OSError, ValueError):
        return None
    if not fields or fields[0] != "cpu" or len(vals) < 4:
        return None
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0.0)  # idle + iowait
    return sum(vals) - idle, sum(vals)


def busy_between(before: tuple[float, float], after: tuple[float, float], own_s: float, window_s: float,
                 cores: int) -> float:
    """Cores other processes kept busy between two :func:`cpu_times` readings ``window_s``
    apart, during which this process used ``own_s`` CPU seconds (a pure function).

    Returns:
        The machine's busy share times its ``cores``, less this process's own use; >= 0.0
        (0.0 when the readings do not advance).
    """
    total = after[1] - before[1]
    if total <= 0 or window_s <= 0:
        return 0.0
    busy = (after[0] - before[0]) / total * cores
    return max(busy - own_s / window_s, 0.0)


def busy_cores(window_s: float = 0.1, cores: int | None = None) -> float:
    """How many cores other processes keep busy, sampled over ``window_s`` seconds from
    /proc/stat (:func:`busy_between`); where it cannot be read, /proc/loadavg's runnable
    count less this thread, else 0.0.

    Args:
        window_s: the sampling window; default 0.1 s.
        cores: the machine's cores; default ``os.cpu_count()``.
    """
    machine = cores or os.cpu_count() or 1
    a, own0 = cpu_times(), time.process_time()
    if a is None:
        try:
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
            return float(max(running - 1, 0))
        except (OSError, IndexError, ValueError):
            return 0.0
    time.sleep(window_s)
    b = cpu_times()
    return 0.0 if b is None else busy_between(a, b, time.process_time() - own0, window_s, machine)


def step_work(model: torch.nn.Module, batch_size: int) -> int:
    """The work of one step: weights outside embedding tables (they are looked up, not
    multiplied) times the rows of a batch; roughly the multiply-adds per time step."""
    embedded = {id(p) for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters()}
    weights = sum(p.numel() for p in model.parameters() if id(p) not in embedded)
    return int(weights) * int(batch_size)


def decide(cores: int, busy: float, work: float, min_work: float = MIN_PARALLEL_WORK) -> int:
    """The first thread count, from what can be measured before training (a pure function).

    One thread when there is one core, when the step is too small to share
    (``work < min_work``), or when other processes leave less than 1.5 cores free; otherwise
    the free cores, rounded to the nearest whole one (at most ``cores``).

    Args:
        cores: cores this process may use (>= 1).
        busy: cores other processes keep busy (>= 0).
        work: one step's work (:func:`step_work`).
        min_work: the work below which one thread is always used; default
            :data:`MIN_PARALLEL_WORK`.

    Returns:
        Threads, between 1 and ``cores``.
    """
    cores = max(int(cores), 1)
    free = cores - max(float(busy), 0.0)
    if cores == 1 or work < min_work or free < 1.5:
        return 1
    return max(1, min(cores, int(free + 0.5)))


@dataclass
class Tuner:
    """Online choice between thread counts, from timed batches.

    Call :meth:`start` before a batch and :meth:`stop` with its token count after it. A probe
    runs every candidate (the current one first) for ``probe`` batches and takes the median
    seconds per token; a candidate more than ``abort`` times slower than the best so far is
    dropped after one batch (a probe into a contended core costs one slow batch, not several).
    The winner is the fastest, but more threads must beat fewer by ``margin`` (fewer threads
    leave the machine to others). It then holds for ``hold`` batches, twice as long after each
    probe that confirms it (up to ``max_hold``); a probe comes sooner when the median of the
    last ``window`` batches drifts ``drift`` times from what the probe measured.

    Args:
        candidates: thread counts to choose from, e.g. ``(1, 2)``.
        first: the count to begin with (:func:`decide`).
        set_threads: applies a count (default ``torch.set_num_threads`` when it differs from
            ``torch.get_num_threads()``).
        clock: seconds (default ``time.perf_counter``); tests pass a fake one.
        probe: measured batches per candidate; default 2.
        hold: batches between probes at first; default 50.
        max_hold: the longest hold; default 1600.
        margin: more threads win only below ``margin`` times fewer threads' time; default 0.9.
        abort: a probe batch this many times slower than the best drops the candidate; default 3.
        drift: the speed change that brings the next probe forward; default 1.5.
        window: batches the drift is judged on; default 5.
        probe_first: probe at once (default True); False holds ``first`` for ``hold`` batches
            before the first probe (inference: short calls never pay for a probe).
    """

    candidates: tuple[int, ...]
    first: int
    set_threads: Callable[[int], None] | None = None
    clock: Callable[[], float] = time.perf_counter
    probe: int = 2
    hold: int = 50
    max_hold: int = 1600
    margin: float = 0.9
    abort: float = 3.0
    drift: float = 1.5
    window: int = 5
    probe_first: bool = True
    current: int = field(init=False)
    batches: int = field(init=False, default=0)
    probes: int = field(init=False, default=0)
    switches: list[dict] = field(init=False, default_factory=list)
    _t0: float | None = field(init=False, default=None)
    _queue: list[int] = field(init=False, default_factory=list)
    _samples: dict[int, list[float]] = field(init=False, default_factory=dict)
    _left: int = field(init=False, default=0)
    _hold: int = field(init=False, default=0)
    _reference: float | None = field(init=False, default=None)
    _recent: list[float] = field(init=False, default_factory=list)

    def __post_init__(self):
        self.candidates = tuple(sorted(set(int(c) for c in self.candidates)))
        if self.first not in self.candidates:
            self.candidates = tuple(sorted({*self.candidates, int(self.first)}))
        self._hold = self.hold
        self.current = int(self.first)
        self._apply(self.current)
        if self.probe_first:
            self._begin_probe()
        else:
            self._left = self.hold

    @property
    def probing(self) -> bool:
        """Whether a probe is under way."""
        return bool(self._queue)

    def _apply(self, n: int) -> None:
        self.current = n
        if self.set_threads is not None:
            self.set_threads(n)
        elif torch.get_num_threads() != n:
            torch.set_num_threads(n)

    def _begin_probe(self) -> None:
        if len(self.candidates) < 2:
            self._queue = []
            return
        self.probes += 1
        self._queue = [self.current] + [c for c in self.candidates if c != self.current]
        self._samples = {}
        self._apply(self._queue[0])

    def start(self) -> None:
        """Before a batch: make sure the calling thread runs at the current count, start the clock."""
        self._apply(self.current)
        self._t0 = self.clock()

    def stop(self, tokens: int) -> None:
        """After a batch of ``tokens`` (rows x padded width): record its time, maybe switch."""
        if self._t0 is None:
            return
        per = (self.clock() - self._t0) / max(int(tokens), 1)
        self._t0 = None
        self.batches += 1
        if self._queue:
            self._probe_step(per)
        else:
            self._hold_step(per)

    def _probe_step(self, per: float) -> None:
        n = self._queue[0]
        got = self._samples.setdefault(n, [])
        got.append(per)
        done = {c: statistics.median(v) for c, v in self._samples.items() if c != n}
        best_other = min(done.values(), default=None)
        if len(got) >= self.probe or (best_other is not None and per > self.abort * best_other):
            self._queue.pop(0)
            if self._queue:
                self._apply(self._queue[0])
            else:
                self._finish_probe()

    def _finish_probe(self) -> None:
        medians = {c: statistics.median(v) for c, v in self._samples.items()}
        best = min(medians)  # the fewest threads
        for c in sorted(medians):
            if medians[c] < self.margin * medians[best]:
                best = c
        before = self.switches[-1]["threads"] if self.switches else self.first
        if best == before and self.switches:
            self._hold = min(self._hold * 2, self.max_hold)
        else:
            self._hold = self.hold
        if best != before or not self.switches:
            self.switches.append({"batch": self.batches, "threads": best,
                                  "us_per_token": {str(c): round(m * 1e6, 3) for c, m in sorted(medians.items())}})
        self._reference = medians[best]
        self._recent = []
        self._left = self._hold
        self._apply(best)

    def _hold_step(self, per: float) -> None:
        self._left -= 1
        self._recent = (self._recent + [per])[-self.window:]
        drifted = False
        if len(self._recent) == self.window and self._reference:
            now = statistics.median(self._recent)
            drifted = now > self.drift * self._reference or now * self.drift < self._reference
        if drifted:
            self._hold = self.hold
        if drifted or self._left <= 0:
            self._begin_probe()

    def record(self) -> dict:
        """What the tuner did, for run.json: final threads, batches, probes and every switch."""
        return {"threads": self.current, "batches": self.batches, "probes": self.probes,
                "switches": list(self.switches)}


@dataclass
class ThreadPlan:
    """The threads a training uses: the setting, the first count and, for 'auto', the tuner.

    Args:
        setting: ``fit.threads`` ('auto' or an int).
        threads: the count training starts with.
        cores: cores this process may use.
        busy: cores other processes kept busy when it was planned (None: not measured).
        work: one step's work (:func:`step_work`; None: not known).
        tuner: the :class:`Tuner` ('auto' on more than one core), else None.
    """

    setting: str | int
    threads: int
    cores: int
    busy: float | None = None
    work: int | None = None
    tuner: Tuner | None = None

    def line(self) -> str:
        """The line printed once at the start of training."""
        if self.tuner is None:
            why = "fit.threads" if self.setting != AUTO else "auto, one core"
            return f"threads: {self.threads} ({why}; OpenMP wait policy {_policy()})"
        return (f"threads: auto, starting at {self.threads} of {self.cores} cores ({self.busy:.1f} busy elsewhere, "
                f"{self.work:,} multiply-adds per step), then timed batches choose between "
                f"{' and '.join(map(str, self.tuner.candidates))} (OpenMP wait policy {_policy()})")

    def record(self) -> dict:
        """The plan and what the tuner did, for run.json's ``thread_policy``."""
        rec = {"setting": self.setting, "start": self.threads, "cores": self.cores,
               "busy_cores": None if self.busy is None else round(self.busy, 2), "work": self.work,
               **_omp.STATE}
        if self.tuner is not None:
            rec.update(self.tuner.record())
        else:
            rec["threads"] = self.threads
        return rec


def _policy() -> str:
    s = _omp.STATE
    return f"{s['omp_wait_policy'] or 'libgomp default'}, set by {s['set_by']}"


def plan_threads(setting: str | int | None, work: int | None, *, cores: int | None = None,
                 busy: float | None = None, clock: Callable[[], float] = time.perf_counter) -> ThreadPlan:
    """The threads of one training, applied to the calling thread.

    Args:
        setting: ``fit.threads``: 'auto' (None reads as 'auto') or a count.
        work: one step's work (:func:`step_work`).
        cores: cores available; default :func:`cores_available`.
        busy: busy cores elsewhere; default measured by :func:`busy_cores` (for 'auto' only).
        clock: the tuner's clock.

    Returns:
        The plan; torch already runs at its first count.
    """
    cores = cores or cores_available()
    if setting not in (None, AUTO):
        n = int(setting)
        torch.set_num_threads(n)
        return ThreadPlan(setting=n, threads=n, cores=cores, work=work)
    if busy is None:  # only sampled (0.1 s) when it can change the first guess
        busy = busy_cores(cores=os.cpu_count()) if cores > 1 and (work or 0) >= MIN_PARALLEL_WORK else 0.0
    first = decide(cores, busy, work or 0)
    if cores == 1:
        torch.set_num_threads(1)
        return ThreadPlan(setting=AUTO, threads=1, cores=cores, busy=busy, work=work)
    tuner = Tuner(candidates=(1, cores), first=first, clock=clock)
    return ThreadPlan(setting=AUTO, threads=first, cores=cores, busy=busy, work=work, tuner=tuner)


_local = threading.local()


def inference_tuner(cores: int | None = None) -> Tuner | None:
    """The calling thread's inference tuner, made on first use and kept across calls (None on
    one core). It starts at one thread and holds it for its first 20 batches before it probes:
    a prediction rarely has batches to spare on probing a contended core (measured: probing at
    once cost M1 1.6x beside one busy loop), and the probes later in its life (a long predict,
    a server) find the cores when they are free."""
    cores = cores or cores_available()
    if cores == 1:
        return None
    tuner = getattr(_local, "tuner", None)
    if tuner is None or tuner.candidates != (1, cores):
        tuner = Tuner(candidates=(1, cores), first=1, hold=20, probe_first=False)
        _local.tuner = tuner
    return tuner
