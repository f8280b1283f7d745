"""Blends (rnnlab blend): combining runs, evaluating on shared validation rows, the blend as a
usable run (predict, evaluate, thresholds, manifest), and the refusals."""

import json

import numpy as np
import pandas as pd
import pytest

import rnnlab
from helpers import run_cli, toy_config, write_toy_csv
from rnnlab.runs import combine, percentiles
from rnnlab.use.blend import blend
from rnnlab.errors import ConfigError, RunError
from rnnlab.engine.metrics import compute_metrics


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    root = tmp_path_factory.mktemp("blend")
    data = write_toy_csv(root / "toy.csv", n=300, multilabel=True)
    labels = {"data__label_columns": ["pos", "loud"]}
    rnn = rnnlab.train(toy_config(data, root, name="rnn", **labels), run_dir=root / "rnn")
    lin = rnnlab.train(toy_config(data, root, name="lin", model__type="tfidf_lr", **labels), run_dir=root / "lin")
    other = rnnlab.train(toy_config(data, root, name="other", seed=9, data__split_seed=9, **labels),
                         run_dir=root / "other")
    return root, data, rnn, lin, other


def test_percentiles_and_combine():
    ref = np.sort(np.array([[0.1], [0.2], [0.2], [0.9]]), axis=0)
    got = percentiles(ref, np.array([[0.0], [0.2], [0.5], [1.0]]))
    assert got[:, 0].tolist() == [0.0, 0.5, 0.75, 1.0]  # mid-rank of ties
    a, b = np.array([[0.2, 0.4]]), np.array([[0.6, 0.8]])
    assert combine([a, b], np.array([1, 3])) == pytest.approx(np.array([[0.5, 0.7]]))


def test_blend_evaluates_on_shared_validation_rows(members, tmp_path):
    root, data, rnn, lin, _ = members
    run, ev = blend([rnn.dir, lin.dir], out=tmp_path / "b", weights=[1, 2])
    frames = [pd.read_csv(r.dir / "validation_predictions.csv") for r in (rnn, lin)]
    p = (frames[0].filter(like="p_").to_numpy() + 2 * frames[1].filter(like="p_").to_numpy()) / 3
    y = frames[0].filter(like="y_").to_numpy()
    assert ev["rows"] == len(frames[0])
    assert ev["blend"]["auc"] == pytest.approx(compute_metrics(run.schema, y, p)["auc"], abs=1e-6)
    assert [m["weight"] for m in ev["members"]] == [1.0, 2.0]
    # the blend is a run: predict equals the weighted mean of its members' predictions
    texts = ["Good great !!", "awful boring", ""]
    want = (rnn.predict(texts) + 2 * lin.predict(texts)) / 3
    assert run.predict(texts) == pytest.approx(want, abs=1e-6)
    loaded = rnnlab.load_run(tmp_path / "b")
    assert loaded.is_ensemble and loaded.predict(texts) == pytest.approx(want, abs=1e-6)
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["validation"]["auc"] == ev["blend"]["auc"]
    # evaluating the blend on the members' training file means their held-out rows, not all rows
    _, ev2 = blend([rnn.dir, lin.dir], out=tmp_path / "b2", weights=[1, 2], data=data)
    assert ev2["rows"] == ev["rows"] and ev2["blend"]["auc"] == pytest.approx(ev["blend"]["auc"])


def test_rank_blend_is_batch_independent(members, tmp_path):
    _, _, rnn, lin, _ = members
    run, ev = blend([rnn.dir, lin.dir], out=tmp_path / "r", method="rank")
    assert ev["blend"]["loss"] is None  # percentiles are not probabilities
    assert "accuracy" not in ev["blend"] and "accuracy" in ev["members"][0]  # no decisions without thresholds
    texts = ["good good", "bad", "fine !!", "w1 w2"]
    together = run.predict(texts)
    alone = np.vstack([run.predict([t]) for t in texts])
    assert together == pytest.approx(alone, abs=1e-7)
    assert ((together >= 0) & (together <= 1)).all()
    assert rnnlab.load_run(tmp_path / "r").predict(texts) == pytest.approx(together)


def test_blend_usable_by_cli(members, tmp_path, capsys):
    root, data, rnn, lin, _ = members
    code, out, err = run_cli(["blend", rnn.dir, lin.dir, "--weights", "2,1", "--out", tmp_path / "c"], capsys)
    assert code == 0, err
    assert "blend" in out and "validation rows every run held out" in out
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": ["a", "b"], "text": ["good great", "awful bad"]}).to_csv(src, index=False)
    code, _, err = run_cli(["predict", tmp_path / "c", src, "--out", tmp_path / "s.csv"], capsys)
    assert code == 0, err
    assert list(pd.read_csv(tmp_path / "s.csv").columns) == ["id", "pos", "loud"]
    code, _, err = run_cli(["thresholds", tmp_path / "c"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["export", tmp_path / "c", "--format", "onnx", "--out", tmp_path / "x.onnx"], capsys)
    assert code != 0 and "is an ensemble" in err and not (tmp_path / "x.onnx").exists()


def test_blend_refusals(members, tmp_path, capsys):
    root, data, rnn, lin, other = members
    with pytest.raises(ConfigError, match="at least two runs"):
        blend([rnn.dir], out=tmp_path / "x")
    with pytest.raises(ConfigError, match="--weights needs 2 non-negative"):
        blend([rnn.dir, lin.dir], out=tmp_path / "x", weights=[1])
    with pytest.raises(ConfigError, match="'method' parameter must be one of mean, rank"):
        blend([rnn.dir, lin.dir], out=tmp_path / "x", method="median")
    held = write_toy_csv(tmp_path / "held.csv", n=60, seed=4, multilabel=True)
    pd.read_csv(held).assign(id=lambda f: "h" + f["id"]).to_csv(held, index=False)
    apart = rnnlab.train(toy_config(data, tmp_path, data__validation_path=str(held), fit__epochs=1,
                                    data__label_columns=["pos", "loud"]), run_dir=tmp_path / "apart")
    with pytest.raises(ConfigError, match="share no validation rows"):
        blend([rnn.dir, apart.dir], out=tmp_path / "x")
    code, _, err = run_cli(["blend", rnn.dir, lin.dir, "--weights", "a,b"], capsys)
    assert code == 2 and "--weights must be comma-separated numbers" in err
    # a tampered member inside a blend folder is refused when the blend loads
    blend([rnn.dir, lin.dir], out=tmp_path / "t")
    member = next((tmp_path / "t" / "members").glob("1-*"))
    with open(member / "model.safetensors", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(RunError, match="does not match manifest.json"):
        rnnlab.load_run(tmp_path / "t")


def test_different_splits_are_evaluated_on_rows_both_held_out(members, tmp_path):
    _, _, rnn, _, other = members
    ids = [set(pd.read_csv(r.dir / "validation_predictions.csv", dtype={"id": str})["id"]) for r in (rnn, other)]
    _, ev = blend([rnn.dir, other.dir], out=tmp_path / "d")
    assert ev["rows"] == len(ids[0] & ids[1]) < len(ids[0])


def test_blend_on_a_separate_labelled_file(members, tmp_path):
    root, data, rnn, lin, other = members
    held = write_toy_csv(tmp_path / "held.csv", n=120, seed=5, multilabel=True)
    run, ev = blend([rnn.dir, other.dir], out=tmp_path / "h", data=held)
    assert ev["rows"] == 120 and "held.csv" in ev["data"]
    ds = rnnlab.data.load_for_run(rnn.config, held)
    direct = compute_metrics(run.schema, ds.targets, run.predict(ds))["auc"]
    assert ev["blend"]["auc"] == pytest.approx(direct, abs=1e-6)


def test_blend_config_is_not_trainable(members, tmp_path):
    root, data, *_ = members
    with pytest.raises(ConfigError, match="marks a folder written by `rnnlab blend`"):
        rnnlab.train(toy_config(data, tmp_path, model__type="blend"))
