"""A run folder's life (runs/lifecycle.py): a run stopped at any moment is either resumed by
``rnnlab train --resume RUN`` to the same end as an uninterrupted run, or refused by every
command with one line naming the command that works. These are the windows found by hand;
tests/train/test_crash_consistency.py kills a run at every file event."""

import json
import pathlib

import pytest
import torch

import rnnlab
from helpers import quick_plots, run_cli, toy_config, write_toy_csv

STOP = {"enabled": True, "monitor": "val_loss", "min_delta": 10.0, "patience": 1, "restore_best_weights": True}


def _tiny(tmp, **over) -> dict:
    cfg = toy_config(write_toy_csv(tmp / "toy.csv", n=60), tmp / "runs", fit__threads=1, fit__batch_size=30,
                     model__embedding={"dim": 4}, **over)
    cfg["model"]["layers"][0]["units"] = 4
    return cfg


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    """Quick plots; torch's thread count restored afterwards (the runs use one)."""
    quick_plots(monkeypatch)
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture()
def toy(tmp_path, fast):
    """(config dict, the folder of its uninterrupted run): 3 epochs, one thread."""
    cfg = _tiny(tmp_path, fit__epochs=3)
    straight = rnnlab.train(cfg, run_dir=tmp_path / "straight")
    return cfg, straight.dir


def _same_end(resumed: pathlib.Path, straight: pathlib.Path) -> None:
    for name in ("model.safetensors", "metrics.json", "validation_predictions.csv"):
        assert (resumed / name).read_bytes() == (straight / name).read_bytes(), name
    manifests = [json.loads((f / "manifest.json").read_text())["files"] for f in (resumed, straight)]
    for m in manifests:
        del m["config.toml"]  # names the folder
    assert manifests[0] == manifests[1]
    timing = ("seconds", "train_seconds")
    rows = [[{k: v for k, v in r.items() if k not in timing} for r in rnnlab.load_run(f).history]
            for f in (resumed, straight)]
    assert rows[0] == rows[1]
    assert not list((resumed / "checkpoints").glob("last*"))  # the resume state went with the finished run


def _refused_by_predict(folder, capsys, tmp_path) -> str:
    data = tmp_path / "x.csv"
    data.write_text("text\ngood fine\n")
    code, _, err = run_cli(["predict", folder, data, "--out", tmp_path / "p.csv"], capsys)
    assert code == 2 and err.count("error:") == 1 and len(err.strip().splitlines()) == 1, err
    return err


def test_killed_after_the_final_weights_before_the_manifest(toy, tmp_path, monkeypatch, capsys):
    """Killed in finishing, after model.safetensors (and the resume state's removal) but before
    manifest.json: predict names `rnnlab train --resume`, and resume accepts it."""
    cfg, straight = toy
    from rnnlab.runs import lifecycle

    def killed(folder):
        raise SystemExit(137)

    monkeypatch.setattr(lifecycle, "write_manifest", killed)
    with pytest.raises(SystemExit):
        rnnlab.train(cfg, run_dir=tmp_path / "a")
    monkeypatch.undo()
    quick_plots(monkeypatch)
    assert (tmp_path / "a" / "model.safetensors").exists() and not (tmp_path / "a" / "manifest.json").exists()
    err = _refused_by_predict(tmp_path / "a", capsys, tmp_path)
    assert f"rnnlab train --resume {tmp_path / 'a'}" in err
    code, _, err = run_cli(["train", "--resume", tmp_path / "a"], capsys)
    assert code == 0, err
    _same_end(tmp_path / "a", straight)


def test_killed_while_the_resume_files_are_removed(toy, tmp_path, monkeypatch, capsys):
    """Killed after the first of the resume files of the finished run was removed: never a
    last.json naming a missing file."""
    cfg, straight = toy
    real, seen = pathlib.Path.unlink, []

    def unlink(self, missing_ok=False):
        run = self.parent.parent
        if self.name.startswith("last") and self.exists() and (run / "model.safetensors").exists():
            seen.append(self.name)  # removed while finishing
            if len(seen) == 2:
                raise SystemExit(137)
        return real(self, missing_ok=missing_ok)

    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    with pytest.raises(SystemExit):
        rnnlab.train(cfg, run_dir=tmp_path / "a")
    monkeypatch.undo()
    quick_plots(monkeypatch)
    err = _refused_by_predict(tmp_path / "a", capsys, tmp_path)
    assert f"rnnlab train --resume {tmp_path / 'a'}" in err
    code, _, err = run_cli(["train", "--resume", tmp_path / "a"], capsys)
    assert code == 0, err
    _same_end(tmp_path / "a", straight)


def test_killed_after_the_early_stopping_epoch_is_saved(tmp_path, monkeypatch, capsys):
    """Killed after the resume state of the epoch that stopped training early was written, before
    the final weights: resume finishes the run; it does not train one more epoch."""
    cfg = _tiny(tmp_path, fit__epochs=4, fit__early_stopping=STOP)
    straight = rnnlab.train(cfg, run_dir=tmp_path / "straight")
    assert straight.metrics["status"] == "early_stopped" and straight.metrics["epochs_run"] == 2
    from rnnlab.train import rnn

    real = rnn.save_weights

    def save_weights(state, path):
        if path.name == "model.safetensors":
            raise SystemExit(137)
        return real(state, path)

    monkeypatch.setattr(rnn, "save_weights", save_weights)
    with pytest.raises(SystemExit):
        rnnlab.train(cfg, run_dir=tmp_path / "a")
    monkeypatch.undo()
    quick_plots(monkeypatch)
    assert json.loads((tmp_path / "a" / "checkpoints" / "last.json").read_text())["epoch"] == 2
    code, _, err = run_cli(["train", "--resume", tmp_path / "a"], capsys)
    assert code == 0, err
    _same_end(tmp_path / "a", straight.dir)


def test_ctrl_c_before_the_first_epoch_ended_is_resumed_from_the_start(tmp_path, monkeypatch, capsys):
    """Stopped during epoch 1: no epoch saved, so resume trains it again from the start (it used
    to refuse: "no epoch finished … train it again")."""
    from helpers import interrupt_in_epoch

    cfg = _tiny(tmp_path, fit__epochs=2)
    straight = rnnlab.train(cfg, run_dir=tmp_path / "straight")
    restore = interrupt_in_epoch(monkeypatch, 1)
    first = rnnlab.train(cfg, run_dir=tmp_path / "a")
    assert first.metrics["status"] == "interrupted" and not first.history
    restore()
    code, _, err = run_cli(["train", "--resume", tmp_path / "a"], capsys)
    assert code == 0, err
    assert "no epoch had finished; training again from the start" in (tmp_path / "a" / "log.txt").read_text()
    _same_end(tmp_path / "a", straight.dir)


def test_a_resumed_run_keeps_the_pretrained_vectors_record(tmp_path, monkeypatch):
    """metrics.json of a run with pretrained vectors, resumed, holds their coverage record as an
    uninterrupted run's does (it used to be missing: the vectors are not read again)."""
    import numpy as np

    from helpers import interrupt_in_epoch

    rng = np.random.default_rng(0)
    path = tmp_path / "vec.txt"
    path.write_text("".join(f"{w} {' '.join(f'{x:.6f}' for x in rng.normal(size=4))}\n" for w in ("good", "awful")))
    cfg = _tiny(tmp_path, fit__epochs=2)
    cfg["model"]["embedding"] = {"pretrained": str(path)}
    straight = rnnlab.train(cfg, run_dir=tmp_path / "straight")
    assert straight.metrics["pretrained_vectors"]["words_found"] == 2
    restore = interrupt_in_epoch(monkeypatch, 2)
    rnnlab.train(cfg, run_dir=tmp_path / "a")
    restore()
    resumed = rnnlab.train(resume=tmp_path / "a")
    assert resumed.metrics == straight.metrics


def test_thresholds_killed_before_the_manifest_is_refreshed(tmp_path, monkeypatch, capsys):
    """`rnnlab thresholds` killed between thresholds.json and the refreshed manifest: the run is
    not stuck (it used to be refused for good: a file "added after training", or "modified"):
    loading names `rnnlab train --resume`, which seals it again."""
    from rnnlab.runs import manifest

    run = rnnlab.train(_tiny(tmp_path, fit__epochs=1), run_dir=tmp_path / "a")
    real = manifest.write_manifest

    def killed(folder):
        raise SystemExit(137)

    from rnnlab.runs import lifecycle
    from rnnlab.use import thresholds

    monkeypatch.setattr(thresholds, "write_manifest", killed, raising=False)  # where it was called before

    monkeypatch.setattr(lifecycle, "write_manifest", killed)
    assert run_cli(["thresholds", run.dir], capsys)[0] == 137  # run_cli returns the SystemExit code
    monkeypatch.undo()
    assert (run.dir / "thresholds.json").exists() and real is manifest.write_manifest
    err = _refused_by_predict(run.dir, capsys, tmp_path)
    assert f"rnnlab train --resume {run.dir}" in err
    code, _, err = run_cli(["train", "--resume", run.dir], capsys)
    assert code == 0, err
    assert rnnlab.load_run(run.dir).thresholds == json.loads((run.dir / "thresholds.json").read_text())["thresholds"]
