"""The registry of bad inputs: every row of docs/bad-inputs.md is a :class:`Case` here.

A case with ``args`` is run by ``tests/bad_inputs/test_registry.py`` through the ``rnnlab``
command (in-process) in a fresh folder holding the toy data (``toy.csv``, ``toy.toml``) and a
trained toy run (``run``); the exit code and the one ``error:`` line are checked, and the line the
command ACTUALLY printed is what docs/bad-inputs.md shows. A case without ``args`` is covered by
the tests it names (the registry test checks they exist).

To add cases from another module, put a list ``CASES`` in a module ``tests/bad_inputs/cases_*.py``
(:func:`collect` gathers them), then regenerate the page:
``RNNLAB_UPDATE_DOCS=1 python -m pytest tests/bad_inputs/test_registry.py``.
"""

from __future__ import annotations

import gzip
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd


@dataclass(frozen=True)
class Case:
    """One bad input and what a user gets.

    Args:
        id: stable id (the pytest id).
        input: the input, in Markdown.
        where: the command or file it reaches.
        args: makes the input files in the folder it gets and returns the ``rnnlab`` arguments
            (paths relative to that folder); None when ``test`` covers the case.
        exit: the expected exit code (0: accepted).
        pattern: a regex the ``error:`` line (exit != 0) or the notes (exit 0) must match.
        outcome: what you get, in words (shown before the actual message).
        test: the tests that check it further (``path::name``, ``*`` at the end for a prefix).
        check: for exit 0: called with the folder after the command, asserts the output is right.
    """

    id: str
    input: str
    where: str
    args: Callable[[Path], list[str]] | None = None
    exit: int = 2
    pattern: str = ""
    outcome: str = ""
    test: str = ""
    check: Callable[[Path], None] | None = None


def _write(name: str, content: str | bytes) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / name
        raw = content
        if isinstance(raw, str):  # text is stored compressed as the name says; bytes as they are
            raw = gzip.compress(raw.encode("utf-8")) if name.endswith(".gz") else raw.encode("utf-8")
        path.write_bytes(raw)
        return path
    return write


def train_on(name: str, content: str | bytes, *extra: str) -> Callable[[Path], list[str]]:
    """``rnnlab train toy.toml`` on a data file holding ``content`` (fails before training)."""
    def args(folder: Path) -> list[str]:
        _write(name, content)(folder)
        return ["train", "toy.toml", "--set", f"data.path={name}", "--out", "out", *extra]
    return args


def predict_on(name: str, content: str | bytes, *extra: str) -> Callable[[Path], list[str]]:
    """``rnnlab predict run FILE --out scores.csv``."""
    def args(folder: Path) -> list[str]:
        _write(name, content)(folder)
        return ["predict", "run", name, "--out", "scores.csv", *extra]
    return args


def command(*argv: str, files: dict[str, str | bytes] | None = None) -> Callable[[Path], list[str]]:
    """Any ``rnnlab`` command, after writing ``files``."""
    def args(folder: Path) -> list[str]:
        for name, content in (files or {}).items():
            _write(name, content)(folder)
        return list(argv)
    return args


def scores(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "scores.csv", dtype={"id": str}, keep_default_na=False)


def _scored(ids: list[str]) -> Callable[[Path], None]:
    def check(folder: Path) -> None:
        out = scores(folder)
        assert out["id"].tolist() == ids, out
    return check


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _labels(values: list) -> str:
    return _jsonl([{"text": f"text {i} good" if v == 1 else f"text {i} bad", "pos": v} for i, v in enumerate(values)])


LONG = "good " * 200_000
TOY_ROWS = "id,text,pos\na,good fine,1\nb,awful bad,0\n"

CASES: list[Case] = [
    # ------------------------------------------------------------------ encodings and bytes
    Case("latin1-training", "non-UTF-8 bytes (e.g. latin-1 `é`)", "training / evaluation data",
         train_on("latin1.csv", b"text,pos\nfine,0\ncaf\xe9,1\n"), 2, r"line 3, byte 4: not valid UTF-8 \(byte 0xe9\)",
         "`DataError`: file, line and byte, the byte's value, and how to re-save as UTF-8",
         "tests/data/test_tables.py::test_non_utf8_*"),
    Case("latin1-predict", "non-UTF-8 bytes", "`rnnlab predict` (streamed)",
         predict_on("latin1.csv", b"id,text\na,fine\nb,caf\xe9\n"), 2, r"line 3, byte 6: not valid UTF-8",
         "`DataError` naming the file, line and byte; no output file", "tests/bad_inputs/test_hostile_files.py"),
    Case("utf16", "a UTF-16 file (Excel's \"Unicode text\")", "any data file",
         predict_on("utf16.csv", "id,text\na,fine\n".encode("utf-16")), 2, r"It is UTF-16",
         "`DataError`: it is UTF-16, re-save it as UTF-8", "tests/bad_inputs/test_hostile_files.py"),
    Case("nul", "a NUL byte (binary or BOM-less UTF-16 data)", "any data file",
         train_on("nul.csv", b"text,pos\nfi\x00ne,0\nok,1\n"), 2, r"line 2: a NUL byte",
         "`DataError` naming the line", "tests/bad_inputs/test_hostile_files.py"),
    Case("bom-id-first", "a UTF-8 byte-order mark (Excel's \"CSV UTF-8\"), `id` the first column", "predict",
         predict_on("bom.csv", "\ufeffid,text\nq1,good fine\nq2,awful\n"), 0, "",
         "read as UTF-8 without the mark: the ids are the file's (`q1`, `q2`), not row numbers",
         "tests/data/test_tables.py::test_utf8_bom_is_accepted", check=_scored(["q1", "q2"])),
    Case("bom-text-first", "a UTF-8 byte-order mark, the text column first", "predict",
         predict_on("bom.csv", "\ufefftext,id\ngood fine,q1\nawful,q2\n"), 0, "", "scored; the column is `text`",
         "tests/bad_inputs/test_hostile_files.py", check=_scored(["q1", "q2"])),
    Case("surrogate-jsonl", "a JSON string with a lone surrogate escape (`\"\\ud800\"`)", "training / predict JSONL",
         train_on("s.jsonl", '{"text": "\\ud800 x", "pos": 1}\n{"text": "y", "pos": 0}\n'), 2,
         r"line 1: a lone surrogate escape", "`DataError` naming the line",
         "tests/bad_inputs/test_hostile_files.py"),
    # ------------------------------------------------------------------ size
    Case("long-text-predict", "a 1 MB text (CSV field)", "predict",
         predict_on("long.csv", f"id,text\na,{LONG}\nb,awful\n"), 0, "",
         "scored (tokenized, truncated to `maxlen` the Keras way)",
         "tests/test_bad_inputs.py::test_a_one_megabyte_text_is_scored", check=_scored(["a", "b"])),
    Case("long-text-tsv", "a 200,000-character line in a `.txt` (tab-separated) file", "predict",
         predict_on("long.txt", f"text\n{LONG[:200_000]}\n"), 0, "", "scored",
         "tests/bad_inputs/test_hostile_files.py", check=_scored(["1"])),
    Case("long-text-serve", "a text above `--max-chars`", "serve", None, 422, "",
         "refused with 422 (only above `--max-chars`)", "tests/serve/test_app.py"),
    Case("open-quote", "an unterminated quote (a field running to the end of a large file)", "CSV data",
         train_on("q.csv", 'text,pos\n"never closed,1\nb,0\n'), 2, r"is not a valid CSV file: line \d+",
         "`DataError` naming the file; fields are read up to 16,000,000 characters",
         "tests/data/test_tables.py::test_csv_unterminated_quote_is_a_data_error"),
    # ------------------------------------------------------------------ structure
    Case("tab-in-csv", "a tab-separated file named `.csv`", "training data, predict",
         predict_on("tabs.csv", "id\ttext\na\tgood\nb\tbad, awful\n"), 2, r"looks tab-separated",
         "`DataError`: it looks tab-separated; rename it `.tsv` or set the format",
         "tests/bad_inputs/test_hostile_files.py"),
    Case("comma-in-tsv", "a comma-separated file named `.tsv`", "training data, predict",
         train_on("commas.tsv", "text,pos\ngood,1\nbad,0\n"), 2, r"looks comma-separated",
         "`DataError`: it looks comma-separated", "tests/bad_inputs/test_hostile_files.py"),
    Case("duplicate-columns", "two columns with the same name", "CSV/TSV header, JSONL object",
         train_on("dup.csv", "text,pos,text\na,1,b\nc,0,d\n"), 2, r"columns 1 and 3 are both named 'text'",
         "`DataError` naming both columns (JSONL: the line and key)", "tests/bad_inputs/test_hostile_files.py"),
    Case("extra-field", "a first row with one field too many", "CSV",
         train_on("x.csv", "id,text,pos\n1,hello, world,1\n2,b,0\n"), 2, r"line 2 has 4 fields",
         "`DataError` (pandas would silently shift every column)",
         "tests/data/test_tables.py::test_csv_first_row_with_an_extra_field_*"),
    Case("empty-file", "empty file, header only, whitespace only, empty zip", "any data file",
         train_on("e.csv", "text,pos\n"), 2, r"has a header but no rows",
         "`DataError`: \"is empty\" / \"has a header but no rows\"",
         "tests/data/test_tables.py::test_empty_file_*, test_header_only_*"),
    Case("wrong-column", "wrong column names (`comment_txt`, `Toxic`)", "data files",
         train_on("w.csv", "id,Text,pos\n1,a,1\n2,b,0\n"), 2, r"has no column 'text'.*Did you mean 'Text'\?",
         "`DataError` listing the columns, with a did-you-mean", "tests/data/test_tables.py::test_missing_*_column_*"),
    Case("duplicate-ids", "duplicate ids", "data files, `test_labels.csv`",
         train_on("d.csv", "id,text,pos\n1,a,1\n1,b,0\n"), 2, r"rows 1 and 2 share the id '1'",
         "`DataError` naming the rows and the id", "tests/data/test_tables.py::test_duplicate_ids_*"),
    Case("corrupt-gz", "a corrupt `.gz` / `.zip`, a zip with two files", "data files",
         train_on("c.csv.gz", gzip.compress(b"text,pos\na,1\nb,0\n")[:-12]), 2, r"Cannot read 'c.csv.gz'",
         "`DataError` naming the file",
         "tests/data/test_tables.py::test_corrupt_compressed_*"),
    Case("bad-json", "wrong JSON (broken line, a list instead of an object, huge integers)", "JSONL data",
         train_on("b.jsonl", '{"text": "a", "pos": 1}\n["b", 0]\n'), 2, r"line 2: expected a JSON object",
         "`DataError` naming the line",
         "tests/data/test_tables.py, tests/test_bad_inputs.py::test_fuzzed_jsonl_loads_or_is_a_data_error"),
    Case("random-bytes", "random bytes as a CSV", "training data", None, 2, "",
         "loads or `DataError`, never another exception (hypothesis)", "tests/bad_inputs/test_hostile_files.py"),
    # ------------------------------------------------------------------ values
    Case("missing-texts", "NaN / None / blank texts", "training data", None, 0, "",
         "counted and reported; `data.empty_text` = `keep` (as `\"\"`, default), `drop`, or `error` (lists the rows)",
         "tests/data/test_tables.py::test_empty_texts_*"),
    Case("missing-texts-predict", "NaN / None texts", "predict",
         predict_on("n.jsonl", '{"id": "a", "text": null}\n{"id": "b", "text": NaN}\n'), 0, "",
         "scored as empty texts", "tests/test_bad_inputs.py::test_none_and_nan_texts_score_like_empty_ones",
         check=_scored(["a", "b"])),
    Case("na-strings", "the strings `NA`, `null`, `None`", "CSV text cells", None, 0, "",
         "kept as text (only truly empty fields are missing)",
         "tests/data/test_tables.py::test_na_like_literal_texts_stay_text"),
    Case("numbers-as-text", "numbers in the text column", "JSONL / parquet data, predict",
         predict_on("num.jsonl", '{"id": "a", "text": 12}\n{"id": "b", "text": "good"}\n'), 0,
         r"note: read 1 numbers in the text column 'text' as text \(rows 1\)",
         "read as their text, with a note naming the rows", "tests/bad_inputs/test_hostile_files.py",
         check=_scored(["a", "b"])),
    Case("list-as-text", "a list or an object in the text column", "JSONL / parquet data, predict",
         train_on("l.jsonl", '{"text": ["a", "b"], "pos": 1}\n{"text": "c", "pos": 0}\n'), 2,
         r"row 1, column 'text': a list \(\['a', 'b'\]\), not a text", "`DataError` naming the row",
         "tests/bad_inputs/test_hostile_files.py"),
    Case("label-outside-0-1", "labels outside {0, 1} (`yes`, `0.5`, missing) with `data.task = 'binary'`",
         "binary / multi-label columns", train_on("y.csv", "text,pos\na,1\nb,yes\n", "--set", "data.task=binary"), 2,
         r"row 2, column 'pos': label 'yes' is not 0 or 1",
         "`DataError`: file, row, column, the value, and the fix (`data.task = 'multiclass'`)",
         "tests/data/test_tables.py::test_csv_binary_label_outside_0_1_*"),
    Case("stray-label", "one stray `2` in a 0/1 label column (task inferred)", "training data",
         train_on("stray.jsonl", _labels([i % 2 for i in range(7)] + [2] + [i % 2 for i in range(32)])), 2,
         r"holds 0/1 labels except in 1 of 40 rows \(row 8: '2'\).*data.task = 'multiclass'",
         "`DataError` naming the rows, not a silent 3-class task; `data.task = 'multiclass'` confirms",
         "tests/bad_inputs/test_registry.py"),
    Case("list-label", "a list-valued label column (`[0]`, `[1]`)", "training data",
         train_on("ll.jsonl", _jsonl([{"text": "a", "pos": [1]}, {"text": "b", "pos": [0]}])), 2,
         r"row 1, column 'pos': the label \[1\] is a list, not a class", "`DataError` naming the row",
         "tests/bad_inputs/test_hostile_files.py"),
    Case("unknown-class", "an unknown class", "multi-class column with `data.classes`", None, 2, "",
         "`DataError`: row, column, value, the expected classes", "tests/data/test_tables.py::test_unexpected_class_*"),
    Case("kaggle-minus-1", "-1 rows in Kaggle's `test_labels.csv`", "evaluation", None, 0, "",
         "left out of scoring, with a note saying how many",
         "tests/data/test_jigsaw.py, tests/cli/test_cli.py::test_jigsaw_test_file_with_test_labels"),
    Case("imdb-pickle", "a pickle payload inside `imdb.npz`", "Keras IMDB data", None, 2, "",
         "refused by a restricted unpickler, nothing executed", "tests/data/test_imdb.py"),
    # ------------------------------------------------------------------ config and outputs
    Case("config-value", "unknown config key, wrong type, out-of-range value", "config / `--set`",
         command("train", "toy.toml", "--set", "text.maxlen=0"), 2,
         r"The 'text.maxlen' parameter must be an int >= 1. Got 0 instead.",
         "`ConfigError` in one shape; did-you-mean for keys and layer types",
         "tests/cli/test_cli.py::test_user_mistakes_get_one_line_and_exit_2"),
    Case("seed-too-big", "`--set seed=4294967296`", "config / `--set`",
         command("train", "toy.toml", "--set", "seed=4294967296"), 2,
         r"The 'seed' parameter must be an int in \[0, 4294967295\]", "`ConfigError` (NumPy's seed range)",
         "tests/bad_inputs/test_registry.py"),
    Case("absurd-units", "`units = 1000000000000`", "config (`summary`, `train`)",
         command("summary", "toy.toml", "--set", "model.layers.0.units=1000000000000"), 2,
         r"'model.layers.0.units' parameter must be an int in \[1, 65536\]",
         "`ConfigError`; a model of more than 1,000,000,000 parameters is refused before allocating",
         "tests/bad_inputs/test_registry.py"),
    Case("huge-model", "a model too large to allocate (`model.embedding.input_dim = 2000000000`)",
         "config (`summary`, `train`)",
         command("summary", "toy.toml", "--set", "model.embedding.input_dim=2000000000"), 2,
         r"The model would have [\d,]+ parameters", "`ConfigError` before any weight is allocated",
         "tests/bad_inputs/test_registry.py"),
    Case("config-folder", "a folder given as the config", "`train`", command("train", "."), 2, r"is a folder",
         "`ConfigError`", "tests/bad_inputs/test_registry.py"),
    Case("out-is-a-file", "`--out` naming an existing file", "`train`",
         command("train", "toy.toml", "--out", "taken.txt", files={"taken.txt": "x"}), 2,
         r"--out 'taken.txt' is a file",
         "`ConfigError` before the data is read", "tests/bad_inputs/test_registry.py"),
    Case("doctor", "a config that trains without learning", "`train`, `sweep`", None, 2, "",
         "the config doctor's findings; errors block unless `--force`", "tests/experiments/test_doctor.py"),
    Case("submission-columns", "a submission sample whose columns differ (`Toxic`)", "`rnnlab submission`", None, 2,
         "", "refused before writing: `'Toxic' vs 'toxic': case matters`", "tests/test_submission.py"),
    Case("run-version", "a run folder from a different rnnlab version", "predict, evaluate, serve, export", None, 2,
         "", "`RunError`: written by rnnlab X, this is Y, retrain",
         "tests/test_run.py::test_other_major_version_is_refused"),
    Case("run-tampered", "a tampered, truncated or missing run file; a damaged manifest", "any command loading a run",
         None, 2, "",
         "`RunError` naming the file and what differs: `does not match manifest.json (100 bytes where "
         "manifest.json records 1,234, so its sha256 differs)` or `(same size (1,234 bytes) but its sha256 "
         "differs: the content was modified)`; nothing loaded",
         "tests/test_run.py::test_a_tampered_file_is_refused, "
         "tests/test_run_files.py::test_a_shortened_file_is_reported_by_its_sizes_not_as_truncated, "
         "tests/test_run_files.py::test_a_same_size_edit_is_reported_as_a_checksum_mismatch"),
    Case("run-killed", "a run killed at any moment (SIGKILL at each file event of the run folder)",
         "predict, evaluate, serve, export, submission, thresholds", None, 2, "",
         "`RunError`: `'RUN' is an unfinished run: it stopped before its manifest.json was written (killed, or "
         "still training); continue it with `rnnlab train --resume RUN`.` — which restarts, continues or only "
         "seals it, to the same files as an uninterrupted run",
         "tests/train/test_crash_consistency.py, tests/train/test_lifecycle.py, tests/train/test_resume.py"),
    Case("blend-killed", "a blend killed before its manifest", "predict, `rnnlab train --resume`", None, 2, "",
         "`RunError`: `'RUN' is an unfinished blend (`rnnlab blend` stopped before it wrote manifest.json); remove "
         "it and blend again: rnnlab blend RUN RUN ... --out RUN`",
         "tests/train/test_crash_consistency.py"),
    Case("no-config-folder", "a folder without `config.toml` given as a run", "predict, `rnnlab train --resume`",
         None, 2, "",
         "`RunError`: `'X' is not a run folder (it has no config.toml); pass the folder that `rnnlab train` printed, "
         "e.g. runs/jigsaw_lstm.`", "tests/cli/test_cli.py::test_bad_run_folder"),
    Case("unwritable-output", "a read-only / impossible output folder, a full disk", "train, predict, submission", None,
         1, "", "`error: Cannot write '…': …` (exit 1); no half-written file",
         "tests/test_io.py, tests/cli/test_cli.py::test_unwritable_output_is_a_clear_error"),
    Case("nan-loss", "NaN / inf loss", "training", None, 1, "",
         "training stops with the epoch, step and common causes; the run folder keeps what was trained",
         "tests/train/test_trainer.py::test_nan_loss_*"),
    Case("ctrl-c", "Ctrl-C", "training, sweeps", None, 130, "",
         "clean stop, a usable run (exit 130); `--resume` continues it",
         "tests/train/test_trainer.py::test_ctrl_c_*, tests/train/test_resume.py"),
]


def collect() -> list[Case]:
    """:data:`CASES` and the ``CASES`` of every ``tests/bad_inputs/cases_*.py`` module, ids unique."""
    cases = list(CASES)
    for path in sorted(Path(__file__).parent.glob("cases_*.py")):
        cases += importlib.import_module(f"bad_inputs.{path.stem}").CASES
    ids = [c.id for c in cases]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"duplicate case ids: {sorted(dup)}"
    return cases
