"""rnnlab vs Keras, side by side: training, inference, tokenization, memory, quality.

    python bench/run.py --suite cpu                 # the full CPU suite (~50 min on 2 cores)
    python bench/run.py --quick                     # smoke run: 1 repeat, small subsets
    python bench/run.py --only m1,tok --repeats 5   # some parts

Parts (``--only``): m1, m2, m3 (training + inference), tok (tokenizer), quality
(examples/jigsaw_lstm.toml trained on the plain path -- padded batches, one thread, torch's own
kernels -- and on each fast one: bucketed, ``fit.threads = 'auto'``, with and without the compiled
kernels; each validation AUC within 0.002 of the plain path's), mem (peak RSS of M3 at Jigsaw
scale), contention (rnnlab only: M1, M2 and M3 beside 0 and 1 busy-loop processes, with
``fit.threads`` = 'auto', 1 and all cores, plus
all cores with libgomp's default spinning wait policy; a bounded number of batches and
rows), int8 (rnnlab only: M1 trained for 8 epochs and M3 for one on every training row, then their validation
rows predicted by the float32 model and its int8 copy (PyTorch dynamic quantization,
rnnlab.use.quantize), alternately: the rows/s ratio and the mean ROC AUC change, target <= 0.001),
serve (``Run.predict`` on ids and texts, ``rnnlab serve`` under ``wrk`` and a constant-rate
client: bench/serve_bench.py).

- M1 = Embedding(V, 3) + LSTM(32) + Dense(6, sigmoid), batch 128, maxlen 250, RMSprop
  (Jigsaw subset, its full vocabulary);
- M2 = Embedding(500, 16) + SimpleRNN(8) + Dense(1, sigmoid), batch 64, maxlen 100, RMSprop
  (IMDB train, num_words 500);
- M3 = Embedding(50000, 128) + Bidirectional(GRU(64, return_sequences)) + GlobalMaxPool1D +
  Dense(6, sigmoid), batch 256, maxlen 200, Adam (Jigsaw subset).

The texts are tokenized once, by rnnlab's Tokenizer, and saved (flat ids + offsets) to a
temporary .npz that both sides read: Keras pads it to maxlen with ``pad_sequences`` and trains
on fixed-length arrays (as the notebooks do); rnnlab trains with its default length-bucketed
batches. Every measurement runs in a fresh interpreter — Keras in ``--keras-python`` (default
$RNNLAB_BENCH_KERAS_PYTHON; without one the Keras side is skipped with that reason) through bench/keras_worker.py, which
never imports rnnlab; rnnlab through bench/rnnlab_worker.py — so the peak RSS is per
measurement: the child's VmHWM (its own peak since exec). The child's ``ru_maxrss`` from
``wait4`` is kept in the JSON as ``wait4_maxrss_mb`` but not reported: Linux carries the
launching process's peak RSS over the exec into it, and the runner holds the data sets. Variants run
interleaved (A/B/A/B...); figures are medians over the repeats. Epoch time is training only (no validation), measured
after a warm-up fit of a few batches; ms/step = epoch time / steps; inference rows/s is
``predict`` with batch 1024 on every row of the data set (rnnlab: ``Run.predict``'s code path).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
USER_OMP_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")  # before rnnlab is imported (it sets PASSIVE)
sys.path.insert(0, str(HERE))
import make_corpus  # noqa: E402

PARTS = ("m1", "m2", "m3", "tok", "quality", "mem", "contention", "int8", "serve")
TRAIN_PARTS = ("m1", "m2", "m3")
# quality: (variant, bucketing, threads (None = --rnnlab-threads), compiled kernels); the first is the reference,
# the plain path (padded batches, one thread, torch's own kernels) that every fast path must match
QUALITY_VARIANTS = (("padded, 1 thread, RNNLAB_COMPILE=off", False, 1, False),
                    ("bucketed, 1 thread (the benchmark's default)", True, None, True),
                    ("bucketed, fit.threads=auto", True, "auto", True),
                    ("bucketed, 1 thread, RNNLAB_COMPILE=off", True, 1, False))
QUALITY_TOLERANCE = 0.002
QUALITY_SEED = 42  # the config's own seed; --quality-seeds N adds 43, 44, ...
# rnnlab's fused recurrences apply (M1: LSTM(32), M2: SimpleRNN(8), M3: BiGRU(64) training); also measured with
# RNNLAB_COMPILE=off
FUSED_PARTS = ("m1", "m2", "m3")
# training speed-up of rnnlab over a Keras backend (epoch time ratio) each part must reach, and the tokenizer's
TRAIN_TARGETS = {("m1", "keras-tf"): 5.0, ("m2", "keras-jax"): 1.0, ("m3", "keras-tf"): 3.0}
TOK_TARGET = 10.0
# batches each training part is profiled on (torch.profiler, one thread) after it is measured
PROFILE_STEPS = {"m1": 40, "m2": 150, "m3": 8}
SHARED = HERE.parent.parent / "shared" / "data"
JIGSAW = SHARED / "jigsaw_toxic" / "train_subset.csv.gz"
IMDB = SHARED / "imdb" / "aclImdb_train.csv.gz"
LABELS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]

MODELS = {
    "m1": {"title": "M1 Emb(V,3)+LSTM(32)+Dense(6)", "data": "jigsaw", "maxlen": 250, "batch_size": 128,
           "num_words": None, "model": {"rnn": "LSTM", "units": 32, "embedding_dim": 3, "outputs": 6,
                                        "optimizer": "rmsprop"}},
    "m2": {"title": "M2 Emb(500,16)+SimpleRNN(8)+Dense(1)", "data": "imdb", "maxlen": 100, "batch_size": 64,
           "num_words": 500, "model": {"rnn": "SimpleRNN", "units": 8, "embedding_dim": 16, "outputs": 1,
                                       "optimizer": "rmsprop", "input_dim": 500}},
    "m3": {"title": "M3 Emb(50000,128)+BiGRU(64)+MaxPool+Dense(6)", "data": "jigsaw", "maxlen": 200,
           "batch_size": 256, "num_words": 50000,
           "model": {"rnn": "GRU", "units": 64, "embedding_dim": 128, "outputs": 6, "bidirectional": True,
                     "return_sequences": True, "pool": "max", "optimizer": "adam", "input_dim": 50000}},
}


class BenchError(Exception):
    """A problem reported as one line (bad arguments, missing data)."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        self.exit(2, f"bench/run.py: error: {message}\n")


def parse_args(argv):
    ap = Parser(description="rnnlab vs Keras benchmark (see the module docstring).")
    ap.add_argument("--suite", default="cpu", choices=["cpu"], help="the suite (only 'cpu' for now)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 repeat, small subsets")
    ap.add_argument("--only", default=None, help=f"comma-separated parts: {','.join(PARTS)} (default: all)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="repeats of every measurement (default 3; quick and contention 1)")
    ap.add_argument("--quality-seeds", type=int, default=None,
                    help="quality part: seeds per variant (42, 43, ...; medians shown; default 3, --quick 1: one "
                         "seed's AUC moves by a few thousandths with the batch order alone)")
    ap.add_argument("--keras-python", default=None,
                    help="interpreter with Keras 3 + TensorFlow (default $RNNLAB_BENCH_KERAS_PYTHON; without "
                         "either the Keras side is skipped)")
    ap.add_argument("--no-keras", action="store_true", help="rnnlab side only")
    ap.add_argument("--rnnlab-threads", type=int, default=1,
                    help="torch threads of the rnnlab side (fit.threads; default 1: on a shared 2-core machine "
                         "two OpenMP threads stall whenever another process holds a core); 0 = 'auto'")
    ap.add_argument("--jigsaw", type=Path, default=JIGSAW, help="Jigsaw CSV (id, comment_text, 6 labels)")
    ap.add_argument("--imdb", type=Path, default=IMDB, help="IMDB CSV (text, label)")
    ap.add_argument("--tok-docs", type=int, default=None, help="documents of the tokenizer corpus (default 312,735)")
    ap.add_argument("--mem-docs", type=int, default=None, help="documents for the memory part (default 160,000)")
    ap.add_argument("--cache", type=Path, default=None, help="corpus cache folder (default ~/.cache/rnnlab-bench)")
    ap.add_argument("--serve-args", default="", help="serve part: extra `rnnlab serve` options, e.g. '--no-access-log'")
    ap.add_argument("--out", type=Path, default=None,
                    help="results JSON (default bench/results/<date>-<machine>.json; quick runs write only with --out)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per measurement (default 1800)")
    ap.add_argument("--no-profile", action="store_true",
                    help="skip the profiles: torch.profiler after each training part (m1, m2, m3), py-spy on "
                         "the server (serve)")
    a = ap.parse_args(argv)
    parts = PARTS if a.only is None else tuple(p.strip().lower() for p in a.only.split(",") if p.strip())
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        ap.error(f"--only: unknown part(s) {', '.join(bad) or '(none given)'}; choose from {', '.join(PARTS)}")
    a.parts = [p for p in PARTS if p in parts]
    a.contention_repeats = a.repeats or 1
    if a.repeats is None:
        a.repeats = 1 if a.quick else 3
    if a.repeats < 1:
        ap.error(f"--repeats must be >= 1, got {a.repeats}")
    if a.quality_seeds is None:
        a.quality_seeds = 1 if a.quick else 3
    if a.quality_seeds < 1:
        ap.error(f"--quality-seeds must be >= 1, got {a.quality_seeds}")
    for name in ("tok_docs", "mem_docs"):
        v = getattr(a, name)
        if v is not None and v < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    if a.rnnlab_threads < 0:
        ap.error(f"--rnnlab-threads must be >= 0, got {a.rnnlab_threads}")
    if a.timeout <= 0:
        ap.error("--timeout must be > 0")
    a.tok_docs = a.tok_docs or (20_000 if a.quick else make_corpus.N_DOCS)
    a.mem_docs = a.mem_docs or (20_000 if a.quick else 160_000)
    explicit = a.keras_python or os.environ.get("RNNLAB_BENCH_KERAS_PYTHON")
    a.keras_python = explicit
    a.keras_reason = None
    if a.no_keras:
        a.keras_reason = "--no-keras"
    elif not explicit:
        a.keras_reason = ("no Keras interpreter given (set --keras-python or RNNLAB_BENCH_KERAS_PYTHON to a Python "
                          "with tensorflow + keras 3 + tf_keras)")
    elif not Path(a.keras_python).exists():
        ap.error(f"--keras-python: '{a.keras_python}' does not exist")
    needs = {"jigsaw": any(p in a.parts for p in ("m1", "m3", "quality", "contention", "int8", "serve")),
             "imdb": any(p in a.parts for p in ("m2", "contention"))}
    for name, need in needs.items():
        path = getattr(a, name)
        if need and not path.exists():
            ap.error(f"--{name}: '{path}' does not exist (needed by --only {','.join(a.parts)})")
    return a


# ------------------------------------------------------------------------------------ data
def load_table(path: Path, text_col: str, label_cols: list[str], limit: int | None):
    import pandas as pd

    df = pd.read_csv(path, nrows=limit)
    texts = df[text_col].fillna("").astype(str).tolist()
    y = df[label_cols].to_numpy(dtype=np.float32)
    return texts, y


def split(n: int, seed: int = 42, val: float = 0.2):
    perm = np.random.default_rng(seed).permutation(n)
    k = int(round(n * val))
    return np.sort(perm[k:]), np.sort(perm[:k])


def prepare(part: str, args, tmp: Path, limit: int | None = None) -> dict:
    """Tokenize with rnnlab once (the first ``limit`` rows when given); save the ids for both
    sides; return the worker spec."""
    from rnnlab.text import Tokenizer

    m = MODELS[part]
    if limit is None and args.quick:
        limit = {"m1": 4000, "m2": 4000, "m3": 3000}[part]
    if m["data"] == "jigsaw":
        texts, y = load_table(args.jigsaw, "comment_text", LABELS, limit)
    else:
        texts, y = load_table(args.imdb, "text", ["label"], limit)
    tr, va = split(len(texts))
    tok = Tokenizer(num_words=m["num_words"])
    tok.fit_on_texts([texts[i] for i in tr])
    s_tr = tok.encode([texts[i] for i in tr])
    s_va = tok.encode([texts[i] for i in va])
    path = tmp / f"{part}.npz"
    np.savez(path, train_flat=s_tr.flat, train_offsets=s_tr.offsets, val_flat=s_va.flat, val_offsets=s_va.offsets,
             y_train=y[tr], y_val=y[va])
    model = dict(m["model"])
    model.setdefault("input_dim", len(tok.word_index) + 1)
    return {"kind": "train", "data": str(path), "maxlen": m["maxlen"], "batch_size": m["batch_size"],
            "epochs": 1 if (args.quick or part == "m3") else 2, "seed": 0, "model": model,
            "threads": args.rnnlab_threads or None,
            "rows": {"train": len(tr), "validation": len(va)}}


# ------------------------------------------------------------------------------ measuring
def run_worker(python: str, script: Path, spec: dict, env: dict, timeout: float, tmp: Path) -> dict:
    """Run one measurement in a fresh interpreter; its result plus the child's peak RSS."""
    spec_path = tmp / f"spec-{time.monotonic_ns()}.json"
    spec_path.write_text(json.dumps(spec))
    err_path = tmp / "stderr.txt"
    t0 = time.perf_counter()
    with open(err_path, "w") as err:
        proc = _Popen([python, str(script), str(spec_path)], stdout=subprocess.PIPE, stderr=err,
                      env=env, text=True, cwd=str(tmp))
        try:
            out, _ = proc.communicate(timeout=timeout)  # waits too; rusage comes from wait4 below
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    rusage = getattr(proc, "_rnnlab_rusage", None)
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        tail = [ln for ln in err_path.read_text(errors="replace").splitlines() if ln.strip()][-1:] or ["(no output)"]
        return {"error": f"exit {proc.returncode}: {tail[0][:300]}"}
    res = json.loads(line[len("RESULT "):])
    res["wall_s"] = wall
    if rusage is not None:  # includes the runner's own peak, carried over the exec by Linux
        res["wait4_maxrss_mb"] = rusage.ru_maxrss / 1024.0
    res["child_maxrss_mb"] = res.get("peak_rss_mb")  # the child's VmHWM: its own peak since exec
    return res


class _Popen(subprocess.Popen):
    """Popen that keeps the child's rusage (os.wait4), so peak RSS is per measurement."""

    def _try_wait(self, wait_flags):
        try:
            pid, sts, rusage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return (self.pid, 0)
        if pid == self.pid:
            self._rnnlab_rusage = rusage
        return (pid, sts)



def keras_env(backend: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "OMP_WAIT_POLICY")}
    if USER_OMP_WAIT_POLICY is not None:  # the user's, not the one importing rnnlab set in this process
        env["OMP_WAIT_POLICY"] = USER_OMP_WAIT_POLICY
    env.update(KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0")
    return env


def rnnlab_env(threads: int = 0) -> dict:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def jax_available(python: str) -> str | None:
    """None when jax imports in the Keras interpreter, else the reason."""
    r = subprocess.run([python, "-c", "import jax, jaxlib; print(jax.__version__)"], capture_output=True, text=True)
    if r.returncode == 0:
        return None
    last = (r.stderr.strip().splitlines() or ["import failed"])[-1]
    return f"jax is not importable in {python} ({last[:120]})"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ------------------------------------------------------------------------------ reporting
def fmt(v, spec="{:.1f}"):
    return "-" if v is None else spec.format(v)


def summarize(results: dict) -> dict:
    """Medians per (part, variant)."""
    out = {}
    for part, variants in results.items():
        out[part] = {}
        for variant, runs in variants.items():
            ok = [r for r in runs if "error" not in r]
            keys = set().union(*[r.keys() for r in ok]) if ok else set()
            med = {k: median([r.get(k) for r in ok]) for k in keys
                   if all(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool) for r in ok if k in r)}
            med["n"] = len(ok)
            med["errors"] = [r["error"] for r in runs if "error" in r]
            for k in ("vocab_hash", "seq_hash"):
                vals = {r.get(k) for r in ok}
                if len(vals) == 1:
                    med[k] = vals.pop()
            out[part][variant] = med
    return out


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def report(summary: dict, args, notes: list[str], specs: dict | None = None) -> tuple[str, list[dict]]:
    specs = specs or {}
    lines, table = [], []
    lines.append("")
    lines.append(f"{'part':<46} {'variant':<15} {'ms/step':>8} {'epoch s':>8} {'infer rows/s':>12} {'peak RSS MB':>11}")
    for part in TRAIN_PARTS:
        if part not in summary:
            continue
        for variant, m in summary[part].items():
            lines.append(f"{MODELS[part]['title']:<46} {variant:<15} {fmt(m.get('ms_per_step')):>8} "
                         f"{fmt(m.get('epoch_s'), '{:.2f}'):>8} {fmt(m.get('rows_per_s'), '{:,.0f}'):>12} "
                         f"{fmt(m.get('child_maxrss_mb'), '{:.0f}'):>11}")
            for e in m["errors"]:
                lines.append(f"    error: {e}")
    if "tok" in summary:
        lines.append("")
        lines.append(f"{'tokenizer (fit + transform)':<46} {'variant':<15} {'fit s':>8} {'total s':>8} "
                     f"{'docs/s':>12} {'peak RSS MB':>11}")
        for variant, m in summary["tok"].items():
            docs_s = ratio(m.get("docs"), m.get("seconds"))
            lines.append(f"{'corpus ' + fmt(m.get('docs'), '{:,.0f}') + ' docs':<46} {variant:<15} "
                         f"{fmt(m.get('fit_s'), '{:.2f}'):>8} {fmt(m.get('seconds'), '{:.2f}'):>8} "
                         f"{fmt(docs_s, '{:,.0f}'):>12} {fmt(m.get('child_maxrss_mb'), '{:.0f}'):>11}")
            for e in m["errors"]:
                lines.append(f"    error: {e}")
    # ratios
    lines.append("")
    lines.append("ratios (rnnlab / Keras; < 1 = rnnlab faster for times, > 1 = rnnlab faster for rows/s):")
    for part in TRAIN_PARTS:
        s = summary.get(part, {})
        r = s.get("rnnlab")
        for ref in ("keras-tf", "keras-jax"):
            k = s.get(ref)
            if not r or not k:
                continue
            e = ratio(r.get("epoch_s"), k.get("epoch_s"))
            st = ratio(r.get("ms_per_step"), k.get("ms_per_step"))
            inf = ratio(r.get("rows_per_s"), k.get("rows_per_s"))
            mem = ratio(r.get("child_maxrss_mb"), k.get("child_maxrss_mb"))
            row = {"part": part, "vs": ref, "epoch_time_ratio": e, "speedup": ratio(1, e), "ms_step_ratio": st,
                   "infer_rows_ratio": inf, "peak_rss_ratio": mem}
            goal = TRAIN_TARGETS.get((part, ref))
            if goal is not None:
                row.update(target=f">= {goal:g}x", ok=e is not None and 1 / e >= goal)
            table.append(row)
            speed = "-" if e is None else (f"{1 / e:.1f}x faster" if e <= 1 else f"{e:.1f}x slower")
            lines.append(f"  {part} vs {ref:<9}: epoch time x{fmt(e, '{:.3f}')} ({speed}), "
                         f"ms/step x{fmt(st, '{:.3f}')}, inference rows/s x{fmt(inf, '{:.2f}')}, "
                         f"peak RSS x{fmt(mem, '{:.2f}')}"
                         + ("" if goal is None else f"; target training speed-up >= {goal:g}x: "
                                                    f"{'ok' if row['ok'] else 'MISSED'}"))
        eager = s.get("rnnlab-eager")
        if r and eager:
            e = ratio(r.get("epoch_s"), eager.get("epoch_s"))
            table.append({"part": part, "vs": "rnnlab-eager", "epoch_time_ratio": e, "speedup": ratio(1, e)})
            lines.append(f"  {part} fused recurrence vs eager (RNNLAB_COMPILE=off): epoch time x{fmt(e, '{:.3f}')}")
    if "tok" in summary:
        s = summary["tok"]
        k, r, p = s.get("keras2-tokenizer"), s.get("rnnlab"), s.get("rnnlab-python")
        if k and r:
            e = ratio(r.get("seconds"), k.get("seconds"))
            same = (k.get("vocab_hash") is not None and k.get("vocab_hash") == r.get("vocab_hash")
                    and k.get("seq_hash") == r.get("seq_hash"))
            ok = e is not None and 1 / e >= TOK_TARGET and same
            table.append({"part": "tok", "vs": "keras2-tokenizer", "time_ratio": e, "speedup": ratio(1, e),
                          "identical": same, "target": f">= {TOK_TARGET:g}x, identical", "ok": ok})
            lines.append(f"  tok vs Keras 2 Tokenizer: time x{fmt(e, '{:.3f}')} ({fmt(ratio(1, e), '{:.1f}')}x "
                         f"faster; target >= {TOK_TARGET:g}x with identical output: {'ok' if ok else 'MISSED'}); "
                         f"word_index and sequences identical: {'yes' if same else 'NO'} "
                         f"(vocab {k.get('vocab_hash')} / {r.get('vocab_hash')}, seqs {k.get('seq_hash')} / "
                         f"{r.get('seq_hash')})")
        if r and r.get("seconds_resplit") is not None:
            lines.append(f"  tok, rnnlab fit + a transform that splits again (no words kept from the fit): "
                         f"{fmt(r.get('seconds_resplit'), '{:.2f}')} s"
                         + (f" ({fmt(ratio(k.get('seconds'), r.get('seconds_resplit')), '{:.1f}')}x faster than "
                            f"Keras)" if k else ""))
        a = s.get("rnnlab-arrow")
        if a and r:
            same = all(a.get(h) == r.get(h) for h in ("vocab_hash", "seq_hash"))
            lines.append(f"  tok, compiled word counter vs Arrow split (RNNLAB_COMPILE=off): "
                         f"{fmt(ratio(a.get('seconds'), r.get('seconds')), '{:.2f}')}x faster; identical: "
                         f"{'yes' if same else 'NO'}"
                         + (f"; Arrow alone vs Keras 2: {fmt(ratio(k.get('seconds'), a.get('seconds')), '{:.1f}')}x"
                            if k else ""))
        if p and r:
            lines.append(f"  tok, rnnlab vectorized vs rnnlab Python reference: "
                         f"{fmt(ratio(p.get('seconds'), r.get('seconds')), '{:.1f}')}x faster; "
                         f"identical: "
                         f"{'yes' if all(p.get(h) == r.get(h) for h in ('vocab_hash', 'seq_hash')) else 'NO'}")
    if "quality" in summary:
        s = summary["quality"]
        ref = s.get(QUALITY_VARIANTS[0][0], {})
        lines.append("")
        lines.append(f"quality (examples/jigsaw_lstm.toml on the Jigsaw subset, validation mean ROC AUC; each fast "
                     f"path against {QUALITY_VARIANTS[0][0]}, target within {QUALITY_TOLERANCE}; medians over "
                     f"{args.quality_seeds} seed(s)):")
        for variant, *_ in QUALITY_VARIANTS:
            m = s.get(variant, {})
            diff = None if m.get("val_auc") is None or ref.get("val_auc") is None else m["val_auc"] - ref["val_auc"]
            row = {"part": "quality", "variant": variant, "val_auc": m.get("val_auc"),
                   "epochs_run": m.get("epochs_run"), "train_s_per_epoch": m.get("train_s_per_epoch")}
            verdict = ""
            if variant != QUALITY_VARIANTS[0][0]:
                ok = diff is not None and abs(diff) <= QUALITY_TOLERANCE
                row.update(difference=diff, target=f"|difference| <= {QUALITY_TOLERANCE}", ok=ok)
                verdict = f"; difference {fmt(diff, '{:+.4f}')}: {'ok' if ok else 'MISSED'}"
            table.append(row)
            lines.append(f"  {variant:<44} {fmt(m.get('val_auc'), '{:.4f}')} ({fmt(m.get('epochs_run'), '{:.0f}')} "
                         f"epochs, {fmt(m.get('train_s_per_epoch'), '{:.2f}')} s/epoch){verdict}")
            for e in m.get("errors", []):
                lines.append(f"    error: {e}")
    if "mem" in summary:
        m = summary["mem"].get("rnnlab", {})
        lines.append("")
        lines.append(f"memory (M3, rnnlab, {fmt(m.get('docs'), '{:,.0f}')} synthetic documents, tokenize + 1 epoch): "
                     f"peak RSS {fmt(m.get('child_maxrss_mb'), '{:,.0f}')} MB, epoch "
                     f"{fmt(m.get('epoch_s'), '{:.1f}')} s "
                     f"({fmt(m.get('steps'), '{:.0f}')} steps), tokenize {fmt(m.get('tokenize_s'), '{:.1f}')} s")
        table.append({"part": "mem", "peak_rss_mb": m.get("child_maxrss_mb"), "docs": m.get("docs")})
        for e in m.get("errors", []):
            lines.append(f"    error: {e}")
    if "int8" in summary:
        more, rows = report_int8(summary)
        lines += more
        table += rows
    if "contention" in summary:
        more, rows = report_contention(summary, specs)
        lines += more
        table += rows
    for n in notes:
        lines.append(f"note: {n}")
    return "\n".join(lines), table


# --------------------------------------------------------------------------- contention
# training batches and inference rows per model: a few seconds each on 2 idle cores
CONTENTION = {"m1": {"batches": 40, "infer_rows": 8192}, "m2": {"batches": 150, "infer_rows": 16384},
              "m3": {"batches": 12, "infer_rows": 2048}}
CONTENTION_VARIANTS = ("auto", "1", "all", "all-spin")
SPIN_PARTS = TRAIN_PARTS  # all-spin (libgomp's default spinning) on every model: what the passive policy removes
AUTO_VS_BEST = 1.5  # with one competitor: auto within 1.5x of the best fixed count
AUTO_VS_IDLE = 3.0  # and never more than 3x slower than auto on the quiet machine
COMPETITOR = "while True: pass"


def contention_specs(args, tmp: Path) -> dict[str, dict]:
    """The worker spec of each model for the contention part (bounded batches and rows)."""
    specs = {}
    for part in TRAIN_PARTS:
        c = CONTENTION[part]
        batches = max(4, c["batches"] // 4) if args.quick else c["batches"]
        infer = max(1024, c["infer_rows"] // 4) if args.quick else c["infer_rows"]
        bs = MODELS[part]["batch_size"]
        rows = max(batches * bs, infer)
        spec = prepare(part, args, tmp, limit=int(rows / 0.8) + 1)
        spec.update(epochs=1, train_rows=batches * bs, infer_rows=infer, infer_threads=True, batches=batches)
        specs[part] = spec
    return specs


def contention_env() -> dict:
    """The rnnlab worker's environment with no thread cap: 'auto' and 'all' see every core."""
    env = rnnlab_env()
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        env.pop(k, None)
    return env


def start_competitors(n: int) -> list[subprocess.Popen]:
    """``n`` busy-loop processes (``python -c 'while True: pass'``)."""
    return [subprocess.Popen([sys.executable, "-c", COMPETITOR]) for _ in range(n)]


def stop_competitors(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def run_contention(args, tmp: Path, results: dict, specs: dict) -> None:
    """Every model x competitors (0, 1) x variant, the variants interleaved; the busy loops run
    only while their measurements do."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    model_specs = contention_specs(args, tmp)
    specs["contention"] = {"cores": cores, "competitor": f"python -c '{COMPETITOR}'",
                           "models": {p: {k: v for k, v in s.items() if k != "data"} for p, s in model_specs.items()}}
    rw = HERE / "rnnlab_worker.py"
    env = contention_env()
    timeout = min(args.timeout, 90)
    for part, base in model_specs.items():
        print(f"[contention] {MODELS[part]['title']}: {base['batches']} batches of {base['batch_size']}, "
              f"predict {base['infer_rows']:,} rows; {cores} cores", flush=True)
        for competitors in (0, 1):
            procs = start_competitors(competitors)
            try:
                for r in range(args.contention_repeats):
                    for variant in CONTENTION_VARIANTS:
                        if variant == "all-spin" and part not in SPIN_PARTS:
                            continue
                        threads = {"auto": "auto", "1": 1}.get(variant, cores)
                        spec = {**base, "threads": threads, "spin": variant == "all-spin"}
                        res = run_worker(sys.executable, rw, spec, env, timeout, tmp)
                        key = f"{part}/{competitors}/{variant}"
                        results.setdefault(key, []).append(res)
                        if "error" in res:
                            msg = f"error: {res['error']}"
                        else:
                            tp = res.get("thread_policy") or {}
                            msg = (f"train {res['epoch_s']:.2f} s, {res['rows_per_s']:,.0f} rows/s"
                                   + (f", tuner ended at {tp.get('threads')} thread(s) after {tp.get('probes')} "
                                      f"probe(s)" if variant == "auto" else ""))
                        print(f"  [contention] {part} competitors={competitors} {variant:<8} {msg}", flush=True)
            finally:
                stop_competitors(procs)


def report_profiles(profiles: dict) -> list[str]:
    """Where rnnlab's training step spends its time, per part (bench/rnnlab_worker.py run_profile)."""
    lines = ["", "profiles (rnnlab, one thread, torch.profiler; shares of the profiled epoch's wall time):"]
    for part, p in profiles.items():
        if "error" in p:
            lines.append(f"  {part}: error: {p['error']}")
            continue
        inside = p["ops_self_s"] / p["profiled_s"]
        top = ", ".join(f"{t['op']} {t['self_s'] / p['profiled_s']:.0%} ({t['calls']:,} calls)" for t in p["top"][:6])
        lines.append(f"  {part}: {p['steps']} steps, {1000 * p['profiled_s'] / p['steps']:.1f} ms/step under the "
                     f"profiler; in torch ops {inside:.0%}, outside them {max(0.0, 1 - inside):.0%} (Python, NumPy); "
                     f"top: {top}")
    return lines


def report_contention(summary: dict, specs: dict) -> tuple[list[str], list[dict]]:
    """The contention table and each ratio against its target."""
    lines, table = [""], []
    s = summary.get("contention", {})
    if not s:
        return lines, table
    lines.append(f"contention: training time of a bounded number of batches and inference rows/s, beside 0 / 1 "
                 f"busy-loop processes ({specs.get('contention', {}).get('cores')} cores)")
    lines.append(f"{'model':<46} {'variant':<9} {'train s (0)':>11} {'train s (1)':>11} {'rows/s (0)':>11} "
                 f"{'rows/s (1)':>11}")
    for part in TRAIN_PARTS:
        cells = {(c, v): s.get(f"{part}/{c}/{v}", {}) for c in (0, 1) for v in CONTENTION_VARIANTS}
        if not any(cells.values()):
            continue
        for v in CONTENTION_VARIANTS:
            a, b = cells[(0, v)], cells[(1, v)]
            if not a and not b:
                continue
            lines.append(f"{MODELS[part]['title']:<46} {v:<9} {fmt(a.get('epoch_s'), '{:.2f}'):>11} "
                         f"{fmt(b.get('epoch_s'), '{:.2f}'):>11} {fmt(a.get('rows_per_s'), '{:,.0f}'):>11} "
                         f"{fmt(b.get('rows_per_s'), '{:,.0f}'):>11}")
            for e in a.get("errors", []) + b.get("errors", []):
                lines.append(f"    error: {e}")
        for what, key, slower in (("training", "epoch_s", lambda x, y: ratio(x, y)),
                                  ("inference", "rows_per_s", lambda x, y: ratio(y, x))):
            auto1, auto0 = cells[(1, "auto")].get(key), cells[(0, "auto")].get(key)
            fixed = [cells[(1, v)].get(key) for v in ("1", "all")]
            fixed = [f for f in fixed if f is not None]
            best = (min(fixed) if key == "epoch_s" else max(fixed)) if fixed else None
            vs_best, vs_idle = slower(auto1, best), slower(auto1, auto0)
            ok_best = vs_best is not None and vs_best <= AUTO_VS_BEST
            ok_idle = vs_idle is not None and vs_idle <= AUTO_VS_IDLE
            table.append({"part": f"contention/{part}", "what": what, "auto_vs_best_fixed": vs_best,
                          "target_vs_best": AUTO_VS_BEST, "ok_vs_best": ok_best, "auto_vs_own_idle": vs_idle,
                          "target_vs_idle": AUTO_VS_IDLE, "ok_vs_idle": ok_idle})
            lines.append(f"  {part} {what}, one competitor: auto is {fmt(vs_best, '{:.2f}')}x the best fixed count's "
                         f"time (target <= {AUTO_VS_BEST}: {'ok' if ok_best else 'MISSED'}), {fmt(vs_idle, '{:.2f}')}x "
                         f"its own quiet time (target <= {AUTO_VS_IDLE}: {'ok' if ok_idle else 'MISSED'})")
    return lines, table


# int8 is judged on trained models, as users quantize them: every training row, M1 for 8 epochs, M3 for one.
# A barely trained model (60 batches of M1: AUC 0.64, its outputs nearly
# constant) lets the rounding reorder near-ties: -0.039 AUC in the 2026-12-02 suite run. --quick: a few batches.
INT8 = {"m1": {"train_rows": None, "epochs": 8, "quick_rows": 128 * 15},
        "m3": {"train_rows": None, "epochs": 1, "quick_rows": 256 * 5}}
INT8_AUC_CHANGE = 0.001  # int8 may cost at most this much mean validation AUC


def run_int8(args, tmp: Path, results: dict, specs: dict) -> None:
    """M1 and M3: float32 vs int8 on the validation rows, in one fresh process per repeat."""
    rw = HERE / "rnnlab_worker.py"
    for part, bound in INT8.items():
        spec = prepare(part, args, tmp)
        rows = bound["quick_rows"] if args.quick else bound["train_rows"]
        epochs = 1 if args.quick else bound["epochs"]
        spec.update(kind="int8", train_rows=rows, epochs=epochs, int8_repeats=3)
        specs[f"int8/{part}"] = {k: v for k, v in spec.items() if k != "data"}
        shown = f"{rows:,} rows" if rows else f"all {spec['rows']['train']:,} training rows"
        print(f"[int8] {MODELS[part]['title']}: trained on {shown} for {epochs} epoch(s), float32 vs int8 on "
              f"{spec['rows']['validation']:,} validation rows", flush=True)
        for r in range(args.repeats):
            res = run_worker(sys.executable, rw, spec, rnnlab_env(args.rnnlab_threads), args.timeout, tmp)
            results.setdefault(part, []).append(res)
            msg = (f"error: {res['error']}" if "error" in res else
                   f"fp32 {res['rows_per_s_fp32']:,.0f} rows/s, int8 {res['rows_per_s_int8']:,.0f} rows/s "
                   f"({res['speedup']:.2f}x); AUC {res['auc_fp32']:.4f} -> {res['auc_int8']:.4f}")
            print(f"  [int8] repeat {r + 1}/{args.repeats} {part} {msg}", flush=True)


def report_int8(summary: dict) -> tuple[list[str], list[dict]]:
    lines, table = [""], []
    lines.append("int8 (PyTorch dynamic quantization of LSTM/GRU/Dense) vs float32, validation rows, batch 1024:")
    for part, m in summary.get("int8", {}).items():
        change = m.get("auc_change")
        ok = change is not None and abs(change) <= INT8_AUC_CHANGE
        lines.append(f"  {MODELS[part]['title']}: fp32 {fmt(m.get('rows_per_s_fp32'), '{:,.0f}')} rows/s, int8 "
                     f"{fmt(m.get('rows_per_s_int8'), '{:,.0f}')} rows/s: {fmt(m.get('speedup'), '{:.2f}')}x; mean AUC "
                     f"{fmt(m.get('auc_fp32'), '{:.4f}')} -> {fmt(m.get('auc_int8'), '{:.4f}')} (change "
                     f"{fmt(change, '{:+.4f}')}, target |change| <= {INT8_AUC_CHANGE}: {'ok' if ok else 'MISSED'})")
        table.append({"part": f"int8/{part}", "speedup": m.get("speedup"), "auc_change": change,
                      "target_auc_change": INT8_AUC_CHANGE, "ok": ok})
        for e in m.get("errors", []):
            lines.append(f"    error: {e}")
    return lines, table


def _cpu_model() -> str:
    from rnnlab._machine import machine

    return machine()["cpu_model"]


def machine_name() -> str:
    host = re.sub(r"[^A-Za-z0-9_.-]+", "-", socket.gethostname()) or "machine"
    return f"{host}-{os.cpu_count()}cpu"


# ------------------------------------------------------------------------------------ main
def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.time()
    notes: list[str] = []
    variants_train = ["keras-tf", "rnnlab"]
    if args.keras_reason:
        print(f"Keras reference skipped: {args.keras_reason}", flush=True)
        notes.append(f"Keras reference skipped: {args.keras_reason}")
        variants_train = ["rnnlab"]
        jax_reason = "no Keras interpreter"
    else:
        jax_reason = jax_available(args.keras_python) if any(p in args.parts for p in TRAIN_PARTS) else None
        if jax_reason:
            print(f"Keras 3 + JAX skipped: {jax_reason}", flush=True)
            notes.append(f"Keras 3 + JAX skipped: {jax_reason}")
        else:
            variants_train.append("keras-jax")
    if set(args.parts) - {"contention", "serve"}:
        notes.append(f"rnnlab side: torch threads = {args.rnnlab_threads or 'auto'} (fit.threads); Keras side: "
                     f"its defaults (all cores)")
    load_start = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="rnnlab-bench-"))
    results: dict[str, dict[str, list]] = {}
    specs: dict[str, dict] = {}
    serve_result = None
    profiles: dict[str, dict] = {}
    py = sys.executable
    rw, kw = HERE / "rnnlab_worker.py", HERE / "keras_worker.py"
    try:
        for part in args.parts:
            t_part = time.perf_counter()
            results[part] = {}
            if part == "int8":
                run_int8(args, tmp, results[part], specs)
                print(f"[{part}] done in {time.perf_counter() - t_part:.0f} s", flush=True)
                continue
            if part == "contention":
                run_contention(args, tmp, results[part], specs)
                print(f"[{part}] done in {time.perf_counter() - t_part:.0f} s", flush=True)
                continue
            if part == "serve":
                import serve_bench

                print("[serve] examples/jigsaw_lstm.toml: Run.predict, then rnnlab serve under wrk", flush=True)
                serve_result = serve_bench.run_serve(args, args.cache or Path.home() / ".cache" / "rnnlab-bench")
                print(f"[{part}] done in {time.perf_counter() - t_part:.0f} s", flush=True)
                continue
            if part in TRAIN_PARTS:
                spec = prepare(part, args, tmp)
                specs[part] = {k: v for k, v in spec.items() if k != "data"}
                print(f"[{part}] {MODELS[part]['title']}: {spec['rows']['train']:,} train rows, vocabulary "
                      f"input_dim {spec['model']['input_dim']:,}; {args.repeats} repeat(s) of "
                      f"{', '.join(variants_train)}",
                      flush=True)
                plan = []
                for v in variants_train:
                    if v == "rnnlab":
                        plan.append((v, py, rw, spec, rnnlab_env(args.rnnlab_threads)))
                        if part in FUSED_PARTS:  # the same without the fused recurrence (models/fused.py)
                            plan.append(("rnnlab-eager", py, rw, spec,
                                         {**rnnlab_env(args.rnnlab_threads), "RNNLAB_COMPILE": "off"}))
                    else:
                        backend = "jax" if v == "keras-jax" else "tensorflow"
                        plan.append((v, args.keras_python, kw, spec, keras_env(backend)))
            elif part == "tok":
                corpus = make_corpus.ensure_corpus(args.tok_docs, cache=args.cache)
                spec = {"kind": "tok", "corpus": str(corpus), "docs": args.tok_docs}
                specs[part] = spec
                print(f"[tok] corpus {corpus} ({args.tok_docs:,} documents)", flush=True)
                plan = []
                if not args.keras_reason:
                    plan.append(("keras2-tokenizer", args.keras_python, kw, spec, keras_env("tensorflow")))
                plan.append(("rnnlab", py, rw, {**spec, "engine": "auto"}, rnnlab_env()))
                plan.append(("rnnlab-arrow", py, rw, {**spec, "engine": "auto"},
                             {**rnnlab_env(), "RNNLAB_COMPILE": "off"}))  # the path without a C compiler
                if not args.quick:
                    plan.append(("rnnlab-python", py, rw, {**spec, "engine": "python"}, rnnlab_env()))
            elif part == "quality":
                data_path = args.jigsaw
                overrides = []
                if args.quick:
                    import pandas as pd

                    data_path = tmp / "jigsaw_quick.csv"
                    pd.read_csv(args.jigsaw, nrows=3000).to_csv(data_path, index=False)
                    overrides = ["fit.epochs=2"]
                base = {"kind": "quality", "config": str(HERE.parent / "examples" / "jigsaw_lstm.toml"),
                        "data_path": str(data_path), "overrides": overrides, "threads": args.rnnlab_threads or None}
                specs[part] = base
                print(f"[quality] examples/jigsaw_lstm.toml on {data_path.name}: "
                      f"{', '.join(v for v, *_ in QUALITY_VARIANTS)}", flush=True)
                plan = []
                for variant, bucketing, threads, compiled in QUALITY_VARIANTS:
                    t = base["threads"] if threads is None else threads
                    env = rnnlab_env(t if isinstance(t, int) else 0)
                    if not compiled:
                        env["RNNLAB_COMPILE"] = "off"
                    plan.append((variant, py, rw, {**base, "bucketing": bucketing, "threads": t}, env))
            else:  # mem
                corpus = make_corpus.ensure_corpus(max(args.mem_docs, args.tok_docs), cache=args.cache)
                m = MODELS["m3"]
                spec = {"kind": "mem", "corpus": str(corpus), "docs": args.mem_docs, "maxlen": m["maxlen"],
                        "batch_size": m["batch_size"], "epochs": 1, "seed": 0, "model": dict(m["model"]),
                        "threads": args.rnnlab_threads or None}
                specs[part] = spec
                print(f"[mem] M3 on the first {args.mem_docs:,} documents of {corpus.name}", flush=True)
                plan = [("rnnlab", py, rw, spec, rnnlab_env(args.rnnlab_threads))]
            repeats = args.quality_seeds if part == "quality" else 1 if part == "mem" else args.repeats
            for r in range(repeats):
                for variant, python, script, spec, env in plan:
                    if part == "quality":  # each repeat another seed (initial weights, shuffling), same split
                        spec = {**spec, "overrides": [*spec["overrides"], f"seed={QUALITY_SEED + r}"]}
                    res = run_worker(python, script, spec, env, args.timeout, tmp)
                    results[part].setdefault(variant, []).append(res)
                    if "error" in res:
                        msg = f"error: {res['error']}"
                    elif part == "tok":
                        msg = (f"{res['seconds']:.2f} s (fit {res['fit_s']:.2f}), vocab {res['vocabulary']:,}, "
                               f"hash {res['vocab_hash']}/{res['seq_hash']}")
                    elif part == "quality":
                        msg = f"seed {QUALITY_SEED + r}: val AUC {res['val_auc']:.4f}, {res['epochs_run']} epochs"
                    elif part == "mem":
                        msg = (f"peak RSS {res.get('child_maxrss_mb', res['peak_rss_mb']):,.0f} MB, "
                               f"epoch {res['epoch_s']:.1f} s")
                    else:
                        msg = (f"epoch {res['epoch_s']:.2f} s, {res['ms_per_step']:.1f} ms/step, "
                               f"{res['rows_per_s']:,.0f} rows/s")
                    print(f"  [{part}] repeat {r + 1}/{repeats} {variant:<16} {msg}  "
                          f"(RSS {res.get('child_maxrss_mb', 0):,.0f} MB, wall {res.get('wall_s', 0):.0f} s)",
                          flush=True)
            if part in TRAIN_PARTS and not args.no_profile:
                pspec = {**spec, "kind": "profile", "steps": PROFILE_STEPS[part], "threads": 1}
                res = run_worker(py, rw, pspec, rnnlab_env(1), args.timeout, tmp)
                profiles[part] = res
                said = (f"error: {res['error']}" if "error" in res
                        else f"{res['steps']} steps in {res['profiled_s']:.1f} s under the profiler")
                print(f"  [{part}] profile: {said}", flush=True)
            print(f"[{part}] done in {time.perf_counter() - t_part:.0f} s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_end = os.getloadavg()
    notes.append(f"load average (1 min) at start {load_start[0]:.1f}, at end {load_end[0]:.1f} "
                 f"on {os.cpu_count()} CPUs (other processes share the machine)")
    summary = summarize(results)
    text, table = report(summary, args, notes, specs)
    if profiles:
        text += "\n".join(report_profiles(profiles)) + "\n"
    if serve_result is not None:
        import serve_bench

        serve_lines, serve_table = serve_bench.report_serve(serve_result)
        text, table = text + "\n".join(serve_lines), table + serve_table
    print(text)
    versions = {}
    for part in results.values():
        for variant, runs in part.items():
            for r in runs:
                if "versions" in r:
                    versions.setdefault("keras-side" if variant.startswith("keras") else "rnnlab-side", {}).update(
                        r["versions"])
    total = time.time() - started
    print(f"\ntotal wall time {total / 60:.1f} min")
    doc = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "suite": args.suite,
        "quick": args.quick, "repeats": args.repeats, "parts": args.parts,
        "command": "python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {"name": machine_name(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor(), "cpu_model": _cpu_model()},
        "versions": versions, "specs": specs, "results": results, "summary": summary, "ratios": table,
        "notes": notes, "wall_seconds": total, **({"serve": serve_result} if serve_result is not None else {}),
        **({"profiles": profiles} if profiles else {}),
    }
    out = args.out
    if out is None and not args.quick:
        only = f"-{args.parts[0]}" if args.parts in (["contention"], ["int8"], ["serve"]) else ""
        out = HERE / "results" / f"{dt.date.today().isoformat()}-{machine_name()}{only}.json"
    save_results(doc, out)
    return 0


def save_results(doc: dict, out: Path | None) -> None:
    """Write a results JSON to ``out`` (folders made as needed) and say where; nothing when None."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
        print(f"results: {out}")


def run_script(main, script: str) -> None:
    """Run a bench script's ``main``: a BenchError is one line (exit 2), Ctrl-C exits 130."""
    try:
        raise SystemExit(main())
    except BenchError as exc:
        print(f"{script}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print(f"{script}: interrupted", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    run_script(main, "bench/run.py")
