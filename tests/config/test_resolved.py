"""The resolved config (``config.toml`` of a run folder) is byte-identical to what the config
module wrote before it became a package, and it reads back to the same config."""

import pytest
from helpers import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab.config import Config, from_dict, load_config, tomllib

FIXTURES = ROOT / "tests" / "config" / "fixtures" / "resolved"
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
PRESETS = sorted((ROOT / "src" / "rnnlab" / "presets").glob("*.toml"))
FILES = [("examples", p) for p in EXAMPLES] + [("presets", p) for p in PRESETS]


def test_there_are_fixtures_for_every_file_and_no_others():
    assert len(EXAMPLES) >= 8 and len(PRESETS) >= 5
    assert sorted(f.name for f in FIXTURES.iterdir()) == sorted(f"{kind}__{p.name}" for kind, p in FILES)


@pytest.mark.parametrize("kind, path", FILES, ids=[f"{k}/{p.name}" for k, p in FILES])
def test_resolved_toml_is_byte_identical_to_the_fixture(kind, path):
    expected = (FIXTURES / f"{kind}__{path.name}").read_text(encoding="utf-8")
    # the fixtures were written with the file's folder replaced by <DIR> (paths are absolute)
    assert load_config(path).to_toml() == expected.replace("<DIR>", str(path.parent))


@pytest.mark.parametrize("path", EXAMPLES + PRESETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_round_trip_through_dict_and_toml(path):
    cfg = load_config(path)
    assert from_dict(cfg.to_dict()) == cfg
    assert from_dict(tomllib.loads(cfg.to_toml())) == cfg
    assert from_dict(cfg.to_dict()).to_toml() == cfg.to_toml()


def test_the_jigsaw_lstm_example_resolves_as_documented():
    cfg = load_config(ROOT / "examples" / "jigsaw_lstm.toml")
    assert isinstance(cfg, Config) and cfg.name == "jigsaw_lstm"
    assert cfg.data.path == str(ROOT / "examples" / "train.csv.zip")
    assert [layer.type for layer in cfg.model.layers] == ["LSTM", "Dense"]


OVERRIDES = st.fixed_dictionaries({}, optional={
    "fit.epochs": st.integers(1, 50),
    "fit.batch_size": st.sampled_from([1, 16, 256.0]),
    "fit.early_stopping.patience": st.integers(0, 5),
    "text.maxlen": st.one_of(st.none(), st.integers(1, 500)),
    "text.lower": st.booleans(),
    "data.validation_split": st.floats(0.01, 0.99),
    "compile.optimizer": st.sampled_from(["adam", "sgd", "rmsprop", "nadam"]),
    "compile.learning_rate": st.floats(1e-5, 1.0),
    "compile.loss": st.sampled_from(["bce", "binary_crossentropy", "mse", "mean_squared_error"]),
    "compile.metrics": st.lists(st.sampled_from(["acc", "auc", "roc_auc", "accuracy"]), max_size=4),
    "model.layers.-1.units": st.integers(1, 4),
    "fit.shuffle": st.booleans(),
    "model.layers.-1.activation": st.sampled_from(["sigmoid", "softmax", "linear"]),
    "seed": st.integers(0, 2**31),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([p for p in EXAMPLES if "compile_experiments" not in p.name]), OVERRIDES)
def test_round_trip_with_generated_overrides(path, overrides):
    cfg = load_config(path, overrides)
    again = from_dict(cfg.to_dict())
    assert again == cfg
    assert from_dict(tomllib.loads(cfg.to_toml())) == cfg
    for key, value in overrides.items():
        if key == "fit.batch_size":
            assert cfg.fit.batch_size == value and type(cfg.fit.batch_size) is int
