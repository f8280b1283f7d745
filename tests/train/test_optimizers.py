"""Our optimizers follow Keras 3's update rules step by step (trajectories recorded with Keras)."""

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from helpers import keras_fixture
from rnnlab.errors import ConfigError
from rnnlab.train.optimizers import DEFAULTS, make_optimizer

FIX = keras_fixture("optimizers")
NAMES = {"SGD": "sgd", "RMSprop": "rmsprop", "Adam": "adam", "AdamW": "adamw", "Adagrad": "adagrad",
         "Adadelta": "adadelta", "Nadam": "nadam", "Adamax": "adamax"}


def _make(case, params):
    name = NAMES[case["class"]]
    cfg = case["config"]
    options = {k: cfg[k] for k in DEFAULTS[name] if k != "learning_rate" and k in cfg and cfg[k] is not None}
    return make_optimizer(name, params, cfg["learning_rate"], options)


@pytest.mark.parametrize("case", FIX["cases"], ids=[c["name"] for c in FIX["cases"]])
def test_trajectory_matches_keras(case):
    w = torch.nn.Parameter(torch.tensor(case["w0"], dtype=torch.float32))
    m = torch.nn.Parameter(torch.tensor(case["m0"], dtype=torch.float32))
    opt = _make(case, [w, m])
    for (gw, gm), (ew, em) in zip(case["grads"], case["trajectory"]):
        w.grad = torch.tensor(gw, dtype=torch.float32)
        m.grad = torch.tensor(gm, dtype=torch.float32)
        opt.step()
        np.testing.assert_allclose(w.detach().numpy(), ew, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(m.detach().numpy(), em, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", FIX["epsilon_probe"], ids=[c["name"] for c in FIX["epsilon_probe"]])
def test_epsilon_placement_matches_keras(case):
    """Tiny gradients expose where epsilon sits (torch's own Adam/RMSprop fail this)."""
    x = torch.nn.Parameter(torch.tensor(case["x0"], dtype=torch.float32))
    opt = _make(case, [x])
    for g, expected in zip(case["grads"], case["trajectory"]):
        x.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        np.testing.assert_allclose(x.detach().numpy(), expected, rtol=5e-5, atol=1e-9)


def test_defaults_are_keras_defaults():
    for case in FIX["cases"]:
        if case["name"].endswith("_default"):
            name = NAMES[case["class"]]
            assert DEFAULTS[name]["learning_rate"] == pytest.approx(case["config"]["learning_rate"], rel=1e-6)


def test_unknown_option_is_a_clear_error():
    p = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ConfigError, match="beta_3"):
        make_optimizer("adam", [p], options={"beta_3": 0.5})
    with pytest.raises(ConfigError, match="true or false"):
        make_optimizer("sgd", [p], options={"nesterov": 1})


def test_state_round_trip_continues_identically():
    torch.manual_seed(0)
    grads = [torch.randn(3) for _ in range(6)]

    def run(split):
        p = torch.nn.Parameter(torch.ones(3))
        opt = make_optimizer("nadam", [p])
        for i, g in enumerate(grads):
            if i == split:
                state = opt.state_dict()
                p2 = torch.nn.Parameter(p.detach().clone())
                opt = make_optimizer("nadam", [p2])
                opt.load_state_dict(state)
                p = p2
            p.grad = g.clone()
            opt.step()
        return p.detach()

    torch.testing.assert_close(run(split=-1), run(split=3), rtol=0, atol=0)


@pytest.mark.parametrize("name, options", [("rmsprop", {}), ("rmsprop", {"legacy": True}), ("adam", {}),
                                           ("adamw", {}), ("rmsprop", {"momentum": 0.5})])
def test_the_foreach_path_gives_exactly_the_per_parameter_numbers(name, options, monkeypatch):
    """Small models train through the ``_foreach`` path; it must be the same arithmetic."""
    from rnnlab.train import optimizers

    def train(per_parameter: bool):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Embedding(50, 4), torch.nn.Flatten(), torch.nn.Linear(12, 3))
        opt = optimizers.make_optimizer(name, net.parameters(), 0.01, dict(options))
        if per_parameter:
            monkeypatch.setattr(opt, "_update_all", lambda *a: False)
        used = []
        real = opt._update_all
        opt._update_all = lambda *a: used.append(real(*a)) or used[-1]
        x = torch.randint(0, 50, (8, 3))
        for _ in range(6):
            opt.zero_grad()
            net(x).pow(2).mean().backward()
            opt.step()
        return [p.detach().clone() for p in net.parameters()], used

    fast, used_fast = train(False)
    slow, _ = train(True)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    expected = name in ("rmsprop", "adam") and not options.get("momentum")
    assert any(used_fast) == expected  # adamw decays first: the per-parameter loop


def test_apply_gradients_is_step_and_hooks_send_training_through_step():
    """The training loop calls apply_gradients (no torch wrapper) only while no step hook is
    registered; the update is the same either way."""
    torch.manual_seed(0)
    grads = [torch.randn(5, 3), torch.randn(3)]
    pair = []
    for _ in range(2):
        params = [torch.nn.Parameter(torch.ones(5, 3)), torch.nn.Parameter(torch.zeros(3))]
        pair.append((params, make_optimizer("adam", params, None, {})))
    for k in range(3):
        for (params, opt), use_step in zip(pair, (True, False)):
            for p, g in zip(params, grads):
                p.grad = g * (k + 1)
            opt.step() if use_step else opt.apply_gradients()
    assert all(torch.equal(a, b) for a, b in zip(pair[0][0], pair[1][0]))
    assert pair[0][1].iterations == pair[1][1].iterations == 3

    opt = pair[0][1]
    assert opt.hook_free()
    handle = opt.register_step_post_hook(lambda *a: None)
    assert not opt.hook_free()
    handle.remove()
    handle = register_optimizer_step_pre_hook(lambda *a: None)
    try:
        assert not opt.hook_free()
    finally:
        handle.remove()
    assert opt.hook_free()
