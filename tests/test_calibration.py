"""Calibration (engine/calibration.py, use/calibrate.py, ``rnnlab calibrate``) and the model card
(runs/card.py): ECE and the fitted maps on known data; a calibrated run stored, protected,
applied by predict and thresholds; the card of a generated multi-label run and of the real
Jigsaw run names every label with its AUC and majority baseline."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import rnnlab
import pandas as pd
from helpers import ROOT, run_cli, shared_file, toy_config, write_toy_csv
from rnnlab.engine import calibration as calib
from rnnlab.errors import ConfigError, DataError, RunError
from rnnlab.runs.card import card_facts, render_card
from rnnlab.use.calibrate import _fit, fit_calibration

# a run trained on the full Jigsaw subset (e.g. the jigsaw-strong preset), named by this variable
JIGSAW_RUN = Path(os.environ.get("RNNLAB_TEST_JIGSAW_RUN", "") or "/nonexistent")


def _sample(n: int, temperature: float, seed: int = 0):
    """Truth drawn from sigmoid(z); the model reports sigmoid(z * temperature) (overconfident
    for temperature > 1)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, n)
    y = (rng.random(n) < calib.sigmoid(z)).astype(np.float64)
    return y, calib.sigmoid(z * temperature)


def test_ece_by_hand():
    # bins of width 1/15: 0.05 -> bin 0, 0.95 -> bin 14, 1.0 -> bin 14 (the last bin is closed)
    y = np.array([0, 0, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 1.0])
    r = calib.reliability(y, p)
    assert r["count"][0] == 2 and r["count"][14] == 2 and sum(r["count"]) == 4
    assert r["ece"] == pytest.approx((2 * 0.05 + 2 * abs(0.975 - 1.0)) / 4)
    assert calib.reliability(np.array([1, 0]), np.array([0.5, 0.5]))["ece"] == pytest.approx(0.0)


def test_temperature_recovers_the_overconfidence_and_lowers_ece():
    y, p = _sample(20000, 2.5)
    t = calib.fit_temperature(y, p)
    assert t == pytest.approx(2.5, rel=0.08)
    fixed = calib.forward({"temperature": t}, p)
    assert calib.reliability(y, fixed)["ece"] < calib.reliability(y, p)["ece"] / 3
    a, b = calib.fit_platt(y, p)
    assert a == pytest.approx(1 / 2.5, rel=0.08) and abs(b) < 0.1
    for entry in ({"temperature": t}, {"a": a, "b": b}):  # inverse undoes forward
        q = np.linspace(0.01, 0.99, 9)
        np.testing.assert_allclose(calib.forward(entry, calib.inverse(entry, q)), q, atol=1e-9)


def test_softmax_temperature_keeps_rows_summing_to_one():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 1, (4000, 3))
    truth = np.array([rng.choice(3, p=np.exp(r) / np.exp(r).sum()) for r in logits])
    sharp = np.exp(logits * 3)
    sharp /= sharp.sum(1, keepdims=True)
    t = calib.fit_softmax_temperature(truth, sharp)
    assert t == pytest.approx(3, rel=0.1)
    out = calib.apply({"softmax_temperature": t}, sharp, ["a", "b", "c"])
    np.testing.assert_allclose(out.sum(1), 1, atol=1e-5)
    assert (out.argmax(1) == sharp.argmax(1)).all()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cal")
    data = write_toy_csv(tmp / "toy.csv", n=300, multilabel=True)
    run = rnnlab.train(toy_config(data, tmp / "runs", data__label_columns=["pos", "loud"], fit__epochs=3))
    return run, data, tmp


def test_card_names_every_label_with_auc_and_majority_baseline(trained):
    run, _, _ = trained
    card = run.folder.card.read_text(encoding="utf-8")  # written at the end of training
    assert card.startswith("---\nlibrary_name: rnnlab\n") and "\n---\n# Model card: toy" in card
    m = run.metrics
    assert set(m["train_label_counts"]) == {"pos", "loud"} and 0 < m["train_label_counts"]["loud"] < m["train_rows"]
    for label in ("pos", "loud"):
        auc = m["validation"]["auc_per_label"][label]
        maj = m["validation"]["majority_accuracy_per_label"][label]
        assert f"| {label} | {auc:.4f} | " in card and f" | {maj:.4f} | " in card
        assert f"| {label} | {m['train_label_counts'][label]:,} | " in card
    assert "Embedding(8) → GRU(8) → Dense(" in card and "Small training set: 240 rows" in card
    assert "```toml\nname = \"toy\"" in card


def test_calibrate_stores_protects_and_applies(trained, capsys, tmp_path):
    run, data, _ = trained
    folder = tmp_path / "run"
    shutil.copytree(run.dir, folder)
    code, _, err = run_cli(["thresholds", folder], capsys)
    assert code == 0, err
    before = rnnlab.load_run(folder)
    texts = ["Good great !!", "bad awful", "w1 w2 fine"]
    raw_decisions = before.decide(before.predict(texts))
    code, out, err = run_cli(["calibrate", folder, "--seed", "5"], capsys)
    assert code == 0, err
    assert "ECE before" in out and "stored thresholds mapped" in out
    after = rnnlab.load_run(folder)  # the manifest was written again
    spec = json.loads((folder / "calibration.json").read_text())
    assert "calibration.json" in json.loads((folder / "manifest.json").read_text())["files"]
    assert set(spec["labels"]) == {"pos", "loud"} and spec["eval_rows"] == spec["rows"]
    assert spec["auc_before"] == spec["auc_after"]
    raw, cal = after.predict(texts, raw=True), after.predict(texts)
    np.testing.assert_allclose(cal, calib.apply(spec, raw, after.labels), atol=1e-6)
    assert not np.allclose(raw, cal)
    np.testing.assert_array_equal(after.decide(cal), raw_decisions)  # thresholds mapped: same decisions
    assert "### Calibration\n\n`rnnlab calibrate` (temperature)" in (folder / "MODEL_CARD.md").read_text()
    spec["labels"]["pos"]["temperature"] = 9.0
    (folder / "calibration.json").write_text(json.dumps(spec))
    with pytest.raises(RunError, match="calibration.json"):
        rnnlab.load_run(folder)


def test_calibrate_refuses_unknown_methods(trained):
    run, _, _ = trained
    with pytest.raises(ConfigError, match="--method must be one of temperature, platt"):
        fit_calibration(run, method="isotonic")


def test_platt_scaling_per_label_and_its_refusal():
    y1, p1 = _sample(3000, 2.0, seed=2)
    y2, p2 = _sample(3000, 0.5, seed=3)
    spec = _fit("multilabel", ["a", "b"], "platt", np.stack([y1, y2], 1), np.stack([p1, p2], 1))
    assert spec["labels"]["a"]["a"] == pytest.approx(0.5, rel=0.15)
    assert spec["labels"]["b"]["a"] == pytest.approx(2.0, rel=0.15)
    with pytest.raises(DataError, match="Platt scaling of 'b' has slope .* <= 0"):
        _fit("multilabel", ["a", "b"], "platt", np.stack([y1, 1 - y2], 1), np.stack([p1, p2], 1))


def _card_names_every_label(folder, card: str) -> None:
    facts = card_facts(rnnlab.runs.RunFolder(folder))
    val = facts["metrics"]["validation"]
    assert len(val["auc_per_label"]) == 6
    for label, auc in val["auc_per_label"].items():
        maj = val["majority_accuracy_per_label"][label]
        assert f"| {label} | {auc:.4f} | " in card and f" | {maj:.4f} | " in card


def test_card_of_a_run_trained_on_real_jigsaw_rows(tmp_path):
    # examples/jigsaw_lstm.toml on the first 3,000 rows of the real subset (a small model, 2 epochs):
    # the card written with the run names all six labels with their AUC beside the majority baseline
    real = shared_file("jigsaw_toxic", "train_subset.csv.gz")
    data = tmp_path / "slice.csv"
    pd.read_csv(real, nrows=3000).to_csv(data, index=False)
    run = rnnlab.train(ROOT / "examples" / "jigsaw_lstm.toml",
                       [f"data.path={data}", "fit.epochs=2", "text.maxlen=60", "model.layers.0.units=8",
                        "fit.verbose=quiet", "fit.threads=1"], run_dir=tmp_path / "run")
    card = (run.dir / "MODEL_CARD.md").read_text(encoding="utf-8")
    _card_names_every_label(run.dir, card)
    assert "threat" in card.split("imitations", 1)[1]  # the rare label is named among the limitations


def test_card_of_the_real_jigsaw_run():
    if not (JIGSAW_RUN / "manifest.json").exists():
        pytest.skip("no fully trained Jigsaw run given: set RNNLAB_TEST_JIGSAW_RUN to its run folder")
    facts = card_facts(rnnlab.runs.RunFolder(JIGSAW_RUN))
    card = render_card(facts)
    val = facts["metrics"]["validation"]
    assert len(val["auc_per_label"]) == 6
    for label, auc in val["auc_per_label"].items():
        maj = val["majority_accuracy_per_label"][label]
        assert f"| {label} | {auc:.4f} | " in card and f" | {maj:.4f} | " in card
    assert "`threat` 1.0 %" in card  # the rare label's rate is among the limitations


def test_binary_softmax_calibration_calibrates_column_one():
    # a 2-unit softmax over one 0/1 label: column 1 is P(label = 1); Run.calibrate goes through apply
    spec = {"method": "temperature", "labels": {"pos": {"temperature": 2.0}}, "binary_softmax": True}
    p = np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32)
    out = calib.apply(spec, p, ["pos"])
    want = calib.forward({"temperature": 2.0}, p[:, 1])
    np.testing.assert_allclose(out[:, 1], want, atol=1e-6)
    np.testing.assert_allclose(out[:, 0], 1 - want, atol=1e-6)


def _cli_ok(args, capsys) -> str:
    code, out, err = run_cli(args, capsys)
    assert code == 0, (args, out, err)
    return out


def test_multiclass_calibration_end_to_end_through_the_cli(tmp_path, capsys):
    import pandas as pd
    import tomli_w

    frame = pd.read_csv(write_toy_csv(tmp_path / "toy.csv", n=150, multilabel=True))
    frame["mood"] = np.where(frame["loud"] == 1, "loud", np.where(frame["pos"] == 1, "good", "bad"))
    frame.drop(columns=["pos", "loud"]).to_csv(tmp_path / "moods.csv", index=False)
    cfg = toy_config(tmp_path / "moods.csv", tmp_path / "runs", name="moods", fit__epochs=2, fit__threads=1,
                     data__label_columns=["mood"])
    (tmp_path / "moods.toml").write_text(tomli_w.dumps(cfg), encoding="utf-8")
    folder = tmp_path / "run"
    _cli_ok(["train", tmp_path / "moods.toml", "--out", folder], capsys)
    code, _, err = run_cli(["calibrate", folder, "--method", "platt"], capsys)
    assert code == 2 and err.startswith("error: --method platt calibrates one sigmoid output per label")
    out = _cli_ok(["calibrate", folder], capsys)
    assert "(softmax)" in out and "stored in" in out
    run = rnnlab.load_run(folder)
    spec = run.calibration
    assert spec["method"] == "temperature" and spec["softmax_temperature"] > 0 and "labels" not in spec
    assert set(spec["ece_before"]) == set(spec["ece_after"]) == {"bad", "good", "loud"}
    texts = frame["text"].tolist()[:40]
    pd.DataFrame({"id": range(40), "text": texts}).to_csv(tmp_path / "in.csv", index=False)
    _cli_ok(["predict", folder, tmp_path / "in.csv", "--out", tmp_path / "cal.csv"], capsys)
    _cli_ok(["predict", folder, tmp_path / "in.csv", "--out", tmp_path / "raw.csv", "--raw"], capsys)
    cal, raw = (pd.read_csv(tmp_path / f"{n}.csv") for n in ("cal", "raw"))
    np.testing.assert_allclose(cal[run.labels].to_numpy(), run.predict(texts), atol=1e-5)
    np.testing.assert_allclose(raw[run.labels].to_numpy(), run.predict(texts, raw=True), atol=1e-5)
    np.testing.assert_allclose(cal[run.labels].sum(axis=1), 1, atol=1e-4)
    assert np.abs(cal[run.labels].to_numpy() - raw[run.labels].to_numpy()).max() > 1e-3
    assert cal["predicted"].tolist() == raw["predicted"].tolist()  # one temperature keeps the argmax
    # submission: calibrated by default, --raw the network's own; same ids and columns
    pd.DataFrame({"id": range(40), **{c: 0.5 for c in run.labels}}).to_csv(tmp_path / "sample.csv", index=False)
    for name, extra in (("sub", []), ("sub_raw", ["--raw"])):
        _cli_ok(["submission", folder, tmp_path / "in.csv", "--sample", tmp_path / "sample.csv", "--out",
                 tmp_path / f"{name}.csv", *extra], capsys)
    np.testing.assert_allclose(pd.read_csv(tmp_path / "sub.csv")[run.labels], cal[run.labels], atol=1e-5)
    np.testing.assert_allclose(pd.read_csv(tmp_path / "sub_raw.csv")[run.labels], raw[run.labels], atol=1e-5)
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    val = run.metrics["validation"]
    for label in ("bad", "good", "loud"):
        assert f"| {label} | {val['auc_per_label'][label]:.4f} | " in card
        assert f"| {label} | T = {spec['softmax_temperature']:.3f} | " in card  # the calibration table
    assert "### Calibration\n\n`rnnlab calibrate` (temperature)" in card


def test_predict_raw_keeps_the_decisions_of_the_run_thresholds(trained, tmp_path, capsys):
    import pandas as pd

    run, data, _ = trained
    folder = tmp_path / "run"
    shutil.copytree(run.dir, folder)
    _cli_ok(["thresholds", folder], capsys)
    _cli_ok(["calibrate", folder], capsys)
    got = {}
    for name, extra in (("cal", []), ("raw", ["--raw"])):
        _cli_ok(["predict", folder, data, "--out", tmp_path / f"{name}.csv", "--threshold", "run", *extra], capsys)
        got[name] = pd.read_csv(tmp_path / f"{name}.csv")
    after = rnnlab.load_run(folder)
    texts = pd.read_csv(data)["text"].tolist()
    np.testing.assert_allclose(got["raw"][["pos", "loud"]], after.predict(texts, raw=True), atol=1e-5)
    np.testing.assert_allclose(got["cal"][["pos", "loud"]], after.predict(texts), atol=1e-5)
    pd.testing.assert_frame_equal(got["raw"][["pos_pred", "loud_pred"]], got["cal"][["pos_pred", "loud_pred"]])


def test_card_of_a_blend_and_a_kfold_run_and_their_calibration(trained, tmp_path, capsys):
    run, data, _ = trained
    kf = rnnlab.train(toy_config(data, tmp_path / "runs", name="kf", fit__folds=2, fit__epochs=1, fit__threads=1,
                                 data__label_columns=["pos", "loud"]))
    blend = tmp_path / "blend"
    _cli_ok(["blend", kf.dir, run.dir, "--out", blend], capsys)
    for folder, words in ((kf.dir, ["an ensemble of 2 fold models", "out-of-fold predictions of every row"]),
                          (blend, ["a blend (mean) of 2 runs: `kf`", "each member's own card"])):
        card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
        val = rnnlab.load_run(folder).metrics["validation"]
        for label in ("pos", "loud"):
            auc, maj = val["auc_per_label"][label], val["majority_accuracy_per_label"][label]
            assert f"| {label} | {auc:.4f} | " in card and f" | {maj:.4f} | " in card, folder
        assert f"On the validation split ({val['n']:,} rows)" in card
        for word in words:
            assert word in card, (word, folder)
    assert (kf.dir / "folds" / "fold-1" / "MODEL_CARD.md").exists()
    members = sorted((blend / "members").iterdir())
    for member in (kf.dir / "folds" / "fold-1", members[0]):
        code, _, err = run_cli(["calibrate", member], capsys)
        assert code == 2 and "is a member of the ensemble" in err and len(err.strip().splitlines()) == 1, err
    _cli_ok(["calibrate", blend], capsys)
    calibrated = rnnlab.load_run(blend)
    texts = ["Good great !!", "bad awful", "w1 w2 fine"]
    raw = calibrated.predict(texts, raw=True)
    np.testing.assert_allclose(calibrated.predict(texts), calib.apply(calibrated.calibration, raw, ["pos", "loud"]),
                               atol=1e-6)
    assert "### Calibration\n\n`rnnlab calibrate` (temperature)" in (blend / "MODEL_CARD.md").read_text()


def test_explain_says_a_calibrated_run_is_explained_on_its_raw_outputs(trained, tmp_path, capsys):
    pytest.importorskip("captum", reason="the explain extra is not installed (pip install 'rnnlab[explain]')")
    run, _, _ = trained
    folder = tmp_path / "run"
    shutil.copytree(run.dir, folder)
    code, _, err = run_cli(["explain", folder, "--text", "good fine", "--steps", "4"], capsys)
    assert code == 0 and "note:" not in err, err
    _cli_ok(["calibrate", folder], capsys)
    code, out, err = run_cli(["explain", folder, "--text", "good fine", "--steps", "4"], capsys)
    assert code == 0 and err.strip().splitlines() == [
        f"note: '{folder}' is calibrated (temperature); the explanations are of the network's own outputs "
        "(`rnnlab predict --raw`), not of the calibrated probabilities."], err
    raw = rnnlab.load_run(folder).predict(["good fine"], raw=True)[0]
    assert f"pos: output {raw[0]:.4f}" in out
