"""The training loop: epochs of (bucketed) batches, validation after each epoch, the best-epoch
checkpoint, Keras-style early stopping and ReduceLROnPlateau, NaN detection and a clean stop on
Ctrl-C. Every epoch's logs hold the optimizer's learning rate at its end (``learning_rate``, as
Keras 3 logs it)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist

from .._heap import keep_freed_memory
from ..config import Config
from ..data.dataset import LabelSchema
from ..engine import Loss, compute_metrics, format_metric, iterate, predict_outputs, train_batches
from ..engine.threads import AUTO, plan_threads, step_work
from ..errors import TrainingFailed
from ..text.sequences import Sequences
from .distributed import SINGLE, Group, PeersLost, Trace, lost
from .monitors import Monitor
from .progress import Reporter
from .schedules import ReduceLROnPlateau


class StopTraining(Exception):
    """Raised by an ``on_epoch_end`` callback to end training early (e.g. a pruned sweep
    variant); ``status`` and ``reason`` go to the run's metrics."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    status: str = "completed"  # completed | early_stopped | interrupted | failed
    reason: str = ""
    best_epoch: int | None = None  # 1-based
    best_value: float | None = None
    restored_best: bool = False
    threads: dict | None = None  # the thread plan and what its tuner did (run.json's thread_policy)


def _train_accuracy(out: torch.Tensor, y: torch.Tensor, task: str, weight: torch.Tensor | None = None) -> float:
    """Sum over the batch of per-example accuracy (mean over labels), Keras-style; with class
    weights each example counts ``weight`` times, as Keras passes them to its metrics."""
    if task == "multiclass":
        pred = out.argmax(-1) if out.shape[-1] > 1 else torch.zeros_like(y)
        hits = pred == y
    else:
        if task == "binary" and out.shape[-1] == 2:
            out = out[:, 1:]  # 2-unit softmax over a 0/1 label: column 1 is P(label = 1)
        if out.shape != y.shape:
            return float("nan")
        hits = ((out > 0.5) == (y > 0.5)).float().mean(-1)
    return float(hits.sum()) if weight is None else float((hits * weight).sum())


@dataclass
class FitState:
    """Everything the loop carries from epoch to epoch: enough to resume after a crash."""

    history: list[dict] = field(default_factory=list)
    wait: int = 0  # epochs since the early-stopping monitor improved
    stopper: Monitor | None = None  # early stopping (None when off)
    checkpoint: Monitor | None = None  # picks checkpoints/best.safetensors
    best_state: dict | None = None  # weights for restore_best_weights
    plateau: ReduceLROnPlateau | None = None  # fit.reduce_lr_on_plateau (None when off)
    stopped: dict | None = None  # {'status', 'reason'} once early stopping ended training
    validation: dict | None = None  # the last epoch's validation metrics (per-label AUC...); not saved

    @classmethod
    def new(cls, cfg: Config) -> "FitState":
        f = cfg.fit
        es, rop = f.early_stopping, f.reduce_lr_on_plateau
        return cls(stopper=Monitor(es.monitor, es.mode, es.min_delta) if es.enabled else None,
                   checkpoint=Monitor(f.checkpoint.monitor, f.checkpoint.mode),
                   plateau=ReduceLROnPlateau(rop) if rop.enabled else None)

    def to_dict(self) -> dict:
        """JSON-ready (weights excluded)."""
        mon = lambda m: None if m is None else {"best": m.best, "best_epoch": m.best_epoch}  # noqa: E731
        return {"history": self.history, "wait": self.wait, "stopper": mon(self.stopper),
                "checkpoint": mon(self.checkpoint), "has_best_state": self.best_state is not None,
                "plateau": None if self.plateau is None else self.plateau.to_dict(), "stopped": self.stopped}

    def restore(self, d: dict, best_state: dict | None) -> None:
        self.history, self.wait, self.best_state = list(d["history"]), int(d["wait"]), best_state
        self.stopped = d.get("stopped")
        for name in ("stopper", "checkpoint"):
            mon, saved = getattr(self, name), d[name]
            if mon is not None and saved is not None:
                mon.best, mon.best_epoch = float(saved["best"]), saved["best_epoch"]
        if self.plateau is not None and d.get("plateau") is not None:
            self.plateau.restore(d["plateau"])


def fit(model, loss: Loss, optimizer, cfg: Config, schema: LabelSchema, train: tuple[Sequences, np.ndarray],
        val: tuple[Sequences, np.ndarray], reporter: Reporter, device: torch.device,
        save_best: Callable[[dict, int], None], rng: np.random.Generator,
        on_epoch_end: Callable[[FitState], None] | None = None, state: FitState | None = None,
        group: Group = SINGLE) -> FitResult:
    """Train ``model`` up to ``cfg.fit.epochs`` epochs (continuing from ``state`` when given);
    returns the history and how it ended. ``save_best(state_dict, epoch)`` is called whenever
    the checkpoint monitor improves and ``on_epoch_end(state)`` after every epoch (it may
    raise :class:`StopTraining`). ``group`` (default: one process): a data-parallel job
    (:mod:`.distributed`): each rank trains on its slice of every global batch under
    DistributedDataParallel, validation is gathered, and only rank 0 calls ``save_best`` and
    ``on_epoch_end`` (a :class:`StopTraining` it raises ends every rank). While it runs, freed
    memory stays in the heap for the next step's temporaries (:mod:`rnnlab._heap`; blocks of any
    size where rnnlab's fused kernels train every recurrent layer, else up to 32 MB)."""
    regular = (device.type == "cpu" and cfg.fit.precision not in ("bf16", "fp16")
               and getattr(model, "trains_fused", lambda: False)())
    with keep_freed_memory(large=regular):
        return _fit(model, loss, optimizer, cfg, schema, train, val, reporter, device, save_best, rng,
                    on_epoch_end, state, group)


def _fit(model, loss: Loss, optimizer, cfg: Config, schema: LabelSchema, train: tuple[Sequences, np.ndarray],
         val: tuple[Sequences, np.ndarray], reporter: Reporter, device: torch.device,
         save_best: Callable[[dict, int], None], rng: np.random.Generator,
         on_epoch_end: Callable[[FitState], None] | None, state: FitState | None, group: Group) -> FitResult:
    f, text = cfg.fit, cfg.text
    seqs, targets = train
    width = None if f.bucketing else (text.maxlen or max(int(seqs.lengths.max(initial=1)), 1))
    val_width = None if f.bucketing else width
    val_bs = f.validation_batch_size or max(f.batch_size, 1024)
    es = f.early_stopping
    st = state or FitState.new(cfg)
    result = FitResult(history=st.history)
    params = [p for p in model.parameters() if p.requires_grad]
    val_loss_fn = loss.unweighted()  # class weights apply to training only, as in Keras
    c = cfg.compile
    pin = device.type == "cuda"  # page-locked batches copy to the GPU asynchronously
    low = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(f.precision)
    scaler = torch.amp.GradScaler(device.type) if f.precision == "fp16" else None
    show_lr = c.learning_rate_schedule is not None or f.reduce_lr_on_plateau.enabled
    if st.stopped is not None:  # resumed after the epoch that stopped early: only the finishing is left
        result.status, result.reason = st.stopped["status"], st.stopped["reason"]
    threads = 1 if group.active and f.threads == AUTO else f.threads  # one per rank unless set (docs/scale.md)
    plan = plan_threads(threads, step_work(model, f.batch_size)) if device.type == "cpu" else None
    tuner = None if plan is None else plan.tuner
    if plan is not None:
        reporter.message(plan.line())
    net = group.wrap(model, device)  # DistributedDataParallel when there are several ranks
    # the update without torch's per-call wrapper (a profiler record, hooks): see apply_gradients
    update = optimizer.apply_gradients if scaler is None and getattr(optimizer, "hook_free", bool)() else \
        optimizer.step
    trace = Trace(group)
    try:
        for epoch in range(len(st.history) + 1, f.epochs + 1 if st.stopped is None else 0):
            t0 = time.perf_counter()
            batches = train_batches(seqs.lengths, f.batch_size, rng, f.shuffle, f.bucketing, f.bucket_chunk)
            reporter.epoch_start(epoch, f.epochs, len(batches))
            model.train()
            loss_sum, acc_sum, seen, acc_seen = 0.0, 0.0, 0, 0.0
            sizes = [len(b) for b in batches]
            if group.active:  # this rank's slice of every global batch; an empty one runs a 0-weight row
                shards = [group.shard(b) for b in batches]
                scales = [len(s) * group.world / max(n, 1) for s, n in zip(shards, sizes)]
                batches = [s if len(s) else b[:1] for s, b in zip(shards, batches)]
            for step, (index, ids, y) in enumerate(iterate(seqs, targets, batches, width, text.padding), 1):
                scale, n_global = (scales[step - 1], sizes[step - 1]) if group.active else (1.0, len(index))
                trace.step(epoch, step, index if scale else index[:0])
                if pin:
                    ids, y = ids.pin_memory(), y.pin_memory()
                ids, y = ids.to(device, non_blocking=True), y.to(device, non_blocking=True)
                for p in params:  # optimizer.zero_grad(set_to_none=True), without its wrapper
                    p.grad = None
                if tuner is not None:
                    tuner.start()
                try:
                    with torch.autocast(device.type, dtype=low or torch.float32, enabled=low is not None):
                        raw = net(ids, logits=model.fused)
                        batch_loss = loss(raw.float(), y, logits=model.fused).mean()
                        if group.active:
                            batch_loss = batch_loss * scale
                except (RuntimeError, IndexError, ValueError) as exc:  # e.g. a class id out of range (--force)
                    why = str(exc).splitlines()[0]
                    if "out of bounds" in why:
                        why += (f" — a class id is out of range for the {raw.shape[-1]}-unit output (Keras trains on "
                                f"NaN losses here: the notebook's 'loss: nan')")
                    raise TrainingFailed(f"Training failed at epoch {epoch}, step {step}: {why}.") from None
                value = float(batch_loss.detach())
                if group.active:  # the global batch's mean loss, the same (NaN included) on every rank
                    value = group.sum([value])[0] / group.world
                if not math.isfinite(value):
                    raise TrainingFailed(
                        f"The loss became {value} at epoch {epoch}, step {step}: training stopped. Common causes: "
                        f"a learning rate too high for {c.optimizer}, or a loss that does not fit the output "
                        f"(e.g. mse or a linear output with a large learning rate).")
                if scaler is not None:
                    scaler.scale(batch_loss).backward()
                    scaler.unscale_(optimizer)  # clipping below sees the true gradients
                else:
                    batch_loss.backward()
                if c.clipnorm:
                    for p in params:
                        if p.grad is not None:
                            torch.nn.utils.clip_grad_norm_([p], c.clipnorm)
                if c.global_clipnorm:
                    torch.nn.utils.clip_grad_norm_(params, c.global_clipnorm)
                if scaler is not None:
                    scaler.step(optimizer)  # skipped when the scaled gradients overflowed
                    scaler.update()
                else:
                    update()
                if tuner is not None:
                    tuner.stop(ids.numel())
                with torch.no_grad():
                    out = model.outputs_from(raw.float())
                    weight = loss.sample_weight(y)
                    if scale:
                        acc_sum += _train_accuracy(out, y, schema.task, weight)
                        acc_seen += len(index) if weight is None else float(weight.sum())
                loss_sum += value * n_global
                seen += n_global
                reporter.step(loss_sum / seen)
            if group.active:
                acc_sum, acc_seen = group.sum([acc_sum, acc_seen])
            train_secs = time.perf_counter() - t0
            outputs, val_loss = _validate(model, val, val_bs, text.padding, val_width, device, f.bucketing,
                                          val_loss_fn, text.maxlen, group)
            m = st.validation = compute_metrics(schema, val[1], outputs)
            trace.epoch(epoch, m)
            logs = {"epoch": epoch, "loss": loss_sum / seen, "accuracy": acc_sum / acc_seen, "val_loss": val_loss,
                    "val_accuracy": m["accuracy"], "val_majority_accuracy": m["majority_accuracy"],
                    "val_auc": m.get("auc", float("nan")), "learning_rate": optimizer.learning_rate,
                    "seconds": round(time.perf_counter() - t0, 3), "train_seconds": round(train_secs, 3)}
            logs = group.broadcast(logs)  # rank 0's: every decision below is the same on every rank
            st.history.append(logs)
            improved = st.checkpoint.improved(logs, epoch)
            if improved and group.main:
                save_best(model.state_dict(), epoch)
            reporter.epoch_end(_epoch_line(logs, f.epochs, c.metrics, show_lr) + ("  *" if improved else ""))
            if st.plateau is not None:
                _reduce_on_plateau(st.plateau, logs, optimizer, reporter)
            stop = False
            if st.stopper is not None:
                if st.stopper.improved(logs, epoch):
                    st.wait = 0
                    if es.restore_best_weights:
                        st.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    st.wait += 1
                    if st.best_state is None and es.restore_best_weights and st.stopper.best_epoch is None:
                        st.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    if st.wait >= es.patience and epoch > 1:
                        result.status = "early_stopped"
                        result.reason = (f"{es.monitor} did not improve for {st.wait} epoch(s) "
                                         f"(best {st.stopper.best:.4f} at epoch {st.stopper.best_epoch})")
                        st.stopped = {"status": result.status, "reason": result.reason}  # saved for resume
                        stop = True
            if group.active:
                _epoch_end_once(on_epoch_end, st, group)
            elif on_epoch_end is not None:
                on_epoch_end(st)
            if stop:
                reporter.message(f"early stopping at epoch {epoch}: {result.reason}")
                break
    except PeersLost:
        reporter.close()
        raise
    except (RuntimeError, ConnectionError) as exc:
        reporter.close()
        if group.active and _is_comm_error(exc):  # DDP's gradient all-reduce lost a rank
            raise lost(exc) from None
        raise
    except KeyboardInterrupt:
        reporter.close()
        result.status = "interrupted"
        result.reason = f"stopped by the user (Ctrl-C) during epoch {len(st.history) + 1}"
        reporter.message(f"interrupted: {result.reason}; saving the run")
    except TrainingFailed as exc:
        reporter.close()
        result.status = "failed"
        result.reason = str(exc)
    except StopTraining as exc:
        result.status, result.reason = exc.status, exc.reason
        reporter.message(f"{exc.status}: {exc.reason}")
    finally:
        reporter.close()
    if st.stopper is not None and es.restore_best_weights and st.best_state is not None:
        model.load_state_dict(st.best_state)
        result.restored_best = True
        reporter.message(f"restored the weights of the best epoch ({st.stopper.best_epoch})")
    result.threads = None if plan is None else plan.record()
    result.best_epoch = st.checkpoint.best_epoch
    result.best_value = None if st.checkpoint.best_epoch is None else st.checkpoint.best
    return result


def _validate(model, val, batch_size, padding, width, device, bucketing, loss_fn, maxlen, group: Group):
    """Outputs for every validation row (original order) and the mean loss; with several ranks each
    scores a contiguous share and the shares are gathered, so every rank holds the whole set."""
    seqs, targets = val
    if not group.active:
        return predict_outputs(model, seqs, batch_size, padding, width, device, bucketing, loss_fn, targets, maxlen)
    share = group.share(len(seqs))
    outs, mean = predict_outputs(model, seqs.take(share), batch_size, padding, width, device, bucketing, loss_fn,
                                 targets[share], maxlen)
    parts = group.gather_rows((outs, (mean or 0.0) * len(share), len(share)))
    outputs = np.concatenate([p[0] for p in parts if p[2]])
    count = sum(p[2] for p in parts)
    return outputs, (sum(p[1] for p in parts) / count if count else None)


def _epoch_end_once(on_epoch_end, st: FitState, group: Group) -> None:
    """Rank 0 runs ``on_epoch_end`` (the writes); a :class:`StopTraining` it raises ends every rank."""
    stop = None
    if group.main and on_epoch_end is not None:
        try:
            on_epoch_end(st)
        except StopTraining as exc:
            stop = (exc.status, exc.reason)
    stop = group.broadcast(stop)
    if stop is not None:
        raise StopTraining(*stop)


def _is_comm_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, (dist.DistError, ConnectionError)) or any(
        w in text for w in ("gloo", "nccl", "connection", "peer", "timed out", "timeout"))


def _reduce_on_plateau(plateau: ReduceLROnPlateau, logs: dict, optimizer, reporter: Reporter) -> None:
    """Keras's ReduceLROnPlateau at the end of an epoch, with its message when the rate drops."""
    new_lr = plateau.on_epoch_end(logs, optimizer)
    if new_lr is not None:
        reporter.message(f"epoch {logs['epoch']}: ReduceLROnPlateau reducing learning rate to {new_lr:.6g}")


def _epoch_line(logs: dict, epochs: int, metrics: list[str], show_lr: bool = False) -> str:
    parts = [f"epoch {logs['epoch']}/{epochs}", f"loss {logs['loss']:.4f}"]
    if "accuracy" in metrics:
        parts.append(f"accuracy {logs['accuracy']:.4f}")
    parts.append(f"val_loss {_fmt(logs['val_loss'])}")
    if "accuracy" in metrics:
        parts.append(f"val_accuracy {_fmt(logs['val_accuracy'])} (majority {_fmt(logs['val_majority_accuracy'])})")
    if "auc" in metrics:
        parts.append(f"val_auc {_fmt(logs['val_auc'])}")
    if show_lr:
        parts.append(f"learning_rate {logs['learning_rate']:.4g}")
    parts.append(f"{logs['seconds']:.1f}s")
    return "  ".join(parts)


def _fmt(v) -> str:
    return format_metric(v, missing="nan")
