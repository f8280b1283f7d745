"""The config doctor: every broken config of the Jigsaw notebook is caught, with the numbers
and the fix; correct configs are clean; the data profile matches the data."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import toy_config, write_toy_csv

from rnnlab.config import from_dict
from rnnlab.data import load_splits
from rnnlab.errors import DoctorBlocked
from rnnlab.experiments import doctor
from rnnlab.experiments.doctor import diagnose, profile_data
from rnnlab.train.doctor import (DataProfile, Finding, describe_profile, examine, format_findings, has_errors,
                                 raise_on_errors)

JIGSAW = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]


def profile(**over) -> DataProfile:
    """The full Jigsaw train set's `toxic` column: 9.6% positives, as in the notebook."""
    base = {"task": "binary", "labels": ["toxic"], "n_train": 127656, "n_validation": 31915,
            "positive_rates": {"toxic": 0.0958}, "class_shares": None, "majority_share": 0.9042,
            "vocabulary": 394786, "vocab_size": 394787, "length_p50": 36.0, "length_p95": 230.0, "length_max": 1403,
            "truncated_share": 0.04, "dataset": "jigsaw"}
    return DataProfile(**{**base, **over})


MULTILABEL = {"task": "multilabel", "labels": JIGSAW, "majority_share": 0.9633,
              "positive_rates": dict(zip(JIGSAW, [0.096, 0.01, 0.053, 0.003, 0.049, 0.009]))}
MULTICLASS = {"task": "multiclass", "labels": ["happy", "meh", "sad"], "positive_rates": None, "dataset": "table",
              "class_shares": {"happy": 0.4, "meh": 0.35, "sad": 0.25}, "majority_share": 0.4}


def config(overrides: dict | None = None, **dict_over):
    """The toy config (GRU(8) → Dense with units/activation/loss left to the data), overridden."""
    cfg = from_dict(toy_config(Path("toy.csv"), Path("runs"), **dict_over))
    return cfg.replace(overrides) if overrides else cfg


def rules(findings: list[Finding]) -> dict[str, Finding]:
    return {f.rule: f for f in findings}


def only(findings: list[Finding], rule: str) -> Finding:
    found = rules(findings)
    assert rule in found, format_findings(findings)
    return found[rule]


# ---------------------------------------------------------------------------- output layer
def test_softmax_over_one_unit_is_an_error():
    f = only(examine(config({"model.layers.1.activation": "softmax"}), profile()), "softmax-one-unit")
    assert (f.severity, f.key) == ("error", "model.layers.1.activation")
    assert "1.0 for every text" in f.message and "sigmoid" in f.fix


def test_softmax_on_multilabel_data_is_an_error():
    f = only(examine(config({"model.layers.1.activation": "softmax"}), profile(**MULTILABEL)), "softmax-multilabel")
    assert f.severity == "error" and "not exclusive" in f.message and "toxic, severe_toxic" in f.message
    assert "sigmoid" in f.fix


def test_two_unit_softmax_with_sparse_loss_on_a_binary_label_is_clean():
    cfg = config({"model.layers.1.activation": "softmax", "model.layers.1.units": 2,
                  "compile.loss": "sparse_categorical_crossentropy"})
    assert examine(cfg, profile(dataset="table", majority_share=0.6)) == []


def test_sparse_loss_on_one_unit_is_the_notebooks_nan():
    f = only(examine(config({"compile.loss": "sparse_categorical_crossentropy"}), profile()), "scce-too-few-units")
    assert (f.severity, f.key) == ("error", "model.layers.1.units")
    assert "2 classes" in f.message and "1 unit(s)" in f.message and "loss: nan" in f.message
    assert "units = 2" in f.fix


def test_sparse_loss_on_multilabel_data_is_an_error():
    f = only(examine(config({"compile.loss": "sparse_categorical_crossentropy"}), profile(**MULTILABEL)),
             "scce-multilabel")
    assert (f.severity, f.key) == ("error", "compile.loss") and "multi-label" in f.message
    assert "binary_crossentropy with 6 sigmoid units" in f.fix


def test_categorical_loss_on_one_unit_is_always_zero():
    f = only(examine(config({"compile.loss": "categorical_crossentropy"}), profile()), "cce-one-unit")
    assert f.severity == "error" and "always 0" in f.message and "binary_crossentropy" in f.fix


def test_categorical_loss_with_two_units_on_a_binary_label_needs_one_hot_labels():
    cfg = config({"compile.loss": "categorical_crossentropy", "model.layers.1.units": 2,
                  "model.layers.1.activation": "softmax"})
    f = only(examine(cfg, profile()), "cce-binary-two-units")
    assert f.severity == "error" and "one-hot" in f.message


def test_categorical_loss_on_multilabel_data_is_an_error():
    f = only(examine(config({"compile.loss": "categorical_crossentropy"}), profile(**MULTILABEL)), "cce-multilabel")
    assert f.severity == "error" and "no label add nothing" in f.message


@pytest.mark.parametrize("activation,values", [("relu", "[0, inf)"), ("linear", "(-inf, inf)"), ("tanh", "(-1, 1)")])
def test_binary_crossentropy_on_a_non_probability_output(activation, values):
    f = only(examine(config({"model.layers.1.activation": activation}), profile()), "bce-not-probability")
    assert (f.severity, f.key) == ("error", "model.layers.1.activation")
    assert activation in f.message and values in f.message and "clips" in f.message


def test_categorical_losses_on_outputs_that_can_be_negative():
    cfg = config({"model.layers.1.activation": "linear"})
    f = only(examine(cfg, profile(**MULTICLASS)), "categorical-not-probability")
    assert f.severity == "error" and "sparse_categorical_crossentropy" in f.message and "softmax" in f.fix


def test_mse_for_classification_is_a_warning():
    f = only(examine(config({"compile.loss": "mse"}), profile()), "mse-classification")
    assert (f.severity, f.key) == ("warning", "compile.loss") and "binary_crossentropy" in f.fix


@pytest.mark.parametrize("loss,severity", [("binary_crossentropy", "error"), ("mse", "warning")])
def test_batchnorm_after_the_output_layer(loss, severity):
    cfg = config({"compile.loss": loss},
                 model={"embedding": {"dim": 8}, "layers": [{"type": "GRU", "units": 8}, {"type": "Dense"},
                                                            {"type": "BatchNormalization"}]})
    f = only(examine(cfg, profile()), "batchnorm-after-output")
    assert (f.severity, f.key) == (severity, "model.layers.2")
    assert "no longer probabilities" in f.message and "before the output Dense" in f.fix


def test_batchnorm_before_the_output_layer_is_fine():
    cfg = config(model={"embedding": {"dim": 8}, "layers": [{"type": "GRU", "units": 8},
                                                            {"type": "BatchNormalization"}, {"type": "Dense"}]})
    assert "batchnorm-after-output" not in rules(examine(cfg, profile()))


def test_output_units_must_match_the_labels():
    f = only(examine(config({"model.layers.1.units": 6}), profile()), "units-mismatch")
    assert (f.severity, f.key) == ("error", "model.layers.1.units")
    assert "6 unit(s)" in f.message and "1 label(s) (toxic)" in f.message and "units = 1" in f.fix


def test_extra_units_for_the_sparse_loss_are_a_mismatch_too():
    f = only(examine(config({"model.layers.1.units": 4}), profile(**MULTICLASS)), "units-mismatch")
    assert "3 classes" in f.message


# ------------------------------------------------------------------------------ data rules
def test_one_jigsaw_label_of_six_is_a_warning():
    f = only(examine(config(), profile()), "jigsaw-label-subset")
    assert (f.severity, f.key) == ("warning", "data.label_columns")
    assert "severe_toxic, obscene, threat, insult, identity_hate" in f.message and "Remove" in f.fix
    assert "jigsaw-label-subset" not in rules(examine(config(), profile(**MULTILABEL)))
    assert "jigsaw-label-subset" not in rules(examine(config(), profile(dataset="table")))


def test_accuracy_alone_on_imbalanced_labels_names_the_majority_accuracy():
    f = only(examine(config({"compile.metrics": ["accuracy"]}), profile()), "accuracy-only-imbalanced")
    assert (f.severity, f.key) == ("warning", "compile.metrics")
    assert "always predicting the majority scores 0.904" in f.message
    assert "90.4% of the texts have toxic = 0" in f.message
    assert "auc" in f.fix
    assert "accuracy-only-imbalanced" not in rules(examine(config(), profile()))  # default: accuracy and auc
    assert "accuracy-only-imbalanced" not in rules(examine(config({"compile.metrics": ["accuracy"]}),
                                                           profile(majority_share=0.6)))


def test_accuracy_warning_on_multilabel_data_lists_each_label():
    f = only(examine(config({"compile.metrics": ["acc"]}), profile(**MULTILABEL)), "accuracy-only-imbalanced")
    assert "0.963" in f.message and "threat 0.997" in f.message


# ------------------------------------------------------------------------- text and fit
def test_an_uncapped_vocabulary_with_a_large_embedding_estimates_the_memory():
    cfg = config(model={"embedding": {"dim": 300}, "layers": [{"type": "GRU", "units": 8}, {"type": "Dense"}]})
    f = only(examine(cfg, profile(vocab_size=400_001)), "large-vocabulary")
    assert (f.severity, f.key) == ("warning", "text.num_words")
    assert "400,001 rows x 300" in f.message and "1,920 MB" in f.message  # 400,001 x 300 x 4 bytes x 4
    assert "num_words" in f.fix and "96 MB" in f.fix
    assert "large-vocabulary" not in rules(examine(cfg.replace({"text.num_words": 20000}), profile(vocab_size=20000)))
    assert "large-vocabulary" not in rules(examine(config(), profile()))  # 394,787 x 8 x 16 bytes = 51 MB


def test_an_uncapped_one_hot_input_estimates_the_batch_memory():
    cfg = config({"model.input": "onehot", "text.maxlen": 250})
    f = only(examine(cfg, profile()), "large-vocabulary")
    assert "394,787 entries" in f.message and "12,633 MB" in f.message  # 32 x 250 x 394,787 x 4 bytes


def test_a_maxlen_that_truncates_many_texts():
    f = only(examine(config({"text.maxlen": 20}), profile(truncated_share=0.35)), "maxlen-truncates")
    assert (f.severity, f.key) == ("warning", "text.maxlen")
    assert "35.0%" in f.message and "first tokens" in f.message and "230" in f.fix


@pytest.mark.parametrize("bucketing,severity", [(False, "warning"), (True, "info")])
def test_a_maxlen_far_above_the_95th_percentile(bucketing, severity):
    cfg = config({"text.maxlen": 1000, "fit.bucketing": bucketing})
    f = only(examine(cfg, profile(truncated_share=0.001)), "maxlen-too-long")
    assert f.severity == severity and "4.3x the 95th percentile" in f.message and "230" in f.fix


@pytest.mark.parametrize("optimizer,lr,far", [("adam", 5.0, True), ("adam", 0.05, False), ("sgd", 1e-6, True),
                                              ("sgd", 0.5, False), ("adadelta", 1.0, False), ("rmsprop", 1e-7, True)])
def test_learning_rates_far_outside_the_optimizers_range(optimizer, lr, far):
    found = rules(examine(config({"compile.optimizer": optimizer, "compile.learning_rate": lr}), profile()))
    assert ("learning-rate-range" in found) == far
    if far:
        f = found["learning-rate-range"]
        assert f.severity == "warning" and f.key == "compile.learning_rate" and optimizer in f.message
        assert "leave compile.learning_rate unset" in f.fix


def test_a_tokenizer_fitted_on_test_texts_is_a_leak():
    f = only(examine(config({"text.fit_on": "train+validation+test"}), profile()), "tokenizer-fit-on-test")
    assert (f.severity, f.key) == ("warning", "text.fit_on") and "leak" in f.message


@pytest.mark.parametrize("data, rare", [
    (MULTILABEL, "'threat' (0.3%), 'identity_hate' (0.9%) and 'severe_toxic' (1.0%) are rarer than 2% of the "
                 "127,656 training rows"),
    ({"positive_rates": {"toxic": 0.985}}, "toxic = 0 (1.5%) is rarer than 2%"),
    ({**MULTICLASS, "class_shares": {"happy": 0.9, "meh": 0.085, "sad": 0.015}}, "class 'sad' (1.5%) is rarer"),
], ids=["multilabel", "binary", "multiclass"])
def test_a_rare_class_judged_by_loss_or_accuracy_suggests_balanced_class_weights(data, rare):
    f = only(examine(config(), profile(**data)), "rare-class-unweighted")
    assert (f.severity, f.key) == ("warning", "fit.class_weight")
    assert f.message.startswith(rare) and "fit.checkpoint.monitor = 'val_loss'" in f.message
    assert f.fix.startswith('Set fit.class_weight = "balanced"') and 'fit.checkpoint.monitor = "val_auc"' in f.fix


@pytest.mark.parametrize("overrides, fires", [
    ({"fit.class_weight": "balanced"}, False),
    ({"fit.class_weight": {"threat": 5.0}}, False),
    ({"fit.checkpoint.monitor": "val_auc"}, False),
    ({"fit.checkpoint.monitor": "val_accuracy"}, True),
    ({"fit.checkpoint.monitor": "loss"}, True),
    ({"fit.checkpoint.monitor": "val_auc", "fit.early_stopping.monitor": "accuracy"}, False),  # early stopping off
    ({"fit.checkpoint.monitor": "val_auc", "fit.early_stopping.enabled": True,
      "fit.early_stopping.monitor": "accuracy"}, True),
    ({"fit.checkpoint.monitor": "val_auc", "fit.early_stopping.enabled": True}, True),  # early stopping: val_loss
])
def test_the_rare_class_rule_looks_at_class_weights_and_every_active_monitor(overrides, fires):
    found = rules(examine(config(overrides), profile(**MULTILABEL)))
    assert ("rare-class-unweighted" in found) == fires
    if fires and overrides.get("fit.early_stopping.enabled"):
        assert "fit.early_stopping.monitor" in found["rare-class-unweighted"].fix


@pytest.mark.parametrize("rates", [{"toxic": 0.096}, {"toxic": 0.5}, {"toxic": 0.0}, {"toxic": 0.02}])
def test_no_rare_class_no_finding(rates):
    assert "rare-class-unweighted" not in rules(examine(config(), profile(positive_rates=rates)))
    ml = {**MULTILABEL, "positive_rates": dict(zip(JIGSAW, [0.096, 0.0, 0.053, 0.05, 0.049, 0.02]))}
    assert "rare-class-unweighted" not in rules(examine(config(), profile(**ml)))  # none positive: not weightable


# ------------------------------------------------------------------ the notebook, together
NOTEBOOK = [  # (overrides of a Dense(1) output, the layers before it, the errors the doctor must report)
    ({"compile.loss": "sparse_categorical_crossentropy", "model.layers.1.activation": "softmax"}, "LSTM",
     {"softmax-one-unit", "scce-too-few-units"}),
    ({"compile.loss": "categorical_crossentropy", "model.layers.1.activation": "softmax"}, "LSTM",
     {"softmax-one-unit", "cce-one-unit"}),
    ({"compile.loss": "binary_crossentropy", "model.layers.1.activation": "softmax"}, "LSTM", {"softmax-one-unit"}),
    ({"compile.loss": "mse", "model.layers.1.activation": "softmax"}, "LSTM", {"softmax-one-unit"}),
    ({"compile.loss": "sparse_categorical_crossentropy", "model.layers.1.activation": "linear",
      "compile.optimizer": "adam"}, "LSTM", {"scce-too-few-units"}),
    ({"compile.loss": "sparse_categorical_crossentropy", "model.layers.1.activation": "relu",
      "compile.optimizer": "adam"}, "LSTM", {"scce-too-few-units"}),
    ({"compile.loss": "sparse_categorical_crossentropy", "model.layers.1.activation": "softmax",
      "compile.optimizer": "adadelta"}, "GRU", {"softmax-one-unit", "scce-too-few-units"}),
]


@pytest.mark.parametrize("overrides,rnn,errors", NOTEBOOK)
def test_every_notebook_experiment_is_caught(overrides, rnn, errors):
    cfg = config({"model.layers.1.units": 1, "compile.metrics": ["accuracy"], **overrides},
                 model={"embedding": {"dim": 3}, "layers": [{"type": rnn, "units": 32}, {"type": "Dense"}]})
    findings = examine(cfg, profile())
    assert {f.rule for f in findings if f.severity == "error"} == errors
    assert {"jigsaw-label-subset", "accuracy-only-imbalanced"} <= {f.rule for f in findings if f.severity == "warning"}


def test_the_notebooks_batchnorm_after_the_softmax():
    cfg = config({"compile.loss": "sparse_categorical_crossentropy"},
                 model={"embedding": {"dim": 3}, "layers": [{"type": "LSTM", "units": 32},
                                                            {"type": "Dense", "units": 1, "activation": "softmax"},
                                                            {"type": "BatchNormalization"}]})
    errors = {f.rule for f in examine(cfg, profile()) if f.severity == "error"}
    assert errors == {"softmax-one-unit", "scce-too-few-units", "batchnorm-after-output"}


@pytest.mark.parametrize("data", [{}, MULTILABEL, MULTICLASS], ids=["binary", "multilabel", "multiclass"])
def test_a_correct_config_has_no_findings(data):
    cfg = config({"fit.class_weight": "balanced"}) if data is MULTILABEL else config()  # threat: 0.3% positive
    assert examine(cfg, profile(**{"dataset": "table", "majority_share": 0.6, **data})) == []


def test_baselines_get_only_the_data_rules():
    cfg = config({"model.type": "tfidf_lr", "model.layers.1.activation": "softmax", "compile.metrics": ["accuracy"],
                  "compile.loss": "sparse_categorical_crossentropy", "compile.learning_rate": 50.0})
    assert {f.rule for f in examine(cfg, profile())} == {"jigsaw-label-subset", "accuracy-only-imbalanced"}


# ------------------------------------------------------------------- reporting and refusing
def test_findings_are_sorted_errors_first_with_their_fix():
    cfg = config({"model.layers.1.activation": "softmax", "compile.metrics": ["accuracy"]})
    findings = examine(cfg, profile())
    assert [f.severity for f in findings] == ["error", "warning", "warning"]
    text = format_findings(list(reversed(findings)), title="notebook")
    lines = text.splitlines()
    assert lines[0] == "notebook: 1 error, 2 warnings"
    assert "error" in lines[1] and "softmax-one-unit (model.layers.1.activation)" in lines[1]
    assert lines[2].strip().startswith("fix: Use activation")
    assert len(lines) == 1 + 2 * len(findings)
    assert format_findings([]) == "no findings" and format_findings([], "ok") == "ok: no findings"


def test_errors_block_training_unless_forced():
    findings = examine(config({"compile.loss": "sparse_categorical_crossentropy"}), profile(**MULTILABEL))
    assert has_errors(findings)
    with pytest.raises(DoctorBlocked, match=r"doctor found 1 error.*\(1\) \[scce-multilabel\].*multi-label.*--force"):
        raise_on_errors(findings)
    raise_on_errors(findings, force=True)
    warnings = examine(config({"compile.loss": "mse"}), profile())
    assert not has_errors(warnings)
    raise_on_errors(warnings)


# ------------------------------------------------------------------------------ profiling
@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_csv(tmp_path_factory.mktemp("doctor") / "toy.csv", multilabel=True)


def test_the_profile_of_a_multilabel_table(toy):
    cfg = from_dict(toy_config(toy, Path("runs"), data__label_columns=["pos", "loud"], text__maxlen=12))
    p = profile_data(cfg)
    splits = load_splits(cfg)
    rates = splits.train.targets.mean(0)
    assert (p.task, p.labels, p.n_train, p.n_validation) == ("multilabel", ["pos", "loud"], 320, 80)
    assert p.positive_rates == pytest.approx(dict(zip(["pos", "loud"], rates)))
    assert p.majority_share == pytest.approx(np.maximum(rates, 1 - rates).mean())
    assert p.class_shares is None
    assert (p.vocabulary, p.vocab_size) == (50, 51)  # w0..w39 + ten sentiment words ("!!" is filtered), + padding
    lengths = np.array([len(t.split()) - t.endswith("!!") for t in splits.train.texts])
    assert p.length_max == lengths.max() and p.length_p95 == pytest.approx(np.percentile(lengths, 95))
    assert p.truncated_share == pytest.approx((lengths > 12).mean())
    assert DataProfile.from_dict(json.loads(json.dumps(p.to_dict()))) == p


def test_the_profile_of_a_multiclass_column(tmp_path):
    path = write_toy_csv(tmp_path / "m.csv", n=200)
    frame = pd.read_csv(path)
    frame["mood"] = np.where(frame["pos"] == 1, "happy", "sad")
    frame.loc[frame.index % 3 == 0, "mood"] = "meh"
    frame.to_csv(path, index=False)
    p = profile_data(from_dict(toy_config(path, tmp_path, data__label_columns=["mood"], text={})))
    assert p.task == "multiclass" and list(p.class_shares) == ["happy", "meh", "sad"]
    assert sum(p.class_shares.values()) == pytest.approx(1.0)
    assert p.majority_share == max(p.class_shares.values()) and p.truncated_share is None
    assert "multiclass, 3 classes (happy, meh, sad)" in describe_profile(p)


def test_variants_share_one_load_and_one_tokenizer(toy, monkeypatch):
    loads, fits = [], []
    monkeypatch.setattr(doctor, "load_splits", lambda cfg: loads.append(cfg) or load_splits(cfg))
    real_tokenize = doctor.prepare.tokenize_splits
    monkeypatch.setattr(doctor.prepare, "tokenize_splits",
                        lambda cfg, splits: fits.append(cfg) or real_tokenize(cfg, splits))
    base = from_dict(toy_config(toy, Path("runs"), data__label_columns=["pos", "loud"], sweep={
        "text.maxlen": [5, 30], "compile.optimizer": ["adam", "sgd"], "baselines": False}))
    found = diagnose(base)
    assert [d.name for d in found] == ["maxlen=5, optimizer=adam", "maxlen=5, optimizer=sgd",
                                       "maxlen=30, optimizer=adam", "maxlen=30, optimizer=sgd"]
    assert len(loads) == 1 and len(fits) == 1
    assert found[0].profile.truncated_share > 0.5 and found[2].profile.truncated_share == 0.0
    assert "maxlen-truncates" in rules(found[0].findings) and found[2].findings == []
