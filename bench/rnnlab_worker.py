"""One rnnlab measurement, run by bench/run.py in a fresh interpreter (the rnnlab venv).

Reads a JSON spec (argv[1]) and prints one line ``RESULT {json}``. Kinds:

- ``train``: the runner's token ids (.npz), truncated to maxlen, trained by rnnlab's own loop
  (:func:`rnnlab.train.fit.fit`, length-bucketed batches by default) after a warm-up on a few
  batches, then ``Run.predict``'s code path (:func:`~rnnlab.engine.predict_outputs`,
  batch 1024) on every row; ``threads`` is ``fit.threads`` (an int or 'auto'), ``train_rows`` /
  ``infer_rows`` bound the rows, ``infer_threads`` gives ``threads`` to the prediction as
  ``Run.predict`` does, and ``spin`` loads torch before rnnlab (libgomp's default wait policy);
- ``tok``: ``Tokenizer.fit_on_texts`` + ``encode`` on the benchmark corpus (``engine`` picks
  the vectorized default or the Python reference), with hashes comparable to the Keras worker's;
- ``int8``: the ``train`` kind's model (bounded by ``train_rows``), then its validation rows
  predicted (batch 1024) by the float32 model and by its int8 copy
  (:func:`rnnlab.use.quantize.quantize_model`), alternately, ``int8_repeats`` times each:
  rows/s of each (fastest) and the mean ROC AUC of each;
- ``quality``: ``rnnlab.train`` on a config (examples/jigsaw_lstm.toml) with overrides, reporting
  the validation mean ROC AUC;
- ``mem``: M3 trained for one epoch on the first ``docs`` documents of the synthetic corpus
  (tokenized in the same process), for the peak RSS.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from keras_worker import hash_sequences, hash_vocab, peak_rss_mb as _peak_rss_mb  # noqa: E402  (plain helpers; Keras is not imported)
from make_corpus import read_corpus  # noqa: E402


def peak_rss_mb() -> float:
    return _peak_rss_mb()


def run_tok(spec: dict) -> dict:
    from rnnlab.text import Tokenizer

    texts = read_corpus(spec["corpus"], spec.get("docs"))
    tok = Tokenizer()
    tok.engine = spec.get("engine", "auto")
    t0 = time.perf_counter()
    tok.fit_on_texts(texts)
    t1 = time.perf_counter()
    seqs = tok.encode(texts)
    t2 = time.perf_counter()
    again = tok.encode(texts)  # the split words kept by fit are used up: this one splits again
    t3 = time.perf_counter()
    assert np.array_equal(again.flat, seqs.flat) and np.array_equal(again.offsets, seqs.offsets)
    return {"fit_s": t1 - t0, "transform_s": t2 - t1, "seconds": t2 - t0, "docs": len(texts),
            "transform_resplit_s": t3 - t2, "seconds_resplit": (t1 - t0) + (t3 - t2),
            "tokens": int(seqs.offsets[-1]), "vocabulary": len(tok.word_index),
            "vocab_hash": hash_vocab(tok.word_index), "seq_hash": hash_sequences(seqs.flat, seqs.offsets)}


def config_for(spec: dict, epochs: int, bucketing: bool = True):
    """The rnnlab config of a benchmark model (same layers, optimizer and batch as Keras's)."""
    from rnnlab.config import from_dict

    m = spec["model"]
    rnn = {"type": m["rnn"], "units": m["units"], "return_sequences": m.get("return_sequences", False),
           "bidirectional": m.get("bidirectional", False)}
    layers = [rnn]
    if m.get("pool") == "max":
        layers.append({"type": "GlobalMaxPooling1D"})
    layers.append({"type": "Dense", "units": m["outputs"], "activation": "sigmoid"})
    return from_dict({
        "seed": spec.get("seed", 0),
        "text": {"maxlen": spec["maxlen"]},
        "model": {"input": "embedding", "embedding": {"dim": m["embedding_dim"], "input_dim": m["input_dim"]},
                  "layers": layers},
        "compile": {"optimizer": m["optimizer"], "loss": "binary_crossentropy", "metrics": ["accuracy"]},
        "fit": {"epochs": epochs, "batch_size": spec["batch_size"], "bucketing": bucketing, "verbose": "quiet",
                "device": "cpu", "threads": spec.get("threads")},
    })


def train_model(spec: dict, train, val, epochs: int, warmup: bool = True,
                profiler=None) -> tuple[dict, object, object]:
    """Train the spec's model; ``profiler`` (a torch.profiler context, optional) is entered around
    the measured fit only (not the model's construction, not the warm-up); the result then holds
    ``fit_wall_s``, the wall time inside it."""
    import torch

    from rnnlab.data.dataset import LabelSchema
    from rnnlab.models import build_model
    from rnnlab.train.fit import fit
    from rnnlab.engine import Loss
    from rnnlab.train.optimizers import make_optimizer
    from rnnlab.train.progress import Reporter

    m = spec["model"]
    k = m["outputs"]
    schema = LabelSchema("multilabel", [f"label_{i}" for i in range(k)]) if k > 1 else LabelSchema("binary", ["label"])
    cfg = config_for(spec, epochs)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, vocab_size=m["input_dim"], maxlen=spec["maxlen"])
    loss = Loss("binary_crossentropy", k, schema.task)
    opt = make_optimizer(cfg.compile.optimizer, model.parameters(), None, {})
    rng = np.random.default_rng(cfg.seed)
    device = torch.device("cpu")
    rep = Reporter("quiet")
    seqs, y = train
    warm_s = 0.0
    if warmup:  # a few batches, as on the Keras side
        bs = spec["batch_size"]
        n = len(seqs)
        idx = np.arange(min(n, 3 * bs + n % bs))
        t0 = time.perf_counter()
        fit(model, loss, opt, config_for(spec, 1), schema, (seqs.take(idx), y[idx]), val, rep, device,
            lambda *a: None, rng)
        warm_s = time.perf_counter() - t0
    with profiler if profiler is not None else contextlib.nullcontext():
        t0 = time.perf_counter()
        result = fit(model, loss, opt, cfg, schema, train, val, rep, device, lambda *a: None, rng)
        fit_wall = time.perf_counter() - t0
    times = [h["train_seconds"] for h in result.history]
    return {"epoch_times": times, "warmup_s": warm_s, "final_loss": result.history[-1]["loss"],
            "thread_policy": result.threads, "fit_wall_s": fit_wall}, model, cfg


def run_train(spec: dict) -> dict:
    from rnnlab.text.sequences import Sequences
    from rnnlab.engine import predict_outputs

    import torch

    data = np.load(spec["data"])
    maxlen, bs = spec["maxlen"], spec["batch_size"]
    tr = Sequences(data["train_flat"], data["train_offsets"]).truncate(maxlen)
    va = Sequences(data["val_flat"], data["val_offsets"]).truncate(maxlen)
    y_tr, y_va = data["y_train"], data["y_val"]
    if spec.get("train_rows"):  # a bounded number of batches (the contention part)
        keep = np.arange(min(len(tr), int(spec["train_rows"])))
        tr, y_tr = tr.take(keep), y_tr[keep]
    small_val = (va.take(np.arange(min(len(va), 256))), y_va[:256])  # fit validates every epoch: keep it small
    out, model, cfg = train_model(spec, (tr, y_tr), small_val, spec["epochs"])
    all_seqs = Sequences(np.concatenate([tr.flat, va.flat]),
                         np.concatenate([tr.offsets, tr.offsets[-1] + va.offsets[1:]]))
    if spec.get("infer_rows"):
        all_seqs = all_seqs.take(np.arange(min(len(all_seqs), int(spec["infer_rows"]))))
    m = len(all_seqs)
    threads = spec.get("threads") if spec.get("infer_threads") else None  # Run.predict's fit.threads
    # Run.predict's code path: predict_outputs with bucketing, batch 1024
    kp = min(m, 1024 + m % 1024)
    predict_outputs(model, all_seqs.take(np.arange(kp)), 1024, "pre", None, torch.device("cpu"), True, maxlen=maxlen,
                    threads=threads)
    t0 = time.perf_counter()
    predict_outputs(model, all_seqs, 1024, cfg.text.padding, None, torch.device("cpu"), True, maxlen=maxlen,
                    threads=threads)
    infer = time.perf_counter() - t0
    steps = -(-len(tr) // bs)
    epoch_s = float(np.median(out["epoch_times"]))
    return {**out, "epoch_s": epoch_s, "steps": steps, "ms_per_step": 1000 * epoch_s / steps, "infer_rows": m,
            "infer_s": infer, "rows_per_s": m / infer, "threads": torch.get_num_threads()}


def run_profile(spec: dict) -> dict:
    """Where a training step's time goes: ``train_model`` on ``spec['steps']`` batches once to warm
    up, then once more with its fit under torch.profiler (CPU). Returns the wall time of that fit
    (one epoch and a validation of 64 rows), the self time of every torch op together (the rest
    is Python and NumPy; the fused recurrence is inside its autograd op) and the ops with the
    most self time."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from rnnlab.text.sequences import Sequences

    data = np.load(spec["data"])
    maxlen, bs, steps = spec["maxlen"], spec["batch_size"], int(spec["steps"])
    tr = Sequences(data["train_flat"], data["train_offsets"]).truncate(maxlen)
    keep = np.arange(min(len(tr), steps * bs))
    tr, y = tr.take(keep), data["y_train"][keep]
    val = (tr.take(np.arange(min(len(tr), 64))), y[:64])
    train_model(spec, (tr, y), val, 1)
    prof = profile(activities=[ProfilerActivity.CPU])
    out, _, _ = train_model(spec, (tr, y), val, 1, warmup=False, profiler=prof)
    wall = out["fit_wall_s"]
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    ops_self = sum(e.self_cpu_time_total for e in events) / 1e6
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:int(spec.get("top", 10))]
    return {"steps": -(-len(keep) // bs), "profiled_s": wall, "epoch_s": out["epoch_times"][0], "ops_self_s": ops_self,
            "threads": torch.get_num_threads(),
            "top": [{"op": e.key, "self_s": e.self_cpu_time_total / 1e6, "calls": e.count} for e in top]}


def run_int8(spec: dict) -> dict:
    import torch

    from rnnlab.data.dataset import LabelSchema
    from rnnlab.engine import predict_outputs
    from rnnlab.engine.metrics import compute_metrics
    from rnnlab.text.sequences import Sequences
    from rnnlab.use.quantize import quantize_model, quantized_layers

    data = np.load(spec["data"])
    maxlen = spec["maxlen"]
    tr = Sequences(data["train_flat"], data["train_offsets"]).truncate(maxlen)
    va = Sequences(data["val_flat"], data["val_offsets"]).truncate(maxlen)
    y_tr, y_va = data["y_train"], data["y_val"]
    if spec.get("train_rows"):
        keep = np.arange(min(len(tr), int(spec["train_rows"])))
        tr, y_tr = tr.take(keep), y_tr[keep]
    out, model, cfg = train_model(spec, (tr, y_tr), (va.take(np.arange(min(len(va), 256))), y_va[:256]),
                                  spec["epochs"])
    model.eval()
    q = quantize_model(model)
    k = spec["model"]["outputs"]
    schema = LabelSchema("multilabel", [f"label_{i}" for i in range(k)]) if k > 1 else LabelSchema("binary", ["label"])
    cpu = torch.device("cpu")
    res, best = {}, {}
    for _ in range(spec.get("int8_repeats", 3)):
        for name, m in (("fp32", model), ("int8", q)):
            t0 = time.perf_counter()
            o, _ = predict_outputs(m, va, 1024, cfg.text.padding, None, cpu, True, maxlen=maxlen)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
            res[name] = o
    auc = {name: compute_metrics(schema, y_va, o)["auc"] for name, o in res.items()}
    return {"epoch_s": float(np.median(out["epoch_times"])), "val_rows": len(va),
            "rows_per_s_fp32": len(va) / best["fp32"], "rows_per_s_int8": len(va) / best["int8"],
            "speedup": best["fp32"] / best["int8"], "auc_fp32": auc["fp32"], "auc_int8": auc["int8"],
            "auc_change": auc["int8"] - auc["fp32"], "max_abs_diff": float(np.abs(res["fp32"] - res["int8"]).max()),
            "quantized_layers": quantized_layers(q)}


def omp_state() -> dict:
    """The OpenMP wait policy that applies in this process (rnnlab._omp's record)."""
    from rnnlab import _omp

    return dict(_omp.STATE)


def run_quality(spec: dict) -> dict:
    import rnnlab

    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f"data.path={spec['data_path']}", f"fit.bucketing={str(spec['bucketing']).lower()}",
                     f"runs_dir={tmp}"] + list(spec.get("overrides", []))
        if spec.get("threads"):
            overrides.append(f"fit.threads={spec['threads']}")  # an int or 'auto'
        t0 = time.perf_counter()
        run = rnnlab.train(spec["config"], overrides, run_dir=Path(tmp) / "run", verbose="quiet")
        secs = time.perf_counter() - t0
        metrics = json.loads((run.dir / "metrics.json").read_text())
        hist = run.history
    v = metrics["validation"]
    return {"val_auc": v.get("auc"), "val_loss": v.get("loss"), "epochs_run": metrics["epochs_run"],
            "best_epoch": metrics["best_epoch"], "seconds": secs,
            "train_s_per_epoch": float(np.median([h["train_seconds"] for h in hist])) if hist else None}


def run_mem(spec: dict) -> dict:
    from rnnlab.text import Tokenizer

    t0 = time.perf_counter()
    texts = read_corpus(spec["corpus"], spec["docs"])
    rng = np.random.default_rng(0)
    y = (rng.random((len(texts), spec["model"]["outputs"])) < 0.1).astype(np.float32)
    tok = Tokenizer(num_words=spec["model"]["input_dim"]).fit_on_texts(texts)
    seqs = tok.encode(texts).truncate(spec["maxlen"])
    del texts
    tok_s = time.perf_counter() - t0
    n_val = min(256, len(seqs) // 10)
    val = (seqs.take(np.arange(n_val)), y[:n_val])
    out, _, _ = train_model(spec, (seqs, y), val, spec["epochs"], warmup=False)
    return {**out, "docs": len(seqs), "tokenize_s": tok_s, "epoch_s": float(np.median(out["epoch_times"])),
            "steps": -(-len(seqs) // spec["batch_size"])}


def versions() -> dict:
    import pyarrow
    import torch

    import rnnlab

    return {"python": sys.version.split()[0], "rnnlab": rnnlab.__version__, "torch": torch.__version__,
            "numpy": np.__version__, "pyarrow": pyarrow.__version__}


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    kinds = {"tok": run_tok, "train": run_train, "quality": run_quality, "mem": run_mem, "int8": run_int8,
             "profile": run_profile}
    if spec.get("spin"):  # torch before rnnlab: libgomp keeps its default (spinning) wait policy
        import torch  # noqa: F401
    import rnnlab  # noqa: F401  (sets OMP_WAIT_POLICY=PASSIVE before torch loads, as the CLI does)

    if spec.get("threads") and spec["threads"] != "auto":  # fit.threads: torch's intra-op threads
        import torch

        torch.set_num_threads(int(spec["threads"]))
    if spec["kind"] not in kinds:
        print(f"rnnlab_worker: unknown kind {spec['kind']!r}", file=sys.stderr)
        return 2
    result = kinds[spec["kind"]](spec)
    result["peak_rss_mb"] = peak_rss_mb()
    result["omp"] = omp_state()
    result["versions"] = versions()
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
