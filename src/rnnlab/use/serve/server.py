"""The HTTP server under the app: uvicorn with an HTTP protocol that bounds how long a client
may take to send its request line and headers, answers the requests its parser refuses (a bad
Content-Length, a malformed request line, headers too large) with the API's JSON error instead
of uvicorn's plain text, and an access log that never shows a query string.

Two parsers, the same answers (``http``; tests/serve/test_http_fuzz.py runs every hostile
request against both):

- ``"httptools"`` (:class:`GuardedHttpToolsProtocol`): llhttp, Node.js's parser in C, through
  the ``httptools`` package (in the ``serve`` extra). The default when installed: h11 took about
  a sixth of the server's CPU under load (docs/serve.md). llhttp has no limit of its own on the
  size of a request's line and headers, nor does it require ``Host``; the protocol adds both.
- ``"h11"`` (:class:`GuardedH11Protocol`): the pure-Python parser uvicorn always has.

What bounds a connection's time:

- ``header_timeout_s``: from the connection (or the end of the previous response) to the end of
  the next request's headers; a client that sends part of them and stalls gets 408 and is
  disconnected. uvicorn has no such timeout of its own: its ``timeout_keep_alive`` only runs
  while nothing at all has been received.
- ``keep_alive_s`` (uvicorn's ``timeout_keep_alive``): an idle connection between requests.
- ``Limits.body_timeout_s``: the body, enforced by the app (:class:`~.limits.Gate`), which
  answers 408 and closes the connection.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import logging
import sys

import h11
import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from ...errors import ConfigError, param_error
from .limits import MAX_HEADER_BYTES

HTTP_PARSERS = ("auto", "httptools", "h11")
LOOPS = ("auto", "uvloop", "asyncio")


def error_bytes(status: int, reason: str, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 response carrying the API's JSON error, with ``Connection: close``."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\n\r\n").encode()
    return head + body


_REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large",
            431: "Request Header Fields Too Large", 505: "HTTP Version Not Supported"}
_CODES = {400: "bad_request", 408: "request_timeout", 413: "body_too_large", 431: "headers_too_large",
          505: "http_version_not_supported"}
_TOO_LARGE = f"the request line and headers are larger than {MAX_HEADER_BYTES:,} bytes"


class _Guard:
    """What both protocols add to uvicorn's: the header deadline and JSON refusals. A subclass
    says whether nothing of a next request has arrived (:meth:`_idle`)."""

    header_timeout_s: float = 10.0
    max_body_bytes: int | None = None  # the app's Limits.max_body_bytes, for the 413 a parser gives
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # noqa: D102 - asyncio.Protocol
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc) -> None:  # noqa: D102
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:  # noqa: D102
        self._arm()  # the next request's headers are due within the deadline (a pipelined one disarms it)
        super().on_response_complete()

    def _idle(self) -> bool:
        raise NotImplementedError

    def _refuse(self, status: int, message: str) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(error_bytes(status, _REASONS[status], _CODES[status], message))
            self.transport.close()

    def _arm(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: its body has its own deadline (Limits.body_timeout_s)
        if self._idle():
            self._unset_keepalive_if_required()
            self.transport.close()  # nothing was sent: close as the keep-alive timeout does
            return
        self._refuse(408, f"The request line and headers did not arrive within header_timeout_s="
                          f"{self.header_timeout_s:g} seconds; the connection is closed.")


def _malformed(why: str) -> str:
    return f"The HTTP request is malformed: {why}. Nothing was processed."


class GuardedH11Protocol(_Guard, H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers and JSON
    answers to malformed requests. Use :func:`protocol` to set the deadline."""

    def handle_events(self) -> None:  # noqa: D102
        before = self.cycle
        try:
            super().handle_events()
        except (UnicodeError, ValueError) as exc:  # a request target uvicorn cannot decode
            self._refuse(400, f"The request line cannot be read ({type(exc).__name__}); send an ASCII path.")
            return
        if self.cycle is not before:  # a new request's headers are complete
            self._disarm()

    def send_400_response(self, msg: str) -> None:
        """h11 refused the request (called while its RemoteProtocolError is handled)."""
        exc = sys.exc_info()[1]
        status = getattr(exc, "error_status_hint", 400) if isinstance(exc, h11.RemoteProtocolError) else 400
        status = status if status in _REASONS else 400
        why = str(exc) if exc is not None and str(exc) else msg
        why = why.split(": bytearray(")[0].split(": b'")[0].split(': b"')[0]  # h11 quotes the raw line: not echoed
        self._refuse(status, _malformed(_TOO_LARGE if status == 431 else why))

    def _idle(self) -> bool:
        return self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]


class _Refused(Exception):
    """Raised in a parser callback: answer ``status`` with ``message`` and read nothing more."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


if importlib.util.find_spec("httptools") is not None:
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(_Guard, HttpToolsProtocol):
        """uvicorn's httptools protocol with :class:`GuardedH11Protocol`'s answers: the header
        deadline, JSON errors for what llhttp refuses, 431 past ``MAX_HEADER_BYTES`` of request
        line and headers and 400 for an HTTP/1.1 request without ``Host`` (h11's rules). A
        request refused behind one being answered (pipelined) is refused after that answer. An
        ``Upgrade`` request is answered as HTTP/1.1 and its connection closed (llhttp takes what
        follows its headers for the other protocol); one with a body is refused with 400, since
        llhttp would not read the body. Use :func:`protocol` to set the deadline."""

        _head: int | None = 0  # bytes of the next request's line and headers so far; None: reading a body
        _tail = b""  # the last 3 bytes received while reading a head (its end may straddle two reads)
        _refusal: tuple[int, str] | None = None  # waits for the answer in flight
        _upgrade = False  # an Upgrade request answered as HTTP/1.1: what follows it is not parsed

        def data_received(self, data: bytes) -> None:  # noqa: D102
            if self._refusal is not None or self._upgrade or self.parser is None:
                return  # refused, or after an upgrade request: nothing more is parsed (the connection closes)
            if self._head is not None:
                seen = self._tail + data
                end = seen.find(b"\r\n\r\n")
                size = self._head - len(self._tail) + (end + 4 if end >= 0 else len(seen))
                if size > MAX_HEADER_BYTES:
                    self._refuse(431, _malformed(_TOO_LARGE))
                    return
                self._head, self._tail = self._head + len(data), seen[-3:]
            super().data_received(data)

        def on_headers_complete(self) -> None:  # noqa: D102 - parser callbacks
            if self.parser.get_http_version() == "1.1" and not any(name == b"host" for name, _ in self.headers):
                raise _Refused(400, _malformed("Missing mandatory Host: header"))
            upgrade = self.parser.should_upgrade()  # llhttp takes what follows the headers for the new protocol
            if upgrade and any(name == b"transfer-encoding" or (name == b"content-length" and value.strip(b" 0"))
                               for name, value in self.headers):
                raise _Refused(400, "The request asks to switch protocols (Connection: upgrade) and has a body; "
                                    "this server speaks HTTP/1.1 only: send it without the Upgrade header. Nothing "
                                    "was processed.")
            self._head, self._tail = None, b""
            self._disarm()
            super().on_headers_complete()
            if upgrade and self.cycle is not None:
                self._upgrade = True  # not switched to: answered as HTTP/1.1, then the connection is closed
                self.cycle.keep_alive = False

        def on_message_complete(self) -> None:  # noqa: D102
            self._head, self._tail = 0, b""
            super().on_message_complete()

        def send_400_response(self, msg: str) -> None:
            """llhttp refused the request, or a callback did (called while the error is handled)."""
            exc = sys.exc_info()[1]
            cause = getattr(exc, "__context__", None)
            if isinstance(cause, _Refused):
                status, message = cause.status, str(cause)
            elif exc is not None and "Content-Length overflow" in str(exc):
                limit = f"; the limit is max_body_bytes={self.max_body_bytes:,}" if self.max_body_bytes else ""
                status, message = 413, f"The body has more than 2**64 bytes (Content-Length){limit}."
            else:
                why = str(cause) if isinstance(exc, httptools.HttpParserCallbackError) and cause else str(exc or msg)
                status, message = 400, _malformed(why[:1].lower() + why[1:])
            if self.cycle is not None and not self.cycle.response_complete:
                self._refusal = (status, message)  # answered once the response in flight is sent
                self.flow.pause_reading()
                return
            self._refuse(status, message)

        def on_response_complete(self) -> None:  # noqa: D102
            if self._refusal is not None:
                self.server_state.total_requests += 1
                self._refuse(*self._refusal)
                return
            super().on_response_complete()

        def _unsupported_upgrade_warning(self) -> None:
            pass  # uvicorn's warning names WebSocket libraries; rnnlab answers such requests as HTTP/1.1

        def _idle(self) -> bool:
            return not self._head


def parser_class(http: str = "auto") -> type[_Guard]:
    """The guarded protocol class for ``http``: "httptools", "h11", or "auto" (httptools when
    installed, else h11).

    Raises:
        ConfigError: ``http`` is not one of those, or "httptools" is not installed.
    """
    if http not in HTTP_PARSERS:
        raise param_error("http", f"one of {', '.join(map(repr, HTTP_PARSERS))}", http)
    if http == "h11" or (http == "auto" and "GuardedHttpToolsProtocol" not in globals()):
        return GuardedH11Protocol
    if "GuardedHttpToolsProtocol" not in globals():
        raise ConfigError("http='httptools' needs the httptools package: pip install 'rnnlab[serve]' (or "
                          "pip install httptools), or use http='h11'.")
    return GuardedHttpToolsProtocol


def protocol(header_timeout_s: float, http: str = "auto", max_body_bytes: int | None = None) -> type[_Guard]:
    """The protocol class uvicorn gets (``http=``), with the header deadline set.

    Args:
        header_timeout_s: seconds a client has for a request line and headers.
        http: the parser (:func:`parser_class`); default "auto".
        max_body_bytes: the app's body limit, named in the 413 a parser gives to a
            Content-Length it cannot hold; default None (not named).

    Raises:
        ConfigError: ``header_timeout_s`` is not a number > 0, or ``http`` is not available.
    """
    _check("header_timeout_s", header_timeout_s)
    base = parser_class(http)
    return type(base.__name__, (base,), {"header_timeout_s": float(header_timeout_s),
                                         "max_body_bytes": max_body_bytes})


class PathOnly(logging.Filter):
    """Access-log filter: log the request path without its query string (which could hold a key)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].partition("?")[0] + "?<query not logged>", *args[3:])
        return True


def log_config() -> dict:
    """uvicorn's logging config with :class:`PathOnly` on the access log."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["path_only"] = {"()": PathOnly}
    config["loggers"]["uvicorn.access"]["filters"] = ["path_only"]
    return config


def _check(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise param_error(name, "a number of seconds > 0", value)


def server_config(app, host: str = "127.0.0.1", port: int = 8000, header_timeout_s: float = 10.0,
                  keep_alive_s: float = 5.0, log_level: str = "info", access_log: bool = True,
                  http: str = "auto", loop: str = "auto", **options) -> uvicorn.Config:
    """The uvicorn config ``rnnlab serve`` runs ``app`` with.

    Args:
        app: the ASGI app (:func:`~.app.create_app`).
        host: interface to listen on; default "127.0.0.1".
        port: TCP port; default 8000.
        header_timeout_s: seconds a client has for a request line and headers; default 10.
        keep_alive_s: seconds an idle connection is kept between requests; default 5.
        log_level: uvicorn's log level; default "info".
        access_log: log every request (its path without the query string); default True.
        http: the HTTP parser, "httptools", "h11" or "auto" (httptools when installed); default "auto".
        loop: the event loop, "uvloop", "asyncio" or "auto" (uvloop when installed); default "auto".
        **options: further ``uvicorn.Config`` options, or replacements of those set here
            (``rnnlab serve --workers``: the app and protocol as import strings, ``workers``).

    Raises:
        ConfigError: a timeout that is not a number > 0, or a parser or loop that is unknown or
            not installed.
    """
    _check("keep_alive_s", keep_alive_s)
    if loop not in LOOPS:
        raise param_error("loop", f"one of {', '.join(map(repr, LOOPS))}", loop)
    if loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise ConfigError("loop='uvloop' needs the uvloop package: pip install 'rnnlab[serve]' (or pip install "
                          "uvloop), or use loop='asyncio'.")
    limits = getattr(getattr(app, "state", None), "limits", None)
    guarded = protocol(header_timeout_s, http, getattr(limits, "max_body_bytes", None))
    return uvicorn.Config(app, **{"host": host, "port": port, "http": guarded, "loop": loop, "ws": "none",
                                  "timeout_keep_alive": keep_alive_s, "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
                                  "log_config": log_config(), "log_level": log_level, "server_header": False,
                                  "access_log": access_log, **options})


def run_server(app, **options) -> None:
    """Serve ``app`` until interrupted (Ctrl-C), with :func:`server_config`'s ``options``."""
    uvicorn.Server(server_config(app, **options)).run()
