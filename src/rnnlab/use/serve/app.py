"""The HTTP API of a trained run: a FastAPI app with a micro-batcher in front of ``Run.predict``.

``create_app(run_or_path)`` builds the app; ``rnnlab serve RUN`` runs it with uvicorn.

- ``POST /v1/predict`` ``{"texts": [...]}``: per text the probability of every label and the
  labels at or above their threshold (multi-class: the probability of every class and the
  arg-max class);
- ``GET /v1/model``: labels, task, config hash, vocabulary size, validation metrics,
  thresholds, the calibration applied (method and per-label parameters, or null) and limits;
- ``POST /v1/explain`` ``{"texts": [...], "labels": [...]}``: per text and label one
  attribution per token (:mod:`rnnlab.use.explain`), under the smaller ``explain_*`` limits;
- ``GET /v1/health``: ``{"status": "ok"}`` (liveness), open even when an API key is set;
- ``GET /v1/ready``: 200 once the model is loaded and warmed up, 503 before (readiness), open;
- ``GET /metrics``: Prometheus metrics (:mod:`.metrics`), open, not in the OpenAPI document.

Every error is ``{"error": {"code": ..., "message": ...}}``. Texts from concurrent requests are
scored together: one worker thread runs the model on one batch at a time. A valid
``/v1/predict`` request is answered by :mod:`.fastpath` (orjson, no pydantic); anything else
goes to the FastAPI route, whose validation makes the error answers.
"""

import asyncio
import hashlib
import logging
import math
import os
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..._version import __version__
from ...engine import calibration as calib
from ...errors import ConfigError, RnnlabError, RunError
from ...runs import Run
from ...runs.files import JSON_MAX_BYTES, read_run_bytes
from ...text.tokenizer import Tokenizer
from ..explain import explain_texts
from .batcher import MicroBatcher
from .fastpath import FastPredict
from .limits import API_KEY_ENV, HTTP_CODES, OPEN_PATHS, Gate, Limits, error_response, validation_error
from .metrics import ServeMetrics
from .schemas import (ErrorBody, ExplainResponse, Health, ModelInfo, PredictResponse, Ready, explain_request_model,
                      request_model)

ENDPOINTS = ("POST /v1/predict, POST /v1/explain, GET /v1/model, GET /v1/health, GET /v1/ready (documented at /docs) "
             "and GET /metrics")
WARM_TEXT = "warm up the model with a batch of short texts"
WARM_ROWS = 32


def _warm_up(batcher: MicroBatcher, limits: Limits) -> None:
    """A batch through the batcher's own thread (its thread settings and tuner start there),
    not counted in the metrics."""
    batcher.submit([WARM_TEXT] * min(WARM_ROWS, limits.max_batch), record=False).result()


class _Predictions:
    """Turns model outputs into the response's predictions. Built with one warm-up prediction,
    which also checks that the model has one output per label."""

    def __init__(self, run: Run):
        self.labels, self.task = run.labels, run.schema.task
        k = run.predict([""]).shape[1]
        if self.task == "binary" and k == 2:
            self.columns = [1]  # a 2-unit softmax over a 0/1 label: column 1 is P(label = 1)
        elif k == len(self.labels):
            self.columns = list(range(k))
        else:
            raise RunError(f"'{run.dir}': the model has {k} output(s) for {len(self.labels)} label(s) "
                           f"({', '.join(self.labels)}), so it cannot be served. `rnnlab check` on its config "
                           f"names the problem; retrain with one output per label.")
        stored = getattr(run, "thresholds", None) or {}
        self.thresholds = (None if self.task == "multiclass"
                           else {label: float(stored.get(label, 0.5)) for label in self.labels})
        if self.thresholds is not None:
            self._cut = np.array([self.thresholds[label] for label in self.labels], dtype=np.float64)

    def __call__(self, outputs: np.ndarray) -> list[dict]:
        probs = outputs[:, self.columns].astype(np.float64)
        rows = [dict(zip(self.labels, row)) for row in probs.tolist()]
        if self.thresholds is None:
            return [{"probabilities": p, "label": self.labels[k]} for p, k in zip(rows, probs.argmax(1).tolist())]
        above = (probs >= self._cut).tolist()  # one vectorized compare, not a dict lookup per label
        return [{"probabilities": p, "labels": [label for label, hit in zip(self.labels, row) if hit]}
                for p, row in zip(rows, above)]


def _finite(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _model_info(run: Run, predictions: _Predictions, limits: Limits, calibration: dict | None) -> dict:
    val = run.metrics.get("validation", {})
    return {"model": run.name, "task": run.schema.task, "labels": run.labels,
            "config_sha256": hashlib.sha256(read_run_bytes(run.folder.config, JSON_MAX_BYTES)).hexdigest(),
            "vocab_size": run.vocab_size,
            "metrics": {"val_auc": _finite(val.get("auc")), "val_accuracy": _finite(val.get("accuracy")),
                        "val_majority_accuracy": _finite(val.get("majority_accuracy"))},
            "created_at": run.info.get("created_at"), "trained_with_rnnlab": run.info.get("rnnlab_version"),
            "rnnlab_version": __version__, "thresholds": predictions.thresholds,
            "calibration": _calibration_info(calibration), "limits": asdict(limits)}


def _calibration_info(spec: dict | None) -> dict | None:
    """What /v1/model says of the stored calibration: the method and its parameters."""
    if not spec:
        return None
    labels = spec.get("labels")
    return {"method": spec["method"], "softmax_temperature": spec.get("softmax_temperature"),
            "labels": None if labels is None else
            {label: {k: float(v) for k, v in entry.items() if k in ("temperature", "a", "b")}
             for label, entry in labels.items()}}


def _scorer(run: Run, limits: Limits, calibration: dict | None):
    """What the batcher calls on a batch of texts: the run's raw outputs through ``calibration``,
    the one read at start (what /v1/model reports; ``Run.predict`` would read calibration.json
    again on every call). RNN runs tokenize with a copy of the run's tokenizer: with the
    compiled counter (``split_count.c``), whose table of the vocabulary encodes a batch in one C
    pass (measured: 5x the Python engine's texts/s on 64-512 Jigsaw comments, the same at 8);
    without it, the Python engine, since the Arrow engine's fixed cost per call dominated batches
    of at most ``max_batch`` (512) texts. All engines give the same ids (tests/text checks them
    against each other)."""
    tokenizer = None if run.is_ensemble else getattr(run, "tokenizer", None)
    if tokenizer is not None:
        tokenizer = Tokenizer.from_dict(tokenizer.to_dict())
        if not tokenizer.compiled:
            tokenizer.engine = "python"
    labels = run.labels

    def score(texts: list[str]) -> np.ndarray:
        out = run.predict(texts if tokenizer is None else tokenizer.encode(texts), batch_size=limits.max_batch,
                          raw=True)
        return out if calibration is None else calib.apply(calibration, out, labels)

    return score


def servable(run_or_path: Run | str | Path) -> Run:
    """The run, loaded and checked as :func:`create_app` checks it: its model loads and scores one
    text with one output per label.

    Raises:
        RunError: the run folder cannot be loaded, or its model has not one output per label.
    """
    run = run_or_path if isinstance(run_or_path, Run) else Run.load(run_or_path)
    _Predictions(run)
    return run


def create_app(run_or_path: Run | str | Path, limits: Limits = Limits(), api_key: str | None = None) -> FastAPI:
    """The FastAPI app serving one run. The model is loaded and scores one text here, so a bad
    run folder fails before serving; a warm-up batch then runs in the background through the
    batcher (``GET /v1/ready`` answers 503 until it is done).

    Args:
        run_or_path: a :class:`~rnnlab.runs.Run` or a run folder.
        limits: request limits and batching (:class:`Limits`); default ``Limits()``.
        api_key: when set, every path but /v1/health, /v1/ready, /metrics and the docs needs
            ``Authorization: Bearer <key>``; default None = ``$RNNLAB_API_KEY``; "" means no key.

    Returns:
        The FastAPI app (run it with uvicorn).

    Raises:
        RunError: the run folder cannot be loaded, or its model has not one output per label.
    """
    metrics = ServeMetrics()
    started = time.perf_counter()
    run = run_or_path if isinstance(run_or_path, Run) else Run.load(run_or_path)
    key = os.environ.get(API_KEY_ENV, "") if api_key is None else api_key
    predictions = _Predictions(run)  # loads the model and scores one text
    metrics.load_seconds.set(time.perf_counter() - started)
    calibration = run.calibration
    info = _model_info(run, predictions, limits, calibration)
    batcher = MicroBatcher(_scorer(run, limits, calibration), limits.max_batch, limits.batch_wait_ms / 1000,
                           on_batch=metrics.observe_batch)
    PredictRequest = request_model(limits)
    ExplainRequest = explain_request_model(limits, run.labels)
    ready = threading.Event()
    explaining = threading.Lock()  # one explanation at a time: each uses the model's threads fully

    def warm() -> None:
        try:
            _warm_up(batcher, limits)
        except Exception as exc:  # noqa: BLE001 - logged; /v1/ready stays 503, each request gets its 500
            logging.getLogger("uvicorn.error").error(
                "rnnlab serve: the warm-up batch failed (%s: %s); GET /v1/ready answers 503 until a restart.",
                type(exc).__name__, exc)
            return
        ready.set()
        metrics.ready.set(1)

    threading.Thread(target=warm, name="rnnlab-warm-up", daemon=True).start()

    @asynccontextmanager
    async def lifespan(_app):
        yield
        batcher.close()

    app = FastAPI(title=f"rnnlab: {run.name}", version=__version__, lifespan=lifespan,
                  description=f"Text classifier `{run.name}` ({run.schema.task}: {', '.join(run.labels)}), "
                              f"served by rnnlab {__version__}.")
    app.state.limits = limits  # the server's protocol names max_body_bytes in a 413 of its own (.server)
    async def answer(texts: list[str]) -> bytes:  # the fast path's answer to valid texts (.fastpath)
        rows = predictions(await batcher(texts)) if texts else []
        return orjson.dumps({"model": run.name, "labels": run.labels, "predictions": rows})

    app.add_middleware(FastPredict, answer=answer, max_texts=limits.max_texts, max_chars=limits.max_chars)
    app.add_middleware(Gate, key=key.encode() if key else None, max_body_bytes=limits.max_body_bytes,
                       body_timeout_s=limits.body_timeout_s)
    app.add_middleware(metrics.middleware)  # outermost: also counts what the gate refuses
    auth = {401: {"model": ErrorBody, "description": "Missing or wrong API key."}} if key else {}

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return validation_error(list(exc.errors()), limits, request.headers.get("content-type"),
                                explain=request.url.path == "/v1/explain")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        hint = f" The endpoints are {ENDPOINTS}." if exc.status_code in (404, 405) else ""
        return error_response(exc.status_code, HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}"),
                      f"{request.method} {request.url.path}: {exc.detail}.{hint}", exc.headers)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):
        return error_response(500, "internal_error", f"{request.method} {request.url.path} failed: "
                      f"{type(exc).__name__}: {exc}")

    @app.post("/v1/predict", response_model=PredictResponse, summary="Score texts",
              responses={**auth, 413: {"model": ErrorBody, "description": "Too many texts or too large a body."},
                         422: {"model": ErrorBody, "description": "Invalid JSON, wrong types or a text too long."}})
    async def predict(body: PredictRequest):
        """Probabilities per label for every text; `labels` holds those at or above their threshold
        (multi-class: `label` is the most probable class)."""
        rows = predictions(await batcher(body.texts)) if body.texts else []
        return {"model": run.name, "labels": run.labels, "predictions": rows}

    @app.post("/v1/explain", response_model=ExplainResponse, summary="Explain texts token by token",
              responses={**auth, 413: {"model": ErrorBody, "description": "More than explain_max_texts texts or too "
                                                                           "large a body."},
                         422: {"model": ErrorBody, "description": "Invalid JSON, wrong types, a text longer than "
                                                                  "explain_max_chars or an unknown label."},
                         501: {"model": ErrorBody, "description": "This run cannot be explained here (an ensemble, "
                                                                  "or Captum is not installed)."}})
    async def explain(body: ExplainRequest):
        """Per text and label, one attribution per token (Integrated Gradients with
        `explain_steps` steps for RNN runs; n-gram coefficients for linear baselines)."""
        def work():
            with explaining:
                return explain_texts(run, body.texts, body.labels, n_steps=limits.explain_steps)

        try:
            found = await asyncio.to_thread(work) if body.texts else []
        except ConfigError as exc:
            return error_response(422, "invalid_request", str(exc))
        except RnnlabError as exc:
            return error_response(501, "explain_unavailable", str(exc))
        metrics.explained.inc(len(found))
        explained = list(dict.fromkeys(body.labels)) if body.labels else run.labels
        return {"model": run.name, "labels": explained,
                "explanations": [{k: v for k, v in e.to_dict().items() if k not in ("id", "text")} for e in found]}

    @app.get("/v1/model", response_model=ModelInfo, summary="What is served", responses=auth)
    async def model():
        """Labels, task, config hash, vocabulary size, validation metrics, thresholds, the calibration applied
        (or null) and limits."""
        return info

    @app.get("/v1/health", response_model=Health, summary="Liveness (no API key needed)")
    async def health():
        return {"status": "ok"}

    @app.get("/v1/ready", response_model=Ready, summary="Readiness (no API key needed)",
             responses={503: {"model": Ready, "description": "Still warming up."}})
    async def is_ready():
        """200 once the model is loaded and has scored a warm-up batch, 503 before."""
        if ready.is_set():
            return {"status": "ready"}
        return JSONResponse({"status": "warming_up"}, status_code=503)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus():
        return Response(metrics.exposition(), media_type=metrics.content_type)

    metrics.routes = frozenset(route.path for route in app.routes)

    if key:
        def openapi() -> dict:
            if app.openapi_schema is None:
                schema = FastAPI.openapi(app)
                bearer = {"bearer": {"type": "http", "scheme": "bearer"}}
                schema.setdefault("components", {})["securitySchemes"] = bearer
                for path, operations in schema["paths"].items():
                    if path not in OPEN_PATHS:
                        for operation in operations.values():
                            operation["security"] = [{"bearer": []}]
            return app.openapi_schema

        app.openapi = openapi
    return app
