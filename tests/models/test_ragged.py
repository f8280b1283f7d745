"""Rows of different widths in one forward pass (inference): the fused LSTM / GRU with spans,
``RnnClassifier.forward_ragged`` and ``predict_outputs``'s pooled batches give what each row
gives padded to its own width alone, and the path is taken only where it applies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.config import from_dict
from rnnlab.engine import predict as engine_predict
from rnnlab.engine.batching import inference_widths, padded
from rnnlab.models import build_model, fused
from rnnlab.models.layers import KerasRNN
from rnnlab.text import Sequences

needs_gated = pytest.mark.skipif(fused.gated_library() is None, reason="fused LSTM / GRU unavailable (no C compiler)")


def _layer(kind, inp, units, bidirectional):
    torch.manual_seed(3)
    layer = KerasRNN(kind, inp, units, bidirectional=bidirectional).eval()
    with torch.no_grad():
        for name, p in layer.rnn.named_parameters():
            if name.startswith("bias") and p.requires_grad:
                p.uniform_(-0.5, 0.5)
    return layer


@needs_gated
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("inp", [3, 40])  # projected inside the C loop, and through torch first
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_spans_give_each_row_its_own_steps_alone(kind, bidirectional, inp, padding):
    layer = _layer(kind, inp, 16, bidirectional)
    T, widths = 24, torch.tensor([24, 8, 1, 16, 3, 24, 9])
    x = torch.randn(len(widths), T, inp)
    spans = fused.ragged_spans(widths, T, padding)
    with torch.inference_mode():
        _, last = fused.gated(layer.rnn, x, False, spans)
        for b, w in enumerate(widths.tolist()):
            own = x[b:b + 1, T - w:] if padding == "pre" else x[b:b + 1, :w]
            _, alone = fused.gated(layer.rnn, own, False)
            assert (last[:, b] - alone[:, 0]).abs().max() <= 1e-6, (b, w)
            _, h = layer.rnn(own)  # and torch's own kernel on the row alone
            h = h[0] if kind == "LSTM" else h
            assert (last[:, b] - h[:, 0]).abs().max() <= 1e-5


@needs_gated
def test_spans_outside_the_steps_are_refused():
    layer = _layer("GRU", 3, 8, False)
    x = torch.randn(2, 5, 3)
    with torch.inference_mode():
        for bad in ([[0, 6], [0, 5]], [[-1, 2], [0, 5]], [[0, 0], [0, 5]], [[4, 2], [0, 1]]):
            with pytest.raises(ValueError, match="span"):
                fused.gated(layer.rnn, x, False, torch.tensor(bad))
        with pytest.raises(ValueError, match="spans"):
            fused.gated(layer.rnn, x, True, torch.tensor([[0, 5], [0, 5]]))
        with pytest.raises(ValueError, match="spans"):
            fused.gated(layer.rnn, x, False, torch.tensor([[0, 5]]))


def _model(layers, mask_zero=False, vocab=50):
    cfg = from_dict({"model": {"input": "embedding", "layers": layers,
                               "embedding": {"dim": 4, "input_dim": vocab, "mask_zero": mask_zero}}})
    torch.manual_seed(0)
    model = build_model(cfg.model, vocab_size=vocab, maxlen=None).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "bias" in name and p.requires_grad:
                p.uniform_(-0.5, 0.5)
    return model


DENSE = {"type": "Dense", "units": 3, "activation": "sigmoid"}


@needs_gated
@pytest.mark.parametrize("rnn", [{"type": "LSTM", "units": 8}, {"type": "GRU", "units": 32, "bidirectional": True},
                                 {"type": "LSTM", "units": 40, "bidirectional": True}])
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_forward_ragged_equals_forward_at_each_rows_own_width(rnn, padding):
    model = _model([rnn, {"type": "Dense", "units": 5, "activation": "relu"}, {"type": "Dropout", "rate": 0.5}, DENSE])
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 40, 30)
    seqs = Sequences.from_lists([rng.integers(1, 50, n).tolist() for n in lengths])
    own = inference_widths(seqs.lengths)
    index = np.arange(len(lengths))
    ids = padded(seqs, index, int(own.max()), padding)
    with torch.inference_mode():
        got = model.forward_ragged(ids, torch.from_numpy(own), padding)
        assert got is not None
        for b in index:
            want = model(padded(seqs, index[b:b + 1], int(own[b]), padding))
            assert (got[b] - want[0]).abs().max() <= 1e-6


@needs_gated
def test_forward_ragged_applies_only_where_each_row_can_run_alone():
    none = [[{"type": "SimpleRNN", "units": 8}, DENSE],
            [{"type": "GRU", "units": 8, "return_sequences": True}, {"type": "GlobalMaxPooling1D"}, DENSE],
            [{"type": "SpatialDropout1D", "rate": 0.1}, {"type": "LSTM", "units": 8}, DENSE],
            [{"type": "LSTM", "units": fused.MAX_GATED_LSTM_UNITS + 1}, DENSE]]
    for layers in none:
        assert _model(layers).ragged_rows() == 0, layers
    assert _model([{"type": "LSTM", "units": 8}, DENSE], mask_zero=True).ragged_rows() == 0
    model = _model([{"type": "GRU", "units": 8}, DENSE])
    assert model.ragged_rows() == fused.MAX_GATED_ROWS
    ids, widths = torch.ones(3, 8, dtype=torch.int64), torch.tensor([8, 8, 8])
    assert model.forward_ragged(ids, widths, "pre") is None  # gradients wanted: torch's kernel has the backward
    with torch.inference_mode():
        assert model.forward_ragged(ids, widths, "pre") is not None
        too_many = torch.ones(fused.MAX_GATED_ROWS + 1, 8, dtype=torch.int64)
        assert model.forward_ragged(too_many, torch.full((len(too_many),), 8), "pre") is None


@needs_gated
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_predict_outputs_pools_small_widths_and_equals_one_pass_per_width(padding, monkeypatch):
    model = _model([{"type": "LSTM", "units": 16, "bidirectional": True}, DENSE])
    rng = np.random.default_rng(1)
    lengths = np.concatenate([rng.integers(0, 200, 300), np.full(200, 37)])  # one width with many rows
    seqs = Sequences.from_lists([rng.integers(1, 50, n).tolist() for n in rng.permutation(lengths)])
    calls = []
    forward = type(model).forward_ragged
    monkeypatch.setattr(type(model), "forward_ragged", lambda *a, **k: calls.append(1) or forward(*a, **k))
    got, _ = engine_predict.predict_outputs(model, seqs, 128, padding, None, torch.device("cpu"), maxlen=160)
    assert 0 < len(calls) < 20  # pooled: ~300 rows of 20 widths in 128-row passes; the width of 200 rows alone
    want = np.empty_like(got)
    with torch.inference_mode():
        for index, w in engine_predict.inference_batches(seqs.lengths, 128, True, 160):
            want[index] = model(padded(seqs, index, w, padding)).numpy()
    assert np.abs(got - want).max() <= 1e-6


@needs_gated
def test_predict_outputs_falls_back_to_one_pass_per_width_when_the_kernel_declines(monkeypatch):
    model = _model([{"type": "GRU", "units": 8}, DENSE])
    rng = np.random.default_rng(2)
    seqs = Sequences.from_lists([rng.integers(1, 50, n).tolist() for n in rng.integers(0, 60, 40)])
    want, _ = engine_predict.predict_outputs(model, seqs, 64, "pre", None, torch.device("cpu"))
    monkeypatch.setattr(fused, "applies_gated", lambda rnn, x: False)  # e.g. under autocast
    got, _ = engine_predict.predict_outputs(model, seqs, 64, "pre", None, torch.device("cpu"))
    assert np.abs(got - want).max() <= 1e-5
