"""Our RNN layers compute what Keras 3 computes, given the same weights (gate order, biases)."""

import numpy as np
import pytest
import torch

from helpers import keras_fixture
from rnnlab.models.layers import KerasBatchNorm, KerasEmbedding, KerasRNN

FIX = keras_fixture("layers")


def _load_keras_weights(layer: KerasRNN, weights: list[dict]) -> None:
    """Copy Keras kernel/recurrent_kernel/bias into torch layout (transposed; GRU gates
    [z, r, h] → torch [r, z, n]; Keras's single LSTM/SimpleRNN bias into bias_ih)."""
    units = layer.units
    per_dir = [weights[i:i + 3] for i in range(0, len(weights), 3)]
    for d, (kernel, recurrent, bias) in enumerate(per_dir):
        sfx = "_reverse" if d == 1 else ""
        k = torch.tensor(kernel["value"]).T
        r = torch.tensor(recurrent["value"]).T
        b = torch.tensor(bias["value"])
        if layer.kind == "GRU":
            order = lambda m: torch.cat([m[units:2 * units], m[:units], m[2 * units:]])  # noqa: E731
            k, r = order(k), order(r)
            b_ih, b_hh = order(b[0]), order(b[1])
        else:
            b_ih, b_hh = b, torch.zeros_like(b)
        params = dict(layer.rnn.named_parameters())
        with torch.no_grad():
            params[f"weight_ih_l0{sfx}"].copy_(k)
            params[f"weight_hh_l0{sfx}"].copy_(r)
            params[f"bias_ih_l0{sfx}"].copy_(b_ih)
            params[f"bias_hh_l0{sfx}"].copy_(b_hh)


@pytest.mark.parametrize("case", FIX["cases"], ids=[c["name"] for c in FIX["cases"]])
def test_forward_matches_keras(case):
    cfg = case["layer_config"]
    x = torch.tensor(case["input"], dtype=torch.float32)
    layer = KerasRNN(cfg["class_name"], x.shape[-1], cfg["units"], cfg["return_sequences"], cfg["bidirectional"],
                     cfg["merge_mode"] or "concat").eval()
    _load_keras_weights(layer, case["weights"])
    with torch.no_grad():
        out = layer(x)
    np.testing.assert_allclose(out.numpy(), case["output"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind,gates", [("SimpleRNN", 1), ("LSTM", 4), ("GRU", 3)])
def test_keras_initial_weights(kind, gates):
    torch.manual_seed(0)
    layer = KerasRNN(kind, 20, 16)
    p = dict(layer.rnn.named_parameters())
    limit = np.sqrt(6 / (20 + gates * 16))  # glorot_uniform on the (20, gates*16) kernel
    assert p["weight_ih_l0"].abs().max() <= limit
    assert p["weight_ih_l0"].abs().max() > 0.9 * limit
    w_hh = p["weight_hh_l0"].detach()
    torch.testing.assert_close(w_hh.T @ w_hh, torch.eye(16), atol=1e-5, rtol=0)  # orthogonal
    bias = p["bias_ih_l0"].detach()
    expected = torch.zeros(gates * 16)
    if kind == "LSTM":
        expected[16:32] = 1.0  # unit_forget_bias
    torch.testing.assert_close(bias, expected)
    # Keras has one bias for LSTM/SimpleRNN: the second torch bias is frozen at zero
    assert p["bias_hh_l0"].requires_grad == (kind == "GRU")


def test_single_bias_stays_zero_while_training():
    torch.manual_seed(0)
    layer = KerasRNN("LSTM", 3, 4)
    opt = torch.optim.SGD([q for q in layer.parameters() if q.requires_grad], lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        layer(torch.randn(2, 5, 3)).sum().backward()
        opt.step()
    assert float(dict(layer.rnn.named_parameters())["bias_hh_l0"].abs().max()) == 0.0


def test_embedding_init_is_keras_uniform():
    torch.manual_seed(0)
    w = KerasEmbedding(1000, 8).table.weight.detach()
    assert float(w.abs().max()) <= 0.05 and float(w.abs().max()) > 0.049


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_mask_zero_skips_padding_steps(padding):
    """With a mask the result does not depend on how much padding surrounds the tokens."""
    torch.manual_seed(0)
    layer = KerasRNN("GRU", 3, 4, bidirectional=True, use_mask=True).eval()
    tokens = torch.randn(1, 4, 3)
    pad = torch.zeros(1, 3, 3)
    x = torch.cat([pad, tokens], 1) if padding == "pre" else torch.cat([tokens, pad], 1)
    mask = torch.tensor([[False] * 3 + [True] * 4]) if padding == "pre" else torch.tensor([[True] * 4 + [False] * 3])
    with torch.no_grad():
        torch.testing.assert_close(layer(x, mask), layer(tokens, torch.ones(1, 4, dtype=torch.bool)))


def test_batchnorm_follows_keras_moving_averages():
    bn = KerasBatchNorm(2)
    x = torch.tensor([[[1.0, 2.0], [3.0, 6.0]]])  # (1, 2, 2): statistics over batch and time
    out = bn(x)
    torch.testing.assert_close(bn.moving_mean, torch.tensor([0.02, 0.04]))
    torch.testing.assert_close(bn.moving_variance, torch.tensor([0.99 + 0.01 * 1.0, 0.99 + 0.01 * 4.0]))
    expected = torch.tensor([-1.0, -1.0]) / torch.sqrt(torch.tensor([1.001, 4.001])) * torch.tensor([1.0, 2.0])
    torch.testing.assert_close(out[0, 0], expected)


def test_embedding_gradient_through_index_add_equals_torch_embedding():
    layer = KerasEmbedding(300, 5)
    ids = torch.randint(0, 300, (16, 40))
    ids[0, :10] = 7  # repeated ids accumulate
    grad = torch.randn(16, 40, 5)
    out = layer(ids)
    out.backward(grad)
    ours = layer.table.weight.grad.clone()
    layer.table.weight.grad = None
    torch.nn.functional.embedding(ids, layer.table.weight).backward(grad)
    torch.testing.assert_close(ours, layer.table.weight.grad, rtol=1e-6, atol=1e-6)
    assert out.grad_fn.__class__.__name__ == "_LookupBackward"
    with torch.no_grad():  # inference: nn.Embedding itself
        torch.testing.assert_close(layer(ids), out.detach(), rtol=0, atol=0)
    frozen = KerasEmbedding(300, 5, trainable=False)
    assert frozen(ids).grad_fn is None
    with pytest.raises(IndexError):
        layer(torch.tensor([[300]]))
