"""Bad inputs of tracking (``[track]``, ``--track``): docs/tracking.md."""

from __future__ import annotations

from .cases import Case

CASES = [
    Case("track-timeout", "`track.timeout` not a number > 0 (`0`, `-1`)", "config / `--set`",
         lambda folder: ["train", "toy.toml", "--set", "track.timeout=0", "--out", "out"], 2,
         r"The 'track\.timeout' parameter must be a float > 0\. Got 0 instead",
         "`ConfigError`, before any data is read"),
    Case("track-resume", "`rnnlab train --resume RUN --track`", "`rnnlab train`",
         lambda folder: ["train", "--resume", "run", "--track"], 2,
         r"--resume takes the run folder only: its config\.toml is used as it was \(no CONFIG, --set, --out or "
         r"--track\)",
         "`ConfigError`: a resumed run keeps its own `[track]` (and continues its MLflow run)"),
    Case("track-no-package", "`track.mlflow = true` / `--track` (or `track.tensorboard = true`) without the "
         "package installed", "`rnnlab train`, `rnnlab sweep`", None, 2,
         outcome="`ConfigError` naming the extra: `track.mlflow = true needs the mlflow package, which is not "
                 "installed: pip install \"rnnlab[mlflow]\" (or set track.mlflow = false).`, before any folder "
                 "is made",
         test="tests/experiments/test_tracking.py::test_a_missing_tracking_package_is_one_line_naming_the_extra"),
    Case("track-dead-server", "`track.uri` (or `MLFLOW_TRACKING_URI`) naming a server that is down or "
         "unreachable", "`rnnlab train`, `rnnlab sweep`", None, 0,
         outcome="one warning line (`tracking: MLflow at URI failed (...); training goes on without it`), the "
                 "run trains and finishes, and its end says what was not logged; requests get `track.timeout` "
                 "seconds and no retries",
         test="tests/experiments/test_tracking.py::test_a_dead_server_is_one_warning_and_the_run_finishes_in_seconds"),
]
