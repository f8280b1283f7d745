"""What every command shares: the typer application they register on, the stderr console, and
common options.

This module and every command module import only typer, rich and the standard library at module
level (plus :mod:`rnnlab.errors` and :mod:`rnnlab._version`): ``rnnlab --help``, ``rnnlab COMMAND
--help`` and ``rnnlab --version`` never load torch, scikit-learn, pandas or matplotlib. A command
imports the library it calls inside its function (tests/test_cli_start.py checks both).
"""

from __future__ import annotations

import sys
from typing import List, Optional, get_args

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperCommand, TyperOption

from .._version import __version__


_VALUE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN"}  # click's names


class _Argument(TyperArgument):
    """An argument shown as click shows it: ``CONFIG`` (required), ``[CONFIG]`` (optional),
    ``TARGETS...``; no type after the name (the help says what it is)."""

    def _name(self) -> str:
        return self.metavar or self.name.upper()

    def _usage_display_name(self) -> str:
        name = self._name() if self.required else f"[{self._name()}]"
        return name + ("..." if self.nargs != 1 else "")

    def _rich_display_name(self) -> str:
        return self._name() + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: typer.Context) -> None:
        return None


class _Option(TyperOption):
    """An option's value shown as click shows it: ``PATH``, ``TEXT``, ``INTEGER``, ``FLOAT``,
    ``[a|b]`` (not typer's ``<path>``, ``<int range>``, ``<list[str]>``); a given metavar wins."""

    def display_type_rich(self, ctx: typer.Context) -> str:
        if self.metavar is not None:
            return self.metavar
        desc = self.type_descriptor
        if desc.is_choice:
            shown = "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices) + "]"
        elif desc.is_path:
            shown = desc.path_type.upper()
        else:
            kind = get_args(desc.annotation)[0] if desc.is_list else desc.annotation
            name = getattr(kind, "__name__", str(kind))
            shown = _VALUE_NAMES.get(name, name.upper())
        return shown + ("..." if self.nargs != 1 else "")


class _Command(TyperCommand):
    """A command whose arguments and options print clean usage and help lines."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument
            elif type(param) is TyperOption:
                param.__class__ = _Option


class _Typer(typer.Typer):
    """typer.Typer whose commands default to :class:`_Command` (clean usage strings for every command,
    also those added later)."""

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or _Command, **kwargs)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rnnlab {__version__}")
        raise typer.Exit()


app = _Typer(name="rnnlab", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="Train, compare and use recurrent-network text classifiers (Keras semantics, PyTorch engine).")
err = Console(stderr=True, highlight=False)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Train, compare and use recurrent-network text classifiers (Keras semantics, PyTorch engine)."""

SET = typer.Option(None, "--set", "-s", metavar="KEY=VALUE",
                   help="Override a config key, e.g. --set fit.epochs=3 --set model.layers.0.units=64 (repeatable).")

TRACK = typer.Option(False, "--track",
                     help="Log to MLflow (same as --set track.mlflow=true): the local store runs/mlflow.db unless "
                          "track.uri or MLFLOW_TRACKING_URI names another (docs/tracking.md).")


def overrides(values: Optional[List[str]], track: bool = False) -> list[str]:
    """The --set values, with track.mlflow=true last when ``track`` (--track)."""
    return list(values or []) + (["track.mlflow=true"] if track else [])


def console():
    """stdout console; tables keep full column names when output is a file or a pipe."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)
