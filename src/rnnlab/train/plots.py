"""Learning curves: loss and each metric, train vs validation, one panel each, and the learning
rate per epoch when it changed during the run (a schedule or ReduceLROnPlateau)."""

from __future__ import annotations

import math
from pathlib import Path

from .._io import pyplot, save_figure
from ..engine import is_missing

LEARNING_RATE = "learning rate"


def plot_learning_curves(history: list[dict], path: str | Path, title: str = "") -> Path | None:
    """Write ``curves.png`` (loss, accuracy with the majority baseline, validation AUC, and the
    learning rate when it varies).

    Args:
        history: the epochs' logs (history.csv rows).
        path: the PNG to write.
        title: the figure's title; default ''.

    Returns:
        ``path``, or None when there is no history.
    """
    if not history:
        return None
    plt = pyplot()

    epochs = [h["epoch"] for h in history]

    def series(key):
        return [h.get(key) if h.get(key) is not None else math.nan for h in history]

    panels = [("loss", [("loss", "train"), ("val_loss", "val")]),
              ("accuracy", [("accuracy", "train"), ("val_accuracy", "val"), ("val_majority_accuracy", "majority")])]
    if any(not is_missing(h.get("val_auc")) for h in history):
        panels.append(("ROC AUC", [("val_auc", "val")]))
    if learning_rate_varies(history):
        panels.append((LEARNING_RATE, [("learning_rate", "learning_rate")]))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8))
    for ax, (name, lines) in zip(axes, panels):
        for key, label in lines:
            style = {"linestyle": "--", "color": "grey"} if label == "majority" else {"marker": "o", "markersize": 3}
            ax.plot(epochs, series(key), label=label, **style)
        if name == LEARNING_RATE and _spans_decades(series("learning_rate")):
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def learning_rate_varies(history: list[dict]) -> bool:
    """Whether the logged learning rate takes more than one value (a constant one gets no panel)."""
    rates = {h.get("learning_rate") for h in history} - {None}
    return len({r for r in rates if not is_missing(r)}) > 1


def _spans_decades(rates: list[float]) -> bool:
    """Positive rates whose largest is 10x the smallest or more: drawn on a log scale."""
    rates = [r for r in rates if not math.isnan(r)]
    return min(rates) > 0 and max(rates) >= 10 * min(rates)
