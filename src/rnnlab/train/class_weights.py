"""``fit.class_weight`` resolved on the training rows: the numbers a run trains with.

- Binary (one sigmoid unit, or two softmax units) and multi-class: Keras's ``class_weight``.
  Each training row's loss is multiplied by the weight of its class (binary classes are ``"0"``
  and ``"1"``; multi-class keys are class indices or class names, a name winning over an index
  spelled the same); classes left out weigh 1, as in Keras. ``"balanced"`` is scikit-learn's
  ``n_rows / (n_classes * rows of the class)`` over the classes present in the training rows.
- Multi-label: a weight on the positive term of each label's binary cross-entropy (torch's
  ``pos_weight``; Keras would take the argmax of the label row as its class, which means
  nothing for independent labels). ``"balanced"`` is negatives / positives per label, capped at
  ``fit.class_weight_cap``.

A class or label without the rows its balanced weight needs gets weight 1 and a note. The
weights go to the training loss (:class:`~rnnlab.engine.Loss`) or, for the linear baselines, to
scikit-learn as sample weights; validation stays unweighted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..config import FitConfig
from ..config.constraints import did_you_mean
from ..data.dataset import LabelSchema
from ..errors import ConfigError, RunError
from .progress import Reporter

BALANCED = "balanced"


@dataclass(frozen=True)
class ClassWeights:
    """The resolved weights of one run.

    Args:
        per: ``"class"`` (each row's loss times its class's weight) or ``"label"`` (multi-label:
            the weight of each label's positives).
        names: the classes (binary: ``"0"``, ``"1"``; multi-class: the class names) or labels.
        values: one weight per name, in the order of the model's outputs.
        how: ``"balanced"`` or ``"table"`` (what the config said).
        cap: the cap of balanced multi-label weights; default None (not capped).
        capped: the labels whose balanced weight was capped; default ().
        notes: what could not be weighted as asked (a class without rows); default ().
    """

    per: str
    names: tuple[str, ...]
    values: tuple[float, ...]
    how: str
    cap: float | None = None
    capped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, float]:
        """``{name: weight}``: what ``metrics.json`` records under ``class_weight``."""
        return dict(zip(self.names, self.values))

    def loss_args(self) -> dict[str, list[float]]:
        """The keyword argument of :class:`~rnnlab.engine.Loss` that applies these weights."""
        return {"class_weight" if self.per == "class" else "pos_weight": list(self.values)}

    def sample_weight(self, targets: np.ndarray) -> np.ndarray:
        """Per-row weights for scikit-learn: (n,) for class weights, (n, labels) for positive
        weights (1 where a label is 0)."""
        w = np.asarray(self.values, dtype=np.float64)
        if self.per == "label":
            return np.where(np.asarray(targets) > 0.5, w, 1.0)
        return w[class_ids(targets)]

    def with_saved(self, saved: dict[str, float] | None) -> ClassWeights:
        """These weights with the values a resumed run was trained with (``saved``; None: as they are).

        Raises:
            RunError: ``saved`` names other classes or labels.
        """
        if saved is None:
            return self
        if sorted(saved) != sorted(self.names):
            raise RunError(f"The resume state has class weights for {', '.join(saved)}, but this run's data has "
                           f"{', '.join(self.names)}; train it again.")
        return replace(self, values=tuple(float(saved[n]) for n in self.names))

    def describe(self) -> str:
        """The line printed when training starts."""
        capped = set(self.capped)
        values = ", ".join(f"{name}: {value:.4g}" + (" (capped)" if name in capped else "")
                           for name, value in zip(self.names, self.values))
        if self.per == "label":
            how = f"balanced: negatives / positives, cap {self.cap:g}" if self.how == BALANCED else "table"
            return f"class_weight ({how}): positive weight per label: {values}"
        how = "balanced: rows / (classes x rows of the class)" if self.how == BALANCED else "table"
        return f"class_weight ({how}): each training row's loss x its class's weight: {values}"


def class_ids(targets: np.ndarray) -> np.ndarray:
    """The class of each row as Keras reads it for class weights: the rounded 0/1 label of a
    binary column, the id of a multi-class row."""
    targets = np.asarray(targets)
    if targets.ndim == 2:
        return np.rint(targets[:, 0]).astype(np.int64)
    return targets.astype(np.int64)


def resolve_class_weight(fit: FitConfig, schema: LabelSchema, targets: np.ndarray,
                         loss: str | None = None) -> ClassWeights | None:
    """The weights ``fit.class_weight`` asks for, computed on the training rows.

    Args:
        fit: the ``[fit]`` section (``class_weight``, ``class_weight_cap``).
        schema: the labels of the data.
        targets: the training targets as the data layer stores them.
        loss: the resolved ``compile.loss``; default None (a linear baseline: no loss to check).

    Returns:
        The weights, or None when ``fit.class_weight`` is unset.

    Raises:
        ConfigError: a key that is no class (or label) of the data, one class named twice, or
            positive weights with a loss other than binary_crossentropy.
    """
    spec = fit.class_weight
    if spec is None:
        return None
    if schema.task == "multilabel":
        if loss not in (None, "binary_crossentropy"):
            raise ConfigError(f"fit.class_weight on multi-label data weights the positives of each label's "
                              f"binary_crossentropy, but compile.loss = {loss!r}; use binary_crossentropy.")
        return _label_weights(spec, schema, np.asarray(targets), fit.class_weight_cap)
    return _class_weights(spec, schema, class_ids(targets))


def _class_names(schema: LabelSchema) -> list[str]:
    return list(schema.labels) if schema.task == "multiclass" else ["0", "1"]


def _class_weights(spec, schema: LabelSchema, classes: np.ndarray) -> ClassWeights:
    names = _class_names(schema)
    if spec != BALANCED:
        values = np.ones(len(names))
        for index, weight in _table(spec, schema, names).items():
            values[index] = weight
        return ClassWeights("class", tuple(names), tuple(float(v) for v in values), "table")
    counts = np.bincount(classes, minlength=len(names))
    present = counts > 0
    values = np.ones(len(names))
    values[present] = len(classes) / (present.sum() * counts[present])
    notes = tuple(f"class {names[i]!r} has no training rows: its weight is 1" for i in np.flatnonzero(~present))
    return ClassWeights("class", tuple(names), tuple(float(v) for v in values), BALANCED, notes=notes)


def _label_weights(spec, schema: LabelSchema, targets: np.ndarray, cap: float) -> ClassWeights:
    names = list(schema.labels)
    if spec != BALANCED:
        values = np.ones(len(names))
        for index, weight in _table(spec, schema, names).items():
            values[index] = weight
        return ClassWeights("label", tuple(names), tuple(float(v) for v in values), "table")
    positives = (targets > 0.5).sum(0)
    negatives = len(targets) - positives
    values, capped, notes = [], [], []
    for name, pos, neg in zip(names, positives, negatives):
        if pos == 0 or neg == 0:
            notes.append(f"label {name!r} has no {'positive' if pos == 0 else 'negative'} training rows: its "
                         f"weight is 1")
            values.append(1.0)
            continue
        ratio = float(neg / pos)
        if ratio > cap:
            capped.append(name)
        values.append(min(ratio, cap))
    return ClassWeights("label", tuple(names), tuple(values), BALANCED, cap=cap, capped=tuple(capped),
                        notes=tuple(notes))


def _table(spec: dict[str, float], schema: LabelSchema, names: list[str]) -> dict[int, float]:
    """The output index of each key of a ``{class/label = weight}`` table."""
    out: dict[int, float] = {}
    for key, weight in spec.items():
        index = _index(key, schema, names)
        if index in out:
            raise ConfigError(f"fit.class_weight names the class {names[index]!r} twice (by name and by index); "
                              f"keep one of them.")
        out[index] = weight
    return out


def _index(key: str, schema: LabelSchema, names: list[str]) -> int:
    if schema.task != "binary" and key in names:
        return names.index(key)
    if schema.task != "multilabel" and key.isdigit() and int(key) < len(names) and key == str(int(key)):
        return int(key)
    raise ConfigError(_unknown_key(key, schema, names))


def _unknown_key(key: str, schema: LabelSchema, names: list[str]) -> str:
    hint = did_you_mean(key, names)
    hint = f" {hint}" if hint else ""
    if schema.task == "multilabel":
        return (f"Unknown label {key!r} in fit.class_weight: multi-label data takes a positive weight per label, "
                f"one of {', '.join(names)} (e.g. {{{names[0]} = 3.0}}); class indices do not apply.{hint}")
    if schema.task == "binary":
        return (f"Unknown class {key!r} in fit.class_weight: the binary label {schema.labels[0]!r} has the classes "
                f"\"0\" and \"1\" (Keras class indices), e.g. {{\"1\" = 5.0}}.")
    return (f"Unknown class {key!r} in fit.class_weight: the classes are the indices 0..{len(names) - 1} or the "
            f"names {', '.join(names)}.{hint}")


def announce(weights: ClassWeights | None, rep: Reporter) -> None:
    """Print the weights in one line, then a warning line for each class that could not be weighted."""
    if weights is None:
        return
    rep.message(weights.describe())
    for note in weights.notes:
        rep.message(f"class_weight: warning: {note}")
