"""Tracking (``[track]``, ``--track``): runs and sweeps logged to a real MLflow server and to the
default local store, read back through MLflow's own client; a dead server costs one warning
line and seconds; the MLflow UI lists a sweep's runs in headless Chromium; TensorBoard event
files hold every epoch's scalars.

The MLflow database's tables are made once per module (MLflow's schema migrations take seconds)
and copied wherever a store is needed: the code under test still opens, migrates-if-needed and
fills each store itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import tomli_w

from helpers import interrupt_in_epoch, quick_plots, run_cli, toy_config, write_toy_csv

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed: pip install 'rnnlab[mlflow]' (the test extra)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store with its tables made (copied, never used directly)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory, template_db):
    """A real `mlflow server` on 127.0.0.1 with a throw-away SQLite backend and artifact folder."""
    where = tmp_path_factory.mktemp("mlflow-server")
    shutil.copy(template_db, where / "backend.db")
    exe = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or shutil.which("mlflow")
    if exe is None:
        pytest.skip("the mlflow command is not installed: pip install 'rnnlab[mlflow]'")
    port = _free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no job-runner process
    log = open(where / "server.log", "w")
    proc = subprocess.Popen([exe, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                             "--backend-store-uri", f"sqlite:///{where / 'backend.db'}",
                             "--artifacts-destination", str(where / "artifacts")],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                log.flush()
                pytest.fail("mlflow server did not start: " + (where / "server.log").read_text()[-2000:])
            time.sleep(0.3)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the server and its uvicorn child: this test's own group
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _config(tmp: Path, name: str, **over) -> Path:
    data = tmp / "toy.csv"
    if not data.exists():
        write_toy_csv(data, n=160, multilabel=True)
    cfg = toy_config(data, tmp / "runs", **{"fit__epochs": 2, "fit__threads": 1, **over})
    cfg["data"]["label_columns"] = ["pos", "loud"]
    cfg["name"] = name
    path = tmp / f"{name}.toml"
    path.write_text(tomli_w.dumps(cfg))
    return path


@pytest.fixture(scope="module")
def tracked(server, tmp_path_factory):
    """A tiny run and a 3-variant sweep (through the CLI's --track) logged to the server."""
    from rnnlab import train

    mp = pytest.MonkeyPatch()
    quick_plots(mp)
    tmp = tmp_path_factory.mktemp("tracked")
    run = train(_config(tmp, "solo", track={"mlflow": True, "uri": server, "experiment": "solo-exp"}),
                verbose="quiet")
    sweep = _config(tmp, "trio", fit__epochs=1, track={"uri": server},
                    sweep={"model.layers.0.units": [4, 6, 8], "baselines": False})
    capsys = _Capture()
    code = capsys.cli(["sweep", sweep, "--track"])
    mp.undo()
    assert code == 0, capsys.err[-3000:]
    yield {"run": run, "uri": server, "sweep_out": capsys.out}


class _Capture:
    """run_cli for a module fixture (capsys is function-scoped): the CLI's output to files."""

    def cli(self, args) -> int:
        import contextlib
        import io

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code, _, _ = run_cli(args, _NoCapsys(out, err))
        self.out, self.err = out.getvalue(), err.getvalue()
        return code


class _NoCapsys:
    def __init__(self, out, err):
        self._out, self._err = out, err

    def readouterr(self):
        return type("R", (), {"out": self._out.getvalue(), "err": self._err.getvalue()})()


def _search(client, experiment: str) -> list:
    """Every run of an experiment, read back through MLflow's client (search_runs)."""
    return client.search_runs([client.get_experiment_by_name(experiment).experiment_id])


def test_a_run_on_a_server_has_params_epoch_metrics_tags_and_artifacts(tracked):
    from mlflow.tracking import MlflowClient

    from rnnlab import __version__
    from rnnlab.runs import read_tracking

    client = MlflowClient(tracking_uri=tracked["uri"])
    runs = _search(client, "solo-exp")
    assert len(runs) == 1
    r = runs[0]
    assert read_tracking(tracked["run"].folder)["mlflow"]["run_id"] == r.info.run_id
    assert r.info.status == "FINISHED" and r.info.run_name == "solo"
    p = r.data.params
    assert p["model.layers.0.units"] == "8" and p["compile.optimizer"] == "adam" and p["fit.epochs"] == "2"
    assert p["data.label_columns"] == '["pos", "loud"]' and p["track.mlflow"] == "true"
    history = client.get_metric_history(r.info.run_id, "val_loss")
    assert [m.step for m in sorted(history, key=lambda m: m.step)] == [1, 2]
    saved = tracked["run"].history  # what the run folder holds, epoch by epoch
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx([h["val_loss"] for h in saved])
    for key in ("loss", "accuracy", "val_auc", "learning_rate", "val_auc.pos", "val_auc.loud"):
        assert len(client.get_metric_history(r.info.run_id, key)) == 2, key
    final = tracked["run"].metrics["validation"]
    assert r.data.metrics["final_val_auc"] == pytest.approx(final["auc"])
    assert r.data.metrics["final_val_auc.loud"] == pytest.approx(final["auc_per_label"]["loud"])
    assert r.data.tags["rnnlab.version"] == __version__ and r.data.tags["rnnlab.status"] == "completed"
    assert len(r.data.tags["rnnlab.data_sha256"]) == 64
    names = {a.path for a in client.list_artifacts(r.info.run_id)}
    assert {"metrics.json", "config.toml", "manifest.json", "curves.png", "lengths.png"} <= names
    assert not any(n.endswith(".safetensors") or n == "run" for n in names)  # weights only with log_model
    local = client.download_artifacts(r.info.run_id, "metrics.json", str(tracked["run"].dir.parent / "dl"))
    assert Path(local).read_bytes() == tracked["run"].folder.metrics.read_bytes()


def test_a_sweep_is_a_parent_run_with_one_child_per_variant(tracked):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracked["uri"])
    runs = _search(client, "trio")
    assert {e.name for e in client.search_experiments()} == {"Default", "solo-exp", "trio"}  # no stray ones
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 3
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.tags["rnnlab.sweep"] == "trio"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert sorted(c.data.params["model.layers.0.units"] for c in children) == ["4", "6", "8"]
    assert {c.data.tags["rnnlab.outcome"] for c in children} == {"ok"}
    assert all(c.info.status == "FINISHED" for c in children)
    assert all(len(client.get_metric_history(c.info.run_id, "val_loss")) == 1 for c in children)
    best = max(children, key=lambda c: c.data.metrics["final_val_auc"])
    assert parent.data.metrics["best_val_auc"] == pytest.approx(best.data.metrics["final_val_auc"])
    assert parent.data.tags["rnnlab.best_variant"] == best.data.tags["rnnlab.variant"]


def test_the_mlflow_ui_lists_the_sweeps_runs_in_chromium(tracked, tmp_path_factory):
    """The UI is a JavaScript app: Chromium renders it (a virtual-time budget lets its requests
    finish) and the assertions read the rendered page's text."""
    import re

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium binary on PATH: install it with `apt-get install -y chromium` to render the MLflow UI")
    client = mlflow.tracking.MlflowClient(tracking_uri=tracked["uri"])
    runs = _search(client, "trio")
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    exp = runs[0].info.experiment_id
    out = tmp_path_factory.mktemp("mlflow-ui")

    def browse(page: str, *args: str) -> str:
        profile = out / f"profile{len(list(out.glob('profile*')))}"
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
               "--disable-background-networking", "--disable-component-update", f"--user-data-dir={profile}",
               "--window-size=1600,1000", "--virtual-time-budget=20000", *args, f"{tracked['uri']}/#/{page}"]
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False).stdout
        text = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|svg|script)\b.*?</\1>", "", dom, flags=re.S))
        return re.sub(r"\s+", " ", text)

    listing = browse(f"experiments/{exp}/runs", "--dump-dom")  # the experiment's runs: the parent, 4 in all
    assert "Run Name" in listing and " trio " in listing and "4 matching runs" in listing, listing[:3000]
    compare = f"compare-runs?runs=[{','.join(repr(c.info.run_id) for c in children)}]&experiments=[{exp!r}]"
    compare = compare.replace("'", '"')
    shown = browse(compare, "--dump-dom")  # the UI's Compare view of the three variants
    assert "Comparing 3 Runs" in shown, shown[:3000]
    for units in ("4", "6", "8"):
        assert f"units={units}" in shown  # the variant names
    assert re.search(r"model\.layers\.0\.units (\d) (\d) (\d)", shown)
    shot = out / "mlflow-ui.png"
    browse(compare, f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 10_000


def test_the_default_store_beside_runs_and_a_resumed_run_continues_its_mlflow_run(tmp_path, template_db,
                                                                                   monkeypatch):
    from mlflow.tracking import MlflowClient

    import rnnlab
    from rnnlab import train
    from rnnlab.runs import read_tracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    quick_plots(monkeypatch)
    (tmp_path / "runs").mkdir()
    shutil.copy(template_db, tmp_path / "runs" / "mlflow.db")  # tables made; rnnlab fills the store
    cfg = _config(tmp_path, "local", track={"mlflow": True, "tensorboard": True, "log_model": True})
    undo = interrupt_in_epoch(monkeypatch, 2)
    first = train(cfg, verbose="quiet")
    assert first.metrics["status"] == "interrupted"
    undo()
    uri = f"sqlite:///{(tmp_path / 'runs' / 'mlflow.db').resolve()}"
    record = read_tracking(first.folder)["mlflow"]
    assert record["tracking_uri"] == uri
    client = MlflowClient(tracking_uri=uri)
    assert client.get_run(record["run_id"]).info.status == "KILLED"
    done = train(resume=first.dir, verbose="quiet")
    assert done.metrics["status"] == "completed"
    runs = _search(client, "local")
    assert [r.info.run_id for r in runs] == [record["run_id"]] and runs[0].info.status == "FINISHED"
    history = sorted(client.get_metric_history(record["run_id"], "val_loss"), key=lambda m: m.step)
    assert [m.step for m in history] == [1, 2]
    assert [m.value for m in history] == pytest.approx([h["val_loss"] for h in done.history])
    artifacts = Path(client.get_experiment(runs[0].info.experiment_id).artifact_location.removeprefix("file://"))
    assert artifacts.parent == (tmp_path / "runs" / "mlartifacts").resolve()
    assert (artifacts / record["run_id"] / "artifacts" / "metrics.json").is_file()
    copy = rnnlab.load_run(artifacts / record["run_id"] / "artifacts" / "run")  # log_model: the folder, loadable
    assert copy.predict(["good great fine"]).tolist() == done.predict(["good great fine"]).tolist()

    # TensorBoard: the same run's event files hold every epoch's scalars and the lengths histogram
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars = {}
    for events in sorted(done.folder.tensorboard.glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0, "histograms": 0}).Reload()
        for tag in acc.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
        if "train_lengths" in acc.Tags()["histograms"]:
            hist = acc.Histograms("train_lengths")[0].histogram_value
            assert hist.num == 128 and hist.max <= 30
    assert sorted(s for s, _ in scalars["val_loss"]) == [1, 2]
    assert [v for _, v in sorted(scalars["val_loss"])] == pytest.approx([h["val_loss"] for h in done.history])
    assert {"loss", "accuracy", "val_auc", "learning_rate", "val_auc.loud"} <= set(scalars)


def test_a_dead_server_is_one_warning_and_the_run_finishes_in_seconds(tmp_path, capsys):
    from rnnlab import train
    from rnnlab.config import load_config
    from rnnlab.runs import read_tracking
    from rnnlab.train.progress import Reporter
    from rnnlab.train.track import MlflowSession

    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    cfg = _config(tmp_path, "dead", fit__epochs=1, track={"mlflow": True, "uri": url, "timeout": 2})
    t0 = time.perf_counter()  # what the dead server costs: the first call fails, the others are skipped
    session = MlflowSession(load_config(cfg), Reporter("quiet"))
    assert session.create_run("x", {}) is None and not session.alive
    seconds = time.perf_counter() - t0
    capsys.readouterr()
    run = train(cfg, verbose="line")
    out = capsys.readouterr()
    text = out.out + out.err
    warnings = [line for line in text.splitlines() if line.startswith("tracking:")]
    assert len(warnings) == 2, text[-3000:]
    assert warnings[0].startswith(f"tracking: MLflow at {url} failed (")
    assert warnings[0].endswith("training goes on without it")
    assert warnings[1].startswith("tracking: not logged to MLflow (") and "the run" in warnings[1]
    assert warnings[1].endswith("the experiment, the run, epoch 1 metrics, final metrics, 8 artifacts")
    assert run.metrics["status"] == "completed" and run.folder.manifest.exists()
    assert read_tracking(run.folder) == {}
    assert seconds < 10, f"a dead server cost {seconds:.1f} s"


def test_a_missing_tracking_package_is_one_line_naming_the_extra(tmp_path, capsys, monkeypatch):
    import importlib.util

    from rnnlab.train import track

    real = importlib.util.find_spec
    monkeypatch.setattr(track.importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard"
                        else real(name, *a))
    code, _, err = run_cli(["train", _config(tmp_path, "nopkg"), "--set", "track.tensorboard=true"], capsys)
    assert code == 2 and err.startswith("error: track.tensorboard = true needs the tensorboard package")
    assert 'pip install "rnnlab[tensorboard]"' in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_flattened_params_epoch_and_final_metrics():
    from rnnlab.config import from_dict
    from rnnlab.train.track import _summarise, epoch_metrics, final_metrics, flat_params

    cfg = from_dict({"name": "x", "model": {"embedding": {"dim": 8}, "layers": [{"type": "LSTM", "units": 3},
                                                                                {"type": "Dense"}]}})
    p = flat_params(cfg)
    assert p["model.layers.0.type"] == "LSTM" and p["model.layers.0.units"] == "3" and p["seed"] == "42"
    assert p["compile.metrics"] == '["accuracy", "auc"]' and p["fit.early_stopping.patience"] == "0"
    assert all(isinstance(v, str) for v in p.values()) and "track.mlflow" not in p  # tracking off: no [track]
    logs = {"epoch": 3, "loss": 0.5, "val_auc": float("nan"), "learning_rate": 0.001, "note": "x"}
    assert epoch_metrics(logs, {"auc_per_label": {"a b!": 0.7, "c": None}}) == {
        "loss": 0.5, "learning_rate": 0.001, "val_auc.a b_": 0.7}
    assert epoch_metrics(logs, {"auc_per_label": {"only": 0.7}}) == {"loss": 0.5, "learning_rate": 0.001}
    m = {"validation": {"loss": 0.4, "auc": 0.9, "auc_per_label": {"t": 0.8}, "note": "n"}, "epochs_run": 2,
         "best_value": None}
    assert final_metrics(m) == {"final_val_loss": 0.4, "final_val_auc": 0.9, "final_val_auc.t": 0.8, "epochs_run": 2.0}
    assert _summarise(["the run", "params", "params", "epoch 1", "epoch 2", "final metrics", "artifact a",
                       "artifact b"]) == "the run, params, epochs 1-2 metrics, final metrics, 2 artifacts"
