"""The HTTP server under the app: uvicorn with an h11 protocol that bounds how long a client
may take to send its request line and headers, answers the requests h11 refuses (a bad
Content-Length, a malformed request line, headers too large) with the API's JSON error instead
of uvicorn's plain text, and an access log that never shows a query string.

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
import json
import logging
import sys

import h11
import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from ...errors import param_error
from .limits import MAX_HEADER_BYTES


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


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers and JSON
    answers to malformed requests. Use :func:`protocol` to set the deadline."""

    header_timeout_s: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # noqa: D102 - asyncio.Protocol
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc) -> None:  # noqa: D102
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:  # noqa: D102
        before = self.cycle
        try:
            super().handle_events()
        except (UnicodeError, ValueError) as exc:  # a request target uvicorn cannot decode
            self._refuse(400, f"The request line cannot be read ({type(exc).__name__}); send an ASCII path.")
            return
        if self.cycle is not before:  # a new request's headers are complete
            self._disarm()

    def on_response_complete(self) -> None:  # noqa: D102
        self._arm()  # the next request's headers are due within the deadline (a pipelined one disarms it)
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        """h11 refused the request (called while its RemoteProtocolError is handled)."""
        exc = sys.exc_info()[1]
        status = getattr(exc, "error_status_hint", 400) if isinstance(exc, h11.RemoteProtocolError) else 400
        status = status if status in _REASONS else 400
        why = str(exc) if exc is not None and str(exc) else msg
        why = why.split(": bytearray(")[0].split(": b'")[0].split(': b"')[0]  # h11 quotes the raw line: not echoed
        if status == 431:
            why = f"the request line and headers are larger than {MAX_HEADER_BYTES:,} bytes"
        self._refuse(status, f"The HTTP request is malformed: {why}. Nothing was processed.")

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
        if self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
            self._unset_keepalive_if_required()
            self.transport.close()  # nothing was sent: close as the keep-alive timeout does
            return
        self._refuse(408, f"The request line and headers did not arrive within header_timeout_s="
                          f"{self.header_timeout_s:g} seconds; the connection is closed.")


def protocol(header_timeout_s: float) -> type[GuardedH11Protocol]:
    """The protocol class uvicorn gets (``http=``), with the header deadline set.

    Raises:
        ConfigError: ``header_timeout_s`` is not a number > 0.
    """
    _check("header_timeout_s", header_timeout_s)
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout_s": float(header_timeout_s)})


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
                  **options) -> uvicorn.Config:
    """The uvicorn config ``rnnlab serve`` runs ``app`` with.

    Args:
        app: the ASGI app (:func:`~.app.create_app`).
        host: interface to listen on; default "127.0.0.1".
        port: TCP port; default 8000.
        header_timeout_s: seconds a client has for a request line and headers; default 10.
        keep_alive_s: seconds an idle connection is kept between requests; default 5.
        log_level: uvicorn's log level; default "info".
        access_log: log every request (its path without the query string); default True.
        **options: further ``uvicorn.Config`` options, or replacements of those set here
            (``rnnlab serve --workers``: the app and protocol as import strings, ``workers``).

    Raises:
        ConfigError: a timeout that is not a number > 0.
    """
    _check("keep_alive_s", keep_alive_s)
    return uvicorn.Config(app, **{"host": host, "port": port, "http": protocol(header_timeout_s),
                                  "timeout_keep_alive": keep_alive_s, "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
                                  "log_config": log_config(), "log_level": log_level, "server_header": False,
                                  "access_log": access_log, **options})


def run_server(app, **options) -> None:
    """Serve ``app`` until interrupted (Ctrl-C), with :func:`server_config`'s ``options``."""
    uvicorn.Server(server_config(app, **options)).run()
