"""``rnnlab explain`` (rnnlab.use.explain): Integrated Gradients for RNN runs, coefficient
contributions for linear baselines, the CLI's JSONL / terminal / HTML outputs.

The acceptance checks: completeness (attributions add up to the output minus the baseline's
output, measured independently of Captum's own delta), and on a planted data set where the
label is exactly "the text contains zzqx", zzqx is the top token of >= 95 % of positive rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import run_cli, toy_config, write_toy_csv
from scipy.special import expit

import rnnlab
from rnnlab.errors import ConfigError, RunError

pytest.importorskip("captum", reason="captum is not installed (pip install 'rnnlab[explain]')")

from rnnlab.use.explain import explain_texts, token_summary, top_features  # noqa: E402

BASELINE = {"type": "tfidf_lr", "baseline": {"word_max_features": 500, "char_max_features": 500}}
TEXTS = ["Good great fine w1 w2", "awful boring w3 !!", "", "w7 " * 40, "good zzunknownzz bad"]


def _planted(path, n: int = 500, seed: int = 0):
    """Random words; the label 'flag' is 1 exactly when the text contains zzqx (half the rows)."""
    rng = np.random.default_rng(seed)
    words = [f"v{i}" for i in range(60)]
    rows = []
    for i in range(n):
        text = list(rng.choice(words, int(rng.integers(4, 16))))
        flag = int(i % 2 == 0)
        if flag:
            text.insert(int(rng.integers(0, len(text) + 1)), "zzqx")
        rows.append({"id": f"p{i}", "text": " ".join(text), "flag": flag})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """name -> Run: a multi-label GRU (mask_zero, pre padding), a one-hot SimpleRNN without
    bucketing and post padding, a tf-idf baseline and an nbsvm baseline."""
    tmp = tmp_path_factory.mktemp("explain")
    data = write_toy_csv(tmp / "toy.csv", n=300, multilabel=True)
    out = {"gru": rnnlab.train(toy_config(data, tmp / "runs", name="gru", fit__epochs=3, fit__threads=1,
                                          data__label_columns=["pos", "loud"], text__oov_token="<OOV>",
                                          model__embedding__mask_zero=True))}
    onehot = toy_config(data, tmp / "runs", name="onehot", fit__epochs=2, fit__threads=1, fit__bucketing=False,
                        text__padding="post", text__num_words=60)
    onehot["model"] = {"input": "onehot", "layers": [{"type": "SimpleRNN", "units": 6}, {"type": "Dense"}]}
    out["onehot"] = rnnlab.train(onehot)
    for kind in ("tfidf_lr", "nbsvm"):
        cfg = toy_config(data, tmp / "runs", name=kind, data__label_columns=["pos", "loud"])
        cfg["model"] = {**BASELINE, "type": kind}
        out[kind] = rnnlab.train(cfg)
    return out


@pytest.mark.parametrize("name", ["gru", "onehot"])
def test_attributions_add_up_to_the_output_minus_the_padding_baseline(runs, name):
    run = runs[name]
    found = explain_texts(run, TEXTS, n_steps=100)
    predicted = run.predict(TEXTS)  # the explained output is Run.predict's, computed apart from Captum
    model = run.model
    for e, row, text in zip(found, predicted, TEXTS):
        seq = run.encode([text])
        width = run.config.text.maxlen if not run.config.fit.bucketing else max(8, -(-len(seq[0]) // 8) * 8)
        ids = torch.from_numpy(seq.pad(length=min(width, run.config.text.maxlen), padding=run.config.text.padding))
        with torch.no_grad():  # the baseline: every position what the input layer makes of padding
            base = model.forward_from_inputs(model.input_layer(torch.zeros_like(ids)), ids)[0].numpy()
        assert len(e.tokens) == len(seq[0])
        for j, label in enumerate(run.labels):
            assert e.outputs[label] == pytest.approx(float(row[j]), abs=1e-6)
            assert e.baseline[label] == pytest.approx(float(base[j]), abs=1e-6)
            assert abs(e.delta[label]) <= 1e-2
            assert sum(e.attributions[label]) == pytest.approx(float(row[j]) - float(base[j]), abs=1e-2)


def test_tokens_are_what_the_model_sees_with_the_oov_token(runs):
    run = runs["gru"]  # an OOV token: unknown words become <OOV>
    [e] = explain_texts(run, ["GOOD, zzunknownzz great!"], labels=["pos"], n_steps=8)
    assert e.tokens == ["good", "<OOV>", "great"] and e.labels == ["pos"] and e.kinds == ["token"] * 3
    [empty] = explain_texts(run, [""], n_steps=4)
    assert empty.tokens == [] and set(empty.attributions) == {"pos", "loud"}


def test_planted_token_is_the_top_attribution_of_its_positive_rows(tmp_path):
    data = _planted(tmp_path / "planted.csv")
    cfg = toy_config(data, tmp_path / "runs", name="planted", fit__epochs=6, fit__threads=1,
                     data__label_columns=["flag"], text__maxlen=20)
    run = rnnlab.train(cfg)
    frame = pd.read_csv(data)
    positives = frame[frame.flag == 1].text.tolist()[:100]
    negatives = frame[frame.flag == 0].text.tolist()[:100]
    scores = run.predict(positives + negatives)[:, 0]
    assert scores[:100].min() > scores[100:].max(), "the tiny model did not separate the planted label"
    found = explain_texts(run, positives, n_steps=32)
    top = [e.top("flag", 1)[0][0] for e in found]
    assert top.count("zzqx") >= 0.95 * len(top), top
    summary = token_summary(found, "flag", k=1)
    assert summary[0]["token"] == "zzqx" and summary[0]["count"] == len(found)


@pytest.mark.parametrize("kind", ["tfidf_lr", "nbsvm"])
def test_a_linear_baseline_explains_with_its_own_coefficients(runs, kind):
    run = runs[kind]
    found = explain_texts(run, TEXTS)
    probs = run.predict(TEXTS)
    for e, row in zip(found, probs):
        assert e.explains == "score" and set(e.kinds) <= {"word", "char"}
        for j, label in enumerate(run.labels):
            score = sum(e.attributions[label]) + e.baseline[label]
            assert score == pytest.approx(e.value[label], abs=1e-9)
            assert expit(score) == pytest.approx(float(row[j]), abs=1e-5)  # the n-grams add up to the output
    words = {t for t, _ in found[0].top("pos", 5)}
    assert words & {"good", "great", "fine"}, found[0].top("pos", 5)
    grams = [g for g, kind_, _ in top_features(run, "pos", 10) if kind_ == "word"]
    assert set(grams) & {"good", "great", "fine", "lovely", "superb"}
    assert not set(grams) & {"bad", "awful", "poor", "dull", "boring"}


def test_bad_arguments_are_one_line_errors(runs, tmp_path):
    with pytest.raises(ConfigError, match="--label.*pos, loud.*'nope'"):
        explain_texts(runs["gru"], ["x"], labels=["nope"])
    with pytest.raises(ConfigError, match="n_steps"):
        explain_texts(runs["gru"], ["x"], n_steps=0)
    with pytest.raises(TypeError, match="list of texts"):
        explain_texts(runs["gru"], "x")
    ensemble, _ = rnnlab.blend([runs["tfidf_lr"].dir, runs["nbsvm"].dir], out=tmp_path / "blend")
    with pytest.raises(RunError, match="ensemble.*explain one of its members"):
        explain_texts(ensemble, ["x"])


def test_cli_text_plain_jsonl_and_html(runs, tmp_path, capsys):
    run = runs["gru"]
    code, out, err = run_cli(["explain", run.dir, "--text", "good great w1", "--label", "pos", "--steps", "8",
                              "--html", tmp_path / "one.html"], capsys)
    assert code == 0, err
    assert "pos: output" in out and ("good(+" in out or "good(-" in out) and "loud" not in out
    assert "\x1b[" not in out  # plain text when stdout is not a terminal
    assert 'class="tok"' in (tmp_path / "one.html").read_text(encoding="utf-8")
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": ["a", "b", "c"], "text": ["good fine", "awful <b>dull</b>", ""]}).to_csv(source, index=False)
    code, out, err = run_cli(["explain", run.dir, "--data", source, "--out", tmp_path / "ex.jsonl", "--steps", "8",
                              "--html", tmp_path / "many.html"], capsys)
    assert code == 0, err
    lines = [json.loads(line) for line in (tmp_path / "ex.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines] == ["a", "b", "c"]
    expected = explain_texts(run, ["good fine"], n_steps=8)[0]
    assert lines[0]["tokens"] == expected.tokens
    assert lines[0]["attributions"]["loud"] == pytest.approx(expected.attributions["loud"], rel=1e-5, abs=1e-9)
    page = (tmp_path / "many.html").read_text(encoding="utf-8")
    assert "<b>dull" not in page  # texts are escaped
    assert "<script" not in page and page.count('class="expl"') == 3
    code, _, err = run_cli(["explain", run.dir, "--data", source], capsys)
    assert code == 2 and err.startswith("error:") and "--out" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["explain", run.dir, "--text", "x", "--label", "nope"], capsys)
    assert code == 2 and "'nope'" in err and "Traceback" not in err
