"""The HTTP API of a trained run: a FastAPI app with a micro-batcher in front of ``Run.predict``.

``create_app(run_or_path)`` builds the app; ``rnnlab serve RUN`` runs it with uvicorn.

- ``POST /v1/predict`` ``{"texts": [...]}``: per text the probability of every label and the
  labels at or above their threshold (multi-class: the probability of every class and the
  arg-max class);
- ``GET /v1/model``: labels, task, config hash, vocabulary size, validation metrics,
  thresholds and limits;
- ``GET /v1/health``: ``{"status": "ok"}``, open even when an API key is set.

Every error is ``{"error": {"code": ..., "message": ...}}``. Texts from concurrent requests are
scored together: one worker thread runs the model on one batch at a time.
"""

import asyncio
import concurrent.futures
import hashlib
import hmac
import json
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import RunError, param_error
from ..run import Run

API_KEY_ENV = "RNNLAB_API_KEY"
# reachable without the API key; every other path needs it when one is set
OPEN_PATHS = frozenset({"/v1/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
ENDPOINTS = "POST /v1/predict, GET /v1/model and GET /v1/health (documented at /docs)"


@dataclass(frozen=True)
class Limits:
    """What one request may hold and how requests are batched.

    - ``max_texts`` (256): texts per request; more is refused with 413.
    - ``max_chars`` (20,000): characters per text; a longer text is refused with 422.
    - ``max_body_bytes`` (1,000,000): bytes of the request body; more is refused with 413.
    - ``batch_wait_ms`` (5): how long the batcher waits for more requests after the first.
    - ``max_batch`` (512): texts per ``Run.predict`` call (a request with more is scored alone).
    """

    max_texts: int = 256
    max_chars: int = 20_000
    max_body_bytes: int = 1_000_000
    batch_wait_ms: float = 5
    max_batch: int = 512

    def __post_init__(self):
        for name in ("max_texts", "max_chars", "max_body_bytes", "max_batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise param_error(name, "an int >= 1", value)
        wait = self.batch_wait_ms
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait < math.inf:
            raise param_error("batch_wait_ms", "a number of milliseconds >= 0", wait)


# ---------------------------------------------------------------------------------- schemas
class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. too_many_texts.")
    message: str = Field(description="What is wrong: names the limit and the value received.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class LabelPrediction(BaseModel):
    """Binary and multi-label runs."""

    probabilities: dict[str, float] = Field(description="Model output per label.")
    labels: list[str] = Field(description="The labels whose probability is >= their threshold.")


class ClassPrediction(BaseModel):
    """Multi-class runs."""

    probabilities: dict[str, float] = Field(description="Model output per class.")
    label: str = Field(description="The class with the highest probability.")


class PredictResponse(BaseModel):
    model: str = Field(description="The run's name (its folder name).")
    labels: list[str]
    predictions: list[LabelPrediction] | list[ClassPrediction] = Field(description="One per text, in order.")


class TrainingMetrics(BaseModel):
    val_auc: float | None = Field(description="Mean ROC AUC over the labels on the validation split.")
    val_accuracy: float | None
    val_majority_accuracy: float | None = Field(description="Accuracy of always predicting the majority class.")


class LimitsInfo(BaseModel):
    max_texts: int
    max_chars: int
    max_body_bytes: int
    batch_wait_ms: float
    max_batch: int


class ModelInfo(BaseModel):
    model: str
    task: str = Field(description="binary, multilabel or multiclass.")
    labels: list[str]
    config_sha256: str = Field(description="sha256 of the run's config.toml.")
    vocab_size: int = Field(description="Tokenizer vocabulary size (0 for the linear baselines and ensembles).")
    metrics: TrainingMetrics
    created_at: str | None = Field(description="When training started (run.json).")
    trained_with_rnnlab: str | None = Field(description="The rnnlab version that trained the run.")
    rnnlab_version: str = Field(description="The rnnlab version serving it.")
    thresholds: dict[str, float] | None = Field(description="Decision threshold per label (null for multi-class).")
    limits: LimitsInfo


class Health(BaseModel):
    status: str


def _request_model(limits: Limits) -> type[BaseModel]:
    """The request body, with the limits in its schema (so /docs shows them)."""
    text = Annotated[StrictStr, Field(max_length=limits.max_chars)]

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        texts: Annotated[list[text], Field(max_length=limits.max_texts,
                                           description="Texts to score; an empty text is valid.")]

    return PredictRequest


# ---------------------------------------------------------------------------------- batching
@dataclass
class _Job:
    texts: list[str]
    future: concurrent.futures.Future


_STOP = object()


class MicroBatcher:
    """Scores the texts of concurrent requests together in one worker thread.

    The worker takes the oldest queued request, waits at most ``wait_s`` (0.005) for more, up
    to ``max_batch`` (512) texts in all, calls ``predict(texts)`` once and hands every request
    its own rows. The thread starts on the first request; ``close()`` stops it after the
    queued requests are scored (a later request starts it again)."""

    def __init__(self, predict: Callable[[list[str]], np.ndarray], max_batch: int = 512, wait_s: float = 0.005):
        self.predict = predict
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, texts: list[str]) -> concurrent.futures.Future:
        """Queue ``texts``; the future gets their (len(texts), outputs) array."""
        job = _Job(list(texts), concurrent.futures.Future())
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="rnnlab-batcher", daemon=True)
                self._thread.start()
            self._queue.put(job)
        return job.future

    async def __call__(self, texts: list[str]) -> np.ndarray:
        return await asyncio.wrap_future(self.submit(texts))

    def close(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._queue.put(_STOP)
                self._thread.join()
                self._thread = None

    def _work(self) -> None:
        held = None
        while True:
            job = held if held is not None else self._queue.get()
            held = None
            if job is _STOP:
                return
            batch, size = [job], len(job.texts)
            deadline = time.monotonic() + self.wait_s
            while size < self.max_batch:
                try:
                    nxt = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
                except queue.Empty:
                    break
                if nxt is _STOP or size + len(nxt.texts) > self.max_batch:
                    held = nxt
                    break
                batch.append(nxt)
                size += len(nxt.texts)
            self._score(batch)

    def _score(self, batch: list[_Job]) -> None:
        batch = [job for job in batch if job.future.set_running_or_notify_cancel()]  # drop cancelled requests
        if not batch:
            return
        try:
            out = self.predict([text for job in batch for text in job.texts])
        except BaseException as exc:  # noqa: BLE001 - every waiting request gets the error
            for job in batch:
                job.future.set_exception(exc)
            return
        start = 0
        for job in batch:
            job.future.set_result(out[start:start + len(job.texts)])
            start += len(job.texts)


# ---------------------------------------------------------------------------------- the model
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

    def __call__(self, outputs: np.ndarray) -> list[dict]:
        probs = outputs[:, self.columns].astype(np.float64)
        rows = [dict(zip(self.labels, row)) for row in probs.tolist()]
        if self.thresholds is None:
            return [{"probabilities": p, "label": self.labels[k]} for p, k in zip(rows, probs.argmax(1).tolist())]
        return [{"probabilities": p, "labels": [label for label, v in p.items() if v >= self.thresholds[label]]}
                for p in rows]


def _finite(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _model_info(run: Run, predictions: _Predictions, limits: Limits) -> dict:
    val = run.metrics.get("validation", {})
    return {"model": run.name, "task": run.schema.task, "labels": run.labels,
            "config_sha256": hashlib.sha256((run.dir / "config.toml").read_bytes()).hexdigest(),
            "vocab_size": run.vocab_size,
            "metrics": {"val_auc": _finite(val.get("auc")), "val_accuracy": _finite(val.get("accuracy")),
                        "val_majority_accuracy": _finite(val.get("majority_accuracy"))},
            "created_at": run.info.get("created_at"), "trained_with_rnnlab": run.info.get("rnnlab_version"),
            "rnnlab_version": __version__, "thresholds": predictions.thresholds, "limits": asdict(limits)}


# ---------------------------------------------------------------------------------- errors
def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
              413: "body_too_large", 415: "unsupported_media_type"}


def _where(loc) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:]).lstrip(".")
    return path or "the body"


def _shown(value) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def _validation_error(errors: list[dict], limits: Limits, content_type: str | None) -> JSONResponse:
    for e in errors:
        if e["type"] == "too_long" and tuple(e["loc"]) == ("body", "texts"):
            return _error(413, "too_many_texts", f"The request has {len(e['input']):,} texts; the limit is "
                          f"max_texts={limits.max_texts:,} per request. Split it into smaller requests.")
    for e in errors:
        if e["type"] == "string_too_long":
            return _error(422, "text_too_long", f"{_where(e['loc'])} has {len(e['input']):,} characters; "
                          f"the limit is max_chars={limits.max_chars:,}.")
    first = errors[0]
    if first["type"] == "json_invalid":
        return _error(422, "invalid_json", f"The body is not valid JSON: {first['ctx']['error']} "
                      f"at character {first['loc'][-1]}.")
    if isinstance(first.get("input"), (bytes, bytearray)):
        return _error(422, "invalid_request", f"The body must be JSON sent with Content-Type: application/json "
                      f"(received Content-Type: {content_type or 'none'}).")
    parts = [f"{_where(e['loc'])}: {e['msg']}" + ("" if e["type"] == "missing" else f" (received {_shown(e['input'])})")
             for e in errors[:3]]
    more = f" ({len(errors) - 3} more)" if len(errors) > 3 else ""
    return _error(422, "invalid_request", "; ".join(parts) + more + '. Expected {"texts": ["...", ...]}.')


class _Gate:
    """ASGI middleware in front of the app: the API key, then the body size (the Content-Length
    header and the bytes actually received), before anything is parsed."""

    def __init__(self, app, key: bytes | None, max_body_bytes: int):
        self.app, self.key, self.max_body_bytes = app, key, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        if self.key is not None and scope["path"] not in OPEN_PATHS and not self._authorized(headers):
            return await _error(401, "unauthorized", "This server needs an API key: send the header "
                                "'Authorization: Bearer <key>' with the key it was started with.",
                                {"WWW-Authenticate": "Bearer"})(scope, receive, send)
        limit = self.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and not declared.isdigit():
            return await _error(400, "bad_request", f"Content-Length must be a number of bytes "
                                f"(received {_shown(declared)}).")(scope, receive, send)
        if declared is not None and int(declared) > limit:
            return await _error(413, "body_too_large", f"The body has {int(declared):,} bytes (Content-Length); "
                                f"the limit is max_body_bytes={limit:,}.")(scope, receive, send)
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                return await _error(413, "body_too_large", f"The body has more than {limit:,} bytes "
                                    f"({len(body):,} received so far; Content-Length said "
                                    f"{declared or 'nothing'}); the limit is max_body_bytes={limit:,}."
                                    )(scope, receive, send)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return await _error(422, "invalid_json", f"The body is not valid UTF-8 (byte 0x{body[exc.start]:02x} at "
                                f"position {exc.start}); send JSON encoded as UTF-8.")(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    def _authorized(self, headers: Headers) -> bool:
        scheme, _, given = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.key)


# ---------------------------------------------------------------------------------- the app
def create_app(run_or_path: Run | str | Path, limits: Limits = Limits(), api_key: str | None = None) -> FastAPI:
    """The FastAPI app serving one run.

    ``run_or_path``: a :class:`Run` or a run folder. ``limits``: see :class:`Limits`.
    ``api_key``: when set, every path but /v1/health and the docs needs
    ``Authorization: Bearer <key>``; default ``$RNNLAB_API_KEY``; None and "" mean no key.
    The model is loaded and warmed up here, so a bad run folder fails before serving."""
    run = run_or_path if isinstance(run_or_path, Run) else Run.load(run_or_path)
    key = os.environ.get(API_KEY_ENV, "") if api_key is None else api_key
    predictions = _Predictions(run)
    info = _model_info(run, predictions, limits)
    batcher = MicroBatcher(lambda texts: run.predict(texts, batch_size=limits.max_batch), limits.max_batch,
                           limits.batch_wait_ms / 1000)
    PredictRequest = _request_model(limits)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        batcher.close()

    app = FastAPI(title=f"rnnlab: {run.name}", version=__version__, lifespan=lifespan,
                  description=f"Text classifier `{run.name}` ({run.schema.task}: {', '.join(run.labels)}), "
                              f"served by rnnlab {__version__}.")
    app.add_middleware(_Gate, key=key.encode() if key else None, max_body_bytes=limits.max_body_bytes)
    auth = {401: {"model": ErrorBody, "description": "Missing or wrong API key."}} if key else {}

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return _validation_error(list(exc.errors()), limits, request.headers.get("content-type"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        hint = f" The endpoints are {ENDPOINTS}." if exc.status_code in (404, 405) else ""
        return _error(exc.status_code, HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}"),
                      f"{request.method} {request.url.path}: {exc.detail}.{hint}", exc.headers)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):
        return _error(500, "internal_error", f"{request.method} {request.url.path} failed: "
                      f"{type(exc).__name__}: {exc}")

    @app.post("/v1/predict", response_model=PredictResponse, summary="Score texts",
              responses={**auth, 413: {"model": ErrorBody, "description": "Too many texts or too large a body."},
                         422: {"model": ErrorBody, "description": "Invalid JSON, wrong types or a text too long."}})
    async def predict(body: PredictRequest):
        """Probabilities per label for every text; `labels` holds those at or above their threshold
        (multi-class: `label` is the most probable class)."""
        rows = predictions(await batcher(body.texts)) if body.texts else []
        return {"model": run.name, "labels": run.labels, "predictions": rows}

    @app.get("/v1/model", response_model=ModelInfo, summary="What is served", responses=auth)
    async def model():
        """Labels, task, config hash, vocabulary size, validation metrics, thresholds and limits."""
        return info

    @app.get("/v1/health", response_model=Health, summary="Liveness (no API key needed)")
    async def health():
        return {"status": "ok"}

    if key:
        def openapi() -> dict:
            if app.openapi_schema is None:
                schema = FastAPI.openapi(app)
                schema.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
                for path, operations in schema["paths"].items():
                    if path not in OPEN_PATHS:
                        for operation in operations.values():
                            operation["security"] = [{"bearer": []}]
            return app.openapi_schema

        app.openapi = openapi
    return app
