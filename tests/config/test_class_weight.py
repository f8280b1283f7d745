"""fit.class_weight and fit.class_weight_cap in the config: the forms accepted ('balanced' or a
table of weights, from TOML, --set or Python), what the saved config keeps, and one-line errors
in the parameter message shape for every bad value."""

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.config import describe_keys, from_dict, set_dotted, tomllib
from rnnlab.config.constraints import coerce
from rnnlab.errors import ConfigError

BASE = {"data": {"dataset": "table", "path": "/d/train.csv", "text_column": "text", "label_columns": ["y"]},
        "model": {"embedding": {"dim": 8}, "layers": [{"type": "LSTM", "units": 4}, {"type": "Dense"}]}}
EXPECTED = "'balanced' or a non-empty table of class (multi-label: label) = weight > 0"


def build(**sets):
    raw = copy.deepcopy(BASE)
    for key, value in sets.items():
        set_dotted(raw, key.replace("__", "."), value)
    return from_dict(raw)


def error(**sets) -> str:
    with pytest.raises(ConfigError) as exc:
        build(**sets)
    return str(exc.value)


def msg(key, expected, got, hint=""):
    return f"The '{key}' parameter must be {expected}. Got {got!r} instead." + (f" {hint}" if hint else "")


@pytest.mark.parametrize("value, read", [
    ("balanced", "balanced"),
    ({"1": 5.0}, {"1": 5.0}),
    ({0: 1, 1: 3}, {"0": 1.0, "1": 3.0}),  # Python keys and ints: TOML's string keys and floats
    ({"toxic": 2.5, "threat": 10}, {"toxic": 2.5, "threat": 10.0}),
])
def test_accepted_forms(value, read):
    cfg = build(fit__class_weight=value)
    assert cfg.fit.class_weight == read and cfg.fit.class_weight_cap == 10.0
    assert from_dict(tomllib.loads(cfg.to_toml())) == cfg  # the saved config.toml keeps what was written


def test_unset_by_default_and_absent_from_the_saved_config():
    cfg = build()
    assert cfg.fit.class_weight is None
    assert "\nclass_weight =" not in cfg.to_toml() and "[fit.class_weight]" not in cfg.to_toml()


def test_set_overrides_a_table_entry_or_the_whole_value():
    cfg = build().replace(["fit.class_weight.1=4", "fit.class_weight_cap=20"])
    assert (cfg.fit.class_weight, cfg.fit.class_weight_cap) == ({"1": 4.0}, 20.0)
    assert build().replace(["fit.class_weight=balanced"]).fit.class_weight == "balanced"


@pytest.mark.parametrize("value, message", [
    ({"1": -2.0}, msg("fit.class_weight", EXPECTED, {"1": -2.0}, "The weight of '1' is -2.0; 1 leaves a class "
                                                                 "unweighted.")),
    ({"0": 1, "1": 0}, msg("fit.class_weight", EXPECTED, {"0": 1, "1": 0}, "The weight of '1' is 0.0; 1 leaves a "
                                                                           "class unweighted.")),
    ({"1": float("nan")}, msg("fit.class_weight.1", "a finite number", float("nan"))),
    ({"1": float("inf")}, msg("fit.class_weight.1", "a finite number", float("inf"))),
    ({"1": True}, msg("fit.class_weight.1", "a number", True)),
    ({"1": "5"}, msg("fit.class_weight.1", "a number", "5")),
    ({}, msg("fit.class_weight", EXPECTED, {}, "Name at least one class and its weight, or leave fit.class_weight "
                                               "unset.")),
    ("Balanced", msg("fit.class_weight", EXPECTED, "Balanced", "Did you mean 'balanced'?")),
    ("auto", msg("fit.class_weight", EXPECTED, "auto")),
    (3, msg("fit.class_weight", "a string or a table", 3)),
    ([1.0, 2.0], msg("fit.class_weight", "a string or a table", [1.0, 2.0])),
])
def test_bad_weights_are_one_line_parameter_errors(value, message):
    assert error(fit__class_weight=value) == message


def test_the_cap_is_at_least_1():
    assert error(fit__class_weight_cap=0.5) == msg("fit.class_weight_cap", "a float >= 1", 0.5)


def test_a_regression_loss_cannot_be_class_weighted():
    assert error(fit__class_weight="balanced", compile__loss="mse") == (
        "fit.class_weight weights the rows of a classification loss, but compile.loss = 'mse' regresses the labels "
        "as numbers; use a cross-entropy loss (leave compile.loss unset) or unset fit.class_weight.")
    assert build(compile__loss="mse").compile.loss == "mse"
    assert build(fit__class_weight="balanced", compile__loss="bce").compile.loss == "binary_crossentropy"


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(st.characters(codec="ascii", exclude_characters="\x00"), min_size=1, max_size=8),
                       st.floats(min_value=1e-6, max_value=1e6), min_size=1, max_size=6))
def test_any_table_of_positive_weights_round_trips_through_toml(table):
    cfg = build(fit__class_weight=table)
    assert cfg.fit.class_weight == table
    assert from_dict(tomllib.loads(cfg.to_toml())).fit.class_weight == table


def test_union_and_table_coercion():
    assert coerce({1: 2}, dict[str, float], "k") == {"1": 2.0}
    assert coerce("x", str | dict[str, float] | None, "k") == "x"
    assert coerce(None, str | dict[str, float] | None, "k") is None
    with pytest.raises(ConfigError, match=r"'k.a' parameter must be a number"):
        coerce({"a": "b"}, str | dict[str, float], "k")


def test_the_reference_rows():
    rows = {key: (tp, default) for key, tp, default, _ in describe_keys()}
    assert rows["fit.class_weight"] == ("string or table", "unset")
    assert rows["fit.class_weight_cap"] == ("float", "10.0")
