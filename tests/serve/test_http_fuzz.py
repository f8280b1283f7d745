"""Hostile HTTP clients against the real server (uvicorn on 127.0.0.1, a random port, short
timeouts), over raw sockets: partial headers, stalled bodies, bad Content-Length, malformed
request lines, huge headers, pipelined garbage, lone surrogates, keys in the URL — plus
hypothesis-generated requests of each class. Every answer is the JSON error shape with a status
below 500, nothing is logged with a traceback, and every connection ends within its timeout."""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'rnnlab[serve]')")
pytest.importorskip("uvicorn", reason="the serve extra is not installed (pip install 'rnnlab[serve]')")

from helpers import toy_config, write_toy_csv  # noqa: E402
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import rnnlab  # noqa: E402
from rnnlab.errors import ConfigError  # noqa: E402
from rnnlab.use.serve import Limits, create_app, server_config  # noqa: E402

HEADER_S, BODY_S, KEEP_ALIVE_S = 1.0, 1.0, 1.0
MARGIN = 2.0  # seconds of slack on a shared machine
KEY = "fuzz-key-0123456789"


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


class Served(tuple):
    """(host, port, log records), and the server's ``parser``."""

    def __new__(cls, items, parser: str):
        self = super().__new__(cls, items)
        self.parser = parser
        return self


PARSERS = ["h11"] + (["httptools"] if importlib.util.find_spec("httptools") else [])


@pytest.fixture(scope="module", params=PARSERS)
def server(request, tmp_path_factory):
    """(host, port, log records) of a real uvicorn serving a tiny run with an API key, with each
    HTTP parser in turn: every test below runs against both."""
    tmp = tmp_path_factory.mktemp("fuzz")
    run = rnnlab.train(toy_config(write_toy_csv(tmp / "toy.csv", n=120), tmp / "runs", fit__epochs=1))
    app = create_app(run, Limits(max_texts=8, max_chars=200, max_body_bytes=4_000, body_timeout_s=BODY_S),
                     api_key=KEY)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = server_config(app, port=port, header_timeout_s=HEADER_S, keep_alive_s=KEEP_ALIVE_S, log_level="info",
                           http=request.param)
    import uvicorn

    srv = uvicorn.Server(config)
    logs = Collect()
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"):
        logging.getLogger(name).addHandler(logs)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "the server did not start"
    yield Served(("127.0.0.1", port, logs.records), request.param)
    srv.should_exit = True
    thread.join(10)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"):
        logging.getLogger(name).removeHandler(logs)


def exchange(server, *parts: bytes, pause: float = 0.0, limit: float = 10.0) -> tuple[bytes, float]:
    """Send ``parts`` (``pause`` seconds apart), read until the server closes; (bytes, seconds)."""
    host, port, _ = server
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=limit) as sock:
        for part in parts:
            try:
                sock.sendall(part)
            except OSError:  # the server already answered and closed
                break
            if pause:
                time.sleep(pause)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                pytest.fail(f"the connection was still open after {limit} s")
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - start


def responses(raw: bytes) -> list[tuple[int, dict, dict | None]]:
    """(status, headers, JSON body or None) of each HTTP response in ``raw``."""
    out = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, raw[:200]
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        n = int(headers.get("content-length", len(rest)))
        body, raw = rest[:n], rest[n:]
        parsed = json.loads(body) if headers.get("content-type") == "application/json" else None
        out.append((status, headers, parsed))
    return out


def assert_json_errors(raw: bytes, *statuses: int) -> list[dict]:
    got = responses(raw)
    assert got, "no answer"
    for status, headers, body in got:
        assert status < 500, (status, body)
        if status >= 400:
            assert body is not None and set(body) == {"error"} and set(body["error"]) == {"code", "message"}, raw[:300]
    if statuses:
        assert [s for s, _, _ in got] == list(statuses), raw[:300]
    return [b["error"] for _, _, b in got if b and "error" in b]


def request(method: str = "POST", path: str = "/v1/predict", body: bytes = b'{"texts": ["good"]}',
            headers: dict | None = None) -> bytes:
    head = {"Host": "x", "Authorization": f"Bearer {KEY}", "Content-Type": "application/json",
            "Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    return (f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items() if v is not None)
            + "\r\n").encode("latin-1") + body


# ---------------------------------------------------------------------------------- slow clients
def test_a_valid_request_is_answered(server):
    raw, _ = exchange(server, request())
    [(status, _, body)] = responses(raw)
    assert status == 200 and len(body["predictions"]) == 1


def test_partial_headers_get_408_and_are_closed_within_the_header_timeout(server):
    raw, took = exchange(server, b"POST /v1/predict HTTP/1.1\r\nHost: x\r\n")
    [error] = assert_json_errors(raw, 408)
    assert error["code"] == "request_timeout" and "header_timeout_s=1" in error["message"]
    assert HEADER_S - 0.2 < took < HEADER_S + MARGIN


def test_headers_dripped_byte_by_byte_are_cut_at_the_header_timeout(server):
    drip = [bytes([b]) for b in b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200]
    raw, took = exchange(server, *drip, pause=0.05)
    assert_json_errors(raw, 408)
    assert took < HEADER_S + MARGIN


def test_an_idle_connection_is_closed(server):
    raw, took = exchange(server)
    assert raw == b"" and took < max(HEADER_S, KEEP_ALIVE_S) + MARGIN


def test_a_stalled_body_gets_408_and_is_closed_within_the_body_timeout(server):
    raw, took = exchange(server, request(body=b'{"texts": ["go', headers={"Content-Length": "100"}))
    [error] = assert_json_errors(raw, 408)
    assert error["code"] == "request_timeout" and "body_timeout_s=1" in error["message"]
    assert BODY_S - 0.2 < took < BODY_S + MARGIN


def test_a_dripped_body_is_cut_at_the_body_timeout(server):
    head = request(body=b"", headers={"Content-Length": "400"})
    raw, took = exchange(server, head, *([b" "] * 100), pause=0.05)
    assert_json_errors(raw, 408)
    assert took < BODY_S + 100 * 0.05 and took < BODY_S + MARGIN + 1


def test_a_keep_alive_connection_is_closed_after_its_idle_timeout(server):
    raw, took = exchange(server, request(headers={"Connection": None}))
    assert [s for s, _, _ in responses(raw)] == [200]
    assert took < KEEP_ALIVE_S + MARGIN


def test_fifty_stalled_connections_are_all_released(server):
    host, port, _ = server
    socks = []
    for _ in range(50):
        sock = socket.create_connection((host, port), timeout=10)
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-")
        socks.append(sock)
    start = time.monotonic()
    for sock in socks:
        with sock:
            while sock.recv(65536):
                pass
    assert time.monotonic() - start < HEADER_S + MARGIN + 2
    raw, _ = exchange(server, request())
    assert responses(raw)[0][0] == 200


# ---------------------------------------------------------------------------------- malformed HTTP
@pytest.mark.parametrize("data, status, words", [
    (request(headers={"Content-Length": "abc"}), 400, "Content-Length"),
    (request(headers={"Content-Length": "-5"}), 400, "Content-Length"),
    (b"GARBAGE\r\n\r\n", 400, "malformed"),
    (b"GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed"),
    (b"\x00\x01\x02\xff\r\n\r\n", 400, "malformed"),
    (b"GET /v1/health HTTP/1.1\r\n\r\n", 400, "Host"),
    (request(headers={"X-Big": "a" * 20_000}), 431, "16,384 bytes"),
    (request(body=b"", headers={"X-Big": "a" * 40_000, "Content-Length": None})[:-4], 431, "16,384 bytes"),
    (request(headers={"Content-Length": "99999999999999999999"}), 413, "max_body_bytes=4,000"),
    (b"GET /v1/h\xc3\xa9alth HTTP/1.1\r\nHost: x\r\n\r\n", 400, ("illegal request line", "invalid char in url")),
    (b"GET /v1/health HTTP/1.1\nHost: x\n\n", {"h11": 200, "httptools": 400}, None),  # llhttp: CRLF only
    # both framings at once (a smuggling pattern): llhttp refuses it, h11 reads the body as chunks, which it is not
    (request(headers={"Transfer-Encoding": "chunked"}), {"h11": 408, "httptools": 400}, None),
    (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 16_000 + b"\r\n\r\n", 200, None),
    # a protocol switch is not made: answered as HTTP/1.1, but llhttp would not read a body after it
    (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", 200, None),
    (request(headers={"Connection": "Upgrade", "Upgrade": "websocket"}), {"h11": 200, "httptools": 400}, None),
])
def test_malformed_requests_get_a_json_error(server, data, status, words):
    """Each parser's own words may differ (``words``: any of them); the status and shape may not,
    but for three requests llhttp is stricter about (a bare LF as line end, Transfer-Encoding with
    Content-Length, a body after Upgrade headers)."""
    raw, _ = exchange(server, data)
    errors = assert_json_errors(raw, status[server.parser] if isinstance(status, dict) else status)
    if words is None:
        return
    [error] = errors
    words = (words,) if isinstance(words, str) else words
    assert any(w in error["message"] or w == error["code"] for w in words), error


def test_pipelined_garbage_after_a_valid_request(server):
    raw, _ = exchange(server, request(headers={"Connection": None}) + b"NOT HTTP AT ALL\r\n\r\n")
    got = responses(raw)
    assert [s for s, _, _ in got] == [200, 400] and got[1][2]["error"]["code"] == "bad_request"


def test_two_pipelined_requests_are_both_answered_in_order(server):
    first = request(path="/v1/health", method="GET", body=b"", headers={"Connection": None, "Content-Length": None})
    raw, _ = exchange(server, first + request())
    got = responses(raw)
    assert [s for s, _, _ in got] == [200, 200] and got[0][2] == {"status": "ok"}


def test_a_head_sent_with_a_large_body_in_one_write_is_judged_by_its_body(server):
    """The head's byte count stops at its end: a body that arrives in the same read is the body's
    limit to judge (413), not the headers' (431)."""
    raw, _ = exchange(server, request(body=b'{"texts": ["' + b"a" * 30_000 + b'"]}'))
    [error] = assert_json_errors(raw, 413)
    assert error["code"] == "body_too_large" and "max_body_bytes=4,000" in error["message"]


def test_lone_surrogates_are_422_without_echo_or_traceback(server):
    _, _, records = server
    before = len(records)
    raw, _ = exchange(server, request(body=b'{"texts": ["ok", "a\\ud800b"]}'))
    [error] = assert_json_errors(raw, 422)
    assert error["code"] == "invalid_text" and "texts[1]" in error["message"] and "a\ud800b" not in error["message"]
    assert not [r for r in records[before:] if r.exc_info or r.levelno >= logging.ERROR]


def test_a_key_in_the_url_is_refused_and_never_logged(server):
    _, _, records = server
    before = len(records)
    for query in (f"api_key={KEY}", f"x=1&token={KEY}"):
        raw, _ = exchange(server, request(path=f"/v1/predict?{query}"))
        [error] = assert_json_errors(raw, 400)
        assert error["code"] == "key_in_url" and "Authorization: Bearer" in error["message"] and KEY not in str(error)
    logged = [r.getMessage() for r in records[before:]]
    assert any("/v1/predict?<query not logged>" in m for m in logged), logged
    assert not any(KEY in m for m in logged)


# ---------------------------------------------------------------------------------- generated requests
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
COUNTS: dict[str, int] = {}


def fuzz_case(server, kind: str, data: bytes) -> None:
    COUNTS[kind] = COUNTS.get(kind, 0) + 1
    _, _, records = server
    before = len(records)
    raw, took = exchange(server, data)
    if raw:
        assert_json_errors(raw)
    assert took < max(HEADER_S, BODY_S) + MARGIN
    assert not [r for r in records[before:] if r.exc_info], [r.getMessage() for r in records[before:]]


@FUZZ
@given(data=st.binary(max_size=300))
def test_generated_request_lines_and_garbage(server, data):
    fuzz_case(server, "garbage", data + b"\r\n\r\n")


@FUZZ
@given(name=st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"), min_size=1,
                    max_size=20),
       value=st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b),
       length=st.one_of(st.none(), st.text(st.characters(max_codepoint=255), max_size=12),
                        st.integers(-5, 10**12).map(str)))
def test_generated_headers_and_content_lengths(server, name, value, length):
    data = request(headers={"Content-Length": length} if length is not None else None)
    head, _, body = data.partition(b"\r\n\r\n")
    fuzz_case(server, "headers", head + b"\r\n" + name.encode() + b": " + value + b"\r\n\r\n" + body)


@FUZZ
@given(texts=st.lists(st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0xFFFF), max_size=30),
                      max_size=4), extra=st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))
def test_generated_bodies_with_surrogates(server, texts, extra):
    body = json.dumps({"texts": texts, **extra}).encode()  # ASCII, lone surrogates as \\uXXXX escapes
    fuzz_case(server, "bodies", request(body=body))


@FUZZ
@given(query=st.text(max_size=40), path=st.sampled_from(["/v1/predict", "/v1/model", "/v1/health", "/nope"]))
def test_generated_paths_and_query_strings(server, query, path):
    from urllib.parse import quote

    fuzz_case(server, "queries", request(path=f"{path}?{quote(query, safe='=&')}"))


def test_report_counts():
    """The number of generated cases each class ran (shown with -s; the issue note quotes them)."""
    print("\ngenerated cases per class:", COUNTS)
    assert all(n >= 1 for n in COUNTS.values())


@pytest.mark.parametrize("option, value", [("header_timeout_s", 0), ("keep_alive_s", -1), ("header_timeout_s", True)])
def test_invalid_timeouts_are_refused(option, value):
    with pytest.raises(ConfigError, match=option):
        server_config(None, **{option: value})
    with pytest.raises(ConfigError, match="body_timeout_s"):
        Limits(body_timeout_s=0)


def test_the_access_log_can_be_turned_off(monkeypatch):
    """`rnnlab serve --no-access-log` reaches uvicorn's config (on by default)."""
    assert server_config(None).access_log is True
    assert server_config(None, access_log=False).access_log is False
    from rnnlab.use import serve as serve_pkg

    seen = {}
    monkeypatch.setattr(serve_pkg, "run_server", lambda app, **kw: seen.update(kw))
    monkeypatch.setattr(serve_pkg, "create_app", lambda run, limits: object())
    from typer.testing import CliRunner

    from rnnlab.cli import app

    result = CliRunner().invoke(app, ["serve", "some-run", "--no-access-log"])
    assert result.exit_code == 0, result.output
    assert seen["access_log"] is False


def test_the_parser_and_loop_are_chosen_and_checked(monkeypatch):
    from rnnlab.use.serve import server

    assert issubclass(server_config(None, http="h11").http, server.GuardedH11Protocol)
    auto = server_config(None).http
    if "httptools" in PARSERS:
        assert issubclass(auto, server.GuardedHttpToolsProtocol)
    for option in ("http", "loop"):
        with pytest.raises(ConfigError, match=f"The '{option}' parameter must be one of"):
            server_config(None, **{option: "fast"})
    monkeypatch.delitem(server.__dict__, "GuardedHttpToolsProtocol", raising=False)  # as if not installed
    assert server.parser_class("auto") is server.GuardedH11Protocol
    with pytest.raises(ConfigError, match=r"pip install 'rnnlab\[serve\]'"):
        server.parser_class("httptools")

