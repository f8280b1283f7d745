"""A small declarative framework for typed, checked settings.

A setting is a dataclass field made with :func:`option`: its default, its documentation and a
:class:`Check` (what values are allowed, in words and as a predicate). :func:`typed_build` turns
a raw dict (parsed TOML) into such a dataclass: it rejects unknown keys with a did-you-mean
hint, coerces every value to the field's type and runs the field's check, raising a
:class:`~rnnlab.errors.ConfigError` that names the key, the value received and what is
expected. A dataclass with a ``from_raw(raw, prefix)`` classmethod builds itself instead.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Union

from ..errors import ConfigError, param_error

Hint = str | Callable[[Any], str | None] | None
_SAME = object()


# ----------------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class Check:
    """What a value must be: ``expected`` in words (for messages and docs) and ``ok`` as a predicate.

    ``None`` means "unset" and passes unless ``required``. ``hint`` is added to the message: a
    fixed sentence or a function of the bad value (returning ``None`` for no hint).
    """

    expected: str
    ok: Callable[[Any], bool]
    required: bool = False
    hint: Hint = None

    def verify(self, key: str, value: Any, shown: Any = _SAME) -> None:
        """Raise the parameter error for ``key`` unless ``value`` passes.

        Args:
            key: the dotted key named in the message.
            value: the (coerced) value checked.
            shown: the value the message says was received; defaults to ``value``.

        Raises:
            ConfigError: ``value`` fails the check (or is ``None`` and required).
        """
        if value is None and not self.required:
            return
        if value is not None and self.ok(value):
            return
        hint = self.hint(value) if callable(self.hint) else self.hint
        raise param_error(key, self.expected, value if shown is _SAME else shown, hint)


def check(expected: str, ok: Callable[[Any], bool]) -> Check:
    """A check from its description and predicate."""
    return Check(expected, ok)


def ge(n, what="an int") -> Check:
    """``value >= n``, described as e.g. 'an int >= 1'."""
    return Check(f"{what} >= {n}", lambda v: v >= n)


def between(lo, hi, what="an int") -> Check:
    """``lo <= value <= hi``, described as e.g. 'an int in [0, 4294967295]'."""
    return Check(f"{what} in [{lo}, {hi}]", lambda v: lo <= v <= hi)


def frac(lo_open=False, hi_open=True) -> Check:
    """A fraction: in [0, 1) by default; ``lo_open`` / ``hi_open`` exclude or include the ends."""
    lo, hi = ("(" if lo_open else "["), (")" if hi_open else "]")
    return Check(f"a float in {lo}0, 1{hi}",
                 lambda v: (v > 0 if lo_open else v >= 0) and (v < 1 if hi_open else v <= 1))


def one_of(*choices) -> Check:
    """One of the given values, described as "one of 'a', 'b'"."""
    return Check("one of " + ", ".join(repr(c) for c in choices), lambda v: v in choices)


def positive(what="a float") -> Check:
    """``value > 0``."""
    return Check(f"{what} > 0", lambda v: v > 0)


def required(chk: Check, hint: Hint = None) -> Check:
    """``chk``, with ``None`` (unset) an error too, and an optional hint."""
    return dataclasses.replace(chk, required=True, hint=hint)


def hinted(chk: Check, hint: Hint) -> Check:
    """``chk`` with a hint added to its message."""
    return dataclasses.replace(chk, hint=hint)


def did_you_mean(word: str, choices, cutoff: float = 0.6) -> str | None:
    """"Did you mean 'x'?" for the closest of ``choices``, or ``None``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return f"Did you mean '{close[0]}'?" if close else None


# ----------------------------------------------------------------------------------- fields
def option(default=dataclasses.MISSING, check: Check | None = None, factory=None, doc: str = "",
           read: Callable[[Any], Any] | None = None):
    """A dataclass field with a default (or ``factory``), a :class:`Check` and its documentation;
    ``read`` turns the raw value into the field's value before the check, instead of the
    type-driven :func:`coerce` (for a key whose type errors should name its allowed values)."""
    meta = {"doc": doc}
    if check is not None:
        meta["check"] = check
    if read is not None:
        meta["read"] = read
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


# ----------------------------------------------------------------------------------- building
def unknown_key(key: str, known: list[str], prefix: str) -> ConfigError:
    """The error for an unknown ``prefix.key``, with the closest known key or the list of them."""
    full = f"{prefix}.{key}" if prefix else key
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    where = f"{prefix}." if prefix else ""
    hint = f" Did you mean '{where}{close[0]}'?" if close else f" Known keys: {', '.join(known)}."
    return ConfigError(f"Unknown config key '{full}'.{hint}")


def typed_build(cls, raw: Any, prefix: str = ""):
    """Build the dataclass ``cls`` from the table ``raw`` (keys under ``prefix`` in messages).

    Keys missing from ``raw`` take their defaults; each value given is coerced to the field's
    type (nested dataclasses recursively) and checked.

    Args:
        cls: a dataclass whose fields were made with :func:`option` (or plain fields).
        raw: the parsed table.
        prefix: the dotted key of the table ('' at the top).

    Returns:
        An instance of ``cls``.

    Raises:
        ConfigError: ``raw`` is not a table, has an unknown key, or a value of the wrong type
            or failing its check.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"'{prefix or 'config'}' must be a table (got {raw!r}).")
    hints = typing.get_type_hints(cls)
    flds = {f.name: f for f in dataclasses.fields(cls)}
    for k in raw:
        if k not in flds:
            raise unknown_key(k, list(flds), prefix)
    kwargs = {}
    for name, f in flds.items():
        if name not in raw:
            continue
        key = f"{prefix}.{name}" if prefix else name
        read = f.metadata.get("read")
        value = read(raw[name]) if read is not None else coerce(raw[name], hints[name], key)
        chk = f.metadata.get("check")
        if chk is not None:
            chk.verify(key, value, shown=raw[name])
        kwargs[name] = value
    return cls(**kwargs)


def coerce(value: Any, tp: Any, key: str):
    """``value`` as the type ``tp`` (the TOML reading of a field's annotation).

    ``X | None`` accepts ``None``; an int-valued float is accepted as an int; bools are only
    ``true``/``false``; floats must be finite; a single string is accepted as a list of strings;
    a dataclass is built from a table (by its ``from_raw(raw, prefix)`` classmethod when it has
    one, else by :func:`typed_build`); ``dict[str, X]`` is a table whose keys become strings and
    whose values are read as ``X`` (named ``key.name`` in messages); a union of several types
    (``str | dict[str, float]``, ``str | SomeDataclass``) is read as the one the value is written as.

    Raises:
        ConfigError: ``value`` cannot be read as ``tp``.
    """
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return coerce(value, _member(value, args, key), key)
    if dataclasses.is_dataclass(tp):
        from_raw = getattr(tp, "from_raw", None)
        return from_raw(value, key) if from_raw is not None else typed_build(tp, value, key)
    if origin is list:
        if not isinstance(value, list):
            if isinstance(value, str) and typing.get_args(tp) and typing.get_args(tp)[0] is str:
                return [value]
            raise param_error(key, "a list", value)
        (item_tp,) = typing.get_args(tp) or (Any,)
        return [coerce(v, item_tp, f"{key}.{i}") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise param_error(key, "a table", value)
        _, item_tp = typing.get_args(tp) or (str, Any)
        return {str(k): coerce(v, item_tp, f"{key}.{k}") for k, v in value.items()}
    if tp is Any or tp is list:
        return value
    if tp is dict:
        if not isinstance(value, dict):
            raise param_error(key, "a table", value)
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise param_error(key, "true or false", value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise param_error(key, "an int", value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise param_error(key, "a number", value)
        if not math.isfinite(value):
            raise param_error(key, "a finite number", value)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise param_error(key, "a string", value)
        return value
    return value


# what a TOML value of each type looks like, for union types (``str | dict[str, float]``)
_SHAPES = {str: ("a string", str), dict: ("a table", dict), list: ("a list", list), bool: ("true or false", bool),
           int: ("an int", int), float: ("a number", (int, float))}


def _member(value: Any, args: list, key: str):
    """The type of a union (``None`` left out) that ``value`` is written as: the only one, or
    the first whose shape matches (a string, a table, ...).

    Raises:
        ConfigError: ``value`` has none of the shapes.
    """
    if len(args) == 1:
        return args[0]
    shapes = [("a table", dict) if dataclasses.is_dataclass(a) else _SHAPES.get(typing.get_origin(a) or a,
                                                                              (str(a), object)) for a in args]
    for tp, (_, python_type) in zip(args, shapes):
        if isinstance(value, python_type):
            return tp
    raise param_error(key, " or ".join(words for words, _ in shapes), value)
