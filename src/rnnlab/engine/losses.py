"""Keras losses, computed the numerically stable way.

When the output layer is ``Dense(..., activation='sigmoid'|'softmax')`` the loss is taken on
the logits (``binary_cross_entropy_with_logits`` / ``log_softmax``), which is also what
Keras 3 on TensorFlow does for such outputs. Any other output (relu, linear, tanh, or a
sigmoid followed by BatchNormalization) is treated as Keras does: clipped to
[1e-7, 1 - 1e-7] before the log. Every loss returns one value per example (mean over labels,
as Keras), so epoch losses are example-weighted means. Checked against Keras values in
tests/fixtures/keras/losses.json.

Weights (``fit.class_weight``): ``class_weight`` multiplies each example's loss by the weight of
its class, as Keras turns ``class_weight`` into sample weights (binary: the rounded 0/1 label;
one-hot rows: their argmax); the caller's ``.mean()`` then divides the weighted sum by the
batch size, Keras 3's 'sum_over_batch_size' reduction. ``pos_weight`` (multi-label) multiplies
the positive term of each label's binary cross-entropy, as torch's ``BCEWithLogitsLoss``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

EPSILON = 1e-7


def _clip(p):
    return p.clamp(EPSILON, 1 - EPSILON)


def binary_crossentropy(out, y, logits: bool, pos_weight=None):
    if logits:
        return F.binary_cross_entropy_with_logits(out, y, pos_weight=pos_weight, reduction="none").mean(-1)
    p = _clip(out)
    positive = y * torch.log(p) if pos_weight is None else pos_weight * y * torch.log(p)
    return -(positive + (1 - y) * torch.log(1 - p)).mean(-1)


def categorical_crossentropy(out, y, logits: bool):
    if logits:
        return -(y * torch.log_softmax(out, dim=-1)).sum(-1)
    p = _clip(out / out.sum(-1, keepdim=True))
    return -(y * torch.log(p)).sum(-1)


def sparse_categorical_crossentropy(out, y, logits: bool):
    if logits:
        return F.cross_entropy(out, y, reduction="none")
    p = _clip(out / out.sum(-1, keepdim=True))
    return -torch.log(p.gather(-1, y[:, None]).squeeze(-1))


def mse(out, y, logits: bool):
    return ((out - y) ** 2).mean(-1)


LOSSES = {"binary_crossentropy": binary_crossentropy, "categorical_crossentropy": categorical_crossentropy,
          "sparse_categorical_crossentropy": sparse_categorical_crossentropy, "mse": mse}


class Loss:
    """``Loss(name, n_outputs, task)(model_out, targets, logits)`` → per-example losses.

    Targets arrive as stored by the data layer — (n, k) float 0/1 for binary/multi-label,
    (n,) int class ids for multi-class — and are converted to what the Keras loss expects
    (one-hot for categorical_crossentropy, class ids for the sparse one).

    Args:
        name: a Keras loss name (``LOSSES``).
        n_outputs: units of the output layer.
        task: 'binary', 'multilabel' or 'multiclass'.
        class_weight: weight of each class index (binary: ``[w0, w1]``); default None: unweighted.
        pos_weight: weight of the positive term of each output (binary_crossentropy only);
            default None: unweighted.
    """

    def __init__(self, name: str, n_outputs: int, task: str, class_weight: Sequence[float] | None = None,
                 pos_weight: Sequence[float] | None = None):
        if pos_weight is not None and name != "binary_crossentropy":
            raise ValueError(f"pos_weight weighs binary_crossentropy, not {name}")
        self.name, self.n_outputs, self.task = name, n_outputs, task
        self.fn = LOSSES[name]
        self.class_weight = None if class_weight is None else torch.tensor(class_weight, dtype=torch.float32)
        self.pos_weight = None if pos_weight is None else torch.tensor(pos_weight, dtype=torch.float32)

    @property
    def weighted(self) -> bool:
        return self.class_weight is not None or self.pos_weight is not None

    def unweighted(self) -> "Loss":
        """The same loss without weights (what validation reports): ``self`` when it has none."""
        return Loss(self.name, self.n_outputs, self.task) if self.weighted else self

    def target(self, y: torch.Tensor) -> torch.Tensor:
        if self.name == "sparse_categorical_crossentropy":
            return (y[:, 0] if y.dim() == 2 else y).long()
        if self.task == "multiclass":  # int ids → one-hot for every other loss
            return F.one_hot(y.long(), self.n_outputs).to(torch.get_default_dtype())
        return y

    def sample_weight(self, y: torch.Tensor) -> torch.Tensor | None:
        """Each example's class weight (Keras: the class is the rounded label, or the argmax of
        a one-hot row), or None without class weights."""
        if self.class_weight is None:
            return None
        rows = y.reshape(len(y), -1)
        classes = rows.argmax(-1) if rows.shape[1] > 1 else rows[:, 0].round().long()
        self.class_weight = self.class_weight.to(y.device)  # moved once, kept there
        return self.class_weight[classes]

    def __call__(self, out: torch.Tensor, y: torch.Tensor, logits: bool) -> torch.Tensor:
        target = self.target(y)
        if self.pos_weight is not None:
            self.pos_weight = self.pos_weight.to(out.device)
            losses = binary_crossentropy(out, target, logits, self.pos_weight.to(out.dtype))
        else:
            losses = self.fn(out, target, logits)
        weight = self.sample_weight(y)
        return losses if weight is None else losses * weight.to(losses.dtype)


def probability_loss(probs: np.ndarray, targets: np.ndarray, schema) -> float:
    """Keras cross-entropy on predicted probabilities (binary per label; sparse categorical for
    multi-class): the loss reported for models that output probabilities directly (linear
    baselines, blends).

    Args:
        probs: (n, outputs) float32 probabilities.
        targets: the targets as the data layer stores them.
        schema: the :class:`~rnnlab.data.LabelSchema` of the targets.

    Returns:
        The mean loss over the rows.
    """
    name = "sparse_categorical_crossentropy" if schema.task == "multiclass" else "binary_crossentropy"
    loss = Loss(name, probs.shape[1], schema.task)
    return float(loss(torch.from_numpy(probs), torch.from_numpy(targets), logits=False).mean())
