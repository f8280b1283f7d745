"""``rnnlab evaluate`` warns (one line, and a flag in its metrics JSON) when it scores rows the run
was trained on: by id when the data has an id column, else by the text's hash. The run keeps the
keys of its training rows in train_rows.safetensors; a run without it cannot be checked."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

import rnnlab
from rnnlab._io import sha256_file
from helpers import quick_plots, run_cli, toy_config, write_toy_csv
from rnnlab.data.dataset import TextDataset
from rnnlab.data.rows import RowKeys, overlap, row_keys
from rnnlab.errors import RunError
from rnnlab.runs import RunFolder, read_train_rows, write_manifest, write_train_rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("overlap")
    data = write_toy_csv(folder / "toy.csv", n=200)
    with pytest.MonkeyPatch.context() as mp:
        quick_plots(mp)  # plots as one-line files: this is about the rows, not the pictures
        run = rnnlab.train(toy_config(data, folder / "runs", fit__epochs=1, fit__threads=1))
    return folder, data, run


def _evaluate(capsys, run, data, out):
    code, stdout, err = run_cli(["evaluate", run, data, "--out", out], capsys)
    assert code == 0, err
    return stdout, json.loads(out.read_text())


def test_the_run_keeps_its_training_rows(trained):
    _, data, run = trained
    keys = read_train_rows(run.folder)
    frame = pd.read_csv(data)
    assert len(keys.texts) == run.metrics["train_rows"] == 160 and keys.id_column == "id"
    assert np.all(np.diff(keys.texts.astype(np.float64)) > 0) and keys.texts.dtype == np.uint64  # sorted, unique
    assert "train_rows.safetensors" in json.loads((run.dir / "manifest.json").read_text())["files"]
    assert run.metrics["data"] == {"source": str(data), "sha256": sha256_file(data)}
    assert len(frame) == 200


def test_overlap_by_id_warns_with_count_and_fraction(trained, capsys):
    folder, data, run = trained
    stdout, m = _evaluate(capsys, run.dir, data, folder / "m1.json")
    warnings = [line for line in stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "same id" in warnings[0]
    assert "160 of 200 rows (80.0%) are training rows" in warnings[0]
    assert m["overlaps_training"] is True
    assert m["training_overlap"] == {"checked": True, "by": "id", "rows": 160, "of": 200, "fraction": 0.8}


def test_overlap_by_text_without_ids(trained, capsys):
    folder, data, run = trained
    frame = pd.read_csv(data).drop(columns=["id"]).iloc[::-1]  # no id column; order does not matter
    frame.to_csv(folder / "noid.csv", index=False)
    stdout, m = _evaluate(capsys, run.dir, folder / "noid.csv", folder / "m2.json")
    assert m["training_overlap"]["by"] == "text" and m["training_overlap"]["rows"] == 160
    assert "same text" in stdout


def test_no_warning_on_new_rows(trained, capsys):
    folder, _, run = trained
    fresh = pd.read_csv(write_toy_csv(folder / "fresh.csv", n=60, seed=99))
    fresh["id"] = "new" + fresh["id"]
    fresh.to_csv(folder / "fresh.csv", index=False)
    stdout, m = _evaluate(capsys, run.dir, folder / "fresh.csv", folder / "m3.json")
    assert "warning:" not in stdout and "note: " not in stdout
    assert m["overlaps_training"] is False and m["training_overlap"]["rows"] == 0


def test_an_old_run_cannot_be_checked_and_says_so(trained, capsys, tmp_path):
    _, data, run = trained
    old = tmp_path / "old"
    shutil.copytree(run.dir, old)
    (old / "train_rows.safetensors").unlink()  # as written before the file existed
    write_manifest(RunFolder(old))
    stdout, m = _evaluate(capsys, old, data, tmp_path / "m.json")
    notes = [line for line in stdout.splitlines() if "cannot check" in line]
    assert len(notes) == 1 and "warning:" not in stdout
    assert m["overlaps_training"] is None and m["training_overlap"] == {"checked": False}
    assert 0 <= m["accuracy"] <= 1  # evaluated all the same


def test_keys_round_trip_and_a_damaged_file_is_refused(tmp_path):
    ds = TextDataset(ids=np.asarray(["a", "b", "c"], dtype=object), texts=["x", "y", "x"], targets=None, schema=None,
                     source="t", id_column="id")
    keys = row_keys(ds)
    assert len(keys.texts) == 2 and len(keys.ids) == 3  # the duplicate text is one key
    folder = RunFolder(tmp_path)
    write_train_rows(folder, keys)
    first = folder.train_rows.read_bytes()
    write_train_rows(folder, keys)
    assert folder.train_rows.read_bytes() == first  # reproducible bytes
    back = read_train_rows(folder)
    assert np.array_equal(back.texts, keys.texts) and np.array_equal(back.ids, keys.ids) and back.id_column == "id"
    assert overlap(back, ds).to_dict() == {"checked": True, "by": "id", "rows": 3, "of": 3, "fraction": 1.0}
    no_ids = RowKeys(back.texts)
    assert overlap(no_ids, ds).by == "text" and overlap(no_ids, ds).rows == 3
    folder.train_rows.write_bytes(first[:-5])
    with pytest.raises(RunError, match="train_rows.safetensors.*restore it or retrain"):
        read_train_rows(folder)


def test_a_blend_checks_its_members_rows(trained, capsys, tmp_path):
    folder, data, run = trained
    twin = tmp_path / "twin"
    shutil.copytree(run.dir, twin)
    blended, _ = rnnlab.blend([run.dir, twin], out=tmp_path / "blend")
    assert not (blended.dir / "train_rows.safetensors").exists()  # the members' rows are the blend's
    _, m = _evaluate(capsys, blended.dir, data, tmp_path / "m.json")
    assert m["training_overlap"] == {"checked": True, "by": "id", "rows": 160, "of": 200, "fraction": 0.8}
