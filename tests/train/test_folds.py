"""k-fold cross-validation (fit.folds): K member runs, mean ± std, out-of-fold predictions of
every row, the parent predicting with the mean of the K models, and resume."""

import json

import numpy as np
import pandas as pd
import pytest

import rnnlab
from helpers import toy_config, write_toy_csv
from rnnlab.errors import ConfigError


@pytest.fixture(scope="module")
def kfold(tmp_path_factory):
    root = tmp_path_factory.mktemp("folds")
    data = write_toy_csv(root / "toy.csv", n=240)
    run = rnnlab.train(toy_config(data, root, fit__folds=3, fit__epochs=3), run_dir=root / "k")
    return root, data, run


def test_every_row_is_validated_once(kfold):
    root, data, run = kfold
    oof = pd.read_csv(run.dir / "validation_predictions.csv", dtype={"id": str})
    ids = pd.read_csv(data, dtype={"id": str})["id"]
    assert sorted(oof["id"]) == sorted(ids) and oof["id"].is_unique
    members = [rnnlab.load_run(run.dir / "folds" / f"fold-{i}") for i in (1, 2, 3)]
    vals = [set(pd.read_csv(m.dir / "validation_predictions.csv", dtype={"id": str})["id"]) for m in members]
    assert all(not (a & b) for i, a in enumerate(vals) for b in vals[i + 1:])
    assert [m.config.data.fold for m in members] == [1, 2, 3]


def test_metrics_mean_std_and_out_of_fold(kfold):
    _, _, run = kfold
    m = json.loads((run.dir / "metrics.json").read_text())
    folds = [json.loads((run.dir / "folds" / f"fold-{i}" / "metrics.json").read_text())["validation"]["auc"]
             for i in (1, 2, 3)]
    assert m["folds"] == 3
    assert m["cross_validation"]["auc"]["mean"] == pytest.approx(np.mean(folds))
    assert m["cross_validation"]["auc"]["std"] == pytest.approx(np.std(folds))
    assert m["validation"]["n"] == 240 and 0.5 < m["validation"]["auc"] <= 1


def test_parent_predicts_with_the_mean_of_its_folds(kfold):
    _, _, run = kfold
    loaded = rnnlab.load_run(run.dir)
    texts = ["good great fine", "awful dull", ""]
    want = np.mean([rnnlab.load_run(run.dir / "folds" / f"fold-{i}").predict(texts) for i in (1, 2, 3)], axis=0)
    assert loaded.is_ensemble and loaded.predict(texts) == pytest.approx(want, abs=1e-6)


def test_resume_keeps_finished_folds(kfold, tmp_path):
    root, data, run = kfold
    import shutil

    copy = tmp_path / "k"
    shutil.copytree(run.dir, copy)
    for name in ("manifest.json", "metrics.json", "ensemble.json", "labels.json"):
        (copy / name).unlink()
    shutil.rmtree(copy / "folds" / "fold-3")
    before = (copy / "folds" / "fold-1" / "model.safetensors").stat().st_mtime_ns
    resumed = rnnlab.train(resume=copy, verbose="quiet")
    assert (copy / "folds" / "fold-1" / "model.safetensors").stat().st_mtime_ns == before
    assert json.loads((copy / "metrics.json").read_text()) ["cross_validation"] == \
        json.loads((run.dir / "metrics.json").read_text())["cross_validation"]
    assert resumed.is_ensemble


def test_folds_refusals(tmp_path):
    data = write_toy_csv(tmp_path / "toy.csv", n=40)
    with pytest.raises(ConfigError, match="data.validation_path is set"):
        rnnlab.train(toy_config(data, tmp_path, fit__folds=3, data__validation_path=str(data)))
    with pytest.raises(ConfigError, match="'fit.folds' parameter must be"):
        rnnlab.train(toy_config(data, tmp_path, fit__folds=0))
