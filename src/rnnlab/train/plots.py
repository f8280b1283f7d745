"""Learning curves: loss and each metric, train vs validation, one panel each."""

from __future__ import annotations

import math
from pathlib import Path

from .._io import pyplot, save_figure
from ..engine import is_missing


def plot_learning_curves(history: list[dict], path: str | Path, title: str = "") -> Path | None:
    """Write ``curves.png`` (loss, accuracy with the majority baseline, validation AUC)."""
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
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8))
    for ax, (name, lines) in zip(axes, panels):
        for key, label in lines:
            style = {"linestyle": "--", "color": "grey"} if label == "majority" else {"marker": "o", "markersize": 3}
            ax.plot(epochs, series(key), label=label, **style)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
