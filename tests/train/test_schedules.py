"""Learning-rate schedules and ReduceLROnPlateau follow Keras 3: the rate of each step from
Keras's formulas (computed here independently, staircase and warm-up included), the optimizer
asking its schedule with the steps done before each update, and the plateau rule (patience,
cooldown, min_lr, min_delta, mode) on scripted metric sequences, also when split and resumed."""

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.config import LearningRateScheduleConfig, ReduceLROnPlateauConfig
from rnnlab.train.optimizers import make_optimizer
from rnnlab.train.schedules import CosineDecay, ExponentialDecay, ReduceLROnPlateau, make_schedule

REL = 1e-12


# ----------------------------------------------------------------------------------- Keras's formulas
def keras_exponential(step, lr, decay_steps, rate, staircase):
    p = step / decay_steps
    return lr * rate ** (math.floor(p) if staircase else p)


def keras_cosine(step, lr, decay_steps, alpha=0.0, target=None, warmup=0):
    def decay(s, start):
        return start * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / decay_steps)) + alpha)

    if target is None:
        return decay(min(step, decay_steps), lr)
    step = min(step, decay_steps + warmup)
    if step < warmup:
        return lr + (target - lr) * step / warmup
    return decay(step - warmup, target)


def test_exponential_decay_at_chosen_steps():
    s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert [s(t) for t in (0, 10, 20)] == pytest.approx([0.1, 0.05, 0.025], rel=REL)
    assert s(5) == pytest.approx(0.1 * 0.5 ** 0.5, rel=REL)
    stair = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert [stair(t) for t in (0, 9, 10, 19, 20, 35)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.0125],
                                                                       rel=REL)


def test_a_growing_exponential_rate_overflows_to_inf_not_an_error():
    s = ExponentialDecay(0.1, decay_steps=1, decay_rate=2.0)
    assert s(3) == pytest.approx(0.8, rel=REL) and s(10_000) == math.inf


def test_cosine_decay_at_chosen_steps():
    s = CosineDecay(0.1, decay_steps=100)
    assert [s(0), s(50), s(100), s(1000)] == pytest.approx([0.1, 0.05, 0.0, 0.0], abs=1e-15)
    floor = CosineDecay(0.1, decay_steps=100, alpha=0.2)
    assert [floor(0), floor(50), floor(100), floor(500)] == pytest.approx([0.1, 0.06, 0.02, 0.02], rel=REL)


def test_cosine_warmup_is_a_line_from_the_initial_rate_to_the_target_then_the_decay():
    s = CosineDecay(0.0, decay_steps=100, alpha=0.1, warmup_target=0.2, warmup_steps=10)
    assert [s(0), s(5), s(9)] == pytest.approx([0.0, 0.1, 0.18], rel=REL)
    assert s(10) == pytest.approx(0.2, rel=REL)  # the decay starts from warmup_target
    assert s(60) == pytest.approx(0.2 * (0.9 * 0.5 + 0.1), rel=REL)  # half-way through the decay
    assert s(110) == s(10_000) == pytest.approx(0.02, rel=REL)  # alpha * warmup_target, then flat
    from_lr = CosineDecay(0.05, decay_steps=100, warmup_target=0.1, warmup_steps=10)
    assert from_lr(5) == pytest.approx(0.075, rel=REL)
    no_warmup_steps = CosineDecay(0.05, decay_steps=100, warmup_target=0.1)  # Keras: decay from the target
    assert no_warmup_steps(0) == pytest.approx(0.1, rel=REL)


@settings(max_examples=300, deadline=None)
@given(st.floats(1e-5, 1.0), st.integers(1, 1000), st.floats(0.01, 1.0), st.booleans(), st.integers(0, 5000))
def test_exponential_decay_matches_the_formula(lr, decay_steps, rate, staircase, step):
    s = make_schedule(LearningRateScheduleConfig("ExponentialDecay", decay_steps, rate, staircase), lr)
    assert s(step) == pytest.approx(keras_exponential(step, lr, decay_steps, rate, staircase), rel=REL)


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 1.0), st.integers(1, 1000), st.floats(0, 1), st.one_of(st.none(), st.floats(1e-5, 1.0)),
       st.integers(0, 300), st.integers(0, 3000))
def test_cosine_decay_matches_the_formula(lr, decay_steps, alpha, target, warmup, step):
    spec = LearningRateScheduleConfig("CosineDecay", decay_steps, alpha=alpha, warmup_target=target,
                                      warmup_steps=warmup if target is not None else 0)
    expected = keras_cosine(step, lr, decay_steps, alpha, target, spec.warmup_steps)
    assert make_schedule(spec, lr)(step) == pytest.approx(expected, rel=REL, abs=1e-15)


def test_decay_steps_must_be_positive():
    for make in (lambda: ExponentialDecay(0.1, 0, 0.5), lambda: CosineDecay(0.1, -1)):
        with pytest.raises(ValueError, match="decay_steps must be > 0"):
            make()


# ----------------------------------------------------------------------------------- the optimizer
@pytest.mark.parametrize("spec", [LearningRateScheduleConfig("ExponentialDecay", 3, 0.5, True),
                                  LearningRateScheduleConfig("CosineDecay", 6, alpha=0.1, warmup_target=0.3,
                                                             warmup_steps=4)])
def test_each_update_uses_the_rate_of_the_steps_done_before_it(spec):
    """SGD on a gradient of 1: every step moves the weight by exactly that step's rate."""
    w = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
    opt = make_optimizer("sgd", [w], 0.1, schedule=spec)
    expected = make_schedule(spec, 0.1)
    for t in range(15):
        assert opt.learning_rate == pytest.approx(expected(t), rel=REL)  # Keras's optimizer.learning_rate
        before = w.item()
        w.grad = torch.ones((), dtype=torch.float64)
        opt.step()
        assert before - w.item() == pytest.approx(expected(t), rel=1e-9)
        assert opt.iterations == t + 1
    with pytest.raises(TypeError, match="follows a learning-rate schedule"):
        opt.learning_rate = 0.5


def test_without_a_schedule_the_rate_is_constant_and_settable():
    w = torch.nn.Parameter(torch.zeros(()))
    opt = make_optimizer("adam", [w])
    assert opt.learning_rate == 0.001 and opt.schedule is None  # Keras's default
    opt.learning_rate = 0.01
    assert opt.param_groups[0]["learning_rate"] == 0.01 == opt.learning_rate


def test_the_schedule_starts_from_the_optimizer_default_when_no_rate_is_set():
    w = torch.nn.Parameter(torch.zeros(()))
    opt = make_optimizer("sgd", [w], schedule=LearningRateScheduleConfig("ExponentialDecay", 1, 0.5))
    assert opt.learning_rate == 0.01 and opt.schedule(2) == pytest.approx(0.0025, rel=REL)


# ----------------------------------------------------------------------------------- ReduceLROnPlateau
class FakeOptimizer:
    def __init__(self, lr):
        self.learning_rate = lr


def keras_plateau(values, lr, monitor="val_loss", factor=0.1, patience=10, min_delta=1e-4, cooldown=0, min_lr=0.0,
                  mode="auto"):
    """Keras 3's ReduceLROnPlateau.on_epoch_end, transcribed: the rate logged each epoch (before
    its end-of-epoch change) and the rate at the end. 'auto' as rnnlab's early stopping: max for
    acc/auc names."""
    maximise = mode == "max" or (mode == "auto" and ("acc" in monitor or "auc" in monitor))
    better = (lambda a, b: np.greater(a, b + min_delta)) if maximise else (lambda a, b: np.less(a, b - min_delta))
    best, wait, cooldown_counter, logged = (-np.inf if maximise else np.inf), 0, 0, []
    for current in values:
        logged.append(lr)
        if current is None:
            continue
        if cooldown_counter > 0:
            cooldown_counter -= 1
            wait = 0
        if better(current, best):
            best, wait = current, 0
        elif not cooldown_counter > 0:
            wait += 1
            if wait >= patience and lr > min_lr:
                lr = max(lr * factor, min_lr)
                cooldown_counter, wait = cooldown, 0
    return logged, lr


def run_plateau(values, lr, **options):
    plateau, opt, logged = ReduceLROnPlateau(ReduceLROnPlateauConfig(enabled=True, **options)), FakeOptimizer(lr), []
    for v in values:
        logged.append(opt.learning_rate)
        plateau.on_epoch_end({"val_loss": v, "val_auc": v}, opt)
    return logged, opt.learning_rate, plateau


def test_patience_then_reduction():
    logged, final, p = run_plateau([1.0, 0.9, 0.9, 0.9, 0.95, 0.8], 1.0, patience=2, factor=0.5)
    assert logged == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5] and final == 0.5
    assert (p.best, p.wait, p.cooldown_counter) == (0.8, 0, 0)


def test_cooldown_skips_epochs_and_restarts_the_count():
    # patience 1: every epoch without improvement reduces, except the two cooldown epochs after a reduction
    logged, final, _ = run_plateau([1.0] * 8, 1.0, patience=1, factor=0.5, cooldown=2)
    assert logged == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125] and final == 0.0625
    logged, _, _ = run_plateau([1.0] * 8, 1.0, patience=1, factor=0.5, cooldown=1)  # as no cooldown in Keras
    assert logged == [1.0, 1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625]


def test_min_lr_is_a_floor_and_stops_further_reductions():
    logged, final, p = run_plateau([1.0] * 6, 1.0, patience=1, factor=0.1, min_lr=0.05)
    assert logged == [1.0, 1.0, 0.1, 0.05, 0.05, 0.05] and final == 0.05
    assert p.wait == 3  # the count goes on at the floor; nothing is reduced


def test_min_delta_and_max_mode():
    logged, final, _ = run_plateau([0.5, 0.50005, 0.50009, 0.6], 1.0, patience=2, factor=0.5, monitor="val_auc")
    assert logged == [1.0, 1.0, 1.0, 0.5] and final == 0.5  # gains below min_delta (1e-4) are no improvement
    logged, _, _ = run_plateau([0.5, 0.6, 0.7], 1.0, patience=1, factor=0.5, monitor="val_auc", mode="min")
    assert logged == [1.0, 1.0, 0.5]


def test_nan_is_no_improvement_and_a_missing_value_changes_nothing():
    _, final, p = run_plateau([1.0, float("nan")], 1.0, patience=1, factor=0.5)
    assert final == 0.5
    plateau, opt = ReduceLROnPlateau(ReduceLROnPlateauConfig(patience=0)), FakeOptimizer(1.0)
    assert plateau.on_epoch_end({"loss": 1.0}, opt) is None and opt.learning_rate == 1.0 and plateau.wait == 0


METRICS = st.lists(st.one_of(st.floats(0, 2), st.just(float("nan")), st.sampled_from([0.5, 0.5001, 1.0])),
                   min_size=1, max_size=30)
OPTIONS = st.fixed_dictionaries({}, optional={
    "factor": st.floats(0.01, 0.99), "patience": st.integers(0, 4), "min_delta": st.sampled_from([0.0, 1e-4, 0.1]),
    "cooldown": st.integers(0, 3), "min_lr": st.sampled_from([0.0, 1e-3, 0.05]),
    "mode": st.sampled_from(["auto", "min", "max"]), "monitor": st.sampled_from(["val_loss", "val_auc"])})


@settings(max_examples=300, deadline=None)
@given(METRICS, OPTIONS)
def test_plateau_matches_keras_on_any_sequence(values, options):
    logged, final, _ = run_plateau(values, 0.1, **options)
    want_logged, want_final = keras_plateau(values, 0.1, **options)
    assert logged == want_logged and final == want_final


@settings(max_examples=200, deadline=None)
@given(METRICS, OPTIONS, st.data())
def test_saved_and_restored_after_any_epoch_it_continues_identically(values, options, data):
    k = data.draw(st.integers(0, len(values)))
    cfg = ReduceLROnPlateauConfig(enabled=True, **options)
    whole, opt = ReduceLROnPlateau(cfg), FakeOptimizer(0.1)
    for v in values:
        whole.on_epoch_end({"val_loss": v, "val_auc": v}, opt)
    first, opt2 = ReduceLROnPlateau(cfg), FakeOptimizer(0.1)
    for v in values[:k]:
        first.on_epoch_end({"val_loss": v, "val_auc": v}, opt2)
    resumed = ReduceLROnPlateau(cfg)
    resumed.restore(json.loads(json.dumps(first.to_dict())))  # through JSON, as checkpoints/last.json
    for v in values[k:]:
        resumed.on_epoch_end({"val_loss": v, "val_auc": v}, opt2)
    assert resumed.to_dict() == whole.to_dict() and opt2.learning_rate == opt.learning_rate
