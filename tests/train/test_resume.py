"""--resume continues an interrupted run from its last finished epoch and ends exactly where an
uninterrupted run with the same seed ends (optimizer, RNG, early-stopping state, learning-rate
schedule step and ReduceLROnPlateau state restored)."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import tomli_w
import torch

import rnnlab
from helpers import interrupt_in_epoch, run_cli, toy_config, write_toy_csv
from rnnlab.errors import RunError


def _cfg(tmp, **over):
    data = tmp / "toy.csv"
    if not data.exists():
        write_toy_csv(data, n=1600)
    cfg = toy_config(data, tmp / "runs", **{"fit__epochs": 6, "fit__batch_size": 16, **over})
    cfg["model"]["layers"][0]["units"] = 16
    cfg["model"]["layers"].insert(1, {"type": "Dropout", "rate": 0.3})  # the torch RNG matters
    return cfg


def test_sigkill_mid_epoch_then_resume_gives_identical_metrics(tmp_path, capsys):
    cfg = _cfg(tmp_path, compile__optimizer="nadam",
               fit__early_stopping={"enabled": True, "monitor": "val_loss", "patience": 3,
                                    "restore_best_weights": True})
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps(cfg))
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "rnnlab", "train", str(path), "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    state = killed / "checkpoints" / "last.json"
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            if state.exists() and json.loads(state.read_text())["epoch"] >= 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the run never finished two epochs")
        time.sleep(0.3)  # into epoch 3
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (killed / "metrics.json").exists()
    with pytest.raises(RunError, match="is an unfinished run.*continue it with `rnnlab train --resume "):
        rnnlab.load_run(killed)
    code, out, err = run_cli(["train", "--resume", killed], capsys)
    assert code == 0, err
    code, _, err = run_cli(["train", path, "--out", tmp_path / "straight"], capsys)
    assert code == 0, err
    a, b = (killed / "metrics.json").read_bytes(), (tmp_path / "straight" / "metrics.json").read_bytes()
    assert a == b
    assert (killed / "model.safetensors").read_bytes() == (tmp_path / "straight" / "model.safetensors").read_bytes()
    assert not list((killed / "checkpoints").glob("last*"))  # the resume state is gone once the run ended


def test_ctrl_c_then_resume(tmp_path, monkeypatch):
    restore = interrupt_in_epoch(monkeypatch, 3)
    first = rnnlab.train(_cfg(tmp_path), run_dir=tmp_path / "a")
    assert first.metrics["status"] == "interrupted" and len(first.history) == 2
    restore()
    resumed = rnnlab.train(resume=tmp_path / "a")
    straight = rnnlab.train(_cfg(tmp_path), run_dir=tmp_path / "b")
    assert resumed.metrics == straight.metrics and resumed.metrics["epochs_run"] == 6


def test_nothing_to_resume(tmp_path, capsys):
    done = rnnlab.train(_cfg(tmp_path, fit__epochs=1), run_dir=tmp_path / "done")
    code, _, err = run_cli(["train", "--resume", done.dir], capsys)
    assert code == 2 and "finished (completed); there is nothing to resume" in err
    code, _, err = run_cli(["train", "--resume", tmp_path / "nowhere"], capsys)
    assert code == 2 and "not a run folder" in err
    code, _, err = run_cli(["train", tmp_path / "x.toml", "--resume", done.dir], capsys)
    assert code == 2 and "--resume takes the run folder only" in err


TIMING = ("seconds", "train_seconds")
PLATEAU = {"enabled": True, "patience": 1, "cooldown": 3, "factor": 0.5, "min_lr": 0.006,
           "min_delta": 10.0}  # no epoch after the first improves by 10: a reduction whenever not in cooldown
SCHEDULE = {"type": "ExponentialDecay", "decay_steps": 7, "decay_rate": 0.5}


@pytest.fixture()
def one_thread():
    """fit.threads = 1 (fast on a busy machine); torch's thread count is restored afterwards."""
    n = torch.get_num_threads()
    yield {"fit__threads": 1}
    torch.set_num_threads(n)


def _epochs(run):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in run.history]


@pytest.mark.parametrize("changer", ["plateau", "schedule"])
def test_a_resumed_run_continues_the_learning_rate_exactly(tmp_path, monkeypatch, changer, one_thread):
    """Interrupted during epoch 3 (Ctrl-C), resumed: every epoch's row of history.csv, the
    learning rate included, and metrics.json equal an uninterrupted run's."""
    data = write_toy_csv(tmp_path / "toy.csv", n=400)
    over = {"fit__reduce_lr_on_plateau": PLATEAU} if changer == "plateau" else {
        "compile__learning_rate_schedule": SCHEDULE}
    cfg = toy_config(data, tmp_path / "runs", fit__epochs=6, **over, **one_thread)  # 10 steps an epoch, adam 0.02
    restore = interrupt_in_epoch(monkeypatch, 3)
    first = rnnlab.train(cfg, run_dir=tmp_path / "a")
    assert first.metrics["status"] == "interrupted" and len(first.history) == 2
    saved = json.loads((tmp_path / "a" / "checkpoints" / "last.json").read_text())
    restore()
    resumed = rnnlab.train(resume=tmp_path / "a")
    straight = rnnlab.train(cfg, run_dir=tmp_path / "b")
    assert _epochs(resumed) == _epochs(straight) and len(straight.history) == 6
    assert resumed.metrics == straight.metrics
    rates = [row["learning_rate"] for row in straight.history]
    if changer == "plateau":
        assert rates == [0.02, 0.02, 0.01, 0.01, 0.01, 0.006]  # lowered after epochs 2 and 5 (cooldown 3), min_lr
        assert saved["learning_rates"] == [0.01]
        assert saved["fit"]["plateau"] == {"best": straight.history[0]["val_loss"], "wait": 0, "cooldown_counter": 3}
        log = (straight.dir / "log.txt").read_text()
        assert "epoch 2: ReduceLROnPlateau reducing learning rate to 0.01" in log
        assert "epoch 5: ReduceLROnPlateau reducing learning rate to 0.006" in log
    else:
        steps = math.ceil(straight.metrics["train_rows"] / 32)
        assert steps == 10 and saved["optimizer_extra"]["iterations"] == 2 * steps
        assert rates == pytest.approx([0.02 * 0.5 ** (e * steps / 7) for e in range(1, 7)], rel=1e-12)
