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


# -- the vectorized engine (default for >= 32 texts) against the Python reference ------------------

TRICKY = [
    "", "   ", "!!!", "...\t\n", "Hello, World! hello\tworld\nHELLO", "a\rb c\r\nd", "tab\tsep\ttext",
    "İstanbul İİ ΣΑΣ ὈΔΥΣΣΕΎΣ straße STRASSE ﬁne ǅemal Ǆ", "non\u00a0breaking\u2003em\u3000ideographic",
    "KELVIN \u212a sign", "emoji 😀😀 and ZWJ 👩\u200d💻", "x" * 300, "don't won't ain't 'quoted'",
    "mixed CASE Words AND ascii ONLY", "ÀÉÎÕÜ àéîõü", "dots...and---dashes___under", "\x00nul\x00byte",
    "trailing space ", " leading space", "many     spaces", "中文 文本 没有 空格", "ΣΊΣΥΦΟΣ Σ ς σ",
    "abcdefgh abcdefghi abcdefghj abcdefg abcdefgh\x00 abcdefghij abcdefghi",  # the first 8 bytes alike
]
ENGINES = ("vectorized", "python")


@pytest.fixture(params=["compiled", "arrow"], scope="module", autouse=True)
def kernel(request):
    """Every test runs twice: the vectorized engine with the compiled word counter
    (split_count.c) and with Arrow's split + dictionary_encode (no C compiler, RNNLAB_COMPILE=off)."""
    import rnnlab.text.tokenizer as tk

    saved = dict(tk._native)
    if request.param == "compiled":
        if tk._split_count() is None:
            pytest.skip(f"the compiled word counter cannot be built here: {tk._native.get('reason')}")
    else:
        tk._native.clear()
        tk._native["lib"] = None
    yield request.param
    tk._native.clear()
    tk._native.update(saved)


def test_compile_off_uses_arrow(monkeypatch):
    import rnnlab.text.tokenizer as tk

    monkeypatch.setattr(tk, "_native", {})
    monkeypatch.setenv("RNNLAB_COMPILE", "off")
    assert tk._split_count() is None
    tok = Tokenizer()
    tok.engine = "vectorized"
    assert tok.fit_on_texts(["b a", "a"]).word_index == {"a": 1, "b": 2}


def _both(kwargs, fit, transform=None):
    out = []
    for engine in ENGINES:
        tok = Tokenizer(**kwargs)
        tok.engine = engine
        tok.fit_on_texts(fit)
        seqs = tok.encode(transform if transform is not None else fit)
        out.append((list(tok.word_index.items()), list(tok.word_counts.items()), tok.document_count,
                    seqs.flat.tolist(), seqs.offsets.tolist()))
    return out


@pytest.mark.parametrize("kwargs", [
    {}, {"lower": False}, {"num_words": 5}, {"oov_token": "<OOV>"}, {"num_words": 4, "oov_token": "<unk>"},
    {"filters": ""}, {"filters": "aeiou", "split": "x"}, {"split": "\t"}, {"filters": "!?", "lower": False},
    {"split": "A"}, {"filters": "A", "split": "b"}, {"split": "\r"},
], ids=repr)
def test_vectorized_engine_equals_reference_on_tricky_texts(kwargs):
    fit = TRICKY * 3  # >= 32 texts
    transform = TRICKY[::-1] + ["unseen words here", "HELLO unseen"]
    vec, ref = _both(kwargs, fit, transform)
    assert vec == ref


def test_vectorized_engine_handles_many_chunks(monkeypatch):
    import rnnlab.text.tokenizer as tk

    monkeypatch.setattr(tk, "CHUNK_BYTES", 64)  # dozens of chunks, merged in order
    texts = [f"w{i % 7} Word{i % 13}, x{i}! İ{i % 3}" for i in range(300)] + TRICKY
    vec, ref = _both({"num_words": 20, "oov_token": "?"}, texts)
    assert vec == ref


def test_vectorized_engine_accumulates_fits_like_the_reference():
    a = [f"a{i % 5} b{i % 3}" for i in range(40)]
    b = [f"c{i % 4} a{i % 9}" for i in range(40)]
    results = []
    for engine in ENGINES:
        tok = Tokenizer()
        tok.engine = engine
        tok.fit_on_texts(a).fit_on_texts(b)
        results.append((list(tok.word_index.items()), list(tok.word_counts.items()), tok.encode(a + b).flat.tolist()))
    assert results[0] == results[1]


def test_vectorized_engine_on_imported_vocabulary():
    kw = dict(num_words=10, start_index=1, oov_index=2, skip_top=5)
    texts = ["The film, rare! zebra", "", "the THE film"] * 20
    seqs = []
    for engine in ENGINES:
        tok = Tokenizer.from_word_index({"the": 4, "film": 5, "rare": 900}, **kw)
        tok.engine = engine
        seqs.append(tok.texts_to_sequences(texts))
    assert seqs[0] == seqs[1]
    assert seqs[0][:3] == [[1, 2, 5, 2, 2], [1], [1, 2, 2, 5]]


def test_lone_surrogates_and_non_strings_fall_back_to_the_reference():
    texts = ["ok text", "bad \ud800 surrogate"] * 20
    vec, ref = _both({}, texts)
    assert vec == ref
    tok = Tokenizer()
    tok.engine = "vectorized"
    with pytest.raises(AttributeError):  # the reference's error, as before
        tok.fit_on_texts(["a"] * 40 + [None])


def test_non_ascii_filters_use_the_reference_engine():
    vec, ref = _both({"filters": "é!", "split": " "}, ["café! crème é"] * 40)
    assert vec == ref


def test_unknown_engine_is_an_error():
    tok = Tokenizer()
    tok.engine = "rust"
    with pytest.raises(ConfigError, match="engine"):
        tok.fit_on_texts(["a"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("aAbBéÉİΣς \t\n\r.,!'\u00a0x")) | st.characters(
    blacklist_categories=("Cs",)), max_size=40), min_size=0, max_size=40),
       st.sampled_from([{}, {"lower": False}, {"num_words": 3, "oov_token": "<OOV>"}, {"split": ","}]))
def test_fuzz_vectorized_engine_equals_reference(texts, kwargs):
    vec, ref = _both(kwargs, texts, texts[::-1])
    assert vec == ref


@settings(max_examples=120, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("aBz \t\n\r\x0b\x0c\x1c\x85\u2028.!,'é") + ["ǅ", "İ"]),
                        max_size=30), min_size=0, max_size=45),
       st.sampled_from([{}, {"filters": ""}, {"split": "\r"}, {"split": "\x0b", "filters": "\t"},
                        {"split": ",", "filters": " "}, {"filters": "\n\r", "lower": False}, {"split": "a"}]))
def test_fuzz_vectorized_split_on_ascii_whitespace_equals_reference(texts, kwargs):
    # the vectorized engine splits with Arrow's ascii_split_whitespace (bytes 9-13 and 32): every
    # one of them that is not a separator must stay inside its word, whatever filters and split say
    vec, ref = _both(kwargs, texts, texts[::-1] + ["\x0b\x0c\r word\r\x0c"])
    assert vec == ref


def test_vectorized_lookup_builds_the_vocabulary_keys_once_and_follows_a_new_word_index(monkeypatch):
    # serve and Run.predict encode small batches over and over: the Arrow keys of a 40k-word
    # vocabulary must not be rebuilt on every call (it cost ~80 ms a call), yet a refitted or
    # replaced word_index must be seen at once.
    import pyarrow as pa

    tok = Tokenizer()
    tok.engine = "vectorized"
    tok.fit_on_texts(["the cat sat", "the dog ran far"])
    built = []
    real = pa.array
    monkeypatch.setattr(pa, "array", lambda *a, **k: (built.append(1), real(*a, **k))[1])
    texts = ["the cat ran"] * 40
    first = tok.encode(texts).to_lists()
    n = len(built)
    assert tok.encode(texts).to_lists() == first and len(built) == n  # no rebuild
    tok.fit_on_texts(["cat cat cat cat cat"])  # "cat" becomes word 1
    assert tok.encode(["cat"]).to_lists() == [[1]]
    tok.word_index = {"ran": 1}
    assert tok.encode(texts[:1] * 40).to_lists()[0] == [1]


# ------------------------------------------------------------- encoding with the compiled table
VOCAB_WORDS = st.text(alphabet=st.sampled_from(list("aAbB .,!\t\r\x0b'é") + ["İ", "ς", "中"]), max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(VOCAB_WORDS, st.integers(1, 30), max_size=25),
       st.lists(st.text(alphabet=st.sampled_from(list("aAbB .,!\t\r\x0b'é\n") + ["İ", "ς", "中"]), max_size=30),
                max_size=12),
       st.sampled_from([{}, {"lower": False}, {"num_words": 9, "oov_index": 2}, {"split": "\t", "filters": ""},
                        {"filters": "", "lower": False}, {"start_index": 1, "skip_top": 3}]))
def test_fuzz_small_batches_on_any_vocabulary_equal_the_reference(word_index, texts, kwargs):
    # serve encodes a few texts at a time with the table of the run's vocabulary (auto engine);
    # an imported vocabulary may hold words no text can produce (upper case, filters, spaces)
    got = []
    for engine in ("auto", "python"):
        tok = Tokenizer.from_word_index(word_index, **kwargs)
        tok.engine = engine
        got.append(tok.encode(texts).to_lists())
    assert got[0] == got[1]


def test_small_batches_use_the_compiled_table_when_it_can_be_built(kernel):
    import copy

    tok = Tokenizer(num_words=4, oov_token="?").fit_on_texts(["the cat sat", "the dog ran far", "the cat"])
    table = tok._compiled_table()
    assert (table is not None) == (kernel == "compiled")
    assert tok.encode(["the CAT ran", "zebra"]).to_lists() == [[2, 3, 1], [1]]
    twin = copy.deepcopy(tok)  # a copy builds its own table when it needs one
    del tok, table
    assert twin.encode(["the dog"]).to_lists() == [[2, 1]]
    tok = Tokenizer().fit_on_texts(["a b"])
    tok.engine = "python"
    assert tok._compiled_table() is None


def test_a_tokenizer_pickles_without_its_caches():
    import pickle

    tok = Tokenizer().fit_on_texts(["a b a"] * 40)
    tok.encode(["a b"] * 40)
    again = pickle.loads(pickle.dumps(tok))
    assert again.word_index == tok.word_index and again.encode(["b a"]).to_lists() == [[2, 1]]


@settings(max_examples=200, deadline=None)
@given(fit=st.lists(st.text(max_size=30), max_size=8), texts=st.lists(st.text(max_size=30), max_size=40),
       lower=st.booleans(), num_words=st.one_of(st.none(), st.integers(1, 12)),
       oov=st.one_of(st.none(), st.just("<oov>")))
def test_fuzz_char_level_tokens_are_the_characters(fit, texts, lower, num_words, oov):
    """Keras's char_level: every character of the (lower-cased) text is a token; filters and
    split are ignored, whatever the engine asked for; saved and loaded, it encodes the same."""
    tok = Tokenizer(char_level=True, lower=lower, num_words=num_words, oov_token=oov, filters="ab ", split="a")
    tok.engine = "vectorized"
    tok.fit_on_texts(fit)
    index, oov_index = tok.word_index, tok.oov_index
    want = []
    for text in texts:
        ids = [index.get(c, -1) for c in (text.lower() if lower else text)]
        ids = [i if i != -1 and (num_words is None or i < num_words) else oov_index for i in ids]
        want.append([i for i in ids if i is not None])
    assert tok.texts_to_sequences(texts) == want
    assert Tokenizer.from_dict(tok.to_dict()).texts_to_sequences(texts) == want
    assert not tok.compiled


def test_a_saved_tokenizer_keeps_its_oov_token_when_num_words_leaves_it_out():
    """Keras gives unknown words the OOV index even when it is not below num_words; the saved
    tokenizer used to drop the token with the words past num_words, and with it the OOV index."""
    tok = Tokenizer(num_words=1, oov_token="<oov>").fit_on_texts(["a b"])
    assert tok.texts_to_sequences(["a zebra"]) == [[1, 1]]
    assert Tokenizer.from_dict(tok.to_dict()).texts_to_sequences(["a zebra"]) == [[1, 1]]
