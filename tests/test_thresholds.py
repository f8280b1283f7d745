"""Per-label thresholds: picked on validation data, stored in the run (manifest refreshed),
used by predict."""

import json

import numpy as np
import pandas as pd
import pytest

import rnnlab
from helpers import run_cli, toy_config, write_toy_csv
from rnnlab.errors import ConfigError, DataError
from rnnlab.use.thresholds import choose, fit_thresholds


def test_f1_choice_is_the_best_threshold():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.2).astype(int)
    p = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    got = choose(y, p, "x")

    def f1(t):
        pred = p >= t
        tp = (pred & (y == 1)).sum()
        return 2 * tp / (pred.sum() + y.sum())

    assert got["f1"] == pytest.approx(max(f1(t) for t in np.unique(p)), abs=1e-9)
    assert got["f1"] >= got["at_0_5"]["f1"]


def test_target_precision_and_unreachable_targets():
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    p = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.7, 0.9, 0.6])
    got = choose(y, p, "x", "precision", 0.99)
    assert got["precision"] == 1.0 and got["threshold"] == pytest.approx(0.7)
    got = choose(y, p, "x", "recall", 1.0)
    assert got["recall"] == 1.0 and got["threshold"] == pytest.approx(0.35)
    with pytest.raises(DataError, match="precision of 1.0 is never reached for 'x'"):
        choose(np.array([0, 1, 0, 1]), np.array([0.9, 0.1, 0.8, 0.2]), "x", "precision", 1.0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("thr")
    data = write_toy_csv(tmp / "toy.csv", multilabel=True)
    return rnnlab.train(toy_config(data, tmp / "runs", data__label_columns=["pos", "loud"])), data, tmp


def test_stored_thresholds_are_protected_and_used(trained, capsys):
    run, data, tmp = trained
    code, out, err = run_cli(["thresholds", run.dir], capsys)
    assert code == 0, err
    stored = json.loads((run.dir / "thresholds.json").read_text())
    assert set(stored["thresholds"]) == {"pos", "loud"} and "validation split" in stored["data"]
    loaded = rnnlab.load_run(run.dir)  # the manifest was refreshed
    assert loaded.thresholds == stored["thresholds"]
    pd.read_csv(data)[["id", "text"]].to_csv(tmp / "in.csv", index=False)
    code, _, err = run_cli(["predict", run.dir, tmp / "in.csv", "--out", tmp / "o.csv", "--threshold", "run"], capsys)
    assert code == 0, err
    got = pd.read_csv(tmp / "o.csv")
    probs = loaded.predict(pd.read_csv(tmp / "in.csv")["text"].tolist())
    for j, (label, t) in enumerate(stored["thresholds"].items()):
        assert got[f"{label}_pred"].tolist() == (probs[:, j] >= np.float32(t)).astype(int).tolist()


def test_thresholds_on_given_data_and_errors(trained):
    run, data, _ = trained
    from rnnlab.data import load_for_run

    result = fit_thresholds(run, load_for_run(run.config, data), "recall", 0.9)
    assert all(r["recall"] >= 0.9 for r in result["per_label"].values())
    with pytest.raises(ConfigError, match="--target"):
        fit_thresholds(run, None, "precision", None)
    with pytest.raises(ConfigError, match="--optimize must be"):
        fit_thresholds(run, None, "accuracy")


def test_predict_with_run_thresholds_needs_them(tmp_path, capsys):
    data = write_toy_csv(tmp_path / "toy.csv")
    run = rnnlab.train(toy_config(data, tmp_path / "runs"))
    code, _, err = run_cli(["predict", run.dir, data, "--out", tmp_path / "o.csv", "--threshold", "run"], capsys)
    assert code == 2 and "no stored thresholds" in err
