"""Run folders: the one owner of their format (:mod:`~rnnlab.runs.folder` names every file),
their life (:func:`create`, :func:`finish`), their files (weights, manifest, predictions) and
the trained models they hold (:class:`Run`, :class:`EnsembleRun`; :func:`load` opens either).

Nothing here imports :mod:`rnnlab.train`: a run folder alone is enough to predict.
"""

from .ensemble import METHODS, EnsembleRun, combine, ensemble_loss, ensemble_metrics, percentiles
from .files import (load_baseline, load_weights, read_ensemble, read_history, read_json, read_predictions,
                    read_tracking, read_train_rows, read_vocab, save_baseline, save_weights, write_ensemble,
                    write_history, write_labels, write_predictions, write_tracking, write_train_rows, write_vocab)
from .folder import RunFolder, unique_run_dir
from .lifecycle import amend, create, discard_resume_state, finish, is_finished, reopen, resume_plan, seal
from .manifest import verify_manifest, write_manifest
from .run import Run, check_labels


def load(path) -> Run:
    """Open a run folder: a :class:`Run`, or an :class:`EnsembleRun` for blends and k-fold runs
    (``Run.load``)."""
    return Run.load(path)


__all__ = ["METHODS", "EnsembleRun", "Run", "RunFolder", "amend", "check_labels", "combine", "create",
           "discard_resume_state", "ensemble_loss", "ensemble_metrics", "finish", "is_finished", "load",
           "load_baseline", "load_weights", "percentiles", "read_ensemble", "read_history", "read_json",
           "read_predictions", "read_tracking", "read_train_rows", "read_vocab", "reopen", "resume_plan",
           "save_baseline", "save_weights", "seal",
           "unique_run_dir", "verify_manifest", "write_ensemble", "write_history", "write_labels", "write_manifest",
           "write_predictions", "write_tracking", "write_train_rows", "write_vocab"]
