"""Dataset sources: what ``data.dataset`` names. Each source knows how to load the training file,
read another file the way a run reads data, its default text column and its labels; nothing
outside this package asks which dataset a config uses.

A new source is a module here with a :class:`~.base.Source` subclass, added to :data:`SOURCES`
(and its name to ``DATASETS`` in :mod:`rnnlab.config.choices`, the ``data.dataset`` choices).
"""

from .base import Source
from .imdb import ImdbSource
from .jigsaw import JigsawSource
from .table import TableSource

SOURCES: dict[str, Source] = {s.name: s for s in (TableSource(), JigsawSource(), ImdbSource())}


def source_for(dataset: str) -> Source:
    """The source of ``data.dataset`` (validated by the config: always one of :data:`SOURCES`)."""
    return SOURCES[dataset]


__all__ = ["SOURCES", "Source", "source_for"]
