"""int8 inference (rnnlab.use.quantize, ``rnnlab quantize RUN``, ``rnnlab serve --int8``): tiny
runs quantized with PyTorch dynamic quantization agree with float32 on their validation rows;
what cannot be quantized is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnlab
from helpers import run_cli, toy_config, write_toy_csv
from rnnlab.errors import RunError
from rnnlab.use.quantize import AUC_TOLERANCE, parity, quantize_model, quantized, quantized_layers


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """'lstm' (Embedding + LSTM + Dense, masked) and 'bigru' (BiGRU + pooling + Dense), 3 epochs;
    'baseline' (TF-IDF + logistic regression)."""
    tmp = tmp_path_factory.mktemp("quantize")
    data = write_toy_csv(tmp / "toy.csv", n=500)
    over = {
        "lstm": dict(model__embedding={"dim": 8, "mask_zero": True},
                     model__layers=[{"type": "LSTM", "units": 16}, {"type": "Dense"}]),
        "bigru": dict(model__layers=[{"type": "GRU", "units": 12, "bidirectional": True, "return_sequences": True},
                                     {"type": "GlobalMaxPooling1D"}, {"type": "Dense"}]),
    }
    out = {name: rnnlab.train(toy_config(data, tmp / "runs", name=name, fit__epochs=3, **o))
           for name, o in over.items()}
    cfg = toy_config(data, tmp / "runs", name="baseline")
    cfg["model"] = {"type": "tfidf_lr"}
    out["baseline"] = rnnlab.train(cfg)
    return out


@pytest.mark.parametrize("name", ["lstm", "bigru"])
def test_int8_model_keeps_validation_auc(runs, name):
    r = parity(runs[name], repeats=1)
    assert r["rows"] == 100 and r["quantized_layers"] == 2  # the RNN and the Dense
    assert r["auc_fp32"] > 0.9  # a model that learned something, so the comparison means something
    assert abs(r["auc_change"]) <= AUC_TOLERANCE and r["ok"]
    assert 0 < r["max_abs_diff"] < 0.05  # int8 really changed the outputs, a little
    assert r["rows_per_s_int8"] > 0 and r["speedup"] > 0


def test_quantized_run_predicts_like_the_float_run_and_leaves_it_alone(runs):
    run = runs["lstm"]
    texts = ["good great fine", "awful boring poor", "", "w1 w2 w3 lovely " * 10]
    q = quantized(run)
    from rnnlab.models.layers import KerasRNN

    rnn = next(m for m in run.model.modules() if isinstance(m, KerasRNN))
    assert type(rnn.rnn) is torch.nn.LSTM  # the float run is unchanged
    assert quantized_layers(q.model) == 2 and quantized_layers(run.model) == 0
    a, b = run.predict(texts), q.predict(texts)
    assert a.shape == b.shape == (4, 1)
    assert np.abs(a - b).max() < 0.05 and not np.array_equal(a, b)
    assert q.labels == run.labels and q.dir == run.dir


def test_simple_rnn_quantizes_only_its_dense_layer():
    from rnnlab.models.layers import KerasDense, KerasRNN

    model = torch.nn.Sequential(KerasRNN("SimpleRNN", 4, 8), KerasDense(8, 1))
    q = quantize_model(model)
    assert quantized_layers(q) == 1 and type(q[0].rnn) is torch.nn.RNN and quantized_layers(model) == 0


def test_ensembles_and_baselines_are_refused(runs):
    with pytest.raises(RunError, match="linear baseline"):
        quantized(runs["baseline"])


def test_bad_rows_is_a_param_error(runs):
    with pytest.raises(rnnlab.errors.ConfigError, match="rows"):
        parity(runs["lstm"], rows=0)


def test_cli_prints_the_auc_change_and_speed(runs, capsys):
    code, out, err = run_cli(["quantize", runs["bigru"].dir, "--repeats", "1"], capsys)
    assert code == 0, err
    assert "mean ROC AUC" in out and "tolerance 0.001: ok" in out and "rows/s" in out


@pytest.mark.parametrize("speedup, advised", [(0.27, True), (1.3, False)])
def test_cli_says_when_int8_is_slower_than_float32(runs, capsys, monkeypatch, speedup, advised):
    """Small layers run rnnlab's fused float32 kernel, which int8 does not use: a slower int8 model
    is said in words, with what to do, not only as a ratio below 1."""
    from rnnlab.use import quantize as q

    real = q.parity
    monkeypatch.setattr(q, "parity", lambda *a, **kw: {**real(*a, **kw), "speedup": speedup})
    code, out, err = run_cli(["quantize", runs["bigru"].dir, "--repeats", "1"], capsys)
    assert code == 0, err
    assert ("int8 is slower than float32" in out and "without --int8" in out) is advised


def test_cli_refuses_a_baseline_in_one_line(runs, capsys):
    code, out, err = run_cli(["quantize", runs["baseline"].dir], capsys)
    assert code == 2 and err.startswith("error: ") and "linear baseline" in err and len(err.strip().splitlines()) == 1


def test_serve_scores_with_the_int8_model(runs):
    pytest.importorskip("fastapi", reason="fastapi is not installed (pip install 'rnnlab[serve]')")
    httpx = pytest.importorskip("httpx", reason="httpx is not installed (pip install 'rnnlab[test]')")
    import asyncio

    from rnnlab.use.serve import create_app

    q = quantized(runs["lstm"])
    app = create_app(q, api_key="")

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.post("/v1/predict", json={"texts": ["good great", "awful boring"]})

    texts = ["good great", "awful boring"]
    body = asyncio.run(go()).json()
    got = np.array([p["probabilities"]["pos"] for p in body["predictions"]])
    assert np.allclose(got, q.predict(texts)[:, 0], atol=1e-5)  # the int8 model answered
    assert not np.allclose(got, runs["lstm"].predict(texts)[:, 0], atol=1e-7)  # not the float32 one
