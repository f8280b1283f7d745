"""pad_sequences follows Keras; Sequences slices, truncates and pads without Python lists."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from helpers import keras_fixture
from rnnlab.errors import ConfigError
from rnnlab.text import Sequences, pad_sequences

FIX = keras_fixture("tokenizer")["pad_sequences"]


@pytest.mark.parametrize("case", FIX, ids=[str(i) for i in range(len(FIX))])
def test_pad_sequences_matches_keras(case):
    out = pad_sequences(case["sequences"], **case["kwargs"])
    assert list(out.shape) == case["output_shape"]
    assert out.tolist() == case["output"]


@pytest.mark.parametrize("kwargs,key", [({"padding": "middle"}, "padding"), ({"truncating": "x"}, "truncating"),
                                        ({"maxlen": 0}, "maxlen")])
def test_bad_arguments_are_clear_errors(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        pad_sequences([[1, 2]], **kwargs)


seqs = st.lists(st.lists(st.integers(1, 50), max_size=12), min_size=1, max_size=20)


@settings(max_examples=150, deadline=None)
@given(seqs, st.integers(1, 15), st.sampled_from(["pre", "post"]), st.sampled_from(["pre", "post"]))
def test_vectorised_pad_equals_a_plain_python_reference(lists, maxlen, padding, truncating):
    def ref(s):
        s = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        pad = [0] * (maxlen - len(s))
        return pad + s if padding == "pre" else s + pad

    out = pad_sequences(lists, maxlen=maxlen, padding=padding, truncating=truncating)
    assert out.tolist() == [ref(s) for s in lists]


@settings(max_examples=100, deadline=None)
@given(seqs, st.data())
def test_take_and_lengths(lists, data):
    s = Sequences.from_lists(lists)
    idx = data.draw(st.lists(st.integers(0, len(lists) - 1), max_size=10))
    assert s.take(np.array(idx, dtype=np.int64)).to_lists() == [lists[i] for i in idx]
    assert s.lengths.tolist() == [len(x) for x in lists]
    assert s.flat.dtype == np.int32


@settings(max_examples=200, deadline=None)
@given(seqs, st.data(), st.sampled_from(["pre", "post"]), st.integers(-2, 3))
def test_pad_of_chosen_rows_keeps_their_last_tokens(lists, data, padding, value):
    """Sequences.pad (the batch path): any rows, any width; a row longer than the width keeps its
    last tokens, whichever side the padding goes."""
    s = Sequences.from_lists(lists)
    idx = data.draw(st.lists(st.integers(0, len(lists) - 1), max_size=10))
    width = data.draw(st.one_of(st.none(), st.integers(0, 14)))
    want_width = max((len(lists[i]) for i in idx), default=0) if width is None else width

    def ref(row):
        row = row[len(row) - want_width:] if len(row) > want_width else row
        pad = [value] * (want_width - len(row))
        return pad + row if padding == "pre" else row + pad

    out = s.pad(np.array(idx, dtype=np.int64), length=width, padding=padding, value=value)
    assert out.dtype == np.int64 and out.shape == (len(idx), want_width)
    assert out.tolist() == [ref(lists[i]) for i in idx]
