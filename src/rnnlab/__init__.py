"""rnnlab: train, compare and serve recurrent-network text classifiers.

Keras semantics (layer, optimizer and loss names, defaults, initial weights, parameter
counts), a PyTorch engine with length-bucketed batches, one TOML config per experiment.

>>> import rnnlab
>>> run = rnnlab.train("examples/jigsaw_lstm.toml", ["data.path=train.csv.zip"])  # doctest: +SKIP
>>> run.predict(["you are a wonderful person"])  # doctest: +SKIP
>>> run = rnnlab.train(config, data=frame)  # a DataFrame, a (texts, labels) pair or a path  # doctest: +SKIP
>>> rnnlab.RNNClassifier(fit__epochs=2).fit(texts, labels).predict(["free prize!"])  # doctest: +SKIP
"""

from . import _omp  # noqa: F401  (first: OMP_WAIT_POLICY must be set before torch loads)
from ._version import __version__
from .config import Config, load_config
from .errors import ConfigError, DataError, RnnlabError, RunError, TrainingFailed
from .runs import EnsembleRun, Run
from .train.estimator import RNNClassifier
from .train.trainer import train
from .use.blend import blend


def load_run(path) -> Run:
    """Open a run folder written by :func:`train` or :func:`blend`.

    Args:
        path: the run folder.

    Returns:
        A :class:`Run` (an :class:`EnsembleRun` for blends and k-fold runs).

    Raises:
        RunError: not a run folder, an unfinished run (the message names the command that finishes
            it), or a file that differs from its manifest.
    """
    return Run.load(path)


__all__ = ["Config", "ConfigError", "DataError", "EnsembleRun", "RNNClassifier", "Run", "RnnlabError", "RunError",
           "TrainingFailed", "__version__", "blend", "load_config", "load_run", "train"]
