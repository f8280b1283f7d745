"""fit.threads: 'auto' (the default) or a count >= 1; anything else is the one-line parameter error."""

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import toy_config
from rnnlab.config import from_dict
from rnnlab.errors import ConfigError

BASE = toy_config(Path("toy.csv"), Path("runs"))
MESSAGE = "The 'fit.threads' parameter must be 'auto' or an int >= 1. Got "


def threads(value):
    return from_dict({**BASE, "fit": {"threads": value}}).fit.threads


def test_auto_is_the_default_and_survives_the_round_trip():
    cfg = from_dict(BASE)
    assert cfg.fit.threads == "auto"
    assert 'threads = "auto"' in cfg.to_toml()
    assert cfg.replace(["fit.threads=2"]).fit.threads == 2
    assert cfg.replace(["fit.threads=2"]).replace(["fit.threads=auto"]).fit.threads == "auto"


@pytest.mark.parametrize("value, expected", [("auto", "auto"), (1, 1), (2, 2), (64, 64), (3.0, 3), (None, "auto")])
def test_accepted_values(value, expected):
    assert threads(value) == expected


@pytest.mark.parametrize("value, hint", [
    (0, ""), (-1, ""), (2.5, ""), (True, ""), (False, ""), ("4", ""), ("all", ""), ([2], ""), ({}, ""),
    (math.nan, ""), (math.inf, ""), ("Auto", " Did you mean 'auto'?"), ("atuo", " Did you mean 'auto'?"),
])
def test_bad_values_give_one_line(value, hint):
    with pytest.raises(ConfigError) as e:
        threads(value)
    assert str(e.value) == f"{MESSAGE}{value!r} instead.{hint}"


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(max_value=0), st.floats().filter(lambda f: not (f.is_integer() and f >= 1)),
                 st.text().filter(lambda s: s != "auto"), st.booleans(), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
def test_any_other_value_is_refused_in_one_line(value):
    with pytest.raises(ConfigError) as e:
        threads(value)
    msg = str(e.value)
    assert msg.startswith(MESSAGE) and " instead." in msg and "\n" not in msg
