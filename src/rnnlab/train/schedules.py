"""Keras's learning-rate schedules and its ``ReduceLROnPlateau`` callback, with Keras 3's formulas.

A schedule (``compile.learning_rate_schedule``) maps the optimizer's step count — the number of
updates done so far, 0 for the first batch — to the rate of the next update: the optimizer asks
it before every step (:class:`~rnnlab.train.optimizers.KerasOptimizer`). ``ReduceLROnPlateau``
(``fit.reduce_lr_on_plateau``) lowers a constant rate at the end of an epoch. Keras computes both
in float32; these compute in float64.
"""

from __future__ import annotations

import math
from typing import Protocol

from ..config import LearningRateScheduleConfig, ReduceLROnPlateauConfig
from .monitors import monitor_mode


class LearningRateSchedule:
    """Base class: ``schedule(step)`` is the learning rate of the update after ``step`` updates."""

    def __call__(self, step: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class ExponentialDecay(LearningRateSchedule):
    """Keras ``ExponentialDecay``: ``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps per decay period; must be > 0.
        decay_rate: the factor applied over each period.
        staircase: decay in whole periods (``floor(step / decay_steps)``); default False.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False):
        if decay_steps <= 0:
            raise ValueError(f"decay_steps must be > 0, got {decay_steps}")
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.decay_rate, self.staircase = float(decay_rate), staircase

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        try:
            return self.initial_learning_rate * self.decay_rate ** p
        except OverflowError:  # a decay_rate > 1 grows past float64 (Keras's float32 gives inf)
            return math.inf


class CosineDecay(LearningRateSchedule):
    """Keras 3 ``CosineDecay`` with its optional linear warm-up.

    Without ``warmup_target``: ``initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) +
    alpha)`` with ``s = min(step, decay_steps)``. With it: for ``step < warmup_steps`` the rate goes
    linearly from ``initial_learning_rate`` to ``warmup_target``; then the same cosine decay, from
    ``warmup_target`` to ``alpha * warmup_target`` over ``decay_steps`` more steps.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps of the cosine decay; must be > 0.
        alpha: the final rate as a fraction of the decay's starting rate; default 0.0.
        warmup_target: the rate the warm-up reaches; default None (no warm-up).
        warmup_steps: steps of the warm-up; default 0.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 warmup_target: float | None = None, warmup_steps: int = 0):
        if decay_steps <= 0:
            raise ValueError(f"decay_steps must be > 0, got {decay_steps}")
        self.initial_learning_rate, self.decay_steps, self.alpha = float(initial_learning_rate), decay_steps, alpha
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def _decay(self, step: float, start: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * (step / self.decay_steps)))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: int) -> float:
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (step / self.warmup_steps) + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)


def make_schedule(spec: LearningRateScheduleConfig, initial_learning_rate: float) -> LearningRateSchedule:
    """The schedule ``compile.learning_rate_schedule`` describes.

    Args:
        spec: the checked config table.
        initial_learning_rate: ``compile.learning_rate`` (or the optimizer's Keras default).

    Returns:
        An :class:`ExponentialDecay` or a :class:`CosineDecay`.
    """
    if spec.type == "ExponentialDecay":
        return ExponentialDecay(initial_learning_rate, spec.decay_steps, spec.decay_rate, spec.staircase)
    return CosineDecay(initial_learning_rate, spec.decay_steps, spec.alpha, spec.warmup_target, spec.warmup_steps)


class HasLearningRate(Protocol):
    """An optimizer whose rate can be read and set (:class:`~rnnlab.train.optimizers.KerasOptimizer`)."""

    learning_rate: float


class ReduceLROnPlateau:
    """Keras's ``ReduceLROnPlateau``: lower the rate when ``monitor`` stops improving.

    At the end of every epoch (:meth:`on_epoch_end`), exactly as Keras 3: a missing monitored
    value changes nothing; during a cooldown the counter goes down and ``wait`` restarts; an
    improvement (``current < best - min_delta`` in min mode, ``current > best + min_delta`` in
    max mode; NaN never improves) resets ``wait``; otherwise, outside a cooldown, ``wait`` grows
    and when it reaches ``patience`` a rate above ``min_lr`` becomes
    ``max(lr * factor, min_lr)``, the cooldown starts and ``wait`` restarts.

    Args:
        cfg: ``fit.reduce_lr_on_plateau`` (monitor, factor, patience, min_delta, cooldown,
            min_lr, mode; ``mode = 'auto'`` as early stopping: max for accuracy/AUC, else min).
    """

    def __init__(self, cfg: ReduceLROnPlateauConfig):
        self.cfg = cfg
        self.mode = monitor_mode(cfg.monitor, cfg.mode)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def improved(self, current: float) -> bool:
        """Keras's ``monitor_op(current, best)``."""
        d = self.cfg.min_delta
        return current < self.best - d if self.mode == "min" else current > self.best + d

    def on_epoch_end(self, logs: dict, optimizer: HasLearningRate) -> float | None:
        """Update the state from the epoch's ``logs``; lower ``optimizer.learning_rate`` when due.

        Returns:
            The new learning rate when it was lowered, else None.
        """
        current = logs.get(self.cfg.monitor)
        if current is None:
            return None
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.improved(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.cfg.patience:
                return self._reduce(optimizer)
        return None

    def _reduce(self, optimizer: HasLearningRate) -> float | None:
        old = optimizer.learning_rate
        if not old > self.cfg.min_lr:
            return None
        optimizer.learning_rate = max(old * self.cfg.factor, self.cfg.min_lr)
        self.cooldown_counter, self.wait = self.cfg.cooldown, 0
        return optimizer.learning_rate

    def to_dict(self) -> dict:
        """The state to resume from (JSON: an infinite ``best`` is written as None)."""
        best = self.best if math.isfinite(self.best) else None
        return {"best": best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def restore(self, d: dict) -> None:
        """Continue from the state :meth:`to_dict` saved."""
        if d["best"] is not None:
            self.best = float(d["best"])
        self.wait, self.cooldown_counter = int(d["wait"]), int(d["cooldown_counter"])
