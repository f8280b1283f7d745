"""A sweep in MLflow (``track.mlflow``): one parent run for the study and one child run per variant.

The sweep calls :class:`SweepTracker` at four points: :meth:`~SweepTracker.open` when the study
starts (the parent run is made once and its id kept in the study, so a resumed sweep and its
worker processes log under the same parent), :meth:`~SweepTracker.trial_start` before a variant
trains (its child run, handed to :func:`rnnlab.train` which logs the params, epochs and files into
it), :meth:`~SweepTracker.trial_end` with the variant's outcome (status, failure reason and the
doctor's findings as tags; a variant that never trained, e.g. blocked by the doctor, still has
its child run) and :meth:`~SweepTracker.close` when the study is done.
"""

from __future__ import annotations

from ..config import Config
from ..train.progress import Reporter
from ..train.track import MlflowSession, flat_params, require_trackers, run_tags

PARENT_ATTR = "mlflow_parent_run"  # the study's user attribute holding the parent run id


def _findings(doctor: list[dict]) -> str:
    """The doctor's findings as one tag value: 'severity rule (key): message' joined by ' | '."""
    return " | ".join(f"{f.get('severity')} {f.get('rule')}" + (f" ({f['key']})" if f.get("key") else "")
                      + f": {f.get('message')}" for f in doctor)


class SweepTracker:
    """The MLflow side of one sweep process (the main one or a worker)."""

    def __init__(self, session: MlflowSession, parent: str | None, study: str, worker: bool = False):
        self.session, self.parent, self.study, self.worker = session, parent, study, worker

    @classmethod
    def open(cls, cfg: Config, study, rep: Reporter, *, worker: bool = False) -> "SweepTracker | None":
        """The tracker of the sweep of ``cfg`` in the Optuna ``study``; None when ``track.mlflow``
        is off. The main process makes the parent run (or reopens the one the study records);
        a worker (``worker``) only reads it.

        Raises:
            ConfigError: mlflow is not installed.
        """
        if not cfg.track.mlflow:
            return None
        require_trackers(cfg)
        session = MlflowSession(cfg, rep, cfg.track.experiment or study.study_name)
        parent = study.user_attrs.get(PARENT_ATTR)
        if parent and not worker:
            session.reopen(parent)
        elif not parent and not worker:
            parent = session.create_run(study.study_name, {**run_tags(cfg), "rnnlab.sweep": study.study_name})
            if parent is not None:
                study.set_user_attr(PARENT_ATTR, parent)
                session.log_params(parent, flat_params(cfg))
        if parent is not None and session.alive and not worker:
            rep.message(f"tracking: MLflow parent run {parent} in experiment '{session.experiment}'")
        return cls(session, parent, study.study_name, worker)

    def trial_start(self, index: int, name: str) -> dict:
        """Make the child run of variant ``index`` (``name``); returns the ``track`` argument of
        :func:`rnnlab.train` ({} when tracking is off or down)."""
        tags = {"rnnlab.variant": name, "rnnlab.variant_index": str(index), "rnnlab.sweep": self.study}
        if self.parent is not None:
            tags["mlflow.parentRunId"] = self.parent
        child = self.session.create_run(name, tags)
        return {} if child is None else {"run_id": child, "experiment": self.session.experiment}

    def trial_end(self, track: dict, outcome: str, reason: str, summary: dict | None) -> None:
        """Record a variant's outcome on its child run (``track``: what :meth:`trial_start`
        returned) and close the run with the matching status."""
        child = track.get("run_id")
        if child is None:
            return
        tags = {"rnnlab.outcome": outcome}
        if reason:
            tags["rnnlab.reason"] = reason
        doctor = (summary or {}).get("doctor") or []
        if doctor:
            tags["rnnlab.doctor"] = _findings(doctor)
        elif outcome == "blocked":  # the doctor's errors are the reason
            tags["rnnlab.doctor"] = reason
        self.session.set_tags(child, tags)
        self.session.terminate(child, outcome)

    def close(self, best: dict | None = None) -> None:
        """The study is done: the best variant's value and name on the parent run, which ends
        (a worker leaves the parent run to the main process)."""
        if self.parent is not None and not self.worker:
            if best:
                self.session.log_metrics(self.parent, {f"best_{best['metric']}": best["value"]}, 0, "best value")
                self.session.set_tags(self.parent, {"rnnlab.best_variant": best["name"]})
            self.session.terminate(self.parent, "completed")
        self.session.note_missed()
