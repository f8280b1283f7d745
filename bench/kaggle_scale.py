"""Epoch time and peak RSS of a preset at the full Kaggle Jigsaw train size (159,571 rows),
ESTIMATED on the synthetic corpus of bench/make_corpus.py.

    python bench/kaggle_scale.py                                # jigsaw-strong, 159,571 rows, 300 batches
    python bench/kaggle_scale.py --preset imdb-strong --set text.maxlen=300 --batches 100
    python bench/kaggle_scale.py --rows 20000 --batches 20 --threads 1   # a smoke run

In one process, with rnnlab's own functions and the preset's config (``--set`` overrides applied):

1. the first ``--rows`` documents of the corpus get 6 synthetic labels (~10% positive each, seeded)
   and are split as ``rnnlab train`` splits them (``data.validation_split``, ``data.split_seed``,
   ``data.stratify``); the tokenizer is fitted and both sides encoded as training does
   (:func:`rnnlab.train.prepare.tokenize_splits`, the preset's ``text.*``): MEASURED;
2. the preset's pretrained vectors (``model.embedding.pretrained``), if it names any, are loaded
   for that vocabulary (:func:`rnnlab.models.pretrained.load_vectors`): MEASURED. The synthetic
   words are made up (the few found are short letter strings that happen to be tokens of the
   source), so the coverage says nothing about real data: the point is time and memory;
3. the model is built exactly as training builds it (``resolve``, ``build``, class weights,
   ``Loss``, ``make_optimizer``, the preset's device) and trained by
   :func:`rnnlab.train.fit.fit` for one epoch over ``--batches`` x ``batch_size`` training rows
   drawn at random from the full training split (so the length-bucketed batches have the real
   length mix), after a 2-batch warm-up: MEASURED seconds per batch. The epoch time is an
   ESTIMATE: seconds per batch x the batches of a full epoch (ceil(training rows / batch_size));
4. the epoch-end validation (``predict_outputs`` + ``compute_metrics``, as ``fit`` runs them)
   on every validation row (or ``--val-rows`` of them, extrapolated linearly): MEASURED;
5. the peak RSS of the whole process (VmHWM, bench's ``peak_rss_mb``) after all of it.

Not included: reading Kaggle's CSV (pandas) and writing the run folder. Prints a table and
writes ``bench/results/<date>-kaggle-scale-<preset>.json`` (runs on fewer than 159,571 rows
write only with ``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_corpus  # noqa: E402
from rnnlab_worker import peak_rss_mb, versions  # noqa: E402  (bench's helpers)
from keras_worker import status_mb  # noqa: E402  (plain helpers; Keras is not imported)
from run import BenchError, machine_name, run_script, save_results  # noqa: E402

FULL_ROWS = 159_571  # Kaggle Jigsaw train.csv
LABELS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
POSITIVE_RATE = 0.10
WARMUP_BATCHES = 2


def rss_mb() -> float:
    """Current RSS of this process (VmRSS), MB."""
    return status_mb("VmRSS")


def synthetic_labels(n: int, seed: int = 0) -> np.ndarray:
    """(n, 6) float32 0/1 targets, each label ~10% positive (independent of the texts)."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, len(LABELS))) < POSITIVE_RATE).astype(np.float32)


def _stage(stages: dict, name: str, seconds: float) -> None:
    stages[name] = {"seconds": seconds, "rss_mb": rss_mb(), "peak_rss_mb": peak_rss_mb()}


def load_preset(preset: str, overrides=()):
    """The preset's config with the overrides; checks it is a recurrent network and that its
    pretrained vectors (if any) are installed, before any work."""
    from rnnlab.config import load_config, preset_path
    from rnnlab.models.pretrained import require_vectors

    cfg = load_config(preset_path(preset), list(overrides))
    if cfg.model.type != "rnn":
        raise BenchError(f"preset {preset!r} trains a linear baseline (model.type = {cfg.model.type!r}); this "
                         f"benchmark times recurrent networks")
    if cfg.model.embedding.pretrained:
        require_vectors(cfg.model.embedding.pretrained)  # a missing package: one line
    return cfg


def measure(texts: list[str], preset: str = "jigsaw-strong", overrides: list[str] | tuple = (), batches: int = 300,
            threads: int | None = None, val_rows: int | None = None, seed: int = 0, log=None) -> dict:
    """Measure and estimate one preset on ``texts`` (all of them are the data set).

    Args:
        texts: the documents (e.g. the first 159,571 of the synthetic corpus).
        preset: a bundled preset's name (``rnnlab train --preset``).
        overrides: ``--set`` strings applied to the preset.
        batches: training batches to time (the training rows drawn: ``batches`` x batch_size).
        threads: torch threads; default None = ``fit.threads`` ('auto': chosen by the training loop).
        val_rows: validation rows to time (extrapolated to all of them); default None = all.
        seed: the seed of the labels and of the row sample.
        log: ``log(str)`` for progress lines; default None = silent.

    Returns:
        A JSON-ready dict: ``measured`` (what was timed), ``estimated`` (full-epoch figures),
        ``stages`` (seconds, RSS and peak RSS after each step), ``peak_rss_mb``, sizes.

    Raises:
        BenchError: a preset that is not a recurrent network, or too few rows.
        rnnlab.errors.ConfigError: an unknown preset or a bad override; vectors not installed.
    """
    import torch

    from rnnlab.data import Splits
    from rnnlab.data.dataset import LabelSchema, TextDataset
    from rnnlab.data.split import split
    from rnnlab.engine import Loss, compute_metrics, predict_outputs
    from rnnlab.models.pretrained import coverage, load_vectors, source_record
    from rnnlab.train.class_weights import resolve_class_weight
    from rnnlab.train.fit import fit
    from rnnlab.train.optimizers import make_optimizer
    from rnnlab.train.prepare import build, device_for, resolve, tokenize_splits, vocab_size_of
    from rnnlab.train.progress import Reporter

    say = log or (lambda s: None)
    if batches < 1:
        raise BenchError(f"batches must be >= 1, got {batches}")
    cfg = load_preset(preset, overrides)
    emb = cfg.model.embedding
    threads = threads or cfg.fit.threads  # a count, or 'auto' (the training loop chooses)
    if threads != "auto":
        torch.set_num_threads(int(threads))
    device = device_for(cfg)
    stages: dict[str, dict] = {}
    _stage(stages, "start", 0.0)

    # 1. labels, split, tokenizer (fit on text.fit_on, encode train and validation)
    n = len(texts)
    schema = LabelSchema("multilabel", list(LABELS))
    ds = TextDataset(ids=np.array([f"syn{i}" for i in range(n)], dtype=object), texts=list(texts),
                     targets=synthetic_labels(n, seed), schema=schema, source="synthetic corpus")
    split_seed = cfg.seed if cfg.data.split_seed is None else cfg.data.split_seed  # as load_splits seeds it
    train_ds, val_ds, how = split(ds, cfg.data.validation_split, split_seed, cfg.data.stratify)
    del ds
    splits = Splits(train_ds, val_ds)
    say(f"data: {n:,} documents, {len(train_ds):,} train / {len(val_ds):,} validation ({how})")
    t0 = time.perf_counter()
    tokenized = tokenize_splits(cfg, splits)
    tok_s = time.perf_counter() - t0
    _stage(stages, "tokenize", tok_s)
    tok = tokenized.tokenizer
    vocab_size = vocab_size_of(*tokenized)
    say(f"tokenize: {tok_s:.2f} s, vocabulary {len(tok.word_index):,} words, model input {vocab_size:,} ids")

    # 2. pretrained vectors
    vectors = None
    pretrained = None
    if emb.pretrained:
        t0 = time.perf_counter()
        pretrained = load_vectors(emb.pretrained, tok.word_index, emb.input_dim or vocab_size, emb.dim)
        vec_s = time.perf_counter() - t0
        _stage(stages, "vectors", vec_s)
        c = coverage(pretrained, tok.word_index, tok.word_counts)
        rec = source_record(emb.pretrained)
        vectors = {"source": emb.pretrained, "version": rec.get("version"), "seconds": vec_s, **c,
                   "note": "synthetic words: the coverage (short made-up strings that happen to be tokens of the "
                           "source) says nothing about real data; the time and memory are the point"}
        say(f"vectors: {emb.pretrained} read in {vec_s:.2f} s ({c['words_found']:,} of {c['words_considered']:,} "
            f"words found; synthetic words: the coverage means nothing)")

    # 3. the model, exactly as training builds it
    cfg = resolve(cfg, schema)
    y_train, y_val = train_ds.targets, val_ds.targets
    weights = resolve_class_weight(cfg.fit, schema, y_train, cfg.compile.loss)
    train_seqs = tokenized.train.truncate(cfg.text.maxlen, cfg.text.truncating)
    val_seqs = tokenized.validation.truncate(cfg.text.maxlen, cfg.text.truncating)
    # kept alive, as train_rnn keeps them: the split texts, the untruncated ids, the vectors
    model = build(cfg, vocab_size)
    if pretrained is not None:
        with torch.no_grad():
            model.input_layer.table.weight[torch.from_numpy(pretrained.rows)] = torch.from_numpy(pretrained.vectors)
    model = model.to(device)
    n_out = model.infos[-1].output_shape[-1]
    loss = Loss(cfg.compile.loss, n_out, schema.task, **(weights.loss_args() if weights else {}))
    optimizer = make_optimizer(cfg.compile.optimizer, model.parameters(), cfg.compile.learning_rate,
                               cfg.compile.optimizer_options)
    trainable, frozen = model.param_counts()
    _stage(stages, "model", 0.0)

    # training: one epoch over batches x batch_size rows drawn from the whole training split
    bs = cfg.fit.batch_size
    n_train, n_val = len(train_seqs), len(val_seqs)
    if n_train < 1 or n_val < 1:
        raise BenchError(f"{n:,} documents leave an empty side after the split")
    epoch_batches = math.ceil(n_train / bs)
    sample_rng = np.random.default_rng(seed + 1)
    pick = np.sort(sample_rng.choice(n_train, size=min(n_train, batches * bs), replace=False))
    sub = (train_seqs.take(pick), y_train[pick])
    tiny_val = (val_seqs.take(np.arange(min(n_val, 64))), y_val[:min(n_val, 64)])  # fit validates each epoch
    one = cfg.replace({"fit.epochs": 1, "fit.threads": threads})
    rep = Reporter("quiet")
    rng = np.random.default_rng(cfg.seed)
    warm = np.arange(min(len(pick), WARMUP_BATCHES * bs))
    t0 = time.perf_counter()
    fit(model, loss, optimizer, one, schema, (sub[0].take(warm), sub[1][warm]), tiny_val, rep, device,
        lambda *a: None, rng)
    warm_s = time.perf_counter() - t0
    result = fit(model, loss, optimizer, one, schema, sub, tiny_val, rep, device, lambda *a: None, rng)
    if result.status == "failed":
        raise BenchError(f"training failed: {result.reason}")
    train_s = float(result.history[-1]["train_seconds"])
    timed_batches = math.ceil(len(pick) / bs)
    per_batch = train_s / timed_batches
    epoch_est = per_batch * epoch_batches
    _stage(stages, "train", train_s)
    say(f"train: {timed_batches} batches of {bs} in {train_s:.2f} s ({1000 * per_batch:.1f} ms/batch); a full "
        f"epoch is {epoch_batches:,} batches: ~{epoch_est:.0f} s (estimate)")

    # 4. the epoch-end validation, as fit runs it
    f = cfg.fit
    val_bs = f.validation_batch_size or max(bs, 1024)
    width = None if f.bucketing else (cfg.text.maxlen or max(int(train_seqs.lengths.max(initial=1)), 1))
    k = n_val if val_rows is None else max(1, min(val_rows, n_val))
    vpick = np.arange(n_val) if k == n_val else np.sort(sample_rng.choice(n_val, size=k, replace=False))
    v_seqs, v_y = (val_seqs, y_val) if k == n_val else (val_seqs.take(vpick), y_val[vpick])
    t0 = time.perf_counter()
    outputs, _ = predict_outputs(model, v_seqs, val_bs, cfg.text.padding, width, device, f.bucketing,
                                 loss.unweighted(), v_y, cfg.text.maxlen)
    compute_metrics(schema, v_y, outputs)
    val_s = time.perf_counter() - t0
    val_est = val_s * n_val / k
    _stage(stages, "validation", val_s)
    say(f"validation: {k:,} rows in {val_s:.2f} s" + ("" if k == n_val else f"; all {n_val:,}: ~{val_est:.1f} s"))

    lengths = train_seqs.lengths
    return {
        "preset": preset, "overrides": list(overrides), "rows": n, "train_rows": n_train, "validation_rows": n_val,
        "split": how, "labels": len(LABELS), "positive_rate": POSITIVE_RATE, "batch_size": bs,
        "maxlen": cfg.text.maxlen, "bucketing": f.bucketing, "threads": torch.get_num_threads(),
        "tokenizer_threads": os.cpu_count() or 1,  # its chunk threads: all cores, whatever fit.threads says
        "device": device.type,
        "vocabulary": len(tok.word_index), "model_vocab": vocab_size,
        "params": {"trainable": trainable, "non_trainable": frozen},
        "train_lengths": {"median": float(np.median(lengths)), "mean": float(lengths.mean()),
                          "max": int(lengths.max(initial=0))},
        "vectors": vectors,
        "measured": {"tokenize_s": tok_s, "vectors_s": vectors["seconds"] if vectors else None,
                     "warmup_batches": math.ceil(len(warm) / bs), "warmup_s": warm_s,
                     "train_batches": timed_batches, "train_rows": int(len(pick)), "train_s": train_s,
                     "sample_max_length": int(sub[0].lengths.max(initial=0)),
                     "s_per_batch": per_batch, "final_loss": result.history[-1]["loss"],
                     "validation_rows": k, "validation_s": val_s},
        "estimated": {"epoch_batches": epoch_batches, "epoch_train_s": epoch_est, "validation_s": val_est,
                      "epoch_with_validation_s": epoch_est + val_est},
        "stages": stages, "peak_rss_mb": peak_rss_mb(),
        "config": cfg.to_dict(),
    }


def format_table(r: dict) -> str:
    m, e = r["measured"], r["estimated"]
    rows = [("tokenize (fit + encode)", f"{m['tokenize_s']:.2f} s; vocabulary {r['vocabulary']:,} words, model input "
             f"{r['model_vocab']:,} ids", "measured")]
    if r["vectors"]:
        v = r["vectors"]
        rows.append((f"vectors {v['source']}", f"{v['seconds']:.2f} s; {v['words_found']:,} of "
                     f"{v['words_considered']:,} words found (synthetic words: coverage means nothing)", "measured"))
    rows.append(("training", f"{m['train_batches']:,} batches x {r['batch_size']} rows in {m['train_s']:.2f} s "
                 f"= {1000 * m['s_per_batch']:.1f} ms/batch", "measured"))
    rows.append(("  full epoch", f"{e['epoch_batches']:,} batches x {1000 * m['s_per_batch']:.1f} ms "
                 f"= {e['epoch_train_s']:.0f} s ({e['epoch_train_s'] / 60:.1f} min)", "ESTIMATE"))
    kind = "measured" if m["validation_rows"] == r["validation_rows"] else "ESTIMATE"
    rows.append(("validation (predict + metrics)", f"{r['validation_rows']:,} rows: {e['validation_s']:.2f} s"
                 + ("" if kind == "measured" else f" (timed {m['validation_rows']:,} rows: {m['validation_s']:.2f} s)"),
                 kind))
    rows.append(("  epoch + validation", f"{e['epoch_with_validation_s']:.0f} s "
                 f"({e['epoch_with_validation_s'] / 60:.1f} min)", "ESTIMATE"))
    rows.append(("peak RSS (whole process)", f"{r['peak_rss_mb']:,.0f} MB", "measured"))
    w = max(len(a) for a, _, _ in rows)
    head = (f"{r['preset']}{' ' + ' '.join('--set ' + o for o in r['overrides']) if r['overrides'] else ''}: "
            f"{r['rows']:,} rows ({r['train_rows']:,} train / {r['validation_rows']:,} validation), batch "
            f"{r['batch_size']}, maxlen {r['maxlen']}, {r['params']['trainable']:,} trainable parameters, "
            f"torch threads {r['threads']}, device {r['device']}")
    return "\n".join([head] + [f"  {a:<{w}}  {b}  [{c}]" for a, b, c in rows])


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        self.exit(2, f"bench/kaggle_scale.py: error: {message}\n")


def parse_args(argv):
    ap = Parser(description="Epoch time and peak RSS of a preset at Kaggle Jigsaw scale (see the docstring).")
    ap.add_argument("--preset", default="jigsaw-strong", help="bundled preset (default jigsaw-strong)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, as rnnlab train --set (repeatable)")
    ap.add_argument("--rows", type=int, default=FULL_ROWS, help=f"documents in all (default {FULL_ROWS:,})")
    ap.add_argument("--batches", type=int, default=300, help="training batches timed (default 300)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default: fit.threads, 'auto' unless the preset sets it)")
    ap.add_argument("--val-rows", type=int, default=None, help="validation rows timed (default: all)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the labels and the row sample (default 0)")
    ap.add_argument("--corpus-docs", type=int, default=None,
                    help=f"the corpus to read the first --rows documents of (default: the {make_corpus.N_DOCS:,}-"
                         f"document benchmark corpus, generated on first use; below {FULL_ROWS:,} rows and when it "
                         f"is not cached, a corpus of exactly --rows documents)")
    ap.add_argument("--cache", type=Path, default=None, help="corpus cache folder (default ~/.cache/rnnlab-bench)")
    ap.add_argument("--out", type=Path, default=None,
                    help="result JSON (default bench/results/<date>-kaggle-scale-<preset>.json for full-size runs; "
                         "smaller runs write only with --out)")
    a = ap.parse_args(argv)
    for name in ("rows", "batches", "threads", "val_rows", "corpus_docs"):
        v = getattr(a, name)
        if v is not None and v < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    if a.corpus_docs is not None and a.corpus_docs < a.rows:
        ap.error(f"--corpus-docs {a.corpus_docs:,} is smaller than --rows {a.rows:,}")
    return a


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = parse_args(argv)
    started = time.perf_counter()
    load_start = os.getloadavg()
    from rnnlab.errors import RnnlabError  # after the arguments: importing rnnlab takes seconds

    try:
        load_preset(a.preset, a.overrides)  # a bad preset or --set: one line before the corpus is read
    except RnnlabError as exc:
        raise BenchError(str(exc)) from None
    docs = a.corpus_docs
    if docs is None:
        full = make_corpus.corpus_path(make_corpus.N_DOCS, cache=a.cache)
        docs = make_corpus.N_DOCS if full.exists() or a.rows >= FULL_ROWS else a.rows
    path = make_corpus.corpus_path(docs, cache=a.cache)
    if not path.exists():  # generated in a child process: its memory must not count in this one's peak RSS
        cmd = [sys.executable, str(HERE / "make_corpus.py"), "--docs", str(docs)]
        if a.cache is not None:
            cmd += ["--cache", str(a.cache)]
        if subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode != 0 or not path.exists():
            raise BenchError(f"generating the corpus failed: {' '.join(cmd)}")
    t0 = time.perf_counter()
    texts = make_corpus.read_corpus(path, a.rows)
    read_s = time.perf_counter() - t0
    if len(texts) < a.rows:
        raise BenchError(f"the corpus {path} has {len(texts):,} documents, fewer than --rows {a.rows:,}")
    print(f"corpus: first {a.rows:,} of {path} (read in {read_s:.1f} s)", flush=True)
    try:
        r = measure(texts, a.preset, a.overrides, a.batches, a.threads, a.val_rows, a.seed,
                    log=lambda s: print(s, flush=True))
    except RnnlabError as exc:  # an unknown preset, a bad --set, vectors not installed
        raise BenchError(str(exc)) from None
    del texts
    load_end = os.getloadavg()
    total = time.perf_counter() - started
    print()
    print(format_table(r))
    print(f"\nload average (1 min) {load_start[0]:.1f} at start, {load_end[0]:.1f} at end on {os.cpu_count()} CPUs; "
          f"wall time {total:.0f} s")
    doc = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "command": "python bench/kaggle_scale.py " + " ".join(argv),
           "machine": {"name": machine_name(), "cpus": os.cpu_count(), "platform": platform.platform()},
           "versions": versions(), "corpus": {"path": str(path), "documents": docs, "read_s": read_s},
           "load_average": {"start": load_start[0], "end": load_end[0]}, "wall_seconds": total, **r}
    out = a.out
    if out is None and a.rows >= FULL_ROWS:
        out = HERE / "results" / f"{dt.date.today().isoformat()}-kaggle-scale-{a.preset}.json"
    save_results(doc, out)
    return 0


if __name__ == "__main__":
    run_script(main, "bench/kaggle_scale.py")
