"""The linear baselines (TF-IDF + LR, NB-SVM): they learn, match scikit-learn references, round-trip
through files without pickle, and reach a strong AUC on real Jigsaw rows."""

import json
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline, make_union

from helpers import shared_file, write_toy_csv
from rnnlab.config import BaselineConfig
from rnnlab.data.dataset import LabelSchema
from rnnlab.errors import ConfigError, DataError, RunError
from rnnlab.models.baselines import LinearBaseline
from rnnlab.runs import load_baseline, save_baseline

KINDS = ["tfidf_lr", "nbsvm"]
TASKS = ["binary", "multilabel", "multiclass"]
N_TRAIN = 300
SEED = 7


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """texts, and per task (targets, schema); rows [:N_TRAIN] train, the rest are held out."""
    frame = pd.read_csv(write_toy_csv(tmp_path_factory.mktemp("toy") / "toy.csv", n=400, multilabel=True))
    texts = frame["text"].tolist()
    cls = np.where(frame["loud"] == 1, 2, frame["pos"]).astype(np.int64)  # 0 quiet neg, 1 quiet pos, 2 loud
    tasks = {
        "binary": (frame[["pos"]].to_numpy(np.float32), LabelSchema("binary", ["pos"], column="pos")),
        "multilabel": (frame[["pos", "loud"]].to_numpy(np.float32), LabelSchema("multilabel", ["pos", "loud"])),
        "multiclass": (cls, LabelSchema("multiclass", ["neg", "pos", "loud"], column="mood")),
    }
    return texts, tasks


def _fit(toy, kind, task, options=None):
    texts, tasks = toy
    targets, schema = tasks[task]
    return LinearBaseline(kind, options, seed=SEED).fit(texts[:N_TRAIN], targets[:N_TRAIN], schema)


def _onehot(targets, schema):
    return np.eye(schema.n_outputs)[targets] if schema.task == "multiclass" else targets


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("kind", KINDS)
def test_learns_toy_data(toy, kind, task):
    texts, tasks = toy
    targets, schema = tasks[task]
    model = _fit(toy, kind, task)
    probs = model.predict(texts[N_TRAIN:])
    assert probs.shape == (len(texts) - N_TRAIN, schema.n_outputs) and probs.dtype == np.float32
    y = _onehot(targets[N_TRAIN:], schema)
    aucs = [roc_auc_score(y[:, j], probs[:, j]) for j in range(schema.n_outputs)]
    assert min(aucs) > 0.95, dict(zip(schema.labels, aucs))
    if task == "multiclass":
        np.testing.assert_allclose(probs.sum(1), 1, atol=1e-6)
    assert model.notes == []


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip_is_exact_and_pickle_free(toy, tmp_path, kind, task):
    texts, _ = toy
    model = _fit(toy, kind, task)
    save_baseline(tmp_path, model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json", "baseline.safetensors"]
    meta = json.loads((tmp_path / "baseline.json").read_text(encoding="utf-8"))
    assert meta["kind"] == kind and meta["schema"]["task"] == task and set(meta["vectorizers"]) == {"word", "char"}
    loaded = load_baseline(tmp_path)
    np.testing.assert_allclose(loaded.predict(texts), model.predict(texts), rtol=0, atol=1e-7)
    assert loaded.n_params == model.n_params and loaded.schema == model.schema and loaded.options == model.options


def test_fit_is_deterministic(toy):
    a, b = _fit(toy, "nbsvm", "multilabel"), _fit(toy, "nbsvm", "multilabel")
    np.testing.assert_array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_solver_not_converging_is_noted(toy, task):
    model = _fit(toy, "tfidf_lr", task, BaselineConfig(max_iter=1))
    assert model.notes and "max_iter=1" in model.notes[0]


def _reference_features(options):
    """The feature union the baselines are specified as (written out here, not taken from the module)."""
    common = dict(sublinear_tf=options.sublinear_tf, lowercase=True, strip_accents="unicode", dtype=np.float32)
    return make_union(
        TfidfVectorizer(analyzer="word", ngram_range=tuple(options.word_ngrams), max_features=options.word_max_features,
                        token_pattern=r"(?u)\b\w+\b", **common),
        TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(options.char_ngrams),
                        max_features=options.char_max_features, **common))


def _reference_lr(options, solver):
    return LogisticRegression(C=options.c, max_iter=options.max_iter, solver=solver, dual=solver == "liblinear",
                              random_state=SEED)


@pytest.mark.parametrize("task", TASKS)
def test_tfidf_lr_equals_sklearn_pipeline(toy, task):
    texts, tasks = toy
    targets, schema = tasks[task]
    options = BaselineConfig()
    ours = _fit(toy, "tfidf_lr", task, options).predict(texts[N_TRAIN:])
    if task == "multiclass":
        ref = make_pipeline(_reference_features(options), _reference_lr(options, "lbfgs"))
        expected = ref.fit(texts[:N_TRAIN], targets[:N_TRAIN]).predict_proba(texts[N_TRAIN:])
    else:
        expected = np.column_stack([
            make_pipeline(_reference_features(options), _reference_lr(options, "liblinear"))
            .fit(texts[:N_TRAIN], targets[:N_TRAIN, j]).predict_proba(texts[N_TRAIN:])[:, 1]
            for j in range(schema.n_outputs)])
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("task", TASKS)
def test_sample_weights_equal_sklearns_class_weight(toy, task):
    texts, tasks = toy
    targets, schema = tasks[task]
    options = BaselineConfig()
    y = targets[:N_TRAIN]
    if task == "multiclass":
        class_weight = {0: 0.5, 1: 1.0, 2: 4.0}
        weights = np.array([class_weight[c] for c in y])
        ref = make_pipeline(_reference_features(options),
                            _reference_lr(options, "lbfgs").set_params(class_weight=class_weight))
        expected = ref.fit(texts[:N_TRAIN], y).predict_proba(texts[N_TRAIN:])
    else:  # per label: its positives weigh 3 (binary: class 1), as LogisticRegression(class_weight={0: 1, 1: 3})
        weights = np.where(y == 1, 3.0, 1.0)
        expected = np.column_stack([
            make_pipeline(_reference_features(options),
                          _reference_lr(options, "liblinear").set_params(class_weight={0: 1.0, 1: 3.0}))
            .fit(texts[:N_TRAIN], y[:, j]).predict_proba(texts[N_TRAIN:])[:, 1] for j in range(schema.n_outputs)])
    model = LinearBaseline("tfidf_lr", options, seed=SEED).fit(texts[:N_TRAIN], y, schema, sample_weight=weights)
    np.testing.assert_allclose(model.predict(texts[N_TRAIN:]), expected, rtol=0, atol=1e-6)
    assert not np.allclose(expected, _fit(toy, "tfidf_lr", task, options).predict(texts[N_TRAIN:]), atol=1e-3)
    with pytest.raises(DataError, match="sample_weight must be"):
        LinearBaseline("tfidf_lr", options).fit(texts[:N_TRAIN], y, schema, sample_weight=-weights)


@pytest.mark.parametrize("task", TASKS)
def test_nbsvm_ratios_and_predictions_match_the_definition(toy, task):
    texts, tasks = toy
    targets, schema = tasks[task]
    options = BaselineConfig()
    model = _fit(toy, "nbsvm", task, options)
    X = _reference_features(options).fit(texts[:N_TRAIN]).transform
    X_train, X_test = X(texts[:N_TRAIN]).astype(np.float64), X(texts[N_TRAIN:])
    y = _onehot(targets[:N_TRAIN], schema)
    expected = []
    for j in range(schema.n_outputs):
        p = 1 + np.asarray(X_train[y[:, j] == 1].sum(0)).ravel()
        q = 1 + np.asarray(X_train[y[:, j] == 0].sum(0)).ravel()
        r = np.log((p / np.abs(p).sum()) / (q / np.abs(q).sum()))
        np.testing.assert_allclose(model.r_[j], r, rtol=1e-10, atol=1e-12)
        lr = _reference_lr(options, "liblinear").fit(X_train.multiply(r).tocsr(), y[:, j])
        expected.append(lr.predict_proba(X_test.multiply(r).tocsr())[:, 1])
    expected = np.column_stack(expected)
    if task == "multiclass":
        expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(texts[N_TRAIN:]), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_single_class_labels_predict_their_prior_with_a_note(toy, tmp_path, kind):
    texts, tasks = toy
    targets, _ = tasks["multilabel"]
    ones, zeros = np.ones((len(texts), 1), np.float32), np.zeros((len(texts), 1), np.float32)
    schema = LabelSchema("multilabel", ["pos", "never", "always"])
    model = LinearBaseline(kind).fit(texts, np.hstack([targets[:, :1], zeros, ones]), schema)
    probs = model.predict(texts[:50])
    assert (probs[:, 1] == 0).all() and (probs[:, 2] == 1).all() and probs[:, 0].std() > 0.1
    assert len(model.notes) == 2 and "'never'" in model.notes[0] and "'always'" in model.notes[1]
    assert model.n_params == model.coef_.shape[1] + 1  # only 'pos' has a model
    save_baseline(tmp_path, model)
    assert load_baseline(tmp_path).notes == model.notes


@pytest.mark.parametrize("kind", KINDS)
def test_multiclass_with_a_class_missing_from_training(toy, kind):
    texts, tasks = toy
    cls, _ = tasks["multiclass"]
    schema = LabelSchema("multiclass", ["neg", "pos", "loud", "unseen"])
    probs = LinearBaseline(kind).fit(texts, cls, schema).predict(texts[:50])
    assert (probs[:, 3] == 0).all()
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-6)
    assert roc_auc_score(cls[:50] == 2, probs[:, 2]) > 0.95
    only = LinearBaseline(kind).fit(texts[:5], np.zeros(5, np.int64), schema)
    np.testing.assert_array_equal(only.predict(texts[:3]), [[1, 0, 0, 0]] * 3)
    assert only.n_params == 0 and any("'neg'" in n for n in only.notes)


def test_feature_options_change_features_and_params(toy):
    def fitted(**over):
        return _fit(toy, "tfidf_lr", "multilabel", BaselineConfig(**over))

    both = fitted()
    word = fitted(char_ngrams=[])
    char = fitted(word_ngrams=[], char_ngrams=[1, 3])
    small = fitted(word_max_features=10, char_max_features=20)
    assert list(word.vectorizers) == ["word"] and list(char.vectorizers) == ["char"]
    n_word, n_char = len(word.vectorizers["word"].vocabulary_), len(char.vectorizers["char"].vocabulary_)
    assert word.n_params == 2 * (n_word + 1) and char.n_params == 2 * (n_char + 1)
    assert small.n_params == 2 * (10 + 20 + 1) < both.n_params
    assert max(len(t) for t in char.vectorizers["char"].vocabulary_) == 3
    assert char.vectorizers["char"].analyzer == "char_wb"
    texts = toy[0]
    assert roc_auc_score(toy[1]["multilabel"][0][N_TRAIN:, 1], char.predict(texts[N_TRAIN:])[:, 1]) > 0.95  # '!!'


def test_errors_say_what_was_received(toy, tmp_path):
    texts, tasks = toy
    targets, schema = tasks["multilabel"]
    with pytest.raises(ConfigError, match="'svm'"):
        LinearBaseline("svm")
    with pytest.raises(ConfigError, match="word_ngrams"):
        LinearBaseline("nbsvm", BaselineConfig(word_ngrams=[3, 1]))
    with pytest.raises(DataError, match=r"shape \(400,\)"):
        LinearBaseline("nbsvm").fit(texts, targets[:, 0], schema)
    with pytest.raises(DataError, match="400 texts but 10 targets"):
        LinearBaseline("nbsvm").fit(texts, targets[:10], schema)
    with pytest.raises(DataError, match=r"\[0, 3\)"):
        LinearBaseline("nbsvm").fit(texts, tasks["multiclass"][0] + 1, tasks["multiclass"][1])
    with pytest.raises(DataError, match="word_ngrams = \\[\\]"):
        LinearBaseline("tfidf_lr").fit(["!!", "?"], np.array([[0.0], [1.0]]), LabelSchema("binary", ["y"]))
    with pytest.raises(RuntimeError, match="not fitted"):
        LinearBaseline("nbsvm").predict(texts)
    with pytest.raises(RunError, match="baseline.json"):
        load_baseline(tmp_path)
    save_baseline(tmp_path, _fit(toy, "nbsvm", "binary"))
    (tmp_path / "baseline.json").write_text("{", encoding="utf-8")
    with pytest.raises(RunError, match="not valid JSON"):
        load_baseline(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_real_jigsaw_mean_auc(kind):
    frame = pd.read_csv(shared_file("jigsaw_toxic", "train_subset.csv.gz"))
    labels = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
    train, test = frame.iloc[:13000], frame.iloc[13000:]
    start, cpu = time.perf_counter(), time.process_time()
    model = LinearBaseline(kind).fit(train["comment_text"].tolist(), train[labels].to_numpy(np.float32),
                                     LabelSchema("multilabel", labels))
    fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    probs = model.predict(test["comment_text"].tolist())
    aucs = {name: roc_auc_score(test[name], probs[:, j]) for j, name in enumerate(labels)}
    mean = float(np.mean(list(aucs.values())))
    print(f"\n{kind}: jigsaw 13,000 train / {len(test):,} held out: mean ROC AUC {mean:.4f} "
          f"({', '.join(f'{k} {v:.4f}' for k, v in aucs.items())}); fit {fit_s:.1f} s ({fit_cpu:.1f} s CPU); "
          f"{model.n_params:,} params; notes {model.notes}")
    assert mean > 0.93
