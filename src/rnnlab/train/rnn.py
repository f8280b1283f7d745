"""Training a recurrent network: tokenize, consult the doctor, build, fit epoch by epoch into the
run folder (resumable after every epoch), then evaluate and finish the folder."""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np
import torch

from ..config import Config, is_own_vectors
from ..data import Splits
from ..data.rows import row_keys
from ..engine import Loss, compute_metrics, label_counts
from ..errors import TrainingFailed
from ..models import summary_table
from ..models.pretrained import Pretrained, coverage, load_pretrained, load_vectors, require_vectors, source_record
from ..runs import (Run, RunFolder, create, read_vocab, reopen, save_weights, write_history, write_predictions,
                    write_train_rows, write_vocab)
from ..text.stats import format_length_stats, length_stats, plot_length_histogram
from ..text.tokenizer import Tokenizer
from . import resume as resume_state
from .class_weights import announce, resolve_class_weight
from .doctor import consult
from .finish import finish_run
from .distributed import SINGLE, Group
from .fit import FitState, fit
from .optimizers import make_optimizer
from .plots import plot_learning_curves
from .prepare import Tokenized, build, resolve, tokenize_splits, vocab_size_of
from .progress import Reporter
from .track import Tracker
from .vectors import require_own_vectors, vectors_for


def train_rnn(cfg: Config, splits: Splits, rep: Reporter, run_dir, device: torch.device, started: float, *,
              force: bool = False, on_epoch_end: Callable[[list[dict]], None] | None = None,
              resume: bool = False, again: bool = False, track: dict | None = None,
              group: Group = SINGLE) -> Run:
    """Train the network ``cfg`` describes on ``splits`` into ``run_dir`` (a new folder; with
    ``resume`` the interrupted one, continued from its last saved epoch; with ``again`` an
    unfinished one with no saved epoch, trained again from the start in place; ``track``: a
    sweep's MLflow child run, :meth:`rnnlab.train.track.Tracker.start`'s ``run_id`` and ``tags``).
    ``group``: the data-parallel job this process is part of (default: none); only its rank 0
    writes the folder and tracks the run."""
    schema = splits.train.schema
    if resume:  # the saved vocabulary, exactly what the weights were trained on
        tok, vocab_size = read_vocab(RunFolder(run_dir))
        texts = splits.train.texts is not None
        tokenized = Tokenized(tok, tok.encode(splits.train.texts) if texts else splits.train.sequences,
                              tok.encode(splits.validation.texts) if texts else splits.validation.sequences)
    else:
        tokenized = tokenize_splits(cfg, splits)
        tok = tokenized.tokenizer
        vocab_size = vocab_size_of(*tokenized)
    stats = length_stats(tokenized.train.lengths, cfg.text.maxlen)
    rep.message(f"text: vocabulary {len(tok.word_index):,} words"
                + (f" (model sees {cfg.text.num_words - 1:,} + padding)" if cfg.text.num_words else "")
                + f"; train {format_length_stats(stats)}")
    pretrained, vector_coverage = None, None
    if cfg.model.embedding.pretrained and not resume:
        pretrained, vector_coverage = _read_pretrained(cfg, splits, tok, vocab_size, rep)
    findings = consult(cfg, splits, tokenized, rep, force)
    cfg = resolve(cfg, schema)
    weights = resolve_class_weight(cfg.fit, schema, splits.train.targets, cfg.compile.loss)
    if resume and weights is not None:  # the numbers the run started with, whatever the rows give now
        weights = weights.with_saved(resume_state.saved_class_weight(RunFolder(run_dir)))
    if resume and cfg.model.embedding.pretrained:  # not read again: the saved weights hold them
        vector_coverage = resume_state.saved_vectors(RunFolder(run_dir))
    announce(weights, rep)
    train_seqs = tokenized.train.truncate(cfg.text.maxlen, cfg.text.truncating)
    val_seqs = tokenized.validation.truncate(cfg.text.maxlen, cfg.text.truncating)

    model = build(cfg, vocab_size)
    if pretrained is not None:
        with torch.no_grad():  # covered rows get their vectors; the rest keep Keras's uniform init
            model.input_layer.table.weight[torch.from_numpy(pretrained.rows)] = torch.from_numpy(pretrained.vectors)
    model = model.to(device)
    n_out = model.infos[-1].output_shape[-1]
    loss = Loss(cfg.compile.loss, n_out, schema.task, **(weights.loss_args() if weights else {}))
    optimizer = make_optimizer(cfg.compile.optimizer, model.parameters(), cfg.compile.learning_rate,
                               cfg.compile.optimizer_options, cfg.compile.learning_rate_schedule)
    trainable, frozen = model.param_counts()
    rng = np.random.default_rng(cfg.seed)
    state = FitState.new(cfg)

    if not resume:
        if group.main:
            folder, cfg = create(cfg, run_dir, schema, again=again)
            write_vocab(folder, tok, vocab_size)
            write_train_rows(folder, row_keys(splits.train))
            plot_length_histogram(tokenized.train.lengths, folder.lengths, cfg.text.maxlen,
                                  title=f"{cfg.name}: tokens per training text")
        folder = RunFolder(group.broadcast(folder.path if group.main else None))
        cfg = dataclasses.replace(cfg, name=folder.name)
        ranks = f", {group.world} processes" if group.active else ""
        rep.message(f"run: {folder.path}  ({trainable:,} trainable parameters, {_optimizer_words(cfg)}, "
                    f"{cfg.compile.loss}, device {device.type}{ranks})")
    else:
        folder = RunFolder(run_dir)
        if group.main:
            reopen(folder)  # unfinished again (manifest, then metrics), leftovers removed
        group.barrier()
        state = resume_state.load(folder, model, optimizer, rng, state)
        rep.message(f"run: {folder.path}  resumed after epoch {len(state.history)} of {cfg.fit.epochs}")
    rep.print(summary_table(model, title=cfg.name))
    tracker = (Tracker.start(cfg, folder, rep, resumed=resume or again, lengths=tokenized.train.lengths,
                             **(track or {})) if group.main else Tracker(folder, rep, cfg))  # rank 0 tracks

    def save_best(weights, epoch):
        save_weights(weights, folder.best)

    def epoch_end(st):
        write_history(folder, st.history)
        if not cfg.fit.checkpoint.save_best_only:
            save_weights(model.state_dict(), folder.epoch_weights(len(st.history)))
        resume_state.save(folder, model, optimizer, rng, st, weights.to_dict() if weights else None,
                          vector_coverage)
        tracker.epoch(st.history[-1], st.validation)
        if on_epoch_end is not None:
            on_epoch_end(st.history)

    try:
        result = fit(model, loss, optimizer, cfg, schema, (train_seqs, splits.train.targets),
                     (val_seqs, splits.validation.targets), rep, device, save_best, rng, on_epoch_end=epoch_end,
                     state=state, group=group)
        if not group.main:  # rank 0 finishes the folder
            if result.status == "failed":
                raise TrainingFailed(result.reason)
            return Run(folder.path, cfg, schema, tok, vocab_size, model=model.cpu().eval())
        # finishing (runs/lifecycle.py): final weights, predictions, curves, then finish_run writes
        # metrics, run.json and the log, removes the resume state (last.json first), the manifest last
        save_weights(model.state_dict(), folder.weights)
        run = Run(folder.path, cfg, schema, tok, vocab_size, model=model.cpu().eval())
        try:
            outputs, val_loss = run.score(splits.validation)
            final = {"loss": val_loss, **compute_metrics(schema, splits.validation.targets, outputs)}
            write_predictions(folder, splits.validation.ids, splits.validation.targets, outputs, schema)
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
            "train_label_counts": label_counts(schema, splits.train.targets),
            "train_lengths": stats, "validation": final, "schema": schema.to_dict(), "data": splits.origin,
            "doctor": [dataclasses.asdict(f) for f in findings],
        }
        if weights is not None:
            metrics["class_weight"] = weights.to_dict()
        if vector_coverage is not None:
            metrics["pretrained_vectors"] = vector_coverage
        plot_learning_curves(result.history, folder.curves, title=cfg.name)
        finish_run(folder, rep, metrics, result.history, started, device.type, result.threads)
    except BaseException as exc:  # the tracked run ends too (Ctrl-C between epochs, a crash)
        tracker.abort(exc)
        raise
    tracker.end(metrics)
    if result.status == "failed":
        raise TrainingFailed(f"{result.reason} The run folder {folder.path} keeps what was trained so far.")
    return run


def _optimizer_words(cfg: Config) -> str:
    """The optimizer and how its learning rate changes, e.g. 'adam with CosineDecay'."""
    schedule, plateau = cfg.compile.learning_rate_schedule, cfg.fit.reduce_lr_on_plateau
    if schedule is not None:
        return f"{cfg.compile.optimizer} with {schedule.type}"
    return cfg.compile.optimizer + (" with ReduceLROnPlateau" if plateau.enabled else "")


def require_pretrained(cfg: Config) -> None:
    """Check, before any work, that ``model.embedding.pretrained`` can be had: a named source's
    package or gensim installed (one line naming the install command), a file or corpus present.

    Raises:
        ConfigError: what is missing.
    """
    pretrained = cfg.model.embedding.pretrained
    if cfg.model.type != "rnn" or not pretrained:
        return
    if is_own_vectors(pretrained):
        require_own_vectors(cfg)
    else:
        require_vectors(pretrained)


def _read_pretrained(cfg: Config, splits: Splits, tok: Tokenizer, vocab_size: int, rep: Reporter
                     ) -> tuple[Pretrained, dict]:
    """Read (or first train) the configured word vectors for the vocabulary and report their coverage."""
    emb = cfg.model.embedding
    n_rows = emb.input_dim or vocab_size
    own = None
    if is_own_vectors(emb.pretrained):
        own = vectors_for(cfg, splits)
        rep.message(own.summary())
    t0 = time.perf_counter()
    if own is None:
        p = load_vectors(emb.pretrained, tok.word_index, n_rows, emb.dim)
        c = {**source_record(emb.pretrained), **coverage(p, tok.word_index, tok.word_counts)}
    else:
        p = load_pretrained(own.path, tok.word_index, n_rows, emb.dim)
        c = {**own.record, **coverage(p, tok.word_index, tok.word_counts)}
        if c["source"] == "fasttext":
            found = set(p.rows.tolist())
            c["words_from_ngrams"] = sum(tok.word_index.get(w) in found for w in own.ngram_words)
    ngrams = f", {c['words_from_ngrams']:,} of them from character n-grams only" if "words_from_ngrams" in c else ""
    rep.message(f"embedding: {c['words_found']:,} of {c['words_considered']:,} words ({c['vocabulary_share']:.1%}) "
                f"have a pretrained vector ({c['exact']:,} exact, {c['lowercase']:,} lower-case{ngrams}), covering "
                f"{c['token_share']:.1%} of training tokens; {c['file_words']:,} vectors of dim {p.dim} "
                f"({_describe(c)}) read in "
                f"{time.perf_counter() - t0:.1f}s" + ("" if emb.trainable else "; frozen"))
    return p, c


def _describe(record: dict) -> str:
    """'glove-6b-50d 1.0.0, sha256 1a2b3c4d…', 'file, sha256 …' or 'fasttext, gensim 4.4.0, sha256 …'
    for the train log."""
    if record["source"] == "file":
        what = "file"
    elif "gensim" in record:
        what = f"{record['source']}, gensim {record['gensim']}"
    else:
        what = f"{record['source']} {record.get('version') or ''}".strip()
    return f"{what}, sha256 {record['sha256'][:12]}"
