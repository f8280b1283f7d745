"""A throw-away PostgreSQL server on 127.0.0.1 for the tests (Debian's ``postgresql`` package).

:func:`pg_server` finds ``initdb`` and ``pg_ctl`` (on PATH, else ``/usr/lib/postgresql/*/bin``),
creates a cluster in a fresh directory under /tmp (trust authentication, superuser ``rnnlab``,
no fsync), starts it on a free loopback port with its socket in that directory, creates the
database ``rnnlab`` and yields its SQLAlchemy URL; afterwards it stops the server and removes
the directory. PostgreSQL refuses to run as root, so under root the server commands run as the
``postgres`` system user (``runuser``, else ``su``) in a directory chowned to that user.

Whatever is missing — binaries, the ``postgres`` user, psycopg2 — or a step that fails or
times out skips the test with the precise reason (``pytest.skip("PostgreSQL not available:
…")``). With ``RNNLAB_REQUIRE_POSTGRES=1`` in the environment (CI, after installing the
package) the same reasons fail the test instead, so a broken setup cannot pass silently.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

USER = "rnnlab"  # the cluster's superuser and the database name
STEP_TIMEOUT_S = 60


class Unavailable(Exception):
    """PostgreSQL cannot be used here; the message says why."""


def _give_up(reason: str):
    message = f"PostgreSQL not available: {reason}"
    if os.environ.get("RNNLAB_REQUIRE_POSTGRES", "") not in ("", "0"):
        pytest.fail(message + " (RNNLAB_REQUIRE_POSTGRES is set, so this is an error)", pytrace=False)
    pytest.skip(message)


def find_bin_dir() -> Path:
    """The folder holding initdb and pg_ctl: PATH first, else the newest /usr/lib/postgresql/*/bin."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        here = Path(os.path.realpath(initdb)).parent
        if (here / "pg_ctl").exists():
            return here
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")
                  if Path(p, "initdb").exists() and Path(p, "pg_ctl").exists()]

    def version(p: Path):
        try:
            return float(p.parent.name)
        except ValueError:
            return 0.0

    if candidates:
        return max(candidates, key=version)
    raise Unavailable("initdb/pg_ctl not found on PATH nor in /usr/lib/postgresql/*/bin "
                      "(install Debian's package: apt-get install -y postgresql)")


def _as_server_user() -> tuple[list[str] | None, tuple[int, int] | None]:
    """(how to prefix a command so it runs as the server user, (uid, gid) to chown to).

    Non-root: run directly. Root: as the ``postgres`` user through runuser, else su (the
    prefix is None then: :func:`_run` builds the ``su -c`` line itself)."""
    if os.geteuid() != 0:
        return [], None
    import pwd

    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable("the tests run as root, PostgreSQL refuses to run as root, and there is no "
                          "'postgres' system user to run it as (it comes with Debian's postgresql package)") from None
    ids = (pw.pw_uid, pw.pw_gid)
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--"], ids
    if shutil.which("su"):
        return None, ids
    raise Unavailable("running as root and neither runuser nor su is available to switch to the postgres user")


def _run(prefix: list[str] | None, cmd: list[str], *, cwd: str, timeout: float = STEP_TIMEOUT_S,
         what: str) -> subprocess.CompletedProcess:
    full = [*prefix, *cmd] if prefix is not None else ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.setdefault("LC_ALL", "C")
    try:
        proc = subprocess.run(full, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{what} did not finish within {timeout:.0f} s ({shlex.join(full)})") from None
    except OSError as exc:
        raise Unavailable(f"{what} could not be started: {exc}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
        raise Unavailable(f"{what} failed with exit code {proc.returncode}: {' | '.join(tail)}")
    return proc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(data: Path, n: int = 5) -> str:
    try:
        lines = (data / "log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no server log)"
    return " | ".join(lines[-n:])


def _connect(url_or_port, dbname: str = "postgres", timeout_s: int = 10):
    import psycopg2

    port = url_or_port if isinstance(url_or_port, int) else int(url_or_port.rsplit(":", 1)[1].split("/")[0])
    return psycopg2.connect(host="127.0.0.1", port=port, user=USER, dbname=dbname, connect_timeout=timeout_s)


def create_database(url: str, name: str) -> str:
    """Create another (empty) database on the server of ``url``; returns its URL."""
    conn = _connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SET statement_timeout = '30s'")
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return url.rsplit("/", 1)[0] + "/" + name


def _start(timeout: float) -> tuple[str, dict]:
    """Create and start a cluster; returns (url, handle for :func:`_stop`). Raises Unavailable."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        raise Unavailable("the Python driver psycopg2 is not installed (pip install psycopg2-binary)") from None
    bindir = find_bin_dir()
    prefix, ids = _as_server_user()
    data = Path(tempfile.mkdtemp(prefix="rnnlab-pg-", dir="/tmp"))
    handle = {"bindir": bindir, "prefix": prefix, "data": data, "started": False}
    try:
        if ids is not None:
            os.chown(data, *ids)
        _run(prefix, [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", USER, "--no-sync",
                      "-E", "UTF8", "--locale=C"], cwd=str(data), timeout=timeout, what="initdb")
        last = ""
        for _ in range(3):  # the free port may be taken between free_port() and the start
            port = free_port()
            opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off -c full_page_writes=off"
            try:
                handle["started"] = True
                _run(prefix, [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(data / "log"), "-w",
                              "-t", str(int(timeout)), "-o", opts, "start"],
                     cwd=str(data), timeout=timeout + 10, what="pg_ctl start")
                break
            except Unavailable as exc:
                last = f"{exc}; server log: {_log_tail(data)}"
                _stop(handle, quiet=True)
        else:
            raise Unavailable(last)
        url = f"postgresql+psycopg2://{USER}@127.0.0.1:{port}/{USER}"
        deadline = time.time() + timeout
        while True:
            try:
                create_database(url, USER)
                break
            except Exception as exc:
                if time.time() > deadline:
                    raise Unavailable(f"cannot create the database on 127.0.0.1:{port}: "
                                      f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}") from None
                time.sleep(0.3)
        return url, handle
    except BaseException:
        _stop(handle, quiet=True)
        raise


def _stop(handle: dict, quiet: bool = False) -> None:
    data, bindir, prefix = handle["data"], handle["bindir"], handle["prefix"]
    if handle.get("started") and (data / "postmaster.pid").exists():
        for mode in ("fast", "immediate"):
            try:
                _run(prefix, [str(bindir / "pg_ctl"), "-D", str(data), "-m", mode, "-w", "-t", "30", "stop"],
                     cwd="/tmp", timeout=45, what=f"pg_ctl stop -m {mode}")
                break
            except Unavailable:
                if mode == "immediate" and not quiet:
                    raise
    handle["started"] = False
    shutil.rmtree(data, ignore_errors=True)


@contextmanager
def pg_server(timeout: float = STEP_TIMEOUT_S) -> Iterator[str]:
    """Start a throw-away PostgreSQL server; yields ``postgresql+psycopg2://rnnlab@127.0.0.1:PORT/rnnlab``.

    Skips the calling test (or fails it under RNNLAB_REQUIRE_POSTGRES=1) with the precise
    reason when PostgreSQL cannot be started here.
    """
    try:
        url, handle = _start(timeout)
    except Unavailable as exc:
        _give_up(str(exc))
    try:
        yield url
    finally:
        _stop(handle)
