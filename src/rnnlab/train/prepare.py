"""What will the model be: the one answer, used by training, the config doctor and ``rnnlab summary``.

- :func:`resolve`: the output layer's units and activation and the loss, filled in from the labels;
- :func:`tokenize_splits`: the tokenizer fitted as ``text.fit_on`` says, and the token ids;
- :func:`vocab_size_of`: the model's input size;
- :func:`device_for`: the torch device ``fit.device`` (and ``fit.precision``) ask for;
- :func:`build`: the network, seeded as training seeds it;
- :func:`summary_model`: a config's model without training, reading data only when the config
  does not say enough.
"""

from __future__ import annotations

import dataclasses
import os
from typing import NamedTuple

import torch

from ..config import Config, coerce_config, is_own_vectors, output_layer
from ..data import Splits, load_splits, source_for
from ..data.dataset import LabelSchema
from ..errors import ConfigError, DataError
from ..models import RnnClassifier, build_model
from ..text.sequences import Sequences
from ..text.tokenizer import Tokenizer


class Tokenized(NamedTuple):
    """The fitted tokenizer and the token ids of the training and validation texts."""

    tokenizer: Tokenizer
    train: Sequences
    validation: Sequences


def resolve(cfg: Config, schema: LabelSchema) -> Config:
    """Fill what the data decides: output units (one per label / class), output activation
    (sigmoid; softmax for multi-class) and loss (binary_crossentropy; sparse categorical for
    multi-class). Returns a new config; the config doctor judges the result."""
    cfg = dataclasses.replace(cfg)  # shallow: nested sections are edited below on copies
    cfg.model = dataclasses.replace(cfg.model, layers=[dataclasses.replace(layer) for layer in cfg.model.layers])
    cfg.compile = dataclasses.replace(cfg.compile)
    out = output_layer(cfg)
    multiclass = schema.task == "multiclass"
    if out.units is None:
        out.units = schema.n_outputs
    if out.activation is None:
        out.activation = "softmax" if multiclass else "sigmoid"
    if cfg.compile.loss is None:
        cfg.compile.loss = "sparse_categorical_crossentropy" if multiclass else "binary_crossentropy"
    return cfg


def tokenize_splits(cfg: Config, splits: Splits) -> Tokenized:
    """Fit the tokenizer on the texts ``text.fit_on`` names and encode train and validation
    (data that ships as token ids, Keras's imdb.npz, keeps its ids and word index)."""
    t = cfg.text
    train, val, test = splits.train, splits.validation, splits.test
    if train.sequences is not None:  # Keras imdb.npz: already token ids
        tok = Tokenizer.from_word_index(train.word_index or {}, num_words=t.num_words, start_index=1,
                                        oov_index=2, skip_top=cfg.data.imdb_skip_top)
        return Tokenized(tok, train.sequences, val.sequences)
    tok = Tokenizer(num_words=t.num_words, filters=t.filters, lower=t.lower, split=t.split, oov_token=t.oov_token,
                    char_level=t.char_level)
    fit_texts = list(train.texts)
    if t.fit_on in ("train+validation", "train+validation+test"):
        fit_texts += val.texts
    if t.fit_on == "train+validation+test":
        if test is None:
            raise ConfigError("text.fit_on = 'train+validation+test' needs data.test_path.")
        fit_texts += test.texts
    tok.fit_on_texts(fit_texts)
    return Tokenized(tok, tok.encode(train.texts), tok.encode(val.texts))


def vocab_size_of(tok: Tokenizer, train_seqs: Sequences, val_seqs: Sequences) -> int:
    """Input size of the model: the tokenizer's, widened to every id that occurs (imported
    vocabularies, unfitted validation words when num_words is unset)."""
    return max(tok.vocab_size, int(train_seqs.flat.max(initial=0)) + 1,
               int(val_seqs.flat.max(initial=0)) + 1 if tok.num_words is None else 0)


def device_for(cfg: Config) -> torch.device:
    """The device ``fit.device`` asks for ('auto': CUDA when available).

    Raises:
        ConfigError: CUDA asked for but absent, or fp16 precision without CUDA.
    """
    name = cfg.fit.device
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("fit.device = 'cuda' but no CUDA device is available; use 'auto' or 'cpu'.")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if cfg.fit.precision == "fp16" and device.type != "cuda":
        raise ConfigError(f"fit.precision = 'fp16' needs a CUDA device (this run uses {device.type}); use 'bf16' "
                          f"or 'float32' on the CPU.")
    return device


def build(cfg: Config, vocab_size: int) -> RnnClassifier:
    """The network of a resolved config with its Keras initial weights, seeded by ``seed``."""
    torch.manual_seed(cfg.seed)
    return build_model(cfg.model, vocab_size=vocab_size, maxlen=cfg.text.maxlen)


def summary_model(config: Config | str | os.PathLike | dict, overrides=None) -> tuple[RnnClassifier, list[str]]:
    """Build the config's model for ``rnnlab summary`` without training.

    The vocabulary size comes from ``model.embedding.input_dim`` or ``text.num_words``, the
    output size from the output layer's ``units`` or the dataset's labels; the data is read
    only when those are not set.

    Args:
        config: a :class:`~rnnlab.config.Config`, a TOML path or a dict.
        overrides: ``--set`` style overrides; default None.

    Returns:
        (the model, notes about what was read).

    Raises:
        ConfigError: the sizes are unknown and the data cannot be read.
    """
    cfg = coerce_config(config, overrides)
    notes: list[str] = []
    emb = cfg.model.embedding
    if cfg.model.input == "embedding" and is_own_vectors(emb.pretrained):
        notes.append(f"embedding dim {emb.dim}: {emb.pretrained.train} vectors trained before the model")
    elif cfg.model.input == "embedding" and emb.pretrained:  # loading read the dim from the file
        notes.append(f"embedding dim {emb.dim} from {emb.pretrained}")
    out = output_layer(cfg)
    vocab = cfg.model.embedding.input_dim if cfg.model.input == "embedding" else None
    vocab = vocab or cfg.text.num_words
    n_labels = source_for(cfg.data.dataset).label_count(cfg.data)
    splits = None
    if vocab is None or (out.units is None and n_labels is None):
        try:
            splits = load_splits(cfg)
        except (ConfigError, DataError) as exc:
            raise ConfigError(f"summary needs the vocabulary size and the number of outputs: set text.num_words "
                              f"(or model.embedding.input_dim) and the output layer's units, or point data.path at "
                              f"the data ({exc})") from None
        notes.append(f"read {cfg.data.path or 'the dataset'} to size the model")
    if splits is not None:
        cfg = resolve(cfg, splits.train.schema)
        if vocab is None:
            tok, seqs, _ = tokenize_splits(cfg, splits)
            vocab = max(tok.vocab_size, int(seqs.flat.max(initial=0)) + 1)
            notes.append(f"vocabulary: {vocab:,} ids (fitted on the training split)")
    else:
        k = out.units or n_labels
        cfg = resolve(cfg, LabelSchema("multilabel" if k > 1 else "binary", [f"label_{i}" for i in range(k)]))
    return build(cfg, vocab), notes
