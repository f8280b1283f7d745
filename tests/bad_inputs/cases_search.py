"""Bad ``[sweep.space]`` tables and search settings (``rnnlab sweep`` / ``rnnlab check``)."""

from __future__ import annotations

from .cases import Case, command

TESTS = "tests/experiments/test_search.py::test_bad_*"


def _search(space: str, *extra: str):
    return command("sweep", "toy.toml", "--set", "sweep.mode=tpe", "--set", "sweep.n_trials=2",
                   "--set", f"sweep.space={space}", *extra)


CASES = [
    Case("space-low-high", "a range with `low >= high`", "`[sweep.space]`",
         _search('{ "fit.batch_size" = { low = 64, high = 8 } }'), 2,
         r"The 'sweep\.space\.\"fit\.batch_size\"\.high' parameter must be a number > low \(64\)\. Got 8 instead",
         "`ConfigError` naming the key", TESTS),
    Case("space-log-nonpositive", "`log = true` with `low <= 0`", "`[sweep.space]`",
         _search('{ "compile.learning_rate" = { low = 0.0, high = 0.1, log = true } }'), 2,
         r"low' parameter must be a number > 0 with log = true", "`ConfigError`", TESTS),
    Case("space-step-on-choices", "`step` (or `low`, `log`) beside `choices`", "`[sweep.space]`",
         _search('{ "fit.batch_size" = { choices = [16, 32], step = 2 } }'), 2,
         r"step belongs to a range \{ low, high \}, not to choices", "`ConfigError`", TESTS),
    Case("space-empty-choices", "`choices = []`", "`[sweep.space]`",
         _search('{ "fit.batch_size" = { choices = [] } }'), 2,
         r"choices' parameter must be a non-empty list of values", "`ConfigError`", TESTS),
    Case("space-grid-continuous", "`mode = \"grid\"` with a continuous range (no `step`)", "`[sweep.space]`",
         command("sweep", "toy.toml", "--set", "sweep.mode=grid",
                 "--set", 'sweep.space={ "compile.learning_rate" = { low = 0.001, high = 0.1 } }'), 2,
         r"grid mode needs listed values, but this is a continuous range; add step, use choices",
         "`ConfigError`", TESTS),
    Case("space-unknown-key", "an unknown dotted key in the space", "`rnnlab sweep`",
         _search('{ "compile.learnin_rate" = { low = 0.001, high = 0.1 } }'), 2,
         r"sweep\.space\.\"compile\.learnin_rate\" = 0\.001: Unknown config key",
         "`ConfigError` before anything trains (each end of every range is tried on the config)", TESTS),
    Case("space-bad-end", "a range whose end the key refuses (`validation_batch_size` from 0)", "`rnnlab sweep`",
         _search('{ "fit.validation_batch_size" = { low = 0, high = 64 } }'), 2,
         r"sweep\.space\.\"fit\.validation_batch_size\" = 0: .*must be an int >= 1",
         "`ConfigError` naming the value", TESTS),
    Case("search-no-space", "`sweep.mode = \"tpe\"` without a space", "config",
         command("sweep", "toy.toml", "--set", "sweep.mode=tpe", "--set", "sweep.n_trials=2"), 2,
         r"sweep\.mode = 'tpe' has nothing to search", "`ConfigError`", TESTS),
]
