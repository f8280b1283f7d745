"""``rnnlab sweep``: every variant of a config's ``[sweep]`` trained as its own run, recorded in
an Optuna study.

The study store is Optuna's: by default a **journal file** (``runs/<study>/study.journal``) —
an append-only log guarded by a file lock, which Optuna designs for several processes on one
machine (SQLite, by contrast, serialises writers through one database lock and fails with
"database is locked" under concurrent workers). Any Optuna storage URL (``postgresql://…``,
``mysql://…``, ``sqlite:///…``) lets several machines work on one study.

A search (``[sweep.space]``, :mod:`rnnlab.experiments.search`) runs the queued variants first,
then asks the study's sampler (TPE, random, grid) for trials until ``n_trials`` are recorded.

Scheduling uses Optuna's queue: every variant is enqueued once; workers claim waiting trials
atomically (WAITING → RUNNING in the storage). A claimed trial whose variant already has a
live or finished trial with a lower number is a duplicate (two machines enqueued at once) and
is skipped. Workers write a heartbeat; on the next start, RUNNING trials whose worker died
(SIGKILL, power cut) are marked interrupted and their variants enqueued again, while finished
variants — completed, failed, blocked by the doctor, pruned — are never rerun.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from .._io import write_text
from ..config import Config, coerce_config
from ..engine import is_missing
from ..errors import ConfigError, DoctorBlocked, RnnlabError, TrainingFailed
from ..train.fit import StopTraining
from ..train.progress import Reporter
from ..train.trainer import train
from .search import (check_space, enqueue_base, is_search, make_pruner, make_sampler, prune_reason, search_loop,
                     target_trials)
from .track import SweepTracker
from .variants import Variant, expand

JOURNAL = "study.journal"  # the default study store, in runs/<study>/
SWEEP_CONFIG = "sweep.toml"  # the config a sweep ran, beside the journal
HEARTBEAT_S = 20
STALE_AFTER_S = 120
DONE = ("ok", "failed", "blocked", "pruned")  # outcomes of finished variants: never rerun


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def study_dir(cfg: Config, study: str) -> Path:
    return Path(cfg.runs_dir) / study


def open_storage(url: str | None, default_path: Path):
    """An Optuna storage: a journal file (default) or an RDB URL."""
    optuna = _optuna()
    if url and "://" in url:
        url = _with_driver(url)
        for attempt in range(5):
            try:
                return optuna.storages.RDBStorage(url)
            except ImportError as exc:
                missing = getattr(exc.__cause__, "name", None) or getattr(exc, "name", None) or "the driver"
                raise ConfigError(f"--storage {url.split('://')[0]}://…: the database driver is missing ({missing}); "
                                  f"install it, e.g. pip install 'rnnlab[postgres]'.") from None
            except Exception as exc:
                # two machines creating Optuna's tables at the same moment: one loses; try again
                if type(exc).__name__ in ("IntegrityError", "ProgrammingError") and attempt < 4:
                    time.sleep(0.2 + 0.25 * attempt)
                    continue
                raise ConfigError(f"Cannot open the study storage {_redact(url)}: {str(exc).splitlines()[0]}") from None
    path = Path(url) if url else default_path
    path.parent.mkdir(parents=True, exist_ok=True)
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def _with_driver(url: str) -> str:
    """``postgresql://`` with the PostgreSQL driver that is installed (psycopg2 or psycopg 3);
    SQLAlchemy's default for a bare scheme depends on its version."""
    if not url.startswith("postgresql://"):
        return url
    for module, scheme in (("psycopg2", "postgresql+psycopg2://"), ("psycopg", "postgresql+psycopg://")):
        if importlib.util.find_spec(module) is not None:
            return scheme + url[len("postgresql://"):]
    return url


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", url)


class Store:
    """An Optuna study and its storage, with the few trial operations a sweep needs."""

    def __init__(self, study, storage):
        self.study, self.storage = study, storage
        self.study_id = storage.get_study_id_from_name(study.study_name)

    def trial_id(self, t) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, t.number)

    def set(self, trial_id: int, **attrs) -> None:
        for k, v in attrs.items():
            self.storage.set_trial_user_attr(trial_id, k, v)

    def finish(self, trial_id: int, state, value: float | None = None) -> None:
        self.storage.set_trial_state_values(trial_id, state=state, values=None if value is None else [value])

    def claim(self):
        """Pop one waiting fixed variant atomically (WAITING → RUNNING); None when the queue is
        empty. A search's queued trial (``sweep.start_from_base``) is left to the sampler's ask()."""
        from optuna.trial import TrialState

        for t in self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            if t.user_attrs.get("enqueued"):
                continue
            if self.storage.set_trial_state_values(self.trial_id(t), state=TrialState.RUNNING):
                return t
        return None


def _alive(host: str, pid: int) -> bool | None:
    """True/False for a process on this machine; None when it runs elsewhere or is unknown."""
    if host != socket.gethostname() or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _live_keys(study) -> set[str]:
    from optuna.trial import TrialState

    keys = set()
    for t in study.get_trials(deepcopy=False):
        outcome = t.user_attrs.get("outcome")
        if t.state in (TrialState.WAITING, TrialState.RUNNING) or outcome in DONE:
            keys.add(t.user_attrs.get("variant_key"))
    return keys


def recover_stale(store: Store, rep: Reporter | None = None) -> list[str]:
    """Close RUNNING trials whose worker is gone; returns the names of the variants to run again.

    A worker killed after it recorded its outcome (the trial's last writes) had finished: its
    trial is closed with that outcome and value. Any other is marked interrupted and rerun."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    names = []
    now = time.time()
    metric = store.study.user_attrs.get("metric", "val_auc")
    for t in store.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        a = t.user_attrs
        alive = _alive(a.get("worker_host", ""), int(a.get("worker_pid", -1)))
        beat = float(a.get("heartbeat", a.get("started_at", t.datetime_start.timestamp() if t.datetime_start else now)))
        if not (alive is False or (alive is None and now - beat > STALE_AFTER_S)):
            continue
        tid, name = store.trial_id(t), a.get("variant_name", f"trial {t.number}")
        outcome = a.get("outcome")
        value = (a.get("metrics") or {}).get(metric)
        try:
            if outcome == "ok" and not is_missing(value):
                store.finish(tid, TrialState.COMPLETE, float(value))
            elif outcome in ("pruned", "failed", "blocked"):
                store.finish(tid, TrialState.PRUNED if outcome == "pruned" else TrialState.FAIL)
            else:
                store.set(tid, outcome="interrupted", reason="its worker stopped (killed or crashed); rerun")
                store.finish(tid, TrialState.FAIL)
                names.append(name)
                continue
        except UpdateFinishedTrialError:  # another machine recovered it at the same moment
            continue
        if rep is not None:
            rep.message(f"sweep: {name} had finished ({outcome}) when its worker stopped; recorded, not rerun")
    return names


def prepare(store: Store, variants: list[Variant], cfg: Config, rep: Reporter) -> None:
    """Record the variants in the study and enqueue those without a live or finished trial."""
    study = store.study
    for name in recover_stale(store, rep):
        rep.message(f"sweep: {name} was interrupted; it will run again")
    study.set_user_attr("variants", [{"index": v.index, "name": v.name, "key": v.key, "overrides": v.overrides}
                                     for v in variants])
    study.set_user_attr("config", cfg.to_toml())
    study.set_user_attr("metric", cfg.sweep.metric)
    live = _live_keys(study)
    queued = 0
    for v in variants:
        if v.key in live:
            continue
        study.enqueue_trial({"variant": v.index},
                            user_attrs={"variant_key": v.key, "variant_name": v.name,
                                        "overrides": json.dumps(v.overrides, default=str)})
        queued += 1
    done = len(variants) - queued
    rep.message(f"sweep: {len(variants)} variants; {done} already finished or running, {queued} queued")
    if is_search(cfg):
        study.set_user_attr("space", {**{k: {"choices": v} for k, v in cfg.sweep.params.items()}, **cfg.sweep.space})
        rep.message(f"search: {cfg.sweep.mode} over {', '.join(study.user_attrs['space'])}, "
                    f"{target_trials(cfg)} trials, pruner {type(study.pruner).__name__}")


def _duplicate_of(study, trial) -> int | None:
    from optuna.trial import TrialState

    key = trial.user_attrs.get("variant_key")
    for t in study.get_trials(deepcopy=False):
        if t.number >= trial.number or t.user_attrs.get("variant_key") != key:
            continue
        if t.state in (TrialState.WAITING, TrialState.RUNNING) or t.user_attrs.get("outcome") in DONE:
            return t.number
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_")[:60]


class _Heartbeat:
    def __init__(self, store: Store, trial_id: int):
        self.store, self.trial_id = store, trial_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.store.set(self.trial_id, heartbeat=time.time())
            except Exception:  # the storage is briefly unreachable: the next beat tries again
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()


def run_variant(store: Store, frozen, variant: Variant, base_dir: Path, *, force: bool, threads: int | str | None,
                rep: Reporter, tracker: SweepTracker | None = None, nproc: int = 1) -> str:
    """Train one claimed trial's variant; record outcome, reason and metrics on the trial (and on
    its MLflow child run, given a ``tracker``). With ``nproc`` > 1 the variant trains data-parallel
    (``rnnlab train --nproc``); its epochs are reported to the study when it ends, so it is never
    pruned itself but informs the pruner."""
    from optuna.trial import Trial, TrialState

    study, tid = store.study, store.trial_id(frozen)
    store.set(tid, worker_host=socket.gethostname(), worker_pid=os.getpid(), started_at=time.time(),
              heartbeat=time.time())
    trial = Trial(study, tid)
    run_dir = base_dir / f"{variant.index:03d}-{_slug(variant.name)}"
    if run_dir.exists():  # a previous attempt was interrupted: start it again from scratch
        shutil.rmtree(run_dir)
    cfg = variant.config if threads is None else variant.config.replace({"fit.threads": threads})
    metric = study.user_attrs.get("metric", "val_auc")
    prune = cfg.model.type == "rnn" and study.pruner.__class__.__name__ != "NopPruner"

    def on_epoch(history):
        value = history[-1].get(metric)
        if is_missing(value):
            return
        epoch = int(history[-1]["epoch"])
        trial.report(value, epoch)
        if prune and trial.should_prune():
            raise StopTraining("pruned", prune_reason(study.pruner, metric, value, epoch))

    rep.message(f"\n== variant {variant.index}: {variant.name}")
    outcome, reason, value, summary = "ok", "", None, None
    t0 = time.time()
    track = tracker.trial_start(variant.index, variant.name) if tracker is not None else {}
    with _Heartbeat(store, tid):
        try:
            if nproc > 1 and cfg.model.type == "rnn" and cfg.fit.folds <= 1:
                from ..train.launch import train_parallel  # torch's elastic agent, for --nproc only

                run = train_parallel(cfg, run_dir, nproc, force=force, quiet=rep.mode == "line")
                for logs in run.history:
                    on_epoch_history(logs, trial, metric)
            else:
                run = train(cfg, run_dir=run_dir, force=force, on_epoch_end=on_epoch, track=track or None,
                            verbose="line" if cfg.fit.verbose in ("auto", "bar") and rep.mode == "line" else None)
            m = run.metrics
            status = m.get("status")
            summary = _summary(m, run.info)
            store.set(tid, metrics=summary)
            value = summary.get(metric)
            if status == "interrupted":
                outcome, reason = "interrupted", m.get("reason", "")
            elif status == "pruned":
                outcome, reason = "pruned", m.get("reason", "")
            elif is_missing(value):
                outcome, reason = "failed", f"{metric} is undefined for this variant (NaN)"
        except TrainingFailed as exc:
            outcome, reason = "failed", str(exc).split(" The run folder ")[0]
        except DoctorBlocked as exc:
            outcome, reason = "blocked", str(exc)
        except RnnlabError as exc:
            outcome, reason = "failed", str(exc)
        except KeyboardInterrupt:
            outcome, reason = "interrupted", "stopped by the user (Ctrl-C)"
        except Exception as exc:  # any crash is recorded and the sweep goes on
            outcome, reason = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    store.set(tid, outcome=outcome, reason=reason, run_dir=str(run_dir), seconds=round(time.time() - t0, 2))
    if tracker is not None:
        tracker.trial_end(track, outcome, reason, summary)
    if outcome == "ok":
        store.finish(tid, TrialState.COMPLETE, float(value))
    elif outcome == "pruned":
        store.finish(tid, TrialState.PRUNED)
    else:
        store.finish(tid, TrialState.FAIL)
    rep.message(f"== variant {variant.index} {variant.name}: {outcome}" + (f" — {reason}" if reason else ""))
    if outcome == "interrupted":
        raise KeyboardInterrupt
    return outcome


def on_epoch_history(logs: dict, trial, metric: str) -> None:
    """Report one finished epoch of a data-parallel trial to the study (for the pruner)."""
    value = logs.get(metric)
    if not is_missing(value):
        trial.report(float(value), int(logs["epoch"]))


def _summary(m: dict, info: dict) -> dict:
    v = m.get("validation", {})
    return {"val_auc": v.get("auc"), "val_loss": v.get("loss"), "val_accuracy": v.get("accuracy"),
            "majority_accuracy": v.get("majority_accuracy"), "auc_per_label": v.get("auc_per_label", {}),
            "params": sum((m.get("params") or {}).values()), "best_epoch": m.get("best_epoch"),
            "epochs": m.get("epochs_run"), "status": m.get("status"),
            "seconds_per_epoch": info.get("seconds_per_epoch"), "doctor": m.get("doctor", [])}


def worker_loop(store: Store, variants: list[Variant], base_dir: Path, *, force: bool, threads: int | str | None,
                rep: Reporter, tracker: SweepTracker | None = None, nproc: int = 1) -> int:
    """Claim and run trials until the queue is empty; returns how many ran."""
    from optuna.trial import TrialState

    by_key = {v.key: v for v in variants}
    ran = 0
    while True:
        frozen = store.claim()
        if frozen is None:
            return ran
        key = frozen.user_attrs.get("variant_key")
        dup = _duplicate_of(store.study, frozen)
        if key not in by_key or dup is not None:
            tid = store.trial_id(frozen)
            if dup is not None:
                store.set(tid, outcome="duplicate", reason=f"duplicate of trial {dup}")
            else:
                store.set(tid, outcome="removed", reason="this variant is no longer in the config's [sweep]")
            store.finish(tid, TrialState.FAIL)
            continue
        from optuna.exceptions import UpdateFinishedTrialError

        try:
            run_variant(store, frozen, by_key[key], base_dir, force=force, threads=threads, rep=rep, tracker=tracker,
                        nproc=nproc)
        except UpdateFinishedTrialError:  # another machine took the trial over right after the claim
            rep.message(f"sweep: trial {frozen.number} was taken over by another worker; skipping it")
            continue
        ran += 1


def _best(study, metric: str) -> dict | None:
    """The best finished variant: {'metric', 'value', 'name'}; None when none finished."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    best = study.best_trial
    return {"metric": metric, "value": float(best.value), "name": best.user_attrs.get("variant_name", "")}


def run_sweep(config, overrides=None, *, storage: str | None = None, study: str | None = None, workers: int = 1,
              force: bool = False, worker: bool = False, threads: int | None = None,
              reporter: Reporter | None = None, nproc: int = 1) -> dict:
    """Run (or resume) the sweep of ``config``; returns {'study', 'storage', 'dir', 'variants'}.

    Args:
        config: a config path, dict or :class:`Config` with a ``[sweep]`` table.
        overrides: ``--set`` style overrides of the base config; default None.
        storage: an Optuna storage URL or a journal file path; default ``runs/<study>/study.journal``.
        study: the study name; default the config's name.
        workers: local worker processes (threads split between them); default 1.
        force: run variants the config doctor finds errors in (default False: they are
            recorded as blocked).
        worker: run as a worker only (the parent has prepared the study).
        threads: torch threads per worker (default: cores / workers).
        nproc: processes each trial trains on, data-parallel (``rnnlab train --nproc``); default 1.
    """
    started = time.time()
    cfg = coerce_config(config, overrides)
    rep = reporter or Reporter("line" if workers > 1 or worker else "auto")
    name = study or cfg.name or "sweep"
    base_dir = study_dir(cfg, name)
    variants = expand(cfg)
    search = is_search(cfg)
    if search:
        check_space(cfg)
    optuna = _optuna()
    storage_obj = open_storage(storage, base_dir / JOURNAL)
    direction = "minimize" if cfg.sweep.metric == "val_loss" else "maximize"
    # local workers draw with their own seeds: one seed would make them propose the same trials
    sampler = make_sampler(cfg, None if worker else cfg.sweep.seed) if search else None
    st = optuna.create_study(study_name=name, storage=storage_obj, load_if_exists=True, direction=direction,
                             pruner=make_pruner(cfg), sampler=sampler)
    store = Store(st, storage_obj)
    cores = os.cpu_count() or 1
    if not worker:
        base_dir.mkdir(parents=True, exist_ok=True)
        write_text(base_dir / SWEEP_CONFIG, cfg.to_toml())
        prepare(store, variants, cfg, rep)
        if search and enqueue_base(st, cfg):
            rep.message("search: the first trial is the base config (sweep.start_from_base)")
    tracker = SweepTracker.open(cfg, st, rep, worker=worker)  # MLflow: the parent run (track.mlflow)
    if workers > 1 and not worker:
        per = max(1, cores // workers)
        cmd = [sys.executable, "-m", "rnnlab", "sweep", str(base_dir / SWEEP_CONFIG), "--worker", "--study", name,
               "--storage", storage or str(base_dir / JOURNAL), "--threads", str(per), "--nproc", str(nproc)]
        if force:
            cmd.append("--force")
        rep.message(f"sweep: starting {workers} workers with {per} thread(s) each")
        procs = [subprocess.Popen(cmd) for _ in range(workers)]
        try:
            codes = [p.wait() for p in procs]
        except KeyboardInterrupt:
            for p in procs:
                p.terminate()
            raise
        if any(c not in (0, None) for c in codes):
            rep.message(f"sweep: worker exit codes {codes}")
    else:
        per_worker = threads or (cfg.fit.threads or None)
        worker_loop(store, variants, base_dir, force=force, threads=per_worker, rep=rep, tracker=tracker,
                    nproc=nproc)
        if search:
            search_loop(store, cfg, base_dir, force=force, threads=per_worker, rep=rep, started=started,
                        run_variant=run_variant, tracker=tracker, nproc=nproc)
    if tracker is not None:
        tracker.close(None if worker else _best(st, cfg.sweep.metric))
    return {"study": name, "storage": storage or str(base_dir / JOURNAL), "dir": str(base_dir),
            "variants": len(variants), "trials": target_trials(cfg) if search else 0}
