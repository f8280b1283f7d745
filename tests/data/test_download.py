"""fetch(): download once into the cache, verify checksums, fail with one clear line."""

from __future__ import annotations

import hashlib
import socket
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rnnlab.data.download import fetch
from rnnlab.errors import DataError

PAYLOAD = b"tiny fixture file\n" * 1000


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; ``server.requests`` lists the paths asked for."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "file.bin").write_bytes(PAYLOAD)
    requests = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            if self.path == "/short.bin":  # announces 1000 bytes, sends 10, hangs up
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"x" * 10)
                self.close_connection = True
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.requests = requests
    httpd.root = root
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _online(monkeypatch):
    monkeypatch.delenv("RNNLAB_OFFLINE", raising=False)


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_then_cached(server, tmp_path, capsys):
    cache = tmp_path / "cache"
    got = fetch(f"{server.url}/file.bin", filename="f.bin", sha256=SHA, cache_dir=cache)
    assert got == cache / "f.bin" and got.read_bytes() == PAYLOAD
    assert "downloading" in capsys.readouterr().err  # stderr is not a TTY: one plain line
    assert fetch(f"{server.url}/file.bin", filename="f.bin", sha256=SHA, cache_dir=cache) == got
    assert server.requests == ["/file.bin"]  # the second call made no request
    assert [p.name for p in cache.iterdir()] == ["f.bin"]


def test_progress_bar_on_a_tty(server, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    fetch(f"{server.url}/file.bin", filename="f.bin", sha256=SHA, cache_dir=tmp_path)
    err = capsys.readouterr().err
    assert "f.bin" in err and "->" not in err


def test_cut_short_download(server, tmp_path):
    with pytest.raises(DataError, match=r"connection closed after 10 of 1000 bytes"):
        fetch(f"{server.url}/short.bin", filename="s.bin", sha256=None, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == [tmp_path / "www"]


def test_md5_and_env_cache_dir(server, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(tmp_path / "envcache"))
    got = fetch(f"{server.url}/file.bin", filename="f.bin", sha256=None,
                md5=hashlib.md5(PAYLOAD).hexdigest(), progress=False)
    assert got == tmp_path / "envcache" / "f.bin"


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=rf"file\.bin is corrupt: its sha256 is {SHA}, expected 0+"):
        fetch(f"{server.url}/file.bin", filename="f.bin", sha256="0" * 64, cache_dir=cache)
    assert list(cache.iterdir()) == []


def test_http_404(server, tmp_path):
    with pytest.raises(DataError, match=r"Cannot download .*/missing\.bin \(the server answered "
                                        r"HTTP 404.*set RNNLAB_IMDB"):
        fetch(f"{server.url}/missing.bin", filename="m.bin", sha256=None, cache_dir=tmp_path,
              hint="pass its local path with --data or set RNNLAB_IMDB=/path/to/file")
    assert list(tmp_path.glob("*m.bin*")) == []


def test_unreachable_host(tmp_path):
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DataError, match=rf"Cannot download http://127\.0\.0\.1:{port}/x .*may be offline"):
        fetch(f"http://127.0.0.1:{port}/x", filename="x", sha256=None, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_offline_env(server, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_OFFLINE", "1")
    with pytest.raises(DataError, match="RNNLAB_OFFLINE is set.*pass its local path"):
        fetch(f"{server.url}/file.bin", filename="f.bin", sha256=SHA, cache_dir=tmp_path)
    assert server.requests == []
    (tmp_path / "f.bin").write_bytes(PAYLOAD)  # a valid cached copy is still usable offline
    assert fetch(f"{server.url}/file.bin", filename="f.bin", sha256=SHA, cache_dir=tmp_path).is_file()


def test_corrupted_cache_is_replaced(server, tmp_path):
    (tmp_path / "f.bin").write_bytes(b"half a file")
    got = fetch(f"{server.url}/file.bin", filename="f.bin", sha256=SHA, cache_dir=tmp_path)
    assert got.read_bytes() == PAYLOAD and server.requests == ["/file.bin"]
