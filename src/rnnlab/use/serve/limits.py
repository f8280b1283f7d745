"""What a request may hold and who may send it: :class:`Limits`, the API key, and the ASGI
middleware (:class:`Gate`) that enforces both before anything is parsed; every refusal is a JSON
``{"error": {"code", "message"}}`` naming the limit and the value received."""

import asyncio
import hmac
import json
import math
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers

from ...errors import param_error

API_KEY_ENV = "RNNLAB_API_KEY"
# reachable without the API key; every other path needs it when one is set
# (liveness, readiness and /metrics stay open as probes and scrapers expect: they tell nothing about texts)
OPEN_PATHS = frozenset({"/v1/health", "/v1/ready", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect",
                        "/redoc"})
# the request line and headers together (h11 also refuses to buffer more of an incomplete one)
MAX_HEADER_BYTES = 16 * 1024
# query parameters that look like a credential: refused, so a key never travels in a URL
KEY_PARAMS = frozenset({"api_key", "apikey", "api-key", "key", "token", "access_token", "auth", "authorization"})


@dataclass(frozen=True)
class Limits:
    """What one request may hold and how requests are batched.

    - ``max_texts`` (256): texts per request; more is refused with 413.
    - ``max_chars`` (20,000): characters per text; a longer text is refused with 422.
    - ``max_body_bytes`` (1,000,000): bytes of the request body; more is refused with 413.
    - ``batch_wait_ms`` (1): how long the batcher waits for more requests after the first (5 ms
      left the model idle under load: docs/serve.md, "Micro-batching").
    - ``max_batch`` (512): texts per ``Run.predict`` call (a request with more is scored alone).
    - ``body_timeout_s`` (30): seconds a client has to send the whole body once its headers
      are in; a slower one gets 408 and the connection is closed.
    - ``explain_max_texts`` (16) and ``explain_max_chars`` (2,000): the same limits for
      ``POST /v1/explain``, smaller since an explanation costs about ``explain_steps`` forward
      and backward passes per text and label.
    - ``explain_steps`` (32): Integrated Gradients steps of ``POST /v1/explain``.
    """

    max_texts: int = 256
    max_chars: int = 20_000
    max_body_bytes: int = 1_000_000
    batch_wait_ms: float = 1
    max_batch: int = 512
    body_timeout_s: float = 30
    explain_max_texts: int = 16
    explain_max_chars: int = 2_000
    explain_steps: int = 32

    def __post_init__(self):
        for name in ("max_texts", "max_chars", "max_body_bytes", "max_batch", "explain_max_texts",
                     "explain_max_chars", "explain_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise param_error(name, "an int >= 1", value)
        wait = self.batch_wait_ms
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait < math.inf:
            raise param_error("batch_wait_ms", "a number of milliseconds >= 0", wait)
        body = self.body_timeout_s
        if isinstance(body, bool) or not isinstance(body, (int, float)) or not 0 < body < math.inf:
            raise param_error("body_timeout_s", "a number of seconds > 0", body)


def encodable(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (lone surrogates) replaced by U+FFFD."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace") if _has_surrogate(text) else text


def _has_surrogate(value) -> bool:
    """True when ``value`` (a str, or a list / dict holding strs) has a lone surrogate."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_surrogate(v) for v in value)
    return False


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    """The API's error shape ``{"error": {"code", "message"}}``; the message always encodes."""
    return JSONResponse({"error": {"code": code, "message": encodable(message)}}, status_code=status, headers=headers)


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
              408: "request_timeout", 413: "body_too_large", 415: "unsupported_media_type", 431: "headers_too_large"}


def _where(loc) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:]).lstrip(".")
    return encodable(path) or "the body"


def _shown(value) -> str:
    if _has_surrogate(value):
        return "a value with an unpaired surrogate (not shown)"
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_error(errors: list[dict], limits: Limits, content_type: str | None, explain: bool = False
                     ) -> JSONResponse:
    """The API's answer to a request pydantic refused; ``explain``: a ``/v1/explain`` request,
    whose limits are ``explain_max_texts`` / ``explain_max_chars``."""
    prefix = "explain_" if explain else ""
    max_texts = limits.explain_max_texts if explain else limits.max_texts
    max_chars = limits.explain_max_chars if explain else limits.max_chars
    for e in errors:
        if e["type"] == "string_unicode" or _has_surrogate(e.get("input")):
            return error_response(422, "invalid_text", f"{_where(e['loc'])} holds an unpaired UTF-16 surrogate "
                                  f"(a \\uD800-\\uDFFF escape without its pair), which is not text; send valid "
                                  f"Unicode (escape a character outside the BMP as both halves of its pair).")
    for e in errors:
        if e["type"] == "too_long" and tuple(e["loc"]) == ("body", "texts"):
            return error_response(413, "too_many_texts", f"The request has {len(e['input']):,} texts; the limit is "
                          f"{prefix}max_texts={max_texts:,} per request. Split it into smaller requests.")
    for e in errors:
        if e["type"] == "string_too_long":
            return error_response(422, "text_too_long", f"{_where(e['loc'])} has {len(e['input']):,} characters; "
                          f"the limit is {prefix}max_chars={max_chars:,}.")
    first = errors[0]
    if first["type"] == "json_invalid":
        return error_response(422, "invalid_json", f"The body is not valid JSON: {first['ctx']['error']} "
                      f"at character {first['loc'][-1]}.")
    if isinstance(first.get("input"), (bytes, bytearray)):
        return error_response(422, "invalid_request", f"The body must be JSON sent with Content-Type: application/json "
                      f"(received Content-Type: {content_type or 'none'}).")
    parts = [f"{_where(e['loc'])}: {e['msg']}" + ("" if e["type"] == "missing" else f" (received {_shown(e['input'])})")
             for e in errors[:3]]
    more = f" ({len(errors) - 3} more)" if len(errors) > 3 else ""
    return error_response(422, "invalid_request", "; ".join(parts) + more + '. Expected {"texts": ["...", ...]}.')


async def _before(awaitable, deadline: float):
    """``await awaitable``, or ``asyncio.TimeoutError`` at the event loop's time ``deadline``.
    ``asyncio.timeout_at`` (Python 3.11+) adds a timer to the running task; ``wait_for`` wraps the
    awaitable in a task of its own on every call (profiled under ``wrk``: per request, the body
    read is one call)."""
    if hasattr(asyncio, "timeout_at"):
        async with asyncio.timeout_at(deadline):
            return await awaitable
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(awaitable, max(deadline - loop.time(), 0))


class Gate:
    """ASGI middleware in front of the app: the API key, then the body size (the Content-Length
    header and the bytes actually received), before anything is parsed."""

    def __init__(self, app, key: bytes | None, max_body_bytes: int, body_timeout_s: float = 30):
        self.app, self.key, self.max_body_bytes, self.body_timeout_s = app, key, max_body_bytes, body_timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + sum(
            len(k) + len(v) + 4 for k, v in scope["headers"])
        if size > MAX_HEADER_BYTES:
            return await error_response(431, "headers_too_large", f"The request line and headers have {size:,} "
                                        f"bytes; the limit is {MAX_HEADER_BYTES:,} bytes.",
                                        {"Connection": "close"})(scope, receive, send)
        in_url = sorted({name for name, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                       keep_blank_values=True) if name.lower() in KEY_PARAMS})
        if in_url:
            return await error_response(400, "key_in_url", f"The query string holds {', '.join(map(repr, in_url))}: "
                                        f"an API key is accepted only in the header 'Authorization: Bearer <key>', "
                                        f"never in a URL (URLs end up in logs and histories). Remove it and send "
                                        f"the header.")(scope, receive, send)
        if self.key is not None and scope["path"] not in OPEN_PATHS and not self._authorized(headers):
            return await error_response(401, "unauthorized", "This server needs an API key: send the header "
                                "'Authorization: Bearer <key>' with the key it was started with.",
                                {"WWW-Authenticate": "Bearer"})(scope, receive, send)
        limit = self.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and not declared.isdigit():
            return await error_response(400, "bad_request", f"Content-Length must be a number of bytes "
                                f"(received {_shown(declared)}).")(scope, receive, send)
        if declared is not None and int(declared) > limit:
            return await error_response(413, "body_too_large", f"The body has {int(declared):,} bytes "
                                                               f"(Content-Length); "
                                f"the limit is max_body_bytes={limit:,}.")(scope, receive, send)
        body = bytearray()
        more = True
        deadline = asyncio.get_running_loop().time() + self.body_timeout_s
        while more:
            try:
                message = await _before(receive(), deadline)
            except asyncio.TimeoutError:
                return await error_response(408, "request_timeout", f"The body did not arrive within body_timeout_s="
                                            f"{self.body_timeout_s:g} seconds ({len(body):,} bytes received); the "
                                            f"connection is closed.", {"Connection": "close"})(scope, receive, send)
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                return await error_response(413, "body_too_large", f"The body has more than {limit:,} bytes "
                                    f"({len(body):,} received so far; Content-Length said "
                                    f"{declared or 'nothing'}); the limit is max_body_bytes={limit:,}."
                                    )(scope, receive, send)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return await error_response(422, "invalid_json", f"The body is not valid UTF-8 (byte "
                                                             f"0x{body[exc.start]:02x} at "
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
