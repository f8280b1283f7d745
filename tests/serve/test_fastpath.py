"""The fast path of POST /v1/predict (rnnlab.use.serve.fastpath) accepts exactly a subset of
what the route's pydantic request model accepts, with the same texts; the rest goes to the
route, whose error answers tests/serve/test_app.py checks."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'rnnlab[serve]')")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from rnnlab.use.serve import Limits  # noqa: E402
from rnnlab.use.serve.fastpath import json_content_type, valid_texts  # noqa: E402
from rnnlab.use.serve.schemas import request_model  # noqa: E402

LIMITS = Limits(max_texts=4, max_chars=6)
MODEL = request_model(LIMITS)
texts = st.text(max_size=8)
values = st.one_of(texts, st.integers(), st.floats(allow_nan=False), st.none(), st.booleans(),
                   st.lists(texts, max_size=2))
bodies = st.one_of(
    st.fixed_dictionaries({"texts": st.lists(st.one_of(texts, values), max_size=6)}),
    st.dictionaries(st.sampled_from(["texts", "text", "labels"]), st.one_of(values, st.lists(texts, max_size=6)),
                    max_size=3),
    st.lists(texts, max_size=3), values)


def route_texts(body: bytes):
    """What the route's validation makes of ``body`` (json.loads, then the pydantic model)."""
    try:
        return MODEL.model_validate(json.loads(body)).texts
    except (ValueError, ValidationError):
        return None


@settings(max_examples=150, deadline=None)
@given(bodies)
def test_fast_path_accepts_only_what_the_route_accepts_with_the_same_texts(obj):
    body = json.dumps(obj, ensure_ascii=False).encode()
    fast = valid_texts(body, LIMITS.max_texts, LIMITS.max_chars)
    if fast is not None:
        assert route_texts(body) == fast
    elif route_texts(body) is not None:  # only bodies orjson refuses may fall back while valid
        pytest.fail(f"a valid body left the fast path: {body!r}")


@pytest.mark.parametrize("body", [b'{"texts": ["\\ud800"]}', b'\xef\xbb\xbf{"texts": []}', b'{"texts": [NaN]}',
                                  b'{"texts": ["a"', b'{"texts": ["a"], "x": 1}', b'{"texts": "a"}',
                                  b'{"texts": ["a", "b", "c", "d", "e"]}', b'{"texts": ["seven!!"]}', b"[]"])
def test_what_the_route_must_answer_leaves_the_fast_path(body):
    assert valid_texts(body, LIMITS.max_texts, LIMITS.max_chars) is None


def test_limits_count_characters_not_bytes():
    assert valid_texts(json.dumps({"texts": ["é" * 6]}).encode(), 4, 6) == ["é" * 6]


@pytest.mark.parametrize("headers, json_body", [
    ([], True), ([(b"content-type", b"application/json")], True),
    ([(b"Content-Type", b"Application/JSON; charset=utf-8")], True),
    ([(b"content-type", b"text/plain")], False), ([(b"content-type", b"application/x-www-form-urlencoded")], False),
    ([(b"content-type", b"application/problem+json")], False)])
def test_only_json_bodies_take_the_fast_path(headers, json_body):
    assert json_content_type(headers) is json_body
