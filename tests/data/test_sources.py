"""Dataset sources: one plugin per ``data.dataset`` value, each answering what differs between
datasets (training file, other files, text column, labels)."""

import pytest

from helpers import toy_config, write_toy_csv
from rnnlab.config import DATASETS, from_dict
from rnnlab.data import SOURCES, load_for_run, load_splits, source_for
from rnnlab.data.jigsaw import LABELS
from rnnlab.errors import ConfigError


def test_every_dataset_choice_has_one_source():
    assert set(SOURCES) == set(DATASETS) and all(source_for(name).name == name for name in DATASETS)


def test_what_the_config_alone_says_about_each_dataset():
    cfg = from_dict({"data": {"dataset": "jigsaw", "path": "x.csv"}, "model": {"embedding": {"dim": 4},
                                                                             "layers": [{"type": "Dense"}]}})
    jigsaw, imdb, table = source_for("jigsaw"), source_for("imdb"), source_for("table")
    assert (jigsaw.default_text_column(cfg.data), jigsaw.label_count(cfg.data)) == ("comment_text", 6)
    assert jigsaw.labels == tuple(LABELS) and jigsaw.all_labels_needed
    assert (imdb.default_text_column(cfg.data), imdb.label_count(cfg.data), imdb.all_labels_needed) == ("text", 1, None)
    assert table.default_text_column(cfg.data) == "text" and table.label_count(cfg.data) is None
    subset = from_dict({**cfg.to_dict(), "data": {**cfg.to_dict()["data"], "label_columns": ["toxic", "insult"],
                                                  "text_column": "body"}})
    assert (jigsaw.default_text_column(subset.data), jigsaw.label_count(subset.data)) == ("body", 2)


def test_table_source_reads_training_and_other_files_the_same_way(tmp_path):
    path = write_toy_csv(tmp_path / "t.csv", n=60)
    cfg = from_dict(toy_config(path, tmp_path))
    splits = load_splits(cfg)
    assert len(splits.train) + len(splits.validation) == 60 and splits.train.schema.labels == ["pos"]
    unlabelled = load_for_run(cfg, path, labelled=False)
    assert unlabelled.targets is None and len(unlabelled) == 60
    with pytest.raises(ConfigError, match="data.path is not set"):
        source_for("table").load_train(from_dict({**toy_config(path, tmp_path), "data": {
            "dataset": "table", "text_column": "text", "label_columns": ["pos"]}}))
