"""``rnnlab serve``, observed and explained: ``GET /metrics`` (Prometheus) counts what traffic
did, ``GET /v1/ready`` answers 503 until the warm-up is done, and ``POST /v1/explain`` keeps
its own (smaller) limits and the API key."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'rnnlab[serve]')")
pytest.importorskip("prometheus_client", reason="prometheus-client is not installed (pip install 'rnnlab[serve]')")
pytest.importorskip("captum", reason="captum is not installed (pip install 'rnnlab[explain]')")
httpx = pytest.importorskip("httpx", reason="httpx is not installed (pip install 'rnnlab[test]')")

from helpers import toy_config, write_toy_csv  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

import rnnlab  # noqa: E402
from rnnlab.use.explain import explain_texts  # noqa: E402
from rnnlab.use.serve import Limits, create_app  # noqa: E402
from rnnlab.use.serve import app as app_module  # noqa: E402

KEY = "observe-key-0123456789"
LIMITS = Limits(max_texts=4, max_chars=100, explain_max_texts=2, explain_max_chars=30, explain_steps=16)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("observe")
    data = write_toy_csv(tmp / "toy.csv", n=160, multilabel=True)
    rnn = rnnlab.train(toy_config(data, tmp / "runs", name="gru", fit__epochs=1, fit__threads=1,
                                  data__label_columns=["pos", "loud"]))
    base = toy_config(data, tmp / "runs", name="tfidf")
    base["model"] = {"type": "tfidf_lr", "baseline": {"word_max_features": 300, "char_max_features": 300}}
    return {"rnn": rnn, "baseline": rnnlab.train(base)}


def call(app, method: str, path: str, **kw) -> "httpx.Response":
    """One request to the ASGI app."""
    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve.test") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


def assert_error(response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    for word in words:
        assert word in error["message"], (word, error["message"])


def _ready(app) -> None:
    for _ in range(200):
        if call(app, "GET", "/v1/ready").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError("never ready")


def scrape(app) -> dict[tuple, float]:
    """(sample name, sorted labels) -> value of every sample /metrics shows."""
    r = call(app, "GET", "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def moved(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_count_requests_latency_batches_and_queue_waits(runs):
    app = create_app(runs["rnn"].dir, LIMITS, api_key="")
    _ready(app)
    before = scrape(app)
    assert before[("rnnlab_model_load_seconds", ())] > 0 and before[("rnnlab_ready", ())] == 1
    for texts in (["good", "awful w1", "fine"], ["w2 w3"]):
        assert call(app, "POST", "/v1/predict", json={"texts": texts}).status_code == 200
    assert call(app, "POST", "/v1/predict", json={"texts": ["x"] * 5}).status_code == 413
    assert call(app, "GET", "/no/such/path").status_code == 404
    assert call(app, "POST", "/v1/explain", json={"texts": ["good fine"]}).status_code == 200
    after = scrape(app)
    ok = {"route": "/v1/predict", "method": "POST", "status": "200"}
    assert moved(before, after, "rnnlab_http_requests_total", **ok) == 2
    assert moved(before, after, "rnnlab_http_requests_total", route="/v1/predict", method="POST", status="413") == 1
    assert moved(before, after, "rnnlab_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert moved(before, after, "rnnlab_http_requests_total", route="/v1/explain", method="POST", status="200") == 1
    assert moved(before, after, "rnnlab_http_request_duration_seconds_count", **ok) == 2
    assert moved(before, after, "rnnlab_http_request_duration_seconds_sum", **ok) > 0
    assert moved(before, after, "rnnlab_http_request_duration_seconds_bucket", le="+Inf", **ok) == 2
    # sequential requests: one model call each, of 3 and 1 texts (the warm-up is not counted)
    assert moved(before, after, "rnnlab_batch_size_count") == 2
    assert moved(before, after, "rnnlab_batch_size_sum") == 4
    assert moved(before, after, "rnnlab_batch_size_bucket", le="2.0") == 1
    assert moved(before, after, "rnnlab_batch_queue_wait_seconds_count") == 2
    assert moved(before, after, "rnnlab_explain_texts_total") == 1
    # the scrape before this one was itself counted
    assert moved(before, after, "rnnlab_http_requests_total", route="/metrics", method="GET", status="200") == 1


def test_ready_is_503_until_the_warm_up_is_done_health_stays_200(runs, monkeypatch):
    release = threading.Event()
    real = app_module._warm_up

    def slow(batcher, limits):
        release.wait(30)
        real(batcher, limits)

    monkeypatch.setattr(app_module, "_warm_up", slow)
    app = create_app(runs["rnn"], LIMITS, api_key="")
    r = call(app, "GET", "/v1/ready")
    assert r.status_code == 503 and r.json() == {"status": "warming_up"}
    assert call(app, "GET", "/v1/health").json() == {"status": "ok"}
    assert scrape(app)[("rnnlab_ready", ())] == 0
    release.set()
    _ready(app)
    assert call(app, "GET", "/v1/ready").json() == {"status": "ready"}


def test_probes_and_metrics_need_no_key_explain_does(runs):
    app = create_app(runs["rnn"], LIMITS, api_key=KEY)
    _ready(app)
    for path in ("/metrics", "/v1/ready", "/v1/health"):
        assert call(app, "GET", path).status_code == 200, path
    assert_error(call(app, "POST", "/v1/explain", json={"texts": ["good"]}), 401, "unauthorized")
    r = call(app, "POST", "/v1/explain", json={"texts": ["good"]}, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 200
    spec = call(app, "GET", "/openapi.json").json()
    assert {"/v1/explain", "/v1/ready"} <= set(spec["paths"]) and "/metrics" not in spec["paths"]
    assert spec["paths"]["/v1/explain"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in spec["paths"]["/v1/ready"]["get"]


def test_explain_answers_as_the_library_under_its_own_limits(runs):
    run = runs["rnn"]
    app = create_app(run, LIMITS, api_key="")
    r = call(app, "POST", "/v1/explain", json={"texts": ["good great w1", ""], "labels": ["pos"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["labels"] == ["pos"] and len(body["explanations"]) == 2
    expected = explain_texts(run, ["good great w1"], ["pos"], n_steps=LIMITS.explain_steps)[0]
    got = body["explanations"][0]
    assert got["tokens"] == expected.tokens == ["good", "great", "w1"] and got["explains"] == "output"
    assert got["attributions"]["pos"] == pytest.approx(expected.attributions["pos"], rel=1e-4, abs=1e-7)
    predicted = call(app, "POST", "/v1/predict", json={"texts": ["good great w1"]}).json()
    assert got["outputs"]["pos"] == pytest.approx(predicted["predictions"][0]["probabilities"]["pos"], abs=1e-6)
    assert body["explanations"][1]["tokens"] == []
    # the explain limits, not predict's: 3 texts pass /v1/predict (max_texts=4), not /v1/explain (2)
    assert call(app, "POST", "/v1/predict", json={"texts": ["a", "b", "c"]}).status_code == 200
    assert_error(call(app, "POST", "/v1/explain", json={"texts": ["a", "b", "c"]}), 413, "too_many_texts",
                 "explain_max_texts=2")
    assert_error(call(app, "POST", "/v1/explain", json={"texts": ["w" * 31]}), 422, "text_too_long",
                 "texts[0]", "explain_max_chars=30")
    assert_error(call(app, "POST", "/v1/explain", json={"texts": ["a"], "labels": ["nope"]}), 422,
                 "invalid_request", "labels[0]", "'pos' or 'loud'", '"nope"')
    assert_error(call(app, "POST", "/v1/explain", json={"texts": ["a"], "steps": 5}), 422, "invalid_request")


def test_a_linear_baseline_explains_its_ngrams_over_http(runs):
    app = create_app(runs["baseline"], LIMITS, api_key="")
    r = call(app, "POST", "/v1/explain", json={"texts": ["good great"]})
    assert r.status_code == 200, r.text
    e = r.json()["explanations"][0]
    assert e["explains"] == "score" and {"word", "char"} == set(e["kinds"]) and "good" in e["tokens"]
    assert sum(e["attributions"]["pos"]) + e["baseline"]["pos"] == pytest.approx(e["value"]["pos"], abs=1e-4)
