"""PyTorch layers that compute what the Keras layers of the same name compute.

Keras parity (see ../shared/docs/keras-parity.md):
- initial weights: Embedding uniform(-0.05, 0.05); Dense and RNN input kernels glorot_uniform;
  recurrent kernels orthogonal; biases zero; LSTM forget-gate bias 1 (``unit_forget_bias``);
- LSTM and SimpleRNN have ONE bias per gate set, as in Keras: torch's second bias
  (``bias_hh``) is frozen at zero so an adaptive optimizer does not move the bias twice as
  fast. GRU keeps both (Keras ``reset_after=True`` has an input and a recurrent bias);
- gate order: torch LSTM [i, f, g, o] = Keras [i, f, c, o]; torch GRU [r, z, n] vs Keras
  [z, r, h] (only matters when importing Keras weights);
- BatchNormalization: Keras momentum 0.99 / epsilon 1e-3, batch statistics over every axis
  but the last, moving variance from the biased batch variance.

Every layer maps ``(x, mask)`` to ``x``: ``x`` is (batch, time, features) or (batch, features);
``mask`` is a bool (batch, time) tensor of real (non-padding) steps, or None.
Each layer reports Keras-equal parameter counts through ``param_counts()``.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F
from . import fused


def activation_fn(name: str | None):
    """Keras activation name → function on tensors (softmax over the last axis)."""
    name = name or "linear"
    return {
        "linear": lambda x: x,
        "sigmoid": torch.sigmoid,
        "softmax": lambda x: torch.softmax(x, dim=-1),
        "relu": torch.relu,
        "tanh": torch.tanh,
        "elu": F.elu,
        "selu": torch.selu,
        "gelu": F.gelu,
        "swish": F.silu,
        "softplus": F.softplus,
    }[name]


def _counts(module: nn.Module) -> tuple[int, int]:
    """(trainable, non-trainable) parameter counts of a plain module."""
    t = sum(p.numel() for p in module.parameters() if p.requires_grad)
    n = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    return t, n


class _Lookup(torch.autograd.Function):
    """An embedding lookup whose weight gradient is one ``index_add_`` of the output gradient's
    rows: torch's ``embedding_dense_backward`` sorts the ids first, and measured on one thread it
    took 4.1x as long for M2's batches (6,400 ids into 500 x 16), 5.2x for M1's (32,000 into
    43,696 x 3) and 1.6x for M3's (51,200 into 50,000 x 128), with bitwise equal results there."""

    @staticmethod
    def forward(ctx, ids, weight):
        ctx.save_for_backward(ids)
        ctx.rows = weight.shape[0]
        return weight.index_select(0, ids.reshape(-1)).view(*ids.shape, weight.shape[1])

    @staticmethod
    def backward(ctx, grad):
        (ids,) = ctx.saved_tensors
        dim = grad.shape[-1]
        dw = grad.new_zeros(ctx.rows, dim).index_add_(0, ids.reshape(-1), grad.reshape(-1, dim))
        return None, dw


class KerasEmbedding(nn.Module):
    """Keras ``Embedding(input_dim, output_dim)``: a lookup table, uniform(-0.05, 0.05). Trained
    through :class:`_Lookup`; inference and tracing (ONNX export) use ``nn.Embedding`` itself."""

    keras_class = "Embedding"

    def __init__(self, input_dim: int, output_dim: int, trainable: bool = True):
        super().__init__()
        self.table = nn.Embedding(input_dim, output_dim)
        nn.init.uniform_(self.table.weight, -0.05, 0.05)
        self.table.weight.requires_grad_(trainable)

    def forward(self, ids, mask=None):
        w = self.table.weight
        if w.requires_grad and torch.is_grad_enabled() and not torch.jit.is_tracing() and w.device.type == "cpu":
            return _Lookup.apply(ids, w)
        return self.table(ids)

    def param_counts(self):
        return _counts(self)


class OneHot(nn.Module):
    """Keras ``to_categorical`` input: token id → one-hot vector of ``depth`` (index 0 included,
    as ``to_categorical`` encodes the padding id 0 as [1, 0, ...])."""

    keras_class = None  # no layer row in Keras's summary

    def __init__(self, depth: int):
        super().__init__()
        self.depth = depth

    def forward(self, ids, mask=None):
        out = torch.zeros(*ids.shape, self.depth, device=ids.device, dtype=torch.get_default_dtype())
        return out.scatter_(-1, ids.clamp(0, self.depth - 1).unsqueeze(-1), 1.0)

    def param_counts(self):
        return 0, 0


class KerasRNN(nn.Module):
    """Keras ``SimpleRNN`` / ``LSTM`` / ``GRU``, optionally ``Bidirectional``.

    Args:
        kind: 'SimpleRNN', 'LSTM' or 'GRU'.
        input_dim: features per step.
        units: Keras units.
        return_sequences: return every step (default False: the last step).
        bidirectional: wrap in Keras ``Bidirectional`` (default False).
        merge_mode: how the two directions combine: 'concat' (default), 'sum', 'ave', 'mul'.
        dropout: Keras ``dropout``: fraction of input features dropped, the same mask at every
            step of a sequence (default 0.0).
        activation: SimpleRNN only: 'tanh' (default) or 'relu'.
        use_mask: skip padding steps (Keras mask_zero); done with packed sequences.
    """

    def __init__(self, kind: str, input_dim: int, units: int, return_sequences: bool = False,
                 bidirectional: bool = False, merge_mode: str = "concat", dropout: float = 0.0,
                 activation: str = "tanh", use_mask: bool = False):
        super().__init__()
        self.kind, self.units = kind, units
        self.return_sequences, self.bidirectional = return_sequences, bidirectional
        self.merge_mode, self.dropout, self.use_mask = merge_mode, dropout, use_mask
        self.keras_class = "Bidirectional" if bidirectional else kind
        cls = {"SimpleRNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[kind]
        extra = {"nonlinearity": activation} if kind == "SimpleRNN" else {}
        self.rnn = cls(input_dim, units, batch_first=True, bidirectional=bidirectional, **extra)
        self.gates = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}[kind]
        self._phantom: list[str] = []
        for name, p in self.rnn.named_parameters():
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(p)
            elif name.startswith("weight_hh"):
                nn.init.orthogonal_(p)
            elif name.startswith("bias"):
                nn.init.zeros_(p)
                if kind == "LSTM" and name.startswith("bias_ih"):
                    with torch.no_grad():
                        p[units:2 * units] = 1.0  # unit_forget_bias
                if kind != "GRU" and name.startswith("bias_hh"):
                    p.requires_grad_(False)  # Keras has one bias: keep torch's second at zero
                    self._phantom.append(name)

    @property
    def output_dim(self) -> int:
        return self.units * (2 if self.bidirectional and self.merge_mode == "concat" else 1)

    def forward(self, x, mask=None):
        if self.training and self.dropout > 0:
            keep = torch.empty(x.shape[0], 1, x.shape[2], device=x.device, dtype=x.dtype).bernoulli_(1 - self.dropout)
            x = x * keep / (1 - self.dropout)
        if self.use_mask and mask is not None:
            out, last = self._masked(x, mask)
        else:
            if self.kind == "SimpleRNN" and fused.applies(self.rnn, x):
                out, h = fused.simple_rnn(self.rnn, x)
            elif self.kind == "LSTM" and fused.applies_lstm_train(self.rnn, x):
                out, h = fused.lstm_train(self.rnn, x)
            elif self.kind == "GRU" and fused.applies_gru_train(self.rnn, x):
                out, h = fused.gru_train(self.rnn, x)
            elif self.kind != "SimpleRNN" and fused.applies_gated(self.rnn, x):
                out, h = fused.gated(self.rnn, x, self.return_sequences)
            else:
                out, h = self.rnn(x)
            last = self._last_from_state(h) if not self.return_sequences else None
        if self.return_sequences:
            return self._merge(out)
        return last

    def forward_from_table(self, table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor | None:
        """``forward(table[ids])`` for an embedding lookup feeding this layer, through
        :func:`fused.simple_rnn_from_ids` where it applies (a fused SimpleRNN, no dropout to draw,
        no mask, a table smaller than the batch's ids); None where it does not."""
        if (self.kind != "SimpleRNN" or self.use_mask or (self.training and self.dropout > 0)
                or not fused.projects_table(self.rnn, table, ids)):
            return None
        out, h = fused.simple_rnn_from_ids(self.rnn, table, ids)
        return out if self.return_sequences else self._last_from_state(h)

    def trains_fused(self) -> bool:
        """Whether training runs this layer through rnnlab's compiled kernels (float32 on the
        CPU, no mask; :mod:`.fused`'s ``applies*`` for a one-row probe with a gradient)."""
        if self.use_mask:
            return False
        check = {"SimpleRNN": fused.applies, "LSTM": fused.applies_lstm_train, "GRU": fused.applies_gru_train}
        weight = self.rnn.weight_ih_l0
        with torch.enable_grad():
            return check[self.kind](self.rnn, torch.empty(1, 1, self.rnn.input_size, dtype=weight.dtype,
                                                          device=weight.device))

    def span_rows(self) -> int:
        """Most rows of one :meth:`forward_spans` pass; 0 where it never applies (a SimpleRNN,
        ``return_sequences``, a mask, or no compiled LSTM / GRU kernel for this layer)."""
        if self.kind == "SimpleRNN" or self.return_sequences or self.use_mask:
            return 0
        return fused.span_rows(self.rnn)

    def forward_spans(self, x: torch.Tensor, spans: torch.Tensor) -> torch.Tensor | None:
        """The last state of each row run over its span of steps alone (``spans``: int64 (B, 2)
        of first step and count; :func:`fused.ragged_spans`), through :func:`fused.gated`;
        None where that does not apply (see :meth:`span_rows`; also with gradients, tracing or
        autocast, and in training with dropout)."""
        if (not self.span_rows() or (self.training and self.dropout > 0)
                or not fused.applies_gated(self.rnn, x)):
            return None
        _, h = fused.gated(self.rnn, x, False, spans)
        return self._last_from_state(h)

    def _last_from_state(self, h):
        h = h[0] if isinstance(h, tuple) else h  # LSTM returns (h, c)
        if self.bidirectional:  # h: (2, B, units) = [forward final, backward final]
            return self._merge(torch.cat([h[0], h[1]], dim=-1))
        return h[-1]

    def _merge(self, out):
        if not self.bidirectional or self.merge_mode == "concat":
            return out
        fwd, bwd = out[..., : self.units], out[..., self.units:]
        if self.merge_mode == "sum":
            return fwd + bwd
        if self.merge_mode == "ave":
            return (fwd + bwd) / 2
        return fwd * bwd

    def _masked(self, x, mask):
        """Run over the real steps only. Padding may sit before ('pre') or after ('post') the
        tokens: rows are shifted so tokens come first, packed, run, and shifted back."""
        B, T, _ = x.shape
        lengths = mask.sum(1)
        first = torch.where(mask.any(1), mask.float().argmax(1), torch.zeros_like(lengths))
        idx = (torch.arange(T, device=x.device)[None, :] + first[:, None]).clamp(max=T - 1)
        shifted = x.gather(1, idx[..., None].expand(-1, -1, x.shape[2]))
        packed = nn.utils.rnn.pack_padded_sequence(shifted, lengths.clamp(min=1).cpu(), batch_first=True,
                                                   enforce_sorted=False)
        # an explicit zero initial state (what torch would make), sized from the batch: torch's own
        # comes from batch_sizes[0], which the ONNX exporter cannot lower for packed input
        zeros = x.new_zeros(2 if self.bidirectional else 1, B, self.units)
        out_p, h = self.rnn(packed, (zeros, zeros) if self.kind == "LSTM" else zeros)
        last = self._last_from_state(h)
        out = None
        if self.return_sequences:
            out_s, _ = nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True, total_length=T)
            back = (torch.arange(T, device=x.device)[None, :] - first[:, None])
            valid = (back >= 0) & (back < lengths[:, None])
            out = out_s.gather(1, back.clamp(0, T - 1)[..., None].expand(-1, -1, out_s.shape[2]))
            out = out * valid[..., None]
        return out, last

    def param_counts(self):
        t = sum(p.numel() for n, p in self.rnn.named_parameters() if p.requires_grad)
        return t, 0


class KerasDense(nn.Module):
    """Keras ``Dense(units, activation)``: glorot_uniform kernel, zero bias, on the last axis.
    ``fused=True`` leaves the activation to the caller (for a stable loss on logits)."""

    keras_class = "Dense"

    def __init__(self, input_dim: int, units: int, activation: str | None = None, fused: bool = False):
        super().__init__()
        self.linear = nn.Linear(input_dim, units)
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.activation = activation or "linear"
        self.fused = fused
        self._act = activation_fn(self.activation)

    def forward(self, x, mask=None):
        z = self.linear(x)
        return z if self.fused else self._act(z)

    def param_counts(self):
        return _counts(self)


class KerasBatchNorm(nn.Module):
    """Keras ``BatchNormalization`` over the last axis (momentum 0.99, epsilon 1e-3 by default)."""

    keras_class = "BatchNormalization"

    def __init__(self, dim: int, momentum: float = 0.99, epsilon: float = 1e-3):
        super().__init__()
        self.momentum, self.epsilon = momentum, epsilon
        self.gamma = nn.Parameter(torch.ones(dim))
        self.beta = nn.Parameter(torch.zeros(dim))
        self.register_buffer("moving_mean", torch.zeros(dim))
        self.register_buffer("moving_variance", torch.ones(dim))

    def forward(self, x, mask=None):
        if self.training:
            flat = x.reshape(-1, x.shape[-1])
            mean = flat.mean(0)
            var = flat.var(0, unbiased=False)
            with torch.no_grad():
                self.moving_mean.mul_(self.momentum).add_(mean.detach(), alpha=1 - self.momentum)
                self.moving_variance.mul_(self.momentum).add_(var.detach(), alpha=1 - self.momentum)
        else:
            mean, var = self.moving_mean, self.moving_variance
        return (x - mean) * torch.rsqrt(var + self.epsilon) * self.gamma + self.beta

    def param_counts(self):
        return 2 * self.gamma.numel(), 2 * self.gamma.numel()


class KerasDropout(nn.Module):
    """Keras ``Dropout(rate)``; ``spatial=True`` is ``SpatialDropout1D`` (whole feature
    channels dropped for a sequence)."""

    def __init__(self, rate: float, spatial: bool = False):
        super().__init__()
        self.rate, self.spatial = rate, spatial
        self.keras_class = "SpatialDropout1D" if spatial else "Dropout"

    def forward(self, x, mask=None):
        if not self.training or self.rate == 0:
            return x
        if self.spatial and x.dim() == 3:
            keep = torch.empty(x.shape[0], 1, x.shape[2], device=x.device, dtype=x.dtype).bernoulli_(1 - self.rate)
            return x * keep / (1 - self.rate)
        return F.dropout(x, self.rate, training=True)

    def param_counts(self):
        return 0, 0


class GlobalPool(nn.Module):
    """Keras ``GlobalMaxPooling1D`` / ``GlobalAveragePooling1D`` over time; with several
    ``modes`` the results are concatenated (max first, as listed). Padding steps are left out
    when a mask is given (Keras ``mask_zero``)."""

    def __init__(self, modes: list[str], keras_class: str):
        super().__init__()
        self.modes = list(modes)
        self.keras_class = keras_class

    def forward(self, x, mask=None):
        outs = []
        for mode in self.modes:
            if mode == "max":
                if mask is None:
                    outs.append(x.amax(1))
                else:  # rows without any real step (empty texts) pool to 0
                    pooled = x.masked_fill(~mask[..., None], float("-inf")).amax(1)
                    outs.append(torch.where(mask.any(1)[:, None], pooled, torch.zeros_like(pooled)))
            else:
                if mask is None:
                    outs.append(x.mean(1))
                else:
                    m = mask[..., None].to(x.dtype)
                    outs.append((x * m).sum(1) / m.sum(1).clamp(min=1))
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)

    def param_counts(self):
        return 0, 0


class Flatten(nn.Module):
    """Keras ``Flatten``: (batch, time, features) → (batch, time × features)."""

    keras_class = "Flatten"

    def forward(self, x, mask=None):
        return x.reshape(x.shape[0], -1)

    def param_counts(self):
        return 0, 0
