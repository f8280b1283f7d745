"""rnnlab: train, compare and serve recurrent-network text classifiers.

Keras semantics (layer, optimizer and loss names, defaults, initial weights, parameter
counts), a PyTorch engine with length-bucketed batches, one TOML config per experiment.

>>> import rnnlab
>>> run = rnnlab.train("examples/jigsaw_lstm.toml", ["data.path=train.csv.zip"])  # doctest: +SKIP
>>> run.predict(["you are a wonderful person"])  # doctest: +SKIP
"""

__version__ = "0.1.0"

from .config import Config, load_config  # noqa: E402
from .errors import ConfigError, DataError, RnnlabError, RunError, TrainingFailed  # noqa: E402
from .run import Run  # noqa: E402
from .train.trainer import train  # noqa: E402


def load_run(path) -> Run:
    """Open a run folder written by :func:`train` (``Run.load``)."""
    return Run.load(path)


__all__ = ["Config", "ConfigError", "DataError", "Run", "RnnlabError", "RunError", "TrainingFailed",
           "__version__", "load_config", "load_run", "train"]
