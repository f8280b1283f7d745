"""The tokenizer reproduces Keras 2's Tokenizer exactly (expected outputs made with the real
tf_keras Tokenizer by tests/fixtures/make_keras_expected.py)."""

import pytest
from hypothesis import given, settings, strategies as st

from helpers import keras_fixture
from rnnlab.errors import ConfigError
from rnnlab.text import Tokenizer, text_to_word_sequence

FIX = keras_fixture("tokenizer")


def _tok(case):
    kwargs = dict(case["kwargs"])
    return Tokenizer(**kwargs).fit_on_texts(case["fit_texts"])


@pytest.mark.parametrize("case", FIX["cases"], ids=[c["name"] for c in FIX["cases"]])
def test_word_index_and_counts_match_keras(case):
    tok = _tok(case)
    assert tok.word_index == case["word_index"]
    assert list(tok.word_index) == list(case["word_index"])  # same order: by count, ties by first appearance
    assert [[w, c] for w, c in tok.word_counts.items()] == case["word_counts"]
    assert tok.document_count == case["document_count"]


@pytest.mark.parametrize("case", FIX["cases"], ids=[c["name"] for c in FIX["cases"]])
def test_sequences_match_keras(case):
    tok = _tok(case)
    assert tok.texts_to_sequences(case["transform_texts"]) == case["sequences"]


@pytest.mark.parametrize("case", FIX["cases"], ids=[c["name"] for c in FIX["cases"]])
def test_saved_tokenizer_encodes_the_same(case):
    tok = _tok(case)
    again = Tokenizer.from_dict(tok.to_dict())
    assert again.texts_to_sequences(case["transform_texts"]) == case["sequences"]


def test_default_filters_are_keras():
    assert Tokenizer().filters == FIX["default_filters"]


def test_text_to_word_sequence_keeps_apostrophes_and_splits_on_filters():
    assert text_to_word_sequence("Don't STOP!Now\tgo") == ["don't", "stop", "now", "go"]


def test_fit_then_fit_accumulates_like_keras():
    a = Tokenizer().fit_on_texts(["b a", "a"]).fit_on_texts(["b b"])
    assert a.word_index == {"b": 1, "a": 2}
    assert a.document_count == 3


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_num_words_is_validated(bad):
    with pytest.raises(ConfigError, match="num_words"):
        Tokenizer(num_words=bad)


def test_split_must_be_one_character():
    with pytest.raises(ConfigError, match="single character"):
        Tokenizer(split="  ")


def test_imported_vocabulary_maps_unknown_and_rare_words_to_oov():
    tok = Tokenizer.from_word_index({"the": 4, "film": 5, "rare": 900}, num_words=10, start_index=1, oov_index=2)
    assert tok.texts_to_sequences(["The film, rare! zebra", ""]) == [[1, 4, 5, 2, 2], [1]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=8), st.text(max_size=60))
def test_fuzz_encode_agrees_with_the_reference_definition(fit, text):
    """Property: ids are exactly Keras's rule applied to text_to_word_sequence."""
    tok = Tokenizer(num_words=7, oov_token="<OOV>").fit_on_texts(fit)
    expected = []
    for w in text_to_word_sequence(text):
        i = tok.word_index.get(w)
        expected.append(i if i is not None and i < 7 else tok.word_index["<OOV>"])
    assert tok.texts_to_sequences([text]) == [expected]
