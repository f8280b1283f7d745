"""The best value of a logged metric so far, as Keras's monitoring callbacks track it
(EarlyStopping, ModelCheckpoint, ReduceLROnPlateau): which direction is better, and when a new
value improves on the best."""

from __future__ import annotations

import math


def monitor_mode(monitor: str, mode: str) -> str:
    """'min' or 'max' (Keras 'auto': max for accuracy/AUC, min otherwise)."""
    if mode != "auto":
        return mode
    return "max" if ("acc" in monitor or "auc" in monitor) else "min"


class Monitor:
    """Tracks the best value of one metric, as Keras's EarlyStopping/ModelCheckpoint do."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        self.monitor, self.mode = monitor, monitor_mode(monitor, mode)
        self.min_delta = abs(min_delta)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None

    def improved(self, logs: dict, epoch: int) -> bool:
        value = logs.get(self.monitor)
        if value is None or not math.isfinite(value):
            return False
        better = (value + self.min_delta < self.best) if self.mode == "min" else (value - self.min_delta > self.best)
        if better:
            self.best, self.best_epoch = value, epoch
        return better
