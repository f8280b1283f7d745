"""read_frame / load_table: every format and compression, and one clear DataError for each
kind of bad input (naming the file, the row counted from 1 after the header, the column,
the offending value and a hint)."""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab.data.tables import decode_utf8, detect_format, load_table, read_bytes, read_frame
from rnnlab.errors import ConfigError, DataError

# --------------------------------------------------------------------------- fixture writers


def _store(path: Path, raw: bytes) -> Path:
    """Write ``raw`` to ``path``, gzip-compressed for .gz, as the single member of a .zip."""
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(raw))
    elif path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(path.name[:-4], raw)
    else:
        path.write_bytes(raw)
    return path


def write_raw(folder: Path, name: str, content: str | bytes) -> Path:
    """A file holding exactly ``content`` (compressed as the name says)."""
    raw = content.encode("utf-8") if isinstance(content, str) else content
    return _store(folder / name, raw)


def write_rows(folder: Path, name: str, rows: list[dict]) -> Path:
    """``rows`` written in the format the name says (csv / tsv / jsonl / parquet, optionally
    .gz / .zip); None is a missing value (empty CSV field, JSON null, parquet null)."""
    base = name.removesuffix(".gz").removesuffix(".zip")
    fmt = base.rsplit(".", 1)[1]
    frame = pd.DataFrame(rows)
    if fmt in ("csv", "tsv"):
        raw = frame.to_csv(index=False, sep="," if fmt == "csv" else "\t", lineterminator="\n").encode()
    elif fmt == "jsonl":
        raw = "".join(json.dumps(r) + "\n" for r in rows).encode()
    else:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        raw = buf.getvalue()
    return _store(folder / name, raw)


ROWS = [
    {"id": "a1", "comment_text": "you are great, thanks", "toxic": 0},
    {"id": "b2", "comment_text": "idiot", "toxic": 1},
    {"id": "c3", "comment_text": "NA", "toxic": 0},
    {"id": "d4", "comment_text": "null", "toxic": 1},
]

# every format; compressed variants of CSV and of one other format
TABLE_NAMES = ["t.csv", "t.csv.gz", "t.csv.zip", "t.tsv", "t.tsv.gz", "t.jsonl", "t.jsonl.gz", "t.jsonl.zip",
               "t.parquet"]


def load(path, **kw):
    kw.setdefault("text_column", "comment_text")
    kw.setdefault("label_columns", ["toxic"])
    return load_table(path, **kw)


def raises_data_error(*parts: str):
    """Context manager: DataError whose message contains every one of ``parts`` (literally)."""
    return pytest.raises(DataError, match="(?s)" + "".join(f"(?=.*{re.escape(p)})" for p in parts))


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("name, fmt", [
    ("x.csv", "csv"), ("x.csv.gz", "csv"), ("x.CSV.ZIP", "csv"), ("dir.v2/x.csv.bz2", "csv"),
    ("x.tsv", "tsv"), ("x.tab", "tsv"), ("x.tsv.xz", "tsv"),
    ("x.jsonl", "jsonl"), ("x.ndjson.gz", "jsonl"), ("x.parquet", "parquet"), ("x.pq", "parquet"),
])
def test_detect_format_from_name_ignoring_compression(name, fmt):
    assert detect_format(name) == fmt


@pytest.mark.parametrize("name", ["x.xlsx", "x.xlsx.gz", "x", "x.gz"])
def test_detect_format_unknown_name_is_a_data_error_with_hint(name):
    with raises_data_error(f"'{name}'", "Cannot tell the format", ".csv", "data.format"):
        detect_format(name)


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_same_table_loads_identically_from_every_format(tmp_path, name):
    path = write_rows(tmp_path, name, ROWS)
    ds = load(path)
    assert list(ds.ids) == ["a1", "b2", "c3", "d4"]
    assert ds.texts == ["you are great, thanks", "idiot", "NA", "null"]
    assert ds.targets.dtype == np.float32 and ds.targets.shape == (4, 1)
    assert ds.targets[:, 0].tolist() == [0, 1, 0, 1]
    assert (ds.schema.task, ds.schema.labels, ds.schema.column) == ("binary", ["toxic"], "toxic")
    assert ds.source == str(path) and ds.notes == []


@pytest.mark.parametrize("name", ["t.csv", "t.csv.zip", "t.tsv.gz", "t.jsonl", "t.parquet"])
def test_read_frame_returns_all_columns_and_rows(tmp_path, name):
    frame = read_frame(write_rows(tmp_path, name, ROWS))
    assert list(frame.columns) == ["id", "comment_text", "toxic"]
    assert len(frame) == 4
    assert frame["comment_text"].tolist() == ["you are great, thanks", "idiot", "NA", "null"]


def test_read_frame_csv_cells_are_strings(tmp_path):
    frame = read_frame(write_raw(tmp_path, "t.csv", "id,n\n007,1.50\n"))
    assert frame["id"].tolist() == ["007"] and frame["n"].tolist() == ["1.50"]


@pytest.mark.parametrize("name", ["t.parquet.gz", "t.parquet.zip"])
def test_compressed_parquet_loads(tmp_path, name):
    assert load(write_rows(tmp_path, name, ROWS)).texts[1] == "idiot"


def test_explicit_format_overrides_the_file_name(tmp_path):
    path = write_raw(tmp_path, "export.dat", "comment_text,toxic\nhello,1\n")
    assert load(path, fmt="csv").texts == ["hello"]


def test_unknown_explicit_format_is_a_config_error(tmp_path):
    path = write_raw(tmp_path, "t.csv", "comment_text,toxic\nhello,1\n")
    with pytest.raises(ConfigError, match=r"'data.format'.*'xlsx'"):
        read_frame(path, fmt="xlsx")


def test_tsv_quotes_are_literal_text(tmp_path):
    path = write_raw(tmp_path, "t.tsv", 'comment_text\ttoxic\nsay "hi", ok\t1\n"quoted"\t0\n')
    assert load(path).texts == ['say "hi", ok', '"quoted"']


def test_csv_quoted_fields_with_commas_quotes_and_newlines(tmp_path):
    path = write_raw(tmp_path, "t.csv", 'comment_text,toxic\n"a, b ""c""\nd",1\n"x\r\ny",0\n')
    assert load(path).texts == ['a, b "c"\nd', "x\r\ny"]


# --------------------------------------------------------------------------- zip / gz containers


def test_zip_holding_two_files_is_an_error_naming_both(tmp_path):
    path = tmp_path / "t.csv.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("train.csv", "comment_text,toxic\na,1\n")
        zf.writestr("test.csv", "comment_text\nb\n")
    with raises_data_error("t.csv.zip", "holds 2 files", "train.csv", "test.csv", "exactly one", "Unzip"):
        load(path)


def test_empty_zip_is_an_error(tmp_path):
    path = tmp_path / "t.csv.zip"
    with zipfile.ZipFile(path, "w"):
        pass
    with raises_data_error("t.csv.zip", "holds 0 files"):
        read_frame(path)


def test_zip_ignores_folder_entries_and_macos_metadata(tmp_path):
    path = tmp_path / "t.csv.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data/", "")
        zf.writestr("data/train.csv", "comment_text,toxic\nhello,1\n")
        zf.writestr("__MACOSX/data/._train.csv", b"\x00\x05junk")
    assert load(path).texts == ["hello"]


@pytest.mark.parametrize("name, content", [
    ("t.csv.gz", b"comment_text,toxic\nnot gzipped at all,1\n"),
    ("t.csv.gz", gzip.compress(b"comment_text,toxic\n" + b"hello,1\n" * 200, mtime=0)[:40]),  # truncated
    ("t.csv.zip", b"PK\x03\x04 not really a zip"),
])
def test_broken_compressed_file_is_a_data_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with raises_data_error(f"Cannot read '{path}'", "Is the file complete"):
        read_frame(path)


def _corrupt_deflate(raw: bytes) -> bytes:
    out = bytearray(raw)
    for i in range(len(out) // 3, len(out) // 3 + 20):
        out[i] ^= 0xFF
    return bytes(out)


@pytest.mark.parametrize("suffix", [".gz", ".zip"])
def test_corrupt_compressed_data_is_a_data_error(tmp_path, suffix):
    good = _store(tmp_path / f"good.csv{suffix}", b"comment_text,toxic\n" + b"hello there,1\n" * 500)
    bad = tmp_path / f"t.csv{suffix}"
    bad.write_bytes(_corrupt_deflate(good.read_bytes()))
    with raises_data_error(f"'{bad}'"):
        read_frame(bad)


# --------------------------------------------------------------------------- files that are not there


@pytest.mark.parametrize("name", ["missing.csv", "missing.jsonl.gz", "missing.parquet"])
def test_missing_file_is_a_data_error(tmp_path, name):
    with raises_data_error(str(tmp_path / name), "does not exist", "data.path"):
        load(tmp_path / name)


@pytest.mark.parametrize("name, fmt", [("folder.csv", "auto"), ("folder", "csv"), ("folder", "jsonl")])
def test_folder_is_a_data_error(tmp_path, name, fmt):
    (tmp_path / name).mkdir()
    with raises_data_error(str(tmp_path / name), "is a folder", "must name a file"):
        read_frame(tmp_path / name, fmt)


@pytest.mark.parametrize("fmt", ["auto", "parquet"])
def test_folder_error_says_folder_whatever_the_format(tmp_path, fmt):
    (tmp_path / "data").mkdir()
    with raises_data_error("is a folder"):
        read_frame(tmp_path / "data", fmt)


def test_missing_path_without_extension_says_it_does_not_exist(tmp_path):
    with raises_data_error(str(tmp_path / "kaggle"), "does not exist"):
        read_frame(tmp_path / "kaggle")


# --------------------------------------------------------------------------- missing columns


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.jsonl", "t.parquet"])
def test_missing_text_column_suggests_the_close_name(tmp_path, name):
    path = write_rows(tmp_path, name, ROWS)
    with raises_data_error(f"'{path}'", "no column 'comment_txt'", "id, comment_text, toxic",
                           "Did you mean 'comment_text'?", "data.text_column"):
        load(path, text_column="comment_txt")


@pytest.mark.parametrize("name", ["t.csv", "t.tsv.zip", "t.jsonl"])
def test_missing_label_column_suggests_the_case_insensitive_match(tmp_path, name):
    path = write_rows(tmp_path, name, ROWS)
    with raises_data_error(f"'{path}'", "no column 'Toxic'", "Did you mean 'toxic'?", "data.label_columns"):
        load(path, label_columns=["Toxic"])


def test_missing_second_label_column_is_named(tmp_path):
    path = write_rows(tmp_path, "t.csv", ROWS)
    with raises_data_error("no column 'obscene'", "data.label_columns"):
        load(path, label_columns=["toxic", "obscene"])


def test_missing_column_without_a_close_match_lists_the_columns_without_a_guess(tmp_path):
    path = write_rows(tmp_path, "t.csv", ROWS)
    with pytest.raises(DataError) as info:
        load(path, label_columns=["sentiment"])
    assert "no column 'sentiment' (columns: id, comment_text, toxic)" in str(info.value)
    assert "Did you mean" not in str(info.value)


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl.gz"])
def test_missing_id_column_is_named(tmp_path, name):
    path = write_rows(tmp_path, name, ROWS)
    with raises_data_error(f"'{path}'", "no column 'doc_id'", "data.id_column"):
        load(path, id_column="doc_id")


# --------------------------------------------------------------------------- empty files


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.csv.zip", "t.tsv", "t.jsonl"])
@pytest.mark.parametrize("content", ["", "  \n\n\t \r\n"], ids=["zero-bytes", "whitespace-only"])
def test_empty_file_is_a_data_error(tmp_path, name, content):
    path = write_raw(tmp_path, name, content)
    with raises_data_error(f"'{path}' is empty", "no header and no rows"):
        load(path)


def test_zero_byte_parquet_is_a_data_error(tmp_path):
    path = write_raw(tmp_path, "t.parquet", b"")
    with raises_data_error(f"Cannot read parquet file '{path}'"):
        load(path)


@pytest.mark.parametrize("name, header", [("t.csv", "id,comment_text,toxic\n"), ("t.csv.gz", "id,comment_text,toxic"),
                                          ("t.tsv", "id\tcomment_text\ttoxic\n")])
def test_header_only_file_is_a_data_error(tmp_path, name, header):
    path = write_raw(tmp_path, name, header)
    with raises_data_error(f"'{path}' has a header but no rows"):
        load(path)


def test_parquet_without_rows_is_a_data_error(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"comment_text": pd.Series([], dtype=str), "toxic": pd.Series([], dtype=int)}).to_parquet(path)
    with raises_data_error(f"'{path}' has a header but no rows"):
        load(path)


# --------------------------------------------------------------------------- empty texts

EMPTY_ROWS = [
    {"id": "a", "comment_text": "first", "toxic": 1},
    {"id": "b", "comment_text": None, "toxic": 0},
    {"id": "c", "comment_text": "   ", "toxic": 1},
    {"id": "d", "comment_text": "fourth", "toxic": 0},
    {"id": "e", "comment_text": "", "toxic": 1},
]


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl", "t.parquet"])
def test_empty_texts_kept_as_empty_strings_with_a_note(tmp_path, name):
    ds = load(write_rows(tmp_path, name, EMPTY_ROWS), empty_text="keep")
    assert list(ds.ids) == ["a", "b", "c", "d", "e"]
    assert ds.texts[0] == "first" and ds.texts[1] == "" and ds.texts[2].strip() == "" and ds.texts[4] == ""
    assert ds.targets[:, 0].tolist() == [1, 0, 1, 0, 1]
    assert ds.notes == ["kept 3 missing or empty texts as empty strings (rows 2, 3, 5)"]


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl", "t.parquet"])
def test_empty_texts_dropped_with_a_note_and_labels_stay_aligned(tmp_path, name):
    ds = load(write_rows(tmp_path, name, EMPTY_ROWS), empty_text="drop")
    assert list(ds.ids) == ["a", "d"]
    assert ds.texts == ["first", "fourth"]
    assert ds.targets[:, 0].tolist() == [1, 0]
    assert ds.notes == ["dropped 3 rows with missing or empty text (rows 2, 3, 5)"]


def test_dropped_rows_without_id_column_keep_their_file_row_numbers(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "id"} for r in EMPTY_ROWS]
    ds = load(write_rows(tmp_path, "t.csv", rows), empty_text="drop")
    assert list(ds.ids) == ["1", "4"]


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl"])
def test_empty_texts_with_policy_error_name_count_rows_and_fix(tmp_path, name):
    path = write_rows(tmp_path, name, EMPTY_ROWS)
    with raises_data_error(f"'{path}'", "column 'comment_text'", "3 missing or empty texts", "(rows 2, 3, 5)",
                           "data.empty_text"):
        load(path, empty_text="error")


def test_many_empty_texts_are_counted_and_the_row_list_shortened(tmp_path):
    rows = [{"comment_text": "" if i % 2 else f"t{i}", "toxic": i % 2} for i in range(20)]
    path = write_rows(tmp_path, "t.csv", rows)
    with raises_data_error("10 missing or empty texts (rows 2, 4, 6, 8, 10, ...)"):
        load(path, empty_text="error")


def test_all_texts_empty_with_drop_is_a_data_error(tmp_path):
    path = write_rows(tmp_path, "t.csv", [{"comment_text": None, "toxic": 1}, {"comment_text": " ", "toxic": 0}])
    with raises_data_error(f"'{path}'", "no usable rows"):
        load(path, empty_text="drop")


def test_unknown_empty_text_policy_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"'data.empty_text'.*'skip'"):
        load(write_rows(tmp_path, "t.csv", ROWS), empty_text="skip")


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.csv.gz"])
def test_na_like_literal_texts_stay_text(tmp_path, name):
    literals = ["NA", "null", "None", "nan", "NaN", "N/A", "#N/A", "NULL", "-nan"]
    sep = "\t" if ".tsv" in name else ","
    content = f"comment_text{sep}toxic\n" + "".join(f"{t}{sep}1\n" for t in literals)
    ds = load(write_raw(tmp_path, name, content), empty_text="error")
    assert ds.texts == literals


def test_jsonl_null_is_missing_but_the_string_null_is_text(tmp_path):
    path = write_raw(tmp_path, "t.jsonl", '{"comment_text": null, "toxic": 1}\n{"comment_text": "null", "toxic": 0}\n')
    ds = load(path, empty_text="drop")
    assert ds.texts == ["null"] and list(ds.ids) == ["2"]


# --------------------------------------------------------------------------- 0/1 labels


@pytest.mark.parametrize("bad, shown", [("2", "'2'"), ("yes", "'yes'"), ("0.5", "'0.5'"), ("-1", "'-1'")])
def test_csv_binary_label_outside_0_1_names_file_row_column_value(tmp_path, bad, shown):
    # row 2's text spans two lines: rows are records, not lines
    path = write_raw(tmp_path, "t.csv", f'comment_text,toxic\nok,1\n"two\nlines",0\nbad one,{bad}\n')
    with raises_data_error(f"'{path}' row 3, column 'toxic'", f"label {shown} is not 0 or 1",
                           "data.task = 'multiclass'"):
        load(path, task="binary")


@pytest.mark.parametrize("bad, shown", [(2, "2"), ("yes", "'yes'"), (0.5, "0.5"), ("maybe", "'maybe'")])
def test_jsonl_multilabel_label_outside_0_1_names_row_column_value(tmp_path, bad, shown):
    rows = [{"comment_text": "a", "toxic": 0, "insult": 1}, {"comment_text": "b", "toxic": 1, "insult": bad}]
    path = write_rows(tmp_path, "t.jsonl.gz", rows)
    with raises_data_error(f"'{path}' row 2, column 'insult'", f"label {shown} is not 0 or 1"):
        load(path, label_columns=["toxic", "insult"])


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl", "t.parquet"])
def test_missing_label_names_row_and_column(tmp_path, name):
    rows = [{"comment_text": "a", "toxic": 1, "insult": 0}, {"comment_text": "b", "toxic": 0, "insult": 1},
            {"comment_text": "c", "toxic": None, "insult": 0}]
    path = write_rows(tmp_path, name, rows)
    with raises_data_error(f"'{path}' row 3, column 'toxic'", "the label is missing"):
        load(path, label_columns=["toxic", "insult"])


def test_missing_binary_label_with_task_binary(tmp_path):
    path = write_raw(tmp_path, "t.csv", "comment_text,toxic\na,1\nb,\n")
    with raises_data_error("row 2, column 'toxic'", "the label is missing"):
        load(path, task="binary")


def test_csv_label_spellings_true_false_and_floats_are_accepted(tmp_path):
    values = ["0", "1", "true", "false", "True", "FALSE", "0.0", "1.0", " 1 "]
    content = "comment_text,toxic\n" + "".join(f"t{i},{v}\n" for i, v in enumerate(values))
    ds = load(write_raw(tmp_path, "t.csv", content))
    assert ds.schema.task == "binary"
    assert ds.targets[:, 0].tolist() == [0, 1, 1, 0, 1, 0, 0, 1, 1]


def test_jsonl_bools_and_floats_are_accepted_as_0_1(tmp_path):
    path = write_raw(tmp_path, "t.jsonl", '{"comment_text": "a", "toxic": true, "insult": 0.0}\n'
                                         '{"comment_text": "b", "toxic": false, "insult": 1.0}\n'
                                         '{"comment_text": "c", "toxic": 1, "insult": "true"}\n')
    ds = load(path, label_columns=["toxic", "insult"])
    assert ds.schema.task == "multilabel"
    assert ds.targets.tolist() == [[1, 0], [0, 1], [1, 1]]


def test_parquet_bool_labels_are_accepted(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"comment_text": ["a", "b"], "toxic": [True, False]}).to_parquet(path)
    assert load(path).targets[:, 0].tolist() == [1, 0]


def test_several_label_columns_give_multilabel_in_the_given_order(tmp_path):
    rows = [{"text": "a", "x": 1, "y": 0, "z": 1}, {"text": "b", "x": 0, "y": 1, "z": 1}]
    ds = load(write_rows(tmp_path, "t.csv", rows), text_column="text", label_columns=["z", "x", "y"])
    assert ds.schema == type(ds.schema)("multilabel", ["z", "x", "y"])
    assert ds.targets.dtype == np.float32 and ds.targets.tolist() == [[1, 1, 0], [1, 0, 1]]


def test_single_column_with_task_multilabel_is_multilabel(tmp_path):
    ds = load(write_rows(tmp_path, "t.csv", ROWS), task="multilabel")
    assert (ds.schema.task, ds.schema.labels, ds.targets.shape) == ("multilabel", ["toxic"], (4, 1))


def test_several_label_columns_with_task_binary_is_a_config_error(tmp_path):
    rows = [{"text": "a", "x": 1, "y": 0}]
    with pytest.raises(ConfigError, match=r"'data.task'.*'binary'"):
        load(write_rows(tmp_path, "t.csv", rows), text_column="text", label_columns=["x", "y"], task="binary")


def test_unknown_task_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"'data.task'.*'regression'"):
        load(write_rows(tmp_path, "t.csv", ROWS), task="regression")


def test_unlabelled_load_has_no_targets(tmp_path):
    ds = load(write_rows(tmp_path, "t.csv", ROWS), label_columns=None)
    assert ds.targets is None and ds.schema is None and len(ds) == 4


# --------------------------------------------------------------------------- multi-class


def test_string_classes_are_inferred_and_sorted(tmp_path):
    content = "text,sentiment\na,pos\nb,neutral\nc,neg\nd,pos\n"
    ds = load(write_raw(tmp_path, "t.csv", content), text_column="text", label_columns=["sentiment"])
    assert (ds.schema.task, ds.schema.labels, ds.schema.column) == ("multiclass", ["neg", "neutral", "pos"],
                                                                     "sentiment")
    assert ds.targets.dtype == np.int64 and ds.targets.tolist() == [2, 1, 0, 2]


@pytest.mark.parametrize("name, content", [
    ("t.csv", "text,stars\na,10\nb,2\nc,1\nd,2\n"),
    ("t.jsonl", '{"text": "a", "stars": 10}\n{"text": "b", "stars": 2}\n{"text": "c", "stars": 1}\n'
                '{"text": "d", "stars": 2.0}\n'),
])
def test_integer_classes_sort_numerically(tmp_path, name, content):
    ds = load(write_raw(tmp_path, name, content), text_column="text", label_columns=["stars"])
    assert ds.schema.labels == ["1", "2", "10"]
    assert ds.targets.tolist() == [2, 1, 0, 1]


def test_negative_integer_classes_sort_numerically(tmp_path):
    content = "text,y\na,5\nb,-1\nc,0\nd,-10\n"
    ds = load(write_raw(tmp_path, "t.csv", content), text_column="text", label_columns=["y"])
    assert ds.schema.labels == ["-10", "-1", "0", "5"]


@pytest.mark.parametrize("odd", ["²", "--1"])
def test_digit_like_class_names_do_not_crash(tmp_path, odd):
    content = f"text,y\na,{odd}\nb,x\nc,3\n"
    ds = load(write_raw(tmp_path, "t.csv", content), text_column="text", label_columns=["y"])
    assert sorted(ds.schema.labels) == sorted([odd, "x", "3"])


def test_task_multiclass_on_a_0_1_column(tmp_path):
    ds = load(write_rows(tmp_path, "t.csv", ROWS), task="multiclass")
    assert (ds.schema.task, ds.schema.labels) == ("multiclass", ["0", "1"])
    assert ds.targets.tolist() == [0, 1, 0, 1]


def test_given_classes_fix_the_order(tmp_path):
    content = "text,sentiment\na,pos\nb,neg\nc,pos\n"
    ds = load(write_raw(tmp_path, "t.csv", content), text_column="text", label_columns=["sentiment"],
              classes=["pos", "neg", "neutral"])
    assert ds.schema.labels == ["pos", "neg", "neutral"]
    assert ds.targets.tolist() == [0, 1, 0]


def test_given_integer_classes_match_csv_strings(tmp_path):
    content = "text,stars\na,3\nb,1\nc,2\n"
    ds = load(write_raw(tmp_path, "t.csv", content), text_column="text", label_columns=["stars"], classes=[1, 2, 3])
    assert ds.schema.labels == ["1", "2", "3"] and ds.targets.tolist() == [2, 0, 1]


def test_unexpected_class_names_row_column_value_and_expected_classes(tmp_path):
    path = write_raw(tmp_path, "t.csv", "text,sentiment\na,pos\nb,neg\nc,meh\n")
    with raises_data_error(f"'{path}' row 3, column 'sentiment'", "label 'meh'", "(pos, neg)", "data.classes"):
        load(path, text_column="text", label_columns=["sentiment"], classes=["pos", "neg"])


def test_single_class_column_is_a_data_error(tmp_path):
    path = write_raw(tmp_path, "t.csv", "text,kind\na,spam\nb,spam\n")
    with raises_data_error(f"'{path}' column 'kind' has a single class ('spam')", "at least two"):
        load(path, text_column="text", label_columns=["kind"])


def test_missing_multiclass_label_names_the_row(tmp_path):
    path = write_raw(tmp_path, "t.csv", "text,kind\na,spam\nb,ham\nc,\n")
    with raises_data_error(f"'{path}' row 3, column 'kind'", "the label is missing"):
        load(path, text_column="text", label_columns=["kind"])


def test_positive_class_makes_a_column_binary(tmp_path):
    content = "text,kind\na,spam\nb,ham\nc,spam\nd,other\n"
    ds = load(write_raw(tmp_path, "t.csv", content), text_column="text", label_columns=["kind"],
              positive_class="spam")
    assert (ds.schema.task, ds.schema.labels, ds.schema.column) == ("binary", ["spam"], "kind")
    assert ds.targets.dtype == np.float32 and ds.targets[:, 0].tolist() == [1, 0, 1, 0]


def test_positive_class_matches_jsonl_numbers(tmp_path):
    path = write_raw(tmp_path, "t.jsonl", '{"text": "a", "stars": 5}\n{"text": "b", "stars": 1.0}\n')
    ds = load(path, text_column="text", label_columns=["stars"], positive_class="5")
    assert ds.targets[:, 0].tolist() == [1, 0]


def test_positive_class_that_never_occurs_is_a_data_error(tmp_path):
    path = write_raw(tmp_path, "t.csv", "text,kind\na,spam\nb,ham\n")
    with raises_data_error(f"'{path}' column 'kind'", "'Spam' never occurs", "values: ham, spam"):
        load(path, text_column="text", label_columns=["kind"], positive_class="Spam")


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl"])
def test_duplicate_ids_name_both_rows_and_the_id(tmp_path, name):
    rows = [{"id": i, "comment_text": f"t{n}", "toxic": 0} for n, i in enumerate(["a", "b", "c", "b"])]
    path = write_rows(tmp_path, name, rows)
    with raises_data_error(f"'{path}' rows 2 and 4 share the id 'b'", "column 'id'", "must be unique"):
        load(path)


def test_duplicate_id_rows_are_file_rows_after_dropping_empty_texts(tmp_path):
    path = write_raw(tmp_path, "t.csv", "id,comment_text,toxic\nx,,0\ny,a,1\nz,b,0\ny,c,1\n")
    with raises_data_error("rows 2 and 4 share the id 'y'"):
        load(path, empty_text="drop")


def test_duplicate_ids_in_an_explicit_id_column(tmp_path):
    path = write_raw(tmp_path, "t.csv", "doc,comment_text,toxic\n7,a,0\n7,b,1\n")
    with raises_data_error("rows 1 and 2 share the id '7'", "column 'doc'"):
        load(path, id_column="doc")


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl", "t.parquet"])
def test_missing_id_value_names_the_row(tmp_path, name):
    rows = [{"id": "a", "comment_text": "x", "toxic": 0}, {"id": None, "comment_text": "y", "toxic": 1}]
    path = write_rows(tmp_path, name, rows)
    with raises_data_error(f"'{path}' row 2, column 'id'", "the id is missing"):
        load(path)


def test_id_column_defaults_to_id_when_present(tmp_path):
    ds = load(write_rows(tmp_path, "t.csv", ROWS))
    assert list(ds.ids) == ["a1", "b2", "c3", "d4"]


def test_ids_are_row_numbers_from_1_without_an_id_column(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "id"} for r in ROWS]
    ds = load(write_rows(tmp_path, "t.csv", rows))
    assert list(ds.ids) == ["1", "2", "3", "4"]


def test_explicit_id_column_is_used_instead_of_id(tmp_path):
    path = write_raw(tmp_path, "t.csv", "id,doc,comment_text,toxic\n1,x9,a,0\n1,y9,b,1\n")
    ds = load(path, id_column="doc")
    assert list(ds.ids) == ["x9", "y9"]


def test_numeric_jsonl_ids_become_strings(tmp_path):
    path = write_raw(tmp_path, "t.jsonl", '{"id": 10, "comment_text": "a", "toxic": 0}\n'
                                         '{"id": 2.0, "comment_text": "b", "toxic": 1}\n')
    ds = load(path)
    assert list(ds.ids) == ["10", "2"] and ds.ids.dtype == object


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.jsonl"])
def test_non_utf8_byte_names_line_and_byte(tmp_path, name):
    if name.endswith(".jsonl"):
        raw = '{"comment_text": "a", "toxic": 0}\n{"comment_text": "b", "toxic": 1}\n{"comment_text": "caf'
        raw = raw.encode() + b'\xe9", "toxic": 0}\n'
    else:
        raw = b"comment_text,toxic\nfine,0\ncaf\xe9,1\n"
    path = write_raw(tmp_path, name, raw)
    with raises_data_error(f"'{path}' line 3", "not valid UTF-8 (byte 0xe9)", "Re-save the file as UTF-8"):
        load(path)


def test_decode_utf8_reports_the_byte_position_in_the_line():
    with raises_data_error("'src' line 2, byte 4: not valid UTF-8 (byte 0xff)"):
        decode_utf8(b"ab\ncaf\xff\n", "src")


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.jsonl"])
def test_utf8_bom_is_accepted(tmp_path, name):
    path = write_rows(tmp_path, name, ROWS)
    raw = read_bytes(path)
    path.write_bytes(b"\xef\xbb\xbf" + raw)
    ds = load(path)
    assert list(ds.ids) == ["a1", "b2", "c3", "d4"]  # the first column is 'id', not '\ufeffid'


def test_bad_byte_after_a_bom_is_reported_at_its_real_line():
    with raises_data_error("line 2", "byte 0xe9"):
        decode_utf8(b"\xef\xbb\xbfab\ncd\xe9x\n", "src")


def test_non_ascii_utf8_text_loads(tmp_path):
    path = write_raw(tmp_path, "t.csv", "comment_text,toxic\ncafé ☕ 日本,1\nemoji 😀,0\n")
    assert load(path).texts == ["café ☕ 日本", "emoji 😀"]


# --------------------------------------------------------------------------- JSONL structure


def test_malformed_jsonl_line_is_named(tmp_path):
    path = write_raw(tmp_path, "t.jsonl", '{"comment_text": "a", "toxic": 0}\n\n{"comment_text": "b", "toxic": 1\n')
    with raises_data_error(f"'{path}' line 3: invalid JSON"):
        load(path)


@pytest.mark.parametrize("line, kind", [('["b", 1]', "list"), ("42", "int"), ('"text"', "str")])
def test_jsonl_line_that_is_not_an_object_is_named(tmp_path, line, kind):
    path = write_raw(tmp_path, "t.jsonl", '{"comment_text": "a", "toxic": 0}\n' + line + "\n")
    with raises_data_error(f"'{path}' line 2", "expected a JSON object per line", f"got {kind}"):
        load(path)


def test_jsonl_blank_lines_are_skipped(tmp_path):
    path = write_raw(tmp_path, "t.jsonl", '\n{"comment_text": "a", "toxic": 0}\n   \n{"comment_text": "b", "toxic": '
                                          '1}\n\n')
    assert load(path).texts == ["a", "b"]


@pytest.mark.parametrize("sep", ["\u2028", "\x85"])
def test_jsonl_text_with_unicode_line_separator_loads(tmp_path, sep):
    rows = [{"comment_text": f"a{sep}b", "toxic": 1}, {"comment_text": "c", "toxic": 0}]
    path = write_raw(tmp_path, "t.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    assert load(path).texts == [f"a{sep}b", "c"]


@pytest.mark.parametrize("digits", [400, 5000])
def test_huge_json_integer_label_is_a_data_error(tmp_path, digits):
    path = write_raw(tmp_path, "t.jsonl", '{"comment_text": "a", "toxic": ' + "1" * digits + "}\n")
    with raises_data_error(f"'{path}'"):
        load(path, task="binary")


# --------------------------------------------------------------------------- CSV structure


def test_csv_row_with_too_many_fields_is_named(tmp_path):
    path = write_raw(tmp_path, "t.csv", "id,comment_text,toxic\n1,a,1\n2,hello, world,0\n")
    with raises_data_error(f"'{path}' is not a valid CSV file", "line 3", "saw 4"):
        load(path)


def test_csv_unterminated_quote_is_a_data_error(tmp_path):
    path = write_raw(tmp_path, "t.csv", 'comment_text,toxic\n"never closed,1\nb,0\n')
    with raises_data_error(f"'{path}' is not a valid CSV file"):
        load(path)


def test_csv_first_row_with_an_extra_field_is_not_silently_shifted(tmp_path):
    path = write_raw(tmp_path, "t.csv", "id,comment_text\n1,hello, world\n2,b\n3,c\n")
    with raises_data_error(f"'{path}'"):
        load(path, label_columns=None)


def test_file_of_two_byte_order_marks_is_a_data_error(tmp_path):
    path = write_raw(tmp_path, "t.csv", b"\xef\xbb\xbf\xef\xbb\xbf")
    with raises_data_error(f"'{path}'"):
        load(path)


def test_missing_column_error_stays_one_line_when_a_header_holds_a_newline(tmp_path):
    path = write_raw(tmp_path, "t.csv", '"comment\ntext",toxic\na,1\n')
    with pytest.raises(DataError) as info:
        load(path)
    assert "no column 'comment_text'" in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- fuzz

_CSV_CHARS = st.sampled_from(list(',"\n\r\t \\\'01abé#;') + ["comment_text", "toxic", "id", "1.0", "true", "NA"])
_CSV_LIKE = st.lists(_CSV_CHARS, max_size=40).map(lambda parts: "".join(parts).encode("utf-8"))
_HEADER = st.sampled_from([b"", b"comment_text,toxic\n", b"id,comment_text,toxic\n"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=_HEADER, body=st.one_of(st.binary(max_size=200), _CSV_LIKE),
       labelled=st.booleans(), policy=st.sampled_from(["keep", "drop", "error"]))
def test_fuzz_random_bytes_load_or_raise_data_error(tmp_path, header, body, labelled, policy):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(header + body)
    try:
        ds = load(path, label_columns=["toxic"] if labelled else None, empty_text=policy)
    except DataError as exc:
        assert str(path) in str(exc)  # names the file (one-line-ness: see the column-name test above)
    else:
        assert len(ds) == len(ds.texts) == len(ds.ids) >= 1
        assert all(isinstance(t, str) for t in ds.texts)


_CELL = st.text(st.one_of(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                          st.sampled_from(list(',"\n\r\t \'\\;#\ufeff'))), max_size=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(_CELL, min_size=1, max_size=8))
def test_fuzz_unicode_texts_round_trip_through_pandas_csv(tmp_path, texts):
    path = tmp_path / "round.csv"
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "comment_text": texts,
                          "toxic": [i % 2 for i in range(len(texts))]})
    # CRLF line ends so pandas also quotes a lone '\r' inside a field (with '\n' it writes it raw)
    frame.to_csv(path, index=False, lineterminator="\r\n")
    ds = load(path)
    assert ds.texts == texts
    assert list(ds.ids) == frame["id"].tolist()
    assert ds.targets[:, 0].tolist() == frame["toxic"].tolist()
