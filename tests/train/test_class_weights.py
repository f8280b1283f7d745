"""fit.class_weight: Keras's class weights (binary, multi-class) and per-label positive weights
(multi-label) — the loss by hand on tiny batches, 'balanced' as scikit-learn computes it, the
errors, the weights a run records, trains with and resumes with, per fold, and in the baselines."""

import json
import shutil

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils.class_weight import compute_class_weight

import rnnlab
from helpers import interrupt_in_epoch, toy_config, write_toy_csv
from rnnlab.config import from_dict
from rnnlab.data import load_splits
from rnnlab.data.dataset import LabelSchema
from rnnlab.engine import Loss
from rnnlab.errors import ConfigError
from rnnlab.train import prepare
from rnnlab.train.class_weights import ClassWeights, resolve_class_weight

BINARY = LabelSchema("binary", ["pos"], column="pos")
MULTICLASS = LabelSchema("multiclass", ["happy", "meh", "sad"], column="mood")
MULTILABEL = LabelSchema("multilabel", ["toxic", "threat"])


def fit_section(class_weight, cap=10.0):
    cfg = toy_config("toy.csv", "runs", fit__class_weight=class_weight, fit__class_weight_cap=cap)
    return from_dict(cfg).fit


def resolved(class_weight, schema, targets, loss=None, cap=10.0) -> ClassWeights:
    return resolve_class_weight(fit_section(class_weight, cap), schema, np.asarray(targets), loss)


def bce(p, y):
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


# ------------------------------------------------------------------------ the loss by hand
def test_binary_class_weights_multiply_each_row_and_divide_by_the_batch_size():
    logits = torch.tensor([[0.3], [-1.2], [2.0], [0.1]])
    y = torch.tensor([[1.0], [0.0], [0.0], [1.0]])
    p, t = torch.sigmoid(logits).numpy()[:, 0], y.numpy()[:, 0]
    w = np.where(t == 1, 4.0, 0.5)
    want = (w * bce(p, t)).sum() / 4  # Keras 3 'sum_over_batch_size': not / w.sum()
    loss = Loss("binary_crossentropy", 1, "binary", class_weight=[0.5, 4.0])
    for out, fused in ((logits, True), (torch.sigmoid(logits), False)):
        assert loss(out, y, logits=fused).mean().item() == pytest.approx(want, rel=1e-5)
    assert want != pytest.approx((w * bce(p, t)).sum() / w.sum())


@pytest.mark.parametrize("name", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_multiclass_class_weights_by_hand(name):
    logits = torch.tensor([[1.0, 0.2, -0.5], [0.0, 0.0, 3.0], [-1.0, 2.0, 0.5]])
    y = torch.tensor([0, 2, 1])
    prob = torch.softmax(logits, -1).numpy()
    w = np.array([1.0, 2.5, 0.2])
    want = (w[y.numpy()] * -np.log(prob[np.arange(3), y.numpy()])).sum() / 3
    got = Loss(name, 3, "multiclass", class_weight=w.tolist())(logits, y, logits=True).mean().item()
    assert got == pytest.approx(want, rel=1e-5)


def test_two_softmax_units_on_a_binary_label_weigh_by_the_label():
    logits, y = torch.tensor([[0.2, 0.9], [1.0, -1.0]]), torch.tensor([[1.0], [0.0]])
    plain = Loss("sparse_categorical_crossentropy", 2, "binary")(logits, y, logits=True)
    weighted = Loss("sparse_categorical_crossentropy", 2, "binary", class_weight=[3.0, 0.5])(logits, y, logits=True)
    assert weighted.numpy() == pytest.approx(plain.numpy() * np.array([0.5, 3.0]))


def test_multilabel_positive_weights_by_hand():
    logits = torch.tensor([[0.5, -2.0], [-0.3, 1.5], [2.2, 0.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    p, t = torch.sigmoid(logits).numpy(), y.numpy()
    pw = np.array([2.0, 7.0])
    per_label = -(pw * t * np.log(p) + (1 - t) * np.log(1 - p))
    want = per_label.mean(-1).sum() / 3
    loss = Loss("binary_crossentropy", 2, "multilabel", pos_weight=pw.tolist())
    for out, fused in ((logits, True), (torch.sigmoid(logits), False)):
        assert loss(out, y, logits=fused).mean().item() == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="binary_crossentropy"):
        Loss("categorical_crossentropy", 2, "multilabel", pos_weight=[1.0, 2.0])


def test_no_weights_is_the_plain_loss_and_validation_drops_the_weights():
    logits, y = torch.tensor([[0.4], [-0.7]]), torch.tensor([[1.0], [0.0]])
    plain = Loss("binary_crossentropy", 1, "binary")
    assert plain.unweighted() is plain and plain.sample_weight(y) is None
    weighted = Loss("binary_crossentropy", 1, "binary", class_weight=[1.0, 9.0])
    assert torch.equal(weighted.unweighted()(logits, y, logits=True), plain(logits, y, logits=True))
    assert weighted.sample_weight(y).tolist() == [9.0, 1.0]


# ------------------------------------------------------------------------ 'balanced'
@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=2, max_size=60).filter(lambda v: len(set(v)) == 2))
def test_balanced_binary_is_scikit_learns(labels):
    y = np.array(labels)
    got = resolved("balanced", BINARY, y[:, None].astype(np.float32))
    assert got.names == ("0", "1")
    assert got.values == pytest.approx(compute_class_weight("balanced", classes=np.array([0, 1]), y=y))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=3, max_size=60).filter(lambda v: len(set(v)) == 3))
def test_balanced_multiclass_is_scikit_learns(labels):
    y = np.array(labels)
    got = resolved("balanced", MULTICLASS, y)
    assert got.to_dict().keys() == {"happy", "meh", "sad"}
    assert got.values == pytest.approx(compute_class_weight("balanced", classes=np.arange(3), y=y))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=80),
       st.floats(1.0, 20.0))
def test_balanced_multilabel_is_negatives_over_positives_capped(rows, cap):
    y = np.array(rows, dtype=np.float32)
    got = resolved("balanced", MULTILABEL, y, cap=cap)
    for j, name in enumerate(MULTILABEL.labels):
        pos, neg = y[:, j].sum(), len(y) - y[:, j].sum()
        want = 1.0 if pos == 0 or neg == 0 else min(neg / pos, cap)
        assert got.values[j] == pytest.approx(want)
        assert (name in got.capped) == (pos > 0 and neg > 0 and neg / pos > cap)
        assert any(f"'{name}'" in n for n in got.notes) == (pos == 0 or neg == 0)


def test_a_label_without_positives_weighs_1_with_a_warning():
    got = resolved("balanced", MULTILABEL, [[1, 0], [0, 0], [0, 0]])
    assert got.to_dict() == {"toxic": 2.0, "threat": 1.0}
    assert got.notes == ("label 'threat' has no positive training rows: its weight is 1",)


def test_a_class_without_rows_weighs_1_and_the_others_balance_among_the_present():
    got = resolved("balanced", MULTICLASS, [0, 0, 0, 2])
    assert got.values == pytest.approx((4 / 6, 1.0, 2.0))
    assert "class 'meh' has no training rows" in got.notes[0]


# ------------------------------------------------------------------------ tables and errors
@pytest.mark.parametrize("table, schema, want", [
    ({"1": 5.0}, BINARY, {"0": 1.0, "1": 5.0}),
    ({"0": 0.5, "1": 2}, BINARY, {"0": 0.5, "1": 2.0}),
    ({"2": 3.0}, MULTICLASS, {"happy": 1.0, "meh": 1.0, "sad": 3.0}),
    ({"meh": 2.0, "0": 0.5}, MULTICLASS, {"happy": 0.5, "meh": 2.0, "sad": 1.0}),
    ({"threat": 8.0}, MULTILABEL, {"toxic": 1.0, "threat": 8.0}),
])
def test_tables_by_index_or_name_leave_the_rest_at_1(table, schema, want):
    targets = {"binary": [[0.0], [1.0]], "multiclass": [0, 1, 2], "multilabel": [[1, 0], [0, 1]]}[schema.task]
    got = resolved(table, schema, targets)
    assert got.to_dict() == want and got.how == "table" and not got.notes


def test_a_class_name_wins_over_an_index_spelled_the_same():
    digits = LabelSchema("multiclass", ["1", "2", "3"], column="stars")
    assert resolved({"1": 4.0}, digits, [0, 1, 2]).to_dict() == {"1": 4.0, "2": 1.0, "3": 1.0}


@pytest.mark.parametrize("table, schema, message", [
    ({"toxic": 2.0}, BINARY, "Unknown class 'toxic' in fit.class_weight: the binary label 'pos' has the classes "
                             "\"0\" and \"1\" (Keras class indices)"),
    ({"2": 2.0}, BINARY, "Unknown class '2'"),
    ({"3": 2.0}, MULTICLASS, "Unknown class '3' in fit.class_weight: the classes are the indices 0..2 or the names "
                             "happy, meh, sad."),
    ({"hapy": 2.0}, MULTICLASS, "Did you mean 'happy'?"),
    ({"1": 2.0}, MULTILABEL, "Unknown label '1' in fit.class_weight: multi-label data takes a positive weight per "
                             "label, one of toxic, threat (e.g. {toxic = 3.0}); class indices do not apply."),
    ({"threats": 2.0}, MULTILABEL, "Did you mean 'threat'?"),
    ({"happy": 2.0, "0": 1.0}, MULTICLASS, "names the class 'happy' twice"),
])
def test_unknown_keys_name_the_valid_ones(table, schema, message):
    targets = {"binary": [[0.0]], "multiclass": [0], "multilabel": [[1, 0]]}[schema.task]
    with pytest.raises(ConfigError) as exc:
        resolved(table, schema, targets)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_positive_weights_need_binary_crossentropy():
    with pytest.raises(ConfigError, match="multi-label data weights the positives .* compile.loss = "
                                          "'categorical_crossentropy'; use binary_crossentropy"):
        resolved("balanced", MULTILABEL, [[1, 0]], loss="categorical_crossentropy")
    assert resolve_class_weight(fit_section(None), MULTILABEL, np.ones((2, 2))) is None


def test_sample_weights_for_the_baselines():
    assert resolved({"1": 3.0}, BINARY, [[0.0]]).sample_weight(np.array([[1.0], [0.0]])).tolist() == [3.0, 1.0]
    label = resolved({"threat": 4.0}, MULTILABEL, [[1, 1]])
    assert label.sample_weight(np.array([[1, 1], [0, 0]])).tolist() == [[1.0, 4.0], [1.0, 1.0]]


# ------------------------------------------------------------------------ training
@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_csv(tmp_path_factory.mktemp("cw") / "toy.csv", n=200, multilabel=True)


def _one_batch(toy, runs, **over):
    """One epoch of one fixed-length batch: the logged training loss is the loss at the initial weights."""
    return toy_config(toy, runs, fit__epochs=1, fit__batch_size=1000, fit__bucketing=False,
                      compile__optimizer="sgd", **over)


def _initial_probabilities(run, cfg):
    """The outputs of the untrained model on the training rows, padded as training padded them."""
    splits = load_splits(cfg)
    model = prepare.build(run.config, run.vocab_size).eval()
    seqs = run.tokenizer.encode(splits.train.texts).truncate(cfg.text.maxlen, cfg.text.truncating)
    ids = torch.from_numpy(seqs.pad(length=cfg.text.maxlen, padding=cfg.text.padding))
    with torch.no_grad():
        return model.outputs_from(model(ids, logits=model.fused)).numpy(), splits


def test_training_loss_is_keras_weighted_and_validation_loss_is_not(toy, tmp_path):
    cfg = from_dict(_one_batch(toy, tmp_path, fit__class_weight={"0": 0.25, "1": 3.0}))
    run = rnnlab.train(cfg)
    probs, splits = _initial_probabilities(run, cfg)
    y = splits.train.targets[:, 0]
    per_row = bce(probs[:, 0].astype(np.float64), y)
    weight = np.where(y == 1, 3.0, 0.25)
    assert run.history[0]["loss"] == pytest.approx((weight * per_row).sum() / len(y), rel=1e-4)
    hits = (probs[:, 0] > 0.5) == (y > 0.5)  # Keras weights the training metrics too
    assert run.history[0]["accuracy"] == pytest.approx((weight * hits).sum() / weight.sum(), rel=1e-6)
    final = run.predict(splits.validation.texts)[:, 0].astype(np.float64)
    val_y = splits.validation.targets[:, 0]
    assert run.metrics["validation"]["loss"] == pytest.approx(bce(final, val_y).mean(), rel=1e-4)
    assert run.history[0]["val_loss"] == pytest.approx(run.metrics["validation"]["loss"], rel=1e-6)
    assert run.metrics["class_weight"] == {"0": 0.25, "1": 3.0}
    saved = rnnlab.load_config(run.dir / "config.toml")
    assert saved.fit.class_weight == {"0": 0.25, "1": 3.0}


def test_multilabel_balanced_run_records_the_capped_weights_and_prints_them(toy, tmp_path):
    cfg = from_dict(_one_batch(toy, tmp_path, data__label_columns=["pos", "loud"], fit__class_weight="balanced",
                               fit__class_weight_cap=1.5))
    run = rnnlab.train(cfg)
    lines = [line.split(" ", 1)[1] for line in (run.dir / "log.txt").read_text().splitlines()]
    y = load_splits(cfg).train.targets
    want = {name: min((len(y) - y[:, j].sum()) / y[:, j].sum(), 1.5) for j, name in enumerate(["pos", "loud"])}
    assert run.metrics["class_weight"] == pytest.approx(want)
    assert want["loud"] == 1.5
    line = next(m for m in lines if m.startswith("class_weight"))
    assert "cap 1.5" in line and "loud: 1.5 (capped)" in line
    assert rnnlab.load_config(run.dir / "config.toml").fit.class_weight == "balanced"
    probs, splits = _initial_probabilities(run, cfg)
    pw = np.array([want["pos"], want["loud"]])
    per_label = -(pw * y * np.log(probs) + (1 - y) * np.log(1 - probs))
    assert run.history[0]["loss"] == pytest.approx(per_label.mean(-1).mean(), rel=1e-4)


def test_unset_class_weight_records_nothing(toy, tmp_path):
    run = rnnlab.train(_one_batch(toy, tmp_path))
    assert "class_weight" not in run.metrics
    text = (run.dir / "config.toml").read_text()
    assert "\nclass_weight =" not in text and "[fit.class_weight]" not in text


def test_an_unknown_key_stops_before_the_run_folder_is_made(toy, tmp_path):
    with pytest.raises(ConfigError, match="Unknown class 'toxic'"):
        rnnlab.train(_one_batch(toy, tmp_path / "r", fit__class_weight={"toxic": 2.0}))
    with pytest.raises(ConfigError, match="Unknown class 'toxic'"):
        rnnlab.train(_one_batch(toy, tmp_path / "r", fit__class_weight={"toxic": 2.0}, model__type="tfidf_lr"))
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_resume_trains_with_the_saved_weights(toy, tmp_path, monkeypatch):
    # one thread: `fit.threads = "auto"` picks its thread count from timings (its inference tuner
    # lives across the runs of this process), and the count changes the floats' summation order
    cfg = toy_config(toy, tmp_path, fit__epochs=3, fit__batch_size=64, fit__class_weight="balanced",
                     data__label_columns=["pos", "loud"], fit__threads=1)
    restore = interrupt_in_epoch(monkeypatch, 2)
    first = rnnlab.train(cfg, run_dir=tmp_path / "a")
    assert first.metrics["status"] == "interrupted"
    restore()
    shutil.copytree(tmp_path / "a", tmp_path / "c")
    straight = rnnlab.train(cfg, run_dir=tmp_path / "b")
    resumed = rnnlab.train(resume=tmp_path / "a")
    assert resumed.metrics == straight.metrics and "class_weight" in resumed.metrics

    # the numbers come from the resume state, not from computing them again
    state = tmp_path / "c" / "checkpoints" / "last.json"
    saved = json.loads(state.read_text())
    assert saved["class_weight"] == straight.metrics["class_weight"]
    saved["class_weight"] = {"pos": 1.25, "loud": 4.0}
    state.write_text(json.dumps(saved))
    assert rnnlab.train(resume=tmp_path / "c").metrics["class_weight"] == {"pos": 1.25, "loud": 4.0}


def test_each_fold_weighs_its_own_training_rows(toy, tmp_path):
    cfg = _one_batch(toy, tmp_path, fit__folds=2, fit__class_weight="balanced", data__stratify="none")
    run = rnnlab.train(cfg, run_dir=tmp_path / "k")
    per_fold = []
    for i in (1, 2):
        member = rnnlab.load_run(run.dir / "folds" / f"fold-{i}")
        y = load_splits(member.config).train.targets[:, 0].astype(int)
        want = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
        assert list(member.metrics["class_weight"].values()) == pytest.approx(want)
        per_fold.append(member.metrics["class_weight"])
    assert run.metrics["class_weight"] == per_fold and per_fold[0] != per_fold[1]


@pytest.mark.parametrize("kind", ["tfidf_lr", "nbsvm"])
def test_baselines_honour_the_weights(toy, tmp_path, kind):
    plain = rnnlab.train(_one_batch(toy, tmp_path / "p", model__type=kind, data__label_columns=["pos", "loud"]))
    heavy = rnnlab.train(_one_batch(toy, tmp_path / "w", model__type=kind, data__label_columns=["pos", "loud"],
                                    fit__class_weight={"loud": 5.0}))
    assert heavy.metrics["class_weight"] == {"pos": 1.0, "loud": 5.0}
    texts = ["w1 w2 fine", "w3 !!", "awful w4"]
    a, b = plain.predict(texts), heavy.predict(texts)
    assert a[:, 0] == pytest.approx(b[:, 0], abs=1e-6)  # pos: weight 1, the same regression
    assert (b[:, 1] > a[:, 1]).all()  # loud: positives count 5 times, so every score rises

