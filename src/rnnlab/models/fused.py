"""Fused recurrences for small hidden sizes, compiled on first use: SimpleRNN (training and
inference), LSTM and GRU training up to 32 units, and LSTM and GRU inference on small batches.

torch runs an RNN step as a few tiny kernels (a matrix product of batch x units by units x units,
an add, a tanh) and as many again backward: for the blog's SimpleRNN(8) each costs far more to
dispatch than to compute, 100 steps per batch. Here the input projection of every step stays one
torch matrix product (``x @ W_ih^T + b``, autograd as usual) and the recurrence itself, forward
and backward through time (``W_hh``'s gradient included), is one call into C (``fused_rnn.c``;
eight rows at a time in vector registers, :func:`simple_rnn`), compiled with the
system's C compiler (``$CC``, else ``cc``) into rnnlab's cache folder the first time it is needed
and loaded with ctypes (no Python headers, no torch headers: it builds in about a second).

The numbers are Keras's: ``h_t = tanh(x_t W_ih^T + b_ih + b_hh + h_{t-1} W_hh^T)`` in float32,
forward and gradient within 1e-5 of torch's own ``nn.RNN`` (tests/models/test_fused.py).

When it applies (:func:`applies`): training and inference (the recurrence is faster than torch's
for M2's shape, 100 steps of 8 units, in batches of 64 as of 1,024; bench/run.py's ``m2`` part
measures the whole model both ways), not while tracing (ONNX export), SimpleRNN, one
direction, no mask (``mask_zero`` models use packed sequences), units <= ``MAX_UNITS``, float32 on
the CPU, ``RNNLAB_COMPILE`` not ``off``, and a library that built. Otherwise, e.g.
without a C compiler, torch's ``nn.RNN`` runs, as before (:func:`status` says why).

An embedding straight into such a layer (the blog's M2) goes further (:func:`simple_rnn_from_ids`):
the projection of the vocabulary's rows, then the lookup of those inside the C loop.

LSTM and GRU training (the end of this module): one-direction LSTMs and GRUs of either direction,
up to 32 units (:func:`lstm_train`, :func:`gru_train`), the forward pass keeping what the backward
pass through time needs, within 1e-5 of torch's outputs and gradients.

LSTM and GRU inference (the second half of ``fused_rnn.c``, :func:`gated`): the forward pass only, so only where no
gradient is wanted (``Run.predict``, serving, validation inside training), one layer, either
direction, where it measured faster than torch's own kernel (oneDNN): up to ``SMALL_UNITS`` units
for forward passes of up to ``MAX_GATED_ROWS`` rows, above that GRUs up to ``MAX_GATED_UNITS``
and LSTMs up to ``MAX_GATED_LSTM_UNITS`` units for passes of up to ``MAX_GATED_ROWS_WIDE`` rows
(:func:`gated_limits`); up to ``MAX_INLINE_INPUTS`` inputs the input projection runs inside the
loop too; within 1e-5 of torch's outputs (tests/models/test_fused.py).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch

from .._cc import ENV, enabled, load

MAX_UNITS = 32  # above this the per-step products are real work and torch's kernels win
SOURCE = Path(__file__).with_name("fused_rnn.c")
# FP compares cannot trap: lets the compiler turn fast_tanh's clamp into vector min / max, so the
# loops of activations vectorize (with the default, GCC 12 left the LSTM / GRU ones scalar: the
# LSTM forward ran at 0.7x torch's rows/s in batches of 64 on an AMD EPYC, 1.x with it). The
# values are the same: it changes no arithmetic, only whether a compare may raise an FP flag.
CFLAGS = ("-fno-trapping-math",)
_state: dict = {}


def _declare(dll: ctypes.CDLL) -> None:
    f, i, p = ctypes.c_long, ctypes.c_int, ctypes.c_void_p
    dll.rnn_forward.argtypes = [p, p, p, f, p, p, f, f, f, i]
    dll.rnn_backward.argtypes = [p, p, p, p, p, p, p, f, f, f, i]
    dll.rnn_forward.restype = dll.rnn_backward.restype = ctypes.c_int
    dll.lstm_forward.argtypes = [p, p, p, p, f, p, p, f, p, p, f, f, f, i]
    dll.gru_forward.argtypes = [p, p, p, p, f, p, p, p, f, p, p, f, f, f, i]
    dll.lstm_forward.restype = dll.gru_forward.restype = ctypes.c_int
    dll.lstm_train_forward.argtypes = [p, p, p, p, f, p, p, p, p, f, f, f]
    dll.lstm_train_backward.argtypes = [p, p, p, p, p, p, p, f, p, p, p, f, f, f]
    dll.lstm_train_forward.restype = dll.lstm_train_backward.restype = ctypes.c_int
    dll.gru_train_forward.argtypes = [p, p, p, p, p, f, f, f, i]
    dll.gru_train_backward.argtypes = [p, p, p, p, p, p, f, f, f, i]
    dll.gru_train_forward.restype = dll.gru_train_backward.restype = ctypes.c_int


def library() -> ctypes.CDLL | None:
    """The compiled recurrence, or None when it cannot be built here (the reason in
    ``_state['reason']``)."""
    return load(_state, SOURCE, "fused", _declare, CFLAGS)


def status() -> str:
    """One line: whether the fused recurrence is used here, and if not, why."""
    if not enabled():
        return f"off ({ENV}=off)"
    return "on" if library() is not None else f"off ({_state.get('reason')})"


def applies(rnn: torch.nn.RNNBase, x: torch.Tensor) -> bool:
    """True when :func:`simple_rnn` can run ``rnn`` on ``x`` (see the module docstring)."""
    return (isinstance(rnn, torch.nn.RNN) and not rnn.bidirectional and rnn.num_layers == 1
            and rnn.hidden_size <= MAX_UNITS and rnn.batch_first and x.dtype == torch.float32
            and x.device.type == "cpu" and x.dim() == 3
            and not torch.jit.is_tracing()  # ONNX export traces
            and not torch.jit.is_scripting() and not _autocast() and enabled() and library() is not None)


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


def _autocast() -> bool:
    """Whether CPU autocast is on (``fit.precision = "bf16"``): its products return bfloat16, which
    the C loops (float32 only) must not read; torch's own kernels run then."""
    return torch.is_autocast_enabled("cpu")


def _check(rc: int, what: str, T: int, H: int) -> None:
    if rc == -2:
        raise IndexError("index out of range in self (a token id >= the embedding's input_dim)")
    if rc:
        raise MemoryError(f"the fused SimpleRNN's {what} could not allocate its buffers ({T} steps x {H} units)")


class _Recurrence(torch.autograd.Function):
    """h = the recurrence over xw (B, T, H), every step's input projection."""

    @staticmethod
    def forward(ctx, xw, w_hh, act):
        xw, w = xw.contiguous(), w_hh.detach().contiguous()
        B, T, H = xw.shape
        h = torch.empty_like(xw)
        _check(library().rnn_forward(_ptr(xw), None, None, 0, _ptr(w), _ptr(h), B, T, H, act), "forward", T, H)
        ctx.save_for_backward(h, w)
        ctx.act = act
        return h

    @staticmethod
    def backward(ctx, dh):
        h, w = ctx.saved_tensors
        B, T, H = h.shape
        dh = dh.contiguous()
        dxw = torch.empty_like(h)
        dw = torch.empty_like(w)  # sum over rows and steps t >= 1 of dxw[b, t] (outer) h[b, t-1]
        rc = library().rnn_backward(_ptr(h), _ptr(w), _ptr(dh), _ptr(dxw), None, None, _ptr(dw), B, T, H, ctx.act)
        _check(rc, "backward", T, H)
        return dxw, dw, None


class _IdsRecurrence(torch.autograd.Function):
    """h = the recurrence over proj[ids] + bias: proj (V, H) is a vocabulary's input projections,
    looked up inside the C loop; the gradients of proj (summed per id, in index_add_'s order) and
    bias come out of the same backward call."""

    @staticmethod
    def forward(ctx, proj, bias, w_hh, ids, act):
        proj, bias, w = proj.contiguous(), bias.contiguous(), w_hh.detach().contiguous()
        ids = ids.contiguous()
        (B, T), (V, H) = ids.shape, proj.shape
        h = proj.new_empty(B, T, H)
        rc = library().rnn_forward(_ptr(proj), _ptr(ids), _ptr(bias), V, _ptr(w), _ptr(h), B, T, H, act)
        _check(rc, "forward", T, H)
        ctx.save_for_backward(h, w, ids)
        ctx.act, ctx.rows = act, V
        return h

    @staticmethod
    def backward(ctx, dh):
        h, w, ids = ctx.saved_tensors
        B, T, H = h.shape
        dh = dh.contiguous()
        dproj = h.new_zeros(ctx.rows, H)
        db, dw = h.new_empty(H), torch.empty_like(w)
        rc = library().rnn_backward(_ptr(h), _ptr(w), _ptr(dh), _ptr(dproj), _ptr(ids), _ptr(db), _ptr(dw),
                                    B, T, H, ctx.act)
        _check(rc, "backward", T, H)
        return dproj, db, dw, None, None


def simple_rnn(rnn: torch.nn.RNN, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What ``rnn(x)`` returns — (every step's output (B, T, H), the last state (1, B, H)) —
    through the fused recurrence; call only where :func:`applies` is True."""
    xw = torch.nn.functional.linear(x, rnn.weight_ih_l0, rnn.bias_ih_l0 + rnn.bias_hh_l0)
    act = 0 if rnn.nonlinearity == "tanh" else 1
    out = _Recurrence.apply(xw, rnn.weight_hh_l0, act)
    return out, out[:, -1].unsqueeze(0)


def projects_table(rnn: torch.nn.RNN, table: torch.Tensor, ids: torch.Tensor) -> bool:
    """True when :func:`simple_rnn_from_ids` pays: the fused recurrence applies to ``rnn`` fed
    by lookups of ``table`` and the table has fewer rows than the batch has ids."""
    return (table.dim() == 2 and table.shape[0] < ids.numel() and ids.dim() == 2
            and applies(rnn, table.unsqueeze(0)))


def simple_rnn_from_ids(rnn: torch.nn.RNN, table: torch.Tensor,
                        ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What :func:`simple_rnn` returns for ``x = table[ids]`` (an embedding lookup): the input
    projection of each vocabulary row once (``table @ W_ih^T``, vocabulary x units, a torch
    product), not of each of the batch's ids, and the lookup of those rows inside the C loop
    (``units`` values per id instead of the embedding's ``dim``, no (B, T, units) tensor in
    between). Backward, the same call sums each step's gradient per id (in ``index_add_``'s
    order) and over all for the bias; torch takes the table's and ``W_ih``'s from there. M2's
    shape (500 x 16 embedding, 8 units, 64 x 100 ids per batch): the training step 1.4x faster
    than looking up, projecting and recurring separately. Call only where
    :func:`projects_table` is True."""
    proj = torch.nn.functional.linear(table, rnn.weight_ih_l0)
    act = 0 if rnn.nonlinearity == "tanh" else 1
    out = _IdsRecurrence.apply(proj, rnn.bias_ih_l0 + rnn.bias_hh_l0, rnn.weight_hh_l0, ids.long(), act)
    return out, out[:, -1].unsqueeze(0)


# ---------------------------------------------------------------- LSTM and GRU, inference only

# Where the fused LSTM / GRU forward beats torch's (oneDNN's RNN primitive): rows/s of fused over
# torch, one thread, 60 steps, 2-core AMD EPYC VM, 2026-12-02 (`python bench/fused_gated.py`, after
# the recurrent product's register blocks):
#   32 units: LSTM 1.8-3.1x at 8-1,024 rows (3 or 50 inputs); GRU 1.8-10x;
#   64 units, 50 inputs: LSTM 1.1-1.4x at 8-64 rows, 0.8x at 1,024; GRU 1.4x at 64, 1.2x at 1,024;
#   128 units, 50 inputs: LSTM 0.7-1.0x everywhere; GRU 1.9x at 8 rows, 1.1x at 64, 0.97x at 1,024.
# Larger hidden sizes make the per-step product memory-bound (the weight leaves L1).
SMALL_UNITS = 32
MAX_GATED_ROWS = 1024  # rows of one forward pass, up to SMALL_UNITS units
MAX_GATED_ROWS_WIDE = 64  # rows of one forward pass above SMALL_UNITS units
MAX_GATED_UNITS = 128  # fused_rnn.c's MAX_H (GRU)
MAX_GATED_LSTM_UNITS = 64
# Input sizes whose projection runs inside the C loop, step by step, rather than as one matrix
# product into a (rows, steps, gates) array first: 1.0-2.0x the rows/s with 3 inputs (most at
# 1,024 rows, where that array leaves the cache), mostly 0.7-0.9x with 50 (same script).
MAX_INLINE_INPUTS = 16


def gated_limits(rnn: torch.nn.RNNBase) -> tuple[int, int]:
    """(most units, most rows of one forward pass) for which :func:`gated` runs ``rnn``."""
    units = MAX_GATED_UNITS if isinstance(rnn, torch.nn.GRU) else MAX_GATED_LSTM_UNITS
    return units, MAX_GATED_ROWS if rnn.hidden_size <= SMALL_UNITS else MAX_GATED_ROWS_WIDE


def gated_library() -> ctypes.CDLL | None:
    """The compiled library with the LSTM / GRU forward passes (the same as :func:`library`)."""
    return library()


def applies_gated(rnn: torch.nn.RNNBase, x: torch.Tensor) -> bool:
    """True when :func:`gated` can run ``rnn`` on ``x``: an LSTM or GRU of one layer (either
    direction) within :func:`gated_limits` (units and rows of the pass), float32 on the CPU, no
    gradient wanted (inference mode or ``no_grad``: it has no backward pass), not tracing, and a
    library that built."""
    if not isinstance(rnn, (torch.nn.LSTM, torch.nn.GRU)):
        return False
    units, rows = gated_limits(rnn)
    return (rnn.num_layers == 1 and rnn.batch_first and x.dim() == 3 and 0 < x.shape[0] <= rows
            and rnn.bias and getattr(rnn, "proj_size", 0) == 0 and rnn.hidden_size <= units
            and not torch.is_grad_enabled() and x.dtype == torch.float32 and x.device.type == "cpu"
            and x.shape[1] > 0 and not torch.jit.is_tracing() and not torch.jit.is_scripting()
            and not _autocast() and enabled() and gated_library() is not None)


def span_rows(rnn: torch.nn.RNNBase) -> int:
    """Most rows of one :func:`gated` call with spans for ``rnn``: the row limit of
    :func:`gated_limits` for an LSTM or GRU of one layer within its units, with the library
    built and enabled; 0 where :func:`gated` cannot run it at all."""
    if not isinstance(rnn, (torch.nn.LSTM, torch.nn.GRU)):
        return 0
    units, rows = gated_limits(rnn)
    ok = (rnn.num_layers == 1 and rnn.batch_first and rnn.bias and getattr(rnn, "proj_size", 0) == 0
          and rnn.hidden_size <= units and enabled() and gated_library() is not None)
    return rows if ok else 0


def gated(rnn: torch.nn.RNNBase, x: torch.Tensor, return_sequences: bool,
          spans: torch.Tensor | None = None) -> tuple[torch.Tensor | None, torch.Tensor]:
    """What ``rnn(x)`` returns without the gradient — (every step's output (B, T, directions *
    units), or None when ``return_sequences`` is False; the last state of each direction
    (directions, B, units), an LSTM's h) — through ``fused_rnn.c``; call only where
    :func:`applies_gated` is True.

    Args:
        rnn: the LSTM or GRU.
        x: its input (B, T, features).
        return_sequences: also return every step's output.
        spans: None (every row runs all T steps), or int64 (B, 2): row ``b`` runs only steps
            ``spans[b, 0]`` to ``spans[b, 0] + spans[b, 1] - 1`` from a zero state, so each row's
            last state is what ``rnn`` gives on those steps alone: rows padded to different widths
            share one call (:func:`ragged_spans`). Only with ``return_sequences`` False.

    Raises:
        ValueError: a span outside the T steps, or spans with ``return_sequences``.
    """
    lib, lstm = gated_library(), isinstance(rnn, torch.nn.LSTM)
    B, T, n_in = x.shape
    H, D = rnn.hidden_size, 2 if rnn.bidirectional else 1
    if spans is not None and (return_sequences or spans.shape != (B, 2) or spans.dtype != torch.int64):
        raise ValueError(f"spans must be int64 of shape ({B}, 2) and return_sequences False; got "
                         f"{spans.dtype} {tuple(spans.shape)}, return_sequences={return_sequences}")
    span = 0 if spans is None else _ptr(spans := spans.contiguous())  # held: the C call reads it
    out = torch.empty(B, T, D * H) if return_sequences else None
    last = torch.empty(D, B, H)
    inline = n_in <= MAX_INLINE_INPUTS
    x = x.contiguous()
    for d, suffix in enumerate(("_l0", "_l0_reverse")[:D]):
        w_ih, w_hh = getattr(rnn, "weight_ih" + suffix), getattr(rnn, "weight_hh" + suffix)
        b_ih, b_hh = getattr(rnn, "bias_ih" + suffix), getattr(rnn, "bias_hh" + suffix)
        bias = (b_ih + b_hh if lstm else b_ih).contiguous()
        if inline:  # the input projection step by step, in the C loop
            xw, wit = None, w_ih.t().contiguous()
            args = (0, _ptr(x), _ptr(wit), _ptr(bias), n_in)
        else:  # one matrix product for every step at once
            xw = torch.nn.functional.linear(x, w_ih, bias).contiguous()
            args = (_ptr(xw), 0, 0, 0, 0)
        wt = w_hh.t().contiguous()
        where = 0 if out is None else out.data_ptr() + d * H * out.element_size()
        if lstm:
            rc = lib.lstm_forward(*args, _ptr(wt), where, D * H, _ptr(last[d]), span, B, T, H, d)
        else:
            bh = b_hh.contiguous()  # held here: the C call reads it
            rc = lib.gru_forward(*args, _ptr(wt), _ptr(bh), where, D * H, _ptr(last[d]), span, B, T, H, d)
        if rc == -2:
            raise ValueError(f"every span must lie within the {T} steps, with a count >= 1")
        _check_gated(rc, H)
    return out, last


def ragged_spans(widths: torch.Tensor, T: int, padding: str) -> torch.Tensor:
    """:func:`gated`'s spans for rows padded to ``T`` steps whose own padded widths are
    ``widths`` (each <= T): with 'pre' padding a row's steps are its last ``width``, with 'post'
    its first ``width``; either way the row's steps are exactly those it has when padded to its
    own width alone."""
    widths = widths.to(torch.int64)
    first = T - widths if padding == "pre" else torch.zeros_like(widths)
    return torch.stack([first, widths], dim=1)


# ---------------------------------------------------------------- LSTM training

MAX_TRAIN_LSTM_UNITS = 32


def applies_lstm_train(rnn: torch.nn.RNNBase, x: torch.Tensor) -> bool:
    """True when :func:`lstm_train` can run ``rnn`` on ``x`` with its gradient: an LSTM of one
    layer, one direction, up to ``MAX_TRAIN_LSTM_UNITS`` units, float32 on the CPU, a gradient
    wanted, not tracing, and a library that built."""
    return (isinstance(rnn, torch.nn.LSTM) and not rnn.bidirectional and rnn.num_layers == 1 and rnn.batch_first
            and rnn.bias and rnn.proj_size == 0 and rnn.hidden_size <= MAX_TRAIN_LSTM_UNITS
            and torch.is_grad_enabled() and x.dim() == 3 and x.shape[0] > 0 and x.shape[1] > 0
            and x.dtype == torch.float32 and x.device.type == "cpu"
            and not torch.jit.is_tracing() and not torch.jit.is_scripting() and not _autocast() and enabled()
            and library() is not None)


class _LstmTrain(torch.autograd.Function):
    """hs = the LSTM's outputs over xw (B, T, 4H), every step's input projection."""

    @staticmethod
    def forward(ctx, xw, w_hh):
        xw, w = xw.contiguous(), w_hh.detach().contiguous()
        B, T, G = xw.shape
        H = G // 4
        hs, cs, acts = xw.new_empty(B, T, H), xw.new_empty(B, T, H), torch.empty_like(xw)
        wt = w.t().contiguous()  # held here: the C call reads it
        _check_gated(library().lstm_train_forward(_ptr(xw), None, None, None, 0, _ptr(wt), _ptr(hs), _ptr(acts),
                                                  _ptr(cs), B, T, H), H)
        ctx.save_for_backward(hs, acts, cs, w)
        return hs

    @staticmethod
    def backward(ctx, dhs):
        hs, acts, cs, w = ctx.saved_tensors
        B, T, H = hs.shape
        dg, dhs = torch.empty_like(acts), dhs.contiguous()
        _check_gated(library().lstm_train_backward(_ptr(acts), _ptr(cs), _ptr(w), _ptr(dhs), _ptr(dg), None, None,
                                                   0, None, None, None, B, T, H), H)
        return dg, _dw_hh(dg, hs)


class _LstmTrainInline(torch.autograd.Function):
    """hs = the LSTM's outputs over x (B, T, I), up to ``MAX_INLINE_INPUTS`` inputs projected
    inside the C loop; the backward call gives x's, W_ih's and the bias's gradients too (torch's
    products of (rows x 4H) by (4H x I) for a handful of inputs took longer than the whole
    recurrence)."""

    @staticmethod
    def forward(ctx, x, w_ih, bias, w_hh):
        x, w = x.contiguous(), w_hh.detach().contiguous()
        B, T, n_in = x.shape
        H = w.shape[1]
        wit, wt, b = w_ih.detach().t().contiguous(), w.t().contiguous(), bias.detach().contiguous()
        hs, cs, acts = x.new_empty(B, T, H), x.new_empty(B, T, H), x.new_empty(B, T, 4 * H)
        _check_gated(library().lstm_train_forward(None, _ptr(x), _ptr(wit), _ptr(b), n_in, _ptr(wt), _ptr(hs),
                                                  _ptr(acts), _ptr(cs), B, T, H), H)
        ctx.save_for_backward(x, wit, hs, acts, cs, w)
        return hs

    @staticmethod
    def backward(ctx, dhs):
        x, wit, hs, acts, cs, w = ctx.saved_tensors
        (B, T, n_in), H = x.shape, hs.shape[2]
        dg, dhs = torch.empty_like(acts), dhs.contiguous()
        dx, dwit, db = torch.empty_like(x), torch.empty_like(wit), acts.new_empty(4 * H)
        _check_gated(library().lstm_train_backward(_ptr(acts), _ptr(cs), _ptr(w), _ptr(dhs), _ptr(dg), _ptr(x),
                                                   _ptr(wit), n_in, _ptr(dx), _ptr(dwit), _ptr(db), B, T, H), H)
        return dx, dwit.t(), db, _dw_hh(dg, hs)


def _check_gated(rc: int, units: int) -> None:
    if rc:
        raise ValueError(f"the fused LSTM takes at most {MAX_GATED_UNITS} units and {MAX_INLINE_INPUTS} inline "
                         f"inputs; got {units} units")


def _dw_hh(dg: torch.Tensor, hs: torch.Tensor, reverse: bool = False) -> torch.Tensor:
    """W_hh's gradient: the sum over rows and steps of dg[b, t] (outer) the h before step t in this
    direction (zeros at the first), one product; ``dg`` holds G = gates x H values per step."""
    hp = torch.zeros_like(hs)
    if reverse:
        hp[:, :-1] = hs[:, 1:]
    else:
        hp[:, 1:] = hs[:, :-1]
    return dg.reshape(-1, dg.shape[2]).t() @ hp.reshape(-1, hs.shape[2])


def lstm_train(rnn: torch.nn.LSTM, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, None]]:
    """What ``rnn(x)`` returns, with its gradient, but the last cell state (not used by rnnlab's
    layers; None): (every step's output (B, T, H), (the last output (1, B, H), None)). Up to
    ``MAX_INLINE_INPUTS`` inputs the projection runs in the C loop; else it is one torch product.
    The recurrence forward and backward through time is one C call each. Call only where
    :func:`applies_lstm_train` is True."""
    bias = rnn.bias_ih_l0 + rnn.bias_hh_l0
    if x.shape[2] <= MAX_INLINE_INPUTS:
        hs = _LstmTrainInline.apply(x, rnn.weight_ih_l0, bias, rnn.weight_hh_l0)
    else:
        hs = _LstmTrain.apply(torch.nn.functional.linear(x, rnn.weight_ih_l0, bias), rnn.weight_hh_l0)
    return hs, (hs[:, -1].unsqueeze(0), None)


# ---------------------------------------------------------------- GRU training

# Training a GRU, fused over torch's (forward and backward, time per batch, one thread, AMD EPYC VM,
# 2026-12-02): 32 units 1.3x (256 rows x 60 steps, both directions, 128 inputs) to 8.8x (32 rows x
# 200 steps, 16 units); 64 units, both directions, 128 inputs: 1.5x at 64 rows, 1.17x at 128,
# 1.06x at 256, 1.0x at 512, 0.98x at 1,024, and M3's epoch (BiGRU(64), batches of 256) no faster
# in bench/run.py --only m3: torch's per-step products grow efficient with the rows, these loops go
# row by row. So above 32 units torch trains.
MAX_TRAIN_GRU_UNITS = 64


def applies_gru_train(rnn: torch.nn.RNNBase, x: torch.Tensor) -> bool:
    """True when :func:`gru_train` can run ``rnn`` on ``x`` with its gradient: a GRU of one layer
    (either direction), up to ``MAX_TRAIN_GRU_UNITS`` units, float32 on the CPU, a gradient
    wanted, not tracing, and a library that built."""
    return (isinstance(rnn, torch.nn.GRU) and rnn.num_layers == 1 and rnn.batch_first and rnn.bias
            and rnn.hidden_size <= MAX_TRAIN_GRU_UNITS and torch.is_grad_enabled() and x.dim() == 3
            and x.shape[0] > 0 and x.shape[1] > 0 and x.dtype == torch.float32 and x.device.type == "cpu"
            and not torch.jit.is_tracing() and not torch.jit.is_scripting() and not _autocast() and enabled()
            and library() is not None)


class _GruTrain(torch.autograd.Function):
    """hs = one direction of a GRU over xw (B, T, 3H), every step's input projection with b_ih;
    b_hh and W_hh enter here."""

    @staticmethod
    def forward(ctx, xw, w_hh, b_hh, reverse):
        xw, w, bh = xw.contiguous(), w_hh.detach().contiguous(), b_hh.detach().contiguous()
        B, T, G = xw.shape
        H = G // 3
        hs, acts = xw.new_empty(B, T, H), xw.new_empty(B, T, 4 * H)
        wt = w.t().contiguous()  # held here: the C call reads it
        _check_gated(library().gru_train_forward(_ptr(xw), _ptr(wt), _ptr(bh), _ptr(hs), _ptr(acts), B, T, H,
                                                 int(reverse)), H)
        ctx.save_for_backward(hs, acts, w)
        ctx.reverse = reverse
        return hs

    @staticmethod
    def backward(ctx, dhs):
        hs, acts, w = ctx.saved_tensors
        B, T, H = hs.shape
        dhs = dhs.contiguous()
        dxw, dhw = hs.new_empty(B, T, 3 * H), hs.new_empty(B, T, 3 * H)
        _check_gated(library().gru_train_backward(_ptr(hs), _ptr(acts), _ptr(w), _ptr(dhs), _ptr(dxw), _ptr(dhw),
                                                  B, T, H, int(ctx.reverse)), H)
        return dxw, _dw_hh(dhw, hs, ctx.reverse), dhw.sum((0, 1)), None


def gru_train(rnn: torch.nn.GRU, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What ``rnn(x)`` returns, with its gradient: (every step's output (B, T, directions x H),
    the last state of each direction (directions, B, H)). The input projection is one torch
    product per direction; the recurrence forward and backward through time one C call each.
    Call only where :func:`applies_gru_train` is True."""
    outs, lasts = [], []
    for d, suffix in enumerate(("_l0", "_l0_reverse")[:2 if rnn.bidirectional else 1]):
        xw = torch.nn.functional.linear(x, getattr(rnn, "weight_ih" + suffix), getattr(rnn, "bias_ih" + suffix))
        hs = _GruTrain.apply(xw, getattr(rnn, "weight_hh" + suffix), getattr(rnn, "bias_hh" + suffix), d == 1)
        outs.append(hs)
        lasts.append(hs[:, 0] if d == 1 else hs[:, -1])
    return (outs[0] if len(outs) == 1 else torch.cat(outs, -1)), torch.stack(lasts)
