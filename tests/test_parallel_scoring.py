"""``rnnlab predict --workers N`` (use/predict.py): the same bytes as one process, input order
kept, a folder of shards read as one input, written atomically."""

import pandas as pd
import pytest

import rnnlab
from helpers import run_cli, toy_config, write_toy_csv
from rnnlab.use.predict import is_shards, score_file


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("parallel")
    data = write_toy_csv(tmp / "toy.csv", n=600, multilabel=True)
    # one thread: with `fit.threads = "auto"` the scoring's thread count follows timings, and the
    # count changes the floats' last bits (byte-equal outputs are promised for a fixed count)
    run = rnnlab.train(toy_config(data, tmp / "runs", data__label_columns=["pos", "loud"], fit__epochs=1,
                                  fit__threads=1))
    return run, pd.read_csv(data), tmp


def test_two_workers_write_the_same_bytes_as_one(setup):
    run, frame, tmp = setup
    frame[["id", "text"]].to_csv(tmp / "in.csv", index=False)
    one = score_file(run, tmp / "in.csv", tmp / "one.csv", chunk_rows=70, threshold=0.5, progress=False)
    two = score_file(run, tmp / "in.csv", tmp / "two.csv", chunk_rows=70, threshold=0.5, progress=False, workers=2)
    assert (tmp / "one.csv").read_bytes() == (tmp / "two.csv").read_bytes()
    assert one["rows"] == two["rows"] == 600 and two["workers"] == 2 and two["rows_per_second"] > 0
    assert pd.read_csv(tmp / "two.csv")["id"].tolist() == frame["id"].tolist()  # input order


def test_a_folder_of_shards_is_one_input_numbered_on(setup, capsys):
    run, frame, tmp = setup
    shards = tmp / "shards"
    shards.mkdir()
    texts = frame[["text"]]
    # shard sizes that are multiples of --chunk-rows: the same chunks as the whole file, the
    # condition docs/scale.md gives for equal bytes (forward passes of other sizes can differ in
    # the last float bit, and on some CPUs that moves a printed digit)
    texts.iloc[:200].to_csv(shards / "part-000.csv", index=False)
    texts.iloc[200:].to_parquet(shards / "part-001.parquet", index=False)
    assert is_shards(shards) and not is_shards(tmp)  # tmp holds a folder: not shards
    code, out, _ = run_cli(["predict", run.dir, shards, "--out", tmp / "shards.csv", "--workers", "2",
                            "--chunk-rows", "100"], capsys)
    assert code == 0 and "wrote 600 rows" in out and "rows/s" in out
    got = pd.read_csv(tmp / "shards.csv")
    assert got["id"].tolist() == list(range(1, 601))  # row numbers count on across shards
    texts.to_csv(tmp / "whole.csv", index=False)
    score_file(run, tmp / "whole.csv", tmp / "whole_out.csv", chunk_rows=100, progress=False)
    assert (tmp / "whole_out.csv").read_bytes() == (tmp / "shards.csv").read_bytes()


def test_a_failing_input_leaves_no_output(setup):
    run, frame, tmp = setup
    bad = tmp / "bad"
    bad.mkdir()
    frame[["id", "text"]].to_csv(bad / "a.csv", index=False)
    frame[["id"]].to_csv(bad / "b.csv", index=False)  # no text column
    with pytest.raises(rnnlab.errors.DataError, match="has no column 'text'"):
        score_file(run, bad, tmp / "never.csv", chunk_rows=100, progress=False, workers=2)
    assert not (tmp / "never.csv").exists()
