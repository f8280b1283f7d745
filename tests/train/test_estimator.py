"""rnnlab.RNNClassifier: the scikit-learn API over rnnlab.train.

scikit-learn's ``check_estimator`` feeds numeric 2-D arrays; the estimator takes texts and
declares it (tags), so the API checks that apply to text input are run one by one, and the
fitting checks are run here on text."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks as ec

import rnnlab
from helpers import quick_plots, shared_file, write_toy_csv
from rnnlab.errors import ConfigError

TINY = dict(fit__epochs=2, fit__threads=1, fit__batch_size=32, seed=3, text__maxlen=30,
            model__embedding={"dim": 8}, model__layers=[{"type": "GRU", "units": 8}, {"type": "Dense"}],
            compile__learning_rate=0.02)



@pytest.fixture(autouse=True)
def fast(monkeypatch):
    """Plots as one-line files: these tests are about the data and the API, not the pictures."""
    quick_plots(monkeypatch)

@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    frame = pd.read_csv(write_toy_csv(tmp_path_factory.mktemp("toy") / "toy.csv", n=300, multilabel=True))
    return frame


def test_api_checks_that_apply_to_text_input():
    clf = rnnlab.RNNClassifier(fit__epochs=2)
    for check in (ec.check_estimator_cloneable, ec.check_estimator_repr, ec.check_no_attributes_set_in_init,
                  ec.check_get_params_invariance, ec.check_set_params, ec.check_parameters_default_constructible,
                  ec.check_do_not_raise_errors_in_init_or_set_params, ec.check_mixin_order,
                  ec.check_valid_tag_types, ec.check_estimator_tags_renamed):
        check("RNNClassifier", clf)


def test_check_estimator_skips_it_for_its_text_input():
    """The numeric checks do not apply: the tags say so and check_estimator skips with a warning."""
    clf = rnnlab.RNNClassifier()
    tags = clf.__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array and tags.estimator_type == "classifier"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ec.check_estimator(clf)
    assert any("Can't test estimator" in str(w.message) for w in caught)


def test_overrides_are_params_and_clone():
    clf = rnnlab.RNNClassifier(fit__epochs=2, text__maxlen=30)
    assert clf.get_params() == {"config": None, "runs_dir": None, "verbose": "quiet", "fit__epochs": 2,
                                "text__maxlen": 30}
    twin = clone(clf.set_params(fit__epochs=3, runs_dir="r"))
    assert twin.get_params()["fit__epochs"] == 3 and twin.runs_dir == "r" and twin is not clf
    pipe = Pipeline([("clf", clf)]).set_params(clf__fit__batch_size=8)
    assert clf.get_params()["fit__batch_size"] == 8
    assert pipe.get_params()["clf__fit__batch_size"] == 8
    assert "fit__epochs=3" in repr(clf)


def test_an_unknown_key_fails_at_fit_in_one_line(toy, tmp_path):
    clf = rnnlab.RNNClassifier(runs_dir=tmp_path, fit__epoch=2)
    with pytest.raises(ConfigError) as err:
        clf.fit(toy.text, toy.pos)
    assert "epoch" in str(err.value) and "\n" not in str(err.value)


def test_unfitted_and_one_class(toy, tmp_path):
    clf = rnnlab.RNNClassifier(runs_dir=tmp_path, **TINY)
    with pytest.raises(NotFittedError):
        clf.predict(["good"])
    with pytest.raises(ValueError, match="class"):
        clf.fit(toy.text, np.zeros(len(toy)))
    with pytest.raises(ValueError, match="one string"):
        clf.fit("good", [1])


def test_fit_binary_with_string_labels(toy, tmp_path):
    y = np.where(toy.pos == 1, "pos", "neg")
    clf = rnnlab.RNNClassifier(runs_dir=tmp_path, **TINY)
    before = clf.get_params()
    assert clf.fit(toy.text, y) is clf
    assert clf.get_params() == before  # fit changes no parameter
    assert clf.classes_.tolist() == ["neg", "pos"]
    proba = clf.predict_proba(toy.text[:50])
    assert proba.shape == (50, 2) and np.allclose(proba.sum(axis=1), 1.0)
    pred = clf.predict(toy.text[:50])
    assert set(pred) <= {"neg", "pos"} and (pred == clf.classes_[proba.argmax(axis=1)]).all()
    # row order is kept: scoring the rows reversed gives the reversed predictions
    assert np.allclose(clf.predict_proba(toy.text[:50][::-1]), proba[::-1], atol=1e-6)
    assert clf.score(toy.text, y) > 0.8  # a learnable toy task
    assert clf.run_dir_.parent == tmp_path and (clf.run_dir_ / "manifest.json").exists()
    assert rnnlab.load_run(clf.run_dir_).predict(list(toy.text[:5])).shape == (5, 1)


def test_fit_multiclass_and_multilabel(toy, tmp_path):
    y3 = np.asarray(["a", "b", "c"])[toy.pos.to_numpy() + (toy.text.str.len() > 90).to_numpy()]
    clf = rnnlab.RNNClassifier(runs_dir=tmp_path, **TINY).fit(toy.text, y3)
    assert clf.classes_.tolist() == ["a", "b", "c"]
    assert clf.predict_proba(toy.text[:7]).shape == (7, 3) and set(clf.predict(toy.text)) <= {"a", "b", "c"}
    assert rnnlab.load_run(clf.run_dir_).schema.task == "multiclass"

    y2 = toy[["pos", "loud"]].to_numpy()
    multi = rnnlab.RNNClassifier(runs_dir=tmp_path, **TINY).fit(toy.text.to_numpy(), y2)
    assert multi.classes_.tolist() == [0, 1]
    assert multi.predict(toy.text[:4]).shape == (4, 2)
    assert 0.5 < multi.score(toy.text, y2) <= 1.0  # the mean ROC AUC over the two labels


def _digits(texts):
    """Phone numbers and prices look alike to the tokenizer once every digit is 0."""
    return [re.sub(r"\d", "0", t) for t in texts]


def test_pipeline_cross_val_score_on_sms(tmp_path):
    frame = pd.read_csv(shared_file("sms_spam", "sms_spam_collection.csv.gz"))
    X, y = frame["text"].to_numpy(dtype=object), frame["label"].to_numpy()
    pipe = Pipeline([("digits", FunctionTransformer(_digits)),
                     ("clf", rnnlab.RNNClassifier(runs_dir=tmp_path, fit__epochs=1, fit__threads=1, text__maxlen=40,
                                                  text__num_words=5000, model__embedding={"dim": 16},
                                                  model__layers=[{"type": "GRU", "units": 16}, {"type": "Dense"}],
                                                  compile__learning_rate=0.01))])
    scores = cross_val_score(pipe, X, y, cv=3)
    majority = (y == "ham").mean()  # 0.866; measured: 0.9876, 0.9865, 0.9887 (7 s of one core)
    assert scores.shape == (3,) and (scores > majority + 0.07).all() and (scores <= 1).all(), scores
    assert len(list(tmp_path.iterdir())) == 3  # one run folder per fit


def test_a_preset_reads_x_and_y():
    """A preset's [data] (Jigsaw's six columns, its stratify column) gives way to X and y."""
    from rnnlab.config import preset_path

    cfg = rnnlab.RNNClassifier(config=preset_path("jigsaw_strong"), fit__epochs=1)._config("binary", ["label"], None)
    assert (cfg.data.dataset, cfg.data.text_column, cfg.data.label_columns) == ("table", "text", ["label"])
    assert cfg.data.stratify == "auto" and cfg.fit.epochs == 1
