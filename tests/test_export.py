"""``rnnlab export --format onnx``: tiny runs of every layer kind exported and checked against
PyTorch (max abs diff <= 1e-5) on dynamic batch sizes and lengths; the CLI end to end; the
torch-free scoring example of docs/onnx.md run with torch unimportable."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'rnnlab[onnx]')")
pytest.importorskip("onnx", reason="onnx is not installed (pip install 'rnnlab[onnx]')")

import rnnlab  # noqa: E402
from helpers import ROOT, run_cli, toy_config, write_toy_csv  # noqa: E402
from rnnlab.errors import RunError  # noqa: E402
from rnnlab.use.export import TOLERANCE, export_onnx  # noqa: E402

TEXTS = ["Good great fine w1 w2", "awful, BORING w3 !!", "", "zzz unknown words", "Très bien 👍 good",
         " ".join(f"w{i % 40}" for i in range(45)) + " superb", "bad\tpoor\nw5", "lovely"]
EMB_MASK = {"dim": 8, "mask_zero": True}
# name -> config overrides (toy_config keys); every layer kind and input, masked and not
MODELS = {
    "lstm": dict(text__num_words=30, text__oov_token="<oov>",
                 model__layers=[{"type": "LSTM", "units": 8}, {"type": "Dense"}]),
    "bigru_pool_bn": dict(model__layers=[
        {"type": "GRU", "units": 6, "bidirectional": True, "return_sequences": True},
        {"type": "GlobalPooling1D", "modes": ["max", "average"]}, {"type": "BatchNormalization"},
        {"type": "Dense", "units": 4, "activation": "relu"}, {"type": "Dense"}]),
    "onehot_rnn": dict(text__num_words=25, model__input="onehot",
                       model__layers=[{"type": "SimpleRNN", "units": 8}, {"type": "Dense"}]),
    "masked": dict(text__padding="post", model__embedding=EMB_MASK,
                   model__layers=[{"type": "LSTM", "units": 6, "return_sequences": True},
                                  {"type": "GRU", "units": 4, "bidirectional": True, "merge_mode": "sum"},
                                  {"type": "Dense"}]),
    "char_level": dict(text__char_level=True, text__maxlen=40, text__oov_token="?", text__num_words=20,
                       model__layers=[{"type": "GRU", "units": 6}, {"type": "Dense"}]),
    "softmax": dict(fit__bucketing=False, text__truncating="post", text__maxlen=12,
                    data__label_columns=["mood"], model__layers=[{"type": "GRU", "units": 8}, {"type": "Dense"}]),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """name -> Run, trained for 2 epochs; 'softmax' is 3-class with fixed-length batches, the
    others binary with length-bucketed batches (the default)."""
    tmp = tmp_path_factory.mktemp("export")
    data = write_toy_csv(tmp / "toy.csv", multilabel=True)
    frame = pd.read_csv(data)
    frame["mood"] = np.where(frame["loud"] == 1, "loud", np.where(frame["pos"] == 1, "good", "bad"))
    frame.to_csv(tmp / "moods.csv", index=False)
    out = {}
    for name, over in MODELS.items():
        cfg = toy_config(tmp / ("moods.csv" if name == "softmax" else "toy.csv"), tmp / "runs", name=name,
                         fit__epochs=2, **over)
        if name == "onehot_rnn":
            del cfg["model"]["embedding"]
        out[name] = rnnlab.train(cfg)
    return out


@pytest.fixture(scope="module")
def exported(runs, tmp_path_factory):
    """name -> (parity report, path of the .onnx), exported with the default check on the
    run's validation split."""
    tmp = tmp_path_factory.mktemp("onnx")
    return {name: (export_onnx(run, tmp / f"{name}.onnx"), tmp / f"{name}.onnx") for name, run in runs.items()}


@pytest.mark.parametrize("name", list(MODELS))
def test_export_matches_pytorch_on_dynamic_shapes(runs, exported, name):
    run, (report, path) = runs[name], exported[name]
    assert report["max_abs_diff"] <= TOLERANCE and report["rows"] == 80  # 0.2 of 400 rows
    session = ort.InferenceSession(str(path))
    maxlen, rng, worst = run.config.text.maxlen, np.random.default_rng(0), 0.0
    for batch in (1, 3, 17):
        for length in range(1, maxlen + 1):  # every length, not only the one traced at export
            ids = rng.integers(1, run.vocab_size, (batch, length))
            pads = int(rng.integers(0, length + 1))  # a whole row of padding when length is drawn
            ids[0, :pads] = 0
            if run.config.text.padding == "post":
                ids[0] = np.roll(ids[0], -pads)
            with torch.inference_mode():
                want = run.model(torch.from_numpy(ids)).numpy()
            got = session.run(["outputs"], {"input_ids": ids})[0]
            assert got.dtype == np.float32 and got.shape == want.shape
            worst = max(worst, float(np.abs(got - want).max()))
    assert worst <= TOLERANCE


def test_outputs_are_probabilities_of_every_label(runs, exported):
    session = ort.InferenceSession(str(exported["softmax"][1]))
    ids = runs["softmax"].encode(TEXTS).pad(length=12, padding="pre")
    probs = session.run(["outputs"], {"input_ids": ids})[0]
    assert probs.shape == (len(TEXTS), 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    meta = json.loads(exported["softmax"][1].with_name("softmax.onnx.json").read_text())
    assert meta["labels"] == runs["softmax"].labels == ["bad", "good", "loud"] and meta["task"] == "multiclass"
    assert (meta["pad_to"], meta["maxlen"], meta["truncating"]) == (12, 12, "post")


def test_metadata_holds_the_tokenizer(runs, exported):
    meta = json.loads(exported["lstm"][1].with_name("lstm.onnx.json").read_text())
    vocab = json.loads((runs["lstm"].dir / "vocab.json").read_text())["tokenizer"]
    assert meta["tokenizer"]["word_index"] == vocab["word_index"] and "word_counts" not in meta["tokenizer"]
    assert (meta["oov_index"], meta["tokenizer"]["num_words"], meta["pad_to"], meta["padding"]) == (1, 30, None, "pre")


def test_a_character_level_run_sees_characters(runs, exported):
    run = runs["char_level"]
    assert run.tokenizer.char_level and " " in run.tokenizer.word_index and "w" in run.tokenizer.word_index
    ids = run.encode(["ab a"]).to_lists()[0]
    index = run.tokenizer.word_index
    assert ids == [index.get(c, 1) if index.get(c, 1) < 20 else 1 for c in "ab a"]
    meta = json.loads(exported["char_level"][1].with_name("char_level.onnx.json").read_text())
    assert meta["tokenizer"]["char_level"] is True


def test_scoring_example_needs_no_torch(runs, exported):
    """The docs/onnx.md example, run verbatim in a process where torch and rnnlab cannot be
    imported, gives what Run.predict gives."""
    doc = (ROOT / "docs" / "onnx.md").read_text(encoding="utf-8")
    example = next(b for b in re.findall(r"```python\n(.*?)```", doc, re.DOTALL) if "def score(" in b)
    names = ["lstm", "softmax", "masked", "onehot_rnn", "char_level"]
    script = "\n".join([
        "import sys; sys.modules['torch'] = None; sys.modules['rnnlab'] = None",
        example,
        f"texts, paths = {TEXTS!r}, {[str(exported[n][1]) for n in names]!r}",
        "print(json.dumps([score(texts, p).tolist() for p in paths]))",
    ])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name, got in zip(names, json.loads(done.stdout), strict=True):
        assert np.abs(np.array(got) - runs[name].predict(TEXTS)).max() <= TOLERANCE, name


@pytest.fixture
def cli():
    """The ``export`` command registered (imported here, not at collection, so that the CLI
    reference test of docs/cli.md only sees it once cli/__init__.py registers it)."""
    import rnnlab.cli.export  # noqa: F401


def test_cli_exports_and_prints_the_difference(cli, runs, tmp_path, capsys):
    out = tmp_path / "sub" / "model.onnx"
    code, stdout, stderr = run_cli(["export", runs["bigru_pool_bn"].dir, "--format", "onnx", "--out", out,
                                    "--check-rows", "50"], capsys)
    assert code == 0, stderr
    diff = float(re.search(r"parity on 50 validation rows: max abs diff (\S+)", stdout).group(1))
    assert diff <= TOLERANCE and out.exists() and out.with_name("model.onnx.json").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.onnx", "model.onnx.json"]  # no temporary left


def test_cli_refuses_a_baseline_and_other_formats(cli, tmp_path, runs, capsys):
    data = write_toy_csv(tmp_path / "toy.csv")
    cfg = toy_config(data, tmp_path / "runs", name="base")
    cfg["model"] = {"type": "tfidf_lr", "baseline": {"word_max_features": 200, "char_max_features": 200}}
    base = rnnlab.train(cfg)
    code, _, stderr = run_cli(["export", base.dir, "--out", tmp_path / "b.onnx"], capsys)
    assert code == 2 and "linear baseline" in stderr and "model.type = 'rnn'" in stderr
    code, _, stderr = run_cli(["export", runs["lstm"].dir, "--format", "tflite", "--out", tmp_path / "m"], capsys)
    assert code == 2 and "'--format' parameter must be 'onnx'" in stderr
    assert not list(tmp_path.glob("*.onnx*"))


def test_a_failed_check_writes_nothing(runs, tmp_path, monkeypatch):
    from rnnlab.use import export

    monkeypatch.setattr(export, "max_abs_diff", lambda *a: 0.5)
    with pytest.raises(RunError, match="differs from PyTorch by up to 0.5"):
        export_onnx(runs["lstm"], tmp_path / "m.onnx", texts=TEXTS)
    assert not list(tmp_path.iterdir())


def test_missing_onnxruntime_says_what_to_install(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(rnnlab.ConfigError, match=r"pip install 'rnnlab\[onnx\]'"):
        export_onnx(runs["lstm"], tmp_path / "m.onnx", texts=TEXTS)


def test_int8_export_quantizes_embedding_and_lstm_and_keeps_the_auc(runs, tmp_path):
    out = tmp_path / "q.onnx"
    report = export_onnx(runs["lstm"], out, texts=TEXTS, quantize="int8", auc_tolerance=0.02)  # 80 toy rows
    q = report["int8"]
    assert report["quantize"] == "int8" and q["ok"] and abs(q["auc_change"]) <= 0.02 and q["rows"] == 80
    assert q["quantized_nodes"].get("DynamicQuantizeLSTM") == 1 and q["size_int8"] > 0 and q["size_fp32"] > 0
    assert q["rows_per_s_fp32"] > 0 and q["rows_per_s_int8"] > 0 and 0 < q["max_abs_diff"] < 0.05
    assert json.loads(out.with_name("q.onnx.json").read_text())["quantize"] == "int8"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.onnx", "q.onnx.json"]  # no float32 graph left
    ids = runs["lstm"].encode(TEXTS).pad(length=runs["lstm"].config.text.maxlen, padding="pre")
    got = ort.InferenceSession(str(out)).run(["outputs"], {"input_ids": ids})[0]
    with torch.inference_mode():
        want = runs["lstm"].model(torch.from_numpy(ids)).numpy()
    assert got.shape == want.shape and np.abs(got - want).max() < 0.05  # int8, not bit-exact
    doc = (ROOT / "docs" / "onnx.md").read_text(encoding="utf-8")  # the docs' torch-free scorer reads it too
    example = next(b for b in re.findall(r"```python\n(.*?)```", doc, re.DOTALL) if "def score(" in b)
    scope: dict = {}
    exec(example, scope)  # noqa: S102  (our own docs)
    assert np.abs(scope["score"](TEXTS, str(out)) - runs["lstm"].predict(TEXTS)).max() < 0.05


def test_int8_export_past_the_auc_tolerance_writes_nothing(runs, tmp_path, monkeypatch):
    from rnnlab.use import export

    real = export.int8_parity
    monkeypatch.setattr(export, "int8_parity", lambda *a, **k: {**real(*a, **k), "ok": False, "auc_change": -0.0123})
    with pytest.raises(RunError, match=r"moves the mean validation AUC by -0.0123 .*--auc-tolerance"):
        export_onnx(runs["lstm"], tmp_path / "m.onnx", texts=TEXTS, quantize="int8")
    assert not list(tmp_path.iterdir())


def test_cli_int8_prints_auc_change_and_speed_and_refuses_other_types(cli, runs, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    code, stdout, stderr = run_cli(["export", runs["masked"].dir, "--out", out, "--quantize", "int8",
                                    "--auc-tolerance", "0.05"], capsys)
    assert code == 0, stderr
    assert re.search(r"int8 \(ONNX Runtime dynamic quantization; integer nodes: .*DynamicQuantizeLSTM 1.*\): "
                     r"mean AUC on 80 validation rows \S+ -> \S+ \([+-]\d\.\d{4}, tolerance 0.05\); .* rows/s", stdout)
    code, _, stderr = run_cli(["export", runs["lstm"].dir, "--out", tmp_path / "x.onnx", "--quantize", "int4"], capsys)
    assert code == 2 and "'--quantize' parameter must be 'int8'. Got 'int4' instead." in stderr
    assert not (tmp_path / "x.onnx").exists()
