"""The build steps: sweep keys split off, loss/metric aliases normalised on the raw dict,
``model.embedding.dim`` read from a vectors file into a new config, and a pure ``validate``."""

import copy
import dataclasses
import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.config import LOSS_ALIASES, LOSSES, METRIC_ALIASES, METRICS, from_dict, validate
from rnnlab.config.build import fill_embedding_dim, normalise_aliases, split_sweep
from rnnlab.errors import ConfigError, DataError

BASE = {"data": {"dataset": "table", "path": "/d/train.csv", "text_column": "text", "label_columns": ["y"]},
        "model": {"embedding": {"dim": 8}, "layers": [{"type": "LSTM", "units": 4}, {"type": "Dense"}]}}


def raw_with(**compile_):
    raw = copy.deepcopy(BASE)
    raw["compile"] = compile_
    return raw


def error_of(raw) -> str:
    with pytest.raises(ConfigError) as exc:
        from_dict(raw)
    return str(exc.value)


# ----------------------------------------------------------------------------------- sweep
def test_dotted_sweep_keys_become_params_and_the_input_is_untouched():
    raw = copy.deepcopy(BASE)
    raw["sweep"] = {"mode": "grid", "fit.epochs": [1, 2], "params": {"text.maxlen": [5]}}
    before = copy.deepcopy(raw)
    out = split_sweep(raw)
    assert raw == before
    assert out["sweep"] == {"mode": "grid", "params": {"text.maxlen": [5], "fit.epochs": [1, 2]}}
    cfg = from_dict(raw)
    assert cfg.sweep.params == {"text.maxlen": [5], "fit.epochs": [1, 2]}
    assert cfg.to_dict()["sweep"]["fit.epochs"] == [1, 2]  # written back as dotted keys
    assert "sweep" not in from_dict(copy.deepcopy(BASE)).to_dict()  # an empty sweep is left out


@pytest.mark.parametrize("sweep, message", [
    ({"fit.epochs": 3}, ("The 'sweep.fit.epochs' parameter must be a non-empty list of values. Got 3 instead. "
     "e.g. \"fit.epochs\" = [...]; a single value belongs in the config itself.")),
    ({"fit.epochs": []}, ("The 'sweep.fit.epochs' parameter must be a non-empty list of values. Got [] instead. "
     "e.g. \"fit.epochs\" = [...]; a single value belongs in the config itself.")),
    ({"name.x": ["a"]}, "sweep.\"name.x\": 'name' cannot be swept."),
    ({"variants": [{}]}, "The 'sweep.variants.0' parameter must be a table of dotted keys. Got {} instead."),
    ({"mode": "random"}, "The 'sweep.n_trials' parameter must be an int >= 1 in random mode. Got None instead."),
])
def test_sweep_errors(sweep, message):
    raw = copy.deepcopy(BASE)
    raw["sweep"] = sweep
    assert error_of(raw) == message


# ----------------------------------------------------------------------------------- aliases
@pytest.mark.parametrize("alias, name", [*LOSS_ALIASES.items(), *((n, n) for n in LOSSES), ("", None)])
def test_loss_aliases(alias, name):
    assert from_dict(raw_with(loss=alias)).compile.loss == name


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*METRIC_ALIASES, *METRICS]), max_size=6))
def test_metric_aliases_are_mapped_and_deduplicated_in_order(metrics):
    expected = list(dict.fromkeys(METRIC_ALIASES.get(m, m) for m in metrics))
    assert from_dict(raw_with(metrics=metrics)).compile.metrics == expected


def test_a_single_metric_string_is_a_list():
    assert from_dict(raw_with(metrics="acc")).compile.metrics == ["accuracy"]


@pytest.mark.parametrize("compile_, message", [
    # unknown names are reported as written, aliases included
    ({"metrics": ["acc", "f1"]}, ("The 'compile.metrics' parameter must be a list of accuracy / auc. "
     "Got ['acc', 'f1'] instead.")),
    ({"metrics": "f1"}, "The 'compile.metrics' parameter must be a list of accuracy / auc. Got ['f1'] instead."),
    ({"loss": "xent"}, "The 'compile.loss' parameter must be one of " + ", ".join(LOSSES) + ". Got 'xent' instead."),
    # values of the wrong type pass the alias step untouched and get the typed build's message
    ({"loss": ["bce"]}, "The 'compile.loss' parameter must be a string. Got ['bce'] instead."),
    ({"loss": 3}, "The 'compile.loss' parameter must be a string. Got 3 instead."),
    ({"metrics": ["acc", 2]}, "The 'compile.metrics.1' parameter must be a string. Got 2 instead."),
    ({"metrics": 5}, "The 'compile.metrics' parameter must be a list. Got 5 instead."),
    ({"metrics": {"acc": 1}}, "The 'compile.metrics' parameter must be a list. Got {'acc': 1} instead."),
])
def test_alias_step_leaves_bad_values_for_the_right_message(compile_, message):
    assert error_of(raw_with(**compile_)) == message


def test_normalise_aliases_returns_a_new_dict_and_tolerates_odd_shapes():
    raw = raw_with(loss="bce", metrics=["acc", "accuracy"])
    before = copy.deepcopy(raw)
    out = normalise_aliases(raw)
    assert raw == before
    assert out["compile"] == {"loss": "binary_crossentropy", "metrics": ["accuracy"]}
    assert normalise_aliases({"compile": 3}) == {"compile": 3}
    assert normalise_aliases({}) == {}


# ----------------------------------------------------------------------------------- validate
def test_validate_does_not_change_the_config_and_gives_the_same_answer_twice():
    cfg = from_dict(raw_with(loss="bce", metrics=["roc_auc", "acc", "auc"]))
    snapshot = copy.deepcopy(cfg)
    assert validate(cfg) is None and validate(cfg) is None
    assert cfg == snapshot and cfg.compile.metrics == ["auc", "accuracy"]
    bad = dataclasses.replace(cfg, compile=dataclasses.replace(cfg.compile, loss="bce", metrics=["acc"]))
    for _ in range(2):  # aliases are the build's job: validate() reports them and changes nothing
        with pytest.raises(ConfigError, match=r"^The 'compile.loss' parameter must be one of"):
            validate(bad)
    assert bad.compile.loss == "bce" and bad.compile.metrics == ["acc"]


@pytest.mark.parametrize("sets, message", [
    ({"fit": {"folds": 3}, "data": {**BASE["data"], "validation_path": "/v.csv"}},
     "fit.folds = 3 splits one file into folds, but data.validation_path is set; unset one of them."),
    ({"data": {**BASE["data"], "fold": 2}},
     "data.fold = 2 is outside 1..fit.folds (1); data.fold is set by fit.folds on its member runs — leave it unset."),
    ({"model": {"embedding": {}, "layers": [{"type": "Dense"}]}},
     ("The 'model.embedding.dim' parameter must be an int >= 1. Got None instead. Set the embedding size, e.g. "
     "[model.embedding] dim = 128.")),
    ({"model": {"input": "onehot", "embedding": {"mask_zero": True}, "layers": [{"type": "Dense"}]}},
     "model.embedding.mask_zero needs model.input = 'embedding'."),
    ({"data": {**BASE["data"], "label_columns": []}},
     "data.label_columns is not set; name the label column(s), e.g. label_columns = [\"label\"]."),
    ({"fit": {"checkpoint": {"monitor": "val_f1"}}}, ("The 'fit.checkpoint.monitor' parameter must be one of "
     "val_loss, val_accuracy, val_auc, loss, accuracy. Got 'val_f1' instead.")),
    ({"model": {"type": "nbsvm", "baseline": {"word_ngrams": [2, 1]}}}, ("The 'model.baseline.word_ngrams' parameter "
     "must be [] or [min, max] with 1 <= min <= max. Got [2, 1] instead.")),
    ({"model": {"type": "tfidf_lr", "baseline": {"word_ngrams": [], "char_ngrams": []}}},
     "model.baseline: word_ngrams and char_ngrams are both empty; the baseline needs features."),
])
def test_cross_field_rules(sets, message):
    raw = copy.deepcopy(BASE)
    raw.update(copy.deepcopy(sets))
    assert error_of(raw) == message


# ----------------------------------------------------------------------------------- vectors dim
GLOVE = "the 0.1 0.2 0.3\nof 1 2 3\n"
FASTTEXT = "2 5\nthe 1 2 3 4 5\nof 1 2 3 4 5\n"


def with_vectors(path, **model):
    raw = copy.deepcopy(BASE)
    raw["model"]["embedding"] = {"pretrained": str(path)}
    raw["model"].update(model)
    return raw


@pytest.mark.parametrize("name, text, dim, gz", [
    ("glove.txt", GLOVE, 3, False), ("wiki.vec", FASTTEXT, 5, False), ("glove.txt.gz", GLOVE, 3, True),
    ("blank_first.vec", "\n  \n" + FASTTEXT, 5, False),
])
def test_the_embedding_dim_is_read_from_the_vectors_file(tmp_path, name, text, dim, gz):
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    cfg = from_dict(with_vectors(path))
    assert cfg.model.embedding.dim == dim
    assert from_dict(cfg.to_dict()) == cfg  # the resolved config carries the dim


def test_fill_embedding_dim_returns_a_new_config_and_only_when_needed(tmp_path):
    path = tmp_path / "w.vec"
    path.write_text(FASTTEXT)
    raw = with_vectors(path)
    raw["model"]["embedding"]["dim"] = 5
    cfg = from_dict(raw)
    assert fill_embedding_dim(cfg) is cfg  # dim already set
    unset = dataclasses.replace(cfg, model=dataclasses.replace(
        cfg.model, embedding=dataclasses.replace(cfg.model.embedding, dim=None)))
    filled = fill_embedding_dim(unset)
    assert filled is not unset and filled.model.embedding.dim == 5 and unset.model.embedding.dim is None
    baseline = dataclasses.replace(unset, model=dataclasses.replace(unset.model, type="nbsvm"))
    assert fill_embedding_dim(baseline) is baseline
    onehot = dataclasses.replace(unset, model=dataclasses.replace(unset.model, input="onehot"))
    assert fill_embedding_dim(onehot) is onehot


def test_a_missing_vectors_file_is_one_line(tmp_path):
    missing = tmp_path / "nope.vec"
    assert error_of(with_vectors(missing)) == (
        f"The 'model.embedding.pretrained' parameter must be an existing word-vector file (fastText .vec or GloVe "
        f".txt, optionally .gz) or a named source (glove-6b-50d). Got '{missing}' instead. No such file; check the "
        "path.")


def test_an_empty_vectors_file_is_a_data_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(DataError) as exc:
        from_dict(with_vectors(empty))
    assert str(exc.value) == f"'{empty}' is empty: expected fastText or GloVe word vectors."


def test_the_file_is_not_read_when_an_earlier_rule_fails(tmp_path):
    raw = with_vectors(tmp_path / "nope.vec")
    raw["compile"] = {"loss": "xent"}
    assert error_of(raw).startswith("The 'compile.loss' parameter must be one of")
    raw = with_vectors(tmp_path / "nope.vec", input="onehot")
    assert error_of(raw) == ("model.embedding.pretrained needs model.input = 'embedding' (one-hot inputs have no "
                             "table to initialise).")
