"""The reference of every config key, read from the schema: the source of docs/config.md."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Union

from .schema import Config


def _union_table(tp):
    """The dataclass of a ``str | Table`` union (a key that is a string or a table), or None."""
    if typing.get_origin(tp) not in (Union, types.UnionType):
        return None
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return next((a for a in args if dataclasses.is_dataclass(a)), None) if len(args) > 1 else None


def _type_label(tp) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (Union, types.UnionType):
        return " or ".join(_type_label(a) for a in args)
    if typing.get_origin(tp) is dict:
        return "table"
    if typing.get_origin(tp) is list:
        inner = typing.get_args(tp)
        return f"list of {_type_label(inner[0])}" if inner else "list"
    if dataclasses.is_dataclass(tp):  # a list item with keys of its own: [[model.layers]]
        return "table"
    return {int: "int", float: "float", bool: "bool", str: "string", dict: "table", list: "list"}.get(tp, str(tp))


def describe_keys() -> list[tuple[str, str, str, str]]:
    """Every config key with its type, default and description: the source of docs/config.md.

    Nested sections are walked in order (``data.path``, ``fit.early_stopping.patience``, ...);
    ``model.layers`` is one row (its keys depend on the layer type); a key that is a string or a
    table (``model.embedding.pretrained``) is one row followed by the rows of the table's keys.

    Returns:
        ``(key, type, default, description)`` rows; the default is ``repr()`` of the value or
        'unset', and the description ends with the allowed values in parentheses when the key
        has a check, e.g. ``(an int >= 1)``.
    """
    rows = []

    def walk(cls, prefix):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            key = f"{prefix}.{f.name}" if prefix else f.name
            tp = hints[f.name]
            if dataclasses.is_dataclass(tp):
                walk(tp, key)
                continue
            if f.default is not dataclasses.MISSING:
                default = f.default
            else:
                default = f.default_factory()  # type: ignore[misc]
            doc = f.metadata.get("doc", "")
            if "check" in f.metadata:
                doc += f" ({f.metadata['check'].expected})"
            rows.append((key, _type_label(tp), "unset" if default is None else repr(default), doc))
            table = _union_table(tp)
            if table is not None:
                walk(table, key)
    walk(Config, "")
    return rows
