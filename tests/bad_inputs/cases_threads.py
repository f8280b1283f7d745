"""Bad values of ``fit.threads`` (the CPU thread policy: 'auto' or a count)."""

from __future__ import annotations

from .cases import Case

CASES = [
    Case("threads-bad", "`fit.threads` other than `\"auto\"` or an int >= 1 (`0`, `2.5`, `true`, `\"Auto\"`, a list)",
         "config / `--set`",
         lambda folder: ["train", "toy.toml", "--set", "fit.threads=0", "--out", "out"], 2,
         r"The 'fit\.threads' parameter must be 'auto' or an int >= 1\. Got 0 instead",
         "`ConfigError` (did-you-mean for a misspelt `auto`; `3.0` reads as 3)",
         "tests/config/test_threads.py::test_bad_values_give_one_line, "
         "tests/config/test_threads.py::test_any_other_value_is_refused_in_one_line"),
]
