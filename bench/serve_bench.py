"""The ``serve`` part of bench/run.py: ``Run.predict`` on token ids and on raw texts, then
``rnnlab serve`` under ``wrk`` and an open-loop constant-rate client, in one run.

    python bench/run.py --only serve

The run: examples/jigsaw_lstm.toml (Embedding(V, 3) + LSTM(32) + Dense(6, sigmoid)) trained on
the Jigsaw subset for ``--serve-epochs`` (2) epochs with ``fit.threads=1``, cached under the
bench cache folder (``serve-jigsaw-lstm-e<epochs>``) and reused while its manifest is there.

Measured, on the 16,451 texts of the subset (every figure in rows = texts per second):

1. ``Run.predict`` on token ids (``Sequences``, tokenized beforehand) and on the raw texts, best of
   ``repeats`` calls each; target: texts >= 50 % of ids;
2. ``rnnlab serve`` under ``wrk`` (``-c 64``, 8 texts per request drawn from the same texts, the
   bodies in a generated Lua script) for ``seconds``: texts/s; target >= 50 % of ``Run.predict``
   on the texts, 0 errors;
3. the latency curve at 25, 50, 75 and 100 % of the rate ``wrk`` reached; target p99 <= 50 ms at
   50 %. With ``hey`` installed (Debian's package; compiled, so it takes little of the cores the
   server shares) it paces the requests (:func:`paced`: 16 connections, each on its own ticker;
   every request the same 8 texts; the achieved rate is reported beside the offered one). Without
   it, an open-loop client in Python (asyncio, raw HTTP/1.1 on keep-alive connections) sends at
   a constant rate, each request timed from when it was due (no coordinated omission), but it
   takes a core's share from the server on two cores (measured: p99 505 ms at 469 requests/s
   against wrk's p99 of 97 ms at twice that rate, 2026-12-02).
4. where the server's CPU goes under wrk's load (:func:`profile_server`): ``py-spy`` samples the
   server and its worker processes during a further ``wrk`` run, and every on-CPU sample is put
   in the group of the innermost code it is in (HTTP parsing, JSON, the model, tokenizing, ...).
   Skipped, with the reason, where py-spy is missing or may not attach.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from serve_load import free_port, stop as stop_server  # bench/ is on sys.path (run.py, or run as a script)

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
TEXTS_PER_REQUEST = 8
CONNECTIONS = 64
RAW_VS_IDS = 0.5  # Run.predict on texts / on ids
SERVE_VS_PREDICT = 0.5  # serve texts/s / Run.predict on the texts
P99_MS = 50.0  # at half the max rate
CURVE = (0.25, 0.5, 0.75, 1.0)
PROFILE_SECONDS = 10
# (group, substrings of a frame's file path): a sample belongs to the first group that one of its
# frames matches, scanning from the innermost frame outwards
GROUPS = (
    ("tokenizing", ("rnnlab/text/",)),
    ("the model (torch)", ("rnnlab/models/", "rnnlab/engine/", "torch/")),
    ("JSON", ("json/", "orjson")),
    ("request validation (pydantic)", ("pydantic",)),
    ("HTTP parsing (httptools or h11, rnnlab's guarded protocol)",
     ("h11/", "h11_impl", "httptools", "rnnlab/use/serve/server.py")),
    ("metrics (prometheus_client)", ("prometheus_client/",)),
    ("routing and middleware (Starlette, FastAPI)", ("starlette/", "fastapi/")),
    ("rnnlab serve (app, batcher, limits)", ("rnnlab/use/serve/",)),
    ("event loop and sockets (asyncio or uvloop)", ("asyncio/", "selectors", "uvloop")),
    ("uvicorn (other)", ("uvicorn/",)),
)


def ensure_run(jigsaw: Path, cache: Path, epochs: int, timeout: float) -> tuple[Path, str]:
    """The cached Jigsaw LSTM run folder (trained when absent) and how it was obtained."""
    folder = cache / f"serve-jigsaw-lstm-e{epochs}"
    if (folder / "manifest.json").exists():
        return folder, f"reused {folder}"
    if folder.exists():
        shutil.rmtree(folder)
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "rnnlab", "train", str(HERE.parent / "examples" / "jigsaw_lstm.toml"), "-q",
           "--set", f"data.path={jigsaw}", "--set", f"fit.epochs={epochs}", "--set", "fit.threads=1",
           "-o", str(folder)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, timeout=timeout, stdout=subprocess.DEVNULL)
    return folder, f"trained {folder} ({epochs} epochs, {time.perf_counter() - t:.0f} s)"


def measure_predict(run, texts: list[str], repeats: int) -> dict:
    """Best-of-``repeats`` rows/s of ``Run.predict`` on token ids and on the raw texts."""
    seqs = run.encode(texts)
    run.predict(texts[:64])  # loads the model

    def best(data) -> float:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            run.predict(data)
            times.append(time.perf_counter() - t)
        return len(texts) / min(times)

    ids, raw = best(seqs), best(texts)
    return {"rows": len(texts), "ids_rows_per_s": ids, "texts_rows_per_s": raw, "texts_vs_ids": raw / ids}


def start_server(run_dir: Path, port: int, log, extra: list[str] | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "rnnlab", "serve", str(run_dir), "--host", HOST, "--port", str(port), *(extra or [])]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def batch_totals(port: int) -> tuple[float, float]:
    """(texts scored, model calls) so far, from the server's ``GET /metrics`` (all workers)."""
    import urllib.request

    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    got = {m.group(1): float(m.group(2)) for m in re.finditer(r"^rnnlab_batch_size_(sum|count) (\S+)$", text, re.M)}
    return got.get("sum", 0.0), got.get("count", 0.0)


def wait_ready(port: int, server: subprocess.Popen, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            status, _ = asyncio.run(_one(port, "GET", "/v1/ready", b""))
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server was not ready within {timeout:.0f} s")


def bodies(texts: list[str], n: int = 500, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [json.dumps({"texts": [texts[i] for i in rng.integers(0, len(texts), TEXTS_PER_REQUEST)]}).encode()
            for _ in range(n)]


def _lua_string(b: bytes) -> str:
    return '"' + "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else f"\\{c:03d}" for c in b) + '"'


def wrk_script(path: Path, posts: list[bytes]) -> None:
    """A wrk Lua script cycling through ``posts`` and printing a JSON summary line."""
    path.write_text(
        "wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/json'\n"
        "local bodies = {" + ",\n".join(_lua_string(b) for b in posts) + "}\nlocal i = 0\n"
        "request = function() i = i + 1 return wrk.format(nil, '/v1/predict', nil, bodies[(i % #bodies) + 1]) end\n"
        "done = function(s, latency, requests)\n"
        "  io.write(string.format('WRKJSON {\"requests\": %d, \"duration_us\": %d, \"socket_errors\": %d, "
        "\"non_2xx\": %d, \"p50_us\": %d, \"p99_us\": %d}\\n', s.requests, s.duration, s.errors.connect + "
        "s.errors.read + s.errors.write + s.errors.timeout, s.errors.status, latency:percentile(50), "
        "latency:percentile(99)))\nend\n", encoding="utf-8")


def run_wrk(port: int, script: Path, seconds: float, connections: int = CONNECTIONS) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(script),
                          f"http://{HOST}:{port}"], capture_output=True, text=True, timeout=seconds + 120)
    m = re.search(r"WRKJSON (\{.*\})", out.stdout)
    if m is None:
        raise RuntimeError(f"wrk gave no summary: {out.stdout[-500:]} {out.stderr[-500:]}")
    r = json.loads(m.group(1))
    secs = r["duration_us"] / 1e6
    return {"connections": connections, "seconds": secs, "requests": r["requests"],
            "requests_per_s": r["requests"] / secs, "texts_per_s": r["requests"] * TEXTS_PER_REQUEST / secs,
            "errors": r["socket_errors"] + r["non_2xx"], "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000}


# ---------------------------------------------------------------- the open-loop client
async def _request(reader, writer, method: str, path: str, body: bytes) -> int:
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    await reader.readexactly(length)
    return status


async def _one(port: int, method: str, path: str, body: bytes) -> tuple[int, None]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        return await _request(reader, writer, method, path, body), None
    finally:
        writer.close()


async def _open_loop(port: int, posts: list[bytes], rate: float, seconds: float) -> dict:
    idle: list[tuple] = []
    latencies: list[float] = []
    errors = 0
    opened = 0

    async def send(due: float, body: bytes) -> None:
        nonlocal errors, opened
        await asyncio.sleep(max(due - time.perf_counter(), 0))
        conn = idle.pop() if idle else None
        status = None
        if conn is not None:  # a kept-alive connection the server may have closed (keep_alive_s): retried once
            try:
                status = await _request(*conn, "POST", "/v1/predict", body)
            except (OSError, asyncio.IncompleteReadError):
                conn[1].close()
                conn = None
        try:
            if conn is None:
                conn = await asyncio.open_connection(HOST, port)
                opened += 1
                status = await _request(*conn, "POST", "/v1/predict", body)
        except (OSError, asyncio.IncompleteReadError, ValueError, AttributeError):
            errors += 1
            if conn is not None:
                conn[1].close()
            return
        latencies.append(time.perf_counter() - due)
        if status != 200:
            errors += 1
        idle.append(conn)

    start = time.perf_counter() + 0.2
    n = int(rate * seconds)
    await asyncio.gather(*(send(start + i / rate, posts[i % len(posts)]) for i in range(n)))
    wall = time.perf_counter() - start
    for _, writer in idle:
        writer.close()
    ms = np.asarray(latencies) * 1000
    return {"offered_requests_per_s": rate, "requests": n, "answered_per_s": len(latencies) / wall,
            "texts_per_s": len(latencies) * TEXTS_PER_REQUEST / wall, "errors": errors, "connections": opened,
            "p50_ms": float(np.percentile(ms, 50)) if len(ms) else None,
            "p99_ms": float(np.percentile(ms, 99)) if len(ms) else None}


def open_loop(port: int, posts: list[bytes], rate: float, seconds: float) -> dict:
    """Requests at a constant ``rate`` for ``seconds``, each timed from when it was due."""
    return {"client": "python", **asyncio.run(_open_loop(port, posts, rate, seconds))}


HEY_WORKERS = 16


def paced(port: int, body: bytes, rate: float, seconds: float, tmp: Path, workers: int = HEY_WORKERS) -> dict:
    """``rate`` requests/s for ``seconds`` from ``hey`` (compiled, Go): ``workers`` keep-alive
    connections, each sending on its own ticker of ``rate / workers`` per second, every request
    the same ``body``; latencies from hey's per-request CSV. A tick that comes while the worker
    still waits for an answer is skipped, so a stalled server lowers the achieved rate (reported)
    rather than showing in the latency: compare the achieved rate with the offered one."""
    path = tmp / "body.json"
    path.write_bytes(body)
    cmd = ["hey", "-z", f"{seconds:g}s", "-c", str(workers), "-q", f"{rate / workers:.3f}", "-m", "POST",
           "-T", "application/json", "-D", str(path), "-o", "csv", f"http://{HOST}:{port}/v1/predict"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    rows = [line.split(",") for line in out.stdout.splitlines()[1:] if line.count(",") >= 7]
    if not rows:
        raise RuntimeError(f"hey gave no results: {out.stdout[-300:]} {out.stderr[-300:]}")
    ms = np.array([float(r[0]) for r in rows]) * 1000
    codes = [r[6] for r in rows]
    return {"client": "hey", "offered_requests_per_s": rate, "requests": len(rows),
            "answered_per_s": len(rows) / seconds, "texts_per_s": len(rows) * TEXTS_PER_REQUEST / seconds,
            "errors": sum(c != "200" for c in codes), "connections": workers,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


# ---------------------------------------------------------------- the part
def run_serve(args, cache: Path) -> dict:
    """Every measurement of the part, as one dict (bench/run.py stores it under results.serve)."""
    import rnnlab
    from rnnlab.data import load_for_run

    if shutil.which("wrk") is None:
        return {"error": "wrk is not installed (apt-get install wrk)"}
    epochs = getattr(args, "serve_epochs", 2)
    seconds = 8 if args.quick else 15
    run_dir, how = ensure_run(args.jigsaw, cache, epochs, args.timeout)
    print(f"  [serve] run: {how}", flush=True)
    run = rnnlab.load_run(run_dir)
    texts = load_for_run(run.config, args.jigsaw, labelled=False).texts
    out: dict = {"run": how, "model": "examples/jigsaw_lstm.toml (Embedding(V,3) + LSTM(32) + Dense(6))",
                 "texts_per_request": TEXTS_PER_REQUEST, "load_average_start": os.getloadavg()}
    out["predict"] = measure_predict(run, texts, 1 if args.quick else 2)
    p = out["predict"]
    print(f"  [serve] Run.predict: ids {p['ids_rows_per_s']:,.0f} rows/s, texts {p['texts_rows_per_s']:,.0f} rows/s",
          flush=True)
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="rnnlab-serve-bench-"))
    posts = bodies(texts)
    script = tmp / "post.lua"
    wrk_script(script, posts)
    with open(tmp / "server.log", "wb") as log:
        server = start_server(run_dir, port, log, shlex.split(getattr(args, "serve_args", "") or ""))
        out["serve_args"] = getattr(args, "serve_args", "") or ""
        try:
            wait_ready(port, server)
            run_wrk(port, script, 3)  # warm-up (the batcher's thread tuner, allocator)
            texts0, calls0 = batch_totals(port)
            out["wrk"] = run_wrk(port, script, seconds)
            texts1, calls1 = batch_totals(port)
            w = out["wrk"]
            w["texts_per_model_call"] = (texts1 - texts0) / max(calls1 - calls0, 1)
            print(f"  [serve] wrk -c{CONNECTIONS}: {w['requests_per_s']:.1f} requests/s = {w['texts_per_s']:,.0f} "
                  f"texts/s, p50 {w['p50_ms']:.0f} ms, p99 {w['p99_ms']:.0f} ms, {w['errors']} errors, "
                  f"{w['texts_per_model_call']:.1f} texts per model call", flush=True)
            out["curve"] = []
            for share in CURVE:
                rate = w["requests_per_s"] * share
                point = {"share_of_max": share, **(paced(port, posts[0], rate, seconds, tmp) if shutil.which("hey")
                                                   else open_loop(port, posts, rate, seconds))}
                out["curve"].append(point)
                print(f"  [serve] {share:.0%} of max ({point['offered_requests_per_s']:.1f} requests/s offered): "
                      f"p50 {point['p50_ms']:.1f} ms, p99 {point['p99_ms']:.1f} ms, {point['errors']} errors",
                      flush=True)
            if not getattr(args, "no_profile", False):
                out["profile"] = profile_server(server.pid, port, script, PROFILE_SECONDS, tmp)
                print("  [serve] profile: " + profile_line(out["profile"]), flush=True)
        finally:
            stop_server(server)
            shutil.rmtree(tmp, ignore_errors=True)
    out["load_average_end"] = os.getloadavg()
    return out


def group_samples(raw: str) -> dict:
    """py-spy's raw output (``frame;frame;... count`` per line, outermost first) as the share of
    samples per :data:`GROUPS` group ("other" for the rest)."""
    counts: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _, n = line.rstrip().rpartition(" ")
        if not stack or not n.isdigit():
            continue
        group = "other"
        for frame in reversed(stack.split(";")):
            where = frame.rpartition("(")[2]
            hit = next((g for g, keys in GROUPS if any(k in where for k in keys)), None)
            if hit:
                group = hit
                break
        counts[group] = counts.get(group, 0) + int(n)
        total += int(n)
    return {"samples": total, "shares": {g: c / total for g, c in sorted(counts.items(), key=lambda kv: -kv[1])}
            if total else {}}


def profile_server(pid: int, port: int, script: Path, seconds: float, tmp: Path) -> dict:
    """Where the server's CPU goes under wrk's closed loop: ``py-spy record --subprocesses`` on
    the server while ``wrk`` runs for ``seconds``; :func:`group_samples` of what it recorded."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        return {"error": "py-spy is not installed (pip install py-spy)"}
    raw = tmp / "serve-profile.txt"
    proc = subprocess.Popen([spy, "record", "--subprocesses", "--nonblocking", "-r", "200", "-f", "raw",
                             "-d", f"{seconds + 2:g}", "-p", str(pid), "-o", str(raw)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # py-spy attaches
    run_wrk(port, script, seconds)
    try:
        _, err = proc.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return {"error": "py-spy did not finish"}
    if proc.returncode != 0 or not raw.exists():
        last = (err or "").strip().splitlines()[-1:] or ["no output"]
        return {"error": f"py-spy could not sample the server ({last[0][:200]})"}
    return {"seconds": seconds, **group_samples(raw.read_text(errors="replace"))}


def report_serve(res: dict) -> tuple[list[str], list[dict]]:
    """Each ratio against its target."""
    lines, table = ["", "serve: Run.predict on ids and on texts, rnnlab serve under wrk, latency at constant rates"], []
    if "error" in res:
        return [*lines, f"  error: {res['error']}"], table
    p, w = res["predict"], res["wrk"]
    half = next(c for c in res["curve"] if c["share_of_max"] == 0.5)
    errors = w["errors"] + sum(c["errors"] for c in res["curve"])
    checks = [("Run.predict texts / ids", p["texts_vs_ids"], f">= {RAW_VS_IDS}", p["texts_vs_ids"] >= RAW_VS_IDS),
              ("serve texts/s / Run.predict texts", w["texts_per_s"] / p["texts_rows_per_s"],
               f">= {SERVE_VS_PREDICT}", w["texts_per_s"] / p["texts_rows_per_s"] >= SERVE_VS_PREDICT),
              ("p99 ms at half the max rate", half["p99_ms"], f"<= {P99_MS:g}",
               half["p99_ms"] is not None and half["p99_ms"] <= P99_MS),
              ("errors", errors, "== 0", errors == 0)]
    for what, value, target, ok in checks:
        table.append({"part": "serve", "what": what, "value": value, "target": target, "ok": ok})
        lines.append(f"  {what}: {value:.2f} (target {target}: {'ok' if ok else 'MISSED'})")
    lines.append("  rate curve (requests/s offered -> p50 / p99 ms): " + ", ".join(
        f"{c['offered_requests_per_s']:.1f} -> {c['p50_ms']:.0f} / {c['p99_ms']:.0f}" for c in res["curve"]))
    if "profile" in res:
        lines.append("  where the server's CPU goes under wrk (py-spy, all its processes): "
                     + profile_line(res["profile"]))
    return lines, table


def profile_line(profile: dict) -> str:
    if "error" in profile:
        return f"not profiled: {profile['error']}"
    return (", ".join(f"{g} {share:.0%}" for g, share in profile["shares"].items())
            + f" ({profile['samples']:,} samples)")
