"""From a raw dict (parsed TOML, overrides applied) to a valid config, in named steps.

:func:`assemble` runs them in order:

1. :func:`split_sweep` moves the dotted keys of ``[sweep]`` into ``sweep.params`` and checks
   the tables of ``[sweep.space]`` (:mod:`~rnnlab.config.space`);
2. :func:`normalise_aliases` maps loss and metric aliases ('bce', 'acc', ...) to their names;
3. the typed build (:func:`~rnnlab.config.constraints.typed_build`) checks every key and value;
4. :func:`fill_embedding_dim` reads ``model.embedding.dim`` from a pretrained vectors file, or
   fills it and the trained vectors' ``dim`` from each other (after
   :func:`~rnnlab.config.validate.validate_settings`, whose errors come first);
5. :func:`~rnnlab.config.validate.validate` checks the rules between values.

Also here: ``--set`` style dotted-key overrides (:func:`parse_overrides`, :func:`set_dotted`).
This module does not import :mod:`rnnlab.config.schema`; the config class is passed in.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..errors import ConfigError, param_error
from .choices import DEFAULT_OWN_DIM, LOSS_ALIASES, METRIC_ALIASES, METRICS
from .constraints import typed_build
from .space import parse_space
from .validate import is_own_vectors, validate, validate_settings
from .vectors import named_vectors, vectors_dim

# The config class (rnnlab.config.schema.Config) is passed in, never imported: the schema calls
# this module (Config.replace), so importing it here, even for annotations, would be a cycle.
C = TypeVar("C")


def assemble(cls: type[C], raw: dict) -> C:
    """Build and validate a config of class ``cls`` from a plain dict (the build steps in order).

    Args:
        cls: the config class (:class:`~rnnlab.config.Config`).
        raw: the config as a dict of tables; it is not changed.

    Returns:
        A valid config, aliases mapped and ``model.embedding.dim`` filled in from a pretrained
        file when unset.

    Raises:
        ConfigError: an unknown key, a wrong value, or a broken rule between values.
        DataError: an unreadable pretrained vectors file.
    """
    raw = normalise_aliases(split_sweep(raw))
    cfg = typed_build(cls, raw)
    validate_settings(cfg)  # their errors come before a vectors file is read, as they always did
    cfg = fill_embedding_dim(cfg)
    validate(cfg)
    return cfg


def split_sweep(raw: dict) -> dict:
    """Move the dotted keys of [sweep] into sweep.params (lists of values, checked here)."""
    sweep = raw.get("sweep")
    if not isinstance(sweep, dict):
        return raw
    sweep = dict(sweep)
    params = dict(sweep.pop("params", {}) or {})
    for key in [k for k in sweep if "." in k]:
        params[key] = sweep.pop(key)
    for key, values in params.items():
        if not isinstance(values, list) or not values:
            raise param_error(f"sweep.{key}", "a non-empty list of values", values,
                              f'e.g. "{key}" = [...]; a single value belongs in the config itself.')
        if key.split(".")[0] in ("sweep", "name", "runs_dir"):
            raise ConfigError(f"sweep.\"{key}\": '{key.split('.')[0]}' cannot be swept.")
    for i, v in enumerate(sweep.get("variants", []) or []):
        if not isinstance(v, dict) or not v:
            raise param_error(f"sweep.variants.{i}", "a table of dotted keys", v)
    space = parse_space(sweep.get("space") or {})
    for key in space:
        if key in params:
            raise ConfigError(f"sweep.\"{key}\" is both a list in [sweep] and in [sweep.space]; keep one.")
    sweep["params"] = params
    return {**raw, "sweep": sweep}


def normalise_aliases(raw: dict) -> dict:
    """Map ``compile.loss`` and ``compile.metrics`` aliases to their canonical names.

    A loss alias ('bce', 'mean_squared_error') becomes its name and an empty loss becomes
    unset. Metrics are mapped ('acc' -> 'accuracy', 'roc_auc' -> 'auc') and deduplicated only
    when every one of them is known; values of the wrong type or unknown names are left as
    they are, for the typed build and :func:`~rnnlab.config.validate.validate` to report.

    Args:
        raw: the config dict; it is not changed.

    Returns:
        ``raw``, or a copy with a new ``compile`` table.
    """
    comp = raw.get("compile")
    if not isinstance(comp, dict):
        return raw
    comp = dict(comp)
    loss = comp.get("loss")
    if isinstance(loss, str):
        comp["loss"] = LOSS_ALIASES.get(loss, loss) or None
    metrics = comp.get("metrics")
    names = [metrics] if isinstance(metrics, str) else metrics
    if isinstance(names, list) and all(isinstance(m, str) for m in names):
        canonical = [METRIC_ALIASES.get(m, m) for m in names]
        if all(m in METRICS for m in canonical):
            comp["metrics"] = list(dict.fromkeys(canonical))
    return {**raw, "compile": comp}


def fill_embedding_dim(cfg: C) -> C:
    """Fill an unset ``model.embedding.dim`` from the pretrained vectors file's first line.

    Only for ``model.type = 'rnn'`` with ``model.input = 'embedding'`` and
    ``model.embedding.pretrained`` set. When ``pretrained`` is the table that trains vectors,
    ``model.embedding.dim`` is filled from its ``dim`` instead (default 100).

    Args:
        cfg: a built config; it is not changed.

    Returns:
        ``cfg`` itself when there is nothing to fill, else a new config with the dim set.

    Raises:
        ConfigError: the vectors file does not exist, or the two dims of trained vectors differ.
        DataError: the vectors file is empty or malformed.
    """
    m = cfg.model
    emb = m.embedding
    if is_own_vectors(emb.pretrained):
        return _fill_own_dim(cfg)
    if m.type != "rnn" or m.input != "embedding" or not emb.pretrained:
        return cfg
    named = named_vectors(emb.pretrained)
    if named is not None and emb.dim is not None and emb.dim != named.dim:
        raise param_error("model.embedding.dim", f"{named.dim} to match the pretrained vectors '{named.name}'",
                          emb.dim, hint=f"Set model.embedding.dim = {named.dim} or leave it unset.")
    if emb.dim is not None:
        return cfg
    emb = dataclasses.replace(emb, dim=vectors_dim(emb.pretrained))
    return dataclasses.replace(cfg, model=dataclasses.replace(m, embedding=emb))


def _fill_own_dim(cfg: C) -> C:
    """One vector size for trained vectors: with an embedding table it is ``model.embedding.dim``,
    filled from the table's ``dim`` (both set must agree; neither:
    :data:`~rnnlab.config.choices.DEFAULT_OWN_DIM`) and the table's ``dim`` left unset, so that
    sweeping ``model.embedding.dim`` changes both; without a table the table's ``dim`` is filled."""
    m = cfg.model
    emb, own = m.embedding, m.embedding.pretrained
    if m.type != "rnn" or m.input != "embedding":
        emb = dataclasses.replace(emb, pretrained=dataclasses.replace(own, dim=own.dim or DEFAULT_OWN_DIM))
    elif own.dim is not None and emb.dim is not None and own.dim != emb.dim:
        raise param_error("model.embedding.dim", f"{own.dim} to match model.embedding.pretrained.dim", emb.dim,
                          hint="Set one of them, or both to the same size.")
    else:
        emb = dataclasses.replace(emb, dim=emb.dim or own.dim or DEFAULT_OWN_DIM,
                                  pretrained=dataclasses.replace(own, dim=None))
    return dataclasses.replace(cfg, model=dataclasses.replace(m, embedding=emb))


# ----------------------------------------------------------------------------------- overrides
def apply_overrides(raw: dict, overrides: dict[str, Any] | list[str]) -> None:
    """Set each dotted key of ``overrides`` in ``raw`` (in place).

    Args:
        raw: the config dict to change.
        overrides: ``{"a.b": value}`` or ``["a.b=value", ...]`` (see :func:`parse_overrides`).

    Raises:
        ConfigError: a malformed ``key=value`` string or a key that cannot be set.
    """
    items = parse_overrides(overrides) if isinstance(overrides, list) else dict(overrides)
    for key, value in items.items():
        set_dotted(raw, key, value)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """Read ``--set`` strings: 'a.b=value' strings → {'a.b': value}.

    The value is read as a TOML value when it is one (3, 0.5, true, "x", [1, 2]), else kept
    as a string.

    Args:
        items: the ``key=value`` strings.

    Returns:
        The dotted keys and their values, in order (a repeated key keeps its last value).

    Raises:
        ConfigError: an item without '=' or with an empty key.
    """
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r} (e.g. --set fit.epochs=3).")
        key, _, text = item.partition("=")
        key = key.strip()
        if not key:
            raise ConfigError(f"--set {item!r} has an empty key.")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        out[key] = value
    return out


def set_dotted(raw: dict, key: str, value: Any) -> None:
    """Set ``raw['a']['b'][0]['c'] = value`` for key 'a.b.0.c' (creating tables as needed).

    Args:
        raw: the nested dict to change in place.
        key: the dotted key; a part that meets a list is an index into it. A missing table is
            created, as a list when a number and a further part follow ('a.0.b'), so that
            'fit.class_weight.1' sets the key '1' of a new table.
        value: the value to set.

    Raises:
        ConfigError: a list index that is not a number or out of range, or a key below a
            value that is not a table.
    """
    parts = key.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            idx = _index(part, node, key)
            node = node[idx]
            continue
        if part not in node or node[part] is None:  # a list only where an item's key follows the index
            node[part] = [] if nxt.isdigit() and i + 2 < len(parts) else {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[_index(last, node, key)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"Cannot set '{key}': '{'.'.join(parts[:-1])}' is not a table.")


def _index(part: str, node: list, key: str) -> int:
    if not part.lstrip("-").isdigit():
        raise ConfigError(f"Cannot set '{key}': '{part}' must be a list index (0..{len(node) - 1}).")
    idx = int(part)
    if not -len(node) <= idx < len(node):
        raise ConfigError(f"Cannot set '{key}': index {idx} is out of range; the list has {len(node)} items.")
    return idx
