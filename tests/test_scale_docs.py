"""docs/scale.md's Spark and Ray examples: the shared batch function (ONNX via the docs/onnx.md
``score`` function) against Run.predict everywhere; the Spark and Ray blocks themselves only where
pyspark / ray are installed."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'rnnlab[onnx]')")
pytest.importorskip("onnx", reason="onnx is not installed (pip install 'rnnlab[onnx]')")

import rnnlab  # noqa: E402
from helpers import ROOT, toy_config, write_toy_csv  # noqa: E402

TOLERANCE = 1e-5


def _block(doc: str, marker: str) -> str:
    return next(b for b in re.findall(r"```python\n(.*?)```", doc, re.DOTALL) if marker in b)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A toy run exported as jigsaw_lstm.onnx beside onnx_score.py (docs/onnx.md's function) and
    comments.csv, in one folder."""
    from rnnlab.use.export import export_onnx

    tmp = tmp_path_factory.mktemp("scale_docs")
    data = write_toy_csv(tmp / "toy.csv", n=200)
    run = rnnlab.train(toy_config(data, tmp / "runs", fit__epochs=1))
    export_onnx(run, tmp / "jigsaw_lstm.onnx", check_rows=16)
    onnx_doc = (ROOT / "docs" / "onnx.md").read_text(encoding="utf-8")
    (tmp / "onnx_score.py").write_text(_block(onnx_doc, "def score("), encoding="utf-8")
    frame = pd.read_csv(data).rename(columns={"text": "comment_text"})[["id", "comment_text"]]
    frame.to_csv(tmp / "comments.csv", index=False)
    return run, frame, tmp


@pytest.fixture
def namespace(exported, monkeypatch):
    """The batch-function block of docs/scale.md, executed in the example's folder."""
    run, frame, tmp = exported
    monkeypatch.chdir(tmp)
    monkeypatch.syspath_prepend(str(tmp))
    doc = (ROOT / "docs" / "scale.md").read_text(encoding="utf-8")
    ns: dict = {}
    exec(compile(_block(doc, "def score_batch("), "docs/scale.md", "exec"), ns)  # noqa: S102
    return ns, doc


def test_the_batch_function_scores_like_the_run(exported, namespace):
    run, frame, _ = exported
    ns, _ = namespace
    out = ns["score_batch"](frame.iloc[:50])
    assert list(out.columns) == ["id", "comment_text", *run.labels]
    expected = run.predict(frame["comment_text"].iloc[:50].tolist())
    assert np.abs(out[run.labels].to_numpy() - expected).max() <= TOLERANCE


def test_the_spark_example(exported, namespace):
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install pyspark): the Spark example of "
                                          "docs/scale.md is not run")
    run, frame, tmp = exported
    ns, doc = namespace
    exec(compile(_block(doc, "mapInPandas"), "docs/scale.md", "exec"), ns)  # noqa: S102
    got = pd.read_parquet(tmp / "scores.parquet").sort_values("id")
    want = ns["score_batch"](frame).sort_values("id")
    assert np.abs(got[run.labels].to_numpy() - want[run.labels].to_numpy()).max() <= TOLERANCE


def test_the_ray_example(exported, namespace):
    pytest.importorskip("ray.data", reason="ray is not installed (pip install 'ray[data]'): the Ray example of "
                                           "docs/scale.md is not run")
    run, frame, tmp = exported
    ns, doc = namespace
    exec(compile(_block(doc, "map_batches"), "docs/scale.md", "exec"), ns)  # noqa: S102
    got = pd.read_parquet(tmp / "scores").sort_values("id")
    want = ns["score_batch"](frame).sort_values("id")
    assert np.abs(got[run.labels].to_numpy() - want[run.labels].to_numpy()).max() <= TOLERANCE
