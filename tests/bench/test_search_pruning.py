"""bench/search_pruning.py on a tiny search: both halves in one file, each a real search with its
trials counted, and --only running one half while keeping the other's figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import tomli_w

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import search_pruning  # noqa: E402
from helpers import toy_config, write_toy_csv  # noqa: E402


def test_pruned_and_unpruned_halves_are_measured_and_merged(tmp_path):
    data = write_toy_csv(tmp_path / "toy.csv", n=160)
    cfg = toy_config(data, tmp_path / "runs", fit__epochs=3)
    cfg["sweep"] = {"mode": "tpe", "n_trials": 3, "seed": 0, "pruner": "hyperband",
                    "space": {"compile.learning_rate": {"low": 1e-3, "high": 5e-2, "log": True}}}
    (tmp_path / "search.toml").write_text(tomli_w.dumps(cfg))
    out = tmp_path / "res.json"
    search_pruning.main([str(tmp_path / "search.toml"), "--no-reference", "--only", "unpruned", "--out", str(out)])
    first = json.loads(out.read_text())
    assert list(first["runs"]) == ["none"] and first["runs"]["none"]["trials"] == 3
    assert first["runs"]["none"]["pruned"] == 0 and first["runs"]["none"]["epochs_trained"] >= 3
    assert first["runs"]["none"]["load_average"]["before"] and first["machine"]["cores"]
    search_pruning.main([str(tmp_path / "search.toml"), "--no-reference", "--only", "pruned", "--out", str(out)])
    both = json.loads(out.read_text())
    assert both["runs"]["none"] == first["runs"]["none"] and both["runs"]["hyperband"]["trials"] == 3
    assert both["runs"]["hyperband"]["best_value"] is not None


def test_the_preset_is_trained_once_with_the_same_threads_and_the_searches_kept(tmp_path):
    data = write_toy_csv(tmp_path / "toy.csv", n=160)
    plain = toy_config(data, tmp_path / "runs", fit__epochs=2)
    (tmp_path / "plain.toml").write_text(tomli_w.dumps(plain))
    out = tmp_path / "res.json"
    searched = {"none": {"seconds": 1.0, "epochs_trained": 3, "pruned": 0, "best_value": 0.5}}
    out.write_text(json.dumps({"runs": searched}))
    config = str(tmp_path / "plain.toml")
    got = search_pruning.main([config, "--only", "preset", "--preset", config, "--set", f"data.path={data}",
                               "--threads", "1", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["runs"] == searched and "reference" not in saved
    assert saved["preset"]["threads"] == 1 and saved["preset"]["overrides"] == [f"data.path={data}"]
    assert 0 < saved["preset"]["val_auc"] <= 1 and saved["preset"]["best_epoch"] in (1, 2)
    assert got["preset"] == saved["preset"]


def test_a_preset_is_named_as_on_the_command_line():
    from rnnlab.config import load_config, preset_path

    assert search_pruning.config_of("jigsaw-strong") == preset_path("jigsaw_strong")
    assert search_pruning.config_of("jigsaw_strong") == preset_path("jigsaw_strong")
    assert load_config(search_pruning.config_of("jigsaw-strong")).fit.epochs >= 1
    assert search_pruning.config_of("configs/mine.toml") == Path("configs/mine.toml")
