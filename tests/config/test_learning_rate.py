"""``compile.learning_rate_schedule`` and ``fit.reduce_lr_on_plateau``: Keras's names and defaults,
type names in any case, the keys of each schedule type, one-line errors for bad values, the two
being exclusive, and the round trip through config.toml."""

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.config import LR_SCHEDULES, from_dict, set_dotted, tomllib
from rnnlab.errors import ConfigError

BASE = {"data": {"dataset": "table", "path": "/d/train.csv", "text_column": "text", "label_columns": ["y"]},
        "model": {"embedding": {"dim": 8}, "layers": [{"type": "LSTM", "units": 4}, {"type": "Dense"}]}}
KEY = "compile.learning_rate_schedule"
EXP = {"type": "ExponentialDecay", "decay_steps": 100, "decay_rate": 0.9}
COS = {"type": "CosineDecay", "decay_steps": 100}


def build(sets: dict):
    raw = copy.deepcopy(BASE)
    for key, value in sets.items():
        set_dotted(raw, key, value)
    return from_dict(raw)


def error(sets: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        build(sets)
    return str(exc.value)


def msg(key, expected, got, hint=""):
    return f"The '{key}' parameter must be {expected}. Got {got!r} instead." + (f" {hint}" if hint else "")


# ----------------------------------------------------------------------------------- defaults
def test_keras_defaults():
    cfg = build({})
    assert cfg.compile.learning_rate_schedule is None
    rop = cfg.fit.reduce_lr_on_plateau
    assert (rop.enabled, rop.monitor, rop.factor, rop.patience, rop.min_delta, rop.cooldown, rop.min_lr, rop.mode) == (
        False, "val_loss", 0.1, 10, 1e-4, 0, 0.0, "auto")
    cos = build({KEY: COS}).compile.learning_rate_schedule
    assert (cos.alpha, cos.warmup_target, cos.warmup_steps) == (0.0, None, 0)
    assert build({KEY: EXP}).compile.learning_rate_schedule.staircase is False


@pytest.mark.parametrize("name, canonical", [("ExponentialDecay", "ExponentialDecay"),
                                             ("exponentialdecay", "ExponentialDecay"),
                                             ("COSINEDECAY", "CosineDecay")])
def test_type_names_in_any_case(name, canonical):
    table = {**(EXP if canonical == "ExponentialDecay" else COS), "type": name}
    schedule = build({KEY: table}).compile.learning_rate_schedule
    assert schedule.type == canonical
    assert build({KEY: table}).to_dict()["compile"]["learning_rate_schedule"]["type"] == canonical


def test_a_schedule_is_written_with_its_own_keys_only():
    cfg = build({KEY: {**COS, "warmup_target": 0.01, "warmup_steps": 10}})
    written = cfg.to_dict()["compile"]["learning_rate_schedule"]
    assert written == {"type": "CosineDecay", "decay_steps": 100, "alpha": 0.0, "warmup_target": 0.01,
                       "warmup_steps": 10}
    assert build({KEY: EXP}).to_dict()["compile"]["learning_rate_schedule"] == {**EXP, "staircase": False}
    assert "learning_rate_schedule" not in build({}).to_dict()["compile"]


SCHEDULES = st.one_of(
    st.fixed_dictionaries({"type": st.just("ExponentialDecay"), "decay_steps": st.integers(1, 10**6),
                           "decay_rate": st.floats(1e-3, 2.0)}, optional={"staircase": st.booleans()}),
    st.fixed_dictionaries({"type": st.just("CosineDecay"), "decay_steps": st.integers(1, 10**6)},
                          optional={"alpha": st.floats(0, 1), "warmup_target": st.floats(1e-6, 1.0)}),
)


@settings(max_examples=60, deadline=None)
@given(SCHEDULES, st.booleans())
def test_round_trip_through_dict_and_toml(schedule, plateau):
    sets = {KEY: schedule} if not plateau else {"fit.reduce_lr_on_plateau": {"enabled": True, "factor": 0.5}}
    cfg = build(sets)
    assert from_dict(cfg.to_dict()) == cfg
    assert from_dict(tomllib.loads(cfg.to_toml())) == cfg


# ----------------------------------------------------------------------------------- errors
S = KEY
P = "fit.reduce_lr_on_plateau"


@pytest.mark.parametrize("sets, message", [
    ({S: {**EXP, "decay_steps": 0}}, msg(f"{S}.decay_steps", "an int >= 1", 0)),
    ({S: {**COS, "decay_steps": -5}}, msg(f"{S}.decay_steps", "an int >= 1", -5)),
    ({S: {"type": "CosineDecay"}}, msg(f"{S}.decay_steps", "an int >= 1", None,
                                       "The schedule needs decay_steps, e.g. decay_steps = 1000.")),
    ({S: {"type": "ExponentialDecay", "decay_steps": 10}},
     msg(f"{S}.decay_rate", "a float > 0", None, "The schedule needs decay_rate, e.g. decay_rate = 0.9.")),
    ({S: {**EXP, "decay_rate": 0}}, msg(f"{S}.decay_rate", "a float > 0", 0)),
    ({S: {**EXP, "decay_steps": 2.5}}, msg(f"{S}.decay_steps", "an int", 2.5)),
    ({S: {**COS, "alpha": 1.5}}, msg(f"{S}.alpha", "a float in [0, 1]", 1.5)),
    ({S: {**COS, "warmup_target": 0}}, msg(f"{S}.warmup_target", "a float > 0", 0)),
    ({S: {**COS, "warmup_steps": -1}}, msg(f"{S}.warmup_steps", "an int >= 0", -1)),
    ({S: {**EXP, "type": "zzz"}}, f"The '{S}.type' parameter must be one of ExponentialDecay, CosineDecay. "
                                   f"Got 'zzz' instead."),
    ({S: {**EXP, "type": "ExponentalDecay"}}, f"The '{S}.type' parameter must be one of ExponentialDecay, "
                                               f"CosineDecay. Got 'ExponentalDecay' instead. Did you mean "
                                               f"'ExponentialDecay'?"),
    ({S: {"decay_steps": 10}}, f"'{S}' has no 'type'; use one of: ExponentialDecay, CosineDecay."),
    ({S: 0.01}, f"'{S}' must be a table like {{type = \"ExponentialDecay\", decay_steps = 1000, decay_rate = 0.9}} "
                f"(got 0.01)."),
    ({S: {**EXP, "alpha": 0.1}}, f"'{S}' (ExponentialDecay) has no key 'alpha'. Keys for ExponentialDecay: "
                                 f"decay_steps, decay_rate, staircase."),
    ({S: {**COS, "staircase": True}}, f"'{S}' (CosineDecay) has no key 'staircase'. Keys for CosineDecay: "
                                      f"decay_steps, alpha, warmup_target, warmup_steps."),
    ({S: {**COS, "warmup_steps": 50}}, f"{S}.warmup_steps = 50 needs warmup_target, the rate the warm-up reaches "
                                       f"(Keras ignores warmup_steps without it)."),
    ({S: EXP, P: {"enabled": True}}, f"{S} (ExponentialDecay) and {P} both set the learning rate (Keras cannot "
                                     f"change a schedule's rate); use one of them."),
    ({f"{P}.factor": 1.0}, msg(f"{P}.factor", "a float in (0, 1)", 1.0,
                               "Keras's ReduceLROnPlateau refuses a factor >= 1 (it would not lower the rate).")),
    ({f"{P}.factor": 2}, msg(f"{P}.factor", "a float in (0, 1)", 2,
                             "Keras's ReduceLROnPlateau refuses a factor >= 1 (it would not lower the rate).")),
    ({f"{P}.factor": 0}, msg(f"{P}.factor", "a float in (0, 1)", 0)),
    ({f"{P}.patience": -1}, msg(f"{P}.patience", "an int >= 0", -1)),
    ({f"{P}.cooldown": 1.5}, msg(f"{P}.cooldown", "an int", 1.5)),
    ({f"{P}.min_lr": -1e-5}, msg(f"{P}.min_lr", "a float >= 0", -1e-5)),
    ({f"{P}.min_delta": -0.1}, msg(f"{P}.min_delta", "a float >= 0", -0.1)),
    ({f"{P}.mode": "up"}, msg(f"{P}.mode", "one of 'auto', 'min', 'max'", "up")),
    ({f"{P}.monitor": "val_f1"}, msg(f"{P}.monitor", "one of val_loss, val_accuracy, val_auc, loss, accuracy",
                                     "val_f1")),
    ({f"{P}.patiance": 3}, f"Unknown config key '{P}.patiance'. Did you mean '{P}.patience'?"),
])
def test_one_line_errors(sets, message):
    got = error(sets)
    assert got == message and "\n" not in got


def test_a_schedule_alone_and_plateau_alone_are_fine():
    assert build({S: EXP, P: {"enabled": False}}).compile.learning_rate_schedule.type == "ExponentialDecay"
    assert build({P: {"enabled": True, "monitor": "val_auc"}}).fit.reduce_lr_on_plateau.enabled
    cos = build({S: {**COS, "warmup_target": 0.1}}).compile.learning_rate_schedule  # Keras: decay from the target
    assert cos.warmup_steps == 0 and cos.warmup_target == 0.1


def test_every_schedule_type_has_keys():
    assert list(LR_SCHEDULES) == ["ExponentialDecay", "CosineDecay"]
    assert all("decay_steps" in keys for keys in LR_SCHEDULES.values())
