"""Experiment tracking (``[track]``): a run logged to MLflow and/or TensorBoard besides its run folder.

:class:`Tracker` is what the training calls: :meth:`Tracker.start` once the run folder exists,
:meth:`Tracker.epoch` after every epoch, :meth:`Tracker.end` once the folder is finished (or
:meth:`Tracker.abort` when training raised). :class:`MlflowSession` is the MLflow side, also used
by sweeps (:mod:`rnnlab.experiments.track`) for their parent and child runs.

MLflow is used through ``MlflowClient`` (explicit run ids, no global active run). The default
tracking URI is ``$MLFLOW_TRACKING_URI``, else a SQLite file beside the run folders
(``sqlite:///<runs_dir>/mlflow.db``, artifacts in ``<runs_dir>/mlartifacts``): MLflow 3's own
default backend, and it needs no server. The run id goes into the run folder (``tracking.json``)
so ``rnnlab train --resume`` continues the same MLflow run.

Tracking never breaks training: the first failing call (an unreachable server, a full disk)
prints one warning line and turns that tracker off; the run goes on, and its end says what was
not logged. Requests get ``track.timeout`` seconds and no retries (``MLFLOW_HTTP_REQUEST_TIMEOUT``
and ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, unless already set in the environment).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._io import sha256_file
from .._version import __version__
from ..config import Config
from ..errors import ConfigError
from ..runs import RunFolder, read_tracking, write_tracking
from .progress import Reporter

MLFLOW_DB = "mlflow.db"  # the default store, in runs_dir
MLFLOW_ARTIFACTS = "mlartifacts"  # its artifacts, in runs_dir
PARAMS_PER_BATCH = 100  # MLflow's log_batch limit
MAX_PARAM_CHARS = 6000  # MLflow's longest param value
MAX_TAG_CHARS = 5000
# MLflow run status of each rnnlab status (metrics.json 'status', a sweep's outcome)
RUN_STATUS = {"completed": "FINISHED", "early_stopped": "FINISHED", "ok": "FINISHED", "interrupted": "KILLED",
              "pruned": "KILLED", "failed": "FAILED", "blocked": "FAILED"}


def require_trackers(cfg: Config) -> None:
    """Check, before any work, that the packages ``[track]`` asks for are installed.

    Raises:
        ConfigError: one line naming the extra to install.
    """
    t = cfg.track
    for on, module, key, extra in ((t.mlflow, "mlflow", "track.mlflow", "mlflow"),
                                   (t.tensorboard, "tensorboard", "track.tensorboard", "tensorboard")):
        if on and importlib.util.find_spec(module) is None:
            raise ConfigError(f"{key} = true needs the {module} package, which is not installed: "
                              f"pip install \"rnnlab[{extra}]\" (or set {key} = false).")


def tracking_uri(cfg: Config) -> str:
    """``track.uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<runs_dir>/mlflow.db``."""
    if cfg.track.uri:
        return cfg.track.uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return "sqlite:///" + (Path(cfg.runs_dir).resolve() / MLFLOW_DB).as_posix()  # sqlite:////abs/path


def flat_params(cfg: Config) -> dict[str, str]:
    """The resolved config as MLflow params: dotted keys (``model.layers.0.units``), lists of
    scalars and tables as JSON, values cut to MLflow's limit."""
    out: dict[str, str] = {}

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
            for i, v in enumerate(node):
                walk(v, f"{key}.{i}")
        else:
            text = node if isinstance(node, str) else json.dumps(node, default=str)
            out[key] = text[:MAX_PARAM_CHARS]

    walk(cfg.to_dict(), "")
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _metric_name(text: str) -> str:
    """A label as MLflow allows it in a metric name (letters, digits, _ - . / and spaces)."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", str(text))


def epoch_metrics(logs: dict, validation: dict | None = None) -> dict[str, float]:
    """An epoch's numbers to log: every finite number of its log (loss, accuracy, val_*,
    learning_rate, seconds) and, with several labels, the AUC of each (``val_auc.<label>``)."""
    out = {k: x for k, v in logs.items() if k != "epoch" and (x := _number(v)) is not None}
    per_label = (validation or {}).get("auc_per_label") or {}
    if len(per_label) > 1:
        out.update({f"val_auc.{_metric_name(k)}": x for k, v in per_label.items() if (x := _number(v)) is not None})
    return out


def final_metrics(metrics: dict) -> dict[str, float]:
    """metrics.json's numbers on the validation split as ``final_val_<name>`` (per label:
    ``final_val_auc.<label>``), with the best monitored value and the epochs run."""
    out = {}
    for k, v in (metrics.get("validation") or {}).items():
        if isinstance(v, dict):
            out.update({f"final_val_{k.removesuffix('_per_label')}.{_metric_name(label)}": x
                        for label, x0 in v.items() if (x := _number(x0)) is not None})
        elif (x := _number(v)) is not None:
            out[f"final_val_{k}"] = x
    for k in ("best_value", "epochs_run", "best_epoch"):
        if (x := _number(metrics.get(k))) is not None:
            out[k] = x
    return out


def _git_commit(cwd: Path) -> str | None:
    """The commit checked out in ``cwd`` when it is inside a git repository."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def run_tags(cfg: Config) -> dict[str, str]:
    """Tags of every tracked run: rnnlab's version, the git commit of the working directory
    (the user's project) when it is a repository, and the data file's sha256."""
    tags = {"rnnlab.version": __version__, "rnnlab.model_type": cfg.model.type, "rnnlab.dataset": cfg.data.dataset}
    commit = _git_commit(Path.cwd())
    if commit:
        tags["mlflow.source.git.commit"] = commit
    for key, path in (("rnnlab.data_sha256", cfg.data.path),
                      ("rnnlab.validation_data_sha256", cfg.data.validation_path)):
        if path and Path(path).is_file():
            tags[key] = sha256_file(path)
    return tags


def _warn(rep: Reporter, text: str) -> None:
    """One warning line: in the run's log and on the console, also when the progress is quiet."""
    rep.message(text, style="yellow")
    if rep.mode == "quiet":
        print(text, file=sys.stderr)


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    first = (text.splitlines() or [""])[0]
    for refused in ("Connection refused", "Name or service not known", "timed out"):
        if refused in text:  # urllib3's "Max retries exceeded with url ... (Caused by ...)" says it last
            return f"{type(exc).__name__}: {refused.lower()}"
    return f"{type(exc).__name__}: {first[:160]}" if first else type(exc).__name__


class MlflowSession:
    """An MLflow client on one tracking URI and experiment that turns itself off at the first
    failure (one warning line) and remembers what it could not log.

    Args:
        cfg: the config (``[track]``, ``runs_dir``).
        rep: where the warning and the final note go.
        experiment: the experiment's name; default None = ``track.experiment`` or the config's name.
    """

    def __init__(self, cfg: Config, rep: Reporter, experiment: str | None = None):
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, math.ceil(cfg.track.timeout))))
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # our own line names the run
        self.uri = tracking_uri(cfg)
        self.rep = rep
        self.experiment = experiment or cfg.track.experiment or cfg.name or "rnnlab"
        self.default_store = not cfg.track.uri and not os.environ.get("MLFLOW_TRACKING_URI")
        self.artifacts = Path(cfg.runs_dir).resolve() / MLFLOW_ARTIFACTS
        self.dead: str | None = None  # why tracking stopped
        self.missed: list[str] = []  # what was not logged since
        self.client = None
        self.experiment_id: str | None = None
        self.call("the experiment", self._connect)

    @property
    def alive(self) -> bool:
        return self.dead is None

    def _connect(self) -> None:
        from mlflow.tracking import MlflowClient

        for chatty in ("mlflow.store.db.utils", "alembic.runtime.migration"):  # "Creating initial MLflow database
            logging.getLogger(chatty).setLevel(logging.WARNING)               # tables..." on every new store
        if self.default_store:
            Path(self.artifacts).mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=self.uri)
        found = self.client.get_experiment_by_name(self.experiment)
        if found is None:
            location = (self.artifacts / self.experiment).as_uri() if self.default_store else None
            try:
                self.experiment_id = self.client.create_experiment(self.experiment, artifact_location=location)
            except Exception:  # created by another process at the same moment
                found = self.client.get_experiment_by_name(self.experiment)
                if found is None:
                    raise
        if found is not None:
            self.experiment_id = found.experiment_id

    def call(self, what: str, fn: Callable, *args, **kwargs):
        """``fn(*args, **kwargs)``, or None when tracking is off or the call fails (the first
        failure warns once and turns tracking off); ``what`` names it in the final note."""
        if self.dead is not None:
            self.missed.append(what)
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # tracking never breaks training
            self.dead = _why(exc)
            self.missed.append(what)
            _warn(self.rep, f"tracking: MLflow at {_redact(self.uri)} failed ({self.dead}); training goes on "
                            f"without it")
            return None

    def create_run(self, name: str, tags: dict[str, str]) -> str | None:
        """A new run in the experiment; its id (None when tracking is off)."""
        run = self.call("the run", lambda: self.client.create_run(self.experiment_id, run_name=name, tags=tags))
        return None if run is None else run.info.run_id

    def link(self, run_id: str) -> str:
        """Where to see a run: its page in the server's UI, or the store's URI."""
        if self.uri.startswith(("http://", "https://")):
            return f"{_redact(self.uri).rstrip('/')}/#/experiments/{self.experiment_id}/runs/{run_id}"
        return _redact(self.uri)

    def reopen(self, run_id: str) -> None:
        self.call("the run's status", self.client.update_run, run_id, status="RUNNING")

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), PARAMS_PER_BATCH):
            self.call("params", self.client.log_batch, run_id, params=items[i:i + PARAMS_PER_BATCH])

    def log_metrics(self, run_id: str, values: dict[str, float], step: int, what: str) -> None:
        from mlflow.entities import Metric

        if values:
            now = int(time.time() * 1000)
            self.call(what, self.client.log_batch, run_id,
                      metrics=[Metric(k, v, now, step) for k, v in values.items()])

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        if tags:
            self.call("tags", self.client.log_batch, run_id,
                      tags=[RunTag(k, str(v)[:MAX_TAG_CHARS]) for k, v in tags.items()])

    def log_files(self, run_id: str, files: list[tuple[Path, str]]) -> None:
        for path, under in files:
            self.call(f"artifact {'/'.join(p for p in (under, path.name) if p)}", self.client.log_artifact, run_id,
                      str(path), under or None)

    def terminate(self, run_id: str, status: str) -> None:
        self.call("the run's end", self.client.set_terminated, run_id, RUN_STATUS.get(status, "FINISHED"))

    def note_missed(self) -> None:
        """The final line when something was not logged."""
        if self.dead is not None and self.missed:
            what = _summarise(self.missed)
            _warn(self.rep, f"tracking: not logged to MLflow ({self.dead}): {what}")


def _summarise(missed: list[str]) -> str:
    """'the run, params, epochs 1-2 metrics, final metrics, 7 artifacts' from the missed calls
    (in the order they were missed)."""
    parts: list[str] = []
    epochs = [int(w.split()[1]) for w in missed if w.startswith("epoch ")]
    artifacts = sum(w.startswith("artifact ") for w in missed)
    for what in missed:
        if what.startswith("epoch "):
            what = (f"epoch {epochs[0]}" if len(epochs) == 1 else f"epochs {min(epochs)}-{max(epochs)}") + " metrics"
        elif what.startswith("artifact "):
            what = f"{artifacts} artifact{'s' if artifacts > 1 else ''}"
        if what not in parts:
            parts.append(what)
    return ", ".join(parts)


def _redact(uri: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", uri)


class _Board:
    """TensorBoard event files in the run folder; off after the first failure (one warning)."""

    def __init__(self, folder: RunFolder, rep: Reporter):
        self.rep, self.writer = rep, None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(folder.tensorboard))
        except Exception as exc:
            _warn(rep, f"tracking: TensorBoard event files cannot be written ({_why(exc)}); training goes on without "
                       f"them")

    def do(self, fn: Callable) -> None:
        if self.writer is None:
            return
        try:
            fn(self.writer)
        except Exception as exc:
            _warn(self.rep, f"tracking: TensorBoard stopped ({_why(exc)}); training goes on without it")
            self.writer = None

    def close(self) -> None:
        self.do(lambda w: w.close())


class Tracker:
    """One run's trackers, as ``[track]`` asks (none: every method does nothing).

    Build it with :meth:`start` once the run folder exists.
    """

    def __init__(self, folder: RunFolder, rep: Reporter, cfg: Config):
        self.folder, self.rep, self.cfg = folder, rep, cfg
        self.mlflow: MlflowSession | None = None
        self.run_id: str | None = None
        self.board: _Board | None = None

    @classmethod
    def start(cls, cfg: Config, folder: RunFolder, rep: Reporter, *, resumed: bool = False,
              run_id: str | None = None, experiment: str | None = None, tags: dict[str, str] | None = None,
              lengths=None) -> "Tracker":
        """Start tracking the run in ``folder``.

        Args:
            cfg: the run's resolved config.
            folder: its run folder (made).
            rep: where warnings go.
            resumed: the folder is an interrupted run continued or trained again (``rnnlab train
                --resume``): its recorded MLflow run goes on. Default False.
            run_id: an MLflow run made for this run (a sweep's child run) to log into; default
                None = a new run.
            experiment: the experiment ``run_id`` belongs to; default None = ``track.experiment``
                or the config's name.
            tags: more tags for a new run; default None.
            lengths: token counts of the training texts, for TensorBoard's histogram; default None.
        """
        t = cls(folder, rep, cfg)
        if cfg.track.mlflow:
            t._start_mlflow(resumed, run_id, experiment, tags or {})
        if cfg.track.tensorboard:
            t.board = _Board(folder, rep)
            if lengths is not None and not resumed:
                t.board.do(lambda w: w.add_histogram("train_lengths", np.asarray(lengths), 0))
        return t

    def _start_mlflow(self, resumed: bool, run_id: str | None, experiment: str | None, tags: dict[str, str]) -> None:
        recorded = (read_tracking(self.folder).get("mlflow") or {}) if resumed else {}
        session = self.mlflow = MlflowSession(self.cfg, self.rep, recorded.get("experiment") or experiment)
        if recorded.get("run_id") and recorded.get("tracking_uri") == session.uri:
            self.run_id = recorded["run_id"]
            session.reopen(self.run_id)
            self.rep.message(f"tracking: MLflow run {self.run_id} continues ({_redact(session.uri)})")
            return
        if run_id is None:
            run_id = session.create_run(self.cfg.name or self.folder.name,
                                        {**run_tags(self.cfg), "rnnlab.run_dir": str(self.folder.path.resolve()),
                                         **tags})
        else:  # made by a sweep for this variant
            session.set_tags(run_id, {"rnnlab.run_dir": str(self.folder.path.resolve())})
        if run_id is None:
            return
        self.run_id = run_id
        write_tracking(self.folder, {"mlflow": {"run_id": run_id, "tracking_uri": session.uri,
                                                "experiment": session.experiment,
                                                "experiment_id": session.experiment_id}})
        session.log_params(run_id, flat_params(self.cfg))
        self.rep.message(f"tracking: MLflow run {run_id} in experiment '{session.experiment}' "
                         f"({session.link(run_id)})")

    def epoch(self, logs: dict, validation: dict | None = None) -> None:
        """Log one epoch's numbers (``logs``: the epoch's history row; ``validation``: its
        validation metrics, for the AUC of each label)."""
        values = epoch_metrics(logs, validation)
        step = int(logs.get("epoch", 0))
        if self.mlflow is not None:
            if self.run_id is None:
                self.mlflow.missed.append(f"epoch {step}")
            else:
                self.mlflow.log_metrics(self.run_id, values, step, f"epoch {step}")
        if self.board is not None:
            def scalars(w):
                for k, v in values.items():
                    w.add_scalar(k, v, step)
                w.flush()

            self.board.do(scalars)

    def end(self, metrics: dict) -> None:
        """Log the final metrics, the status and the run folder's files (the folder is finished),
        then close the run; say what was not logged."""
        status = metrics.get("status", "completed")
        if self.mlflow is not None and self.run_id is None:  # never made: nothing of the run reached MLflow
            self.mlflow.missed += ["final metrics", *(f"artifact {p.name}" for p, _ in self.folder.tracked_files(
                model=self.cfg.track.log_model))]
        elif self.mlflow is not None:
            m = self.mlflow
            m.log_metrics(self.run_id, final_metrics(metrics), int(metrics.get("epochs_run") or 0), "final metrics")
            m.set_tags(self.run_id, {"rnnlab.status": status, **({"rnnlab.reason": metrics["reason"]}
                                                                 if metrics.get("reason") else {})})
            m.log_files(self.run_id, self.folder.tracked_files(model=self.cfg.track.log_model))
            m.terminate(self.run_id, status)
        self._close()

    def abort(self, exc: BaseException) -> None:
        """Close the run when training raised (Ctrl-C outside an epoch, a crash)."""
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        if self.mlflow is not None and self.run_id is not None:
            self.mlflow.set_tags(self.run_id, {"rnnlab.status": status, "rnnlab.reason": _why(exc)})
            self.mlflow.terminate(self.run_id, status)
        self._close()

    def _close(self) -> None:
        if self.board is not None:
            self.board.close()
        if self.mlflow is not None:
            self.mlflow.note_missed()
