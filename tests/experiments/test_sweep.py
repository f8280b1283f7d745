"""Sweeps: variants expanded from [sweep], one run each, recorded in an Optuna study; resume
after SIGKILL without rerunning finished variants; failures recorded and the sweep goes on."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w

from helpers import run_cli, toy_config, write_toy_csv
from rnnlab.config import load_config
from rnnlab.errors import ConfigError
from rnnlab.experiments.variants import expand
from rnnlab.report.compare import render, rows_from_study


def _config(tmp: Path, name: str, sweep: dict, **over) -> Path:
    data = tmp / "toy.csv"
    if not data.exists():
        write_toy_csv(data)
    cfg = toy_config(data, tmp / "runs", **over)
    cfg["name"] = name
    cfg["sweep"] = sweep
    path = tmp / f"{name}.toml"
    path.write_text(tomli_w.dumps(cfg))
    return path


def _study(tmp: Path, name: str):
    import optuna

    from rnnlab.experiments.sweep import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(None, tmp / "runs" / name / "study.journal"))


GRID = {"compile.optimizer": ["adam", "rmsprop"], "model.layers.0.type": ["LSTM", "GRU"], "baselines": False}


def test_grid_expansion_and_names(tmp_path):
    cfg = load_config(_config(tmp_path, "g", GRID))
    variants = expand(cfg)
    assert [v.name for v in variants] == ["optimizer=adam, layers.0.type=LSTM", "optimizer=adam, layers.0.type=GRU",
                                          "optimizer=rmsprop, layers.0.type=LSTM", "optimizer=rmsprop, "
                                                                                   "layers.0.type=GRU"]
    assert variants[1].config.model.layers[0].type == "GRU" and variants[2].config.compile.optimizer == "rmsprop"
    assert len({v.key for v in variants}) == 4
    assert not variants[0].config.sweep.params  # a variant's own config has no [sweep]


def test_random_mode_samples_n_trials_with_optuna(tmp_path):
    sweep = {"mode": "random", "n_trials": 3, "seed": 7, "compile.learning_rate": [0.1, 0.01, 0.001, 0.0001],
             "compile.optimizer": ["adam", "sgd"], "baselines": False}
    a = expand(load_config(_config(tmp_path, "r", sweep)))
    b = expand(load_config(_config(tmp_path, "r", sweep)))
    assert len(a) == 3 and [v.key for v in a] == [v.key for v in b]


def test_explicit_variants_cross_the_grid_and_baselines_are_added(tmp_path):
    sweep = {"variants": [{"name": "small", "model.layers.0.units": 4}, {"name": "big", "model.layers.0.units": 16}],
             "compile.optimizer": ["adam", "sgd"]}
    variants = expand(load_config(_config(tmp_path, "e", sweep)))
    assert len(variants) == 6
    assert [v.overrides.get("model.type") for v in variants[-2:]] == ["tfidf_lr", "nbsvm"]


@pytest.mark.parametrize("sweep,match", [
    ({"compile.optimizer": "adam"}, "non-empty list"),
    ({"compile.optimizr": ["adam"]}, "Unknown config key"),
    ({"model.layers.5.units": [3]}, "out of range"),
    ({"text.maxlen": [0, 10]}, "text.maxlen"),
])
def test_bad_sweep_tables_are_clear_errors(tmp_path, sweep, match):
    with pytest.raises(ConfigError, match=match):
        expand(load_config(_config(tmp_path, "bad", sweep)))


def test_sweep_runs_every_variant_and_records_it(tmp_path, capsys):
    path = _config(tmp_path, "grid", GRID, fit__epochs=2)
    code, out, err = run_cli(["sweep", path], capsys)
    assert code == 0, err
    study = _study(tmp_path, "grid")
    done = [t for t in study.trials if t.user_attrs.get("outcome") == "ok"]
    assert len(done) == 4 and len({t.user_attrs["variant_key"] for t in done}) == 4
    rows = rows_from_study(None, "grid", tmp_path / "runs" / "grid")
    assert all(r["outcome"] == "ok" and r["val_auc"] > 0.5 for r in rows)
    assert all(Path(r["run_dir"], "metrics.json").exists() for r in rows)
    md = render(rows, "md")
    assert "compile.optimizer" in md and "model.layers.0.type" in md and "| ok |" in md
    # the same command again reruns nothing
    before = {r["run_dir"]: Path(r["run_dir"], "metrics.json").stat().st_mtime for r in rows}
    code, _, err = run_cli(["sweep", path], capsys)
    assert code == 0, err
    assert len(_study(tmp_path, "grid").trials) == 4
    assert {d: Path(d, "metrics.json").stat().st_mtime for d in before} == before


def test_a_failing_variant_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    sweep = {"compile.learning_rate": [0.02, 1e10], "compile.optimizer": ["sgd"], "compile.loss": ["mse"],
             "baselines": False}
    path = _config(tmp_path, "fail", sweep)
    raw = load_config(path).to_dict()
    raw["model"]["layers"][-1]["activation"] = "linear"
    path.write_text(tomli_w.dumps(raw))
    code, out, err = run_cli(["sweep", path, "--force"], capsys)
    assert code == 0, err
    rows = {r["name"]: r for r in rows_from_study(None, "fail", tmp_path / "runs" / "fail")}
    bad = rows["learning_rate=10000000000.0, optimizer=sgd, loss=mse"]
    assert bad["outcome"] == "failed" and "loss became" in bad["reason"]
    assert rows["learning_rate=0.02, optimizer=sgd, loss=mse"]["outcome"] == "ok"
    assert "failed: The loss became" in out


def test_sigkill_then_resume_reruns_only_the_interrupted_variant(tmp_path):
    path = _config(tmp_path, "kill", GRID, fit__epochs=6)
    cmd = [sys.executable, "-m", "rnnlab", "sweep", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            time.sleep(0.5)
            if not (tmp_path / "runs" / "kill" / "study.journal").exists():
                continue
            trials = _study(tmp_path, "kill").trials
            finished = [t for t in trials if t.state.name == "COMPLETE"]
            running = [t for t in trials if t.state.name == "RUNNING" and "worker_pid" in t.user_attrs
                       and "outcome" not in t.user_attrs]
            if finished and running:
                break
        else:
            pytest.fail("the sweep never had a finished and a running variant at once")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = _study(tmp_path, "kill").trials
    first_done = {t.user_attrs["variant_key"]: t.number for t in before if t.user_attrs.get("outcome") == "ok"}
    killed = [t.user_attrs["variant_key"] for t in before if t.state.name == "RUNNING" and "worker_pid" in t.user_attrs
              and "outcome" not in t.user_attrs]  # a trial killed after recording its outcome had finished
    assert first_done and len(killed) == 1
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-2000:]
    after = _study(tmp_path, "kill").trials
    ok = [t for t in after if t.user_attrs.get("outcome") == "ok"]
    keys = [t.user_attrs["variant_key"] for t in ok]
    assert len(ok) == 4 and len(set(keys)) == 4  # complete, nothing duplicated
    for key, number in first_done.items():  # finished variants were not rerun
        assert [t.number for t in ok if t.user_attrs["variant_key"] == key] == [number]
    interrupted = [t for t in after if t.user_attrs.get("outcome") == "interrupted"]
    assert [t.user_attrs["variant_key"] for t in interrupted] == killed
    assert "interrupted; it will run again" in result.stdout


@pytest.mark.parametrize("outcome,state", [("ok", "COMPLETE"), ("pruned", "PRUNED"), ("failed", "FAIL")])
def test_a_worker_killed_after_recording_its_outcome_is_closed_not_rerun(tmp_path, outcome, state):
    """Killed between writing its outcome and closing the trial (the last two storage writes of a
    finished variant): on resume the trial is closed with that outcome and the variant is not rerun."""
    import optuna

    from rnnlab.experiments.sweep import Store, open_storage, prepare
    from rnnlab.train.progress import Reporter

    cfg = load_config(_config(tmp_path, "late", GRID))
    variants = expand(cfg)
    storage = open_storage(None, tmp_path / "runs" / "late" / "study.journal")
    store = Store(optuna.create_study(study_name="late", storage=storage, direction="maximize"), storage)
    prepare(store, variants, cfg, Reporter("quiet"))
    frozen = store.claim()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its worker no longer runs
    tid = store.trial_id(frozen)
    store.set(tid, worker_host=socket.gethostname(), worker_pid=gone.pid, heartbeat=time.time(),
              metrics={"val_auc": 0.75, "epochs": 2}, outcome=outcome, reason="")
    lines = []
    rep = Reporter("quiet")
    rep.message = lines.append
    prepare(store, variants, cfg, rep)
    trial = store.study.trials[frozen.number]
    assert trial.state.name == state and trial.user_attrs["outcome"] == outcome
    if outcome == "ok":
        assert trial.value == 0.75
    assert len(store.study.trials) == len(variants)  # nothing enqueued again
    assert not any("will run again" in line for line in lines)
    assert any(f"{frozen.user_attrs['variant_name']} had finished ({outcome})" in line for line in lines), lines


def test_two_local_workers_share_the_grid(tmp_path):
    path = _config(tmp_path, "two", GRID, fit__epochs=2)
    result = subprocess.run([sys.executable, "-m", "rnnlab", "sweep", str(path), "--workers", "2"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    trials = _study(tmp_path, "two").trials
    ok = [t for t in trials if t.user_attrs.get("outcome") == "ok"]
    assert len(ok) == 4 and len({t.user_attrs["variant_key"] for t in ok}) == 4
    assert len({t.user_attrs["worker_pid"] for t in ok}) == 2
    assert "starting 2 workers with 1 thread(s) each" in result.stdout


def test_pruning_stops_hopeless_variants(tmp_path, capsys):
    sweep = {"compile.learning_rate": [0.02, 0.03, 1e-7, 2e-7], "prune_after_epoch": 1, "baselines": False}
    path = _config(tmp_path, "prune", sweep, fit__epochs=4)
    code, out, err = run_cli(["sweep", path], capsys)
    assert code == 0, err
    rows = {r["name"]: r for r in rows_from_study(None, "prune", tmp_path / "runs" / "prune")}
    assert rows["learning_rate=1e-07"]["outcome"] == "pruned" or rows["learning_rate=2e-07"]["outcome"] == "pruned"
    assert rows["learning_rate=0.02"]["outcome"] == "ok" and rows["learning_rate=0.02"]["epochs"] == 4
    pruned = [r for r in rows.values() if r["outcome"] == "pruned"]
    assert all("below the median" in r["reason"] and r["epochs"] < 4 for r in pruned)


def test_compare_formats(tmp_path, capsys):
    path = _config(tmp_path, "fmt", {"compile.optimizer": ["adam", "rmsprop"], "baselines": False}, fit__epochs=1)
    assert run_cli(["sweep", path], capsys)[0] == 0
    folder = tmp_path / "runs" / "fmt"
    code, out, _ = run_cli(["compare", folder, "--format", "json"], capsys)
    rows = json.loads(out)
    assert code == 0 and len(rows) == 2 and {r["status"] for r in rows} == {"ok"}
    code, out, _ = run_cli(["compare", folder, "--format", "csv"], capsys)
    assert out.splitlines()[0].startswith("#,variant,compile.optimizer,params,best epoch,val loss,val AUC")
    code, out, _ = run_cli(["compare", *[r["run_dir"] for r in rows]], capsys)
    assert code == 0 and "compile.optimizer" in out
    code, _, err = run_cli(["compare", folder, "--format", "xml"], capsys)
    assert code == 2 and "--format" in err
