"""Keras losses, computed the numerically stable way.

When the output layer is ``Dense(..., activation='sigmoid'|'softmax')`` the loss is taken on
the logits (``binary_cross_entropy_with_logits`` / ``log_softmax``), which is also what
Keras 3 on TensorFlow does for such outputs. Any other output (relu, linear, tanh, or a
sigmoid followed by BatchNormalization) is treated as Keras does: clipped to
[1e-7, 1 - 1e-7] before the log. Every loss returns one value per example (mean over labels,
as Keras), so epoch losses are example-weighted means. Checked against Keras values in
tests/fixtures/keras/losses.json.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

EPSILON = 1e-7


def _clip(p):
    return p.clamp(EPSILON, 1 - EPSILON)


def binary_crossentropy(out, y, logits: bool):
    if logits:
        return F.binary_cross_entropy_with_logits(out, y, reduction="none").mean(-1)
    p = _clip(out)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean(-1)


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
    (one-hot for categorical_crossentropy, class ids for the sparse one)."""

    def __init__(self, name: str, n_outputs: int, task: str):
        self.name, self.n_outputs, self.task = name, n_outputs, task
        self.fn = LOSSES[name]

    def target(self, y: torch.Tensor) -> torch.Tensor:
        if self.name == "sparse_categorical_crossentropy":
            return (y[:, 0] if y.dim() == 2 else y).long()
        if self.task == "multiclass":  # int ids → one-hot for every other loss
            return F.one_hot(y.long(), self.n_outputs).to(torch.get_default_dtype())
        return y

    def __call__(self, out: torch.Tensor, y: torch.Tensor, logits: bool) -> torch.Tensor:
        return self.fn(out, self.target(y), logits)


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
