"""``rnnlab serve RUN``: the model in RUN behind a JSON API (FastAPI + uvicorn, extra ``serve``)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from ..errors import RnnlabError
from .common import app, err


@app.command("serve")
def serve(run: Path = typer.Argument(..., help="Run folder."),
          host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0: every interface)."),
          port: int = typer.Option(8000, help="TCP port."),
          max_texts: int = typer.Option(256, help="Texts per request; more is refused with 413."),
          max_chars: int = typer.Option(20_000, help="Characters per text; a longer text is refused with 422."),
          max_body_bytes: int = typer.Option(1_000_000, help="Request body size; more is refused with 413."),
          batch_wait_ms: float = typer.Option(1, help="How long a batch waits for more requests after the first."),
          max_batch: int = typer.Option(512, help="Texts scored together in one forward pass."),
          header_timeout: float = typer.Option(10, help="Seconds a client has to send a request line and headers; "
                                                        "then 408 and the connection is closed."),
          body_timeout: float = typer.Option(30, help="Seconds a client has to send a request body once its headers "
                                                      "are in; then 408 and the connection is closed."),
          keep_alive_timeout: float = typer.Option(5, help="Seconds an idle connection is kept open between "
                                                            "requests."),
          explain_max_texts: int = typer.Option(16, help="Texts per POST /v1/explain request; more is refused with "
                                                         "413."),
          explain_max_chars: int = typer.Option(2_000, help="Characters per text of POST /v1/explain; a longer one "
                                                            "is refused with 422."),
          explain_steps: int = typer.Option(32, help="Integrated Gradients steps of POST /v1/explain."),
          int8: bool = typer.Option(False, "--int8", help="Serve the model quantized to int8 (LSTM / GRU / Dense "
                                                          "weights; check it first with `rnnlab quantize RUN`)."),
          access_log: bool = typer.Option(True, "--access-log/--no-access-log",
                                          help="Log every request (method, path without its query string, status)."),
          http: str = typer.Option("auto", help="HTTP parser: httptools (llhttp, in C), h11 (pure Python), or auto "
                                                "(httptools when installed; both give the same answers)."),
          loop: str = typer.Option("auto", help="Event loop: uvloop, asyncio, or auto (uvloop when installed)."),
          workers: int = typer.Option(1, help="Server processes on the one port, each with its own copy of the model "
                                              "(one per core: a process answers on one core at most)."),
          ) -> None:
    """Serve RUN over HTTP: POST /v1/predict, POST /v1/explain, GET /v1/model, GET /v1/health,
    GET /v1/ready, GET /metrics (Prometheus), docs at /docs. With $RNNLAB_API_KEY set, requests
    need 'Authorization: Bearer <key>' (not /v1/health, /v1/ready, /metrics); a key in the URL is
    refused and query strings are never logged."""
    try:
        from ..use.serve import API_KEY_ENV, Limits, create_app, run_server, serve_workers, server_config
    except ModuleNotFoundError as exc:
        raise RnnlabError(f"rnnlab serve needs the '{exc.name}' package: pip install 'rnnlab[serve]'.") from None
    limits = Limits(max_texts=max_texts, max_chars=max_chars, max_body_bytes=max_body_bytes,
                    batch_wait_ms=batch_wait_ms, max_batch=max_batch, body_timeout_s=body_timeout,
                    explain_max_texts=explain_max_texts, explain_max_chars=explain_max_chars,
                    explain_steps=explain_steps)
    server_config(None, header_timeout_s=header_timeout, keep_alive_s=keep_alive_timeout,
                  access_log=access_log, http=http, loop=loop)  # check before loading
    keyed = bool(os.environ.get(API_KEY_ENV))
    if workers != 1:
        serve_workers(run, workers, limits, int8=int8, host=host, port=port, header_timeout_s=header_timeout,
                      keep_alive_s=keep_alive_timeout, access_log=access_log, http=http, loop=loop,
                      checked=lambda: _announce(run, host, port, keyed, f", {workers} workers"))
        return
    if int8:
        from ..use.quantize import quantized

        api = create_app(quantized(run), limits)
    else:
        api = create_app(run, limits)
    _announce(run, host, port, keyed)
    run_server(api, host=host, port=port, header_timeout_s=header_timeout, keep_alive_s=keep_alive_timeout,
               access_log=access_log, http=http, loop=loop)


def _announce(run: Path, host: str, port: int, keyed: bool, extra: str = "") -> None:
    from ..use.serve import API_KEY_ENV

    print(f"serving {run} on http://{host}:{port}{extra} (docs: /docs); API key: "
          f"{'required (from $' + API_KEY_ENV + ')' if keyed else 'none'}", flush=True)
    if not keyed and host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"warning: listening on {host} without an API key: anyone who can reach this port can use "
                  f"the model. Set {API_KEY_ENV} to require one.", markup=False)
