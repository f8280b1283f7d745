"""A sweep whose trials train data-parallel (``rnnlab sweep --nproc 2``): each variant runs as
``rnnlab train --nproc 2`` (torchrun's agent, gloo), its run folder is complete and its epochs
reach the study. The PostgreSQL storage shared by several machines is tested in
test_sweep_postgres.py; the storage is the same whatever --nproc is."""

import os
import subprocess
import sys

import optuna
import tomli_w

from helpers import ROOT, toy_config, write_toy_csv
from rnnlab.experiments.sweep import open_storage
from rnnlab.runs import Run


def test_each_trial_trains_on_two_processes(tmp_path):
    data = write_toy_csv(tmp_path / "toy.csv", n=300)
    cfg = toy_config(data, tmp_path / "runs", fit__epochs=2, fit__threads=1)
    cfg["name"] = "ddp"
    cfg["sweep"] = {"compile.optimizer": ["adam"], "baselines": False}
    path = tmp_path / "ddp.toml"
    path.write_text(tomli_w.dumps(cfg))
    # a subprocess: torchrun's agent leaves threads behind, and later tests fork the test process
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "rnnlab", "sweep", str(path), "--nproc", "2"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    study = optuna.load_study(study_name="ddp", storage=open_storage(None, tmp_path / "runs" / "ddp" / "study.journal"))
    (trial,) = study.trials
    attrs = trial.user_attrs
    why = f"{attrs['outcome']}: {attrs.get('reason')}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert attrs["outcome"] == "ok", why
    assert sorted(trial.intermediate_values) == [1, 2]  # the epochs, reported when the trial ended
    run = Run.load(trial.user_attrs["run_dir"])
    assert "2 processes" in (run.dir / "log.txt").read_text()  # trained data-parallel
    assert abs(trial.value - run.metrics["validation"]["auc"]) < 1e-9
