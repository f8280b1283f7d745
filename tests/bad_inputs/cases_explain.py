"""Bad inputs of ``rnnlab explain`` and ``POST /v1/explain``."""

from __future__ import annotations

from .cases import Case, command

EX = "tests/test_explain.py::"
OB = "tests/serve/test_observe.py::"

CASES = [
    Case("explain-unknown-label", "`rnnlab explain RUN --text … --label nope` (not one of the run's labels)",
         "`rnnlab explain`", command("explain", "run", "--text", "fine", "--label", "nope"), 2,
         r"The '--label' parameter must be one of the run's labels \(pos\)\. Got 'nope' instead\.",
         "`ConfigError` naming the run's labels", EX + "test_bad_arguments_are_one_line_errors"),
    Case("explain-no-input", "`rnnlab explain RUN` without `--text` or `--data` (or with both)", "`rnnlab explain`",
         command("explain", "run"), 2, r"needs either --text .* or --data FILE --out FILE",
         "`ConfigError`: one of the two ways to give texts", EX + "test_cli_text_plain_jsonl_and_html"),
    Case("explain-data-without-out", "`rnnlab explain RUN --data FILE` without `--out`", "`rnnlab explain`",
         command("explain", "run", "--data", "in.csv", files={"in.csv": "id,text\na,fine\n"}), 2,
         r"--data needs --out FILE", "`ConfigError` naming `--out`", EX + "test_cli_text_plain_jsonl_and_html"),
    Case("serve-explain-over-limits", "`POST /v1/explain` with more than `--explain-max-texts` texts, a text over "
         "`--explain-max-chars`, or an unknown label", "`rnnlab serve`", None, 413, "",
         "413 `too_many_texts` / 422 `text_too_long` naming the `explain_` limit; 422 `invalid_request` naming the "
         "run's labels", OB + "test_explain_answers_as_the_library_under_its_own_limits"),
]
