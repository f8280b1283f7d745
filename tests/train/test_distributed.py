"""Data-parallel training (train/distributed.py, train/launch.py): examples/jigsaw_lstm.toml on a
small slice of the real Jigsaw subset (a generated Jigsaw-shaped file when ../shared/data is
absent) with 2 gloo processes on the CPU.

The 2-rank trainings run in processes forked from the test (torchrun's environment set by hand:
RANK, WORLD_SIZE, MASTER_ADDR/PORT), which start in milliseconds; the kill -9 test goes through
the real ``rnnlab train --nproc 2`` (torchrun's elastic agent, one subprocess per rank)."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import ROOT, SHARED_DATA

LABELS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
CONFIG = ROOT / "examples" / "jigsaw_lstm.toml"
ROWS = 1500
TINY = ["text.maxlen=60", "model.layers.0.units=8", "fit.verbose=quiet", "fit.threads=1"]


def jigsaw_slice(path: Path) -> Path:
    """The first rows of the real subset, or Jigsaw-shaped rows with learnable labels."""
    real = SHARED_DATA / "jigsaw_toxic" / "train_subset.csv.gz"
    if real.exists():
        pd.read_csv(real, nrows=ROWS).to_csv(path, index=False)
        return path
    rng = np.random.default_rng(0)
    bad = {"toxic": "idiot", "severe_toxic": "scum", "obscene": "crap", "threat": "kill", "insult": "loser",
           "identity_hate": "bigot"}
    rows = []
    for i in range(ROWS):
        labels = {k: int(rng.random() < (0.25 if k == "toxic" else 0.08)) for k in LABELS}
        words = list(rng.choice([f"w{j}" for j in range(300)], int(rng.integers(3, 80))))
        words += [bad[k] for k, v in labels.items() if v]
        rng.shuffle(words)
        rows.append({"id": f"{i:016x}", "comment_text": " ".join(words), **labels})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, trace: str, kwargs: dict, errors: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RNNLAB_DDP_TRACE=trace,
                      RNNLAB_DDP_TIMEOUT="60")
    code = 0
    try:
        import torch

        torch.set_num_threads(1)
        from rnnlab.train.trainer import train

        train(**kwargs)
    except BaseException:  # noqa: BLE001 - reported to the test through the file
        Path(errors, f"rank-{rank}.txt").write_text(traceback.format_exc(), encoding="utf-8")
        code = 1
    os._exit(code)


def train_ranks(world: int, trace: Path, fails: bool = False, **kwargs) -> list[str]:
    """``rnnlab.train(**kwargs)`` as ``world`` data-parallel processes (forked); fails the test
    with a rank's traceback when one fails (unless ``fails``: then returns each rank's traceback)."""
    trace.mkdir(parents=True, exist_ok=True)
    ctx = multiprocessing.get_context("fork")
    port = _free_port()
    procs = [ctx.Process(target=_rank_main, args=(r, world, port, str(trace), kwargs, str(trace)))
             for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    failed = sorted(trace.glob("rank-*.txt"))
    if fails:
        return [f.read_text() for f in failed]
    assert not failed, failed[0].read_text()
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return []


def read_trace(trace: Path) -> dict[int, list[dict]]:
    return {int(p.stem.split("-")[1]): [json.loads(line) for line in p.read_text().splitlines()]
            for p in sorted(trace.glob("rank-*.jsonl"))}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return jigsaw_slice(tmp_path_factory.mktemp("jigsaw") / "slice.csv")


def test_two_ranks_see_every_row_once_write_one_folder_and_match_one_process(data, tmp_path):
    from rnnlab.runs import Run
    from rnnlab.train.trainer import train

    sets = [f"data.path={data}", f"runs_dir={tmp_path / 'runs'}", "fit.epochs=2", *TINY]
    train_ranks(2, tmp_path / "trace", config=str(CONFIG), overrides=sets)
    runs = list((tmp_path / "runs").iterdir())
    assert [r.name for r in runs] == ["jigsaw_lstm"]  # one folder: only rank 0 made it
    two = Run.load(runs[0])  # complete and verified by its manifest
    assert two.metrics["epochs_run"] == 2 and len(pd.read_csv(runs[0] / "history.csv")) == 2
    assert two.metrics["train_rows"] == 1200
    traces = read_trace(tmp_path / "trace")
    assert sorted(traces) == [0, 1]
    for epoch in (1, 2):
        per_rank = [next(t for t in traces[r] if t["epoch"] == epoch) for r in (0, 1)]
        rows = np.concatenate([t["rows"] for t in per_rank])
        assert len(rows) == 1200 and np.array_equal(np.sort(rows), np.arange(1200))  # each row once in all
        assert 500 < len(per_rank[0]["rows"]) < 700  # split between the ranks
        assert per_rank[0]["metrics"] == per_rank[1]["metrics"]  # computed on each rank from the gathered outputs
    first = [t["rows"] for t in traces[0]]
    assert first[0] != first[1]  # a new permutation each epoch

    one = train(CONFIG, [*sets, f"runs_dir={tmp_path / 'one'}"], run_dir=tmp_path / "one" / "run")
    auc1, auc2 = one.metrics["validation"]["auc"], two.metrics["validation"]["auc"]
    assert abs(auc1 - auc2) <= 0.01, (auc1, auc2)
    probs = two.predict(["you are an idiot", "thanks for the help"])  # used like any run
    assert probs.shape == (2, 6)


def test_kill_9_of_one_rank_is_a_clear_error_and_resume_finishes(data, tmp_path):
    from rnnlab.runs import Run

    run_dir = tmp_path / "run"
    env = {**os.environ, "RNNLAB_DDP_KILL_AT": "1:2:3", "RNNLAB_DDP_TIMEOUT": "60", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    sets = [f"data.path={data}", "fit.epochs=3", *TINY]
    args = [sys.executable, "-m", "rnnlab", "train", str(CONFIG), *sum((["--set", s] for s in sets), []),
            "--out", str(run_dir), "--nproc", "2"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Data-parallel training stopped: rank 1") and "SIGKILL" in last, done.stderr[-3000:]
    assert "rnnlab train --resume RUN --nproc 2" in last
    assert "Traceback" not in done.stderr
    assert (run_dir / "checkpoints" / "last.json").exists()  # epoch 1 saved; epoch 2 was under way
    assert json.loads((run_dir / "checkpoints" / "last.json").read_text())["epoch"] == 1

    train_ranks(2, tmp_path / "trace", resume=str(run_dir))
    run = Run.load(run_dir)
    assert run.metrics["status"] in ("completed", "early_stopped") and run.metrics["epochs_run"] == 3
    assert [t["epoch"] for t in read_trace(tmp_path / "trace")[0]] == [2, 3]  # continued after epoch 1


def test_k_folds_are_refused_on_every_rank_in_one_line(data, tmp_path):
    errors = train_ranks(2, tmp_path / "trace", fails=True, config=str(CONFIG),
                         overrides=[f"data.path={data}", "fit.folds=3", *TINY], run_dir=str(tmp_path / "run"))
    assert len(errors) == 2
    for tb in errors:
        assert "ConfigError: Data-parallel training (torchrun, --nproc) trains one recurrent network; " \
               "fit.folds > 1" in tb
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_a_bad_timeout_is_one_line(value, monkeypatch):
    from rnnlab.errors import ConfigError
    from rnnlab.train.distributed import timeout

    monkeypatch.setenv("RNNLAB_DDP_TIMEOUT", value)
    with pytest.raises(ConfigError, match=r"The 'RNNLAB_DDP_TIMEOUT' parameter must be a number of seconds > 0\. "
                                          rf"Got '{value}' instead\."):
        timeout()
    monkeypatch.setenv("RNNLAB_DDP_TIMEOUT", "12.5")
    assert timeout() == 12.5


def test_slices_cover_a_batch_once_in_rank_order():
    from rnnlab.train.distributed import Group

    for n in (0, 1, 2, 5, 128):
        rows = np.arange(n) * 3
        parts = [Group(rank=r, world=3).shard(rows) for r in range(3)]
        assert np.array_equal(np.concatenate(parts), rows)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
