"""The Keras-style ``model.summary()`` table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .model import RnnClassifier


def _shape(shape: tuple) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def summary_rows(model: RnnClassifier) -> list[dict]:
    """One dict per layer: name, class, output_shape, params (trainable + non-trainable)."""
    return [{"name": i.name, "class": i.keras_class, "output_shape": _shape(i.output_shape),
             "params": i.trainable + i.non_trainable, "trainable": i.trainable,
             "non_trainable": i.non_trainable} for i in model.infos]


def summary_table(model: RnnClassifier, title: str = "Model") -> Table:
    """A rich table like Keras's: Layer (type) | Output Shape | Param #, with totals below."""
    trainable, frozen = model.param_counts()
    table = Table(title=title, show_lines=False, caption=(
        f"Total params: {trainable + frozen:,}\nTrainable params: {trainable:,}\n"
        f"Non-trainable params: {frozen:,}"), caption_justify="left")
    table.add_column("Layer (type)")
    table.add_column("Output Shape")
    table.add_column("Param #", justify="right")
    for row in summary_rows(model):
        table.add_row(f"{row['name']} ({row['class']})", row["output_shape"], f"{row['params']:,}")
    return table


def print_summary(model: RnnClassifier, title: str = "Model", console: Console | None = None) -> None:
    (console or Console()).print(summary_table(model, title))
