"""Getting a config: from a TOML file, a dict or a bundled preset.

Paths written in a file are resolved relative to the file's folder; paths given as overrides
relative to the current directory.
"""

from __future__ import annotations

import copy
import difflib
import os
import sys
from importlib import resources
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ..errors import ConfigError
from .build import apply_overrides, assemble
from .choices import MEMORY_PREFIX, PATH_KEYS
from .schema import Config
from .vectors import named_vectors


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | dict | None = None,
                base: dict | None = None) -> Config:
    """Read a TOML config, apply ``--set`` style overrides, validate, resolve paths.

    Paths written in the file are relative to the file's folder; paths given as overrides
    are relative to the current directory.

    Args:
        path: the TOML file; ``None`` builds from ``base`` and ``overrides`` alone. The run
            name defaults to the file's name without ``.toml``.
        overrides: ``["key.path=value", ...]`` strings (values read as TOML when they parse)
            or a ``{"key.path": value}`` dict, applied after the file.
        base: a config dict the file is merged onto (not changed).

    Returns:
        The validated :class:`Config`, defaults filled in and paths absolute.

    Raises:
        ConfigError: the file is missing, not UTF-8 or not valid TOML, or the config is invalid.
        DataError: a pretrained vectors file given without ``model.embedding.dim`` is unreadable.
    """
    raw: dict = copy.deepcopy(base) if base else {}
    if path is not None:
        _merge_file(raw, Path(path))
    if overrides:
        apply_overrides(raw, overrides)
        _resolve_paths(raw, Path.cwd())
    return from_dict(raw)


def load_vectors_config(path: str | os.PathLike | None = None, overrides: list[str] | dict | None = None) -> Config:
    """The config ``rnnlab vectors`` trains word vectors for: as :func:`load_config`, but
    ``model.embedding.pretrained`` is always the table that trains them.

    A pretrained file or source name in the file is set aside (it may be the very file about to
    be written), so ``--set model.embedding.pretrained.train=fasttext`` works on any config, and
    the table's ``train`` defaults to ``'word2vec'``.

    Args:
        path: the TOML file; ``None`` builds from ``overrides`` alone.
        overrides: ``--set`` style overrides, applied after the file.

    Returns:
        The validated :class:`Config`; ``model.embedding.pretrained`` is an
        :class:`~rnnlab.config.OwnVectorsConfig`.

    Raises:
        ConfigError: as :func:`load_config`.
    """
    raw: dict = {}
    if path is not None:
        _merge_file(raw, Path(path))
    _vectors_table(raw, replace=True)
    if overrides:
        apply_overrides(raw, overrides)
        _resolve_paths(raw, Path.cwd())
    table = _vectors_table(raw, replace=False)
    if isinstance(table, dict):
        table.setdefault("train", "word2vec")
    return from_dict(raw)


def _vectors_table(raw: dict, replace: bool):
    """``model.embedding.pretrained`` of a raw config; with ``replace``, made an empty table
    unless it is one. Sections that are not tables are left for the build to report."""
    model = raw.setdefault("model", {})
    emb = model.setdefault("embedding", {}) if isinstance(model, dict) else None
    if not isinstance(emb, dict):
        return None
    if replace and not isinstance(emb.get("pretrained"), dict):
        emb["pretrained"] = {}
    return emb.get("pretrained")


def _merge_file(raw: dict, path: Path) -> None:
    """Merge the TOML file onto ``raw``, its paths resolved from its folder; name from the file."""
    if not path.exists():
        raise ConfigError(f"Config file '{path}' does not exist.")
    if path.is_dir():
        raise ConfigError(f"'{path}' is a folder; give a TOML config file inside it, or --resume "
                          f"to continue a run folder.")
    try:
        file_raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"'{path}' is not valid TOML: {exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"'{path}' is not UTF-8 text.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file '{path}': {exc.strerror or exc}.") from None
    _resolve_paths(file_raw, path.resolve().parent)
    _deep_merge(raw, file_raw)
    raw.setdefault("name", path.stem)


def from_dict(raw: dict) -> Config:
    """Build and validate a :class:`Config` from a plain dict.

    Args:
        raw: the config as nested dicts (the shape of the TOML file; paths are taken as given).
            It is not changed.

    Returns:
        The validated :class:`Config`.

    Raises:
        ConfigError: an unknown key (with a did-you-mean hint), a wrong value, or a broken rule
            between values.
        DataError: a pretrained vectors file given without ``model.embedding.dim`` is unreadable.
    """
    return assemble(Config, raw)


def coerce_config(config: Config | str | os.PathLike | dict, overrides=None) -> Config:
    """Accept a Config, a TOML path or a dict (the library API takes any of them).

    Args:
        config: a :class:`Config`, a path to a TOML file, or a config dict.
        overrides: dotted-key overrides to apply (as for :func:`load_config`).

    Returns:
        The config (``config`` itself when it is a :class:`Config` and there are no overrides).

    Raises:
        ConfigError: as :func:`load_config`.
    """
    if isinstance(config, Config):
        return config.replace(overrides) if overrides else config
    if isinstance(config, dict):
        return load_config(None, overrides, base=config)
    return load_config(config, overrides)


def _resolve_paths(raw: dict, folder: Path) -> None:
    data = raw.get("data")
    if isinstance(data, dict):
        for k in PATH_KEYS:
            v = data.get(k)
            if isinstance(v, str) and v.startswith(MEMORY_PREFIX):  # a table that was in memory: no path
                continue
            if isinstance(v, str) and v and not os.path.isabs(os.path.expanduser(v)):
                data[k] = str((folder / v).resolve())
            elif isinstance(v, str) and v:
                data[k] = os.path.expanduser(v)
    emb = (raw.get("model") or {}).get("embedding") if isinstance(raw.get("model"), dict) else None
    v = emb.get("pretrained") if isinstance(emb, dict) else None
    if isinstance(v, str) and v and named_vectors(v) is None:
        emb["pretrained"] = _resolve(v, folder)
    corpus = v.get("corpus") if isinstance(v, dict) else None
    if isinstance(corpus, str):
        corpus = v["corpus"] = [corpus]
    if isinstance(corpus, list):
        v["corpus"] = [_resolve(c, folder) if isinstance(c, str) and c.strip() else c for c in corpus]


def _resolve(path: str, folder: Path) -> str:
    """``path`` with ``~`` expanded, absolute (a relative one from ``folder``)."""
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else str((folder / path).resolve())


def _deep_merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _deep_merge(dst[k], v)
        else:
            dst[k] = v


# ----------------------------------------------------------------------------------- presets
def _presets_folder():
    return resources.files("rnnlab") / "presets"


def preset_names() -> list[str]:
    """The names of the bundled presets (``rnnlab/presets/*.toml``), sorted, e.g. ``imdb_strong``."""
    return sorted(p.name[:-5] for p in _presets_folder().iterdir() if p.name.endswith(".toml"))


def preset_path(name: str) -> Path:
    """The bundled config ``rnnlab/presets/<name>.toml`` (``rnnlab train --preset NAME``).

    Args:
        name: the preset's name; dashes stand for underscores (``imdb-strong`` names
            ``imdb_strong.toml``).

    Returns:
        The path of the preset file.

    Raises:
        ConfigError: no such preset (the message lists them, with a did-you-mean hint).
    """
    names = preset_names()
    name = name.replace("-", "_")
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"Unknown preset {name!r}; presets: {', '.join(names)}.{hint}")
    return Path(str(_presets_folder() / f"{name}.toml"))
