"""The fused SimpleRNN recurrence (rnnlab.models.fused): the same outputs and gradients as
torch's nn.RNN within 1e-5, used only where it applies, and torch's path when it cannot be built."""

from __future__ import annotations

import warnings

import pytest
import torch

from rnnlab.models import fused
from rnnlab.models.layers import KerasRNN

needs_lib = pytest.mark.skipif(fused.library() is None, reason=f"fused recurrence unavailable: {fused.status()}")


def _run(layer, x, g, env, monkeypatch):
    monkeypatch.setenv(fused.ENV, env)
    layer.zero_grad()
    x = x.clone().requires_grad_(True)
    out = layer(x)
    (out * g).sum().backward()
    return [out.detach(), x.grad, layer.rnn.weight_hh_l0.grad, layer.rnn.weight_ih_l0.grad, layer.rnn.bias_ih_l0.grad]


@needs_lib
@pytest.mark.parametrize("act", ["tanh", "relu"])
@pytest.mark.parametrize("seq", [True, False])
@pytest.mark.parametrize("shape", [(64, 100, 16, 8), (3, 1, 5, 4), (5, 7, 2, 32)])
def test_fused_equals_torch_forward_and_gradients(act, seq, shape, monkeypatch):
    B, T, inp, units = shape
    torch.manual_seed(0)
    layer = KerasRNN("SimpleRNN", inp, units, return_sequences=seq, activation=act)
    with torch.no_grad():
        layer.rnn.bias_ih_l0.uniform_(-0.5, 0.5)
    x = torch.randn(B, T, inp)
    g = torch.randn(B, T, units) if seq else torch.randn(B, units)
    assert fused.applies(layer.rnn, x)
    got, want = _run(layer, x, g, "auto", monkeypatch), _run(layer, x, g, "off", monkeypatch)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, b.abs().max().item()))
    assert not torch.equal(got[2], want[2]) or T == 1  # the fused path really ran (other summation order)


@needs_lib
def test_fused_path_is_used_only_where_it_applies(monkeypatch):
    x = torch.randn(2, 3, 4)
    assert not fused.applies(KerasRNN("SimpleRNN", 4, 8, bidirectional=True).rnn, x)
    assert not fused.applies(KerasRNN("SimpleRNN", 4, fused.MAX_UNITS + 1).rnn, x)
    assert not fused.applies(KerasRNN("LSTM", 4, 8).rnn, x)
    assert not fused.applies(KerasRNN("SimpleRNN", 4, 8).rnn, x.double())
    with torch.no_grad():  # inference too
        assert fused.applies(KerasRNN("SimpleRNN", 4, 8).rnn, x)
    assert fused.applies(KerasRNN("SimpleRNN", 4, 8).rnn, x)
    monkeypatch.setenv(fused.ENV, "off")
    assert not fused.applies(KerasRNN("SimpleRNN", 4, 8).rnn, x) and fused.status().startswith("off")


@needs_lib
def test_inference_through_the_fused_path_equals_torch():
    layer = KerasRNN("SimpleRNN", 4, 8).eval()
    x = torch.randn(5, 30, 4)
    with torch.no_grad():
        got = layer(x)
        want, _ = layer.rnn(x)  # nn.RNN itself
    assert torch.allclose(got, want[:, -1], atol=1e-5)


@needs_lib
def test_tracing_uses_torch_rnn():  # ONNX export traces the model: it must see nn.RNN
    layer = KerasRNN("SimpleRNN", 4, 8).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on nn.RNN's shape checks
        traced = torch.jit.trace(layer, torch.randn(2, 5, 4))
    assert "aten::rnn_tanh" in str(traced.inlined_graph)


def test_without_a_compiler_torch_runs(monkeypatch, tmp_path):
    monkeypatch.setattr(fused, "_state", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no cc / gcc
    assert fused.library() is None and fused.status() == "off (no C compiler (cc / gcc / $CC) found)"
    layer = KerasRNN("SimpleRNN", 4, 8)
    x = torch.randn(2, 5, 4)
    assert not fused.applies(layer.rnn, x)
    out, _ = layer.rnn(x)
    assert torch.equal(layer(x), out[:, -1])


def test_kernels_are_built_for_this_cpu_and_keyed_by_its_flags(monkeypatch, tmp_path):
    from rnnlab import _cc

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    real = _cc.subprocess.run
    monkeypatch.setattr(_cc.subprocess, "run", lambda cmd, **kw: (calls.append(cmd), real(cmd, **kw))[1])
    monkeypatch.setattr(_cc, "cpu_flags", lambda: "fpu sse2 avx2")
    lib, why = _cc.build(fused.SOURCE, "fused")
    assert lib is not None, why
    assert "-march=native" in calls[0]
    monkeypatch.setattr(_cc, "cpu_flags", lambda: "fpu sse2")  # another CPU: another library
    calls.clear()
    assert _cc.build(fused.SOURCE, "fused")[0] is not None and calls
    assert len(list((tmp_path / "rnnlab" / "fused").glob("*.so"))) == 2
    monkeypatch.setattr(_cc, "cpu_flags", lambda: "")  # unknown CPU: the portable build only
    calls.clear()
    assert _cc.build(fused.SOURCE, "fused")[0] is not None
    assert calls and all("-march=native" not in cmd for cmd in calls)


def test_a_compiler_refusing_march_native_gets_the_portable_build(monkeypatch, tmp_path):
    import shutil
    import stat

    from rnnlab import _cc

    real_cc = shutil.which("cc") or shutil.which("gcc")
    if real_cc is None:
        pytest.skip("no C compiler here")
    wrapper = tmp_path / "picky-cc"
    refuse = 'for a in "$@"; do [ "$a" = "-march=native" ] && exit 1; done'
    wrapper.write_text(f'#!/bin/sh\n{refuse}\nexec {real_cc} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CC", str(wrapper))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(_cc, "cpu_flags", lambda: "fpu sse2 avx2")
    lib, why = _cc.build(fused.SOURCE, "fused")
    assert lib is not None, why


needs_gated = pytest.mark.skipif(fused.gated_library() is None, reason="fused LSTM / GRU unavailable (no C compiler)")


def _bias(layer):
    with torch.no_grad():
        for name, p in layer.rnn.named_parameters():
            if name.startswith("bias") and p.requires_grad:
                p.uniform_(-0.5, 0.5)
    return layer


@needs_gated
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("seq", [True, False])
@pytest.mark.parametrize("shape", [(7, 250, 3, 32), (1, 1, 5, 5), (17, 40, 16, 64), (4, 9, 8, 128), (64, 12, 4, 8),
                                   (300, 20, 3, 32), (9, 7, 40, 32)])
def test_fused_lstm_and_gru_inference_equal_torch(kind, bidirectional, seq, shape, monkeypatch):
    """Input sizes up to MAX_INLINE_INPUTS project inside the C loop, larger ones (40) through torch first."""
    B, T, inp, units = shape
    if kind == "LSTM" and units > fused.MAX_GATED_LSTM_UNITS:
        units = fused.MAX_GATED_LSTM_UNITS  # larger LSTMs run on torch's kernel (fused_lstm_beyond_limits below)
    torch.manual_seed(1)
    layer = _bias(KerasRNN(kind, inp, units, return_sequences=seq, bidirectional=bidirectional)).eval()
    x = torch.randn(B, T, inp)
    with torch.inference_mode():
        assert fused.applies_gated(layer.rnn, x)
        got = layer(x)
        monkeypatch.setenv(fused.ENV, "off")
        assert not fused.applies_gated(layer.rnn, x)
        want = layer(x)
    assert got.shape == want.shape and (got - want).abs().max() <= 1e-5


def test_fused_lstm_and_gru_stay_out_of_training_tracing_and_large_batches():
    torch.manual_seed(0)
    layer = KerasRNN("GRU", 4, 8)
    x = torch.randn(3, 5, 4)
    assert not fused.applies_gated(layer.rnn, x)  # gradients wanted: torch's GRU (it has the backward)
    with torch.no_grad():
        assert fused.applies_gated(layer.rnn, x) or fused.gated_library() is None
        assert not fused.applies_gated(layer.rnn, torch.randn(fused.MAX_GATED_ROWS + 1, 5, 4))
        assert not fused.applies_gated(layer.rnn, torch.randn(3, 5, 4, dtype=torch.float64))
        assert not fused.applies_gated(KerasRNN("GRU", 4, fused.MAX_GATED_UNITS + 1).rnn, x)
        assert not fused.applies_gated(KerasRNN("SimpleRNN", 4, 8).rnn, x)


@needs_gated
def test_fused_gated_limits_follow_units_and_rows():
    """Up to 32 units every pass of up to 1,024 rows; above, passes of up to 64 rows, GRUs up to
    128 units and LSTMs up to 64 (where each measured faster than torch's kernel)."""
    with torch.no_grad():
        for kind, units, rows, applies in [("LSTM", 32, 1024, True), ("LSTM", 32, 1025, False),
                                           ("GRU", 8, 1024, True), ("LSTM", 33, 64, True), ("LSTM", 64, 65, False),
                                           ("LSTM", 65, 1, False), ("GRU", 128, 64, True), ("GRU", 128, 65, False),
                                           ("GRU", 129, 1, False)]:
            rnn = KerasRNN(kind, 3, units).rnn
            assert fused.applies_gated(rnn, torch.randn(rows, 2, 3)) is applies, (kind, units, rows)


@needs_gated
@pytest.mark.parametrize("bidirectional", [False, True])
def test_fused_lstm_beyond_limits_still_equals_torch(bidirectional):
    """The C loop is right for every unit count up to MAX_H; the limits only pick the faster kernel."""
    torch.manual_seed(2)
    layer = _bias(KerasRNN("LSTM", 8, 128, bidirectional=bidirectional)).eval()
    x = torch.randn(5, 9, 8)
    with torch.inference_mode():
        _, last = fused.gated(layer.rnn, x, False)
        _, (h, _) = layer.rnn(x)
    assert (last - h).abs().max() <= 1e-5


def _lookup_model(vocab, units, act="tanh", seq=False, dropout=0.0, mask_zero=False, spatial=False):
    from rnnlab.config import from_dict
    from rnnlab.models import build_model

    layers = [{"type": "SpatialDropout1D", "rate": 0.3}] if spatial else []
    layers += [{"type": "SimpleRNN", "units": units, "activation": act, "return_sequences": seq, "dropout": dropout}]
    if seq:
        layers.append({"type": "GlobalMaxPooling1D"})
    layers.append({"type": "Dense", "units": 3, "activation": "sigmoid"})
    cfg = from_dict({"model": {"input": "embedding", "layers": layers,
                               "embedding": {"dim": 5, "input_dim": vocab, "mask_zero": mask_zero}}})
    torch.manual_seed(0)
    model = build_model(cfg.model, vocab_size=vocab, maxlen=None)
    with torch.no_grad():
        model.layers[1 if spatial else 0].rnn.bias_ih_l0.uniform_(-0.5, 0.5)
    return model


def _model_run(model, ids, g, env, monkeypatch):
    monkeypatch.setenv(fused.ENV, env)
    model.zero_grad()
    out = model(ids, logits=True)
    (out * g).sum().backward()
    return [out.detach()] + [p.grad.clone() for p in model.parameters() if p.grad is not None]


@needs_lib
@pytest.mark.parametrize("act", ["tanh", "relu"])
@pytest.mark.parametrize("seq", [True, False])
@pytest.mark.parametrize("shape", [(64, 100, 40, 8), (13, 9, 20, 12), (3, 7, 11, 32)])
def test_embedding_into_simple_rnn_is_looked_up_projected_and_equals_torch(act, seq, shape, monkeypatch):
    """An embedding straight into a fused SimpleRNN runs as a lookup of the table's projections
    inside the C loop (rnnlab.models.fused.simple_rnn_from_ids): the same outputs and gradients
    of every weight (table, W_ih, W_hh, bias, Dense) as torch's nn.RNN on the looked-up rows."""
    B, T, vocab, units = shape
    model = _lookup_model(vocab, units, act, seq)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (B, T), generator=g)
    ids[0, :3] = 0  # padding
    grad = torch.randn(B, 3, generator=g)
    calls = []
    real = fused.simple_rnn_from_ids
    monkeypatch.setattr(fused, "simple_rnn_from_ids", lambda *a: calls.append(1) or real(*a))
    got = _model_run(model, ids, grad, "auto", monkeypatch)
    assert calls, "the lookup-projection path did not run"
    want = _model_run(model, ids, grad, "off", monkeypatch)
    assert len(got) == len(want) == 7  # outputs; table, W_ih, W_hh, b_ih, Dense kernel and bias (b_hh is frozen)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, b.abs().max().item()))
    with torch.no_grad():  # inference (Run.predict) takes it too
        model.eval()
        monkeypatch.setenv(fused.ENV, "auto")
        assert torch.allclose(model(ids), torch.sigmoid(want[0]), atol=1e-5)


@needs_lib
def test_lookup_projection_is_skipped_where_it_does_not_apply(monkeypatch):
    calls = []
    real = fused.simple_rnn_from_ids
    monkeypatch.setattr(fused, "simple_rnn_from_ids", lambda *a: calls.append(1) or real(*a))
    ids = torch.randint(1, 30, (4, 6))
    _lookup_model(30, 8)(ids)  # 30 table rows >= 24 ids: projecting the table would cost more
    _lookup_model(20, 8, mask_zero=True)(ids.clamp(max=19))  # masks run packed sequences
    _lookup_model(20, 8, dropout=0.2).train()(ids.clamp(max=19))  # Keras dropout draws a mask per row
    _lookup_model(20, 8, spatial=True)(ids.clamp(max=19))  # a layer between them
    assert not calls
    _lookup_model(20, 8)(ids.clamp(max=19))
    assert calls


@needs_lib
def test_lookup_projection_refuses_ids_outside_the_table():
    model = _lookup_model(20, 8)
    ids = torch.randint(0, 20, (4, 6))
    ids[2, 3] = 20
    with pytest.raises(IndexError, match="out of range"):
        model(ids)
    ids[2, 3] = -1
    with pytest.raises(IndexError, match="out of range"):
        model(ids)


@needs_lib
@pytest.mark.parametrize("seq", [True, False])
@pytest.mark.parametrize("shape", [(128, 40, 3, 32), (9, 7, 20, 8), (5, 1, 4, 13), (1, 6, 16, 32)])
def test_fused_lstm_training_equals_torch_forward_and_gradients(seq, shape, monkeypatch):
    """The LSTM's fused training path (rnnlab.models.fused.lstm_train; inputs projected in the C
    loop up to MAX_INLINE_INPUTS, by torch above): the same outputs and gradients of x, W_ih,
    W_hh and the bias as torch's nn.LSTM within 1e-5."""
    B, T, inp, units = shape
    torch.manual_seed(0)
    layer = KerasRNN("LSTM", inp, units, return_sequences=seq)
    with torch.no_grad():
        layer.rnn.bias_ih_l0.uniform_(-0.5, 0.5)
    x = torch.randn(B, T, inp)
    g = torch.randn(B, T, units) if seq else torch.randn(B, units)
    assert fused.applies_lstm_train(layer.rnn, x)
    calls = []
    real = fused.lstm_train
    monkeypatch.setattr(fused, "lstm_train", lambda *a: calls.append(1) or real(*a))
    got = _run(layer, x, g, "auto", monkeypatch)
    assert calls, "the fused LSTM training path did not run"
    want = _run(layer, x, g, "off", monkeypatch)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, b.abs().max().item()))


def test_fused_lstm_training_applies_only_where_it_can():
    x = torch.randn(4, 5, 3)
    assert fused.applies_lstm_train(KerasRNN("LSTM", 3, 32).rnn, x) == (fused.library() is not None)
    assert not fused.applies_lstm_train(KerasRNN("LSTM", 3, fused.MAX_TRAIN_LSTM_UNITS + 1).rnn, x)
    assert not fused.applies_lstm_train(KerasRNN("LSTM", 3, 8, bidirectional=True).rnn, x)
    assert not fused.applies_lstm_train(KerasRNN("GRU", 3, 8).rnn, x)
    assert not fused.applies_lstm_train(KerasRNN("LSTM", 3, 8).rnn, x[:, :0])
    with torch.no_grad():  # inference takes the gated forward pass instead
        assert not fused.applies_lstm_train(KerasRNN("LSTM", 3, 8).rnn, x)


@needs_lib
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("seq", [True, False])
@pytest.mark.parametrize("shape", [(64, 30, 50, 32), (7, 5, 3, 13), (3, 1, 4, 8), (10, 9, 20, 64), (4, 3, 6, 48),
                                   (2, 4, 5, 56)])
def test_fused_gru_training_equals_torch_forward_and_gradients(bidirectional, seq, shape, monkeypatch):
    """The GRU's fused training path (rnnlab.models.fused.gru_train, either direction): the same
    outputs and gradients of x and of every weight and bias (b_hh included) as torch's nn.GRU
    within 1e-5. From 48 units rows step four at a time (10 rows: two blocks and two rows alone;
    2 rows: none in a block)."""
    B, T, inp, units = shape
    torch.manual_seed(0)
    layer = KerasRNN("GRU", inp, units, return_sequences=seq, bidirectional=bidirectional)
    with torch.no_grad():
        for name, p in layer.rnn.named_parameters():
            if name.startswith("bias"):
                p.uniform_(-0.5, 0.5)
    x = torch.randn(B, T, inp)
    width = units * (2 if bidirectional else 1)
    g = torch.randn(B, T, width) if seq else torch.randn(B, width)
    assert fused.applies_gru_train(layer.rnn, x)

    def run(env):
        monkeypatch.setenv(fused.ENV, env)
        layer.zero_grad()
        xx = x.clone().requires_grad_(True)
        out = layer(xx)
        (out * g).sum().backward()
        return [out.detach(), xx.grad] + [p.grad.clone() for p in layer.rnn.parameters()]

    calls = []
    real = fused.gru_train
    monkeypatch.setattr(fused, "gru_train", lambda *a: calls.append(1) or real(*a))
    got = run("auto")
    assert calls, "the fused GRU training path did not run"
    want = run("off")
    assert len(got) == len(want) == 2 + (8 if bidirectional else 4)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, b.abs().max().item()))


def test_fused_gru_training_applies_only_where_it_can():
    x = torch.randn(4, 5, 3)
    assert fused.applies_gru_train(KerasRNN("GRU", 3, 32, bidirectional=True).rnn, x) == (fused.library() is not None)
    assert not fused.applies_gru_train(KerasRNN("GRU", 3, fused.MAX_TRAIN_GRU_UNITS + 1).rnn, x)
    assert not fused.applies_gru_train(KerasRNN("LSTM", 3, 8).rnn, x)
    with torch.no_grad():  # inference takes the gated forward pass instead
        assert not fused.applies_gru_train(KerasRNN("GRU", 3, 8).rnn, x)


@needs_lib
@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_autocast_bf16_keeps_to_torch_kernels(kind):
    """Regression: under CPU autocast (fit.precision = "bf16") the input projection returns
    bfloat16, which the C loops would have read as float32 (a crash in training); torch runs."""
    layer = KerasRNN(kind, 20, 8, bidirectional=kind == "GRU")
    x = torch.randn(4, 6, 20, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        checks = {"SimpleRNN": fused.applies, "LSTM": fused.applies_lstm_train, "GRU": fused.applies_gru_train}
        assert not checks[kind](layer.rnn, x)
        with torch.no_grad():
            assert not fused.applies_gated(KerasRNN("LSTM", 20, 8).rnn, x)
        if kind == "LSTM":
            return  # torch's own LSTM has no bfloat16 kernel on some CPUs (oneDNN): nothing more to run
        out = layer(x)
        out.float().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@needs_lib
def test_trains_fused_says_which_layers_train_through_c(monkeypatch):
    cases = [(KerasRNN("SimpleRNN", 3, 32), True), (KerasRNN("LSTM", 3, 32), True), (KerasRNN("LSTM", 3, 33), False),
             (KerasRNN("LSTM", 3, 8, bidirectional=True), False), (KerasRNN("GRU", 3, 64, bidirectional=True), True),
             (KerasRNN("GRU", 3, fused.MAX_TRAIN_GRU_UNITS + 1), False), (KerasRNN("GRU", 3, 8, use_mask=True), False)]
    for layer, want in cases:
        assert layer.trains_fused() is want, (layer.kind, layer.units, layer.bidirectional)
    monkeypatch.setenv(fused.ENV, "off")
    assert not KerasRNN("GRU", 3, 8).trains_fused()
