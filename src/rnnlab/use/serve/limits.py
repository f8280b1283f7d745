"""What a request may hold and who may send it: :class:`Limits`, the API key, and the ASGI
middleware (:class:`Gate`) that enforces both before anything is parsed; every refusal is a JSON
``{"error": {"code", "message"}}`` naming the limit and the value received."""

import hmac
import json
import math
from dataclasses import dataclass

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers

from ...errors import param_error

API_KEY_ENV = "RNNLAB_API_KEY"
# reachable without the API key; every other path needs it when one is set
OPEN_PATHS = frozenset({"/v1/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


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


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
              413: "body_too_large", 415: "unsupported_media_type"}


def _where(loc) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:]).lstrip(".")
    return path or "the body"


def _shown(value) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_error(errors: list[dict], limits: Limits, content_type: str | None) -> JSONResponse:
    for e in errors:
        if e["type"] == "too_long" and tuple(e["loc"]) == ("body", "texts"):
            return error_response(413, "too_many_texts", f"The request has {len(e['input']):,} texts; the limit is "
                          f"max_texts={limits.max_texts:,} per request. Split it into smaller requests.")
    for e in errors:
        if e["type"] == "string_too_long":
            return error_response(422, "text_too_long", f"{_where(e['loc'])} has {len(e['input']):,} characters; "
                          f"the limit is max_chars={limits.max_chars:,}.")
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


class Gate:
    """ASGI middleware in front of the app: the API key, then the body size (the Content-Length
    header and the bytes actually received), before anything is parsed."""

    def __init__(self, app, key: bytes | None, max_body_bytes: int):
        self.app, self.key, self.max_body_bytes = app, key, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
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
        while more:
            message = await receive()
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
