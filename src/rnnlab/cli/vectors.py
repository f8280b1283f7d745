"""``rnnlab vectors CONFIG --out FILE``: word vectors trained with gensim on the config's training
texts (plus ``model.embedding.pretrained.corpus``), for ``model.embedding.pretrained = "FILE"``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import ConfigError
from .common import SET, app, overrides


@app.command("vectors")
def vectors(config: Optional[Path] = typer.Argument(None, help="TOML config file (its data, [text] and "
                                                                "model.embedding.pretrained table)."),
            out: Path = typer.Option(..., "--out", "-o", help="Vectors file to write (fastText .vec text; .gz "
                                                              "compresses)."),
            set_: Optional[List[str]] = SET,
            preset: Optional[str] = typer.Option(None, "--preset", help="A bundled config instead of CONFIG, e.g. "
                                                                        "jigsaw-strong."),
            ) -> None:
    """Train word2vec or fastText vectors on the training split's texts (never validation rows) plus
    unlabelled corpus files, tokenized as the model sees them; cached by content."""
    from ..config import preset_path
    from ..train.vectors import write_vectors

    if preset is not None:
        if config is not None:
            raise ConfigError("--preset replaces CONFIG: give one of them.")
        config = preset_path(preset)
    elif config is None:
        raise ConfigError("rnnlab vectors needs a CONFIG file (or --preset NAME).")
    print(write_vectors(config, out, overrides(set_)).summary())
