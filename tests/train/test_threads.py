"""Training with fit.threads = 'auto': the plan is printed once and recorded in run.json, and the
results do not depend on the thread count (switching between 1 and 2 threads during training
gives what one thread gives, up to float noise)."""

import itertools
import json

import numpy as np
import pytest
import torch

import rnnlab
from helpers import toy_config, write_toy_csv
from rnnlab.engine import threads as th
from rnnlab.train import fit as fit_module


def test_auto_is_printed_once_and_recorded_in_run_json(tmp_path, capsys):
    before = torch.get_num_threads()
    try:
        run = rnnlab.train(toy_config(write_toy_csv(tmp_path / "toy.csv"), tmp_path / "runs", fit__epochs=2,
                                      fit__verbose="line"))
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out
    assert out.count("threads: ") == 1
    info = json.loads((run.dir / "run.json").read_text())
    policy = info["thread_policy"]
    assert policy["setting"] == "auto" and info["threads"] == policy["threads"] >= 1
    assert {"cores", "busy_cores", "work", "omp_wait_policy", "set_by"} <= set(policy)


def test_switching_threads_during_training_gives_the_results_of_one_thread(tmp_path, monkeypatch):
    data = write_toy_csv(tmp_path / "toy.csv")
    used = []

    def set_threads(n):
        used.append(n)
        torch.set_num_threads(n)

    def switching_plan(setting, work, **kw):  # probes every other batch: both counts run all along
        tick = itertools.count()
        tuner = th.Tuner(candidates=(1, 2), first=2, set_threads=set_threads, clock=lambda: float(next(tick)),
                         probe=1, hold=1)
        return th.ThreadPlan(setting="auto", threads=2, cores=2, busy=0.0, work=work, tuner=tuner)

    before = torch.get_num_threads()
    try:
        one = rnnlab.train(toy_config(data, tmp_path / "one", fit__threads=1, fit__epochs=2))
        monkeypatch.setattr(fit_module, "plan_threads", switching_plan)
        auto = rnnlab.train(toy_config(data, tmp_path / "auto", fit__epochs=2))
    finally:
        torch.set_num_threads(before)
    assert {1, 2} <= set(used) and len(used) > 10
    for a, b in zip(one.history, auto.history):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-6)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5, abs=1e-6)
    texts = ["good great fine", "bad awful poor", "a plain text"]
    np.testing.assert_allclose(one.predict(texts), auto.predict(texts), rtol=0, atol=1e-5)

