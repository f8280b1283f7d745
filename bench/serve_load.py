"""Load test of ``rnnlab serve`` on loopback.

Starts ``rnnlab serve RUN`` on 127.0.0.1 and a free port (a subprocess, with a random API key),
then ``--clients`` concurrent clients (asyncio + httpx, one connection each) send
``--texts-per-request`` texts sampled from ``--data`` (default: the run's training data) per
request for ``--seconds`` seconds (and at most ``--requests`` requests in all). Prints and writes
requests/s, texts/s, p50 / p90 / p99 latency and the error count as JSON to
``bench/results/<date>-serve.json``; exits 1 on any error. Only loopback is ever contacted.

    python bench/serve_load.py runs/jigsaw_lstm --clients 16 --seconds 20 --texts-per-request 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np

import rnnlab
from rnnlab.data import load_for_run

HOST = "127.0.0.1"
RESULTS = Path(__file__).resolve().parent / "results"
# imports the command module itself, so this works whether or not `rnnlab.cli` lists `serve`
SERVE = [sys.executable, "-m", "rnnlab", "serve"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Load test of `rnnlab serve` on loopback.")
    p.add_argument("run", type=Path, help="Run folder to serve.")
    p.add_argument("--data", type=Path, help="Texts to send (default: the run's data.path).")
    p.add_argument("--clients", type=int, default=16, help="Concurrent clients (default 16).")
    p.add_argument("--seconds", type=float, default=20, help="How long to send requests (default 20).")
    p.add_argument("--requests", type=int, default=None, help="Stop after this many requests in all.")
    p.add_argument("--texts-per-request", type=int, default=8, help="Texts per request (default 8).")
    p.add_argument("--sample", type=int, default=5000, help="Texts sampled from the data (default 5000).")
    p.add_argument("--batch-wait-ms", type=float, default=1, help="Server --batch-wait-ms (default 1).")
    p.add_argument("--max-batch", type=int, default=512, help="Server --max-batch (default 512).")
    p.add_argument("--out", type=Path, default=None, help="Result JSON (default bench/results/<date>-serve.json).")
    return p.parse_args(argv)


def sample_texts(run: rnnlab.Run, data: Path | None, n: int) -> list[str]:
    ds = load_for_run(run.config, data or Path(run.config.data.path), labelled=False)
    rng = np.random.default_rng(0)
    return [ds.texts[i] for i in rng.choice(len(ds.texts), size=min(n, len(ds.texts)), replace=False)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(args: argparse.Namespace, port: int, key: str, log) -> subprocess.Popen:
    cmd = [*SERVE, str(args.run), "--host", HOST, "--port", str(port),
           "--max-texts", str(max(256, args.texts_per_request)), "--batch-wait-ms", str(args.batch_wait_ms),
           "--max-batch", str(args.max_batch)]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "RNNLAB_API_KEY": key})


def wait_ready(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer /v1/health within {timeout:.0f} s")


async def load(url: str, key: str, texts: list[str], args: argparse.Namespace) -> tuple[list[float], dict, float]:
    """(latencies in seconds of the successful requests, error kind → count, wall seconds)."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    remaining = args.requests if args.requests is not None else float("inf")
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as client:
        async def one_client(seed: int, end: float) -> None:
            nonlocal remaining
            rng = np.random.default_rng(seed)
            while time.monotonic() < end and remaining > 0:
                remaining -= 1
                batch = [texts[i] for i in rng.integers(0, len(texts), args.texts_per_request)]
                start = time.perf_counter()
                try:
                    r = await client.post("/v1/predict", json={"texts": batch})
                    ok = r.status_code == 200 and len(r.json()["predictions"]) == len(batch)
                    kind = None if ok else f"HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    kind = type(exc).__name__
                if kind is None:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors[kind] = errors.get(kind, 0) + 1

        await client.post("/v1/predict", json={"texts": texts[: args.texts_per_request]})  # warm-up
        began = time.monotonic()
        await asyncio.gather(*(one_client(i, began + args.seconds) for i in range(args.clients)))
        return latencies, errors, time.monotonic() - began


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = rnnlab.load_run(args.run)
    texts = sample_texts(run, args.data, args.sample)
    port, key = free_port(), secrets.token_urlsafe(24)
    url = f"http://{HOST}:{port}"
    load_before = os.getloadavg()  # other processes on the machine skew the figures
    with tempfile.TemporaryFile() as log:
        server = start_server(args, port, key, log)
        try:
            wait_ready(url, server)
            latencies, errors, wall = asyncio.run(load(url, key, texts, args))
        except RuntimeError as exc:
            log.seek(0)
            print(f"error: {exc}\n{log.read().decode(errors='replace')[-3000:]}", file=sys.stderr)
            return 1
        finally:
            stop(server)
    ms = np.asarray(latencies) * 1000
    n_errors = sum(errors.values())
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python", "bench/serve_load.py", *(argv if argv is not None else sys.argv[1:])]),
        "run": str(args.run), "model": run.name, "task": run.schema.task, "labels": run.labels,
        "clients": args.clients, "seconds": args.seconds, "texts_per_request": args.texts_per_request,
        "server": {"batch_wait_ms": args.batch_wait_ms, "max_batch": args.max_batch, "api_key": True,
                   "access_log": True},
        "requests": len(latencies), "texts": len(latencies) * args.texts_per_request, "wall_seconds": round(wall, 3),
        "requests_per_second": round(len(latencies) / wall, 1),
        "texts_per_second": round(len(latencies) * args.texts_per_request / wall, 1),
        "latency_ms": {name: round(float(np.percentile(ms, q)), 1) if len(ms) else None
                       for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))},
        "errors": n_errors, "error_kinds": errors,
        "mean_text_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "machine": {"cpus": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
                    "platform": platform.platform(), "python": platform.python_version(),
                    "torch": run.info.get("torch_version"), "rnnlab": rnnlab.__version__},
    }
    out = args.out or RESULTS / f"{datetime.now().strftime('%Y-%m-%d')}-serve.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lat = result["latency_ms"]
    print(f"{result['requests']:,} requests ({result['texts']:,} texts) in {wall:.1f} s from {args.clients} clients: "
          f"{result['requests_per_second']} requests/s, {result['texts_per_second']} texts/s, "
          f"latency p50 {lat['p50']} ms, p99 {lat['p99']} ms; errors: {n_errors} {errors or ''}")
    print(f"wrote {out}")
    return 1 if n_errors else 0


if __name__ == "__main__":
    sys.exit(main())
