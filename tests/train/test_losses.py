"""Losses equal Keras's values (within 1e-5) on the same probabilities, via logits when fused."""

import math

import numpy as np
import pytest
import torch

from helpers import keras_fixture
from rnnlab.engine.losses import Loss

FIX = keras_fixture("losses")
NAME = {"mean_squared_error": "mse"}


def _case(name):
    return next(c for c in FIX["cases"] if c["name"] == name)


@pytest.mark.parametrize("case", [c for c in FIX["cases"] if "activation" not in c],
                         ids=[c["name"] for c in FIX["cases"] if "activation" not in c])
def test_on_probabilities_matches_keras(case):
    name = NAME.get(case["loss"], case["loss"])
    y_pred = torch.tensor(case["y_pred"], dtype=torch.float32)
    y = torch.tensor(case["y_true"])
    task = "multiclass" if name == "sparse_categorical_crossentropy" else "multilabel"
    loss = Loss(name, y_pred.shape[-1], task)
    got = loss(y_pred, y.float() if task != "multiclass" else y.long(), logits=False)
    np.testing.assert_allclose(got.numpy(), case["per_sample"], rtol=1e-5, atol=1e-5)
    assert got.mean().item() == pytest.approx(case["mean"], rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("name", ["bce_5x1", "bce_4x6"])
def test_logits_path_equals_keras_where_probabilities_are_inside_0_1(name):
    case = _case(name)
    logits = np.array([[np.nan if v is None else v for v in row] for row in case["logits"]])
    inside = ~np.isnan(logits)
    y = torch.tensor(case["y_true"], dtype=torch.float32)
    loss = Loss("binary_crossentropy", logits.shape[1], "multilabel")
    # compare element-wise where p is strictly inside (clip irrelevant, p not extreme)
    p = np.array(case["y_pred"])
    ok = inside & (p > 1e-6) & (p < 1 - 1e-6)
    for i in range(len(p)):
        for j in range(p.shape[1]):
            if not ok[i, j]:
                continue
            z = torch.tensor([[logits[i, j]]], dtype=torch.float32)
            got = loss(z, y[i:i + 1, j:j + 1], logits=True).item()
            want = -(y[i, j].item() * math.log(p[i, j]) + (1 - y[i, j].item()) * math.log(1 - p[i, j]))
            assert got == pytest.approx(want, rel=1e-5, abs=1e-5)


def test_sigmoid_output_uses_logits_like_keras_tf():
    case = _case("bce_from_sigmoid_tensor")
    z = torch.tensor(case["logits_input"], dtype=torch.float32)
    y = torch.tensor(case["y_true"], dtype=torch.float32)
    got = Loss("binary_crossentropy", z.shape[-1], "multilabel")(z, y, logits=True)
    np.testing.assert_allclose(got.numpy(), case["per_sample"], rtol=1e-5, atol=1e-7)


def test_softmax_over_one_unit_gives_zero_loss_like_keras():
    case = _case("cce_single_unit_from_softmax_tensor")
    z = torch.tensor(case["logits_input"], dtype=torch.float32)
    y = torch.tensor(case["y_true"], dtype=torch.float32)
    got = Loss("categorical_crossentropy", 1, "binary")(z, y, logits=True)
    np.testing.assert_allclose(got.numpy(), case["per_sample"], atol=1e-7)
    assert float(got.abs().max()) == 0.0


def test_multiclass_targets_are_one_hot_for_categorical_loss():
    z = torch.tensor([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
    y = torch.tensor([0, 1])
    a = Loss("categorical_crossentropy", 3, "multiclass")(z, y, logits=True)
    b = Loss("sparse_categorical_crossentropy", 3, "multiclass")(z, y, logits=True)
    torch.testing.assert_close(a, b)
