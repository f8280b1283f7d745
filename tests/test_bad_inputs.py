"""The bad inputs of docs/bad-inputs.md that no module test covers on its own: very long
texts, fuzzed JSONL, odd texts through the tokenizer, and the readers used for scoring."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import rnnlab
from helpers import toy_config, write_toy_csv
from rnnlab.data.tables import read_frame
from rnnlab.errors import DataError
from rnnlab.use.predict import iter_chunks
from rnnlab.text import Tokenizer


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    return rnnlab.train(toy_config(write_toy_csv(tmp / "toy.csv"), tmp / "runs"))


def test_a_one_megabyte_text_is_scored(run):
    text = ("good " * 200_000)[:1_000_000]
    p = run.predict([text, "bad"])
    assert p.shape == (2, 1) and np.isfinite(p).all() and p[0, 0] > 0.5


def test_none_and_nan_texts_score_like_empty_ones(tmp_path, run):
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": null}\n{"id": "b", "text": ""}\n{"id": "c", "text": NaN}\n')
    ids, texts = next(iter_chunks(tmp_path / "in.jsonl", "text"))
    assert ids == ["a", "b", "c"] and texts == ["", "", ""]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                           | st.text(max_size=20),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                           max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(json_values, max_size=6), st.binary(max_size=40))
def test_fuzzed_jsonl_loads_or_is_a_data_error(tmp_path, values, junk):
    body = "\n".join(json.dumps(v) for v in values).encode() + b"\n" + junk
    path = tmp_path / "f.jsonl"
    path.write_bytes(body)
    try:
        read_frame(path)
    except DataError:
        pass
    try:
        for _ in iter_chunks(path, "text", chunk_rows=2):
            pass
    except DataError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=200), min_size=1, max_size=5))
def test_fuzzed_texts_never_break_the_tokenizer_or_the_model(run, texts):
    tok = Tokenizer(oov_token="<OOV>").fit_on_texts(texts)
    seqs = tok.encode(texts)
    assert len(seqs) == len(texts) and (seqs.flat >= 1).all()
    p = run.predict(texts)
    assert p.shape == (len(texts), 1) and np.isfinite(p).all()
