"""``rnnlab train CONFIG``: train a model and write its run folder (``--resume RUN`` continues one)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import ConfigError
from .common import SET, TRACK, app, overrides


@app.command("train")
def train(config: Optional[Path] = typer.Argument(None, help="TOML config file (not with --resume)."),
          set_: Optional[List[str]] = SET,
          out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default: runs/<name>, -2, -3… if "
                                                                       "taken)."),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
          force: bool = typer.Option(False, "--force", help="Train even when the config doctor finds errors."),
          resume: Optional[Path] = typer.Option(None, "--resume", help="Continue the interrupted run in this folder "
                                                                       "from its last finished epoch."),
          preset: Optional[str] = typer.Option(None, "--preset", help="A bundled config instead of CONFIG, e.g. "
                                                                      "imdb-strong, jigsaw-strong (docs/presets.md)."),
          nproc: int = typer.Option(1, "--nproc", min=1, help="Train data-parallel on this many processes of this "
                                                              "machine (torchrun's agent; docs/scale.md)."),
          track: bool = TRACK,
          ) -> None:
    """Train the model CONFIG describes; prints per-epoch metrics and writes runs/<name>/."""
    from ..config import preset_path
    from ..runs.folder import CONFIG
    from ..train.trainer import train as train_fn

    if preset is not None:
        if config is not None or resume is not None:
            raise ConfigError("--preset replaces CONFIG (and cannot resume): give one of them.")
        config = preset_path(preset)
    if nproc > 1:
        from ..train.launch import launch

        if resume is None and config is None:
            raise ConfigError("rnnlab train needs a CONFIG file (or --resume RUN_FOLDER).")
        launch(_args(config, set_, out, quiet, force, resume), nproc)
        return
    if resume is not None:
        if config is not None or set_ or out is not None or track:
            raise ConfigError(f"--resume takes the run folder only: its {CONFIG} is used as it was (no CONFIG, "
                              f"--set, --out or --track).")
        run = train_fn(resume=resume, verbose="quiet" if quiet else None)
    elif config is None:
        raise ConfigError("rnnlab train needs a CONFIG file (or --resume RUN_FOLDER).")
    else:
        run = train_fn(config, overrides(set_, track), run_dir=out, verbose="quiet" if quiet else None, force=force)
    if os.environ.get("RANK", "0") != "0":  # another rank of a data-parallel job (torchrun sets RANK): rank 0 reports
        return
    print(f"run folder: {run.dir}")
    if run.metrics.get("status") == "interrupted":
        sys.exit(130)


def _args(config, set_, out, quiet, force, resume) -> list[str]:
    """The ``rnnlab train`` arguments each data-parallel process gets."""
    args = [str(config)] if config is not None else []
    for value in set_ or []:
        args += ["--set", value]
    args += ["--out", str(out)] if out is not None else []
    args += ["--resume", str(resume)] if resume is not None else []
    return args + (["--quiet"] if quiet else []) + (["--force"] if force else [])
