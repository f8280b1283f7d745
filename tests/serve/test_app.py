"""``rnnlab serve``: the FastAPI app on tiny runs trained here (an RNN, a linear baseline and a
multi-class baseline), called through httpx's ASGI transport; one test starts the real server."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'rnnlab[serve]')")
httpx = pytest.importorskip("httpx", reason="httpx is not installed (pip install 'rnnlab[test]')")

from helpers import run_cli, toy_config, write_toy_csv  # noqa: E402

import rnnlab  # noqa: E402
from rnnlab.errors import ConfigError, RunError  # noqa: E402
from rnnlab.use.serve import Limits, MicroBatcher, create_app  # noqa: E402

BASELINE = {"type": "tfidf_lr", "baseline": {"word_max_features": 500, "char_max_features": 500}}
TEXTS = ["Good great fine w1 w2", "awful boring w3 !!", "", "Très bien, génial 👍🏽 good", "w7 " * 40,
         "日本語のテキスト bad"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """name → run folder: a multi-label GRU, a tf-idf baseline (binary), a multi-class baseline."""
    tmp = tmp_path_factory.mktemp("serve")
    data = write_toy_csv(tmp / "toy.csv", multilabel=True)
    rnn = rnnlab.train(toy_config(data, tmp / "runs", name="toy_gru", fit__epochs=2,
                                  data__label_columns=["pos", "loud"]))
    base = toy_config(data, tmp / "runs", name="toy_tfidf")
    base["model"] = BASELINE
    classes = toy_config(data, tmp / "runs", name="toy_classes", data__task="multiclass")
    classes["model"] = BASELINE
    return {"rnn": rnn.dir, "baseline": rnnlab.train(base).dir, "multiclass": rnnlab.train(classes).dir}


@pytest.fixture(scope="module")
def app(runs):
    return create_app(runs["rnn"], api_key="")


def call(app, method: str, path: str, raise_errors: bool = True, **kw) -> httpx.Response:
    """One request to the ASGI app."""
    async def go():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_errors)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve.test") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


def assert_error(response, status: int, code: str, *words: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code, error
    for word in words:
        assert word in error["message"], (word, error["message"])
    return error["message"]


def probabilities(response) -> np.ndarray:
    body = response.json()
    return np.array([[p["probabilities"][label] for label in body["labels"]] for p in body["predictions"]])


# ---------------------------------------------------------------------------------- endpoints
def test_predict_equals_run_predict_with_labels_at_the_threshold(app, runs):
    run = rnnlab.load_run(runs["rnn"])
    r = call(app, "POST", "/v1/predict", json={"texts": TEXTS})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "toy_gru" and body["labels"] == ["pos", "loud"] and len(body["predictions"]) == len(TEXTS)
    expected = run.predict(TEXTS)
    np.testing.assert_allclose(probabilities(r), expected, rtol=0, atol=1e-6)
    for p in body["predictions"]:
        assert set(p) == {"probabilities", "labels"}
        assert p["labels"] == [label for label in ("pos", "loud") if p["probabilities"][label] >= 0.5]


def test_empty_text_is_scored_and_no_texts_is_an_empty_answer(app, runs):
    r = call(app, "POST", "/v1/predict", json={"texts": [""]})
    np.testing.assert_allclose(probabilities(r), rnnlab.load_run(runs["rnn"]).predict([""]), atol=1e-6)
    assert call(app, "POST", "/v1/predict", json={"texts": []}).json()["predictions"] == []


def test_non_ascii_text_round_trips_as_utf8(app, runs):
    texts = ["😀😀 good", "naïve café — ‘quotes’", "\u0000nul and \t tabs"]
    r = call(app, "POST", "/v1/predict", content=json.dumps({"texts": texts}, ensure_ascii=False).encode(),
             headers={"content-type": "application/json; charset=utf-8"})
    np.testing.assert_allclose(probabilities(r), rnnlab.load_run(runs["rnn"]).predict(texts), atol=1e-6)


def test_a_one_megabyte_text_under_large_limits(runs):
    big = create_app(runs["rnn"], Limits(max_chars=2_000_000, max_body_bytes=3_000_000), api_key="")
    text = ("good w1 bad w2 " * 70_000)[:1_000_000]
    r = call(big, "POST", "/v1/predict", json={"texts": [text, "fine"]})
    assert r.status_code == 200, r.text[:300]
    np.testing.assert_allclose(probabilities(r), rnnlab.load_run(runs["rnn"]).predict([text, "fine"]), atol=1e-6)


def test_model_describes_the_run(app, runs):
    run = rnnlab.load_run(runs["rnn"])
    info = call(app, "GET", "/v1/model").json()
    val = run.metrics["validation"]
    assert info == {
        "model": "toy_gru", "task": "multilabel", "labels": ["pos", "loud"],
        "config_sha256": hashlib.sha256((runs["rnn"] / "config.toml").read_bytes()).hexdigest(),
        "vocab_size": run.vocab_size,
        "metrics": {"val_auc": val["auc"], "val_accuracy": val["accuracy"],
                    "val_majority_accuracy": val["majority_accuracy"]},
        "created_at": run.info["created_at"], "trained_with_rnnlab": run.info["rnnlab_version"],
        "rnnlab_version": rnnlab.__version__, "thresholds": {"pos": 0.5, "loud": 0.5}, "calibration": None,
        "limits": {"max_texts": 256, "max_chars": 20000, "max_body_bytes": 1000000, "batch_wait_ms": 1.0,
                   "max_batch": 512, "body_timeout_s": 30.0, "explain_max_texts": 16, "explain_max_chars": 2000,
                   "explain_steps": 32}}
    assert info["vocab_size"] > 0


def test_a_calibrated_run_serves_calibrated_probabilities_and_says_so(app, runs, tmp_path):
    from rnnlab.use.calibrate import fit_calibration, save_calibration

    folder = tmp_path / "calibrated"
    shutil.copytree(runs["rnn"], folder)
    save_calibration(rnnlab.load_run(folder), fit_calibration(rnnlab.load_run(folder), seed=1))
    run = rnnlab.load_run(folder)
    spec = run.calibration
    served = create_app(folder, api_key="")
    info = call(served, "GET", "/v1/model").json()
    assert info["calibration"] == {"method": "temperature", "softmax_temperature": None,
                                   "labels": {label: {"temperature": spec["labels"][label]["temperature"]}
                                              for label in ("pos", "loud")}}
    calibrated = probabilities(call(served, "POST", "/v1/predict", json={"texts": TEXTS}))
    np.testing.assert_allclose(calibrated, run.predict(TEXTS), rtol=0, atol=1e-6)
    raw = run.predict(TEXTS, raw=True)
    assert np.abs(calibrated - raw).max() > 1e-3  # the calibration moved the scores
    np.testing.assert_allclose(probabilities(call(app, "POST", "/v1/predict", json={"texts": TEXTS})), raw,
                               rtol=0, atol=1e-6)  # the uncalibrated original serves the raw outputs


def test_a_server_keeps_the_calibration_it_started_with(runs, tmp_path):
    """/v1/model names the calibration read at start; predictions follow it even when
    `rnnlab calibrate` writes calibration.json while the server runs (restart to apply it)."""
    from rnnlab.use.calibrate import fit_calibration, save_calibration

    folder = tmp_path / "live"
    shutil.copytree(runs["rnn"], folder)
    served = create_app(folder, api_key="")
    before = probabilities(call(served, "POST", "/v1/predict", json={"texts": TEXTS}))
    save_calibration(rnnlab.load_run(folder), fit_calibration(rnnlab.load_run(folder), seed=1))
    assert rnnlab.load_run(folder).calibration is not None
    assert call(served, "GET", "/v1/model").json()["calibration"] is None
    after = probabilities(call(served, "POST", "/v1/predict", json={"texts": TEXTS}))
    np.testing.assert_array_equal(after, before)
    restarted = probabilities(call(create_app(folder, api_key=""), "POST", "/v1/predict", json={"texts": TEXTS}))
    assert np.abs(restarted - before).max() > 1e-3


def test_health(app):
    r = call(app, "GET", "/v1/health")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


def test_baseline_run_is_served_the_same_way(runs):
    base = create_app(runs["baseline"], api_key="")
    run = rnnlab.load_run(runs["baseline"])
    r = call(base, "POST", "/v1/predict", json={"texts": TEXTS})
    assert r.json()["labels"] == ["pos"]
    np.testing.assert_allclose(probabilities(r), run.predict(TEXTS), atol=1e-6)
    info = call(base, "GET", "/v1/model").json()
    assert (info["model"], info["task"], info["vocab_size"]) == ("toy_tfidf", "binary", 0)


def test_multiclass_run_answers_the_argmax_class(runs):
    r = call(create_app(runs["multiclass"], api_key=""), "POST", "/v1/predict", json={"texts": TEXTS})
    body = r.json()
    assert body["labels"] == ["0", "1"]
    probs = probabilities(r)
    np.testing.assert_allclose(probs, rnnlab.load_run(runs["multiclass"]).predict(TEXTS), atol=1e-6)
    assert [p["label"] for p in body["predictions"]] == [body["labels"][k] for k in probs.argmax(1)]
    assert all(set(p) == {"probabilities", "label"} for p in body["predictions"])


def test_stored_thresholds_decide_the_labels(runs, monkeypatch):
    monkeypatch.setattr(rnnlab.Run, "thresholds", property(lambda self: {"pos": 0.0, "loud": 1.01}), raising=False)
    app = create_app(runs["rnn"], api_key="")
    predictions = call(app, "POST", "/v1/predict", json={"texts": TEXTS}).json()["predictions"]
    assert all(p["labels"] == ["pos"] for p in predictions)
    assert call(app, "GET", "/v1/model").json()["thresholds"] == {"pos": 0.0, "loud": 1.01}


@pytest.mark.parametrize("n_labels", [1, 6, 12, 13])
def test_labels_at_or_above_their_thresholds_per_text(n_labels):
    """The served `labels` of each text against the plain rule: every label whose probability is
    >= its threshold, in label order."""
    from types import SimpleNamespace

    from rnnlab.use.serve.app import _Predictions

    rng = np.random.default_rng(n_labels)
    labels = [f"l{j}" for j in range(n_labels)]
    cut = {label: float(np.float32(t)) for label, t in zip(labels, rng.uniform(0.2, 0.8, n_labels))}
    stub = SimpleNamespace(labels=labels, schema=SimpleNamespace(task="multilabel" if n_labels > 1 else "binary"),
                           thresholds=cut, predict=lambda texts: np.zeros((len(texts), n_labels), np.float32))
    outputs = rng.uniform(0, 1, (50, n_labels)).astype(np.float32)
    outputs[0] = [cut[label] for label in labels]  # exactly at the threshold: in
    outputs[1] = np.nan  # NaN: in no label
    got = _Predictions(stub)(outputs)
    for row, out in zip(outputs.astype(np.float64), got):
        assert out["labels"] == [label for label, v in zip(labels, row) if v >= cut[label]]
        assert list(out["probabilities"]) == labels
    assert got[0]["labels"] == labels and got[1]["labels"] == []


def test_a_model_without_one_output_per_label_is_refused(runs):
    run = rnnlab.load_run(runs["rnn"])
    run.predict = lambda texts, batch_size=1024: np.zeros((len(texts), 1), np.float32)
    with pytest.raises(RunError, match="1 output.* for 2 label"):
        create_app(run, api_key="")


# ---------------------------------------------------------------------------------- limits and errors
@pytest.fixture(scope="module")
def small(runs):
    return create_app(runs["rnn"], Limits(max_texts=3, max_chars=10, max_body_bytes=300), api_key="")


def test_too_many_texts_is_413(small):
    r = call(small, "POST", "/v1/predict", json={"texts": ["a"] * 4})
    assert_error(r, 413, "too_many_texts", "4 texts", "max_texts=3")


def test_a_text_too_long_is_422(small):
    r = call(small, "POST", "/v1/predict", json={"texts": ["ok", "x" * 11]})
    assert_error(r, 422, "text_too_long", "texts[1]", "11 characters", "max_chars=10")
    assert call(small, "POST", "/v1/predict", json={"texts": ["é" * 10]}).status_code == 200  # characters, not bytes


def test_a_body_too_large_by_its_content_length_is_413(small):
    r = call(small, "POST", "/v1/predict", json={"texts": [" " * 400]})
    assert_error(r, 413, "body_too_large", "max_body_bytes=300", "Content-Length")


@pytest.mark.parametrize("headers", [{"content-length": "20"}, {}], ids=["lying-content-length", "chunked"])
def test_a_body_too_large_by_the_bytes_received_is_413(small, headers):
    async def chunks():
        for _ in range(5):
            yield b'{"texts": ["' + b" " * 100

    body = chunks() if not headers else b'{"texts": ["' + b" " * 500 + b'"]}'
    r = call(small, "POST", "/v1/predict", content=body, headers={"content-type": "application/json", **headers})
    assert_error(r, 413, "body_too_large", "max_body_bytes=300", "received")


def test_a_content_length_that_is_no_number_is_400(small):
    r = call(small, "POST", "/v1/predict", content=b"{}", headers={"content-length": "ten"})
    assert_error(r, 400, "bad_request", "ten")


@pytest.mark.parametrize("body, where", [
    ({"texts": None}, "texts"), ({"texts": [1, 2]}, "texts[0]"), ({"texts": "one text"}, "texts"),
    ({"texts": [None]}, "texts[0]"), ({"texts": [["nested"]]}, "texts[0]"), ({"texts": [True]}, "texts[0]"),
    ({"text": ["typo"]}, "texts"), (["a list"], "the body"), (42, "the body"),
    ({"texts": ["a"], "threshold": 0.3}, "threshold"),
])
def test_wrong_types_are_422_naming_the_field(app, body, where):
    assert_error(call(app, "POST", "/v1/predict", json=body), 422, "invalid_request", where)


def test_malformed_json_is_422(app):
    r = call(app, "POST", "/v1/predict", content=b'{"texts": ["a"', headers={"content-type": "application/json"})
    assert_error(r, 422, "invalid_json", "not valid JSON")


def test_a_body_that_is_not_utf8_is_422(app):
    r = call(app, "POST", "/v1/predict", content=b'{"texts": ["caf\xe9"]}',
             headers={"content-type": "application/json"})
    assert_error(r, 422, "invalid_json", "not valid UTF-8", "0xe9", "position 15")


def test_a_form_post_is_422_asking_for_json(app):
    r = call(app, "POST", "/v1/predict", data={"texts": "a"})
    assert_error(r, 422, "invalid_request", "Content-Type: application/json", "x-www-form-urlencoded")


@pytest.mark.parametrize("body, where", [
    (b'{"texts": ["\\ud800"]}', "texts[0]"), (b'{"texts": ["ok", "a\\udfff b"]}', "texts[1]"),
    (b'{"texts": [1, "\\ud800"]}', "texts[1]"), (b'{"texts": ["a"], "\\ud800": 1}', ""),
    (b'{"texts": 5, "x": "\\ud800"}', "x"),
])
def test_lone_surrogates_are_422_and_never_echoed(app, body, where):
    r = call(app, "POST", "/v1/predict", content=body, headers={"content-type": "application/json"})
    message = assert_error(r, 422, "invalid_text", where, "unpaired UTF-16 surrogate")
    assert "\ud800" not in message and "\udfff" not in message and "\ufffd" not in message


@pytest.mark.parametrize("query", ["api_key=k", "token=k", "x=1&API_KEY=", "access_token=k&y=2"])
def test_a_key_in_the_query_string_is_refused(keyed, query):
    for path in ("/v1/predict", "/v1/health"):
        r = call(keyed, "POST" if path == "/v1/predict" else "GET", f"{path}?{query}", json={"texts": ["a"]},
                 headers={"authorization": f"Bearer {KEY}"})
        assert_error(r, 400, "key_in_url", "only in the header 'Authorization: Bearer <key>'")


def test_a_run_with_an_invalid_run_json_is_a_run_error(runs, tmp_path, capsys):
    import shutil

    import rnnlab.cli.serve  # noqa: F401  (registers the command)

    copy = tmp_path / "copy"
    shutil.copytree(runs["baseline"], copy)
    (copy / "run.json").write_text("{broken")
    with pytest.raises(RunError, match=r"run.json' is not valid JSON \(line 1 column 2: .*delete it"):
        create_app(copy, api_key="")
    code, _, err = run_cli(["serve", copy], capsys)
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err and "run.json" in err


def test_unknown_paths_and_methods_answer_json(app):
    assert_error(call(app, "GET", "/v2/predict"), 404, "not_found", "/v1/predict")
    r = call(app, "GET", "/v1/predict")
    assert_error(r, 405, "method_not_allowed", "GET /v1/predict")
    assert r.headers["allow"] == "POST"


def test_a_failing_model_is_a_500_json_error(runs):
    run = rnnlab.load_run(runs["rnn"])
    app = create_app(run, api_key="")
    run.predict = lambda texts, batch_size=1024, raw=False: 1 / 0
    r = call(app, "POST", "/v1/predict", raise_errors=False, json={"texts": ["a"]})
    assert_error(r, 500, "internal_error", "ZeroDivisionError")


def test_a_model_failing_its_warm_up_is_logged_and_never_ready(runs, monkeypatch, caplog):
    run = rnnlab.load_run(runs["rnn"])
    monkeypatch.setattr("rnnlab.use.serve.app.WARM_TEXT", "warm-up that fails")
    real = run.predict
    run.predict = lambda data, batch_size=1024, raw=False: (1 / 0 if len(data) > 1 else real(data, batch_size, raw))
    with caplog.at_level("ERROR", logger="uvicorn.error"):
        app = create_app(run, api_key="")
        for _ in range(200):
            if "warm-up batch failed" in caplog.text:
                break
            time.sleep(0.01)
    assert "warm-up batch failed (ZeroDivisionError" in caplog.text
    assert call(app, "GET", "/v1/ready").status_code == 503


@pytest.mark.parametrize("field, value", [("max_texts", 0), ("max_chars", -1), ("max_body_bytes", 1.5),
                                          ("max_batch", True), ("batch_wait_ms", -1)])
def test_invalid_limits_are_refused(field, value):
    with pytest.raises(ConfigError, match=field):
        Limits(**{field: value})


# ---------------------------------------------------------------------------------- API key
KEY = "s3cret-key-0123456789"


@pytest.fixture(scope="module")
def keyed(runs):
    return create_app(runs["rnn"], api_key=KEY)


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {KEY}"},
                                     {"authorization": KEY}, {"authorization": f"Bearer {KEY}x"}],
                         ids=["missing", "wrong", "basic", "no-scheme", "longer"])
def test_requests_without_the_right_key_are_401(keyed, headers):
    for method, path in (("POST", "/v1/predict"), ("GET", "/v1/model")):
        r = call(keyed, method, path, json={"texts": ["a"]}, headers=headers)
        assert_error(r, 401, "unauthorized", "Authorization: Bearer")
        assert r.headers["www-authenticate"] == "Bearer"
        assert KEY not in r.text


def test_the_key_is_checked_before_the_body_is_read(keyed):
    r = call(keyed, "POST", "/v1/predict", content=b"{not json" + b" " * 2_000_000)
    assert_error(r, 401, "unauthorized")


def test_the_right_key_is_accepted_and_health_and_docs_stay_open(keyed):
    auth = {"authorization": f"bearer {KEY}"}
    assert call(keyed, "POST", "/v1/predict", json={"texts": ["a"]}, headers=auth).status_code == 200
    assert call(keyed, "GET", "/v1/model", headers=auth).status_code == 200
    assert call(keyed, "GET", "/v1/health").json() == {"status": "ok"}
    schema = call(keyed, "GET", "/openapi.json").json()
    assert schema["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert schema["paths"]["/v1/predict"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in schema["paths"]["/v1/health"]["get"]


def test_the_key_comes_from_the_environment_unless_given(runs, monkeypatch):
    monkeypatch.setenv("RNNLAB_API_KEY", KEY)
    from_env = create_app(runs["rnn"])
    assert call(from_env, "GET", "/v1/model").status_code == 401
    assert call(from_env, "GET", "/v1/model", headers={"authorization": f"Bearer {KEY}"}).status_code == 200
    assert call(create_app(runs["rnn"], api_key=""), "GET", "/v1/model").status_code == 200


# ---------------------------------------------------------------------------------- micro-batching
def test_concurrent_requests_share_forward_passes_and_get_their_own_results(runs):
    run = rnnlab.load_run(runs["rnn"])
    app = create_app(run, Limits(batch_wait_ms=50), api_key="")
    for _ in range(500):  # the warm-up batch goes through the batcher first; count only the requests
        if call(app, "GET", "/v1/ready").status_code == 200:
            break
        time.sleep(0.01)
    original, calls = run.predict, []

    def counted(texts, batch_size=1024, raw=False):
        calls.append(len(texts))
        return original(texts, batch_size=batch_size, raw=raw)

    run.predict = counted
    requests = [[f"good w{i} {'bad ' * (i % 4)}", f"w{i} !!", "" if i % 5 == 0 else f"fine w{i + 1}"][: 1 + i % 3]
                for i in range(20)]

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve.test") as c:
            return await asyncio.gather(*(c.post("/v1/predict", json={"texts": t}) for t in requests))

    responses = asyncio.run(go())
    assert 1 <= len(calls) < 20 and sum(calls) == sum(map(len, requests))
    for texts, r in zip(requests, responses):
        np.testing.assert_allclose(probabilities(r), original(texts), atol=1e-6)


def test_the_batcher_never_exceeds_max_batch_and_scores_a_large_request_alone():
    sizes = []

    def predict(texts):
        sizes.append(len(texts))
        return np.array([[float(t)] for t in texts])

    batcher = MicroBatcher(predict, max_batch=5, wait_s=0.3)
    gate = threading.Event()
    batcher.submit(["0"]).add_done_callback(lambda _: gate.set())  # the worker is up and idle
    gate.wait(5)
    futures = [batcher.submit([str(10 * i + j) for j in range(n)]) for i, n in enumerate([2, 2, 2, 7])]
    results = [f.result(timeout=5) for f in futures]
    batcher.close()
    assert sizes == [1, 4, 2, 7]
    assert [r[:, 0].tolist() for r in results] == [[0, 1], [10, 11], [20, 21], [30, 31, 32, 33, 34, 35, 36]]


def test_a_model_error_reaches_every_request_of_the_batch_and_close_restarts_cleanly():
    batcher = MicroBatcher(lambda texts: 1 / 0, wait_s=0.05)
    futures = [batcher.submit(["a"]), batcher.submit(["b"])]
    for f in futures:
        with pytest.raises(ZeroDivisionError):
            f.result(timeout=5)
    batcher.close()
    batcher.predict = lambda texts: np.ones((len(texts), 1))
    assert batcher.submit(["c"]).result(timeout=5).tolist() == [[1.0]]
    batcher.close()


def test_awaited_requests_of_a_batch_are_settled_with_one_call_into_their_loop():
    from rnnlab.use.serve import batcher as batcher_module

    batcher = MicroBatcher(lambda texts: np.array([[float(t)] for t in texts]), max_batch=64, wait_s=0.3)
    delivered = []

    async def go():
        loop = asyncio.get_running_loop()
        real = loop.call_soon_threadsafe

        def counted(callback, *args, **kw):
            if callback is batcher_module._deliver:
                delivered.append(len(args[0]))
            return real(callback, *args, **kw)

        loop.call_soon_threadsafe = counted
        tasks = [asyncio.ensure_future(batcher([str(i), str(i + 100)])) for i in range(10)]
        gone = asyncio.ensure_future(batcher(["7"]))
        await asyncio.sleep(0.05)
        gone.cancel()  # a client that went away before its batch ran
        results = await asyncio.gather(*tasks)
        batcher_error = MicroBatcher(lambda texts: 1 / 0, wait_s=0.05)
        with pytest.raises(ZeroDivisionError):
            await batcher_error(["a"])
        batcher_error.close()
        return results

    results = asyncio.run(go())
    batcher.close()
    assert [r[:, 0].tolist() for r in results] == [[i, i + 100] for i in range(10)]
    # one batch, one wake-up of the loop, the cancelled request dropped; then the failing batcher's request
    assert delivered == [10, 1]


# ---------------------------------------------------------------------------------- the command
def test_the_command_builds_the_app_with_its_limits(runs, capsys, monkeypatch):
    import uvicorn

    import rnnlab.cli.serve  # noqa: F401  (registers the command)

    seen = {}
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: seen.update(app=self.config.app, config=self.config))
    monkeypatch.delenv("RNNLAB_API_KEY", raising=False)
    code, out, err = run_cli(["serve", runs["baseline"], "--port", "8123", "--max-texts", "2", "--header-timeout",
                              "3", "--keep-alive-timeout", "2", "--body-timeout", "4"], capsys)
    assert code == 0, err
    config = seen["config"]
    assert (config.host, config.port, config.timeout_keep_alive, config.http.header_timeout_s) == (
        "127.0.0.1", 8123, 2, 3)
    assert call(seen["app"], "GET", "/v1/model").json()["limits"]["body_timeout_s"] == 4
    assert "http://127.0.0.1:8123" in out and "API key: none" in out
    assert_error(call(seen["app"], "POST", "/v1/predict", json={"texts": ["a"] * 3}), 413, "too_many_texts",
                 "max_texts=2")
    code, _, err = run_cli(["serve", runs["baseline"], "--host", "0.0.0.0"], capsys)
    assert code == 0 and "warning: listening on 0.0.0.0 without an API key" in err
    code, _, err = run_cli(["serve", runs["baseline"], "--max-batch", "0"], capsys)
    assert code == 2 and "error: The 'max_batch' parameter must be an int >= 1. Got 0 instead." in err
    code, _, err = run_cli(["serve", runs["baseline"], "--header-timeout", "0"], capsys)
    assert code == 2 and "error: The 'header_timeout_s' parameter must be a number of seconds > 0. Got 0.0" in err
    code, _, err = run_cli(["serve", runs["baseline"].parent / "missing"], capsys)
    assert code == 2 and "is not a run folder" in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_real_server_never_logs_the_key(runs, tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "RNNLAB_API_KEY": KEY}
    with open(log, "wb") as fh:
        server = subprocess.Popen([sys.executable, "-m", "rnnlab", "serve",
                                   str(runs["baseline"]), "--port", str(port)], stdout=fh, stderr=subprocess.STDOUT,
                                  env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        ok = httpx.post(f"{url}/v1/predict", json={"texts": ["good"]}, headers={"Authorization": f"Bearer {KEY}"})
        denied = httpx.post(f"{url}/v1/predict", json={"texts": ["good"]}, headers={"Authorization": "Bearer wrong"})
        assert (ok.status_code, denied.status_code) == (200, 401)
        in_url = httpx.post(f"{url}/v1/predict?api_key={KEY}", json={"texts": ["good"]})
        assert (in_url.status_code, in_url.json()["error"]["code"]) == (400, "key_in_url")
    finally:
        server.terminate()
        server.wait(20)
    text = log.read_text()
    assert '"POST /v1/predict HTTP/1.1" 200' in text and '"POST /v1/predict HTTP/1.1" 401' in text
    assert "API key: required (from $RNNLAB_API_KEY)" in text
    assert KEY not in text and "Bearer" not in text
    assert '"POST /v1/predict?<query not logged> HTTP/1.1" 400' in text


def test_a_blend_run_is_served(runs, tmp_path):
    from rnnlab.use.blend import blend

    baseline = toy_config(write_toy_csv(tmp_path / "toy.csv", multilabel=True), tmp_path, name="tfidf2",
                          data__label_columns=["pos", "loud"])
    baseline["model"] = BASELINE
    lin = rnnlab.train(baseline, run_dir=tmp_path / "lin")
    run, _ = blend([runs["rnn"], lin.dir], out=tmp_path / "blend")
    served = create_app(tmp_path / "blend", api_key="")
    r = call(served, "POST", "/v1/predict", json={"texts": TEXTS[:3]})
    assert r.status_code == 200, r.text
    got = np.array([[p["probabilities"][k] for k in ("pos", "loud")] for p in r.json()["predictions"]])
    assert got == pytest.approx(run.predict(TEXTS[:3]), abs=1e-6)
    assert call(served, "GET", "/v1/model").json()["vocab_size"] == 0
