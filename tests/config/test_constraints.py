"""The constraint framework: every check kind, type coercion (bool strictness, ``1.0`` as an int,
finite numbers), unknown keys with did-you-mean at every level, and the ``from_raw`` hook."""

import copy
import dataclasses
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.config import Config, describe_keys, from_dict, set_dotted
from rnnlab.config.constraints import coerce, frac, ge, hinted, one_of, option, positive, required, typed_build
from rnnlab.errors import ConfigError

BASE = {"data": {"dataset": "table", "path": "/d/train.csv", "text_column": "text", "label_columns": ["y"]},
        "model": {"embedding": {"dim": 8}, "layers": [{"type": "LSTM", "units": 4}, {"type": "Dense"}]}}


def error(sets: dict) -> str:
    raw = copy.deepcopy(BASE)
    for key, value in sets.items():
        set_dotted(raw, key, value)
    with pytest.raises(ConfigError) as exc:
        from_dict(raw)
    return str(exc.value)


def msg(key, expected, got, hint=""):
    return f"The '{key}' parameter must be {expected}. Got {got!r} instead." + (f" {hint}" if hint else "")


# ----------------------------------------------------------------------------------- check kinds
@pytest.mark.parametrize("chk, good, bad, expected", [
    (ge(1), [1, 2, 10**9], [0, -1], "an int >= 1"),
    (ge(0, "a float"), [0, 0.0, 3.5], [-0.1], "a float >= 0"),
    (frac(), [0, 0.5, 0.999], [1, -0.01, 1.5], "a float in [0, 1)"),
    (frac(lo_open=True), [0.001, 0.5], [0, 1], "a float in (0, 1)"),
    (frac(hi_open=False), [0, 1], [1.01, -1], "a float in [0, 1]"),
    (frac(lo_open=True, hi_open=False), [1, 0.3], [0], "a float in (0, 1]"),
    (one_of("a", "b"), ["a", "b"], ["c", "A", ""], "one of 'a', 'b'"),
    (positive(), [1e-9, 3], [0, -2], "a float > 0"),
])
def test_each_check_kind_accepts_and_rejects(chk, good, bad, expected):
    assert chk.expected == expected
    for v in good:
        chk.verify("k", v)
    for v in bad:
        with pytest.raises(ConfigError) as exc:
            chk.verify("k", v)
        assert str(exc.value) == msg("k", expected, v)


def test_unset_passes_unless_required_and_hints_are_added():
    ge(1).verify("k", None)
    with pytest.raises(ConfigError) as exc:
        required(ge(1), "Set it.").verify("k", None)
    assert str(exc.value) == msg("k", "an int >= 1", None, "Set it.")
    with pytest.raises(ConfigError) as exc:
        hinted(one_of("x"), lambda v: f"Not {v}.").verify("k", "y", shown="Y")
    assert str(exc.value) == msg("k", "one of 'x'", "Y", "Not y.")


@pytest.mark.parametrize("sets, message", [
    ({"text.maxlen": 0}, msg("text.maxlen", "an int >= 1", 0)),
    ({"seed": -1.0}, msg("seed", "an int in [0, 4294967295]", -1.0)),  # the message shows the value as written
    ({"data.validation_split": 0}, msg("data.validation_split", "a float in (0, 1)", 0)),
    ({"data.validation_split": 1.0}, msg("data.validation_split", "a float in (0, 1)", 1.0)),
    ({"fit.early_stopping.min_delta": -0.5}, msg("fit.early_stopping.min_delta", "a float >= 0", -0.5)),
    ({"compile.learning_rate": 0}, msg("compile.learning_rate", "a float > 0", 0)),
    ({"model.baseline.c": -1}, msg("model.baseline.c", "a float > 0", -1)),
    ({"fit.device": "gpu"}, msg("fit.device", "one of 'auto', 'cpu', 'cuda'", "gpu")),
    ({"compile.optimizer": "Adam"}, msg("compile.optimizer", "one of 'sgd', 'rmsprop', 'adam', 'adamw', 'adagrad', "
                                        "'adadelta', 'nadam', 'adamax'", "Adam")),
    ({"text.split": "ab"}, msg("text.split", "a single character", "ab")),
    ({"text.split": ""}, msg("text.split", "a single character", "")),
])
def test_constraint_messages_of_config_keys(sets, message):
    assert error(sets) == message


# ----------------------------------------------------------------------------------- coercion
@pytest.mark.parametrize("sets, message", [
    ({"fit.shuffle": 1}, msg("fit.shuffle", "true or false", 1)),
    ({"fit.shuffle": "true"}, msg("fit.shuffle", "true or false", "true")),
    ({"fit.epochs": True}, msg("fit.epochs", "an int", True)),
    ({"fit.epochs": 2.5}, msg("fit.epochs", "an int", 2.5)),
    ({"fit.epochs": "3"}, msg("fit.epochs", "an int", "3")),
    ({"compile.clipnorm": True}, msg("compile.clipnorm", "a number", True)),
    ({"compile.clipnorm": float("nan")}, msg("compile.clipnorm", "a finite number", float("nan"))),
    ({"compile.clipnorm": float("-inf")}, msg("compile.clipnorm", "a finite number", float("-inf"))),
    ({"data.text_column": 3}, msg("data.text_column", "a string", 3)),
    ({"data.label_columns": 3}, msg("data.label_columns", "a list", 3)),
    ({"data.label_columns": ["a", 1]}, msg("data.label_columns.1", "a string", 1)),
    ({"compile.optimizer_options": [1]}, msg("compile.optimizer_options", "a table", [1])),
    ({"model.baseline.word_ngrams": [1, "2"]}, msg("model.baseline.word_ngrams.1", "an int", "2")),
])
def test_wrong_types(sets, message):
    assert error(sets) == message


def test_integral_floats_are_ints_and_ints_are_floats():
    raw = copy.deepcopy(BASE)
    set_dotted(raw, "fit.epochs", 3.0)
    set_dotted(raw, "compile.learning_rate", 1)
    set_dotted(raw, "data.label_columns", "y")
    cfg = from_dict(raw)
    assert cfg.fit.epochs == 3 and type(cfg.fit.epochs) is int
    assert cfg.compile.learning_rate == 1.0 and type(cfg.compile.learning_rate) is float
    assert cfg.data.label_columns == ["y"]  # one string is a list of one


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False, min_value=-5, max_value=5)))
def test_int_coercion_matches_its_rule(v):
    if isinstance(v, float) and not v.is_integer():
        with pytest.raises(ConfigError):
            coerce(v, int, "k")
    else:
        got = coerce(v, int, "k")
        assert got == v and type(got) is int


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.booleans(), st.integers(), st.text(max_size=3), st.none(), st.floats()))
def test_bools_are_only_true_or_false(v):
    if isinstance(v, bool):
        assert coerce(v, bool, "k") is v
    else:
        with pytest.raises(ConfigError) as exc:
            coerce(v, bool, "k")
        assert str(exc.value) == msg("k", "true or false", v)


# ----------------------------------------------------------------------------------- unknown keys
def _sections():
    """(prefix, known keys) of every table of the schema."""
    out = []

    def walk(cls, prefix):
        names = [f.name for f in dataclasses.fields(cls)]
        out.append((prefix, names))
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(f.default_factory if f.default_factory is not dataclasses.MISSING else None):
                walk(f.default_factory, f"{prefix}.{f.name}" if prefix else f.name)
    walk(Config, "")
    return out


SECTIONS = _sections()


def test_every_table_is_walked():
    assert {p for p, _ in SECTIONS} == {"", "data", "text", "model", "model.embedding", "model.baseline", "compile",
                                        "fit", "fit.early_stopping", "fit.reduce_lr_on_plateau", "fit.checkpoint",
                                        "sweep", "track"}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(SECTIONS), st.data())
def test_a_misspelt_key_names_the_closest_one_at_every_level(section, data):
    prefix, names = section
    name = data.draw(st.sampled_from([n for n in names if len(n) >= 4]))
    typo = name[:-1] + ("q" if name[-1] != "q" else "z")  # one character off
    where = f"{prefix}." if prefix else ""
    raw = copy.deepcopy(BASE)
    if prefix:
        set_dotted(raw, f"{prefix}.{typo}", 1)
    else:
        raw[typo] = 1
    with pytest.raises(ConfigError) as exc:
        from_dict(raw)
    assert str(exc.value) == f"Unknown config key '{where}{typo}'. Did you mean '{where}{name}'?"


def test_an_unknown_key_without_a_close_one_lists_the_keys():
    assert error({"fit.early_stopping.zz": 1}) == (
        "Unknown config key 'fit.early_stopping.zz'. Known keys: enabled, monitor, mode, patience, min_delta, "
        "restore_best_weights.")
    assert error({"zzz": 1}) == ("Unknown config key 'zzz'. Known keys: name, seed, runs_dir, data, text, model, "
                                 "compile, fit, sweep, track.")


def test_a_section_that_is_not_a_table():
    assert error({"fit": 3}) == "'fit' must be a table (got 3)."
    assert error({"fit.early_stopping": "x"}) == "'fit.early_stopping' must be a table (got 'x')."
    with pytest.raises(ConfigError) as exc:
        typed_build(Config, [1])
    assert str(exc.value) == "'config' must be a table (got [1])."


def test_every_described_key_with_a_check_says_what_it_expects():
    rows = {k: doc for k, _, _, doc in describe_keys()}
    assert rows["text.maxlen"].endswith("(an int >= 1)")
    assert rows["fit.device"].endswith("(one of 'auto', 'cpu', 'cuda')")
    assert rows["fit.shuffle"] == "shuffle every epoch"  # no check, nothing added


# ----------------------------------------------------------------------------------- the builder
@dataclass
class Item:
    n: int

    @classmethod
    def from_raw(cls, raw, prefix):
        if not isinstance(raw, int):
            raise ConfigError(f"'{prefix}' must be a number here.")
        return cls(n=raw * 10)


@dataclass
class Box:
    size: int = option(1, ge(1), doc="how big")
    items: list[Item] = option(factory=list)
    inner: Item | None = option(None)
    label: str | None = option(None, one_of("a", "b"))


def test_the_builder_uses_from_raw_for_list_items_and_nested_dataclasses():
    box = typed_build(Box, {"size": 2.0, "items": [1, 2], "inner": 3}, "box")
    assert box == Box(size=2, items=[Item(10), Item(20)], inner=Item(30))
    with pytest.raises(ConfigError) as exc:
        typed_build(Box, {"items": [1, "x"]}, "box")
    assert str(exc.value) == "'box.items.1' must be a number here."


def test_the_builder_checks_keys_then_types_then_constraints():
    assert typed_build(Box, {}, "") == Box()
    with pytest.raises(ConfigError, match=r"^Unknown config key 'box.sise'. Did you mean 'box.size'\?$"):
        typed_build(Box, {"label": 3, "sise": 1}, "box")
    with pytest.raises(ConfigError) as exc:
        typed_build(Box, {"size": 0, "label": "c"}, "box")
    assert str(exc.value) == msg("box.size", "an int >= 1", 0)
    with pytest.raises(ConfigError) as exc:
        typed_build(Box, {"label": "c"}, "box")
    assert str(exc.value) == msg("box.label", "one of 'a', 'b'", "c")
