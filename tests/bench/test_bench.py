"""bench/: the corpus generator, the runner's command line and (when a Keras interpreter is
available) a quick tokenizer comparison against the real Keras 2 Tokenizer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import make_corpus  # noqa: E402


def keras_python() -> str:
    path = os.environ.get("RNNLAB_BENCH_KERAS_PYTHON")
    if not path:
        pytest.skip("no Keras interpreter: set RNNLAB_BENCH_KERAS_PYTHON to a Python with tensorflow + keras 3 + "
                    "tf_keras")
    if not Path(path).exists():
        pytest.skip(f"no Keras interpreter: RNNLAB_BENCH_KERAS_PYTHON={path} does not exist")
    probe = subprocess.run([path, "-c", "import tf_keras, keras"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"{path} cannot import tf_keras / keras: {probe.stderr.strip().splitlines()[-1:]}")
    return path


def test_corpus_is_deterministic_and_realistic():
    a = make_corpus.make_corpus(400, seed=3)
    b = make_corpus.make_corpus(400, seed=3)
    assert a == b
    assert make_corpus.make_corpus(400, seed=4) != a
    assert len(a) == 400
    from rnnlab.text import text_to_word_sequence

    lengths = np.array([len(text_to_word_sequence(d)) for d in a])
    assert 20 <= np.median(lengths) <= 60 and lengths.max() <= 2000
    joined = "".join(a)
    assert any(c.isupper() for c in joined) and "," in joined and "\n" in joined


def test_corpus_round_trips(tmp_path):
    docs = make_corpus.make_corpus(50, seed=1)
    path = tmp_path / "c.jsonl.gz"
    make_corpus.write_corpus(docs, path)
    assert make_corpus.read_corpus(path) == docs
    assert make_corpus.read_corpus(path, limit=7) == docs[:7]


def test_the_keras_worker_does_not_import_rnnlab():
    import ast

    for name in ("keras_worker.py", "make_corpus.py"):
        tree = ast.parse((BENCH / name).read_text())
        modules = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        modules += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in modules if m.split(".")[0] == "rnnlab"], name


@pytest.mark.parametrize("args, message", [
    (["--only", "m9"], "unknown part"),
    (["--repeats", "0"], "--repeats"),
    (["--quality-seeds", "0"], "--quality-seeds must be >= 1"),
    (["--suite", "gpu"], "invalid choice"),
    (["--keras-python", "/nonexistent/python", "--only", "tok"], "does not exist"),
    (["--repeats", "x"], "invalid int"),
])
def test_bad_arguments_give_one_line(args, message):
    r = subprocess.run([sys.executable, str(BENCH / "run.py"), *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_quick_tokenizer_run_matches_keras(tmp_path):
    py = keras_python()
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, str(BENCH / "run.py"), "--quick", "--only", "tok", "--tok-docs", "2000",
                        "--cache", str(tmp_path / "cache"), "--out", str(out), "--keras-python", py],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "word_index and sequences identical: yes" in r.stdout
    doc = json.loads(out.read_text())
    keras_run, rnnlab_run = doc["results"]["tok"]["keras2-tokenizer"][0], doc["results"]["tok"]["rnnlab"][0]
    assert keras_run["vocab_hash"] == rnnlab_run["vocab_hash"] and keras_run["seq_hash"] == rnnlab_run["seq_hash"]
    assert keras_run["child_maxrss_mb"] > 0 and rnnlab_run["docs"] == 2000


def test_kaggle_scale_measures_and_extrapolates():
    import kaggle_scale

    texts = make_corpus.make_corpus(500, seed=2)
    r = kaggle_scale.measure(texts, "jigsaw-scratch", ["model.layers.1.units=8", "text.maxlen=40"], batches=3,
                             threads=1, val_rows=50)
    m, e = r["measured"], r["estimated"]
    assert r["rows"] == 500 and r["train_rows"] + r["validation_rows"] == 500 and r["validation_rows"] == 100
    assert r["threads"] == 1 and r["labels"] == 6 and r["batch_size"] == 32 and r["maxlen"] == 40
    assert m["train_batches"] == 3 and m["train_rows"] == 96 and m["validation_rows"] == 50
    assert m["tokenize_s"] > 0 and m["train_s"] > 0 and m["validation_s"] > 0 and m["vectors_s"] is None
    assert r["vocabulary"] > 100 and r["model_vocab"] == 20000 and r["vectors"] is None
    assert e["epoch_batches"] == -(-r["train_rows"] // 32)
    assert e["epoch_train_s"] == pytest.approx(m["s_per_batch"] * e["epoch_batches"])
    assert m["s_per_batch"] == pytest.approx(m["train_s"] / 3)
    assert e["validation_s"] == pytest.approx(m["validation_s"] * 100 / 50)
    assert e["epoch_with_validation_s"] == pytest.approx(e["epoch_train_s"] + e["validation_s"])
    assert r["peak_rss_mb"] > 0 and r["peak_rss_mb"] >= r["stages"]["tokenize"]["rss_mb"] > 0
    json.dumps(r)  # JSON-ready
    table = kaggle_scale.format_table(r)
    assert "ESTIMATE" in table and "peak RSS" in table


@pytest.mark.parametrize("args, message", [
    (["--rows", "0"], "--rows"),
    (["--batches", "-1"], "--batches"),
    (["--rows", "1000", "--corpus-docs", "10"], "smaller than --rows"),
])
def test_kaggle_scale_bad_arguments_give_one_line(args, message):
    r = subprocess.run([sys.executable, str(BENCH / "kaggle_scale.py"), *args], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr


def _bench_run():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_contention_is_a_part_of_the_cpu_suite():
    run = _bench_run()
    assert "contention" in run.PARTS
    assert {"contention", "int8"} <= set(run.parse_args(["--no-keras"]).parts)  # the default suite has them
    a = run.parse_args(["--only", "contention", "--no-keras"])
    assert a.parts == ["contention"] and a.contention_repeats == 1


def test_contention_report_checks_each_ratio_against_its_target():
    run = _bench_run()
    cell = lambda epoch_s, rows: {"epoch_s": epoch_s, "rows_per_s": rows, "errors": []}  # noqa: E731
    summary = {"contention": {
        "m2/0/auto": cell(1.0, 10_000), "m2/0/1": cell(1.1, 9_000), "m2/0/all": cell(0.9, 11_000),
        "m2/1/auto": cell(1.4, 8_000), "m2/1/1": cell(1.2, 8_500), "m2/1/all": cell(4.0, 1_000),
        "m2/1/all-spin": cell(20.0, 200),
    }}
    lines, table = run.report_contention(summary, {"contention": {"cores": 2}})
    train = next(r for r in table if r["part"] == "contention/m2" and r["what"] == "training")
    infer = next(r for r in table if r["part"] == "contention/m2" and r["what"] == "inference")
    assert train["auto_vs_best_fixed"] == pytest.approx(1.4 / 1.2) and train["ok_vs_best"]
    assert train["auto_vs_own_idle"] == pytest.approx(1.4) and train["ok_vs_idle"]
    assert infer["auto_vs_best_fixed"] == pytest.approx(8_500 / 8_000) and infer["ok_vs_best"]
    summary["contention"]["m2/1/auto"] = cell(3.5, 8_000)
    _, table = run.report_contention(summary, {"contention": {"cores": 2}})
    train = next(r for r in table if r["what"] == "training")
    assert not train["ok_vs_best"] and not train["ok_vs_idle"]
    assert any("MISSED" in ln for ln in run.report_contention(summary, {})[0])


def test_int8_report_checks_the_auc_change_against_its_target():
    run = _bench_run()
    summary = {"int8": {"m1": {"rows_per_s_fp32": 1000.0, "rows_per_s_int8": 1500.0, "speedup": 1.5,
                               "auc_fp32": 0.93, "auc_int8": 0.9295, "auc_change": -0.0005, "errors": []},
                        "m3": {"rows_per_s_fp32": 100.0, "rows_per_s_int8": 90.0, "speedup": 0.9,
                               "auc_fp32": 0.95, "auc_int8": 0.947, "auc_change": -0.003, "errors": []}}}
    lines, table = run.report_int8(summary)
    rows = {r["part"]: r for r in table}
    assert rows["int8/m1"]["ok"] and rows["int8/m1"]["speedup"] == 1.5
    assert not rows["int8/m3"]["ok"] and any("MISSED" in ln and "BiGRU" in ln for ln in lines)


def test_training_and_tokenizer_ratios_are_printed_against_their_targets():
    """Issue 13: bench/run.py prints every ratio against its target: M1 >= 5x Keras-TF, M2 at least
    as fast as Keras-JAX, M3 >= 3x Keras-TF, the tokenizer >= 10x Keras 2 with identical output."""
    run = _bench_run()
    args = run.parse_args(["--no-keras"])
    t = lambda s: {"epoch_s": s, "ms_per_step": s, "rows_per_s": 1.0, "child_maxrss_mb": 1.0, "errors": []}  # noqa
    summary = {"m1": {"keras-tf": t(10.0), "rnnlab": t(2.0)}, "m2": {"keras-jax": t(1.0), "rnnlab": t(2.0)},
               "m3": {"keras-tf": t(9.0), "rnnlab": t(3.0), "keras-jax": t(9.0)},
               "tok": {"keras2-tokenizer": {"seconds": 100.0, "vocab_hash": "a", "seq_hash": "b", "errors": []},
                       "rnnlab": {"seconds": 9.0, "vocab_hash": "a", "seq_hash": "b", "errors": []}}}
    text, table = run.report(summary, args, [])
    rows = {(r["part"], r["vs"]): r for r in table}
    assert rows[("m1", "keras-tf")]["ok"] and rows[("m1", "keras-tf")]["target"] == ">= 5x"
    assert not rows[("m2", "keras-jax")]["ok"] and rows[("m3", "keras-tf")]["ok"]
    assert "ok" not in rows[("m3", "keras-jax")] and rows[("tok", "keras2-tokenizer")]["ok"]
    assert "m2 vs keras-jax: epoch time x2.000 (2.0x slower), " in text and "speed-up >= 1x: MISSED" in text
    summary["tok"]["rnnlab"]["seq_hash"] = "c"  # fast but not identical
    _, table = run.report(summary, args, [])
    assert not next(r for r in table if r["part"] == "tok")["ok"]


def test_quality_checks_each_fast_path_against_the_plain_one():
    """Issue 13: bucketing, threads and the compiled kernels give the validation AUC of the plain path
    (padded batches, one thread, RNNLAB_COMPILE=off) within 0.002 on examples/jigsaw_lstm.toml."""
    run = _bench_run()
    args = run.parse_args(["--no-keras"])
    names = [v[0] for v in run.QUALITY_VARIANTS]
    aucs = dict(zip(names, [0.9270, 0.9281, 0.9295, 0.9255]))
    summary = {"quality": {n: {"val_auc": a, "epochs_run": 20, "train_s_per_epoch": 1.0, "errors": []}
                           for n, a in aucs.items()}}
    text, table = run.report(summary, args, [])
    rows = {r["variant"]: r for r in table if r["part"] == "quality"}
    assert "ok" not in rows[names[0]]
    assert rows[names[1]]["ok"] and not rows[names[2]]["ok"] and rows[names[3]]["ok"]
    assert abs(rows[names[2]]["difference"] - 0.0025) < 1e-9 and "+0.0025: MISSED" in text
    summary["quality"][names[3]] = {"errors": ["boom"]}  # a failed variant is a miss, not a pass
    _, table = run.report(summary, args, [])
    assert not next(r for r in table if r.get("variant") == names[3])["ok"]


def test_each_training_part_is_profiled_and_the_profile_is_reported():
    run = _bench_run()
    assert run.PROFILE_STEPS.keys() == set(run.TRAIN_PARTS) and not run.parse_args(["--no-keras"]).no_profile
    prof = {"steps": 10, "profiled_s": 2.0, "wall_s": 9.0, "ops_self_s": 1.5, "threads": 1, "epoch_s": 1.9,
            "top": [{"op": "aten::mm", "self_s": 0.6, "calls": 1200}, {"op": "aten::sqrt", "self_s": 0.2, "calls": 30}]}
    lines = run.report_profiles({"m3": prof, "m2": {"error": "boom"}})
    m3 = next(ln for ln in lines if ln.startswith("  m3:"))
    assert "200.0 ms/step" in m3 and "in torch ops 75%, outside them 25%" in m3
    assert "aten::mm 30% (1,200 calls), aten::sqrt 10% (30 calls)" in m3
    assert "  m2: error: boom" in lines


def test_server_samples_are_grouped_by_the_innermost_code_they_are_in():
    import serve_bench

    raw = "\n".join([
        "process 1;<module> (rnnlab/__main__.py:3);run (asyncio/base_events.py:9);_parse (h11/_readers.py:5) 30",
        "process 1;handle (rnnlab/use/serve/app.py:5);dumps (json/encoder.py:2) 10",
        "process 1;batch (rnnlab/use/serve/batcher.py:5);forward (torch/nn/modules/rnn.py:9) 40",
        "process 1;batch (rnnlab/use/serve/batcher.py:5);encode (rnnlab/text/tokenizer.py:9) 15",
        "process 1;select (selectors.py:4) 5",
        "garbage",
    ])
    got = serve_bench.group_samples(raw)
    assert got["samples"] == 100
    assert got["shares"] == {"the model (torch)": 0.4,
                             "HTTP parsing (httptools or h11, rnnlab's guarded protocol)": 0.3,
                             "tokenizing": 0.15, "JSON": 0.1, "event loop and sockets (asyncio or uvloop)": 0.05}
    assert list(got["shares"])[0] == "the model (torch)"
    line = serve_bench.profile_line(got)
    assert line.startswith("the model (torch) 40%, HTTP parsing") and line.endswith("(100 samples)")
    assert serve_bench.profile_line({"error": "py-spy is not installed"}) == "not profiled: py-spy is not installed"
