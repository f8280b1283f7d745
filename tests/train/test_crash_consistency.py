"""Crash consistency: ``rnnlab train`` killed (SIGKILL) at every file event of its run folder.

Every rename and removal goes through ``rnnlab._io`` (a written file's temporary copy is
complete, not yet renamed, when the kill comes); its test hook ``RNNLAB_TEST_KILL_AT=N`` kills
the process just before its N-th event, ``RNNLAB_TEST_EVENTS=FILE`` lists them. One run with
the list counts the events; then a run is killed at each one, and the folder it leaves must be
either resumed by ``rnnlab train --resume`` to the uninterrupted run's files (weights, metrics,
predictions, history but its timings, manifest, and no other file), or refused by ``predict``
and ``train --resume`` with one ``error:`` line naming the command that works — which then works.

The killed runs are forked from the test process once the uninterrupted run (in-process, one
thread: forked as DataLoader workers are) has warmed torch up: a fresh interpreter per kill would
cost seconds each. Plots are replaced by a one-line file (same events, no matplotlib).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
import tomli_w
import torch

from helpers import quick_plots, run_cli, toy_config, write_toy_csv

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the killed runs are forked (POSIX only)")

TIMING = ("seconds", "train_seconds")
STOP = {"enabled": True, "monitor": "val_loss", "min_delta": 10.0, "patience": 1, "restore_best_weights": True}


def _child(args: list[str], env: dict[str, str]) -> None:
    """One ``rnnlab`` command in a forked process, output discarded; its exit code is the command's."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.environ.update(env)
    quick_plots()
    from rnnlab.cli import main

    sys.argv = ["rnnlab", *args]
    main()


@pytest.fixture(scope="module")
def forked():
    """run(args, kill_at) -> exit code of ``rnnlab ARGS`` killed at its ``kill_at``-th file event
    (negative: the signal that ended it)."""
    ctx = multiprocessing.get_context("fork")

    def run(args, kill_at: int) -> int:
        env = {"RNNLAB_TEST_KILL_AT": str(kill_at)}
        proc = ctx.Process(target=_child, args=([str(a) for a in args], env))
        proc.start()
        proc.join(120)
        assert proc.exitcode is not None, "the forked rnnlab did not end"
        return proc.exitcode

    yield run


@pytest.fixture()
def fast(monkeypatch):
    """Quick plots; torch's thread count restored afterwards (the runs use one)."""
    quick_plots(monkeypatch)
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _files(folder: Path) -> dict[str, bytes]:
    """Every file of a finished run folder that must not depend on being interrupted: relative
    path -> content (history.csv without its timings, manifest.json without config.toml, which
    names the folder; run.json, log.txt and MODEL_CARD.md hold times and the folder's name)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_dir() or Path(rel).name in ("run.json", "log.txt", "config.toml", "MODEL_CARD.md"):
            out[rel] = b""
            continue
        data = path.read_bytes()
        if path.name == "history.csv":
            lines = [line.split(",") for line in data.decode().splitlines()]
            keep = [i for i, name in enumerate(lines[0]) if name not in TIMING]
            data = "\n".join(",".join(row[i] for i in keep) for row in lines).encode()
        elif path.name == "manifest.json":
            files = json.loads(data)["files"]
            files.pop("config.toml")
            data = json.dumps(files, sort_keys=True).encode()
        out[rel] = data
    return out


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def _counted(args: list, events: Path, capsys, monkeypatch) -> int:
    """Run ``rnnlab ARGS`` in-process (uninterrupted); the number of its file events."""
    monkeypatch.setenv("RNNLAB_TEST_EVENTS", str(events))
    code, _, err = run_cli(args, capsys)
    monkeypatch.delenv("RNNLAB_TEST_EVENTS")
    assert code == 0, err
    return len(events.read_text().splitlines())


def _kill_everywhere(tmp: Path, cfg: dict, forked, capsys, monkeypatch, every: int = 1) -> dict:
    """Kill ``rnnlab train`` at every ``every``-th file event and check what it leaves.

    Returns:
        counts: events, kill points, and per outcome (no folder, resumed, loadable).
    """
    path = tmp / "c.toml"
    path.write_text(tomli_w.dumps(cfg))
    total = _counted(["train", path, "--out", tmp / "straight", "-q"], tmp / "events.txt", capsys, monkeypatch)
    straight = _files(tmp / "straight")
    data = tmp / "texts.csv"
    data.write_text("text\ngood fine\nawful\n")
    counts = {"events": total, "kill points": 0, "no folder": 0, "resumed": 0}
    for n in range(1, total + 1, every):
        out = tmp / f"k{n}"
        code = forked(["train", path, "--out", out, "-q"], kill_at=n)
        assert code == -signal.SIGKILL, f"kill point {n}: the run ended with {code}"
        counts["kill points"] += 1
        if not out.exists():  # killed before the folder was renamed into place: nothing to resume
            counts["no folder"] += 1
            continue
        code, _, err = run_cli(["predict", out, data, "--out", tmp / "p.csv"], capsys)
        line = _one_line(err)
        assert code == 2 and f"`rnnlab train --resume {out}`" in line, (n, line)
        code, _, err = run_cli(["train", "--resume", out, "-q"], capsys)
        assert code == 0, (n, err)
        assert _files(out) == straight, f"kill point {n}: the resumed run differs from the uninterrupted one"
        counts["resumed"] += 1
        shutil.rmtree(out)
    return counts


def test_an_rnn_run_killed_at_any_file_event_resumes_to_the_same_end(tmp_path, forked, capsys, monkeypatch, fast):
    """Early stopping with restore_best_weights (a restore file, the stop saved), 2 epochs."""
    cfg = toy_config(write_toy_csv(tmp_path / "toy.csv", n=60), tmp_path / "runs", fit__epochs=3, fit__threads=1,
                     fit__early_stopping=STOP, fit__batch_size=30, model__embedding={"dim": 4})
    cfg["model"]["layers"][0]["units"] = 4
    counts = _kill_everywhere(tmp_path, cfg, forked, capsys, monkeypatch)
    print("rnn:", counts)
    assert counts["events"] >= 25 and counts["resumed"] == counts["kill points"] - counts["no folder"]


def test_a_baseline_run_killed_at_any_file_event_resumes_to_the_same_end(tmp_path, forked, capsys, monkeypatch, fast):
    cfg = toy_config(write_toy_csv(tmp_path / "toy.csv", n=60), tmp_path / "runs", model__type="tfidf_lr")
    counts = _kill_everywhere(tmp_path, cfg, forked, capsys, monkeypatch)
    print("baseline:", counts)
    assert counts["events"] >= 9


def test_a_kfold_run_killed_at_file_events_resumes_to_the_same_end(tmp_path, forked, capsys, monkeypatch, fast):
    """Two folds of one epoch; every fourth of its 49 events (all of them pass too, in 95 s)."""
    cfg = toy_config(write_toy_csv(tmp_path / "toy.csv", n=60), tmp_path / "runs", fit__epochs=1, fit__threads=1,
                     fit__folds=2, fit__batch_size=30, model__embedding={"dim": 4})
    cfg["model"]["layers"][0]["units"] = 4
    counts = _kill_everywhere(tmp_path, cfg, forked, capsys, monkeypatch, every=4)
    print("k-fold:", counts)
    assert counts["events"] >= 30


def test_a_blend_killed_at_any_file_event_is_refused_until_blended_again(tmp_path, forked, capsys, monkeypatch, fast):
    """A blend cannot be resumed: predict and train --resume name `rnnlab blend` (after removing
    the folder), which then works."""
    data = write_toy_csv(tmp_path / "toy.csv", n=60)
    members = []
    for i, kind in enumerate(("tfidf_lr", "nbsvm")):
        path = tmp_path / f"{kind}.toml"
        path.write_text(tomli_w.dumps(toy_config(data, tmp_path / "runs", model__type=kind)))
        members.append(tmp_path / kind)
        code, _, err = run_cli(["train", path, "--out", members[-1], "-q"], capsys)
        assert code == 0, err
    total = _counted(["blend", *members, "--out", tmp_path / "straight"], tmp_path / "events.txt", capsys,
                     monkeypatch)
    straight = _files(tmp_path / "straight")
    texts = tmp_path / "texts.csv"
    texts.write_text("text\ngood fine\n")
    refused = 0
    for n in range(1, total + 1):
        out = tmp_path / f"b{n}"
        assert forked(["blend", *members, "--out", out], kill_at=n) == -signal.SIGKILL
        if out.exists():
            refused += 1
            for args in (["predict", out, texts, "--out", tmp_path / "p.csv"], ["train", "--resume", out]):
                code, _, err = run_cli(args, capsys)
                line = _one_line(err)
                assert code == 2 and f"remove it and blend again: rnnlab blend RUN RUN ... --out {out}" in line, line
            shutil.rmtree(out)
        code, _, err = run_cli(["blend", *members, "--out", out], capsys)
        assert code == 0, err
        assert _files(out) == straight
    print("blend:", {"events": total, "refused": refused})
    assert total >= 5 and refused >= 3
