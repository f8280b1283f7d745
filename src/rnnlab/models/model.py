"""Build the network a config describes: input (embedding or one-hot) → layers → output."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import MAX_PARAMS, RNN_TYPES, LayerConfig, ModelConfig
from ..errors import ConfigError
from . import fused
from .layers import (Flatten, GlobalPool, KerasBatchNorm, KerasDense, KerasDropout, KerasEmbedding,
                     KerasRNN, OneHot, activation_fn)

FUSED_ACTIVATIONS = ("sigmoid", "softmax")


@dataclass
class LayerInfo:
    """One row of the Keras-style summary."""

    name: str
    keras_class: str
    output_shape: tuple
    trainable: int
    non_trainable: int


class RnnClassifier(nn.Module):
    """Sequential text classifier. ``forward(ids)`` returns what Keras's ``model(x)`` returns
    (probabilities for a sigmoid/softmax output); ``forward(ids, logits=True)`` returns the
    pre-activation of a sigmoid/softmax output layer, for a numerically stable loss."""

    def __init__(self, input_layer: nn.Module, layers: list[nn.Module], output_activation: str,
                 fused: bool, use_mask: bool, infos: list[LayerInfo]):
        super().__init__()
        self.input_layer = input_layer
        self.layers = nn.ModuleList(layers)
        self.output_activation = output_activation
        self.fused = fused  # the last layer is a sigmoid/softmax Dense that returns logits
        self.use_mask = use_mask
        self.infos = infos
        self._act = activation_fn(output_activation)

    def forward(self, ids: torch.Tensor, logits: bool = False) -> torch.Tensor:
        first = self.layers[0] if len(self.layers) and not self.use_mask else None
        if isinstance(first, KerasRNN) and isinstance(self.input_layer, KerasEmbedding):
            # an embedding straight into a small SimpleRNN: project the table, then look up
            x = first.forward_from_table(self.input_layer.table.weight, ids)
            if x is not None:
                return self._from_layer(x, ids, logits, 1)
        return self.forward_from_inputs(self.input_layer(ids), ids, logits)

    def trains_fused(self) -> bool:
        """Whether training runs every recurrent layer through rnnlab's compiled kernels
        (``KerasRNN.trains_fused``); True for a model without one."""
        return all(layer.trains_fused() for layer in self.layers if isinstance(layer, KerasRNN))

    def ragged_rows(self) -> int:
        """Most rows of one :meth:`forward_ragged` pass; 0 where it cannot run (the first layer
        is not an LSTM / GRU returning its last state that the compiled kernel runs, or a mask
        is used)."""
        first = self.layers[0] if len(self.layers) else None
        return first.span_rows() if isinstance(first, KerasRNN) and not self.use_mask else 0

    def forward_ragged(self, ids: torch.Tensor, widths: torch.Tensor, padding: str,
                       logits: bool = False) -> torch.Tensor | None:
        """``forward`` of each row of ``ids`` as if it had been padded to its own width alone:
        one pass for rows of different widths (inference: :func:`rnnlab.engine.predict_outputs`).

        Args:
            ids: (B, T) token ids, each row padded to T.
            widths: (B,) each row's own padded width (<= T).
            padding: 'pre' (a row's steps are its last ``width``) or 'post' (its first).
            logits: as in ``forward``.

        Returns:
            What ``forward`` returns, row by row, or None where this does not apply
            (:meth:`ragged_rows`; gradients, tracing or autocast, too many rows).
        """
        if not self.ragged_rows():
            return None
        x = self.input_layer(ids)
        last = self.layers[0].forward_spans(x, fused.ragged_spans(widths, ids.shape[1], padding))
        return None if last is None else self._from_layer(last, ids, logits, 1)

    def forward_from_inputs(self, x: torch.Tensor, ids: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """``forward`` from the input layer's output ``x`` (embeddings or one-hot vectors) of
        ``ids``, which give the padding mask: the path gradient attributions take
        (:mod:`rnnlab.use.explain`)."""
        return self._from_layer(x, ids, logits, 0)

    def _from_layer(self, x: torch.Tensor, ids: torch.Tensor, logits: bool, start: int) -> torch.Tensor:
        mask = ids != 0 if self.use_mask else None
        for layer in self.layers[start:]:
            x = layer(x, mask)
            if x.dim() == 2:
                mask = None
        if self.fused and not logits:
            return self._act(x)
        return x

    def outputs_from(self, raw: torch.Tensor) -> torch.Tensor:
        """What ``forward(ids)`` returns, from what ``forward(ids, logits=True)`` returned."""
        return self._act(raw) if self.fused else raw

    def param_counts(self) -> tuple[int, int]:
        """Keras-equal (trainable, non-trainable) parameter counts."""
        return (sum(i.trainable for i in self.infos), sum(i.non_trainable for i in self.infos))


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.replace("simple_r_n_n", "simple_rnn").replace("l_s_t_m", "lstm").replace("g_r_u", "gru") \
        .replace("pooling1_d", "pooling1d").replace("dropout1_d", "dropout1d")


def build_model(cfg: ModelConfig, *, vocab_size: int, maxlen: int | None) -> RnnClassifier:
    """Create the network with Keras default initial weights (seed torch first for
    reproducibility). The output Dense layer's ``units`` and ``activation`` must be resolved
    (``rnnlab.train.resolve`` fills them from the data).

    Raises:
        ConfigError: an impossible model, or one of more than ``MAX_PARAMS`` parameters (counted
            on the meta device, before any weight is allocated).
    """
    with torch.device("meta"):
        trainable, frozen = _build(cfg, vocab_size, maxlen).param_counts()
    total = trainable + frozen
    if total > MAX_PARAMS:
        raise ConfigError(f"The model would have {total:,} parameters ({total * 4 / 1e9:,.1f} GB of weights); more "
                          f"than {MAX_PARAMS:,} is refused. Lower the layers' units, model.embedding.dim or "
                          f"text.num_words.")
    return _build(cfg, vocab_size, maxlen)


def _build(cfg: ModelConfig, vocab_size: int, maxlen: int | None) -> RnnClassifier:
    if cfg.input == "embedding":
        input_dim = cfg.embedding.input_dim or vocab_size
        if input_dim < vocab_size:
            raise ConfigError(f"model.embedding.input_dim = {input_dim} is smaller than the vocabulary "
                              f"({vocab_size} ids); raise it or set text.num_words <= {input_dim}.")
        input_layer: nn.Module = KerasEmbedding(input_dim, cfg.embedding.dim, cfg.embedding.trainable)
        dim = cfg.embedding.dim
    else:
        input_layer = OneHot(vocab_size)
        dim = vocab_size
    use_mask = cfg.input == "embedding" and cfg.embedding.mask_zero
    seq = True  # is the current tensor (batch, time, features)?
    counts: dict[str, int] = {}
    infos: list[LayerInfo] = []

    def add_info(module, shape):
        cls = module.keras_class
        key = _snake(cls)
        name = key if counts.get(key, 0) == 0 else f"{key}_{counts[key]}"
        counts[key] = counts.get(key, 0) + 1
        t, n = module.param_counts()
        infos.append(LayerInfo(name, cls, shape, t, n))

    if cfg.input == "embedding":
        add_info(input_layer, (None, maxlen, dim))

    last_dense = max(i for i, layer in enumerate(cfg.layers) if layer.type == "Dense")
    modules: list[nn.Module] = []
    fused = False
    out_act = "linear"
    for i, spec in enumerate(cfg.layers):
        where = f"model.layers.{i} ({spec.type})"
        module, dim, seq = _make(spec, dim, seq, use_mask, where, maxlen)
        if i == last_dense:
            out_act = spec.activation or "linear"
            fused = out_act in FUSED_ACTIVATIONS and i == len(cfg.layers) - 1
            module.fused = fused
        modules.append(module)
        add_info(module, (None, maxlen, dim) if seq else (None, dim))
    if seq:
        raise ConfigError("The model's output is still a sequence (batch, time, features): the last RNN "
                          "has return_sequences = true and no pooling follows. Add a GlobalMaxPooling1D / "
                          "GlobalAveragePooling1D layer, or set return_sequences = false.")
    if not fused:
        out_act = "linear"  # the last Dense applied its own activation (e.g. BatchNormalization follows)
    return RnnClassifier(input_layer, modules, out_act if fused else "linear", fused, use_mask, infos)


def _make(spec: LayerConfig, dim: int, seq: bool, use_mask: bool, where: str, maxlen):
    t = spec.type
    if t in RNN_TYPES:
        if not seq:
            raise ConfigError(f"{where} needs a sequence input, but the layer before it returns one vector "
                              f"per text; set return_sequences = true on the RNN before it.")
        m = KerasRNN(t, dim, spec.units, spec.return_sequences, spec.bidirectional, spec.merge_mode,
                     spec.dropout, spec.activation or "tanh", use_mask)
        return m, m.output_dim, spec.return_sequences
    if t == "Dense":
        return KerasDense(dim, spec.units, spec.activation), spec.units, seq
    if t in ("Dropout", "SpatialDropout1D"):
        if t == "SpatialDropout1D" and not seq:
            raise ConfigError(f"{where} needs a sequence input (use Dropout after pooling).")
        return KerasDropout(spec.rate, spatial=t == "SpatialDropout1D"), dim, seq
    if t == "BatchNormalization":
        return KerasBatchNorm(dim, spec.momentum, spec.epsilon), dim, seq
    if t in ("GlobalMaxPooling1D", "GlobalAveragePooling1D", "GlobalPooling1D"):
        if not seq:
            raise ConfigError(f"{where} pools over time but its input is already one vector per text.")
        modes = {"GlobalMaxPooling1D": ["max"], "GlobalAveragePooling1D": ["average"]}.get(t, spec.modes)
        return GlobalPool(modes, t), dim * len(modes), False
    if t == "Flatten":
        if not seq:
            raise ConfigError(f"{where}: the input is already flat.")
        return Flatten(), dim * maxlen, False
    raise ConfigError(f"{where}: unknown layer type {t!r}.")  # unreachable: config validates types
