"""Shared test helpers: paths to fixtures and to ../shared/data (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_DATA = ROOT.parent / "shared" / "data"


def keras_fixture(name: str) -> dict:
    """A JSON file made by tests/fixtures/make_keras_expected.py with the real Keras."""
    return json.loads((FIXTURES / "keras" / f"{name}.json").read_text(encoding="utf-8"))


def shared_file(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test with a visible reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (../shared/data is not beside the repo)")
    return path


def write_toy_csv(path: Path, n: int = 400, seed: int = 0, multilabel: bool = False) -> Path:
    """A small learnable dataset written by the tests themselves: texts made of sentiment words
    plus noise; label 'pos' (and for multi-label also 'loud': contains '!!')."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    good, bad = ["good", "great", "fine", "lovely", "superb"], ["bad", "awful", "poor", "dull", "boring"]
    noise = [f"w{i}" for i in range(40)]
    rows = []
    for i in range(n):
        pos = int(rng.random() < 0.5)
        k = int(rng.integers(3, 25))
        words = list(rng.choice(noise, k)) + list(rng.choice(good if pos else bad, 2))
        rng.shuffle(words)
        loud = int(rng.random() < 0.3)
        text = " ".join(words) + (" !!" if loud else "")
        rows.append({"id": f"r{i}", "text": text.capitalize(), "pos": pos, "loud": loud})
    frame = pd.DataFrame(rows)
    if not multilabel:
        frame = frame.drop(columns=["loud"])
    frame.to_csv(path, index=False)
    return path


def toy_config(data: Path, runs: Path, **over) -> dict:
    """A config dict for a tiny, fast model on :func:`write_toy_csv` data."""
    cfg = {
        "name": "toy", "seed": 3, "runs_dir": str(runs),
        "data": {"dataset": "table", "path": str(data), "text_column": "text", "label_columns": ["pos"]},
        "text": {"maxlen": 30},
        "model": {"embedding": {"dim": 8}, "layers": [{"type": "GRU", "units": 8}, {"type": "Dense"}]},
        "compile": {"optimizer": "adam", "learning_rate": 0.02},
        "fit": {"epochs": 5, "batch_size": 32, "verbose": "quiet"},
    }
    for key, value in over.items():
        node = cfg
        parts = key.split("__")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return cfg


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run the ``rnnlab`` command in-process; returns (exit code, stdout, stderr)."""
    import sys

    from rnnlab.cli import main

    old = sys.argv
    sys.argv = ["rnnlab", *map(str, args)]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return code, out.out, out.err


def interrupt_in_epoch(monkeypatch, epoch: int):
    """Make training raise KeyboardInterrupt (as Ctrl-C does) while epoch ``epoch`` is evaluated.

    Returns:
        A function that undoes it, for the resumed run.
    """
    from rnnlab.train import fit as fit_module

    real, calls = fit_module.compute_metrics, {"n": 0}

    def interrupting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == epoch:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(fit_module, "compute_metrics", interrupting)
    return lambda: monkeypatch.setattr(fit_module, "compute_metrics", real)


def quick_plots(monkeypatch=None) -> None:
    """Training writes its plots (curves.png, lengths.png) as a one-line file, atomically as the
    real ones (the same file events) but without matplotlib's seconds: for tests about the run
    folder's life, not its pictures. Undone with ``monkeypatch`` when given (else for good: in
    a forked process)."""
    from rnnlab import _io
    from rnnlab.train import rnn

    def plot(_data, path, *args, **kwargs):
        _io.write_bytes(path, b"plot\n")
        return Path(path)

    for name in ("plot_learning_curves", "plot_length_histogram"):
        if monkeypatch is None:
            setattr(rnn, name, plot)
        else:
            monkeypatch.setattr(rnn, name, plot)
