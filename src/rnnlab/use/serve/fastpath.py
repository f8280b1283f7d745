"""The fast path of ``POST /v1/predict``: an ASGI middleware that answers a well-formed request
itself and leaves everything else to the FastAPI route.

Profiled under ``wrk`` (64 connections, 8 texts per request), the event loop spent most of its
time outside the model: FastAPI's body parsing, pydantic validation of the request and of the
response model, and ``json.dumps``. A valid request needs none of it: the body is parsed with
orjson, checked against the same limits (an object with one key ``texts``, a list of at most
``max_texts`` strings of at most ``max_chars`` characters) and the answer is written with
``orjson.dumps``. Whatever fails any check — invalid JSON, a lone surrogate, NaN, a byte-order
mark, wrong types, a limit exceeded, another content type — goes on to the FastAPI route
unchanged, so every error answer (413 / 422 and their messages) and the OpenAPI document stay
exactly what the route declares. orjson refuses everything ``json.loads`` refuses (and more),
so no request the route would refuse is answered here.

Sits inside :class:`~.limits.Gate`, which has already read the whole body (size and time
limits, API key) and replays it as one message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

PATH = "/v1/predict"
JSON_HEADERS = [(b"content-type", b"application/json")]


def json_content_type(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether FastAPI would parse the body as JSON for these raw ``headers``: no
    Content-Type, or ``application/json`` (parameters allowed). ``+json`` types are left to
    the route (they are rare)."""
    for name, value in headers:
        if name.lower() == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json"
    return True


def valid_texts(body: bytes, max_texts: int, max_chars: int) -> list[str] | None:
    """The texts of a body that the route's request model would accept as it is, else None
    (then the route answers, with its own validation errors).

    Args:
        body: the request body.
        max_texts: most texts per request.
        max_chars: most characters per text.
    """
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or len(obj) != 1:
        return None
    texts = obj.get("texts")
    if type(texts) is not list or len(texts) > max_texts:
        return None
    for text in texts:
        if type(text) is not str or len(text) > max_chars:
            return None
    return texts


class FastPredict:
    """ASGI middleware answering valid ``POST /v1/predict`` requests with ``answer(texts)``
    (an awaitable of the response body's bytes); every other request goes to ``app``.

    Args:
        app: the ASGI app behind (FastAPI).
        answer: texts -> awaitable response bytes.
        max_texts: most texts per request.
        max_chars: most characters per text.
    """

    def __init__(self, app, answer: Callable[[list[str]], Awaitable[bytes]], max_texts: int, max_chars: int):
        self.app, self.answer, self.max_texts, self.max_chars = app, answer, max_texts, max_chars

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST"
                or not json_content_type(scope["headers"])):
            return await self.app(scope, receive, send)
        message = await receive()
        if message["type"] != "http.request" or message.get("more_body", False):
            return await self.app(scope, _replay(message, receive), send)
        texts = valid_texts(message.get("body", b""), self.max_texts, self.max_chars)
        if texts is None:
            return await self.app(scope, _replay(message, receive), send)
        content = await self.answer(texts)  # an exception reaches the app's 500 handler
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*JSON_HEADERS, (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})


def _replay(first: dict, receive):
    """``receive`` that gives ``first`` again before the rest."""
    pending = [first]

    async def replayed():
        return pending.pop() if pending else await receive()

    return replayed
