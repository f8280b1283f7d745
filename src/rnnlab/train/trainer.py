"""``rnnlab.train(config) -> Run``: the whole training pipeline.

data → text → model → fit → run folder. The resolved config (output units, activation and
loss filled in from the data) is saved in the run folder before training starts.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import __version__
from .._io import write_json, write_text
from ..config import Config, coerce_config, load_config, output_layer
from ..data import Splits, load_splits
from ..data.dataset import LabelSchema
from ..errors import ConfigError, DataError, RunError, TrainingFailed
from ..models import build_model, summary_table
from ..run import Run, save_weights, unique_run_dir, write_history, write_manifest, write_predictions
from ..text.sequences import Sequences
from ..text.stats import format_length_stats, length_stats, plot_length_histogram
from ..text.tokenizer import Tokenizer
from . import resume as resume_state
from .fit import FitState, fit
from .losses import Loss
from .metrics import compute_metrics
from .optimizers import make_optimizer
from .progress import Reporter

__all__ = ["resolve", "train"]


def resolve(cfg: Config, schema: LabelSchema) -> Config:
    """Fill what the data decides: output units (one per label / class), output activation
    (sigmoid; softmax for multi-class) and loss (binary_crossentropy; sparse categorical for
    multi-class). The config doctor judges the result."""
    cfg = dataclasses.replace(cfg)  # shallow: nested sections are edited below on copies
    cfg.model = dataclasses.replace(cfg.model, layers=[dataclasses.replace(l) for l in cfg.model.layers])
    cfg.compile = dataclasses.replace(cfg.compile)
    out = output_layer(cfg)
    multiclass = schema.task == "multiclass"
    if out.units is None:
        out.units = schema.n_outputs
    if out.activation is None:
        out.activation = "softmax" if multiclass else "sigmoid"
    if cfg.compile.loss is None:
        cfg.compile.loss = "sparse_categorical_crossentropy" if multiclass else "binary_crossentropy"
    return cfg


def vocab_size_of(tok: Tokenizer, train_seqs: Sequences, val_seqs: Sequences) -> int:
    """Input size of the model: the tokenizer's, widened to every id that occurs (imported
    vocabularies, unfitted validation words when num_words is unset)."""
    return max(tok.vocab_size, int(train_seqs.flat.max(initial=0)) + 1,
               int(val_seqs.flat.max(initial=0)) + 1 if tok.num_words is None else 0)


def consult_doctor(cfg: Config, splits: Splits, tokenized: tuple, rep: Reporter, force: bool) -> list:
    """Run the config doctor on the loaded data: errors stop training (DoctorBlocked) unless
    ``force``; warnings are printed. Returns the findings (saved in metrics.json)."""
    from ..experiments.doctor import examine, profile_from, raise_on_errors

    findings = examine(cfg, profile_from(cfg, splits, tokenized))
    for f in findings:
        if f.severity != "info" or not force:
            rep.message(f"doctor: {f.severity} [{f.rule}] {f.message} Fix: {f.fix}")
    raise_on_errors(findings, force)
    return findings


def _device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("fit.device = 'cuda' but no CUDA device is available; use 'auto' or 'cpu'.")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def tokenize_splits(cfg: Config, splits: Splits) -> tuple[Tokenizer, Sequences, Sequences, Sequences | None]:
    t = cfg.text
    train, val, test = splits.train, splits.validation, splits.test
    if train.sequences is not None:  # Keras imdb.npz: already token ids
        tok = Tokenizer.from_word_index(train.word_index or {}, num_words=t.num_words, start_index=1,
                                        oov_index=2, skip_top=cfg.data.imdb_skip_top)
        return tok, train.sequences, val.sequences, None
    tok = Tokenizer(num_words=t.num_words, filters=t.filters, lower=t.lower, split=t.split, oov_token=t.oov_token)
    fit_texts = list(train.texts)
    if t.fit_on in ("train+validation", "train+validation+test"):
        fit_texts += val.texts
    if t.fit_on == "train+validation+test":
        if test is None:
            raise ConfigError("text.fit_on = 'train+validation+test' needs data.test_path.")
        fit_texts += test.texts
    tok.fit_on_texts(fit_texts)
    return tok, tok.encode(train.texts), tok.encode(val.texts), None


def train(config: Config | str | os.PathLike | dict | None = None, overrides: list[str] | dict | None = None, *,
          run_dir: str | Path | None = None, verbose: str | None = None, reporter: Reporter | None = None,
          force: bool = False, on_epoch_end: Callable[[list[dict]], None] | None = None,
          resume: str | Path | None = None) -> Run:
    """Train the model a config describes and return its :class:`~rnnlab.run.Run`.

    Args:
        config: a :class:`Config`, a TOML path or a dict (not needed with ``resume``).
        overrides: ``--set`` style overrides, e.g. ``["fit.epochs=3"]``; default None.
        run_dir: the run folder; default None = ``runs_dir/name`` (``-2``, ``-3``… if taken).
        verbose: progress display, overrides ``fit.verbose`` ('auto', 'bar', 'line', 'quiet').
        reporter: where messages go (default: the console).
        force: train even when the config doctor finds errors (default False).
        on_epoch_end: called with the history after every epoch; may raise
            :class:`~rnnlab.train.fit.StopTraining` (sweeps use it for pruning).
        resume: a run folder whose training was interrupted (killed, Ctrl-C): continue from its
            last finished epoch with the saved optimizer, RNG and early-stopping state; the
            result equals an uninterrupted run's. Default None.

    Raises :class:`~rnnlab.errors.TrainingFailed` (after saving the run) when the loss becomes
    NaN/inf; Ctrl-C stops training and still returns a usable run (status 'interrupted').
    """
    started = time.time()
    if resume is not None:
        cfg = _resumable(Path(resume))
        run_dir, force = Path(resume), True  # the doctor already judged this config when it started
    else:
        cfg = coerce_config(config, overrides)
    rep = reporter or Reporter(verbose or cfg.fit.verbose)
    if cfg.model.type == "blend":
        raise ConfigError("model.type = 'blend' marks a folder written by `rnnlab blend`; it is not trained. "
                          "Blend trained runs with `rnnlab blend RUN RUN ...`.")
    if cfg.fit.folds > 1 and cfg.data.fold is None:
        from .folds import train_folds

        return train_folds(cfg, run_dir, rep, force=force, resume=resume is not None)
    if cfg.fit.threads:
        torch.set_num_threads(cfg.fit.threads)
    device = _device(cfg.fit.device)
    if cfg.fit.precision == "fp16" and device.type != "cuda":
        raise ConfigError(f"fit.precision = 'fp16' needs a CUDA device (this run uses {device.type}); use 'bf16' "
                          f"or 'float32' on the CPU.")

    splits = load_splits(cfg)
    schema = splits.train.schema
    for note in splits.notes:
        rep.message(f"data: {note}")
    rep.message(f"data: {len(splits.train):,} train / {len(splits.validation):,} validation rows, "
                f"{schema.task}, labels: {', '.join(schema.labels)}")
    if cfg.model.type != "rnn":
        if resume is not None:
            raise RunError("A linear baseline trains in one step; there is nothing to resume: train it again.")
        findings = consult_doctor(cfg, splits, tokenize_splits(cfg, splits), rep, force)
        return _train_baseline(cfg, splits, rep, run_dir, started, findings)

    if resume is not None:  # the saved vocabulary, exactly what the weights were trained on
        vocab = json.loads((run_dir / "vocab.json").read_text(encoding="utf-8"))
        tok = Tokenizer.from_dict(vocab["tokenizer"])
        train_seqs, val_seqs = (splits.train.sequences, splits.validation.sequences) if splits.train.texts is None \
            else (tok.encode(splits.train.texts), tok.encode(splits.validation.texts))
        vocab_size = int(vocab["vocab_size"])
    else:
        tok, train_seqs, val_seqs, _ = tokenize_splits(cfg, splits)
        vocab_size = vocab_size_of(tok, train_seqs, val_seqs)
    stats = length_stats(train_seqs.lengths, cfg.text.maxlen)
    rep.message(f"text: vocabulary {len(tok.word_index):,} words"
                + (f" (model sees {cfg.text.num_words - 1:,} + padding)" if cfg.text.num_words else "")
                + f"; train {format_length_stats(stats)}")
    pretrained, vector_coverage = None, None
    if cfg.model.embedding.pretrained and resume is None:
        pretrained, vector_coverage = _read_pretrained(cfg, tok, vocab_size, rep)
    findings = consult_doctor(cfg, splits, (tok, train_seqs, val_seqs, None), rep, force)
    cfg = resolve(cfg, schema)
    raw_lengths = train_seqs.lengths
    train_seqs = train_seqs.truncate(cfg.text.maxlen, cfg.text.truncating)
    val_seqs = val_seqs.truncate(cfg.text.maxlen, cfg.text.truncating)

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, vocab_size=vocab_size, maxlen=cfg.text.maxlen)
    if pretrained is not None:
        with torch.no_grad():  # covered rows get their vectors; the rest keep Keras's uniform init
            model.input_layer.table.weight[torch.from_numpy(pretrained.rows)] = torch.from_numpy(pretrained.vectors)
    model = model.to(device)
    n_out = model.infos[-1].output_shape[-1]
    loss = Loss(cfg.compile.loss, n_out, schema.task)
    optimizer = make_optimizer(cfg.compile.optimizer, model.parameters(), cfg.compile.learning_rate,
                               cfg.compile.optimizer_options)
    trainable, frozen = model.param_counts()
    rng = np.random.default_rng(cfg.seed)
    state = FitState.new(cfg)

    if resume is None:
        out_dir, cfg = _open_run_dir(cfg, run_dir, schema)
        write_json(out_dir / "vocab.json", {"vocab_size": vocab_size, "tokenizer": tok.to_dict()})
        plot_length_histogram(raw_lengths, out_dir / "lengths.png", cfg.text.maxlen,
                              title=f"{cfg.name}: tokens per training text")
        rep.message(f"run: {out_dir}  ({trainable:,} trainable parameters, {cfg.compile.optimizer}, "
                    f"{cfg.compile.loss}, device {device.type})")
    else:
        out_dir = run_dir
        state = resume_state.load(out_dir, model, optimizer, rng, state)
        for stale in ("manifest.json", "metrics.json"):
            (out_dir / stale).unlink(missing_ok=True)
        rep.message(f"run: {out_dir}  resumed after epoch {len(state.history)} of {cfg.fit.epochs}")
    rep.print(summary_table(model, title=cfg.name))

    def save_best(weights, epoch):
        save_weights(weights, out_dir / "checkpoints" / "best.safetensors")

    def epoch_end(st):
        write_history(out_dir / "history.csv", st.history)
        if not cfg.fit.checkpoint.save_best_only:
            save_weights(model.state_dict(), out_dir / "checkpoints" / f"epoch-{len(st.history)}.safetensors")
        resume_state.save(out_dir, model, optimizer, rng, st)
        if on_epoch_end is not None:
            on_epoch_end(st.history)

    result = fit(model, loss, optimizer, cfg, schema, (train_seqs, splits.train.targets),
                 (val_seqs, splits.validation.targets), rep, device, save_best, rng, on_epoch_end=epoch_end,
                 state=state)
    save_weights(model.state_dict(), out_dir / "model.safetensors")
    if result.status != "interrupted":
        resume_state.discard(out_dir)
    run = Run(out_dir, cfg, schema, tok, vocab_size, model=model.cpu().eval())
    try:
        outputs, val_loss = run.score(splits.validation)
        final = {"loss": val_loss, **compute_metrics(schema, splits.validation.targets, outputs)}
        write_predictions(out_dir / "validation_predictions.csv", splits.validation, outputs, schema)
    except (RuntimeError, IndexError, ValueError) as exc:
        if result.status != "failed":
            raise
        final = {"note": f"not evaluated: {str(exc).splitlines()[0]}"}
    metrics = {
        "status": result.status, "reason": result.reason, "epochs_run": len(result.history),
        "best_epoch": result.best_epoch, "best_monitor": cfg.fit.checkpoint.monitor,
        "best_value": result.best_value, "restored_best_weights": result.restored_best,
        "params": {"trainable": trainable, "non_trainable": frozen},
        "train_rows": len(splits.train), "validation_rows": len(splits.validation),
        "train_lengths": stats, "validation": final, "schema": schema.to_dict(),
        "doctor": [dataclasses.asdict(f) for f in findings],
    }
    if vector_coverage is not None:
        metrics["pretrained_vectors"] = {"path": cfg.model.embedding.pretrained, **vector_coverage}
    from .plots import plot_learning_curves

    plot_learning_curves(result.history, out_dir / "curves.png", title=cfg.name)
    _finish(out_dir, rep, metrics, result.history, started, device.type)
    if result.status == "failed":
        raise TrainingFailed(f"{result.reason} The run folder {out_dir} keeps what was trained so far.")
    return run


def _read_pretrained(cfg: Config, tok: Tokenizer, vocab_size: int, rep: Reporter):
    """Stream the configured word vectors for the vocabulary and report their coverage."""
    from ..models.pretrained import coverage, load_pretrained

    emb = cfg.model.embedding
    t0 = time.perf_counter()
    p = load_pretrained(emb.pretrained, tok.word_index, emb.input_dim or vocab_size, emb.dim)
    c = coverage(p, tok.word_index, tok.word_counts)
    rep.message(f"embedding: {c['words_found']:,} of {c['words_considered']:,} words ({c['vocabulary_share']:.1%}) "
                f"have a pretrained vector ({c['exact']:,} exact, {c['lowercase']:,} lower-case), covering "
                f"{c['token_share']:.1%} of training tokens; {c['file_words']:,} vectors of dim {p.dim} read in "
                f"{time.perf_counter() - t0:.1f}s" + ("" if emb.trainable else "; frozen"))
    return p, c


def _resumable(folder: Path) -> Config:
    """The config of a run folder that can be resumed (killed, or stopped with Ctrl-C)."""
    if not (folder / "config.toml").exists():
        raise RunError(f"'{folder}' is not a run folder (no config.toml); pass the folder of the interrupted run.")
    if (folder / "manifest.json").exists():
        status = json.loads((folder / "metrics.json").read_text()).get("status") if (folder / "metrics.json").exists() \
            else None
        if status != "interrupted":
            raise RunError(f"'{folder}' finished ({status}); there is nothing to resume.")
    return load_config(folder / "config.toml")


def _open_run_dir(cfg: Config, run_dir, schema: LabelSchema) -> tuple[Path, Config]:
    """Create the run folder (refusing a non-empty one) and write config.toml and labels.json."""
    out_dir = Path(run_dir) if run_dir else unique_run_dir(cfg.runs_dir, cfg.name or "run")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConfigError(f"The run folder '{out_dir}' already exists and is not empty; choose another "
                          f"(--out) or remove it.")
    cfg = dataclasses.replace(cfg, name=out_dir.name)
    write_text(out_dir / "config.toml", cfg.to_toml())
    write_json(out_dir / "labels.json", {"rnnlab_version": __version__, "schema": schema.to_dict()})
    return out_dir, cfg


def _finish(out_dir: Path, rep: Reporter, metrics: dict, history: list[dict], started: float, device: str) -> None:
    """Write metrics.json, run.json (versions, timings) and log.txt."""
    write_json(out_dir / "metrics.json", metrics)
    secs = [h["train_seconds"] for h in history]
    write_json(out_dir / "run.json", {
        "rnnlab_version": __version__, "torch_version": torch.__version__, "python": platform.python_version(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_seconds": round(time.time() - started, 2), "status": metrics["status"], "device": device,
        "threads": torch.get_num_threads(), "seconds_per_epoch": round(float(np.median(secs)), 3) if secs else None,
    })
    if "accuracy" in metrics["validation"]:
        rep.message(_final_line(metrics["validation"], LabelSchema.from_dict(metrics["schema"])))
    write_text(out_dir / "log.txt", "\n".join(rep.lines) + "\n")
    write_manifest(out_dir)


def _train_baseline(cfg: Config, splits: Splits, rep: Reporter, run_dir, started: float, findings: list) -> Run:
    """Fit a linear baseline (TF-IDF + logistic regression, or NB-SVM) on the same split and
    score it with the same metrics as the networks."""
    from ..models.baselines import LinearBaseline
    from ..run import probability_loss

    schema = splits.train.schema
    if splits.train.texts is None:
        raise ConfigError(f"model.type = {cfg.model.type!r} needs texts, but this dataset holds token ids "
                          f"(Keras imdb.npz); use the aclImdb files or our CSV.")
    out_dir, cfg = _open_run_dir(cfg, run_dir, schema)
    rep.message(f"run: {out_dir}  (baseline {cfg.model.type}: TF-IDF word {cfg.model.baseline.word_ngrams} + "
                f"char {cfg.model.baseline.char_ngrams} n-grams, C = {cfg.model.baseline.c:g})")
    t0 = time.perf_counter()
    model = LinearBaseline(cfg.model.type, cfg.model.baseline, seed=cfg.seed).fit(
        splits.train.texts, splits.train.targets, schema)
    fit_secs = time.perf_counter() - t0
    for note in model.notes:
        rep.message(f"baseline: {note}")
    model.save(out_dir)
    run = Run(out_dir, cfg, schema, None, 0, model=model)
    train_out = model.predict(splits.train.texts)
    train_m = compute_metrics(schema, splits.train.targets, train_out)
    outputs, val_loss = run.score(splits.validation)
    final = {"loss": val_loss, **compute_metrics(schema, splits.validation.targets, outputs)}
    write_predictions(out_dir / "validation_predictions.csv", splits.validation, outputs, schema)
    history = [{"epoch": 1, "loss": probability_loss(train_out, splits.train.targets, schema),
                "accuracy": train_m["accuracy"], "val_loss": val_loss, "val_accuracy": final["accuracy"],
                "val_majority_accuracy": final["majority_accuracy"], "val_auc": final.get("auc"),
                "seconds": round(time.perf_counter() - t0, 3), "train_seconds": round(fit_secs, 3)}]
    write_history(out_dir / "history.csv", history)
    metrics = {
        "status": "completed", "reason": "", "epochs_run": 1, "best_epoch": 1, "best_monitor": "val_loss",
        "best_value": val_loss, "restored_best_weights": False,
        "params": {"trainable": model.n_params, "non_trainable": 0},
        "train_rows": len(splits.train), "validation_rows": len(splits.validation), "validation": final,
        "schema": schema.to_dict(), "doctor": [dataclasses.asdict(f) for f in findings],
    }
    _finish(out_dir, rep, metrics, history, started, "cpu")
    return run


def _final_line(m: dict, schema: LabelSchema) -> str:
    parts = [f"validation: loss {m['loss']:.4f}" if m.get("loss") is not None else "validation:"]
    parts.append(f"accuracy {m['accuracy']:.4f} (majority {m['majority_accuracy']:.4f})")
    if m.get("auc") is not None and m["auc"] == m["auc"]:
        parts.append(f"mean ROC AUC {m['auc']:.4f}")
    if schema.task == "multiclass":
        parts.append(f"macro F1 {m['macro_f1']:.4f}")
    line = ", ".join(parts)
    if m.get("auc_per_label") and len(m["auc_per_label"]) > 1:
        line += "\n  AUC per label: " + ", ".join(f"{k} {v:.4f}" for k, v in m["auc_per_label"].items())
    return line


def model_for_summary(config: Config | str | os.PathLike | dict, overrides=None) -> tuple[object, list[str]]:
    """Build the config's model for `rnnlab summary` without training. The vocabulary size
    comes from ``model.embedding.input_dim`` or ``text.num_words``, the output size from the
    output layer's ``units`` or the dataset's labels; the data is read only when those are
    not set. Returns (model, notes about what was read)."""
    cfg = coerce_config(config, overrides)
    notes: list[str] = []
    emb = cfg.model.embedding
    if cfg.model.input == "embedding" and emb.pretrained:  # validate() read the dim from the file
        notes.append(f"embedding dim {emb.dim} from {emb.pretrained}")
    out = output_layer(cfg)
    vocab = cfg.model.embedding.input_dim if cfg.model.input == "embedding" else None
    vocab = vocab or cfg.text.num_words
    n_labels = _labels_from_config(cfg)
    splits = None
    if vocab is None or (out.units is None and n_labels is None):
        try:
            splits = load_splits(cfg)
        except Exception as exc:
            if not isinstance(exc, (ConfigError, DataError)):
                raise
            raise ConfigError(f"summary needs the vocabulary size and the number of outputs: set text.num_words "
                              f"(or model.embedding.input_dim) and the output layer's units, or point data.path at "
                              f"the data ({exc})") from None
        notes.append(f"read {cfg.data.path or 'the dataset'} to size the model")
    if splits is not None:
        schema = splits.train.schema
        cfg = resolve(cfg, schema)
        if vocab is None:
            tok, seqs, _, _ = tokenize_splits(cfg, splits)
            vocab = max(tok.vocab_size, int(seqs.flat.max(initial=0)) + 1)
            notes.append(f"vocabulary: {vocab:,} ids (fitted on the training split)")
    else:
        k = out.units or n_labels
        cfg = resolve(cfg, LabelSchema("multilabel" if k > 1 else "binary", [f"label_{i}" for i in range(k)]))
    torch.manual_seed(cfg.seed)
    return build_model(cfg.model, vocab_size=vocab, maxlen=cfg.text.maxlen), notes


def _labels_from_config(cfg: Config) -> int | None:
    d = cfg.data
    if d.dataset == "jigsaw":
        return len(d.label_columns) if d.label_columns else 6
    if d.dataset == "imdb":
        return 1
    if d.label_columns and (len(d.label_columns) > 1 or d.task == "binary" or d.positive_class):
        return len(d.label_columns) if len(d.label_columns) > 1 else 1
    if d.classes:
        return len(d.classes)
    return None
