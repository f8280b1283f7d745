"""Several server processes on one port: ``rnnlab serve RUN --workers N``.

One server process answers on one core at most: its event loop (HTTP parsing, JSON, the ASGI
stack) and its batcher thread share one interpreter lock. With ``workers`` > 1, uvicorn's
supervisor (:class:`uvicorn.supervisors.Multiprocess`) binds the port once and starts that many
worker processes, spawned rather than forked (torch's thread pools do not survive a fork); the
kernel hands each new connection to one of them. Each worker loads the run itself (one copy of
the model per worker), warms up and answers ``GET /v1/ready`` for itself. The supervisor replaces
a worker whose process exits (SIGHUP replaces them all, one by one); one that fails before it
serves stops the server. Each worker's batcher tunes its own torch threads (``"auto"``: one
thread when the cores are busy, which N workers on N cores make them).

``GET /metrics`` counts every worker's requests: prometheus-client's multiprocess mode keeps each
worker's values in files under a temporary folder (``PROMETHEUS_MULTIPROC_DIR``, removed when the
server stops) and the worker that answers a scrape sums them; ``rnnlab_ready`` is the least of
the live workers' values and ``rnnlab_model_load_seconds`` the largest.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path

import uvicorn
from prometheus_client.multiprocess import mark_process_dead
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

from ...errors import RnnlabError, param_error
from .app import create_app, servable
from .limits import Limits
from .server import parser_class, server_config

SPEC_ENV = "RNNLAB_SERVE_SPEC"  # what each worker builds: the parent's options, as JSON
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
STARTUP_FAILURE = 3  # uvicorn's exit code of a worker that failed before it served
HEALTHCHECK_S = 60  # seconds a new worker has to start serving when SIGHUP replaces them all (uvicorn's)
_log = logging.getLogger("uvicorn.error")


def app_from_env():
    """The app of one worker, built from the spec the parent put in ``$RNNLAB_SERVE_SPEC``
    (uvicorn calls it in each worker: ``factory=True``)."""
    spec = json.loads(os.environ[SPEC_ENV])
    guarded = parser_class(spec["http"])
    guarded.header_timeout_s, guarded.max_body_bytes = float(spec["header_timeout_s"]), spec["limits"]["max_body_bytes"]
    run = spec["run"]
    if spec["int8"]:
        from ..quantize import quantized

        run = quantized(run)
    return create_app(run, Limits(**spec["limits"]))


class _Supervisor(Multiprocess):
    """uvicorn's supervisor with three changes, each for something seen here:

    - Ctrl-C reaches the workers as well as the supervisor (one process group): uvicorn's loop
      could find a worker stopped by it before it handled the signal itself, and start a new
      one. Pending signals are handled first, so a stopping server replaces no one.
    - A worker is replaced when its process has exited, not when it misses a ping: a spawned
      worker takes longer than uvicorn's 5 s to import torch on a busy machine, and was killed
      and replaced over and over.
    - Workers start with SIGINT ignored until their server takes it over, so a Ctrl-C while
      one is still importing stops it without a traceback; prometheus-client is told when a
      worker has died (its live gauges leave ``GET /metrics``)."""

    def __init__(self, config: uvicorn.Config, sockets, metrics_dir: str):
        super().__init__(config, sockets)
        self.metrics_dir = metrics_dir

    def _spawn(self) -> Process:
        process = Process(self.config, self.sockets)
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited until uvicorn handles it
        try:
            process.start()
        finally:
            signal.signal(signal.SIGINT, previous)
        return process

    def init_processes(self) -> None:  # noqa: D102
        self.processes = [self._spawn() for _ in range(self.processes_num)]

    def keep_subprocess_alive(self) -> None:  # noqa: D102
        self.handle_signals()
        if self.should_exit.is_set():
            return
        for idx, process in enumerate(self.processes):
            if process.process.is_alive():
                continue
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                _log.error(f"Worker process [{process.pid}] failed to start; stopping the server.")
                self.should_exit.set()
                return
            mark_process_dead(process.pid, self.metrics_dir)
            _log.info(f"Worker process [{process.pid}] died (exit code {process.exitcode}); starting another.")
            self.processes[idx] = self._spawn()


def serve_workers(run: str | Path, workers: int, limits: Limits = Limits(), *, int8: bool = False,
                  host: str = "127.0.0.1", port: int = 8000, header_timeout_s: float = 10.0,
                  keep_alive_s: float = 5.0, log_level: str = "info", access_log: bool = True,
                  http: str = "auto", loop: str = "auto", checked: Callable[[], None] | None = None) -> None:
    """Serve the run in ``run`` from ``workers`` processes on one port until interrupted.

    The run is loaded and checked here first (as :func:`~.app.create_app` checks it), so a bad
    folder is one error before any worker starts. The API key comes from ``$RNNLAB_API_KEY``,
    which the workers inherit.

    Args:
        run: the run folder.
        workers: worker processes, an int >= 1 (1 also works: one worker under the supervisor).
        limits: request limits and batching of every worker; default ``Limits()``.
        int8: serve the int8 model (:func:`rnnlab.use.quantize.quantized`); default False.
        host: interface to listen on; default "127.0.0.1".
        port: TCP port; default 8000.
        header_timeout_s: seconds a client has for a request line and headers; default 10.
        keep_alive_s: seconds an idle connection is kept between requests; default 5.
        log_level: uvicorn's log level; default "info".
        access_log: log every request (path without its query string); default True.
        http: the HTTP parser, "httptools", "h11" or "auto" (httptools when installed); default "auto".
        loop: the event loop, "uvloop", "asyncio" or "auto" (uvloop when installed); default "auto".
        checked: called once the run has passed its check, before the workers start (the
            command's "serving ..." line); default None.

    Raises:
        ConfigError: ``workers`` is not an int >= 1, a timeout is not a number > 0, or the parser
            or loop is unknown or not installed.
        RunError: the run cannot be loaded or served.
        RnnlabError: the port cannot be bound, or a worker failed before it served.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise param_error("workers", "an int >= 1", workers)
    config = server_config(f"{__name__}:app_from_env", host=host, port=port, header_timeout_s=header_timeout_s,
                           keep_alive_s=keep_alive_s, log_level=log_level, access_log=access_log, factory=True,
                           http=http, loop=loop, workers=workers,
                           timeout_worker_healthcheck=HEALTHCHECK_S)  # checks the options
    guarded = parser_class(http)
    config.http = f"{guarded.__module__}:{guarded.__name__}"  # spawned workers import it (app_from_env sets it)
    if int8:
        from ..quantize import quantized

        servable(quantized(run))
    else:
        servable(run)
    if checked is not None:
        checked()
    metrics_dir = tempfile.mkdtemp(prefix="rnnlab-serve-metrics-")
    spec = {"run": str(run), "int8": bool(int8), "header_timeout_s": float(header_timeout_s), "http": http,
            "limits": dataclasses.asdict(limits)}
    saved = {k: os.environ.get(k) for k in (SPEC_ENV, METRICS_ENV)}
    os.environ[SPEC_ENV], os.environ[METRICS_ENV] = json.dumps(spec), metrics_dir
    try:
        try:
            sock = config.bind_socket()
        except SystemExit:  # uvicorn logged the OSError
            raise RnnlabError(f"Cannot listen on {host}:{port} (see the line above); choose another --port or stop "
                              f"what holds it.") from None
        supervisor = _Supervisor(config, [sock], metrics_dir)
        supervisor.run()
        if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
            raise RnnlabError("A worker failed before it could serve (its error is in the log above); the server "
                              "stopped. `rnnlab serve RUN` without --workers shows the same error on its own.")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(metrics_dir, ignore_errors=True)
