"""Kaggle Jigsaw toxic-comment files as Kaggle ships them (plain, .csv.zip, .csv.gz, or a folder
holding them): find_file, load_train, load_test (test_labels.csv rows marked -1 are not scored)."""

from __future__ import annotations

import gzip
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers import shared_file
from rnnlab.data import jigsaw
from rnnlab.data.jigsaw import LABELS, find_file, load_test, load_train
from rnnlab.errors import DataError

HEADER = "id,comment_text," + ",".join(LABELS) + "\n"
TRAIN_ROWS = [  # id, text, six labels
    ("0000997932d777bf", "Explanation\nWhy the edits were reverted?", [0, 0, 0, 0, 0, 0]),
    ("000103f0d9cfb60f", "D'aww! He matches this background colour", [0, 0, 0, 0, 0, 0]),
    ("0002bcb3da6cb337", "COCKSUCKER BEFORE YOU PISS AROUND ON MY WORK", [1, 1, 1, 0, 1, 0]),
    ("0005c987bdfc9d4b", "Hey... what is it.. @ | talk .", [1, 0, 0, 0, 0, 0]),
    ("0007e25b2121310b", "Bye! Don't look, come or think of comming back!", [1, 0, 0, 0, 0, 0]),
    ("001810bf8c45bf5f", "You are gay or antisemmitian? I will kill you", [1, 0, 1, 1, 1, 1]),
]
TEST_ROWS = [
    ("00001cee341fdb12", "Yo bitch Ja Rule is more succesful then you'll ever be"),
    ("0000247867823ef7", "== From RfC == The title is fine as it is, IMO."),
    ("00013b17ad220c46", '" == Sources == * Zawe Ashton on Lapland — /  "'),
    ("00017563c3f7919a", ""),  # Kaggle scores every id, even an empty text
    ("00017695ad8997eb", "I don't anonymously edit articles at all."),
]
TEST_LABELS = {  # -1 everywhere: not scored
    "00001cee341fdb12": [-1] * 6,
    "0000247867823ef7": [-1] * 6,
    "00013b17ad220c46": [0, 0, 0, 0, 0, 0],
    "00017563c3f7919a": [1, 0, 1, 0, 1, 0],
    "00017695ad8997eb": [0, 0, 0, 0, 0, 1],
}


def _csv_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def kaggle_train_csv() -> str:
    return HEADER + "".join(f"{i},{_csv_quote(t)},{','.join(map(str, y))}\n" for i, t, y in TRAIN_ROWS)


def kaggle_test_csv() -> str:
    return "id,comment_text\n" + "".join(f"{i},{_csv_quote(t)}\n" for i, t in TEST_ROWS)



def kaggle_test_labels_csv(labels: dict | None = None) -> str:
    labels = TEST_LABELS if labels is None else labels
    return "id," + ",".join(LABELS) + "\n" + "".join(f"{i},{','.join(map(str, y))}\n" for i, y in labels.items())



def kaggle_sample_submission_csv() -> str:
    return "id," + ",".join(LABELS) + "\n" + "".join(f"{i},{','.join(['0.5'] * 6)}\n" for i, _ in TEST_ROWS)


def put(folder: Path, name: str, content: str) -> Path:
    """``folder/name`` holding ``content``; gzip for .gz, a one-member zip (Kaggle style) for .zip."""
    path = folder / name
    raw = content.encode("utf-8")
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(raw))
    elif name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(name[:-4], raw)
    else:
        path.write_bytes(raw)
    return path


def kaggle_folder(folder: Path, suffix: str = ".csv", labels: bool = True) -> Path:
    folder.mkdir(exist_ok=True)
    put(folder, f"train{suffix}", kaggle_train_csv())
    put(folder, f"test{suffix}", kaggle_test_csv())
    if labels:
        put(folder, f"test_labels{suffix}", kaggle_test_labels_csv())
    put(folder, f"sample_submission{suffix}", kaggle_sample_submission_csv())
    return folder


def raises_data_error(*parts: str):
    return pytest.raises(DataError, match="(?s)" + "".join(f"(?=.*{re.escape(p)})" for p in parts))


SUFFIXES = [".csv", ".csv.zip", ".csv.gz"]

# --------------------------------------------------------------------------- find_file


def test_find_file_returns_a_file_path_unchanged(tmp_path):
    path = put(tmp_path, "my_train.csv", kaggle_train_csv())
    assert find_file(path, "train") == path


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_find_file_in_a_kaggle_folder(tmp_path, suffix):
    folder = kaggle_folder(tmp_path / "kaggle", suffix)
    assert find_file(folder, "train") == folder / f"train{suffix}"
    assert find_file(folder, "test") == folder / f"test{suffix}"  # not test_labels / sample_submission
    assert find_file(folder, "test_labels") == folder / f"test_labels{suffix}"


def test_find_file_prefers_the_plain_csv(tmp_path):
    put(tmp_path, "train.csv.zip", kaggle_train_csv())
    put(tmp_path, "train.csv", kaggle_train_csv())
    assert find_file(tmp_path, "train") == tmp_path / "train.csv"


def test_find_file_missing_in_folder_names_stem_folder_and_hint(tmp_path):
    put(tmp_path, "sample_submission.csv", kaggle_sample_submission_csv())
    with raises_data_error("No train.csv (or .csv.zip / .csv.gz)", f"'{tmp_path}'", "data.path"):
        find_file(tmp_path, "train")


# --------------------------------------------------------------------------- load_train


def _check_train(ds, source: Path):
    assert len(ds) == len(TRAIN_ROWS)
    assert list(ds.ids) == [i for i, _, _ in TRAIN_ROWS]
    assert ds.texts == [t for _, t, _ in TRAIN_ROWS]
    assert (ds.schema.task, ds.schema.labels) == ("multilabel", LABELS)
    assert ds.targets.dtype == np.float32 and ds.targets.shape == (6, 6)
    assert ds.targets.tolist() == [y for _, _, y in TRAIN_ROWS]
    assert ds.source == str(source)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_load_train_from_a_file(tmp_path, suffix):
    path = put(tmp_path, f"train{suffix}", kaggle_train_csv())
    _check_train(load_train(path), path)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_load_train_from_a_folder(tmp_path, suffix):
    folder = kaggle_folder(tmp_path / "kaggle", suffix)
    _check_train(load_train(folder), folder / f"train{suffix}")


def test_load_train_labels_come_in_kaggle_order_whatever_the_file_order(tmp_path):
    shuffled = ["threat", "toxic", "identity_hate", "insult", "severe_toxic", "obscene"]
    perm = [LABELS.index(c) for c in shuffled]
    content = "comment_text," + ",".join(shuffled) + ",id\n" + "".join(
        f"{_csv_quote(t)},{','.join(str(y[k]) for k in perm)},{i}\n" for i, t, y in TRAIN_ROWS)
    _check_train(load_train(put(tmp_path, "train.csv", content)), tmp_path / "train.csv")


def test_load_train_one_label_is_binary(tmp_path):
    ds = load_train(put(tmp_path, "train.csv", kaggle_train_csv()), label_columns=["threat"])
    assert (ds.schema.task, ds.schema.labels, ds.schema.column) == ("binary", ["threat"], "threat")
    assert ds.targets[:, 0].tolist() == [0, 0, 0, 0, 0, 1]


def test_load_train_label_subset_keeps_the_given_order(tmp_path):
    ds = load_train(put(tmp_path, "train.csv", kaggle_train_csv()), label_columns=["insult", "toxic"])
    assert ds.schema.labels == ["insult", "toxic"]
    assert ds.targets[2].tolist() == [1, 1] and ds.targets[3].tolist() == [0, 1]


def test_load_train_missing_label_column_suggests_the_close_name(tmp_path):
    path = put(tmp_path, "train.csv", kaggle_train_csv().replace("identity_hate", "identity_hat", 1))
    with raises_data_error(f"'{path}' has no column 'identity_hate'", "Did you mean 'identity_hat'?"):
        load_train(path)


def test_load_train_bad_label_names_row_column_value(tmp_path):
    content = kaggle_train_csv().replace("0007e25b2121310b,\"Bye! Don't look, come or think of comming "
                                         "back!\",1,0,0,0,0,0",
                                  "0007e25b2121310b,\"Bye! Don't look, come or think of comming back!\",1,0,0,0,2,0")
    path = put(tmp_path, "train.csv", content)
    with raises_data_error(f"'{path}' row 5, column 'insult'", "label '2' is not 0 or 1"):
        load_train(path)


def test_load_train_empty_text_policy_is_passed_on(tmp_path):
    content = kaggle_train_csv().replace('"D\'aww! He matches this background colour"', '""')
    path = put(tmp_path, "train.csv", content)
    assert load_train(path).texts[1] == ""
    ds = load_train(path, empty_text="drop")
    assert len(ds) == 5 and "000103f0d9cfb60f" not in set(ds.ids)
    with raises_data_error("1 missing or empty texts (rows 2)", "data.empty_text"):
        load_train(path, empty_text="error")


def test_load_train_from_a_missing_folder_says_it_does_not_exist(tmp_path):
    with raises_data_error(str(tmp_path / "kagle"), "does not exist"):
        load_train(tmp_path / "kagle")


# --------------------------------------------------------------------------- load_test

SCORED_IDS = ["00013b17ad220c46", "00017563c3f7919a", "00017695ad8997eb"]


def _check_test(test, scored):
    assert len(test) == 5 and test.targets is None and test.schema is None
    assert list(test.ids) == [i for i, _ in TEST_ROWS]
    assert test.texts == [t for _, t in TEST_ROWS]  # the empty text is kept
    assert list(scored.ids) == SCORED_IDS
    assert scored.texts == [t for i, t in TEST_ROWS if i in SCORED_IDS]
    assert scored.targets.dtype == np.float32
    assert scored.targets.tolist() == [TEST_LABELS[i] for i in SCORED_IDS]
    assert (scored.schema.task, scored.schema.labels) == ("multilabel", LABELS)
    assert "2 of 5 test rows are marked -1 (not scored) and left out" in scored.notes


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_load_test_with_labels_file(tmp_path, suffix):
    test_file = put(tmp_path, f"test{suffix}", kaggle_test_csv())
    labels_file = put(tmp_path, f"test_labels{suffix}", kaggle_test_labels_csv())
    test, scored = load_test(test_file, labels_file)
    _check_test(test, scored)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_load_test_from_a_folder_finds_test_labels(tmp_path, suffix):
    folder = kaggle_folder(tmp_path / "kaggle", suffix)
    test, scored = load_test(folder)
    _check_test(test, scored)


def test_load_test_without_labels_is_unlabelled_only(tmp_path):
    test, scored = load_test(put(tmp_path, "test.csv", kaggle_test_csv()))
    assert scored is None and len(test) == 5 and test.targets is None


def test_load_test_folder_without_labels_file(tmp_path):
    folder = kaggle_folder(tmp_path / "kaggle", ".csv.zip", labels=False)
    test, scored = load_test(folder)
    assert scored is None and list(test.ids) == [i for i, _ in TEST_ROWS]


def test_load_test_single_label_is_binary(tmp_path):
    _, scored = load_test(put(tmp_path, "test.csv", kaggle_test_csv()),
                          put(tmp_path, "test_labels.csv", kaggle_test_labels_csv()),
                          label_columns=["identity_hate"])
    assert (scored.schema.task, scored.schema.labels, scored.schema.column) == ("binary", ["identity_hate"],
                                                                                "identity_hate")
    assert scored.targets.tolist() == [[0], [0], [1]]


@pytest.mark.parametrize("bad", ["2", "yes", ""])
def test_load_test_bad_label_value_names_file_row_column_value(tmp_path, bad):
    labels = dict(TEST_LABELS)
    labels["00017563c3f7919a"] = [1, 0, bad, 0, 1, 0]
    labels_file = put(tmp_path, "test_labels.csv", kaggle_test_labels_csv(labels))
    with raises_data_error(f"'{labels_file}' row 4, column 'obscene'", "is not -1, 0 or 1"):
        load_test(put(tmp_path, "test.csv", kaggle_test_csv()), labels_file)
    if bad:
        with raises_data_error(repr(bad)):
            load_test(tmp_path / "test.csv", labels_file)


def test_load_test_labels_ids_not_in_test_are_an_error(tmp_path):
    labels = dict(TEST_LABELS)
    labels["ffffffffffffffff"] = [0] * 6
    labels["eeeeeeeeeeeeeeee"] = [-1] * 6
    labels_file = put(tmp_path, "test_labels.csv", kaggle_test_labels_csv(labels))
    test_file = put(tmp_path, "test.csv", kaggle_test_csv())
    with raises_data_error(f"'{labels_file}' has 2 ids that are not in '{test_file}'", "'ffffffffffffffff'",
                           "belongs to this test file"):
        load_test(test_file, labels_file)


def test_load_test_duplicate_ids_in_test_labels_are_an_error(tmp_path):
    content = kaggle_test_labels_csv() + "00017695ad8997eb,1,1,1,1,1,1\n"  # row 6 repeats row 5's id
    labels_file = put(tmp_path, "test_labels.csv", content)
    with raises_data_error(f"'{labels_file}'", "00017695ad8997eb"):
        load_test(put(tmp_path, "test.csv", kaggle_test_csv()), labels_file)


def test_load_test_labels_missing_column_is_named(tmp_path):
    labels_file = put(tmp_path, "test_labels.csv", kaggle_test_labels_csv().replace("threat", "threats", 1))
    with raises_data_error(f"'{labels_file}' has no column 'threat'", "Did you mean 'threats'?"):
        load_test(put(tmp_path, "test.csv", kaggle_test_csv()), labels_file)


def test_load_test_missing_test_file_in_folder(tmp_path):
    put(tmp_path, "train.csv", kaggle_train_csv())
    with raises_data_error("No test.csv", f"'{tmp_path}'"):
        load_test(tmp_path)


# --------------------------------------------------------------------------- real data


@pytest.mark.slow
def test_real_jigsaw_train_subset():
    path = shared_file("jigsaw_toxic", "train_subset.csv.gz")
    ds = load_train(path)
    assert len(ds) == 16_451
    assert (ds.schema.task, ds.schema.labels) == ("multilabel", jigsaw.LABELS)
    assert ds.targets.shape == (16_451, 6)
    assert set(np.unique(ds.targets).tolist()) == {0.0, 1.0}
    assert abs(float(ds.targets[:, 0].mean()) - 0.343) <= 0.002
    assert len(set(ds.ids)) == len(ds)
    assert ds.ids[0] == "0000997932d777bf" and ds.texts[0].startswith("Explanation\nWhy the edits")
    assert ds.notes == []  # no empty texts in the real file
