"""--resume continues an interrupted run from its last finished epoch and ends exactly where an
uninterrupted run with the same seed ends (optimizer, RNG, early-stopping state restored)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import tomli_w

import rnnlab
from helpers import run_cli, toy_config, write_toy_csv
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
    with pytest.raises(RunError, match="not a complete run folder: model.safetensors missing.*rnnlab train --resume"):
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
    from rnnlab.train import fit as fit_module

    real, calls = fit_module.compute_metrics, {"n": 0}

    def interrupt_in_epoch_3(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(fit_module, "compute_metrics", interrupt_in_epoch_3)
    first = rnnlab.train(_cfg(tmp_path), run_dir=tmp_path / "a")
    assert first.metrics["status"] == "interrupted" and len(first.history) == 2
    monkeypatch.setattr(fit_module, "compute_metrics", real)
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
