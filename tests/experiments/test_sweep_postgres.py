"""Several workers on one study: ``rnnlab sweep --workers 2`` and two ``rnnlab sweep`` processes
started at once (as two machines would) finish a grid with no lost and no duplicated variant —
on a real PostgreSQL server (``--storage postgresql://…``; see pg_server.py: Debian's package,
started on loopback here, skipped with the reason where it cannot start) and, for the
``--workers 2`` case, on the default journal file too (never skipped).

The races at the end are reproduced deterministically (a lock on PostgreSQL's catalog, or the
interleaving of two machines' steps written out in-process); each was a bug in
``rnnlab.experiments.sweep`` and is a regression test now.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import tomli_w

from experiments.pg_server import _connect, create_database, pg_server
from helpers import toy_config, write_toy_csv

GRID = {"compile.optimizer": ["adam", "sgd"], "model.layers.0.type": ["LSTM", "GRU"], "baselines": False}
SWEEP_TIMEOUT_S = 420


# ---------------------------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture(scope="module")
def pg_url():
    """A throw-away PostgreSQL server for this module; its default database's URL."""
    with pg_server() as url:
        yield url


@pytest.fixture
def pg_db(pg_url):
    """A fresh, empty database on that server for one test (studies never leak between tests)."""
    return create_database(pg_url, f"t_{uuid.uuid4().hex[:12]}")


def _storage_url(request, kind: str) -> str | None:
    """None: the default journal file; else the URL of a fresh PostgreSQL database."""
    return None if kind == "journal" else request.getfixturevalue("pg_db")


def _config(tmp: Path, name: str) -> Path:
    data = tmp / "toy.csv"
    if not data.exists():
        write_toy_csv(data)
    cfg = toy_config(data, tmp / "runs", fit__epochs=2, fit__threads=1)
    cfg["fit"]["verbose"] = "quiet"
    cfg["name"] = name
    cfg["sweep"] = dict(GRID)
    path = tmp / f"{name}.toml"
    path.write_text(tomli_w.dumps(cfg))
    return path


def _variants(path: Path) -> dict[str, str]:
    """variant key -> name of the config's sweep."""
    from rnnlab.config import load_config
    from rnnlab.experiments.variants import expand

    return {v.key: v.name for v in expand(load_config(path))}


def _sweep_cmd(path: Path, url: str | None, study: str, workers: int) -> list[str]:
    cmd = [sys.executable, "-m", "rnnlab", "sweep", str(path), "--study", study, "--workers", str(workers)]
    return cmd + (["--storage", url] if url else [])


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    out = open(log, "w")
    try:
        return subprocess.Popen(cmd, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        out.close()


def _wait(procs: list[subprocess.Popen], timeout: float = SWEEP_TIMEOUT_S) -> list[int]:
    deadline = time.time() + timeout
    try:
        return [p.wait(timeout=max(1.0, deadline - time.time())) for p in procs]
    except subprocess.TimeoutExpired:
        pytest.fail(f"`rnnlab sweep` did not finish within {timeout:.0f} s")
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, 9)
                p.wait()


def _tail(log: Path, n: int = 3000) -> str:
    return log.read_text(errors="replace")[-n:] if log.exists() else "(no log)"


def _load(url: str | None, tmp: Path, study: str):
    import optuna

    from rnnlab.experiments.sweep import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if url:
        return optuna.load_study(storage=url, study_name=study)
    return optuna.load_study(study_name=study, storage=open_storage(None, tmp / "runs" / study / "study.journal"))


def _assert_one_complete_study(study, variants: dict[str, str], *, duplicates_allowed: bool):
    """Every variant completed exactly once; extra trials only as recorded duplicates."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    summary = [(t.number, t.state.name, t.user_attrs.get("outcome"), variants.get(t.user_attrs.get("variant_key")),
                t.user_attrs.get("reason", "")) for t in trials]
    ok = [t for t in trials if t.user_attrs.get("outcome") == "ok"]
    counts = Counter(t.user_attrs.get("variant_key") for t in ok)
    missing = [variants[k] for k in variants if counts[k] == 0]
    twice = [variants.get(k, k) for k, c in counts.items() if c > 1]
    assert not missing, f"variants never completed: {missing}; trials: {summary}"
    assert not twice, f"variants completed more than once: {twice}; trials: {summary}"
    assert set(counts) == set(variants), f"completed trials of unknown variants; trials: {summary}"
    assert all(t.state == TrialState.COMPLETE and t.value is not None for t in ok), summary
    others = [t for t in trials if t.user_attrs.get("outcome") != "ok"]
    if not duplicates_allowed:
        assert not others and len(trials) == len(variants), f"unexpected extra trials: {summary}"
    for t in others:  # a second enqueue of a variant: recorded as a duplicate, never run
        assert t.user_attrs.get("outcome") == "duplicate" and t.state == TrialState.FAIL, summary
        assert t.user_attrs.get("variant_key") in counts, summary
        assert "run_dir" not in t.user_attrs and "worker_pid" not in t.user_attrs, summary
    return ok


# ---------------------------------------------------------------------------------------------
# the acceptance tests


@pytest.mark.parametrize("kind", ["journal", "postgresql"])
def test_two_local_workers_complete_the_study_once(tmp_path, request, kind):
    """`rnnlab sweep CONFIG [--storage postgresql://…] --workers 2`: one complete study, each
    variant trained exactly once, by two different worker processes."""
    url = _storage_url(request, kind)
    path = _config(tmp_path, "duo")
    variants = _variants(path)
    assert len(variants) == 4
    log = tmp_path / "sweep.log"
    proc = _start(_sweep_cmd(path, url, "duo", workers=2), log)
    codes = _wait([proc])
    assert codes == [0], _tail(log)
    ok = _assert_one_complete_study(_load(url, tmp_path, "duo"), variants, duplicates_allowed=False)
    pids = {t.user_attrs["worker_pid"] for t in ok}
    assert len(pids) == 2 and proc.pid not in pids, \
        f"expected the 4 variants to be shared by 2 worker processes (not the parent {proc.pid}); got {pids}"
    assert {t.user_attrs["worker_host"] for t in ok} == {socket.gethostname()}
    assert all(Path(t.user_attrs["run_dir"], "metrics.json").exists() for t in ok)
    assert "sweep: starting 2 workers" in _tail(log, 100_000)


def test_two_sweeps_started_at_once_share_one_postgres_study(tmp_path, pg_db):
    """Two `rnnlab sweep` processes (two machines) started together on one study: both prepare
    and enqueue, both work the queue; each variant completes once, a second enqueue of a variant
    ends as a recorded duplicate, and `rnnlab compare --storage` shows the 4 variants ok.

    The database's tables are created first (by opening the storage once): two processes
    creating Optuna's schema at the same instant is a separate race, pinned by
    test_two_sweeps_on_a_fresh_database_both_start below."""
    import optuna

    url = pg_db
    optuna.storages.RDBStorage(url).engine.dispose()
    path = _config(tmp_path, "pair")
    variants = _variants(path)
    logs = [tmp_path / "machine-a.log", tmp_path / "machine-b.log"]
    procs = [_start(_sweep_cmd(path, url, "pair", workers=1), log) for log in logs]
    codes = _wait(procs)
    assert codes == [0, 0], "\n---\n".join(_tail(log) for log in logs)
    study = _load(url, tmp_path, "pair")
    ok = _assert_one_complete_study(study, variants, duplicates_allowed=True)
    assert {t.user_attrs["worker_pid"] for t in ok} <= {p.pid for p in procs}
    by_pid = Counter(t.user_attrs["worker_pid"] for t in ok)
    print(f"\ntwo machines: trials {dict(Counter(t.user_attrs.get('outcome') for t in study.trials))}, "
          f"variants run per process {[by_pid[p.pid] for p in procs]}")

    result = subprocess.run([sys.executable, "-m", "rnnlab", "compare", "--storage", url, "--study", "pair",
                             "--format", "json"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(result.stdout)
    assert len(rows) == 4, rows
    assert sorted(r["name"] for r in rows) == sorted(variants.values())
    assert [r["status"] for r in rows] == ["ok"] * 4, [(r["name"], r["status_text"]) for r in rows]
    assert all(r["val_auc"] is not None for r in rows)


def test_rnnlab_reports_an_unreachable_postgres_clearly(tmp_path, pg_url):
    """A wrong port: a one-line error naming the storage, not a traceback."""
    from experiments.pg_server import free_port

    path = _config(tmp_path, "nowhere")
    url = f"postgresql+psycopg2://rnnlab@127.0.0.1:{free_port()}/rnnlab"
    result = subprocess.run(_sweep_cmd(path, url, "nowhere", 1), cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert "Cannot open the study storage" in text and "Connection refused" in text, text[-2000:]
    assert "Traceback" not in result.stderr


def test_a_bare_postgresql_url_opens_with_the_installed_driver(tmp_path, pg_db):
    """`--storage postgresql://user@host/db`, the form users type, works with the driver installed."""
    from rnnlab.experiments.sweep import open_storage

    url = pg_db.replace("postgresql+psycopg2://", "postgresql://")
    storage = open_storage(url, tmp_path / "unused.journal")
    assert storage.get_all_studies() == []


# ---------------------------------------------------------------------------------------------
# races in rnnlab.experiments.sweep, reproduced deterministically (regression tests)


def test_two_sweeps_on_a_fresh_database_both_start(tmp_path, pg_db):
    """Two machines start the first sweep of a new database together. PostgreSQL's catalog is
    locked until both processes are about to create Optuna's tables, so their CREATE TABLEs
    collide every time (unsynchronised, it happens in about a third of the starts)."""
    path = _config(tmp_path, "fresh")
    variants = _variants(path)
    dbname = pg_db.rsplit("/", 1)[1]
    holder = _connect(pg_db, dbname=dbname)
    monitor = _connect(pg_db)
    monitor.autocommit = True
    logs = [tmp_path / "machine-a.log", tmp_path / "machine-b.log"]
    procs = []
    try:
        with holder.cursor() as cur:
            cur.execute("LOCK TABLE pg_catalog.pg_type IN EXCLUSIVE MODE")
        procs = [_start(_sweep_cmd(path, pg_db, "fresh", workers=1), log) for log in logs]
        deadline = time.time() + 120
        while time.time() < deadline and all(p.poll() is None for p in procs):
            with monitor.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                            (dbname,))
                if cur.fetchone()[0] >= 2:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the two sweeps never both waited to create the tables")
    finally:
        holder.rollback()  # releases the catalog: both CREATE TABLEs go ahead at once
        holder.close()
        monitor.close()
    codes = _wait(procs)
    assert codes == [0, 0], "\n---\n".join(_tail(log) for log in logs)
    _assert_one_complete_study(_load(pg_db, tmp_path, "fresh"), variants, duplicates_allowed=True)


def _machine(url: str | None, tmp: Path, path: Path, study: str):
    """What `rnnlab sweep` sets up on one machine: (store, variants, cfg) after create_study."""
    import optuna

    from rnnlab.config import load_config
    from rnnlab.experiments.sweep import Store, open_storage
    from rnnlab.experiments.variants import expand

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = load_config(path)
    storage = open_storage(url, tmp / "runs" / study / "study.journal")
    st = optuna.create_study(study_name=study, storage=storage, load_if_exists=True, direction="maximize")
    return Store(st, storage), expand(cfg), cfg


@pytest.mark.parametrize("kind", ["journal", "postgresql"])
def test_a_just_claimed_trial_is_not_taken_over_by_a_starting_machine(tmp_path, request, kind):
    from optuna.trial import TrialState

    from rnnlab.experiments.sweep import prepare, recover_stale, run_variant
    from rnnlab.train.progress import Reporter

    url = _storage_url(request, kind)
    path = _config(tmp_path, "claim")
    store_a, variants, cfg = _machine(url, tmp_path, path, "claim")
    prepare(store_a, variants, cfg, Reporter("quiet"))
    frozen = store_a.claim()  # machine A's worker has claimed a variant, not yet written its attrs
    assert frozen is not None
    store_b, _, _ = _machine(url, tmp_path, path, "claim")  # machine B starts `rnnlab sweep` now
    taken = recover_stale(store_b)
    variant = {v.key: v for v in variants}[frozen.user_attrs["variant_key"]]
    # machine A goes on with the trial it claimed
    outcome = run_variant(store_a, frozen, variant, tmp_path / "runs" / "claim", force=False, threads=1,
                          rep=Reporter("quiet"))
    assert taken == [] and outcome == "ok"
    assert store_a.study.trials[frozen.number].state == TrialState.COMPLETE


@pytest.mark.parametrize("kind", ["journal", "postgresql"])
def test_two_machines_recovering_the_same_dead_trial_both_start(tmp_path, request, kind, monkeypatch):
    """Two machines restarting at once both list the same dead RUNNING trial; the second to
    write finds it already finished by the first and must skip it, not crash at startup."""
    from optuna.trial import TrialState

    from rnnlab.experiments.sweep import prepare, recover_stale
    from rnnlab.train.progress import Reporter

    url = _storage_url(request, kind)
    path = _config(tmp_path, "dead")
    store_a, variants, cfg = _machine(url, tmp_path, path, "dead")
    prepare(store_a, variants, cfg, Reporter("quiet"))
    frozen = store_a.claim()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a worker that was killed: its pid no longer runs
    store_a.set(store_a.trial_id(frozen), worker_host=socket.gethostname(), worker_pid=gone.pid,
                started_at=time.time() - 60, heartbeat=time.time() - 60)
    store_b, _, _ = _machine(url, tmp_path, path, "dead")
    listed = store_b.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))  # B lists RUNNING trials
    assert [t.number for t in listed] == [frozen.number]
    assert recover_stale(store_a) == [frozen.user_attrs["variant_name"]]  # A recovers it meanwhile
    monkeypatch.setattr(store_b.study, "get_trials", lambda *a, **k: listed)  # B goes on with its list
    assert recover_stale(store_b) == []
    monkeypatch.undo()
    trial = store_b.study.trials[frozen.number]
    assert trial.state == TrialState.FAIL and trial.user_attrs["outcome"] == "interrupted"
