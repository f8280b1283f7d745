"""``[sweep.space]``: the search space of a sweep, Keras-Tuner-like distributions on dotted keys.

Each entry maps a dotted config key to one table::

    [sweep.space]
    "compile.learning_rate" = { low = 1e-4, high = 1e-2, log = true }   # float, log-uniform
    "model.layers.1.units" = { low = 32, high = 128, step = 32 }        # int (low/high ints)
    "model.layers.0.rate" = { low = 0.1, high = 0.5, step = 0.1 }       # float on a step grid
    "fit.batch_size" = { choices = [32, 64, 128] }                      # categorical

``low``/``high`` are inclusive; an int range is one where both ends (and ``step``) are ints.
This module only reads and checks the tables (one-line errors); the values are drawn by
Optuna in :mod:`rnnlab.experiments.search`, which also checks the keys against the config.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from ..errors import ConfigError, param_error

RANGE_KEYS = ("low", "high", "step", "log")


@dataclass(frozen=True)
class Dist:
    """One distribution of the search space.

    Args:
        key: the dotted config key it sets.
        kind: 'int', 'float' or 'choice'.
        low: the smallest value (ranges); default None.
        high: the largest value, inclusive (ranges); default None.
        step: the spacing of the values (ranges); default None (continuous floats, step 1 ints).
        log: draw on a log scale (ranges); default False.
        choices: the values (choice); default ().
    """

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple = ()

    @property
    def discrete(self) -> bool:
        """Whether the values can be listed (choices, int ranges, stepped float ranges)."""
        return self.kind in ("choice", "int") or self.step is not None

    def describe(self) -> str:
        """The values in words: '64 to 128 in steps of 32', 'one of 32, 64'."""
        if self.kind == "choice":
            return "one of " + ", ".join(json.dumps(c, default=str, sort_keys=True) for c in self.choices)
        where = f"{self.low:g} to {self.high:g}"
        return where + (f" in steps of {self.step:g}" if self.step else "") + (", log scale" if self.log else "")

    def grid(self) -> list:
        """Every value of a discrete distribution, in order (the grid sampler's axis)."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is None:
            raise ConfigError(f"sweep.space.\"{self.key}\": a continuous range has no grid; add step or use choices.")
        n = int(math.floor((self.high - self.low) / self.step + 1e-9))
        # 15 significant digits drop the float noise of low + i * step (0.30000000000000004)
        return [self.low] + [min(float(f"{self.low + i * self.step:.15g}"), self.high) for i in range(1, n + 1)]


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_dist(key: str, table) -> Dist:
    """One ``[sweep.space]`` entry as a :class:`Dist`.

    Args:
        key: the dotted config key.
        table: its TOML table (``{low, high, log?, step?}`` or ``{choices}``).

    Returns:
        The distribution.

    Raises:
        ConfigError: one line naming ``sweep.space."KEY"`` and what to write instead.
    """
    where = f'sweep.space."{key}"'
    if key.split(".")[0] in ("sweep", "name", "runs_dir"):
        raise ConfigError(f"{where}: '{key.split('.')[0]}' cannot be searched.")
    if "." not in key:
        raise param_error(where, "a dotted config key (e.g. \"compile.learning_rate\")", key)
    if not isinstance(table, dict):
        raise param_error(where, "a table { low, high, log?, step? } or { choices = [...] }", table,
                          "e.g. { low = 1e-4, high = 1e-2, log = true }")
    unknown = sorted(set(table) - {*RANGE_KEYS, "choices"})
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r}; a range has low, high, step, log and a "
                          f"categorical has choices.")
    if "choices" in table:
        extra = sorted(set(table) & set(RANGE_KEYS))
        if extra:
            raise ConfigError(f"{where}: {extra[0]} belongs to a range {{ low, high }}, not to choices; "
                              f"use one or the other.")
        choices = table["choices"]
        if not isinstance(choices, list) or not choices:
            raise param_error(f"{where}.choices", "a non-empty list of values", choices)
        if len({json.dumps(c, sort_keys=True) for c in choices}) != len(choices):
            raise param_error(f"{where}.choices", "a list without repeated values", choices)
        return Dist(key, "choice", choices=tuple(choices))
    for end in ("low", "high"):
        if end not in table:
            raise ConfigError(f"{where}: {end} is missing; write {{ low = ..., high = ... }} or "
                              f"{{ choices = [...] }}.")
        if not _number(table[end]):
            raise param_error(f"{where}.{end}", "a number", table[end])
    low, high, step, log = table["low"], table["high"], table.get("step"), table.get("log", False)
    if not isinstance(log, bool):
        raise param_error(f"{where}.log", "true or false", log)
    if low >= high:
        raise param_error(f"{where}.high", f"a number > low ({low})", high)
    if log and low <= 0:
        raise param_error(f"{where}.low", "a number > 0 with log = true", low)
    is_int = isinstance(low, int) and isinstance(high, int) and (step is None or isinstance(step, int))
    if step is not None:
        if not _number(step) or step <= 0:
            raise param_error(f"{where}.step", "a number > 0", step)
        if log:
            raise ConfigError(f"{where}: step and log = true exclude each other (Optuna); drop one.")
        if step > high - low:
            raise param_error(f"{where}.step", f"a number <= high - low ({high - low})", step)
    if is_int:
        return Dist(key, "int", low=low, high=high, step=step, log=log)
    return Dist(key, "float", low=float(low), high=float(high), step=None if step is None else float(step), log=log)


def parse_space(space: dict) -> dict[str, Dist]:
    """Every entry of ``[sweep.space]`` as a :class:`Dist`, in order (see :func:`parse_dist`)."""
    if not isinstance(space, dict):
        raise param_error("sweep.space", "a table of dotted keys", space)
    return {key: parse_dist(key, table) for key, table in space.items()}
