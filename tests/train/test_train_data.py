"""rnnlab.train(config, data=...): a DataFrame, a (texts, labels) pair or a path; the run folder
is the same as from a file and records where its data came from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rnnlab
from helpers import quick_plots, toy_config, write_toy_csv
from rnnlab.errors import ConfigError, RunError



@pytest.fixture(autouse=True)
def fast(monkeypatch):
    """Plots as one-line files: these tests are about the data and the API, not the pictures."""
    quick_plots(monkeypatch)

@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    path = write_toy_csv(folder / "toy.csv", n=200, multilabel=True)
    cfg = toy_config(path, folder / "runs", fit__epochs=1, fit__threads=1)
    del cfg["data"]["path"]
    return folder, path, cfg


def test_a_dataframe_trains_as_its_file(toy):
    folder, path, cfg = toy
    from_file = rnnlab.train(cfg, data=path, run_dir=folder / "file")
    frame = pd.read_csv(path)
    from_frame = rnnlab.train(cfg, data=frame, run_dir=folder / "frame")
    for name in ("model.safetensors", "validation_predictions.csv", "train_rows.safetensors"):
        assert (from_file.dir / name).read_bytes() == (from_frame.dir / name).read_bytes(), name
    saved = rnnlab.load_config(from_frame.dir / "config.toml")
    assert saved.data.path == from_frame.metrics["data"]["ref"]
    assert saved.data.path.startswith("memory:DataFrame:sha256=")
    assert from_frame.metrics["data"]["rows"] == 200 and len(from_frame.metrics["data"]["sha256"]) == 64
    assert from_file.metrics["data"]["source"] == str(path)
    with pytest.raises(ConfigError, match="was in memory when the run trained"):  # the saved config, trained again
        rnnlab.train(from_frame.dir / "config.toml", run_dir=folder / "again")


def test_a_pair_with_multilabel_labels(toy):
    folder, path, cfg = toy
    frame = pd.read_csv(path)
    cfg = {**cfg, "data": {**cfg["data"], "label_columns": ["pos", "loud"]}}
    run = rnnlab.train(cfg, data=(frame["text"].tolist(), frame[["pos", "loud"]].to_numpy()),
                       run_dir=folder / "pair")
    assert run.schema.task == "multilabel" and run.schema.labels == ["pos", "loud"]
    assert run.predict(["good great !!"]).shape == (1, 2)
    assert run.metrics["data"]["source"] == "texts+labels"


def test_resume_needs_the_same_table(toy):
    folder, path, cfg = toy
    frame = pd.read_csv(path)
    run = rnnlab.train(cfg, data=frame, run_dir=folder / "done")
    for name in ("manifest.json", "metrics.json"):  # started: resuming trains it again from the start
        (run.dir / name).unlink()
    with pytest.raises(RunError, match="resume it with the same table"):
        rnnlab.train(resume=run.dir)
    other = frame.assign(pos=np.roll(frame["pos"].to_numpy(), 1))
    with pytest.raises(RunError, match="the data given is memory:DataFrame:sha256="):
        rnnlab.train(resume=run.dir, data=other)
    assert rnnlab.train(resume=run.dir, data=frame).metrics["status"] == "completed"
