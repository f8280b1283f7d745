"""split(): seeded, stratified train/validation split; load_splits() through a config dict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnlab.config import load_config
from rnnlab.data import load_splits
from rnnlab.data.dataset import LabelSchema, TextDataset
from rnnlab.data.split import split, stratify_labels
from rnnlab.data.tables import load_table
from rnnlab.errors import ConfigError

# --------------------------------------------------------------------------- datasets


def binary_ds(n: int = 100, positives: int = 30) -> TextDataset:
    y = np.zeros((n, 1), dtype=np.float32)
    y[np.linspace(0, n - 1, positives).astype(int), 0] = 1  # spread through the file
    return TextDataset(ids=np.asarray([f"id{i}" for i in range(n)], dtype=object),
                       texts=[f"text {i}" for i in range(n)], targets=y,
                       schema=LabelSchema("binary", ["label"], column="label"), source="mem")


def multilabel_ds(n: int = 200, counts=(80, 10, 40)) -> TextDataset:
    rng = np.random.default_rng(0)
    y = np.zeros((n, len(counts)), dtype=np.float32)
    for j, c in enumerate(counts):
        y[rng.choice(n, size=c, replace=False), j] = 1
    return TextDataset(ids=np.asarray([str(i) for i in range(n)], dtype=object),
                       texts=[f"t{i}" for i in range(n)], targets=y,
                       schema=LabelSchema("multilabel", ["a", "b", "c"][:len(counts)]), source="mem")


def multiclass_ds(sizes: dict[str, int]) -> TextDataset:
    names = list(sizes)
    y = np.concatenate([np.full(k, i, dtype=np.int64) for i, k in enumerate(sizes.values())])
    n = len(y)
    return TextDataset(ids=np.asarray([str(i) for i in range(n)], dtype=object), texts=[f"t{i}" for i in range(n)],
                       targets=y, schema=LabelSchema("multiclass", names, column="kind"), source="mem")


def positives(ds: TextDataset, col: int = 0) -> int:
    return int(ds.targets[:, col].sum())


# --------------------------------------------------------------------------- split: sizes, order, seeds


@pytest.mark.parametrize("n, fraction, n_val", [(100, 0.25, 25), (10, 0.25, 3), (7, 0.5, 4), (3, 0.34, 2),
                                                (101, 0.1, 11)])
def test_validation_gets_the_ceiling_of_n_times_the_split(n, fraction, n_val):
    ds = binary_ds(n, positives=max(2, n // 3))
    tr, va, _ = split(ds, fraction, seed=0, stratify="none")
    assert (len(va), len(tr)) == (n_val, n - n_val)
    assert set(tr.ids).isdisjoint(va.ids)
    assert set(tr.ids) | set(va.ids) == set(ds.ids)


def test_split_rows_keep_file_order_and_stay_aligned():
    ds = binary_ds(50, 15)
    tr, va, _ = split(ds, 0.3, seed=3)
    where = {i: k for k, i in enumerate(ds.ids)}
    for part in (tr, va):
        rows = [where[i] for i in part.ids]
        assert rows == sorted(rows)
        assert part.texts == [ds.texts[r] for r in rows]
        assert part.targets.tolist() == ds.targets[rows].tolist()
        assert part.schema == ds.schema


def test_same_seed_gives_the_same_split_and_another_seed_a_different_one():
    ds = binary_ds(100, 30)
    first = split(ds, 0.2, seed=11)[1].ids.tolist()
    assert split(ds, 0.2, seed=11)[1].ids.tolist() == first
    assert split(binary_ds(100, 30), 0.2, seed=11)[1].ids.tolist() == first
    assert split(ds, 0.2, seed=12)[1].ids.tolist() != first


def test_validation_split_that_leaves_an_empty_side_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data\.validation_split = 0\.9 leaves an empty side with 3 rows"):
        split(binary_ds(3, 2), 0.9, seed=0)  # ceil(2.7) = 3 rows held out, none left to train
    with pytest.raises(ConfigError, match=r"data\.validation_split = 0\.5 leaves an empty side with 1 rows"):
        split(binary_ds(1, 1), 0.5, seed=0)


# --------------------------------------------------------------------------- split: stratification


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("n, pos, fraction", [(100, 30, 0.2), (101, 29, 0.3), (57, 9, 0.25)])
def test_binary_stratification_keeps_the_positive_share_within_one_row(seed, n, pos, fraction):
    tr, va, how = split(binary_ds(n, pos), fraction, seed=seed)
    assert how == "stratified on 'label'"
    share = pos / n
    assert abs(positives(va) - len(va) * share) <= 1
    assert abs(positives(tr) - len(tr) * share) <= 1
    assert positives(tr) + positives(va) == pos


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_multilabel_auto_stratifies_on_the_rarest_label(seed):
    ds = multilabel_ds(200, counts=(80, 10, 40))  # 'b' is the rarest (10 positives)
    tr, va, how = split(ds, 0.25, seed=seed)
    assert how == "stratified on 'b' (the rarest label)"
    assert abs(positives(va, 1) - 50 * 10 / 200) <= 1 and abs(positives(tr, 1) - 150 * 10 / 200) <= 1


def test_stratify_labels_auto_picks_the_column_with_fewest_positives():
    ds = multilabel_ds(60, counts=(5, 20, 3))
    labels, how = stratify_labels(ds, "auto")
    assert how == "stratified on 'c' (the rarest label)"
    assert labels.dtype == np.int64 and labels.tolist() == ds.targets[:, 2].astype(int).tolist()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_explicit_label_column_is_stratified_on(seed):
    ds = multilabel_ds(200, counts=(80, 10, 40))
    tr, va, how = split(ds, 0.25, seed=seed, stratify="c")
    assert how == "stratified on 'c'"
    assert abs(positives(va, 2) - 50 * 40 / 200) <= 1


def test_stratify_none_is_not_stratified():
    ds = binary_ds(100, 10)
    off = []
    for seed in range(20):
        _, va, how = split(ds, 0.5, seed=seed, stratify="none")
        assert how == "not stratified"
        off.append(abs(positives(va) - 5))
    assert max(off) > 1  # a stratified split would hold exactly 5 positives every time


def test_unlabelled_data_is_not_stratified():
    ds = binary_ds(20, 5)
    ds.targets, ds.schema = None, None
    tr, va, how = split(ds, 0.25, seed=0)
    assert how == "not stratified" and (len(tr), len(va)) == (15, 5)


def test_multiclass_auto_stratifies_on_the_class_column():
    ds = multiclass_ds({"a": 60, "b": 30, "c": 10})
    tr, va, how = split(ds, 0.2, seed=5)
    assert how == "stratified on 'kind'"
    assert np.bincount(va.targets, minlength=3).tolist() == [12, 6, 2]


def test_unknown_stratify_column_is_a_config_error_listing_the_labels():
    with pytest.raises(ConfigError, match=r"'data\.stratify'.*'auto', 'none'.*\(a, b, c\).*'sever'"):
        split(multilabel_ds(), 0.2, seed=0, stratify="sever")


def test_multiclass_stratify_on_another_column_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data\.stratify = 'label'.*'kind'.*'auto' or 'none'"):
        split(multiclass_ds({"a": 10, "b": 10}), 0.2, seed=0, stratify="label")


def test_stratify_on_the_label_column_of_a_positive_class_dataset(tmp_path):
    path = tmp_path / "sms.csv"
    pd.DataFrame({"text": [f"m{i}" for i in range(40)],
                  "kind": ["spam" if i % 4 == 0 else "ham" for i in range(40)]}).to_csv(path, index=False)
    ds = load_table(path, text_column="text", label_columns=["kind"], positive_class="spam")
    _, _, how = split(ds, 0.25, seed=0, stratify="kind")
    assert how == "stratified on 'kind'"


def test_class_with_a_single_member_falls_back_to_an_unstratified_split():
    ds = multiclass_ds({"a": 50, "b": 49, "lonely": 1})
    tr, va, how = split(ds, 0.2, seed=0)
    assert how == "not stratified (a class has too few rows to stratify)"
    assert (len(tr), len(va)) == (80, 20)
    assert set(tr.ids) | set(va.ids) == set(ds.ids)


def test_binary_with_a_single_positive_falls_back_with_a_note():
    tr, va, how = split(binary_ds(30, 1), 0.2, seed=0)
    assert how.startswith("not stratified") and len(va) == 6


# --------------------------------------------------------------------------- load_splits via a config

MODEL = {"embedding": {"dim": 4}, "layers": [{"type": "Dense", "units": 1, "activation": "sigmoid"}]}


def config(seed: int = 7, **data):
    return load_config(None, base={"seed": seed, "model": MODEL, "data": {"dataset": "table", **data}})


def write_csv(path, n: int, pos_every: int = 4, start: int = 0):
    pd.DataFrame({"id": [f"r{i}" for i in range(start, start + n)],
                  "text": [f"row {i}" for i in range(start, start + n)],
                  "label": [int(i % pos_every == 0) for i in range(start, start + n)]}).to_csv(path, index=False)
    return path


def test_load_splits_splits_a_table_with_the_configured_seed(tmp_path):
    path = write_csv(tmp_path / "train.csv", 40)
    cfg = config(seed=7, path=str(path), text_column="text", label_columns=["label"], validation_split=0.25)
    s = load_splits(cfg)
    assert (len(s.train), len(s.validation)) == (30, 10)
    assert set(s.train.ids) | set(s.validation.ids) == {f"r{i}" for i in range(40)}
    assert positives(s.validation) in (2, 3)  # stratified: 10 positives of 40 rows -> 2.5 of 10
    assert s.test is None
    assert s.notes == ["validation split 0.25 of 40 rows, seed 7, stratified on 'label'"]
    again = load_splits(config(seed=7, path=str(path), text_column="text", label_columns=["label"],
                               validation_split=0.25))
    assert again.validation.ids.tolist() == s.validation.ids.tolist()
    other = load_splits(config(seed=8, path=str(path), text_column="text", label_columns=["label"],
                               validation_split=0.25))
    assert other.validation.ids.tolist() != s.validation.ids.tolist()
    assert "seed 8" in other.notes[-1]


def test_load_splits_keeps_loader_notes_first(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\n" + "".join(f"t{i},{i % 2}\n" for i in range(9)) + ",1\n")
    s = load_splits(config(path=str(path), text_column="text", label_columns=["label"], empty_text="drop",
                           stratify="none"))
    assert s.notes[0] == "dropped 1 rows with missing or empty text (rows 10)"
    assert s.notes[1] == "validation split 0.2 of 9 rows, seed 7, not stratified"
    assert len(s.train) + len(s.validation) == 9


def test_load_splits_with_a_validation_file_does_not_split(tmp_path):
    train = write_csv(tmp_path / "train.csv", 30)
    valid = write_csv(tmp_path / "valid.csv", 8, start=100)
    s = load_splits(config(path=str(train), validation_path=str(valid), text_column="text", label_columns=["label"]))
    assert s.train.ids.tolist() == [f"r{i}" for i in range(30)]
    assert s.validation.ids.tolist() == [f"r{i}" for i in range(100, 108)]
    assert s.validation.schema == s.train.schema
    assert s.notes == [f"validation from {valid}"]


def test_load_splits_validation_file_with_other_classes_is_a_config_error(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("text,kind\na,pos\nb,neg\nc,neutral\nd,pos\ne,neg\n")
    valid = tmp_path / "valid.csv"
    valid.write_text("text,kind\nx,pos\ny,neg\n")
    with pytest.raises(ConfigError, match=r"valid\.csv.*\['neg', 'pos'\].*\['neg', 'neutral', 'pos'\].*must match"):
        load_splits(config(path=str(train), validation_path=str(valid), text_column="text", label_columns=["kind"]))


def test_load_splits_reads_the_test_file_unlabelled(tmp_path):
    train = write_csv(tmp_path / "train.csv", 20)
    test = tmp_path / "test.csv"
    test.write_text("id,text\nq1,hello\nq2,\n")
    s = load_splits(config(path=str(train), test_path=str(test), text_column="text", label_columns=["label"]))
    assert s.test.ids.tolist() == ["q1", "q2"] and s.test.targets is None and s.test.texts == ["hello", ""]


def test_load_splits_without_data_path_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data\.path is not set"):
        load_splits(config(text_column="text", label_columns=["label"]))


def test_load_splits_unknown_stratify_column_is_a_config_error(tmp_path):
    path = write_csv(tmp_path / "train.csv", 20)
    with pytest.raises(ConfigError, match=r"'data\.stratify'.*'lable'"):
        load_splits(config(path=str(path), text_column="text", label_columns=["label"], stratify="lable"))


def test_load_splits_jigsaw_folder_stratifies_on_the_rarest_label(tmp_path):
    labels = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
    rows = []
    for i in range(60):
        y = [int(i % 2 == 0), int(i % 10 == 0), int(i % 3 == 0), int(i % 15 == 0), int(i % 4 == 0), int(i % 6 == 0)]
        rows.append(f"id{i:04d},comment {i}," + ",".join(map(str, y)))
    (tmp_path / "train.csv").write_text("id,comment_text," + ",".join(labels) + "\n" + "\n".join(rows) + "\n")
    s = load_splits(load_config(None, base={"seed": 1, "model": MODEL,
                                            "data": {"dataset": "jigsaw", "path": str(tmp_path)}}))
    assert s.train.schema.labels == labels and (len(s.train), len(s.validation)) == (48, 12)
    assert s.notes == ["validation split 0.2 of 60 rows, seed 1, stratified on 'threat' (the rarest label)"]
    assert positives(s.validation, 3) == 1 and positives(s.train, 3) == 3


def test_folds_partition_the_rows_and_stratify():
    from rnnlab.data.split import fold

    y = (np.arange(300) % 10 == 0).astype(np.float32)[:, None]
    ds = TextDataset(ids=np.array([f"r{i}" for i in range(300)], dtype=object), texts=[f"t{i}" for i in range(300)],
                     targets=y, schema=LabelSchema(task="binary", labels=["pos"], column="pos"), source="mem")
    seen = []
    for i in range(1, 6):
        tr, va, how = fold(ds, 5, i, seed=0)
        assert len(tr) + len(va) == 300 and not set(tr.ids) & set(va.ids)
        assert va.targets.sum() == 6  # 30 positives, 6 per fold
        seen.extend(va.ids)
    assert sorted(seen) == sorted(ds.ids) and "stratified" in how
    assert list(fold(ds, 5, 2, seed=0)[1].ids) == list(fold(ds, 5, 2, seed=0)[1].ids)
    assert list(fold(ds, 5, 2, seed=0)[1].ids) != list(fold(ds, 5, 2, seed=1)[1].ids)
    with pytest.raises(ConfigError, match="fit.folds = 400 needs at least 400 rows"):
        fold(ds, 400, 1, seed=0)
