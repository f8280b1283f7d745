"""rnnlab: train, compare and serve recurrent-network text classifiers.

Keras semantics (layer, optimizer and loss names, defaults, initial weights, parameter
counts), a PyTorch engine with length-bucketed batches, one TOML config per experiment.

>>> import rnnlab
>>> run = rnnlab.train("examples/jigsaw_lstm.toml", ["data.path=train.csv.zip"])  # doctest: +SKIP
>>> run.predict(["you are a wonderful person"])  # doctest: +SKIP
>>> run = rnnlab.train(config, data=frame)  # a DataFrame, a (texts, labels) pair or a path  # doctest: +SKIP
>>> rnnlab.RNNClassifier(fit__epochs=2).fit(texts, labels).predict(["free prize!"])  # doctest: +SKIP
"""

import importlib as _importlib
import sys as _sys
import types as _types

from . import _omp  # noqa: F401  (first: OMP_WAIT_POLICY must be set before torch loads)
from ._version import __version__
from .errors import ConfigError, DataError, RnnlabError, RunError, TrainingFailed

# The rest of the public API loads on first use: ``import rnnlab`` and ``rnnlab --help`` stay free
# of torch, scikit-learn and pandas (docs/architecture.md, "Instant start"). name -> (module, attribute)
_LAZY = {
    "Config": ("rnnlab.config", "Config"),
    "load_config": ("rnnlab.config", "load_config"),
    "EnsembleRun": ("rnnlab.runs", "EnsembleRun"),
    "Run": ("rnnlab.runs", "Run"),
    "train": ("rnnlab.train.trainer", "train"),
    "RNNClassifier": ("rnnlab.train.estimator", "RNNClassifier"),
    "blend": ("rnnlab.use.blend", "blend"),
}


class _Lazy:
    """One lazy attribute of the ``rnnlab`` module, imported when read.

    A data descriptor (not a module ``__getattr__``) because ``rnnlab.train`` is also the name of a
    subpackage: importing ``rnnlab.train.trainer`` makes the import system bind the subpackage to
    ``rnnlab.train``; that binding is ignored here, so ``rnnlab.train`` stays the function, as it was
    when the package imported it eagerly. Any other assignment (a test's monkeypatch) is kept.
    """

    def __init__(self, name: str):
        self.name = name

    def __get__(self, module, owner=None):
        if module is None:
            return self
        if self.name in module.__dict__:
            return module.__dict__[self.name]
        path, attr = _LAZY[self.name]
        return getattr(_importlib.import_module(path), attr)

    def __set__(self, module, value):
        if getattr(value, "__name__", None) == f"{__name__}.{self.name}" and _types.ModuleType in type(value).__mro__:
            return  # the import system binding the subpackage of the same name
        module.__dict__[self.name] = value

    def __delete__(self, module):
        module.__dict__.pop(self.name, None)


class _Package(_types.ModuleType):
    """The ``rnnlab`` module's class: ModuleType plus the lazy attributes."""


for _name in _LAZY:
    setattr(_Package, _name, _Lazy(_name))
_sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def load_run(path):
    """Open a run folder written by :func:`train` or :func:`blend`.

    Args:
        path: the run folder.

    Returns:
        A :class:`Run` (an :class:`EnsembleRun` for blends and k-fold runs).

    Raises:
        RunError: not a run folder, an unfinished run (the message names the command that finishes
            it), or a file that differs from its manifest.
    """
    from .runs import Run

    return Run.load(path)


__all__ = ["Config", "ConfigError", "DataError", "EnsembleRun", "RNNClassifier", "Run", "RnnlabError", "RunError",
           "TrainingFailed", "__version__", "blend", "load_config", "load_run", "train"]
