"""``rnnlab demo`` on tiny models: one Ctrl-C (a real SIGINT) ends the whole demo with exit 130, the
finished model kept, the one in training saved and marked ``interrupted``, the rest ``not run``; one
demo = one folder, so a rerun never leaves a comparison that describes other runs; ``--threads``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT, toy_config, write_toy_csv
from rnnlab.errors import ConfigError
from rnnlab.runs import Run
from rnnlab.runs.folder import RunFolder


def _models(data, tmp, slow_epochs=3):
    """Three tiny models: ``fast`` (1 epoch), ``slow`` (``slow_epochs``), ``last`` (1)."""
    return [(toy_config(data, tmp, name="fast", fit__epochs=1), None),
            (toy_config(data, tmp, name="slow", fit__epochs=slow_epochs), None),
            (toy_config(data, tmp, name="last", fit__epochs=1), None)]


SCRIPT = r"""
import json, sys
from rnnlab.experiments import demo
demo.MODELS = [tuple(m) for m in json.loads(sys.argv[1])]
from rnnlab.cli import main
sys.argv = ["rnnlab", "demo", "--out", sys.argv[2], "--threads", "1"]
main()
"""


def test_one_sigint_ends_the_whole_demo_with_130_and_an_honest_comparison(tmp_path):
    data = write_toy_csv(tmp_path / "toy.csv", n=150)
    out = tmp_path / "demo"
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(_models(data, tmp_path, 100_000)), str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    slow = RunFolder(out / "slow")
    deadline = time.monotonic() + 240
    while not slow.resume_state.exists():  # the slow model has finished an epoch: it is in its epoch loop
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the slow model never reached its first epoch"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # one Ctrl-C
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-3000:]

    rows = json.loads((out / "comparison.json").read_text())
    assert [(r["model"], r["status"]) for r in rows] == [("fast", "completed"), ("slow", "interrupted"),
                                                         ("last", "not run")]
    assert not (out / "last").exists()
    assert Run.load(out / "fast").metrics["epochs_run"] == 1
    interrupted = Run.load(out / "slow")  # kept, usable
    assert interrupted.metrics["status"] == "interrupted" and 1 <= interrupted.metrics["epochs_run"] < 100_000
    assert interrupted.config.fit.threads == 1  # --threads
    md = (out / "comparison.md").read_text().splitlines()
    assert md[0].startswith("| model | status |")
    assert md[3].startswith("| slow | interrupted | ") and md[4].startswith("| last | not run |")
    assert "interrupted" in stdout and "not run" in stdout and "comparison:" in stdout


def test_ctrl_c_outside_the_epoch_loop_also_ends_the_demo(tmp_path, monkeypatch):
    from rnnlab.experiments import demo

    data = write_toy_csv(tmp_path / "toy.csv", n=120)
    real, calls = demo.train, []

    def train(cfg, **kwargs):  # Ctrl-C while the second model reads its data
        calls.append(cfg.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(cfg, **kwargs)

    monkeypatch.setattr(demo, "train", train)
    models = _models(data, tmp_path, 1)
    with pytest.raises(demo.DemoInterrupted) as stop:
        demo.run_demo(out=tmp_path / "d", models=models, verbose="quiet")
    assert [(r["model"], r["status"]) for r in stop.value.rows] == [("fast", "completed"), ("slow", "interrupted"),
                                                                    ("last", "not run")]
    assert json.loads((tmp_path / "d" / "comparison.json").read_text()) == stop.value.rows
    assert "| slow | interrupted |  |  |" in (tmp_path / "d" / "comparison.md").read_text()


def test_each_demo_gets_its_own_folder_and_a_full_out_is_refused(tmp_path, monkeypatch):
    from rnnlab.experiments import demo

    monkeypatch.chdir(tmp_path)
    data = write_toy_csv(tmp_path / "toy.csv", n=120)
    models = [(toy_config(data, tmp_path, name="fast", fit__epochs=1), None)]
    first = demo.run_demo(models=models, verbose="quiet", threads=1)
    second = demo.run_demo(models=models, verbose="quiet", threads=1)
    assert Path(first[0]["run"]).resolve() == tmp_path / "runs" / "demo" / "fast"
    assert Path(second[0]["run"]).resolve() == tmp_path / "runs" / "demo-2" / "fast"
    for folder, rows in (("demo", first), ("demo-2", second)):  # each comparison describes its own runs
        assert json.loads((tmp_path / "runs" / folder / "comparison.json").read_text()) == rows
    before = (tmp_path / "runs" / "demo" / "comparison.md").read_text()
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        demo.run_demo(out=tmp_path / "runs" / "demo", models=models, verbose="quiet")
    assert (tmp_path / "runs" / "demo" / "comparison.md").read_text() == before
    assert sorted(p.name for p in (tmp_path / "runs" / "demo").iterdir()) == ["comparison.json", "comparison.md",
                                                                              "fast"]


def test_bad_threads_is_a_config_error(tmp_path):
    from rnnlab.experiments import demo

    data = write_toy_csv(tmp_path / "toy.csv", n=60)
    with pytest.raises(ConfigError, match="fit.threads"):
        demo.run_demo(out=tmp_path / "d", models=[(toy_config(data, tmp_path, name="x"), None)], threads=0,
                      verbose="quiet")
