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


def _fused_or_skip():
    from rnnlab.train import optimizers

    if optimizers.fused_adam_library() is None:
        pytest.skip(f"the one-pass Adam kernel cannot be built here: {optimizers._adam_lib.get('reason')}")
    return optimizers


def _count_fused(monkeypatch, optimizers) -> list:
    calls = []
    real = optimizers._fused_adam
    monkeypatch.setattr(optimizers, "_fused_adam", lambda *a: calls.append(a[1].numel()) or real(*a))
    return calls


@pytest.mark.parametrize("case", [c for c in FIX["cases"] + FIX["epsilon_probe"]
                                  if c["class"] in ("Adam", "AdamW") and not c["config"].get("amsgrad")],
                         ids=lambda c: c["name"])
def test_the_one_pass_adam_kernel_follows_keras(case, monkeypatch):
    """Large parameters (an embedding) are updated by adam.c; forced onto every parameter here,
    it must reproduce Keras's recorded trajectories like the torch path (amsgrad: torch only)."""
    optimizers = _fused_or_skip()
    monkeypatch.setattr(optimizers, "FUSED_ADAM_MIN", 1)
    calls = _count_fused(monkeypatch, optimizers)
    names = ("w0", "m0") if "w0" in case else ("x0",)
    params = [torch.nn.Parameter(torch.tensor(case[k], dtype=torch.float32)) for k in names]
    opt = _make(case, params)
    for grads, expected in zip(case["grads"], case["trajectory"]):
        grads, expected = (grads, expected) if len(names) > 1 else ([grads], [expected])
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        for p, e in zip(params, expected):
            np.testing.assert_allclose(p.detach().numpy(), e, rtol=5e-5 if len(names) == 1 else 1e-5,
                                       atol=1e-9 if len(names) == 1 else 1e-6)
    assert calls, "the kernel was not used"


def _adam_run(n: int, steps: int = 8, threads: int = 1):
    """A large and a small parameter through Keras's Adam; their values and moments after training."""
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(1)
    big, small = torch.nn.Parameter(torch.randn(n, generator=g)), torch.nn.Parameter(torch.randn(100, generator=g))
    opt = make_optimizer("adam", [big, small], 0.002)
    for _ in range(steps):
        big.grad, small.grad = torch.randn(n, generator=g) * 1e-3, torch.randn(100, generator=g)
        opt.step()
    return [t.detach().clone() for t in (big, small, opt.state[big]["m"], opt.state[big]["v"])]


def test_the_one_pass_adam_kernel_computes_the_torch_path_s_numbers(monkeypatch):
    """The same float32 operations in the same order: moments bit-identical to the _foreach
    path's; the weights differ only where torch's vectorized sqrt is an ulp off the correctly
    rounded one adam.c (and TensorFlow) use. Splitting the work over threads changes nothing."""
    optimizers = _fused_or_skip()
    threads = torch.get_num_threads()
    n = 2 * optimizers.FUSED_ADAM_MIN + 3  # a tail the vector loop does not cover
    try:
        calls = _count_fused(monkeypatch, optimizers)
        fused = _adam_run(n)
        fused2 = _adam_run(8 * 262144 + 5, threads=2)
        assert calls and set(calls) == {n, 8 * 262144 + 5}  # only the large parameter
        monkeypatch.setenv("RNNLAB_COMPILE", "off")
        plain = _adam_run(n)
        plain2 = _adam_run(8 * 262144 + 5, threads=2)
        monkeypatch.delenv("RNNLAB_COMPILE")
        one = _adam_run(8 * 262144 + 5, threads=1)
    finally:
        torch.set_num_threads(threads)
    assert len(calls) == 8 * 3  # RNNLAB_COMPILE=off: never
    for f, p in ((fused, plain), (fused2, plain2)):
        torch.testing.assert_close(f[2], p[2], rtol=0, atol=0)  # m
        torch.testing.assert_close(f[3], p[3], rtol=0, atol=0)  # v
        torch.testing.assert_close(f[1], p[1], rtol=0, atol=0)  # the small parameter: torch's path
        torch.testing.assert_close(f[0], p[0], rtol=2e-6, atol=1e-7)
        assert (f[0] != p[0]).float().mean() < 0.05
    for a, b in zip(fused2, one):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_moments_are_created_once_not_at_every_step(name, monkeypatch):
    """Regression: ``state.setdefault(k, torch.zeros_like(p))`` built (and threw away) a zero
    tensor the size of each parameter at every step: two 25 MB fills per step for M3's embedding."""
    p = torch.nn.Parameter(torch.ones(70_000))  # large enough for the compiled Adam, where it is built
    q = torch.nn.Parameter(torch.ones(3))
    opt = make_optimizer(name, [p, q])
    p.grad, q.grad = torch.full_like(p, 0.1), torch.full_like(q, 0.1)
    opt.step()
    made = []
    real = torch.zeros_like
    monkeypatch.setattr(torch, "zeros_like", lambda t, *a, **k: made.append(t.shape) or real(t, *a, **k))
    for _ in range(3):
        opt.step()
    assert made == []
