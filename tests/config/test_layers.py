"""``[[model.layers]]``: type aliases, the keys each type accepts, the per-type checks and their
exact messages, and the rules between layers."""

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.config import ACTIVATIONS, LAYER_ALIASES, LAYER_KEYS, RNN_TYPES, LayerConfig, from_dict
from rnnlab.config.schema import LAYER_CHECKS
from rnnlab.errors import ConfigError

BASE = {"data": {"dataset": "table", "path": "/d/train.csv", "text_column": "text", "label_columns": ["y"]},
        "text": {"maxlen": 10}, "fit": {"bucketing": False},
        "model": {"embedding": {"dim": 8}, "layers": []}}
TYPES = list(LAYER_KEYS)


def build(*layers):
    raw = copy.deepcopy(BASE)
    raw["model"]["layers"] = list(layers)
    return from_dict(raw)


def layer_error(layer, *, first=True) -> str:
    with pytest.raises(ConfigError) as exc:
        build(layer, {"type": "Dense"}) if first else build({"type": "Dense", "units": 2}, layer)
    return str(exc.value)


def p(key, expected, got, hint=""):
    message = f"The 'model.layers.0.{key}' parameter must be {expected}. Got {got!r} instead."
    return message + (f" {hint}" if hint else "")


@pytest.mark.parametrize("alias, canonical", [
    ("lstm", "LSTM"), ("LsTm", "LSTM"), ("rnn", "SimpleRNN"), ("simplernn", "SimpleRNN"), ("gru", "GRU"),
    ("globalmaxpool1d", "GlobalMaxPooling1D"), ("globalavgpool1d", "GlobalAveragePooling1D"),
    ("globalaveragepool1d", "GlobalAveragePooling1D"), ("batchnorm", "BatchNormalization"), ("dense", "Dense"),
    ("spatialdropout1d", "SpatialDropout1D"), ("FLATTEN", "Flatten"),
])
def test_layer_type_aliases(alias, canonical):
    extra = {"units": 3} if canonical in (*RNN_TYPES, "Dense") else {"rate": 0.1} if "Dropout" in canonical else {}
    cfg = build({"type": alias, **extra}, {"type": "Dense"})
    assert cfg.model.layers[0].type == canonical
    assert cfg.to_dict()["model"]["layers"][0]["type"] == canonical


def test_every_type_has_its_lower_case_alias():
    assert all(LAYER_ALIASES[t.lower()] == t for t in LAYER_KEYS)


@pytest.mark.parametrize("layer, message", [
    ({"type": "LTSM"}, "The 'model.layers.0.type' parameter must be one of " + ", ".join(LAYER_KEYS)
     + ". Got 'LTSM' instead. Did you mean 'LSTM'?"),
    ({"type": "zzz"}, "The 'model.layers.0.type' parameter must be one of " + ", ".join(LAYER_KEYS)
     + ". Got 'zzz' instead."),
    ({"type": 3}, "The 'model.layers.0.type' parameter must be one of " + ", ".join(LAYER_KEYS)
     + ". Got 3 instead."),
    ({"units": 3}, "'model.layers.0' has no 'type'; use one of: " + ", ".join(LAYER_KEYS) + "."),
    ("LSTM", "'model.layers.0' must be a table like {type = \"LSTM\", units = 32} (got 'LSTM')."),
])
def test_bad_layer_types(layer, message):
    assert layer_error(layer) == message


@pytest.mark.parametrize("layer, message", [
    ({"type": "LSTM"}, p("units", "an int in [1, 65536]", None, "LSTM needs units, e.g. units = 32.")),
    ({"type": "gru", "units": 0}, p("units", "an int in [1, 65536]", 0, "GRU needs units, e.g. units = 32.")),
    ({"type": "rnn", "units": -2.0}, p("units", "an int in [1, 65536]", -2, "SimpleRNN needs units, e.g. units = 32.")),
    ({"type": "LSTM", "units": 3, "activation": "relu"},
     p("activation", "'tanh'", "relu", "Fused RNN kernels support only these.")),
    ({"type": "SimpleRNN", "units": 3, "activation": "sigmoid"},
     p("activation", "'tanh' or 'relu'", "sigmoid", "Fused RNN kernels support only these.")),
    ({"type": "GRU", "units": 3, "merge_mode": "add"}, p("merge_mode", "one of 'concat', 'sum', 'ave', 'mul'", "add")),
    ({"type": "GRU", "units": 3, "dropout": 1.0}, p("dropout", "a float in [0, 1)", 1.0)),
    ({"type": "GRU", "units": 3, "dropout": -0.1}, p("dropout", "a float in [0, 1)", -0.1)),
    ({"type": "GRU", "units": 3, "dropout": "x"}, p("dropout", "a number", "x")),
    ({"type": "GRU", "units": 3, "bidirectional": 1}, p("bidirectional", "true or false", 1)),
    ({"type": "Dense", "units": 0}, p("units", "an int in [1, 65536]", 0)),
    ({"type": "Dense", "activation": "sigmod"}, p("activation", "one of " + ", ".join(ACTIVATIONS), "sigmod",
                                                  "Did you mean 'sigmoid'?")),
    ({"type": "Dense", "activation": "zzz"}, p("activation", "one of " + ", ".join(ACTIVATIONS), "zzz")),
    ({"type": "Dropout"}, p("rate", "a float in [0, 1)", None)),
    ({"type": "SpatialDropout1D", "rate": 1}, p("rate", "a float in [0, 1)", 1.0)),
    ({"type": "BatchNormalization", "momentum": 1.0}, p("momentum", "a float in [0, 1)", 1.0)),
    ({"type": "BatchNormalization", "epsilon": 0}, p("epsilon", "a float > 0", 0.0)),
    ({"type": "GlobalPooling1D"}, p("modes", "a non-empty list of 'max' / 'average'", None)),
    ({"type": "GlobalPooling1D", "modes": []}, p("modes", "a non-empty list of 'max' / 'average'", [])),
    ({"type": "GlobalPooling1D", "modes": "min"}, p("modes", "a non-empty list of 'max' / 'average'", ["min"])),
    ({"type": "GlobalPooling1D", "modes": [1]}, p("modes.0", "a string", 1)),
    # every value is coerced before any is checked: the type error of a later key comes first
    ({"type": "LSTM", "units": 0, "dropout": "x"}, p("dropout", "a number", "x")),
])
def test_per_type_checks_and_their_messages(layer, message):
    assert layer_error(layer) == message


@pytest.mark.parametrize("layer, message", [
    ({"type": "LSTM", "units": 3, "recurrent_dropout": 0.2},
     ("'model.layers.0.recurrent_dropout' is not supported (it rules out the fast fused RNN kernels); use 'dropout' "
     "or a SpatialDropout1D layer.")),
    ({"type": "Dense", "rate": 0.2}, "'model.layers.0' (Dense) has no key 'rate'. Keys for Dense: units, activation."),
    ({"type": "flatten", "units": 2}, "'model.layers.0' (Flatten) has no key 'units'. Keys for Flatten: (none)."),
    ({"type": "Dropout", "rate": 0.1, "units": 2},
     "'model.layers.0' (Dropout) has no key 'units'. Keys for Dropout: rate."),
])
def test_keys_a_type_does_not_have(layer, message):
    assert layer_error(layer) == message


def test_the_check_table_only_names_keys_of_its_type():
    assert set(LAYER_CHECKS) <= set(LAYER_KEYS)
    for layer_type, checks in LAYER_CHECKS.items():
        assert set(checks) <= set(LAYER_KEYS[layer_type]), layer_type


@pytest.mark.parametrize("layer", [
    {"type": "LSTM", "units": 3, "activation": "tanh", "return_sequences": True, "bidirectional": True,
     "merge_mode": "ave", "dropout": 0.5},
    {"type": "SimpleRNN", "units": 1, "activation": "relu"},
    {"type": "GRU", "units": 2, "activation": ""},  # empty = the default tanh
    {"type": "Dense", "units": 4, "activation": "gelu"},
    {"type": "Dropout", "rate": 0.0},
    {"type": "BatchNormalization", "momentum": 0.0, "epsilon": 1e-5},
    {"type": "GlobalPooling1D", "modes": ["max", "average"]},
    {"type": "GlobalMaxPooling1D"}, {"type": "GlobalAveragePooling1D"}, {"type": "Flatten"},
])
def test_valid_layers_build_and_write_only_their_keys(layer):
    cfg = build(layer, {"type": "Dense"})
    written = cfg.to_dict()["model"]["layers"][0]
    assert set(written) - {"type"} <= set(LAYER_KEYS[written["type"]])
    assert {k: v for k, v in layer.items() if k != "type"}.items() <= written.items()
    assert from_dict(cfg.to_dict()) == cfg


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(TYPES), st.sampled_from(["units", "activation", "return_sequences", "bidirectional",
                                                "merge_mode", "dropout", "rate", "momentum", "epsilon", "modes"]))
def test_a_key_is_accepted_exactly_by_the_types_that_have_it(layer_type, key):
    value = {"units": 2, "activation": "tanh", "return_sequences": False, "bidirectional": False,
             "merge_mode": "concat", "dropout": 0.1, "rate": 0.1, "momentum": 0.9, "epsilon": 0.01,
             "modes": ["max"]}[key]
    layer = {"type": layer_type, key: value}
    if layer_type in (*RNN_TYPES, "Dense"):
        layer.setdefault("units", 2)
    if layer_type in ("Dropout", "SpatialDropout1D"):
        layer.setdefault("rate", 0.1)
    if layer_type == "GlobalPooling1D":
        layer.setdefault("modes", ["max"])
    if key in LAYER_KEYS[layer_type]:
        assert getattr(build(layer, {"type": "Dense"}).model.layers[0], key) == value
    else:
        assert layer_error(layer).startswith(f"'model.layers.0' ({layer_type}) has no key '{key}'.")


def test_layer_from_raw_is_what_the_builder_uses():
    assert LayerConfig.from_raw({"type": "lstm", "units": 2.0}, "x") == LayerConfig(type="LSTM", units=2)
    with pytest.raises(ConfigError,
                       match=r"^The 'x.units' parameter must be an int in \[1, 65536\]\. Got None instead\. "):
        LayerConfig.from_raw({"type": "gru"}, "x")


@pytest.mark.parametrize("layers, message", [
    ([], "model.layers is empty; add at least the output layer, e.g. [[model.layers]] type = \"Dense\"."),
    ([{"type": "LSTM", "units": 2}], ("The last layer of model.layers is LSTM; the model must end with a Dense "
     "output layer (optionally followed by BatchNormalization).")),
    ([{"type": "BatchNormalization"}], ("The last layer of model.layers is BatchNormalization; the model must end "
     "with a Dense output layer (optionally followed by BatchNormalization).")),
    ([{"type": "Dense"}, {"type": "Dense"}], ("The 'model.layers.0.units' parameter must be an int >= 1. Got None "
     "instead. Only the output Dense layer may leave units unset (= number of labels).")),
])
def test_rules_between_layers(layers, message):
    with pytest.raises(ConfigError) as exc:
        build(*layers)
    assert str(exc.value) == message


def test_flatten_needs_fixed_length_input():
    assert build({"type": "Flatten"}, {"type": "Dense"}).model.layers[0].type == "Flatten"
    raw = copy.deepcopy(BASE)
    raw["model"]["layers"] = [{"type": "Flatten"}, {"type": "Dense"}]
    raw["fit"]["bucketing"] = True
    with pytest.raises(ConfigError, match=r"^A Flatten layer needs fixed-length input"):
        from_dict(raw)
