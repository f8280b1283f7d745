"""A run folder alone is enough to predict and evaluate later; broken folders get clear errors."""

import json
import shutil

import numpy as np
import pytest

import rnnlab
from helpers import toy_config, write_toy_csv
from rnnlab.data import load_for_run
from rnnlab.errors import RunError


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    data = write_toy_csv(tmp / "toy.csv")
    return rnnlab.train(toy_config(data, tmp / "runs")), data


def test_loaded_run_predicts_like_the_trained_one(trained):
    run, data = trained
    texts = ["good great fine", "bad awful poor", "", "w1 w2 w3 unknownword"]
    loaded = rnnlab.load_run(run.dir)
    np.testing.assert_allclose(loaded.predict(texts), run.predict(texts), rtol=0, atol=1e-6)
    p = loaded.predict(texts)
    assert p.shape == (4, 1) and p[0, 0] > 0.5 > p[1, 0]


def test_predict_order_is_kept_with_bucketing(trained):
    run, _ = trained
    texts = [("good " * k).strip() if k % 2 else ("bad " * k).strip() for k in range(1, 60)]
    batched = run.predict(texts, batch_size=7)
    one_by_one = np.concatenate([run.predict([t]) for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_evaluate_reproduces_the_training_metrics(trained):
    run, data = trained
    splits_val = rnnlab.load_run(run.dir)
    full = load_for_run(run.config, data)
    m = splits_val.evaluate(full)
    assert m["n"] == 400 and 0 <= m["accuracy"] <= 1 and "majority_accuracy" in m and m["loss"] > 0


def test_predict_rejects_a_single_string(trained):
    run, _ = trained
    with pytest.raises(TypeError, match="list of texts"):
        run.predict("good")


@pytest.mark.parametrize("remove", ["model.safetensors", "vocab.json", "config.toml", "labels.json"])
def test_incomplete_folder_is_refused(trained, tmp_path, remove):
    run, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(run.dir, copy)
    (copy / remove).unlink()
    with pytest.raises(RunError, match=remove):
        rnnlab.load_run(copy)


def test_truncated_weights_are_refused(trained, tmp_path):
    run, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(run.dir, copy)
    w = copy / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(RunError, match=r"model.safetensors. does not match manifest.json \(100 bytes where "
                                       r"manifest.json records"):
        rnnlab.load_run(copy)


def test_other_major_version_is_refused(trained, tmp_path):
    run, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(run.dir, copy)
    labels = json.loads((copy / "labels.json").read_text())
    labels["rnnlab_version"] = "9.0.0"
    (copy / "labels.json").write_text(json.dumps(labels))
    from rnnlab.runs import write_manifest

    write_manifest(copy)  # a consistent folder, written by another version
    with pytest.raises(RunError, match="rnnlab 9.0.0"):
        rnnlab.load_run(copy)


def test_not_a_folder(tmp_path):
    with pytest.raises(RunError, match="not a run folder"):
        rnnlab.load_run(tmp_path / "nothing")


def test_run_files_are_readable_like_any_new_file(trained):
    """Atomic writes go through mkstemp (0600); the files get the usual umask mode instead."""
    import os

    run, _ = trained
    mask = os.umask(0)
    os.umask(mask)
    assert (run.dir / "metrics.json").stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize("name", ["config.toml", "labels.json", "vocab.json", "model.safetensors", "metrics.json"])
@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_tampered_file_is_refused(trained, tmp_path, name, damage):
    run, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(run.dir, copy)
    f = copy / name
    data = bytearray(f.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01  # one bit
    else:
        data = data[: len(data) // 2]
    f.write_bytes(bytes(data))
    with pytest.raises(RunError, match=rf"'{f}' does not match manifest.json.*Nothing was loaded"):
        rnnlab.load_run(copy)


def test_missing_or_damaged_manifest_is_refused(trained, tmp_path):
    run, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(run.dir, copy)
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(RunError, match="manifest.json' is damaged"):
        rnnlab.load_run(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(RunError, match="is an unfinished run: it stopped before its manifest.json was written.*"
                                       "`rnnlab train --resume "):
        rnnlab.load_run(copy)


def test_an_added_protected_file_is_refused(trained, tmp_path):
    run, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(run.dir, copy)
    (copy / "thresholds.json").write_text('{"thresholds": {"pos": 0.01}}')
    with pytest.raises(RunError, match="thresholds.json' is not in manifest.json"):
        rnnlab.load_run(copy)
