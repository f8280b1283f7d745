"""Measured figures in the docs, regenerated, never typed in.

Every measured table in README.md and docs/*.md sits between ``<!-- figures:NAME -->`` and
``<!-- /figures:NAME -->`` and is rendered from one JSON file: ``docs/figures/<set>.json`` written
by ``measure`` (the commands rerun, with the date, the machine — cores, CPU model — and the load
average before and after), or a results file the benchmark scripts write (``bench/results/*.json``).

    python docs/figures.py measure cli-start          # seconds: rnnlab --help, import rnnlab.cli
    python docs/figures.py measure jigsaw-quickstart  # ~3-8 min: the README's quickstart, docs/serve.md's answers
    python docs/figures.py measure demo               # 20-40 min: a fresh clone, scripts/demo.sh --threads 1
    python docs/figures.py measure suite              # ~10 min: the README's test command, timed
    python docs/figures.py measure sweep-experiments  # ~3 min: the README's 9-experiments sweep and its table
    python docs/figures.py measure onnx               # ~3 min: docs/onnx.md's export and speed (the quickstart's run)
    python docs/figures.py measure onnx-int8          # ~4 min: docs/onnx.md's int8 export of a GloVe BiLSTM
    python docs/figures.py measure kfold              # ~3 min: docs/presets.md's k-fold example (TF-IDF + LR)
    python docs/figures.py measure vectors            # ~1 min: docs/config.md's word-vector coverage table
    python docs/figures.py measure calibration        # ~15 min: docs/calibration.md's two calibrated runs
    python docs/figures.py measure presets-jigsaw     # a trial table: every command of docs/figures/presets-jigsaw.toml
    python docs/figures.py measure presets-jigsaw --only tfidf,strong   # some of its trials again
    python docs/figures.py render                     # rewrite every marked block from the JSON
    python docs/figures.py check                      # exit 1 if a block differs from its render

The benchmark blocks (``suite-*``) render from the full suite's results file, :data:`SUITE_RESULTS`; rerun
``python bench/run.py --suite cpu --serve-args="--workers 2 --no-access-log"`` (about 50 min on 2 cores) and
point :data:`SUITE_RESULTS` at the new file (:data:`QUALITY_RESULTS`: the per-seed table's file, the
suite's own unless that part is rerun alone).
tests/test_docs.py checks that rendering changes nothing.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))
from rnnlab._machine import load_average, machine  # noqa: E402  (cores, CPU model; run.json records the same)

BLOCK = re.compile(r"(<!-- figures:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /figures:(?P=name) -->)", re.S)


# ---------------------------------------------------------------- where and when

def _record(name: str, command: str, results, started: list[float], wall: float, **extra) -> Path:
    data = {"name": name, "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": command, "machine": machine(), "load_average": {"before": started, "after": load_average()},
            "wall_seconds": round(wall, 1), **extra, "results": results}
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def _commit() -> str | None:
    """The checkout's commit (with "+changes" when the tree differs from it, the measured figures
    themselves aside), or None without git: a table measured in parts says which code each row ran."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":!docs/figures", ":!bench/results"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def _env(threads: int = 1) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": str(threads),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


# ---------------------------------------------------------------- measurements

def _rnnlab(what: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m rnnlab ARGS`` on the working tree's src (one thread unless ARGS say otherwise);
    a failure stops the measurement with the command's stderr, naming ``what``."""
    done = subprocess.run([sys.executable, "-m", "rnnlab", *args], env=_env(), cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"{what} failed:\n{done.stderr[-3000:]}")
    return done


def measure_cli_start(repeats: int = 5) -> Path:
    """Wall time of ``rnnlab --help`` and cumulative import time of ``rnnlab.cli``, medians."""
    load, t0 = load_average(), time.perf_counter()
    walls, imports = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rnnlab", "--help"], env=_env(), cwd=ROOT, check=True,
                       capture_output=True)
        walls.append(time.perf_counter() - t)
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import rnnlab.cli"], env=_env(), cwd=ROOT,
                              check=True, capture_output=True, text=True)
        row = next(line for line in done.stderr.splitlines() if line.rstrip().endswith("| rnnlab.cli"))
        imports.append(int(row.split("|")[1]) / 1e6)
    results = {"help_wall_s": [round(x, 3) for x in walls], "import_cli_s": [round(x, 3) for x in imports],
               "help_wall_median_s": round(statistics.median(walls), 3),
               "import_cli_median_s": round(statistics.median(imports), 3), "repeats": repeats}
    return _record("cli-start", "python -m rnnlab --help; python -X importtime -c 'import rnnlab.cli'", results,
                   load, time.perf_counter() - t0)


QUICKSTART_RUN = ROOT / "runs" / "figures" / "jigsaw-quickstart" / "jigsaw_lstm"


def measure_jigsaw_quickstart(data: Path | None = None) -> Path:
    """The README's Jigsaw quickstart: ``rnnlab train examples/jigsaw_lstm.toml`` on the subset, one thread."""
    data = data or SHARED / "jigsaw_toxic" / "train_subset.csv.gz"
    out = QUICKSTART_RUN  # kept: ``measure onnx`` exports this run rather than training it again
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "rnnlab", "train", "examples/jigsaw_lstm.toml", "--set", f"data.path={data}",
           "--set", "fit.threads=1", "--set", "fit.verbose=line", "--out", str(out)]
    load, t0 = load_average(), time.perf_counter()
    done = subprocess.run(cmd, env=_env(), cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"jigsaw-quickstart failed:\n{done.stderr[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    info = json.loads((out / "run.json").read_text())
    lines = [re.sub(r"^\d\d:\d\d:\d\d ", "", line) for line in (out / "log.txt").read_text().splitlines()]
    serve = _serve_examples(out)
    v = metrics["validation"]
    best = metrics["best_epoch"]
    keep = [line for line in lines if re.match(rf"epoch {best}/", line) or line.startswith(
        ("early stopping", "restored the weights", "validation:", "  AUC per label"))]
    results = {"auc": v["auc"], "accuracy": v["accuracy"], "majority_accuracy": v["majority_accuracy"],
               "best_epoch": best, "epochs_run": metrics["epochs_run"], "status": metrics["status"],
               "train_seconds": info.get("duration_seconds"), "log_excerpt": keep, "serve": serve}
    return _record("jigsaw-quickstart", "rnnlab train examples/jigsaw_lstm.toml --set data.path="
                   "../shared/data/jigsaw_toxic/train_subset.csv.gz --set fit.threads=1", results, load, wall,
                   data=str(data.name))


def measure_demo(data: Path | None = None, keep: bool = False) -> Path:
    """The README's first command on a fresh clone of HEAD: ``scripts/demo.sh --threads 1`` (own venv,
    no pip cache), timed; the venv's size; the comparison it wrote."""
    data = data or SHARED / "imdb" / "aclImdb_train.csv.gz"
    tmp = Path(tempfile.mkdtemp(prefix="rnnlab-demo-"))
    try:
        clone = tmp / "rnnlab"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True,
                                check=True).stdout.strip()
        env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "OMP_NUM_THREADS": "1"}
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if "venv" not in p)
        load, t0 = load_average(), time.perf_counter()
        log = (tmp / "demo.log").open("w")
        done = subprocess.run([str(clone / "scripts" / "demo.sh"), "--threads", "1", "--data", str(data)],
                              cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - t0
        log.close()
        text = (tmp / "demo.log").read_text()
        if done.returncode != 0:
            sys.exit(f"demo failed ({done.returncode}):\n{text[-3000:]}")
        rows = json.loads((tmp / "runs" / "demo" / "comparison.json").read_text())
        venv_mb = sum(f.stat().st_size for f in (clone / ".venv").rglob("*") if f.is_file() and not f.is_symlink())
        demo_s = sum(r["seconds"] or 0 for r in rows)
        results = {"rows": rows, "total_seconds": round(wall, 1), "training_seconds": round(demo_s, 1),
                   "venv_mb": round(venv_mb / 2**20), "commit": commit}
        return _record("demo", "scripts/demo.sh --threads 1 (fresh clone, PIP_NO_CACHE_DIR=1)", results, load, wall,
                       data=str(data.name))
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def measure_suite() -> Path:
    """The README's test command, timed, with its pass / skip / fail counts and skip reasons."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadfile", "-rfEs", "-p", "no:cacheprovider"]
    load, t0 = load_average(), time.perf_counter()
    # Ctrl-C as a terminal sends it: a shell's background job inherits SIGINT ignored, and the
    # tests that interrupt a demo or .ci/run with SIGINT would then see it ignored
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wall = time.perf_counter() - t0
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|skipped|failed|errors?|deselected)", tail)}
    if done.returncode != 0 or counts.get("failed") or counts.get("error") or counts.get("errors"):
        failed = "\n".join(line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR")))
        sys.exit(f"the suite failed ({done.returncode}): {tail}\n{failed}\n{done.stdout[-3000:]}")
    skips = sorted({m.strip() for m in re.findall(r"^SKIPPED \[\d+\] [^:]+:\d+: (.*)$", done.stdout, re.M)})
    results = {"passed": counts.get("passed", 0), "skipped": counts.get("skipped", 0),
               "tests": counts.get("passed", 0) + counts.get("skipped", 0), "seconds": round(wall, 1),
               "skip_reasons": skips}
    return _record("suite", "python -m pytest -q -n 2 --dist loadfile", results, load, wall)


def measure_sweep_experiments(data: Path | None = None) -> Path:
    """The README's "9 experiments": ``rnnlab check`` and ``rnnlab sweep --force`` of
    examples/jigsaw_compile_experiments.toml on the Jigsaw subset, then ``rnnlab compare``."""
    data = data or SHARED / "jigsaw_toxic" / "train_subset.csv.gz"
    if not data.exists():
        sys.exit(f"{data} is missing: the sweep runs on the Jigsaw subset in ../shared/data")
    config = "examples/jigsaw_compile_experiments.toml"
    rel = os.path.relpath(data, ROOT)
    load, t0 = load_average(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rnnlab-figures-sweep-") as tmp:
        sets = ["--set", f"data.path={data}", "--set", f"runs_dir={tmp}"]
        rnnlab = [sys.executable, "-m", "rnnlab"]
        check = subprocess.run([*rnnlab, "check", config, *sets], env=_env(), cwd=ROOT, capture_output=True,
                               text=True)
        flagged = re.search(r"(\d+) of (\d+) variants? ha(?:s|ve) errors", check.stdout + check.stderr)
        if flagged is None:
            sys.exit(f"rnnlab check did not say how many variants have errors:\n{check.stdout[-2000:]}"
                     f"{check.stderr[-2000:]}")
        started = time.perf_counter()
        done = subprocess.run([*rnnlab, "sweep", config, *sets, "--force"], env=_env(2), cwd=ROOT,
                              capture_output=True, text=True)
        sweep_s = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"the sweep failed ({done.returncode}):\n{done.stderr[-3000:]}")
        study = Path(tmp) / "jigsaw_compile_experiments"
        rows = json.loads(subprocess.run([*rnnlab, "compare", str(study), "--format", "json"], env=_env(), cwd=ROOT,
                                         capture_output=True, text=True, check=True).stdout)
        info = json.loads(next(study.glob("*/run.json")).read_text(encoding="utf-8"))
    keep = ("name", "outcome", "reason", "val_auc", "val_accuracy", "majority_accuracy", "auc_per_label",
            "best_epoch", "epochs", "doctor")
    results = {"flagged": int(flagged.group(1)), "variants": int(flagged.group(2)), "sweep_seconds": round(sweep_s, 1),
               "threads": info.get("threads"),
               "rows": [{k: r.get(k) for k in keep} for r in rows]}
    return _record("sweep-experiments", f"python docs/figures.py measure sweep-experiments (rnnlab sweep {config} "
                   f"--set data.path={rel} --force)", results, load, time.perf_counter() - t0)


SERVE_TEXTS = ["thank you for the helpful edit", "you are a stupid idiot", ""]


def _serve_examples(run_dir: Path) -> dict:
    """docs/serve.md's example answers: ``POST /v1/predict`` with :data:`SERVE_TEXTS` and
    ``GET /v1/model``, from the app ``rnnlab serve`` runs, on the quickstart's run."""
    from fastapi.testclient import TestClient

    from rnnlab.use.serve import create_app

    with TestClient(create_app(run_dir, api_key="")) as client:
        predict = client.post("/v1/predict", json={"texts": SERVE_TEXTS})
        model = client.get("/v1/model")
    if predict.status_code != 200 or model.status_code != 200:
        sys.exit(f"serve examples: {predict.status_code} {predict.text[:300]} / {model.status_code} {model.text[:300]}")
    return {"texts": SERVE_TEXTS, "predict": predict.json(), "model": model.json()}


def measure_onnx(data: Path | None = None, repeats: int = 3) -> Path:
    """docs/onnx.md's figures: the Jigsaw LSTM trained (one thread), ``rnnlab export`` on it (time,
    parity on all validation rows, file sizes), then rows/s of PyTorch and onnxruntime on the same
    validation ids (length-bucketed batches of 1,024, and every row padded to maxlen), of
    ``Run.predict`` on the texts and of the docs' torch-free ``score`` example; best of ``repeats``."""
    import numpy as np
    import onnxruntime as ort
    import torch

    import rnnlab
    from rnnlab.data import load_splits
    from rnnlab.engine.batching import inference_batches, padded
    from rnnlab.use.export import export_onnx

    data = data or SHARED / "jigsaw_toxic" / "train_subset.csv.gz"
    torch.set_num_threads(1)
    load, t0 = load_average(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rnnlab-figures-onnx-") as tmp:
        run_dir = QUICKSTART_RUN if (QUICKSTART_RUN / "metrics.json").exists() else Path(tmp) / "jigsaw_lstm"
        if run_dir != QUICKSTART_RUN:  # the quickstart's command, trained here
            _rnnlab("onnx: training", "train", "examples/jigsaw_lstm.toml", "--set", f"data.path={data}", "--set",
                    "fit.threads=1", "--out", str(run_dir))
        run = rnnlab.load_run(run_dir)
        texts = list(load_splits(run.config).validation.texts)
        onnx_path = Path(tmp) / "jigsaw_lstm.onnx"
        started = time.perf_counter()
        export = subprocess.run([sys.executable, "-m", "rnnlab", "export", str(run_dir), "--out", str(onnx_path)],
                                env=_env(), cwd=ROOT, capture_output=True, text=True)
        export_s = time.perf_counter() - started
        if export.returncode != 0:
            sys.exit(f"onnx: rnnlab export failed:\n{export.stderr[-3000:]}")
        full = export_onnx(run, Path(tmp) / "all.onnx", check_rows=len(texts))
        sizes = {"model_mb": onnx_path.stat().st_size / 1e6,
                 "metadata_mb": onnx_path.with_name(onnx_path.name + ".json").stat().st_size / 1e6}
        seqs = run.tokenizer.encode(texts).truncate(run.config.text.maxlen)
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        maxlen = run.config.text.maxlen

        def best(fn) -> float:
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            return len(texts) / min(times)

        def batches(bucketed: bool):
            out = []
            for index, width in inference_batches(seqs.lengths, 1024, bucketed, maxlen):
                out.append(padded(seqs, index, width if width is not None else maxlen,
                                  run.config.text.padding).numpy())
            return out

        speeds = {}
        for name, bucketed in (("bucketed", True), ("full_width", False)):
            arrays = batches(bucketed)
            with torch.inference_mode():
                speeds[name] = {
                    "batches": len(arrays),
                    "torch_rows_per_s": best(lambda: [run.model(torch.from_numpy(a)) for a in arrays]),
                    "onnxruntime_rows_per_s": best(lambda: [session.run(None, {"input_ids": a}) for a in arrays])}
        speeds["run_predict_texts_rows_per_s"] = best(lambda: run.predict(texts))
        doc = (ROOT / "docs" / "onnx.md").read_text(encoding="utf-8")
        example = next(b for b in re.findall(r"```python\n(.*?)```", doc, re.DOTALL) if "def score(" in b)
        scope: dict = {}
        exec(compile(example, "docs/onnx.md", "exec"), scope)  # noqa: S102 - the docs' own example
        speeds["score_example_rows_per_s"] = best(lambda: scope["score"](texts, str(onnx_path)))
        speeds["score_example_max_abs_diff"] = float(np.abs(scope["score"](texts, str(onnx_path))
                                                            - run.predict(texts)).max())
        tokens = float(seqs.lengths.mean())
    output = [re.sub(r" (?:to )?\S*/(jigsaw_lstm\.onnx)", r" \1", line) for line in export.stdout.splitlines()]
    results = {"export_seconds": round(export_s, 2), "torch_export_seconds": full.get("export_seconds"),
               "export_output": output, "run": "the quickstart's" if run_dir == QUICKSTART_RUN else "trained here",
               "parity_rows": full["rows"], "max_abs_diff": full["max_abs_diff"], **sizes, "texts": len(texts),
               "mean_tokens": tokens, "maxlen": maxlen, "onnxruntime": ort.__version__, "torch": torch.__version__,
               "repeats": repeats, **speeds}
    return _record("onnx", "python docs/figures.py measure onnx", results, load, time.perf_counter() - t0)


INT8_LINE = re.compile(r"mean AUC on (?P<rows>\d+) validation rows (?P<auc_fp32>[\d.]+) -> (?P<auc_int8>[\d.]+) .*?; "
                       r"(?P<rps_fp32>[\d,]+) -> (?P<rps_int8>[\d,]+) rows/s .*?; (?P<mb_fp32>[\d.]+) MB -> "
                       r"(?P<mb_int8>[\d.]+) MB")


def measure_onnx_int8(data: Path | None = None) -> Path:
    """docs/onnx.md's int8 example: a GloVe BiLSTM trained on the Jigsaw subset (one thread), then
    ``rnnlab export RUN --quantize int8``; its printed line and the figures parsed from it."""
    data = data or SHARED / "jigsaw_toxic" / "train_subset.csv.gz"
    load, t0 = load_average(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rnnlab-figures-int8-") as tmp:
        run_dir = Path(tmp) / "jigsaw_bilstm"
        _rnnlab("onnx-int8: training", "train", "--preset", "jigsaw-strong", "--set", f"data.path={data}", "--set",
                "model.layers.1.type=LSTM", "--set", "fit.threads=1", "--out", str(run_dir))
        export = _rnnlab("onnx-int8: rnnlab export", "export", str(run_dir), "--out",
                         str(Path(tmp) / "bilstm_int8.onnx"), "--quantize", "int8")
        summary = json.loads((run_dir / "metrics.json").read_text())["validation"]
    line = next((x for x in export.stdout.splitlines() if x.startswith("int8 ")), None)
    m = INT8_LINE.search(line or "")
    if m is None:
        sys.exit(f"onnx-int8: no int8 line in the export's output:\n{export.stdout[-2000:]}")
    parsed = {k: float(v.replace(",", "")) for k, v in m.groupdict().items()}
    results = {"line": line, **parsed, "trained_auc": summary.get("auc")}
    return _record("onnx-int8", "python docs/figures.py measure onnx-int8", results, load, time.perf_counter() - t0)


def measure_kfold(data: Path | None = None) -> Path:
    """docs/presets.md's k-fold example: TF-IDF + LR on the Jigsaw subset, once on the 80/20 split
    and with ``fit.folds = 5``; the summary line, each fold and the wall times."""
    data = data or SHARED / "jigsaw_toxic" / "train_subset.csv.gz"
    load, t0 = load_average(), time.perf_counter()
    base = ("train", "--preset", "jigsaw-strong", "--set", f"data.path={data}", "--set", "model.type=tfidf_lr",
            "--set", "fit.threads=1")
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="rnnlab-figures-kfold-") as tmp:
        for key, extra in (("split", []), ("folds", ["--set", "fit.folds=5"])):
            started = time.perf_counter()
            done = _rnnlab(f"kfold: {key}", *base, *extra, "--out", str(Path(tmp) / key))
            m = json.loads((Path(tmp) / key / "metrics.json").read_text())
            results[key] = {"validation": m["validation"], "cross_validation": m.get("cross_validation"),
                            "wall_seconds": round(time.perf_counter() - started, 1),
                            "summary": next((x for x in done.stdout.splitlines() if "-fold cross-validation:" in x),
                                            None)}
    return _record("kfold", "python docs/figures.py measure kfold", results, load, time.perf_counter() - t0)


VECTOR_PROBES = {"missing": ["stupidd", "fuking", "fuckk", "dickhead", "cocksucker", "dipshit"],
                 "fasttext": ["stupidd", "cocksucker"], "word2vec": ["stupid"]}


def measure_vectors(data: Path | None = None) -> Path:
    """docs/config.md's coverage table: on the Jigsaw subset's training split, tokenized as
    ``jigsaw-scratch`` does, how many words and training tokens get a vector from GloVe 6B 50d and
    from word2vec / fastText trained by ``rnnlab vectors`` (gensim defaults); each ``rnnlab
    vectors`` run's wall time and peak memory (its own process, a fresh cache)."""
    from gensim.models import KeyedVectors

    from rnnlab.config import load_config, load_vectors_config, preset_path
    from rnnlab.data import load_splits
    from rnnlab.models.pretrained import coverage, load_pretrained, load_vectors
    from rnnlab.train.prepare import tokenize_splits
    from rnnlab.train.vectors import vectors_for

    data = data or SHARED / "jigsaw_toxic" / "train_subset.csv.gz"
    load, t0 = load_average(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rnnlab-figures-vectors-") as tmp:
        base = [f"data.path={data}", f"data.cache_dir={tmp}/cache"]
        cfg = load_config(preset_path("jigsaw-scratch"), base)
        splits = load_splits(cfg)
        tok = tokenize_splits(cfg, splits).tokenizer
        table, every = tok.vocab_size, len(tok.word_index) + 1
        words = {"texts": len(splits.train.texts), "tokens": sum(tok.word_counts.values()),
                 "table_rows": table - 1, "words": every - 1}
        sources: dict = {}
        glove = {n: load_vectors("glove-6b-50d", tok.word_index, n, 50) for n in (table, every)}
        in_glove = set(glove[every].rows.tolist())
        sources["glove-6b-50d"] = {**{name: coverage(glove[n], tok.word_index, tok.word_counts)
                                      for name, n in (("table", table), ("all", every))},
                                   "missing": [w for w in VECTOR_PROBES["missing"]
                                               if w in tok.word_index and tok.word_index[w] not in in_glove]}
        for kind in ("word2vec", "fasttext"):
            sets = [*base, f"model.embedding.pretrained.train={kind}"]
            started = time.perf_counter()
            with open(f"{tmp}/{kind}.out", "w") as out, open(f"{tmp}/{kind}.err", "w") as err:
                proc = subprocess.Popen([sys.executable, "-m", "rnnlab", "vectors", "--preset", "jigsaw-scratch",
                                         *[x for s in sets for x in ("--set", s)], "--out", f"{tmp}/{kind}.vec"],
                                        env=_env(), cwd=ROOT, stdout=out, stderr=err)
                _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak memory (ru_maxrss, KiB)
            wall = time.perf_counter() - started
            if status != 0:
                sys.exit(f"vectors: rnnlab vectors ({kind}) failed:\n{Path(f'{tmp}/{kind}.err').read_text()[-3000:]}")
            own = vectors_for(load_vectors_config(preset_path("jigsaw-scratch"), sets), splits)  # the cache entry
            printed = Path(f"{tmp}/{kind}.out").read_text().strip().splitlines()
            rec = {"wall_seconds": round(wall, 1), "train_seconds": own.record.get("train_seconds"),
                   "peak_rss_mb": round(usage.ru_maxrss / 1024), "dim": own.record["parameters"]["vector_size"],
                   "summary": printed[-1] if printed else None}
            kv = KeyedVectors.load_word2vec_format(str(own.path))
            rec["neighbours"] = {w: [[x, round(float(s), 2)] for x, s in kv.most_similar(w, topn=3)]
                                 for w in VECTOR_PROBES[kind] if w in kv.key_to_index}
            for name, n in (("table", table), ("all", every)):
                p = load_pretrained(own.path, tok.word_index, n)
                c = coverage(p, tok.word_index, tok.word_counts)
                if kind == "fasttext":
                    found = set(p.rows.tolist())
                    c["words_from_ngrams"] = sum(tok.word_index.get(w) in found for w in own.ngram_words)
                rec[name] = c
            sources[kind] = rec
    results = {**words, "sources": sources}
    return _record("vectors", "python docs/figures.py measure vectors", results, load, time.perf_counter() - t0)


def measure_calibration(data: Path | None = None) -> Path:
    """docs/calibration.md's figures: a GloVe-50 BiGRU (``jigsaw-strong`` with 20,000 words, one
    thread) calibrated on its validation split, and the same trained on the subset's first 14,451
    rows and calibrated on its last 2,000 (rows it never saw); per label T, ECE before and after
    (cross-fitted) and ROC AUC, from the calibration.json ``rnnlab calibrate`` stores."""
    data = data or SHARED / "jigsaw_toxic" / "train_subset.csv.gz"
    load, t0 = load_average(), time.perf_counter()
    cases = {}
    with tempfile.TemporaryDirectory(prefix="rnnlab-figures-calibration-") as tmp:
        files = _held_split({"split": {"source": os.path.relpath(data, ROOT), "held": 2000, "how": "last"}},
                            Path(tmp) / "data")
        rnnlab = [sys.executable, "-m", "rnnlab"]
        for name, train_on, held in (("validation", str(data), []), ("held_out", files["REST"], [files["HELD"]])):
            run = Path(tmp) / name
            done = subprocess.run([*rnnlab, "train", "--preset", "jigsaw-strong", "--set", f"data.path={train_on}",
                                   "--set", "text.num_words=20000", "--set", "fit.threads=1", "--out", str(run)],
                                  env=_env(), cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"calibration/{name}: training failed:\n{done.stderr[-3000:]}")
            started = time.perf_counter()
            done = subprocess.run([*rnnlab, "calibrate", str(run), *held], env=_env(), cwd=ROOT, capture_output=True,
                                  text=True)
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                sys.exit(f"calibration/{name}: rnnlab calibrate failed:\n{done.stderr[-3000:]}")
            cal = json.loads((run / "calibration.json").read_text(encoding="utf-8"))
            cases[name] = {"seconds": round(seconds, 1), "rows": cal.get("rows"), "method": cal["method"],
                           "labels": {k: {"temperature": v.get("temperature"),
                                          "ece_before": cal["ece_before"][k], "ece_after": cal["ece_after"][k],
                                          "auc": cal["auc_after"][k]}
                                      for k, v in cal["labels"].items()}}
    return _record("calibration", "python docs/figures.py measure calibration", {"cases": cases}, load,
                   time.perf_counter() - t0)


MEASURE = {"cli-start": measure_cli_start, "jigsaw-quickstart": measure_jigsaw_quickstart, "demo": measure_demo,
           "suite": measure_suite, "sweep-experiments": measure_sweep_experiments, "onnx": measure_onnx,
           "calibration": measure_calibration, "onnx-int8": measure_onnx_int8, "kfold": measure_kfold,
           "vectors": measure_vectors}


# ---------------------------------------------------------------- trial tables

# A trial table (docs/presets.md: one row per command tried) is a spec, docs/figures/<set>.toml:
#
#   [vars]                    # $NAME in commands (paths relative to the repository root)
#   J = "--set data.path=../shared/data/jigsaw_toxic/train_subset.csv.gz"
#   [table]
#   columns = ["run", "command", "val_auc", "epochs", "seconds"]       # see HEADERS
#   headers = { val_auc = "mean ROC AUC" }     # optional: other column titles
#   [[trial]]
#   id = "tfidf"                               # its run folder: runs/figures/<set>/<id>
#   run = "TF-IDF + LR baseline"               # the first column (Markdown)
#   command = "rnnlab train --preset jigsaw-strong $J --set model.type=tfidf_lr"
#   shown = "... --set model.type=tfidf_lr"    # optional: the command as the table shows it
#
#   [split]                   # optional: rows held out of a data file, for a held-out check
#   source = "../shared/data/jigsaw_toxic/train_subset.csv.gz"
#   held = 2000               # how many rows are held out
#   how = "last"              # the last rows, or "random" (seeded by `seed`, default 0), or
#                             # "validation": the validation rows of the split that `config` (a
#                             # preset or a config file; `set` = [overrides]) makes (no `held`)
#
# With [split], $REST and $HELD name the two files (runs/figures/<set>/data/{rest,held}.csv.gz).
# ``rnnlab evaluate @id $HELD`` trials record the evaluation's metrics instead of a run folder's.
#
#   [repeat]                  # optional: a big file of a data file's rows repeated (new ids)
#   source = "../shared/data/jigsaw_toxic/train_subset.csv.gz"
#   rows = 400000             # $REPEATED names it (runs/figures/<set>/data/repeated.csv.gz)
#
# ``rnnlab predict @id DATA`` trials (--out <runs>/<id>.csv) record rows/s, the wall time and the
# output's SHA-256 (columns rows_per_s, seconds, output).
#
# `measure <set>` runs every command (``rnnlab blend @a @b``: @id is trial a's run folder, @set/id
# one of another set's) with
# ``--out runs/figures/<set>/<id>`` and records, per trial, what its run folder says: the
# validation metrics, epochs, wall time, threads, and the machine and load average that
# run.json records. The table and a line saying when, where and at what load are rendered from
# docs/figures/<set>.json; --only reruns some trials and keeps the others' records.

def _spec(name: str) -> dict:
    import tomllib

    return tomllib.loads((FIGURES / f"{name}.toml").read_text(encoding="utf-8"))


def trial_sets() -> list[str]:
    return sorted(p.stem for p in FIGURES.glob("*.toml"))


def _expand(text: str, spec: dict, runs: Path) -> str:
    for _ in range(5):  # variables may name variables
        before = text
        for key, value in sorted((spec.get("vars") or {}).items(), key=lambda kv: -len(kv[0])):
            text = text.replace(f"${key}", value)
        if text == before:
            break
    # @id: a trial of this set; @set/id: a trial of another set (measured before this one)
    return re.sub(r"@([\w-]+(?:/[\w-]+)?)",
                  lambda m: str((runs.parent if "/" in m.group(1) else runs) / m.group(1)), text)


def _from_run(folder: Path) -> dict:
    """What a finished run folder says about itself: validation metrics, epochs, time, where."""
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    v = metrics.get("validation") or {}
    keep = ("auc", "accuracy", "majority_accuracy", "macro_f1", "n")
    return {"status": metrics.get("status"), "validation": {k: v.get(k) for k in keep if v.get(k) is not None},
            "epochs_run": metrics.get("epochs_run"), "best_epoch": metrics.get("best_epoch"),
            "seconds": info.get("duration_seconds"), "seconds_per_epoch": info.get("seconds_per_epoch"),
            "threads": info.get("threads"),
            "machine": info.get("machine"), "load_average": info.get("load_average"), "date": info.get("created_at")}


def _held_split(spec: dict, folder: Path) -> dict:
    """Write [split]'s two files (the rows kept for training and the rows held out, in their
    order) under ``folder``; returns the $REST and $HELD variables."""
    import numpy as np
    import pandas as pd

    split = spec["split"]
    source = ROOT / split["source"]
    if not source.exists():
        sys.exit(f"{split['source']} is missing: this trial set holds rows out of it")
    frame = pd.read_csv(source)
    n, how = len(frame), split.get("how", "last")
    if how == "validation":  # the validation rows of a config's own split of the source
        keep, out = _config_split(split, source, frame)
    else:
        held = int(split["held"])
        if not 0 < held < n:
            sys.exit(f"[split] held = {held}: must be between 1 and {n - 1} (the rows of {split['source']})")
        if how == "last":
            out = np.arange(n - held, n)
        elif how == "random":
            out = np.sort(np.random.default_rng(int(split.get("seed", 0))).choice(n, size=held, replace=False))
        else:
            sys.exit(f"[split] how = {how!r}: 'last', 'random' or 'validation'")
        keep = np.setdiff1d(np.arange(n), out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"REST": folder / "rest.csv.gz", "HELD": folder / "held.csv.gz"}
    for key, rows in (("REST", keep), ("HELD", out)):
        tmp = paths[key].with_name(paths[key].name + ".tmp")
        frame.iloc[rows].to_csv(tmp, index=False, compression="gzip")
        os.replace(tmp, paths[key])
    return {k: os.path.relpath(v, ROOT) for k, v in paths.items()}


def _config_split(split: dict, source: Path, frame) -> tuple:
    """Row numbers of ``frame`` (the source file) in the training and the validation side of the
    split that ``split["config"]`` (a preset name or a config file, with ``split["set"]``'s
    overrides, ``data.path`` = the source) makes of it: rnnlab's own loader and split, matched
    back to the file's rows by id (rows the loader drops are on neither side)."""
    import numpy as np

    from rnnlab.config import load_config, preset_names, preset_path
    from rnnlab.data import load_splits
    from rnnlab.data.tables import class_key

    where = split.get("config")
    if not where:
        sys.exit("[split] how = 'validation' needs config = a preset name or a config file")
    path = preset_path(where) if where.replace("-", "_") in preset_names() else ROOT / where  # as --preset names it
    cfg = load_config(path, list(split.get("set", [])) + [f"data.path={source}"])
    splits = load_splits(cfg)
    column = splits.train.id_column
    ids = (frame[column].map(class_key) if column else (frame.index + 1).astype(str)).to_numpy()
    train, validation = set(map(str, splits.train.ids)), set(map(str, splits.validation.ids))
    keep, out = np.flatnonzero([i in train for i in ids]), np.flatnonzero([i in validation for i in ids])
    if len(keep) != len(train) or len(out) != len(validation):
        sys.exit(f"[split] the ids of {split['source']} do not match the config's split "
                 f"({len(keep)}/{len(train)} training and {len(out)}/{len(validation)} validation rows found)")
    return keep, out


def _repeated(spec: dict, folder: Path) -> dict:
    """Write [repeat]'s file: the source's rows repeated up to ``rows``, ids made unique; returns $REPEATED."""
    import pandas as pd

    r = spec["repeat"]
    source = ROOT / r["source"]
    if not source.exists():
        sys.exit(f"{r['source']} is missing: this trial set repeats its rows")
    frame = pd.read_csv(source)
    n = int(r["rows"])
    big = frame.iloc[[i % len(frame) for i in range(n)]].reset_index(drop=True)
    if "id" in big.columns:
        big["id"] = [f"r{i}" for i in range(n)]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "repeated.csv.gz"
    tmp = path.with_name(path.name + ".tmp")
    big.to_csv(tmp, index=False, compression="gzip")
    os.replace(tmp, path)
    return {"REPEATED": os.path.relpath(path, ROOT)}


def _from_prediction(path: Path, stdout: str, wall: float) -> dict:
    """What ``rnnlab predict --out PATH`` did: its rows/s (printed), wall time, output hash."""
    import hashlib

    m = re.search(r"wrote ([\d,]+) rows to .* \(([\d,]+) rows/s\)", stdout)
    return {"status": "predicted", "validation": {}, "rows": int(m.group(1).replace(",", "")) if m else None,
            "rows_per_s": int(m.group(2).replace(",", "")) if m else None, "seconds": round(wall, 1),
            "output_sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "machine": machine(),
            "load_average": load_average(),
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _from_evaluation(path: Path) -> dict:
    """What ``rnnlab evaluate --out PATH`` wrote, in :func:`_from_run`'s shape."""
    m = json.loads(path.read_text(encoding="utf-8"))
    keep = ("auc", "accuracy", "majority_accuracy", "n")
    return {"status": "evaluated", "validation": {k: m.get(k) for k in keep if m.get(k) is not None},
            "overlaps_training": m.get("overlaps_training"), "machine": machine(), "load_average": load_average(),
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def measure_trials(name: str, only: list[str] | None = None, runs_root: Path | None = None) -> Path:
    """Run the trials of docs/figures/<name>.toml (all, or those in ``only``, in spec order) and
    write docs/figures/<name>.json; a failed command stops it, writing nothing."""
    import shlex

    spec = _spec(name)
    runs = (runs_root or ROOT / "runs" / "figures") / name
    path = FIGURES / f"{name}.json"
    old = json.loads(path.read_text(encoding="utf-8"))["results"] if path.exists() and only else {"trials": {}}
    ids = [t["id"] for t in spec["trial"]]
    unknown = sorted(set(only or []) - set(ids))
    if unknown:
        sys.exit(f"{name}: no trial {', '.join(unknown)} (trials: {', '.join(ids)})")
    load, t0 = load_average(), time.perf_counter()
    if "split" in spec:
        spec = {**spec, "vars": {**(spec.get("vars") or {}), **_held_split(spec, runs / "data")}}
    if "repeat" in spec:
        spec = {**spec, "vars": {**(spec.get("vars") or {}), **_repeated(spec, runs / "data")}}
    trials = dict(old.get("trials") or {})
    for t in spec["trial"]:
        if only and t["id"] not in only:
            continue
        args = shlex.split(_expand(t["command"], spec, runs))
        if args[:1] != ["rnnlab"]:
            sys.exit(f"{name}/{t['id']}: a command must start with 'rnnlab'")
        evaluate, predict = args[1:2] == ["evaluate"], args[1:2] == ["predict"]
        out = runs / (t["id"] + (".json" if evaluate else ".csv" if predict else ""))
        if out.is_dir():
            shutil.rmtree(out)
        out.unlink(missing_ok=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "rnnlab", *args[1:], "--out", str(out)]
        print(f"[{name}] {t['id']}: {' '.join(args)}", flush=True)
        started, commit = time.perf_counter(), _commit()
        done = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": _env()["PYTHONPATH"]}, cwd=ROOT,
                              capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{name}/{t['id']} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        wall = time.perf_counter() - started
        found = (_from_evaluation(out) if evaluate else _from_prediction(out, done.stdout, wall) if predict
                 else _from_run(out))
        trials[t["id"]] = {"command": t["command"], **found,
                           "wall_seconds": round(time.perf_counter() - started, 1),
                           "measured": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "commit": commit}
    results = {"trials": {i: trials[i] for i in ids if i in trials}}
    return _record(name, f"python docs/figures.py measure {name}", results, load, time.perf_counter() - t0,
                   only=only)


def _cell(column: str, t: dict, r: dict | None) -> str:
    if column == "run":
        return t["run"]
    if column == "command":
        return f"`{t.get('shown', t['command'])}`"
    if r is None:
        return "not measured"
    v = r["validation"]
    if column in ("val_auc", "val_accuracy", "val_majority"):
        x = v.get({"val_auc": "auc", "val_accuracy": "accuracy", "val_majority": "majority_accuracy"}[column])
        cell = _f(x)
        return f"**{cell}**" if cell and t.get("bold") else cell
    if column == "epochs":
        if r.get("epochs_run") is None:
            return ""
        return f"{r['epochs_run']} ({r['best_epoch']})" if r["epochs_run"] > 1 else "1"
    if column == "seconds":
        return "" if r.get("seconds") is None else f"{r['seconds']:,.0f} s"
    if column == "rows_per_s":
        return "" if r.get("rows_per_s") is None else f"{r['rows_per_s']:,}"
    if column == "output":
        return "" if not r.get("output_sha256") else f"`{r['output_sha256'][:12]}`"
    if column == "s_per_epoch":
        return "" if r.get("seconds_per_epoch") is None else f"{r['seconds_per_epoch']:.1f}"
    if column == "threads":
        return "" if r.get("threads") is None else str(r["threads"])
    if column == "load":
        return "" if not r.get("load_average") else f"{r['load_average'][0]:.1f}"
    raise SystemExit(f"unknown trial-table column {column!r}")


HEADERS = {"run": ("run", "---"), "command": ("command", "---"), "val_auc": ("val mean ROC AUC", "---:"),
           "val_accuracy": ("val accuracy", "---:"), "val_majority": ("majority accuracy", "---:"),
           "epochs": ("epochs (best)", "---:"), "seconds": ("wall time", "---:"), "threads": ("threads", "---:"),
           "s_per_epoch": ("s / epoch", "---:"), "rows_per_s": ("rows/s", "---:"),
           "output": ("output SHA-256 (first 12)", "---"),
           "load": ("load (1 min, at the end)", "---:")}


def render_trials(name: str) -> str:
    spec, d = _spec(name), _read(name)
    columns, names = spec["table"]["columns"], spec["table"].get("headers") or {}
    out = ["| " + " | ".join(names.get(c, HEADERS[c][0]) for c in columns) + " |",
           "|" + "|".join(HEADERS[c][1] for c in columns) + "|"]
    recs = d["results"]["trials"]
    for t in spec["trial"]:
        out.append("| " + " | ".join(_cell(c, t, recs.get(t["id"])) for c in columns) + " |")
    done = [r for r in recs.values() if r.get("date")]
    loads = [r["load_average"][0] for r in done if r.get("load_average")]
    m = d["machine"]
    when = sorted(r["date"][:10] for r in done)
    span = (when[0] if when[0] == when[-1] else f"{when[0]} to {when[-1]}") if when else d["date"][:10]
    threads = sorted({r["threads"] for r in done if r.get("threads") is not None})
    shown = " ".join(t.get("shown", t["command"]) for t in spec["trial"])
    used = [k for k in (spec.get("vars") or {}) if f"${k}" in shown]
    where = ("; " + ", ".join(f"`${k}` is `{_expand(spec['vars'][k], spec, Path('runs'))}`" for k in used)
             if used else "")
    cpu_of = {t["id"]: ((recs.get(t["id"]) or {}).get("machine") or {}).get("cpu_model") for t in spec["trial"]}
    cpus = sorted({c for c in cpu_of.values() if c})
    if len(cpus) > 1:  # rows measured on different machines: say which, since their times do not compare
        where_cpu = "; ".join(f"{c}: {', '.join(i for i, x in cpu_of.items() if x == c)}" for c in cpus)
    else:
        where_cpu = cpus[0] if cpus else m["cpu_model"]
    out += ["", f"Measured with `python docs/figures.py measure {name}` on {span}, {m['cores']} cores "
                f"({where_cpu}), " + (f"{'/'.join(map(str, threads))} thread(s), " if threads else "")
            + (f"load average (1 min) at the end of each run {min(loads):.1f}–{max(loads):.1f}"
               if loads else "load not recorded") + where + "."]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- rendering

def _read(name: str) -> dict:
    return json.loads((FIGURES / f"{name}.json").read_text(encoding="utf-8"))


def _minutes(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s} s" if m else f"{s} s"


def _where(d: dict) -> str:
    """'2026-12-01, 2 cores (AMD EPYC), load average 1.2 -> 3.4'."""
    m, load = d["machine"], d.get("load_average") or {}
    before, after = (load.get("before") or [None])[0], (load.get("after") or [None])[0]
    loads = f", load average {before} -> {after} (1 min)" if before is not None else ", load not recorded"
    return f"{d['date'][:10]}, {m['cores']} cores ({m['cpu_model']}){loads}"


def _f(x, digits: int = 4) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def render_demo() -> str:
    d = _read("demo")
    r = d["results"]
    out = [f"Measured with `python docs/figures.py measure demo` ({d['command']}): "
           f"{_minutes(r['total_seconds'])} in all, install included ({_minutes(r['training_seconds'])} of training; "
           f"venv {r['venv_mb']:,} MB), on {_where(d)}. The same 5,000 validation rows for every model:", "",
           "| model | status | params | epochs (best) | val accuracy | majority accuracy | val AUC | seconds |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in r["rows"]:
        capped = " (capped)" if row.get("epochs_capped") else ""
        out.append(f"| {row['model']}{capped} | {row['status']} | {row['params']:,} | {row['epochs']} "
                   f"({row['best_epoch']}) | {_f(row['val_accuracy'])} | {_f(row['majority_accuracy'])} | "
                   f"{_f(row['val_auc'])} | {row['seconds']:.0f} |")
    return "\n".join(out) + "\n"


def render_jigsaw_quickstart() -> str:
    d = _read("jigsaw-quickstart")
    r = d["results"]
    return (f"On the Jigsaw subset in `../shared/data` (16,451 rows, 20% validation) it reaches a validation mean "
            f"ROC AUC of {r['auc']:.4f} (accuracy {r['accuracy']:.4f}, majority {r['majority_accuracy']:.4f}; best "
            f"epoch {r['best_epoch']} of {r['epochs_run']}, {r['status'].replace('_', ' ')}) in "
            f"{_minutes(r['train_seconds'])} of training with one thread, measured with `python docs/figures.py "
            f"measure jigsaw-quickstart` on {_where(d)}; the run's log ends:\n\n```text\n$ rnnlab train "
            f"examples/jigsaw_lstm.toml --set data.path=../shared/data/jigsaw_toxic/train_subset.csv.gz\n...\n"
            + "\n".join(r["log_excerpt"]) + "\n```\n")


def _short(x):
    """A JSON value with its floats to 4 decimals (docs/serve.md's shortened answers)."""
    if isinstance(x, float):
        return round(x, 4)
    if isinstance(x, dict):
        return {k: _short(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_short(v) for v in x]
    return x


def render_serve_predict() -> str:
    d = _read("jigsaw-quickstart")
    r = d["results"]["serve"]
    body = json.dumps({"texts": r["texts"]})
    answer = r["predict"]
    preds = ",\n".join(f"  {{\"probabilities\": {json.dumps(_short(p['probabilities']))},\n"
                       f"   {json.dumps({k: v for k, v in p.items() if k != 'probabilities'})[1:-1]}}}"
                       for p in answer["predictions"])
    head = ",\n ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in answer.items() if k != "predictions")
    return (f"```bash\ncurl -s http://127.0.0.1:8000/v1/predict -H 'Content-Type: application/json' \\\n"
            f"     -d '{body}'\n```\n\n```json\n{{{head},\n \"predictions\": [\n{preds}]}}\n```\n\n"
            f"(the quickstart's run, measured with `python docs/figures.py measure jigsaw-quickstart` on "
            f"{d['date'][:10]}; probabilities shortened here to 4 decimals, the server sends full floats).\n")


def render_serve_model() -> str:
    d = _read("jigsaw-quickstart")
    answer = _short(d["results"]["serve"]["model"])
    lines = ",\n ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in answer.items())
    return ("```bash\ncurl -s http://127.0.0.1:8000/v1/model\n```\n\n```json\n{" + lines + "}\n```\n\n"
            f"(the same run, from `python docs/figures.py measure jigsaw-quickstart` on {d['date'][:10]}).\n")


def render_kfold() -> str:
    d = _read("kfold")
    r = d["results"]
    split, cv = r["split"]["validation"]["auc"], r["folds"]["cross_validation"]["auc"]
    lo, hi = min(cv["folds"]), max(cv["folds"])
    where = ("above every one of the five folds" if split > hi else "below every one of the five folds" if split < lo
             else "within the folds' range")
    return ("```bash\nrnnlab train --preset jigsaw-strong --set "
            "data.path=../shared/data/jigsaw_toxic/train_subset.csv.gz --set model.type=tfidf_lr --set fit.folds=5\n"
            "...\n" + r["folds"]["summary"] + "\n```\n\n"
            f"({_minutes(r['folds']['wall_seconds'])} for the five folds, one thread; measured with `python "
            f"docs/figures.py measure kfold` on {_where(d)}.) The single 80/20 split of the same config gave "
            f"{split:.4f} — {where} ({lo:.4f}–{hi:.4f}): on data this small one split can move a config's score by "
            f"as much as the differences a sweep is looking for.\n")


def render_onnx_int8() -> str:
    d = _read("onnx-int8")
    r = d["results"]
    speed = r["rps_int8"] / r["rps_fp32"]
    faster = ("it does not make this model meaningfully faster on this CPU" if speed < 1.1
              else f"it makes this model {speed:.2f}x faster on this CPU")
    return (f"Measured with `python docs/figures.py measure onnx-int8` on {_where(d)}, on a GloVe BiLSTM run of the "
            "Jigsaw subset (`rnnlab train --preset jigsaw-strong --set data.path=../shared/data/jigsaw_toxic/"
            "train_subset.csv.gz --set model.layers.1.type=LSTM --set fit.threads=1`: Embedding → BiLSTM(64) → max + "
            "mean pooling → Dense(6)), the command's line:\n\n```\n" + r["line"] + "\n```\n\n"
            f"int8 makes the file {r['mb_fp32'] / r['mb_int8']:.1f}x smaller with the mean AUC moved by "
            f"{r['auc_int8'] - r['auc_fp32']:+.4f}; {faster} ({speed:.2f}x the float32 graph's rows/s; PyTorch's int8 "
            "in docs/benchmarks.md).\n")


def render_onnx_export_output() -> str:
    d = _read("onnx")
    return ("```\n" + "\n".join(d["results"]["export_output"]) + "\n```\n\n"
            f"(`python docs/figures.py measure onnx`, {d['date'][:10]}.)\n")


def render_quality_seeds(path: Path | None = None) -> str:
    """Each seed of ``bench/run.py --only quality --quality-seeds N`` (seeds 42, 43, ...): AUC, best epoch / epochs."""
    d = json.loads((path or QUALITY_RESULTS).read_text(encoding="utf-8"))
    variants = d["results"]["quality"]
    n = max(len(v) for v in variants.values())
    out = ["| variant | " + " | ".join(f"seed {42 + i}" for i in range(n)) + " |", "|---|" + "---:|" * n]
    for name, runs in variants.items():
        out.append(f"| {name} | " + " | ".join(f"{r['val_auc']:.4f} ({r['best_epoch']} of {r['epochs_run']})"
                                               for r in runs) + " |")
    return ("\n".join(out) + "\n\nValidation mean AUC per seed (best epoch of epochs run), from "
            f"`{_rel(path or QUALITY_RESULTS)}`.\n")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def render_vectors() -> str:
    d = _read("vectors")
    r = d["results"]
    dims = sorted({s["dim"] for k, s in r["sources"].items() if k != "glove-6b-50d"})

    def words(c: dict) -> str:
        return f"{c['words_found']:,} ({c['vocabulary_share']:.1%})"

    rows = []
    for key, s in r["sources"].items():
        name = f"`{key}`" if key == "glove-6b-50d" else {"word2vec": "own word2vec", "fasttext": "own fastText"}[key]
        ngrams = (f", of them {s['table']['words_from_ngrams']:,} / {s['all']['words_from_ngrams']:,} from n-grams only"
                  if "words_from_ngrams" in s["table"] else "")
        cost = ("—" if "wall_seconds" not in s else
                f"{s['wall_seconds']:.0f} s in all ({s['train_seconds']:.0f} s training), peak {s['peak_rss_mb']:,} MB")
        rows.append(f"| {name} | {words(s['table'])} / {words(s['all'])}{ngrams} | {s['table']['token_share']:.1%} / "
                    f"{s['all']['token_share']:.1%} | {cost} |")
    return (f"Measured with `python docs/figures.py measure vectors` on {_where(d)}: the Jigsaw subset's training "
            f"split tokenized as `--preset jigsaw-scratch` does ({r['texts']:,} texts, {r['tokens']:,} tokens, "
            f"{r['words']:,} distinct words; gensim defaults, dim {'/'.join(map(str, dims))}; each `rnnlab vectors` "
            f"in its own process, one worker, a fresh cache):\n\n"
            f"| vectors | words with a vector: the table's {r['table_rows']:,} / all {r['words']:,} | training tokens "
            f"covered: table / all | `rnnlab vectors`: wall time, peak memory |\n|---|---|---|---|\n"
            + "\n".join(rows) + "\n\n" + _vector_words(r) + "\n")


def _vector_words(r: dict) -> str:
    """The sentence on misspellings under the coverage table, and what fastText vectors did as a start."""
    s = r["sources"]

    def near(kind: str, word: str) -> str:
        found = s[kind].get("neighbours", {}).get(word)
        return ", ".join(f"{w} ({c:.2f})" for w, c in found) if found else "(not in the vectors)"

    trials = _read("presets-jigsaw")["results"]["trials"]
    ft, scratch = trials["fasttext"]["validation"]["auc"], trials["scratch"]["validation"]["auc"]
    verdict = ("on this subset the vectors do not help the BiGRU; a larger `corpus` is where they can"
               if ft <= scratch + 0.001 else "on this subset they help the BiGRU")
    if "w2v_imdb" in trials and "ft_imdb" in trials:  # the same with IMDB's 25,000 reviews as corpus
        auc = {k: trials[k]["validation"]["auc"] for k in ("ft_imdb", "w2v_imdb", "strong")}
        verdict += (f". With IMDB's 25,000 reviews added as `corpus` (unlabelled text of another domain, "
                    f"`corpus_column = \"text\"`), own fastText vectors gave {auc['ft_imdb']:.4f} "
                    f"and own skip-gram word2vec vectors {auc['w2v_imdb']:.4f} (GloVe 50d in "
                    f"`jigsaw-strong`: {auc['strong']:.4f})")
    if "t1_w2v_imdb_frozen" in trials:
        verdict += (f"; the same word2vec vectors kept frozen (`model.embedding.trainable = false`) gave "
                    f"{trials['t1_w2v_imdb_frozen']['validation']['auc']:.4f}, and they are a member of the best "
                    f"Jigsaw blend there")
    missing = ", ".join(f'"{w}"' for w in s["glove-6b-50d"]["missing"]) or "none of the probes"
    return (f"GloVe lacks {missing}. fastText's nearest neighbours (cosine) of \"stupidd\": "
            f"{near('fasttext', 'stupidd')}; "
            f"of \"cocksucker\": {near('fasttext', 'cocksucker')} — neighbours by spelling more than by meaning on "
            f"{r['tokens'] / 1e6:.1f}M tokens (word2vec's neighbours of \"stupid\": {near('word2vec', 'stupid')}). "
            f"Starting `jigsaw-scratch` from own fastText vectors (trainable) gave a validation mean ROC AUC of "
            f"{ft:.4f}, against {scratch:.4f} from Keras's uniform initial values (docs/presets.md, `presets-jigsaw`): "
            f"{verdict}.")


def render_cli_start() -> str:
    d = _read("cli-start")
    r = d["results"]
    return ("| what | median of " + str(r["repeats"]) + " |\n|---|---:|\n"
            f"| `rnnlab --help`, wall time | {r['help_wall_median_s']:.2f} s |\n"
            f"| `python -X importtime -c \"import rnnlab.cli\"`, cumulative | {r['import_cli_median_s']:.2f} s |\n\n"
            f"Measured with `python docs/figures.py measure cli-start` on {_where(d)}.\n")


def render_suite() -> str:
    d = _read("suite")
    r = d["results"]
    return (f"The suite ({r['tests']:,} tests: {r['passed']:,} passed and {r['skipped']} skipped with their reasons) "
            f"took {_minutes(r['seconds'])} with the command above (two pytest-xdist workers, one test file each at "
            f"a time), measured with `python docs/figures.py measure suite` on {_where(d)}. Skipped here:\n\n"
            + "".join(f"- {reason}\n" for reason in r["skip_reasons"]))


def render_onnx() -> str:
    d = _read("onnx")
    r = d["results"]
    b, f = r["bucketed"], r["full_width"]
    return (f"Measured with `python docs/figures.py measure onnx` on {_where(d)} (torch {r['torch']}, onnxruntime "
            f"{r['onnxruntime']}, one thread, best of {r['repeats']}): the Jigsaw LSTM of `examples/jigsaw_lstm.toml` "
            f"trained on the subset, on its validation split ({r['texts']:,} texts, {r['mean_tokens']:.1f} tokens on "
            f"average, `maxlen` {r['maxlen']}).\n\n"
            "| | |\n| --- | --- |\n"
            f"| `rnnlab export`, in all | {r['export_seconds']:.1f} s (loading the run and the validation split "
            f"included; `torch.onnx.export` {r['torch_export_seconds']:.1f} s) |\n"
            f"| parity, max abs diff on all {r['parity_rows']:,} validation rows | {r['max_abs_diff']:.1e} |\n"
            f"| files | model.onnx {r['model_mb']:.2f} MB; model.onnx.json {r['metadata_mb']:.2f} MB (the word index) |"
            "\n\nInference rows/s, batches of up to 1,024, the same ids fed to both:\n\n"
            "| batches | PyTorch | onnxruntime |\n| --- | ---: | ---: |\n"
            f"| one padded width per batch ({b['batches']} batches) | {b['torch_rows_per_s']:,.0f} | "
            f"{b['onnxruntime_rows_per_s']:,.0f} |\n"
            f"| every row padded to {r['maxlen']} ({f['batches']} batches) | {f['torch_rows_per_s']:,.0f} | "
            f"{f['onnxruntime_rows_per_s']:,.0f} |\n\n"
            f"onnxruntime gives {b['onnxruntime_rows_per_s'] / b['torch_rows_per_s']:.2f}x PyTorch's rows/s on the "
            f"batches of one padded width and {f['onnxruntime_rows_per_s'] / f['torch_rows_per_s']:.2f}x on the "
            f"full-width ones. "
            f"`Run.predict` on the texts, tokenizing included: {r['run_predict_texts_rows_per_s']:,.0f} rows/s; the "
            f"`score` example above, tokenizing in pure Python: {r['score_example_rows_per_s']:,.0f} rows/s, within "
            f"{r['score_example_max_abs_diff']:.1e} of `Run.predict` on all {r['texts']:,} texts.\n")


def render_calibration() -> str:
    d = _read("calibration")
    cases = d["results"]["cases"]
    titles = {"validation": "`rnnlab calibrate RUN` — trained on the Jigsaw subset (`train_subset.csv.gz`, split_seed "
                            "42), calibrated on its {rows:,} validation rows ({seconds:.1f} s wall):",
              "held_out": "`rnnlab calibrate RUN held.csv.gz` — trained on the subset's first 14,451 rows, calibrated "
                          "on its last {rows:,}, which it never saw ({seconds:.1f} s wall):"}
    out = [f"Measured with `python docs/figures.py measure calibration` on {_where(d)}: two GloVe-50 BiGRUs "
           f"(`rnnlab train --preset jigsaw-strong --set text.num_words=20000 --set fit.threads=1`), per-label ECE on "
           f"rows not used to fit the scaling (two-fold cross-fitting, above); ROC AUC is the same before and after "
           f"for every label."]
    for name, c in cases.items():
        out += ["", titles[name].format(rows=c["rows"] or 0, seconds=c["seconds"]), "",
                "| label | T | ECE before | ECE after | ROC AUC |", "|---|---:|---:|---:|---:|"]
        for label, v in c["labels"].items():
            t = "" if v["temperature"] is None else f"{v['temperature']:.4f}"
            out.append(f"| {label} | {t} | {v['ece_before']:.4f} | {v['ece_after']:.4f} | {v['auc']:.4f} |")
    rows = [v for c in cases.values() for v in c["labels"].values() if v["temperature"] is not None]
    worse = [(k, n) for n, c in cases.items() for k, v in c["labels"].items() if v["ece_after"] > v["ece_before"]]
    if rows:
        out += ["", f"T ranges from {min(v['temperature'] for v in rows):.2f} to "
                    f"{max(v['temperature'] for v in rows):.2f} (T > 1: the network was overconfident on that label). "
                + ("ECE after scaling is at most ECE before for every label in both cases."
                   if not worse else "ECE after scaling is above ECE before for " + ", ".join(
                       f"{k} ({'validation' if n == 'validation' else 'held-out rows'})" for k, n in worse)
                   + ": a label with T near 1 and few positive rows has an ECE at the noise level of the "
                     "measurement, so scaling it is not guaranteed to help.")]
    return "\n".join(out) + "\n"


def render_readme_presets() -> str:
    """The README's summary of docs/presets.md: baselines, the strong presets, the best blends,
    and the held-out checks, from the presets-* trial sets."""
    def trial(name: str, tid: str) -> dict:
        return _read(name)["results"]["trials"][tid]["validation"]

    def best_blend(name: str, metric: str) -> tuple[float, str]:
        spec, recs = _spec(name), _read(name)["results"]["trials"]
        first = spec["trial"][0]["run"].strip("*")
        label = {t["id"]: (f"{first} {t['run']}" if t["run"].startswith("+") else t["run"]).strip("*")
                 for t in spec["trial"]}  # "+ X" rows add X to the first row's members
        tid = max((k for k in recs if recs[k]["validation"].get(metric) is not None),
                  key=lambda k: recs[k]["validation"][metric])
        return recs[tid]["validation"][metric], label[tid]

    rows = []
    for data, name, metric, what in (("IMDB, 5,000 reviews", "imdb", "accuracy", "accuracy"),
                                     ("Jigsaw subset, 3,291 comments", "jigsaw", "auc", "mean ROC AUC")):
        p = f"presets-{name}"
        value, label = best_blend(f"{p}-blends", metric)
        rows.append(f"| {data}: {what} | {trial(p, 'nbsvm')[metric]:.4f} | {trial(p, 'tfidf')[metric]:.4f} | "
                    f"**{trial(p, 'strong')[metric]:.4f}** (scratch: {trial(p, 'scratch')[metric]:.4f}) | "
                    f"**{value:.4f}** ({label}) |")
    jh, ih = (lambda t: trial("presets-jigsaw-held", t)["auc"]), (lambda t: trial("presets-imdb-held", t)["accuracy"])
    gains = [best_blend("presets-imdb-blends", "accuracy")[0] - trial("presets-imdb", "strong")["accuracy"],
             best_blend("presets-jigsaw-blends", "auc")[0] - trial("presets-jigsaw", "strong")["auc"]]
    when = sorted({_read(n)["date"][:10] for n in ("presets-imdb", "presets-jigsaw", "presets-imdb-blends",
                                                   "presets-jigsaw-blends", "presets-jigsaw-held",
                                                   "presets-imdb-held")})
    return ("| data (validation split) | NB-SVM | TF-IDF + LR | strong preset (GloVe) | best blend |\n"
            "|---|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
            f"On rows no choice was made on: Jigsaw, 2,000 held-out rows, `jigsaw-strong` {jh('strong_held'):.4f} "
            f"against TF-IDF + LR {jh('tfidf_held'):.4f} and NB-SVM {jh('nbsvm_held'):.4f}, and the best Jigsaw "
            f"blend's seven runs trained on the other rows {jh('t1_best_held'):.4f}; IMDB, 3,000 held-out "
            f"reviews, `imdb-strong` {ih('strong_held'):.4f} against TF-IDF + LR {ih('tfidf_held'):.4f} and NB-SVM "
            f"{ih('nbsvm_held'):.4f}. The best blends add {min(gains):.4f}–{max(gains):.4f} to the strong presets on "
            f"validation. Measured with `python docs/figures.py measure presets-imdb presets-imdb-blends "
            f"presets-imdb-held presets-jigsaw presets-jigsaw-blends presets-jigsaw-held` ({', '.join(when)}; "
            f"docs/presets.md has every command, the machine and the load).\n")


CONTENTION_TITLES = {"m1": "M1 Emb(V,3)+LSTM(32)+Dense(6)", "m2": "M2 Emb(500,16)+SimpleRNN(8)+Dense(1)",
                     "m3": "M3 Emb(50000,128)+BiGRU(64)+MaxPool+Dense(6)"}


def render_contention(path: Path | None = None) -> str:
    """``bench/run.py --only contention``: per model and thread setting, training seconds and
    inference rows/s beside 0 and 1 busy loops, then every ratio against its target."""
    path = path or SUITE_RESULTS
    d = json.loads(path.read_text(encoding="utf-8"))
    cells = d["summary"]["contention"]
    load = next((n for n in d.get("notes", []) if n.startswith("load average")), "load not recorded")
    out = [f"`{d['command']}` ({d['date'][:10]}, {d['machine']['cpus']} cores; {load}; wall time "
           f"{_minutes(d['wall_seconds'])}; rendered from `{path.relative_to(ROOT)}`):", "",
           "| model | variant | train s, 0 busy loops | train s, 1 busy loop | rows/s, 0 | rows/s, 1 |",
           "|---|---|---:|---:|---:|---:|"]
    for part, title in CONTENTION_TITLES.items():
        variants = [v for v in ("auto", "1", "all", "all-spin") if f"{part}/0/{v}" in cells]
        for i, v in enumerate(variants):
            q, b = cells[f"{part}/0/{v}"], cells.get(f"{part}/1/{v}", {})
            out.append(f"| {title if i == 0 else ''} | {v} | {_f(q.get('epoch_s'), 2)} | {_f(b.get('epoch_s'), 2)} | "
                       f"{q.get('rows_per_s', 0):,.0f} | {b.get('rows_per_s', 0):,.0f} |")
    rows = {(r["part"].split("/")[1], r["what"]): r for r in d["ratios"] if r["part"].startswith("contention/")}
    out += ["", "The targets, with one busy loop (the runner prints each ratio against its target):", "",
            "| model | training: auto / best fixed (<= 1.5) | training: auto / own quiet (<= 3) | inference: best "
            "fixed / auto (<= 1.5) | inference: quiet / busy (<= 3) |", "|---|---:|---:|---:|---:|"]
    checks = []
    for part in CONTENTION_TITLES:
        t, i = rows.get((part, "training")), rows.get((part, "inference"))
        if t and i:
            out.append(f"| {part.upper()} | {t['auto_vs_best_fixed']:.2f} | {t['auto_vs_own_idle']:.2f} | "
                       f"{i['auto_vs_best_fixed']:.2f} | {i['auto_vs_own_idle']:.2f} |")
            checks += [t["ok_vs_best"], t["ok_vs_idle"], i["ok_vs_best"], i["ok_vs_idle"]]
    missed = len(checks) - sum(checks)
    out += ["", f"All {len(checks)} ratios are met." if not missed else
            f"{sum(checks)} of the {len(checks)} ratios are met; {missed} missed."]
    spin = [p for p in CONTENTION_TITLES if f"{p}/1/all-spin" in cells and f"{p}/1/all" in cells]
    if spin:
        def slowdown(key: str, busy: int, digits: int) -> str:
            """Spinning's time over the passive policy's, per model (rows/s inverted into times)."""
            def one(part: str) -> float:
                spinning, passive = (cells[f"{part}/{busy}/{v}"][key] for v in ("all-spin", "all"))
                return spinning / passive if key == "epoch_s" else passive / spinning
            return ", ".join(f"{part.upper()} {one(part):.{digits}f}x" for part in spin)
        train, infer, idle = slowdown("epoch_s", 1, 1), slowdown("rows_per_s", 1, 1), slowdown("epoch_s", 0, 2)
        out += ["", f"libgomp's default spinning against the passive wait policy on the same two threads (time "
                    f"ratios): beside one busy loop, training {train}, inference {infer}; with no competitor, "
                    f"training {idle}."]
    return "\n".join(out) + "\n"


KAGGLE_SCALE = ROOT / "bench" / "results" / "2026-12-01-kaggle-scale-jigsaw-strong.json"


def render_kaggle_scale(path: Path | None = None) -> str:
    """docs/presets.md's Kaggle-scale estimate, from a ``bench/kaggle_scale.py`` results file."""
    path = path or KAGGLE_SCALE
    d = json.loads(path.read_text(encoding="utf-8"))
    m, e = d["measured"], d["estimated"]
    vec = d.get("vectors") or {}
    load = d.get("load_average") or {}
    ten = 10 * e["epoch_with_validation_s"]
    return (f"`{d['command']}` ({d['date'][:10]}, {d['machine']['cpus']} cores, load average (1 min) "
            f"{load.get('start', float('nan')):.1f} → {load.get('end', float('nan')):.1f}; rendered from "
            f"`{path.relative_to(ROOT)}`):\n\n"
            f"| `{d['preset']}`, {d['rows']:,} rows ({d['train_rows']:,} train / {d['validation_rows']:,} validation), "
            f"{d['threads']} thread(s) | |\n|---|---:|\n"
            f"| tokenize (fit + encode) | {m['tokenize_s']:.1f} s; {d['vocabulary']:,} words, table "
            f"{d['model_vocab']:,} |\n"
            + (f"| read {vec['source']} for the table | {vec['seconds']:.1f} s |\n" if vec else "")
            + f"| training: {m['train_batches']} batches of {d['batch_size']} (measured) | "
            f"{1000 * m['s_per_batch']:.1f} ms per batch |\n"
            f"| one epoch, {e['epoch_batches']:,} batches (estimate) | ~{e['epoch_train_s']:,.0f} s "
            f"({e['epoch_train_s'] / 60:.1f} min) |\n"
            f"| epoch-end validation, {m['validation_rows']:,} rows (measured) | {m['validation_s']:.1f} s |\n"
            f"| peak RSS of the whole process (measured) | {d['peak_rss_mb']:,.0f} MB |\n\n"
            f"Ten epochs with their validations would take about {ten / 60:.0f} minutes at this rate, in "
            f"{d['peak_rss_mb'] / 1024:.1f} GB.\n")


def render_sweep_experiments() -> str:
    d = _read("sweep-experiments")
    r = d["results"]
    rows = r["rows"]
    ok = [x for x in rows if x["outcome"] == "ok" and x.get("val_auc") is not None]
    base = {x["name"]: x for x in ok if x["name"].startswith("baseline")}
    broken = [x for x in ok if x.get("doctor")]
    right = [x for x in ok if not x.get("doctor") and x["name"] not in base]
    aucs = [x["val_auc"] for x in right]
    tfidf, nbsvm = base.get("baseline tfidf_lr"), base.get("baseline nbsvm")
    out = [f"`rnnlab check` flags {r['flagged']} of {r['variants']} variants. Measured on the Jigsaw subset in "
           f"`../shared/data` (the same split for every variant) with `python docs/figures.py measure "
           f"sweep-experiments` on {_where(d)}: {_minutes(r['sweep_seconds'])} for the whole sweep"
           + (f" ({r['threads']} thread(s) per run)" if r.get("threads") else "")
           + "; `rnnlab compare` shows these and every varied key:", "",
           "| # | variant | val mean AUC | AUC toxic | accuracy (majority) | status |", "|---:|---|---:|---:|---|---|"]
    for k, x in enumerate(rows, 1):
        errors = [f["rule"] for f in x.get("doctor") or [] if f.get("severity") == "error"]
        if x["outcome"] == "ok":
            status = "flagged by doctor: " + ", ".join(errors) if errors else "ok"
        else:
            m = re.match(r"Training failed at (epoch \d+, step \d+): .*? — (.*)$", x.get("reason") or "")
            status = f"failed at {m.group(1)}: {m.group(2)}" if m else f"{x['outcome']}: {x.get('reason', '')}"
        acc = "" if x.get("val_accuracy") is None else f"{x['val_accuracy']:.4f} ({x['majority_accuracy']:.4f})"
        out.append(f"| {k} | {x['name']} | {_f(x.get('val_auc'))} | {_f((x.get('auc_per_label') or {}).get('toxic'))} "
                   f"| {acc} | {status.replace('|', '/')} |")
    out.append("")
    if broken and aucs and tfidf and nbsvm:
        b = broken[0]
        out.append(f"The notebook's \"accuracy 0.904\" was the majority share of its data; here the broken "
                   f"variants' accuracy sits *below* the majority baseline ({b['val_accuracy']:.4f} vs "
                   f"{b['majority_accuracy']:.4f} on the toxic-enriched subset: softmax "
                   f"over one unit predicts \"toxic\" for everything). The variants done right reach a mean ROC AUC "
                   f"of {min(aucs):.4f}–{max(aucs):.4f} — and both linear baselines beat them on this data "
                   f"({tfidf['val_auc']:.4f} / {nbsvm['val_auc']:.4f}): the bar an RNN recipe has to clear.")
    return "\n".join(out) + "\n"


ENGINES = [("keras-tf", "Keras 3 + TensorFlow"), ("keras-jax", "Keras 3 + JAX"), ("rnnlab", "rnnlab")]


def render_bench_keras(path: Path | None = None) -> str:
    """The training parts (m1, m2, m3) of a ``bench/run.py`` results file against Keras, with the targets;
    default the suite's file (``SUITE_RESULTS``)."""
    path = path or SUITE_RESULTS
    b = json.loads(path.read_text(encoding="utf-8"))
    titles = {"m1": "M1 Emb(V,3)+LSTM(32)+Dense(6), batch 128, maxlen 250 (Jigsaw subset, 13,161 train rows, "
                    "V = 43,696)",
              "m2": "M2 Emb(500,16)+SimpleRNN(8)+Dense(1), batch 64, maxlen 100, RMSprop (IMDB, 20,000 train rows)",
              "m3": "M3 Emb(50000,128)+BiGRU(64)+GlobalMaxPool+Dense(6), batch 256, maxlen 200, Adam (Jigsaw subset)"}
    titles = {k: v for k, v in titles.items() if k in b["summary"]}
    load = next((n for n in b.get("notes", []) if n.startswith("load average")), "the load was not recorded in "
                                                                                  "that file")
    out = [f"Rendered from `{path.relative_to(ROOT)}` ({b['command']}, {b['date'][:10]}, "
           f"{b['machine']['cpus']} cores, {b['machine']['platform']}; {load}).", "",
           "| model (data) | engine | ms / step | s / epoch | inference rows/s | peak RSS MB |",
           "|---|---|---:|---:|---:|---:|"]
    engines = ENGINES + [("rnnlab-eager", "rnnlab, `RNNLAB_COMPILE=off` (torch's own `nn.RNN` / `nn.LSTM` / `nn.GRU`, "
                                          "no fused "
                                          "recurrence)")]
    for part, title in titles.items():
        shown = [(k, e) for k, e in engines if k in b["summary"][part]]
        for i, (key, engine) in enumerate(shown):
            s = b["summary"][part][key]
            out.append(f"| {title if i == 0 else ''} | {engine} | {s['ms_per_step']:.1f} | {s['epoch_s']:.2f} | "
                       f"{s['rows_per_s']:,.0f} | {s['peak_rss_mb']:,.0f} |")
    targets = {("m1", "keras-tf"): ">= 5x", ("m2", "keras-jax"): "at least as fast", ("m3", "keras-tf"): ">= 3x"}
    goals = {("m1", "keras-tf"): 5.0, ("m2", "keras-jax"): 1.0, ("m3", "keras-tf"): 3.0}
    out += ["", "| rnnlab vs | epoch time ratio | training speed-up | inference rows/s ratio | peak RSS ratio "
                "| target |", "|---|---:|---:|---:|---:|---|"]
    for r in b["ratios"]:
        if r["part"] not in titles or r["vs"] not in dict(ENGINES):
            continue
        engine = dict(ENGINES)[r["vs"]]
        speed = f"{r['speedup']:.1f}x" if r["speedup"] >= 1 else \
            f"{r['speedup']:.2f}x ({1 / r['speedup']:.1f}x slower)"
        key = (r["part"], r["vs"])
        target = f"{targets[key]}: {'met' if r['speedup'] >= goals[key] else 'missed'}" if key in targets else ""
        out.append(f"| {r['part'].upper()}, {engine} | {r['epoch_time_ratio']:.3f} | {speed} | "
                   f"{r['infer_rows_ratio']:.2f} | {r['peak_rss_ratio']:.2f} | {target} |")
    profiles = {k: v for k, v in (b.get("profiles") or {}).items() if k in titles and "error" not in v}
    if profiles:
        out += ["", "Where rnnlab's training step goes (`torch.profiler`, one thread, after the measurement; shares "
                    "of the profiled epoch's wall time, which the profiler itself lengthens):", "",
                "| model | steps | ms / step (profiled) | in torch ops | outside them (Python, NumPy) "
                "| top ops by self time |",
                "|---|---:|---:|---:|---:|---|"]
        for part, p in profiles.items():
            inside = p["ops_self_s"] / p["profiled_s"]
            top = ", ".join(f"`{t['op']}` {t['self_s'] / p['profiled_s']:.0%}" for t in p["top"][:6])
            out.append(f"| {part.upper()} | {p['steps']} | {1000 * p['profiled_s'] / p['steps']:.1f} | {inside:.0%} | "
                       f"{max(0.0, 1 - inside):.0%} | {top} |")
    return "\n".join(out) + "\n"


def render_tok_quiet(path: Path | None = None) -> str:
    """The tokenizer part of ``bench/run.py`` (``--only tok``) on a quiet machine, with the target."""
    path = path or SUITE_RESULTS
    d = json.loads(path.read_text(encoding="utf-8"))
    tok = d["summary"]["tok"]
    names = [("keras2-tokenizer", "Keras 2 `Tokenizer` (tf_keras)"),
             ("rnnlab", "rnnlab, vectorized engine (the default: compiled word counter where a C compiler is)"),
             ("rnnlab-arrow", "rnnlab, vectorized engine without the compiled counter (`RNNLAB_COMPILE=off`)"),
             ("rnnlab-python", "rnnlab, Python reference engine")]
    load = next((n for n in d.get("notes", []) if n.startswith("load average")), "load not recorded")
    out = [f"`{d['command']}` ({d['date'][:10]}, {d['machine']['cpus']} CPUs, {load}; medians of "
           f"{tok['rnnlab'].get('n', '?')}; rendered from `{path.relative_to(ROOT)}`):", "",
           "| tokenizer | fit s | fit + transform s | fit + a transform that splits again s | peak RSS MB |",
           "|---|---:|---:|---:|---:|"]
    for key, title in names:
        if key in tok:
            t = tok[key]
            out.append(f"| {title} | {t['fit_s']:.2f} | {t['seconds']:.2f} | {_f(t.get('seconds_resplit'), 2)} | "
                       f"{t['peak_rss_mb']:,.0f} |")
    k, r = tok.get("keras2-tokenizer"), tok["rnnlab"]
    if k:
        speed = k["seconds"] / r["seconds"]
        same = all(k.get(h) == v.get(h) for v in tok.values() for h in ("vocab_hash", "seq_hash"))
        out += ["", f"fit + transform **{speed:.1f}x faster than Keras 2** (target 10x: "
                    f"{'met' if speed >= 10 else 'missed'}); word index and sequences identical in every process: "
                    f"{'yes' if same else 'NO'} (SHA-256 prefixes {r['vocab_hash']} / {r['seq_hash']})."]
    return "\n".join(out) + "\n"


def render_serve(path: Path | None = None) -> str:
    """``bench/run.py --only serve``: Run.predict, wrk's closed loop, the open-loop rate curve, targets."""
    path = path or SUITE_RESULTS
    d = json.loads(path.read_text(encoding="utf-8"))
    v = d["serve"]
    p, w = v["predict"], v["wrk"]
    out = [f"`{d['command']}` ({d['date'][:10]}, {d['machine']['cpus']} CPUs; load average (1 min) "
           f"{v['load_average_start'][0]:.1f} at the start, {v['load_average_end'][0]:.1f} at the end; server and "
           f"load generators on the same cores; rendered from `{path.relative_to(ROOT)}`). Model: "
           f"{v['model']}, {v['texts_per_request']} texts per request"
           + (f"; `rnnlab serve` options `{v['serve_args']}`" if v.get("serve_args") else "")
           + ". `Run.predict` on the same texts: "
           f"{p['texts_rows_per_s']:,.0f} rows/s ({p['ids_rows_per_s']:,.0f} on token ids).", "",
           "| load | requests/s | texts/s | p50 | p99 | errors |", "|---|---:|---:|---:|---:|---:|",
           f"| `wrk -c{w['connections']}` (closed loop) | {w['requests_per_s']:,.1f} | {w['texts_per_s']:,.0f} | "
           f"{w['p50_ms']:,.0f} ms | {w['p99_ms']:,.0f} ms | {w['errors']} |"]
    for c in v["curve"]:
        client = "`hey`, paced" if c.get("client") == "hey" else "open loop (Python)"
        out.append(f"| {client}, {c['offered_requests_per_s']:,.1f} requests/s offered ({c['share_of_max']:.0%} of "
                   f"max) | {c['answered_per_s']:,.1f} | {c['texts_per_s']:,.0f} | {c['p50_ms']:,.0f} ms | "
                   f"{c['p99_ms']:,.0f} ms | {c['errors']} |")
    out += ["", "| ratio | value | target |", "|---|---:|---|"]
    for r in d["ratios"]:
        if r["part"] == "serve":
            out.append(f"| {r['what']} | {r['value']:,.2f} | {r['target']}: {'met' if r['ok'] else 'missed'} |")
    if w.get("texts_per_model_call"):
        out += ["", f"Under `wrk` the micro-batcher scored {w['texts_per_model_call']:.1f} texts per model call on "
                    f"average (the server's `rnnlab_batch_size` histogram; `Run.predict` scores batches of up to "
                    f"1,024)."]
    prof = v.get("profile")
    if prof and "error" not in prof:
        out += ["", f"Where the server's CPU goes under `wrk` (py-spy on the server and its workers for "
                    f"{prof['seconds']:g} s, {prof['samples']:,} on-CPU samples, each in the group of the innermost "
                    f"code it is in):", "", "| code | share of the samples |", "|---|---:|"]
        out += [f"| {group} | {share:.0%} |" for group, share in prof["shares"].items()]
    return "\n".join(out) + "\n"


SERVE_PARSERS = {  # bench/run.py --only serve, one run per HTTP parser and event loop, one after the other
    "h11, asyncio": ROOT / "bench" / "results" / "2026-12-02-vm-2cpu-serve-h11.json",
    "httptools, uvloop (the default)": ROOT / "bench" / "results" / "2026-12-02-vm-2cpu-serve-httptools.json",
}


SERVE_WAIT = {  # bench/run.py --only serve, the batcher's wait 5 ms (the old default) and 1 ms, one after the other
    "5 ms": ROOT / "bench" / "results" / "2026-12-02-amd-2cpu-serve-wait5.json",
    "1 ms (the default)": ROOT / "bench" / "results" / "2026-12-02-amd-2cpu-serve-wait1.json",
}


def render_serve_parsers(paths: dict[str, Path] | None = None, label: str = "parser, loop") -> str:
    """One row per ``bench/run.py --only serve`` run of ``paths`` (default ``SERVE_PARSERS``): the
    same model and load, one server option changed (``label`` names it); the profile's shares of
    HTTP parsing and the event loop."""
    paths = paths or SERVE_PARSERS
    runs = {label: json.loads(path.read_text(encoding="utf-8")) for label, path in paths.items()}

    def share(d: dict, prefix: str) -> str:
        shares = (d["serve"].get("profile") or {}).get("shares") or {}
        got = [v for k, v in shares.items() if k.startswith(prefix)]
        return f"{got[0]:.0%}" if got else "not profiled"

    out = [f"| {label} | `wrk -c64` requests/s | texts/s | p99 | `Run.predict` texts rows/s | serve / "
           "`Run.predict` | p99 at half the max rate | server CPU: HTTP parsing / event loop | load average "
           "(1 min) start → end |", "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for label, d in runs.items():
        v = d["serve"]
        w, ratios = v["wrk"], {r["what"]: r["value"] for r in d["ratios"] if r["part"] == "serve"}
        out.append(f"| {label} | {w['requests_per_s']:,.1f} | {w['texts_per_s']:,.0f} | {w['p99_ms']:,.0f} ms | "
                   f"{v['predict']['texts_rows_per_s']:,.0f} | {ratios['serve texts/s / Run.predict texts']:.2f} | "
                   f"{ratios['p99 ms at half the max rate']:.0f} ms | {share(d, 'HTTP parsing')} / "
                   f"{share(d, 'event loop')} | {v['load_average_start'][0]:.1f} → {v['load_average_end'][0]:.1f} |")
    first = next(iter(runs.values()))
    m = first["machine"]
    cpu = m.get("cpu_model") or m.get("processor") or "its CPU"
    out += ["", f"Run one after the other ({first['date'][:10]}, {m['cpus']} CPUs, {cpu}); rendered from "
                + ", ".join(f"`{path.relative_to(ROOT)}`" for path in paths.values()) + ". Commands: "
                + "; ".join(f"{label}: `{d['command'].split(' --out ')[0]}`" for label, d in runs.items()) + "."]
    return "\n".join(out) + "\n"


SUITE_RESULTS = ROOT / "bench" / "results" / "2026-12-03-amd-2cpu-suite-b.json"  # the full --suite cpu run
QUALITY_RESULTS = SUITE_RESULTS  # the quality part, its 4 paths (three seeds since 2026-12-02)
MEM_TARGET_MB = 2048  # issue 13's predecessor: M3 at Jigsaw scale in at most 2 GB


def scorecard(path: Path) -> list[dict]:
    """Every target a ``bench/run.py`` results file checks, as rows of (check, measured, target, ok):
    the training speed-ups against Keras, the tokenizer, the quality of each fast path, the peak RSS
    of M3 at scale, int8, the thread policy under contention and the serve ratios."""
    d = json.loads(path.read_text(encoding="utf-8"))
    engines = dict(ENGINES)
    rows = []
    for r in d["ratios"]:
        part = r["part"]
        if part in ("m1", "m2", "m3") and "target" in r:
            speed = r["speedup"]
            shown = f"{speed:.2f}x faster" if speed >= 1 else f"{1 / speed:.2f}x slower"
            rows.append({"check": f"{part.upper()} training vs {engines[r['vs']]}", "measured": shown,
                         "target": r["target"].replace(">= 1x", "at least as fast"), "ok": r["ok"]})
        elif part == "tok" and "target" in r:
            rows.append({"check": "tokenizer fit + transform vs Keras 2", "measured":
                         f"{r['speedup']:.1f}x faster, identical output: {'yes' if r['identical'] else 'NO'}",
                         "target": r["target"], "ok": r["ok"]})
        elif part == "quality" and "target" in r:
            diff = r.get("difference")
            rows.append({"check": f"validation mean AUC, {r['variant']}",
                         "measured": f"{_f(r.get('val_auc'))} ({'n/a' if diff is None else f'{diff:+.4f}'})",
                         "target": f"within ±{r['target'].split('<=')[-1].strip()}", "ok": r["ok"]})
        elif part == "mem" and r.get("peak_rss_mb") is not None:
            rows.append({"check": f"M3 peak RSS, {r['docs']:,} documents", "measured": f"{r['peak_rss_mb']:,.0f} MB",
                         "target": f"<= {MEM_TARGET_MB:,} MB", "ok": r["peak_rss_mb"] <= MEM_TARGET_MB})
        elif part.startswith("int8/"):
            change = r.get("auc_change")
            rows.append({"check": f"int8 {part[5:].upper()}: mean AUC change (speed {_f(r.get('speedup'), 2)}x)",
                         "measured": "n/a" if change is None else f"{change:+.4f}",
                         "target": f"within ±{r['target_auc_change']}", "ok": r["ok"]})
        elif part.startswith("contention/"):
            m, what = part.split("/")[1].upper(), r["what"]
            rows.append({"check": f"{m} {what}, 1 busy loop: auto / best fixed choice",
                         "measured": f"{r['auto_vs_best_fixed']:.2f}", "target": f"<= {r['target_vs_best']:g}",
                         "ok": r["ok_vs_best"]})
            rows.append({"check": f"{m} {what}, 1 busy loop: auto / its own idle figure",
                         "measured": f"{r['auto_vs_own_idle']:.2f}", "target": f"<= {r['target_vs_idle']:g}",
                         "ok": r["ok_vs_idle"]})
        elif part == "serve":
            value = r["value"]
            shown = (f"{value:,.0f}" if r["what"] == "errors" else f"{value:,.0f} ms" if "ms" in r["what"]
                     else f"{value:,.2f}")
            rows.append({"check": f"serve: {r['what'].replace(' ms', '')}", "measured": shown,
                         "target": r["target"] + (" ms" if "ms" in r["what"] else ""), "ok": r["ok"]})
    return rows


def render_scorecard(path: Path | None = None) -> str:
    """One table of every target a ``bench/run.py`` run checks, with what it measured and met / missed."""
    path = path or SUITE_RESULTS
    d = json.loads(path.read_text(encoding="utf-8"))
    load = next((n for n in d.get("notes", []) if n.startswith("load average")), "load not recorded")
    rows = scorecard(path)
    out = [f"`{d['command']}` ({d['date'][:10]}, {d['machine']['cpus']} cores, {d['machine']['platform']}; {load}; "
           f"wall time {_minutes(d['wall_seconds'])}; rendered from `{path.relative_to(ROOT)}`):", "",
           "| check | measured | target | |", "|---|---:|---|---|"]
    out += [f"| {r['check']} | {r['measured']} | {r['target']} | {'met' if r['ok'] else '**missed**'} |" for r in rows]
    missed = [r for r in rows if not r["ok"]]
    out += ["", f"{len(rows) - len(missed)} of the {len(rows)} targets met"
            + (f"; missed: {', '.join(r['check'] for r in missed)}." if missed else ".")]
    return "\n".join(out) + "\n"


SEARCH_RESULTS = ROOT / "bench" / "results" / "2026-12-02-vm-search-pruning-min3.json"
SEARCH_BASE_RESULTS = ROOT / "bench" / "results" / "2026-12-02-vm-search-pruning-base.json"  # start_from_base


def render_search_pruning(path: Path | None = None) -> str:
    """The pruned and unpruned searches of ``bench/search_pruning.py`` side by side, the base config
    trained once when the file has it, and ``jigsaw-strong`` on the same split (docs/presets.md). A
    run taken from an earlier file of the same search (``source``) says so, with its own overrides."""
    path = path or SEARCH_RESULTS
    d = json.loads(path.read_text(encoding="utf-8"))
    m = d["machine"] if isinstance(d["machine"], dict) else {"name": d["machine"]}
    where = f"{m['cores']} cores ({m['cpu_model']})" if m.get("cores") else f"machine {m['name']!r}"

    def command(overrides: list[str]) -> str:
        return (f"`python bench/search_pruning.py {d['config']} " + " ".join(f"--set {o}" for o in overrides)
                + f" --threads {d['threads']}`")

    out = [f"{command(d['overrides'])} ({d['n_trials']} {d['mode'].upper()} trials of at most {d['epochs']} "
           f"epochs; rendered from `{path.relative_to(ROOT)}`, {d['date']}, {where}):", "",
           "| search | wall time | epochs trained | trials completed / pruned | best val mean ROC AUC | "
           "load average (1 min) before → after |", "|---|---:|---:|---:|---:|---|"]

    def name(label: str, r: dict) -> str:
        return r.get("label") or ("no pruning" if label == "none" else label.capitalize() + " pruning")

    def opening(label: str, r: dict) -> str:  # the name, capitalized, starting a sentence
        return name(label, r)[:1].upper() + name(label, r)[1:]

    for label, r in d["runs"].items():
        load = r.get("load_average") or {}
        loads = (f"{load['before'][0]:.1f} → {load['after'][0]:.1f}" if load.get("before") and load.get("after")
                 else "not recorded")
        out.append(f"| {name(label, r)} | {_minutes(r['seconds'])} | {r['epochs_trained']} | {r['ok']} / "
                   f"{r['pruned']} | {_f(r['best_value'])} | {loads} |")
    if d.get("reference"):
        out.append(f"| the base config trained once (no search) | {_minutes(d['reference']['seconds'])} | | | "
                   f"{_f(d['reference']['val_auc'])} | |")
    for label, r in d["runs"].items():
        if r.get("base_value") is not None:
            out += ["", f"{opening(label, r)}: its first trial, the base config "
                        f"itself, scored {r['base_value']:.4f}; "
                        f"the search's best is {r['best_value'] - r['base_value']:+.4f} from it."]

    def against(value: float) -> str:
        return " ".join(f"{opening(label, r)}: best trial "
                        f"{'at or above' if r['best_value'] >= value else 'below'} it ({r['best_value'] - value:+.5f})."
                        for label, r in d["runs"].items() if r.get("best_value") is not None)

    pre = d.get("preset")
    if pre:
        out += ["", f"`{pre['name']}` trained once by the same script (`--preset {pre['name']}`), on the same "
                    f"machine, data and split with the same threads ({pre['threads']}): {pre['val_auc']:.5f}, best "
                    f"epoch {pre['best_epoch']}. " + against(pre["val_auc"])]
    trial = _read("presets-jigsaw")["results"]["trials"]["strong"]
    strong, cpu = trial["validation"]["auc"], (trial.get("machine") or {}).get("cpu_model", "its machine")
    out += ["", f"`jigsaw-strong` on the same split in docs/presets.md: {strong:.5f} (one thread, {cpu}; the "
                f"thread count and the CPU change the last digits). " + against(strong)]

    def params(r: dict) -> str:
        return ", ".join(f"`{k}` = {v:.4g}" if isinstance(v, float) else f"`{k}` = {v}"
                         for k, v in (r["best_params"] or {}).items())

    base = d["runs"].get("none")
    if base and base["seconds"]:
        for label, r in d["runs"].items():
            if label != "none":
                out += ["", f"{name(label, r)}: {r['seconds'] / base['seconds']:.2f}x the wall time of the same "
                            f"search without pruning; its best trial: {params(r)}."]
        out += ["", f"Without pruning, the best trial: {params(base)}."]
    for label, r in d["runs"].items():
        if r.get("source"):
            how = f" (run as {command(r['overrides'])})" if r.get("overrides") is not None else ""
            out += ["", f"The \"{name(label, r)}\" row is the search recorded in `{r['source']}`{how}: `--only` "
                        f"runs one search at a time, and an unpruned search ignores `sweep.prune_after_epoch`."]
    return "\n".join(out) + "\n"


ADAM_RESULTS = ROOT / "bench" / "results" / "2026-12-02-vm-2cpu-adam-step.json"


def render_adam_step(path: Path = ADAM_RESULTS) -> str:
    """bench/adam_step.py: the one-pass Adam kernel against torch's _foreach path."""
    d = json.loads(path.read_text(encoding="utf-8"))
    rows = "; ".join(f"{r['threads']} thread{'s' if r['threads'] > 1 else ''}: {r['torch_ms']:.1f} → "
                     f"{r['kernel_ms']:.1f} ms per step ({r['ratio']:.2f}x)" for r in d["rows"])
    return (f"{d['parameters']}, median of {d['rounds']} alternating rounds of {d['steps']} steps: {rows} "
            f"(`python bench/adam_step.py`, `{path.relative_to(ROOT)}`, {_where(d)}).\n")



RENDER = {"sweep-experiments": render_sweep_experiments, "adam-step": render_adam_step,
          "readme-presets": render_readme_presets,
          "onnx": render_onnx, "calibration": render_calibration, "kaggle-scale": render_kaggle_scale,
          "demo": render_demo, "jigsaw-quickstart": render_jigsaw_quickstart, "cli-start": render_cli_start,
          "serve-predict": render_serve_predict, "serve-model": render_serve_model, "vectors": render_vectors,
          "kfold": render_kfold, "onnx-int8": render_onnx_int8, "onnx-export-output": render_onnx_export_output,
          "search-pruning": render_search_pruning, "suite": render_suite,
          "search-pruning-base": lambda: render_search_pruning(SEARCH_BASE_RESULTS),
          "serve-workers1": lambda: render_serve(ROOT / "bench" / "results" / "2026-12-02-vm-2cpu-serve-workers1.json"),
          "suite-scorecard": render_scorecard, "suite-keras": lambda: render_bench_keras(SUITE_RESULTS),
          "suite-tok": lambda: render_tok_quiet(SUITE_RESULTS),
          "suite-contention": lambda: render_contention(SUITE_RESULTS),
          "contention-spin": lambda: render_contention(ROOT / "bench" / "results" /
                                                       "2026-12-02-vm-2cpu-contention-spin.json"),
          "suite-serve": lambda: render_serve(SUITE_RESULTS),
          "serve-parsers": render_serve_parsers,
          "serve-batch-wait": lambda: render_serve_parsers(SERVE_WAIT, "`--batch-wait-ms`"),
          "serve-httptools": lambda: render_serve(SERVE_PARSERS["httptools, uvloop (the default)"]),
          "quality-seeds": render_quality_seeds}


def renderers() -> dict:
    """Block name -> render function: the fixed ones and one per trial table."""
    return {**RENDER, **{name: (lambda n=name: render_trials(n)) for name in trial_sets()}}


def measures() -> dict:
    """Set name -> measure function: the fixed ones and one per trial table."""
    return {**MEASURE, **{name: (lambda n=name, **kw: measure_trials(n, **kw)) for name in trial_sets()}}


def rendered(text: str) -> str:
    """``text`` with every marked block replaced by its render."""
    known = renderers()

    def one(m: re.Match) -> str:
        name = m.group("name")
        if name not in known:
            raise SystemExit(f"unknown figures block {name!r} (known: {', '.join(known)})")
        return m.group(1) + known[name]() + m.group(4)
    return BLOCK.sub(one, text)


def stale() -> list[str]:
    """The docs whose marked blocks differ from their render."""
    return [str(p.relative_to(ROOT)) for p in DOCS if p.read_text(encoding="utf-8") != rendered(
        p.read_text(encoding="utf-8"))]


def render_all() -> list[Path]:
    changed = []
    for p in DOCS:
        text = p.read_text(encoding="utf-8")
        new = rendered(text)
        if new != text:
            p.write_text(new, encoding="utf-8")
            changed.append(p)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    m = sub.add_parser("measure", help="rerun the commands behind a figure set and write docs/figures/<set>.json")
    m.add_argument("sets", nargs="+", choices=sorted(measures()))
    m.add_argument("--only", default=None, help="trial tables: rerun only these trials (comma-separated ids)")
    sub.add_parser("render", help="rewrite the marked blocks of README.md and docs/*.md from the JSON")
    sub.add_parser("check", help="exit 1 when a marked block differs from its render")
    a = ap.parse_args(argv)
    if a.what == "measure":
        for name in a.sets:
            if name in MEASURE:
                MEASURE[name]()
            else:
                measure_trials(name, only=a.only.split(",") if a.only else None)
        return 0
    if a.what == "render":
        for p in render_all():
            print(f"rewrote {p.relative_to(ROOT)}")
        return 0
    bad = stale()
    for p in bad:
        print(f"{p}: its figures differ from docs/figures/*.json; run python docs/figures.py render")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
