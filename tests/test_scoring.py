"""Batch scoring streams inputs of any size in chunks, writes atomically, adds decisions."""

import gzip
import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import rnnlab
from helpers import run_cli, toy_config, write_toy_csv
from rnnlab.errors import DataError
from rnnlab.use.predict import score_file


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("score")
    data = write_toy_csv(tmp / "toy.csv", multilabel=True)
    run = rnnlab.train(toy_config(data, tmp / "runs", data__label_columns=["pos", "loud"]))
    frame = pd.read_csv(data)
    return run, frame, tmp


def _expected(run, frame):
    return run.predict(frame["text"].tolist())


@pytest.mark.parametrize("name", ["in.csv", "in.csv.gz", "in.tsv", "in.jsonl", "in.jsonl.gz", "in.parquet"])
def test_every_format_streams_to_the_same_scores(setup, name):
    run, frame, tmp = setup
    path = tmp / name
    sub = frame[["id", "text"]]
    if ".jsonl" in name:
        text = "".join(json.dumps(r) + "\n" for r in sub.to_dict("records"))
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    elif name.endswith(".parquet"):
        sub.to_parquet(path)
    else:
        sub.to_csv(path, index=False, sep="\t" if ".tsv" in name else ",")
    info = score_file(run, path, tmp / f"out-{name}.csv", chunk_rows=7, progress=False)
    out = pd.read_csv(tmp / f"out-{name}.csv")
    assert info["rows"] == len(frame) and list(out.columns) == ["id", "pos", "loud"]
    assert out["id"].tolist() == frame["id"].tolist()
    np.testing.assert_allclose(out[["pos", "loud"]].to_numpy(), _expected(run, frame), atol=1e-5)


def test_stdin_lines(setup, capsys, monkeypatch):
    run, frame, tmp = setup
    texts = frame["text"].tolist()[:25]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(texts) + "\n"))
    code, out, err = run_cli(["predict", run.dir, "-", "--out", tmp / "stdin.csv"], capsys)
    assert code == 0, err
    got = pd.read_csv(tmp / "stdin.csv")
    assert got["id"].tolist() == list(range(1, 26))
    np.testing.assert_allclose(got[["pos", "loud"]].to_numpy(), run.predict(texts), atol=1e-5)


def test_threshold_columns(setup, capsys):
    run, frame, tmp = setup
    frame[["id", "text"]].to_csv(tmp / "t.csv", index=False)
    code, _, err = run_cli(["predict", run.dir, tmp / "t.csv", "--out", tmp / "t_out.csv", "--threshold", "0.3"],
                           capsys)
    assert code == 0, err
    got = pd.read_csv(tmp / "t_out.csv")
    assert list(got.columns) == ["id", "pos", "loud", "pos_pred", "loud_pred"]
    assert (got["pos_pred"] == (got["pos"] >= 0.3).astype(int)).all()
    code, _, err = run_cli(["predict", run.dir, tmp / "t.csv", "--out", tmp / "x.csv", "--threshold", "1.5"], capsys)
    assert code == 2 and "--threshold must be" in err


def test_missing_text_column_and_bad_rows_leave_no_output(setup):
    run, frame, tmp = setup
    frame[["id"]].to_csv(tmp / "no_text.csv", index=False)
    with pytest.raises(DataError, match="no column 'text'.*--text-column"):
        score_file(run, tmp / "no_text.csv", tmp / "o1.csv", progress=False)
    lines = [json.dumps({"id": str(i), "text": "good"}) for i in range(30)] + ["{broken"]
    (tmp / "bad.jsonl").write_text("\n".join(lines))
    with pytest.raises(DataError, match="line 31: invalid JSON"):
        score_file(run, tmp / "bad.jsonl", tmp / "o2.csv", chunk_rows=10, progress=False)
    assert not (tmp / "o2.csv").exists() and not list(tmp.glob(".o2.csv*"))


def test_memory_stays_flat_as_the_input_grows(setup, tmp_path):
    """Peak memory scoring 400k rows is within 60 MB of scoring 40k rows: the input is streamed."""
    run, _, _ = setup
    script = (
        "import resource, sys, rnnlab\n"
        "from rnnlab.use.predict import score_file\n"
        "run = rnnlab.load_run(sys.argv[1])\n"
        "score_file(run, sys.argv[2], sys.argv[3], progress=False, chunk_rows=5000)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    peaks = []
    for n in (40_000, 400_000):
        path = tmp_path / f"big{n}.csv"
        with open(path, "w") as fh:
            fh.write("id,text\n")
            for i in range(n):
                fh.write(f"{i},good w{i % 40} bad w{i % 7} fine\n")
        out = subprocess.run([sys.executable, "-c", script, str(run.dir), str(path), str(tmp_path / "o.csv")],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        peaks.append(int(out.stdout.strip().splitlines()[-1]))  # KiB
        assert sum(1 for _ in open(tmp_path / "o.csv")) == n + 1
    assert peaks[1] - peaks[0] < 60_000, peaks
