"""``--set`` overrides: values read as TOML when they parse, dotted keys into tables and lists,
paths given on the command line resolved against the current directory."""

import copy
import math
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.config import from_dict, load_config, parse_overrides, set_dotted, tomllib
from rnnlab.errors import ConfigError

BASE = {"data": {"dataset": "table", "path": "/d/train.csv", "text_column": "text", "label_columns": ["y"]},
        "model": {"embedding": {"dim": 8}, "layers": [{"type": "LSTM", "units": 4}, {"type": "Dense"}]}}

keys = st.from_regex(r"[a-z_]{1,8}(\.[a-z_0-9]{1,8}){0,3}", fullmatch=True)
toml_values = st.recursive(
    st.one_of(st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.lists(inner, max_size=3), max_leaves=5)


@settings(max_examples=200, deadline=None)
@given(keys, toml_values)
def test_a_value_written_as_toml_is_read_back_as_that_value(key, value):
    text = tomli_w.dumps({"v": value})[len("v = "):].strip()
    assert parse_overrides([f"{key}={text}"]) == {key: value}


@settings(max_examples=200, deadline=None)
@given(keys, st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\"'[{"), max_size=15))
def test_text_that_is_not_a_toml_value_stays_a_string(key, text):
    try:
        expected = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:  # not a TOML value: kept verbatim, spaces included
        expected = text
    assert parse_overrides([f"{key}={text}"]) == {key: expected}


@pytest.mark.parametrize("item, value", [
    ("fit.epochs=3", 3), ("compile.learning_rate=0.5", 0.5), ("fit.shuffle=false", False),
    ('data.path="a b.csv"', "a b.csv"), ("data.path=train.csv", "train.csv"),
    ("data.label_columns=[\"a\", \"b\"]", ["a", "b"]),
    ("fit.early_stopping={enabled = true}", {"enabled": True}), ("name=", ""), ("a.b = x=y", " x=y"),
])
def test_examples_of_override_values(item, value):
    ((key, got),) = parse_overrides([item]).items()
    assert key == item.partition("=")[0].strip() and got == value and type(got) is type(value)


def test_the_last_of_a_repeated_key_wins_and_order_is_kept():
    assert list(parse_overrides(["b=1", "a=2", "b=3"]).items()) == [("b", 3), ("a", 2)]


@pytest.mark.parametrize("item, message", [
    ("fit.epochs", "--set expects key=value, got 'fit.epochs' (e.g. --set fit.epochs=3)."),
    (" =3", "--set ' =3' has an empty key."),
])
def test_malformed_overrides(item, message):
    with pytest.raises(ConfigError) as exc:
        parse_overrides([item])
    assert str(exc.value) == message


def test_set_dotted_creates_tables_and_lists():
    raw = {"fit": None}
    set_dotted(raw, "fit.early_stopping.patience", 3)
    assert raw == {"fit": {"early_stopping": {"patience": 3}}}
    raw = {}
    with pytest.raises(ConfigError, match=r"index 0 is out of range; the list has 0 items"):
        set_dotted(raw, "a.0.b", 1)  # a list is created for a numeric part, then indexed
    assert raw == {"a": []}
    set_dotted(raw, "fit.class_weight.1", 5)  # a number as the last part: a key of a new table
    assert raw["fit"] == {"class_weight": {"1": 5}}


@settings(max_examples=100, deadline=None)
@given(st.integers(-6, 6), st.integers(1, 4))
def test_list_indices_in_range_set_the_item_and_others_are_a_one_line_error(idx, n):
    raw = {"layers": [{"units": i} for i in range(n)]}
    before = copy.deepcopy(raw)
    if -n <= idx < n:
        set_dotted(raw, f"layers.{idx}.units", 99)
        before["layers"][idx]["units"] = 99
        assert raw == before
    else:
        with pytest.raises(ConfigError) as exc:
            set_dotted(raw, f"layers.{idx}.units", 99)
        assert str(exc.value) == (f"Cannot set 'layers.{idx}.units': index {idx} is out of range; "
                                  f"the list has {n} items.")
        assert raw == before


def test_a_list_item_set_directly_and_non_numeric_indices():
    raw = {"m": [1, 2, 3]}
    set_dotted(raw, "m.-1", 9)
    assert raw == {"m": [1, 2, 9]}
    with pytest.raises(ConfigError) as exc:
        set_dotted(raw, "m.first", 0)
    assert str(exc.value) == "Cannot set 'm.first': 'first' must be a list index (0..2)."
    with pytest.raises(ConfigError) as exc:
        set_dotted({"m": [{"a": 1}]}, "m.x.a", 0)
    assert str(exc.value) == "Cannot set 'm.x.a': 'x' must be a list index (0..0)."


def test_a_key_below_a_value_is_an_error():
    with pytest.raises(ConfigError) as exc:
        set_dotted({"fit": {"epochs": 3}, "m": [1]}, "m.0.units", 1)
    assert str(exc.value) == "Cannot set 'm.0.units': 'm.0' is not a table."


def test_replace_accepts_strings_and_dicts_and_leaves_the_original_alone():
    cfg = from_dict(copy.deepcopy(BASE))
    a = cfg.replace(["model.layers.0.units=64", "fit.epochs=3", "compile.loss=bce"])
    b = cfg.replace({"model.layers.0.units": 64, "fit.epochs": 3.0, "compile.loss": "bce"})
    assert a == b
    assert (a.model.layers[0].units, a.fit.epochs, a.compile.loss) == (64, 3, "binary_crossentropy")
    assert cfg == from_dict(copy.deepcopy(BASE)) and cfg.model.layers[0].units == 4
    with pytest.raises(ConfigError) as exc:
        cfg.replace(["model.layers.0.units=0"])
    assert str(exc.value) == ("The 'model.layers.0.units' parameter must be an int in [1, 65536]. Got 0 instead. "
                              "LSTM needs units, e.g. units = 32.")


def test_paths_in_the_file_are_relative_to_it_and_set_paths_to_the_current_directory(tmp_path, monkeypatch):
    folder = tmp_path / "cfgs"
    folder.mkdir()
    (folder / "run.toml").write_text('[data]\ndataset = "table"\npath = "data/train.csv"\ntext_column = "t"\n'
                                     'label_columns = ["y"]\ntest_path = "~/test.csv"\n'
                                     '[model.embedding]\ndim = 4\npretrained = "../vec/w.vec"\n'
                                     '[[model.layers]]\ntype = "Dense"\n', encoding="utf-8")
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(folder / "run.toml")
    assert cfg.name == "run"
    assert cfg.data.path == str(folder / "data" / "train.csv")
    assert cfg.data.test_path == str(Path("~/test.csv").expanduser())
    assert cfg.model.embedding.pretrained == str(tmp_path / "vec" / "w.vec")
    cfg = load_config(folder / "run.toml", ["data.path=other.csv", "data.validation_path=/abs/v.csv",
                                            "model.embedding.pretrained=v.txt"])
    assert cfg.data.path == str(elsewhere / "other.csv")
    assert cfg.data.validation_path == "/abs/v.csv"
    assert cfg.model.embedding.pretrained == str(elsewhere / "v.txt")
    assert cfg.data.test_path == str(Path("~/test.csv").expanduser())


def test_a_dict_base_is_not_changed_and_overrides_apply_on_top():
    base = copy.deepcopy(BASE)
    cfg = load_config(None, {"fit.epochs": 2}, base=base)
    assert base == BASE and cfg.fit.epochs == 2 and cfg.data.path == "/d/train.csv"


def test_float_overrides_keep_their_values():
    cfg = load_config(None, ["compile.learning_rate=1e-3"], base=copy.deepcopy(BASE))
    assert math.isclose(cfg.compile.learning_rate, 1e-3)
    with pytest.raises(ConfigError) as exc:
        load_config(None, ["compile.clipnorm=inf"], base=copy.deepcopy(BASE))
    assert str(exc.value) == "The 'compile.clipnorm' parameter must be a finite number. Got inf instead."
