"""Search over ranges: [sweep.space] parsed and checked in one line, sampled by Optuna's TPE /
random / grid samplers until n_trials (or the timeout), pruned from the per-epoch metric, the
doctor's blocked samples recorded, and compare/report showing the sampled values, the best
trial, the optimisation history and the parameter importances."""

import json
import math
import time
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import ROOT, run_cli, toy_config, write_toy_csv
from rnnlab.config import from_dict, load_config
from rnnlab.config.space import parse_dist
from rnnlab.errors import ConfigError
from rnnlab.experiments import search
from rnnlab.experiments.variants import expand

pytest.importorskip("optuna", reason="the sweep needs optuna (installed with rnnlab)")


def _raw(tmp: Path, name: str, sweep: dict, n: int = 200, **over) -> dict:
    data = tmp / "toy.csv"
    if not data.exists():
        write_toy_csv(data, n=n)
    cfg = toy_config(data, tmp / "runs", **over)
    cfg["name"] = name
    cfg["sweep"] = sweep
    cfg["fit"]["threads"] = 1
    return cfg


def _write(tmp: Path, cfg: dict) -> Path:
    path = tmp / f"{cfg['name']}.toml"
    path.write_text(tomli_w.dumps(cfg))
    return path


def _study(tmp: Path, name: str):
    import optuna

    from rnnlab.experiments.sweep import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(None, tmp / "runs" / name / "study.journal"))


SPACE = {"compile.learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
         "model.layers.0.units": {"low": 4, "high": 16, "step": 4},
         "fit.batch_size": {"choices": [16, 32]}}


# ----------------------------------------------------------------------------------- parsing
def test_space_parses_and_round_trips_through_toml(tmp_path):
    cfg = load_config(_write(tmp_path, _raw(tmp_path, "p", {"mode": "tpe", "n_trials": 3, "space": SPACE})))
    space = search.space_of(cfg)
    assert [d.kind for d in space.values()] == ["float", "int", "choice"]
    assert space["model.layers.0.units"].grid() == [4, 8, 12, 16]
    again = from_dict(__import__("tomllib").loads(cfg.to_toml()))
    assert again.sweep.space == cfg.sweep.space and again.sweep.mode == "tpe"
    # in a search the fixed variants are the baselines only (the space is sampled later)
    assert [v.name for v in expand(cfg)] == ["baseline tfidf_lr", "baseline nbsvm"]


def test_dotted_lists_join_the_space_as_choices(tmp_path):
    cfg = load_config(_write(tmp_path, _raw(tmp_path, "j", {"mode": "tpe", "n_trials": 2, "baselines": False,
                                                            "compile.optimizer": ["adam", "rmsprop"]})))
    space = search.space_of(cfg)
    assert space["compile.optimizer"].choices == ("adam", "rmsprop") and expand(cfg) == []


BAD = [
    ({"x.y": {"low": 1, "high": 1}}, r'sweep\.space\."x\.y"\.high.*must be a number > low \(1\)'),
    ({"compile.learning_rate": {"low": 0.0, "high": 1e-2, "log": True}}, r"low.*a number > 0 with log = true"),
    ({"fit.batch_size": {"choices": [16], "step": 2}}, r"step belongs to a range"),
    ({"fit.batch_size": {"choices": []}}, r"choices.*a non-empty list"),
    ({"fit.batch_size": {"low": 8}}, r"high is missing"),
    ({"fit.batch_size": {"low": 8, "high": 64, "stp": 8}}, r"unknown field 'stp'"),
    ({"fit.batch_size": [16, 32]}, r"a table \{ low, high"),
    ({"fit.batch_size": {"low": 8, "high": 64, "step": 8, "log": True}}, r"step and log = true exclude each other"),
    ({"name": {"choices": ["a"]}}, r"cannot be searched"),
]


@pytest.mark.parametrize("space,match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_space_tables_are_one_line_errors(tmp_path, space, match):
    raw = _raw(tmp_path, "bad", {"mode": "tpe", "n_trials": 2, "space": space})
    with pytest.raises(ConfigError, match=match) as info:
        from_dict(raw)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("sweep,match", [
    ({"mode": "grid", "space": {"compile.learning_rate": {"low": 1e-4, "high": 1e-2}}},
     r"grid mode needs listed values.*continuous range"),
    ({"mode": "tpe"}, r"nothing to search"),
    ({"mode": "tpe", "space": SPACE}, r"sweep\.n_trials.*an int >= 1 in tpe mode"),
    ({"timeout": 10, "compile.optimizer": ["adam"]}, r"sweep\.timeout limits a search"),
    ({"mode": "tpe", "n_trials": 2, "space": SPACE, "pruner": "none", "prune_after_epoch": 2},
     r"pruner = 'none'"),
    ({"mode": "tpe", "n_trials": 2, "space": {"compile.optimizer": {"choices": ["adam"]}},
      "compile.optimizer": ["sgd"]}, r"both a list in \[sweep\] and in \[sweep.space\]"),
])
def test_bad_search_settings_are_one_line_errors(tmp_path, sweep, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(_raw(tmp_path, "bad", sweep))


@pytest.mark.parametrize("space,match", [
    ({"compile.learnin_rate": {"low": 1e-4, "high": 1e-2}}, r'sweep\.space\."compile\.learnin_rate" = 0\.0001: .*'
                                                             r"Unknown config key"),
    ({"model.layers.0.rate": {"low": 0.1, "high": 1.5}}, r'sweep\.space\."model\.layers\.0\.rate" = 1\.5'),
])
def test_space_keys_and_ends_are_checked_against_the_config(tmp_path, space, match):
    raw = _raw(tmp_path, "keys", {"mode": "tpe", "n_trials": 2, "space": space})
    raw["model"]["layers"].insert(0, {"type": "SpatialDropout1D", "rate": 0.2})
    with pytest.raises(ConfigError, match=match):
        search.check_space(from_dict(raw))


finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(low=finite, width=st.floats(1e-3, 1e6), step_frac=st.one_of(st.none(), st.floats(0.01, 1.0)),
       ints=st.booleans())
def test_ranges_parse_and_their_grid_stays_inside(low, width, step_frac, ints):
    high = low + width
    if ints:
        low, high = int(low), int(low) + max(1, int(width))
    table = {"low": low, "high": high}
    if step_frac is not None:
        step = (high - low) * step_frac
        table["step"] = max(1, int(step)) if ints else step
    dist = parse_dist("compile.learning_rate", table)
    assert dist.kind == ("int" if ints else "float")
    if dist.discrete:
        grid = dist.grid()
        assert grid[0] == low and all(low <= v <= high + 1e-9 * abs(high) for v in grid)
        assert all(b > a for a, b in zip(grid, grid[1:]))


@given(low=st.floats(-10, 10), high=st.floats(-10, 10))
def test_low_not_below_high_is_refused(low, high):
    if low < high:
        assert parse_dist("a.b", {"low": low, "high": high}).high == high
    else:
        with pytest.raises(ConfigError, match="must be a number > low"):
            parse_dist("a.b", {"low": low, "high": high})


# ----------------------------------------------------------------------------------- samplers
def _fake_runner(value_of):
    """A run_variant that trains nothing: records the sampled values and a computed value."""
    from optuna.trial import TrialState

    seen = []

    def run_variant(store, trial, variant, base_dir, **_):
        seen.append(variant.overrides)
        tid = store.trial_id(trial)
        store.set(tid, outcome="ok")
        store.finish(tid, TrialState.COMPLETE, value_of(variant.overrides))
        return "ok"

    return run_variant, seen


def _store(cfg, name):
    import optuna

    from rnnlab.experiments.sweep import Store

    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize",
                                sampler=search.make_sampler(cfg, cfg.sweep.seed), pruner=search.make_pruner(cfg))
    return Store(study, storage)


@pytest.mark.parametrize("mode,sampler", [("tpe", "TPESampler"), ("random", "RandomSampler"),
                                          ("grid", "GridSampler")])
def test_each_sampler_draws_inside_the_space(tmp_path, mode, sampler):
    from rnnlab.train.progress import Reporter

    space = {"compile.learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
             "model.layers.0.units": {"low": 4, "high": 16, "step": 4},
             "model.embedding": {"choices": [{"dim": 8}, {"dim": 16, "mask_zero": True}]}}  # tables as choices
    if mode == "grid":
        space["compile.learning_rate"] = {"low": 0.001, "high": 0.003, "step": 0.001}
    cfg = from_dict(_raw(tmp_path, mode, {"mode": mode, "n_trials": 14, "space": space}))
    store = _store(cfg, mode)
    assert type(store.study.sampler).__name__ == sampler
    runner, seen = _fake_runner(lambda o: -abs(math.log10(o["compile.learning_rate"]) + 2.5))
    search.search_loop(store, cfg, tmp_path, force=False, threads=1, rep=Reporter("quiet"), started=time.time(),
                       run_variant=runner)
    assert len(seen) == 14  # n_trials (the grid has 3 x 4 x 2 = 24 points)
    for o in seen:
        assert 1e-4 <= o["compile.learning_rate"] <= 1e-2 and o["model.layers.0.units"] in (4, 8, 12, 16)
        assert o["model.embedding"] in ({"dim": 8}, {"dim": 16, "mask_zero": True})
    if mode == "grid":
        assert len({json.dumps(o, sort_keys=True) for o in seen}) == len(seen)  # every grid point once
    trials = store.study.get_trials()
    assert all(t.user_attrs["sampled"] and t.state.name == "COMPLETE" for t in trials)
    ranked = search.importances(store.study)
    assert ranked and ranked[0][0] == "compile.learning_rate"  # the only parameter the value depends on


def test_timeout_stops_starting_trials(tmp_path):
    from rnnlab.train.progress import Reporter

    cfg = from_dict(_raw(tmp_path, "t", {"mode": "random", "n_trials": 50, "timeout": 0.5, "space": SPACE}))
    store = _store(cfg, "t")

    def slow(o):
        time.sleep(0.2)
        return 0.5

    runner, seen = _fake_runner(slow)
    search.search_loop(store, cfg, tmp_path, force=False, threads=1, rep=Reporter("quiet"), started=time.time(),
                       run_variant=runner)
    assert 2 <= len(seen) <= 4


# ----------------------------------------------------------------------------------- real runs
def test_pruning_stops_the_planted_bad_region(tmp_path, capsys):
    """Learning rates around 1e-7 cannot learn in 3 epochs: the median pruner stops them."""
    # seed 4: Optuna's GridSampler draws the two good rates first (the median pruner's two startup trials)
    sweep = {"mode": "grid", "pruner": "median", "baselines": False, "seed": 4,
             "space": {"compile.learning_rate": {"choices": [0.03, 0.02, 1e-7, 2e-7]}}}
    path = _write(tmp_path, _raw(tmp_path, "prune", sweep, fit__epochs=3))
    code, out, err = run_cli(["sweep", path], capsys)
    assert code == 0, err
    trials = {t.params["compile.learning_rate"]: t for t in _study(tmp_path, "prune").trials}
    assert trials[0.03].user_attrs["outcome"] == "ok" and trials[0.02].user_attrs["outcome"] == "ok"
    pruned = [t for lr, t in trials.items() if lr < 1e-6 and t.state.name == "PRUNED"]
    assert pruned and all("below the median" in t.user_attrs["reason"] for t in pruned)
    for t in pruned:  # the pruned run's folder is finished and says why
        folder = Path(t.user_attrs["run_dir"])
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["status"] == "pruned" and metrics["epochs_run"] < 3 and (folder / "manifest.json").exists()


def test_doctor_blocked_sample_is_recorded_and_the_search_goes_on(tmp_path, capsys):
    sweep = {"mode": "grid", "baselines": True,
             "space": {"model.layers.1.activation": {"choices": ["relu", "sigmoid"]}}}
    path = _write(tmp_path, _raw(tmp_path, "doc", sweep, fit__epochs=1))
    code, out, err = run_cli(["sweep", path], capsys)
    assert code == 0, err
    trials = _study(tmp_path, "doc").trials
    by = {t.params.get("model.layers.1.activation", t.user_attrs["variant_name"]): t for t in trials}
    assert by["relu"].user_attrs["outcome"] == "blocked" and "bce-not-probability" in by["relu"].user_attrs["reason"]
    assert by["sigmoid"].user_attrs["outcome"] == "ok"
    assert by["baseline tfidf_lr"].user_attrs["outcome"] == "ok"  # baselines still join the study

    folder = tmp_path / "runs" / "doc"
    code, out, _ = run_cli(["compare", folder, "--format", "md"], capsys)
    assert code == 0
    assert "model.layers.1.activation" in out and "| relu |" in out and "| sigmoid |" in out
    assert "blocked: The config doctor" in out and "Search: 2 sampled trials (1 complete, 0 pruned, 1 fail)" in out
    assert "best: trial" in out
    code, out, _ = run_cli(["report", folder, "--out", tmp_path / "r.html"], capsys)
    page = (tmp_path / "r.html").read_text()
    assert code == 0 and "<h2>Search</h2>" in page and 'alt="optimisation history' in page
    assert "Parameter importance needs two completed trials" in page


def test_compare_and_report_show_history_and_importances(tmp_path, capsys):
    import optuna

    from rnnlab.report.compare import importance_table, search_text
    from rnnlab.report.html import _search_section

    study = optuna.create_study(direction="maximize")
    for i in range(8):
        lr, units = 10 ** (-4 + i * 0.3), [4, 8][i % 2]
        t = optuna.trial.create_trial(params={"compile.learning_rate": lr, "model.layers.0.units": units},
                                      distributions={"compile.learning_rate": optuna.distributions.FloatDistribution(
                                          1e-4, 1e-1, log=True), "model.layers.0.units":
                                          optuna.distributions.IntDistribution(4, 8, step=4)},
                                      value=1 - abs(math.log10(lr) + 2.5) / 3,
                                      user_attrs={"sampled": True, "variant_name": f"trial {i}"})
        study.add_trial(t)
    header, cells = importance_table(study)
    assert header == ["parameter", "importance"] and cells[0][0] == "compile.learning_rate"
    text = search_text(study)
    assert "8 sampled trials (8 complete" in text and "| compile.learning_rate |" in text
    html = _search_section(study)
    assert "data:image/png;base64," in html and "<td>compile.learning_rate</td>" in html


# ----------------------------------------------------------------------------------- start_from_base
def test_start_from_base_queues_the_base_config_once_as_the_first_trial(tmp_path):
    """sweep.start_from_base: trial 0 has the base config's own value at every key of the space
    (named so), the sampler draws the rest, and a second call (a resumed search) queues nothing."""
    from rnnlab.train.progress import Reporter

    cfg = from_dict(_raw(tmp_path, "b", {"mode": "tpe", "n_trials": 5, "space": SPACE, "start_from_base": True},
                         compile__learning_rate=0.005))
    store = _store(cfg, "b")
    assert search.enqueue_base(store.study, cfg) and not search.enqueue_base(store.study, cfg)
    runner, seen = _fake_runner(lambda o: o["model.layers.0.units"])
    search.search_loop(store, cfg, tmp_path, force=False, threads=1, rep=Reporter("quiet"), started=time.time(),
                       run_variant=runner)
    assert len(seen) == 5
    assert seen[0] == {"compile.learning_rate": 0.005, "model.layers.0.units": 8, "fit.batch_size": 32}
    first = min(store.study.get_trials(), key=lambda t: t.number)
    assert first.user_attrs["variant_name"] == "trial 0 (base config)"
    assert not search.enqueue_base(store.study, cfg)  # the study holds sampled trials: resumed, not queued again
    off = from_dict(_raw(tmp_path, "o", {"mode": "tpe", "n_trials": 5, "space": SPACE}))
    assert not search.enqueue_base(_store(off, "o").study, off)


@pytest.mark.parametrize("space,match", [
    ({"model.layers.0.units": {"low": 16, "high": 64, "step": 16}},
     r'base config\'s "model.layers.0.units" = 8 is not in sweep.space."model.layers.0.units" \(16 to 64 in steps '
     r'of 16\); widen the space or change the base value'),
    ({"fit.batch_size": {"choices": [16, 64]}}, r'"fit.batch_size" = 32 is not in .*\(one of 16, 64\)'),
    ({"model.layers.0.units": {"low": 4, "high": 16, "step": 3}}, r'"model.layers.0.units" = 8 is not in'),
    ({"compile.learning_rate_schedule": {"choices": [{"type": "CosineDecay", "decay_steps": 10}]}},
     r'the base config has no value at "compile.learning_rate_schedule"; set it, or set sweep.start_from_base = false'),
])
def test_a_base_value_outside_the_space_is_refused_before_anything_runs(tmp_path, space, match):
    cfg = from_dict(_raw(tmp_path, "x", {"mode": "tpe", "n_trials": 3, "space": space, "start_from_base": True}))
    with pytest.raises(ConfigError, match=match):
        search.check_space(cfg)


def test_a_table_choice_written_with_some_keys_matches_the_base_table_with_its_defaults():
    """Regression: examples/jigsaw_search.toml's "model.embedding" choices name only some keys
    ({dim = 50, pretrained = "glove-6b-50d"}); the base's resolved table also has mask_zero and
    trainable. The base matches the choice that gives the same table once applied, so trial 0 is
    that choice, not a refusal."""
    cfg = load_config(ROOT / "examples" / "jigsaw_search.toml", ["sweep.start_from_base=true"])
    search.check_space(cfg)
    params = search.base_params(cfg)
    assert json.loads(params["model.embedding"]) == {"dim": 50, "pretrained": "glove-6b-50d"}
    assert params["fit.batch_size"] == 32 and params["compile.learning_rate"] == 0.002
    scratch = load_config(ROOT / "examples" / "jigsaw_search.toml",
                          ["sweep.start_from_base=true", 'model.embedding={dim=200}'])
    assert json.loads(search.base_params(scratch)["model.embedding"]) == {"dim": 200}
    other = load_config(ROOT / "examples" / "jigsaw_search.toml",
                        ["sweep.start_from_base=true", 'model.embedding={dim=100}'])
    with pytest.raises(ConfigError, match=r'"model.embedding" = .*"dim": 100.* is not in sweep.space'):
        search.base_params(other)


def test_rnnlab_sweep_with_start_from_base_trains_the_base_config_first(tmp_path, capsys):
    sweep = {"mode": "random", "n_trials": 2, "baselines": False, "start_from_base": True,
             "space": {"model.layers.0.units": {"low": 4, "high": 16, "step": 4}}}
    path = _write(tmp_path, _raw(tmp_path, "sb", sweep, fit__epochs=1))
    code, out, err = run_cli(["sweep", path], capsys)
    assert code == 0, err
    assert "the first trial is the base config (sweep.start_from_base)" in out + err
    trials = sorted(_study(tmp_path, "sb").trials, key=lambda t: t.number)
    assert trials[0].params == {"model.layers.0.units": 8} and trials[0].user_attrs["outcome"] == "ok"
    code, out, _ = run_cli(["compare", tmp_path / "runs" / "sb", "--format", "md"], capsys)
    assert code == 0 and "trial 0 (base config)" in out
