"""``rnnlab serve RUN --workers N``: N spawned worker processes on one port, one GET /metrics
summing them all, a killed worker replaced, Ctrl-C stopping everything and removing the metrics
folder, bad input refused before any worker starts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'rnnlab[serve]')")
pytest.importorskip("prometheus_client", reason="prometheus-client is not installed (pip install 'rnnlab[serve]')")
httpx = pytest.importorskip("httpx", reason="httpx is not installed (pip install 'rnnlab[test]')")

from helpers import run_cli, toy_config, write_toy_csv  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

import rnnlab  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("workers")
    data = write_toy_csv(tmp / "toy.csv", n=160, multilabel=True)
    return rnnlab.train(toy_config(data, tmp / "runs", name="gru", fit__epochs=1, fit__threads=1,
                                   data__label_columns=["pos", "loud"])).dir


def _workers(pid: int) -> set[int]:
    """The spawned worker processes of the server ``pid`` (not multiprocessing's resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"spawn_main" in cmd:
            found.add(int(entry.name))
    return found


def _wait(check, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = check()
        except httpx.TransportError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout:.0f} s")


def _raw(port: int, data: bytes) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it (within 10 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _metric(url: str, name: str, **labels) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc (Linux)")
def test_two_workers_share_the_port_the_metrics_and_replace_a_killed_one(run_dir, tmp_path):
    port, url = free_port(), None
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TMPDIR": str(tmp_path), "RNNLAB_API_KEY": ""}
    log = tmp_path / "server.log"
    with open(log, "wb") as fh:
        server = subprocess.Popen([sys.executable, "-m", "rnnlab", "serve", str(run_dir), "--port", str(port),
                                   "--workers", "2", "--no-access-log", "--header-timeout", "1"], stdout=fh,
                                  stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait(lambda: len(_workers(server.pid)) == 2, 120, "two workers started")
        _wait(lambda: httpx.get(f"{url}/v1/ready", timeout=2).status_code == 200, 180, "a worker was ready")
        first = _workers(server.pid)
        texts = ["good great fine", "awful boring !!"]
        expected = rnnlab.load_run(run_dir).predict(texts)
        for _ in range(12):  # a new connection each: the kernel spreads them over the workers
            r = httpx.post(f"{url}/v1/predict", json={"texts": texts}, timeout=30)
            assert r.status_code == 200, r.text
            got = [[p["probabilities"][label] for label in ("pos", "loud")] for p in r.json()["predictions"]]
            assert abs(sum(map(sum, got)) - float(expected.sum())) < 1e-4
        # each worker's protocol has the command's header deadline and the limits' max_body_bytes
        for _ in range(4):
            assert _raw(port, b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-").startswith(b"HTTP/1.1 408")
            big = _raw(port, b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n")
            assert big.startswith(b"HTTP/1.1 413") and b"max_body_bytes=1,000,000" in big, big
        # every scrape, whichever worker answers it, counts all 12 requests
        for _ in range(4):
            assert _metric(url, "rnnlab_http_requests_total", route="/v1/predict", status="200") == 12
        metrics_dirs = list(tmp_path.glob("rnnlab-serve-metrics-*"))
        assert len(metrics_dirs) == 1
        pids_with_values = {p.stem.rsplit("_", 1)[1] for p in metrics_dirs[0].glob("counter_*.db")}
        assert len(pids_with_values) == 2  # both workers answered requests

        victim = sorted(first)[0]
        os.kill(victim, signal.SIGKILL)
        replaced = _wait(lambda: (lambda now: now if len(now) == 2 and victim not in now else None)(
            _workers(server.pid)), 120, "the killed worker was replaced")
        assert first - {victim} <= replaced
        for _ in range(6):
            assert httpx.post(f"{url}/v1/predict", json={"texts": texts}, timeout=60).status_code == 200
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        code = server.wait(60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    out = log.read_text()
    assert code == 0, out[-3000:]
    assert "2 workers" in out and "Traceback" not in out
    assert not list(tmp_path.glob("rnnlab-serve-metrics-*"))  # the metrics folder is removed


def test_bad_worker_counts_and_runs_are_refused_before_any_worker_starts(run_dir, tmp_path, capsys):
    code, out, err = run_cli(["serve", run_dir, "--workers", "0"], capsys)
    assert code == 2 and "The 'workers' parameter must be an int >= 1. Got 0 instead." in err
    assert "serving" not in out
    code, out, err = run_cli(["serve", tmp_path / "nothing-here", "--workers", "2"], capsys)
    assert code == 2 and "nothing-here" in err and "Traceback" not in err
    assert "serving" not in out
