"""Training data in memory (rnnlab.data.memory): a DataFrame or (texts, labels) is read exactly as
the same table in a file, and its checksum is stable."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from helpers import write_toy_csv
from rnnlab.config import load_config
from rnnlab.data import attach_data, load_splits
from rnnlab.data.memory import frame_sha256, is_memory_ref
from rnnlab.errors import ConfigError, DataError


def _config(over: dict | None = None):
    return load_config(None, over or {}, base={"model": {"embedding": {"dim": 8}, "layers": [{"type": "Dense"}]}})


def _cfg(**data):
    return _config({"data.dataset": "table", "data.text_column": "text", "data.label_columns": ["pos"],
                    **{f"data.{k}": v for k, v in data.items()}})


def test_a_dataframe_is_read_and_split_as_its_file(tmp_path):
    path = write_toy_csv(tmp_path / "toy.csv", n=120)
    from_file = load_splits(_cfg(path=str(path)))
    cfg, table = attach_data(_cfg(), pd.read_csv(path, dtype=str, keep_default_na=False))
    from_frame = load_splits(cfg, table)
    for a, b in ((from_file.train, from_frame.train), (from_file.validation, from_frame.validation)):
        assert a.ids.tolist() == b.ids.tolist() and a.texts == b.texts
        assert np.array_equal(a.targets, b.targets) and a.schema == b.schema and b.id_column == "id"
    assert cfg.data.path == table.ref and is_memory_ref(cfg.data.path)
    assert from_frame.origin == {"source": "DataFrame", "ref": table.ref, "rows": 120, "columns": ["id", "text", "pos"],
                                 "sha256": table.sha256}
    assert from_file.origin["source"] == str(path) and len(from_file.origin["sha256"]) == 64


def test_a_pair_gives_the_labels_names():
    cfg, table = attach_data(_config(), (["good", "bad", "fine", "dull"], [1, 0, 1, 0]))
    assert (cfg.data.text_column, cfg.data.label_columns) == ("text", ["label"])
    assert table.frame.columns.tolist() == ["text", "label"] and table.kind == "texts+labels"
    multi = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    cfg, table = attach_data(_config({"data.label_columns": ["a", "b"]}), (pd.Series(["w x"] * 4), multi))
    assert table.frame.columns.tolist() == ["text", "a", "b"]
    assert load_splits(cfg.replace({"data.validation_split": 0.5, "data.stratify": "none"}), table).train.schema.task \
        == "multilabel"


def test_the_checksum_is_stable():
    frame = pd.DataFrame({"text": ["good", "bad ü"], "label": [1, 0]})
    # pinned: the same table gives the same sha256 in every process and session
    spelled = '["text", "label"]\n["good", "bad ü"]\n[1, 0]'.encode("utf-8")  # column names, then each column
    assert frame_sha256(frame) == hashlib.sha256(spelled).hexdigest() == \
        "5282b7a0b8bd544b5a1fe1d7dfea62a558e7fab80767875fc73710e29189042c"
    assert frame_sha256(frame) == frame_sha256(pd.DataFrame({"text": ["good", "bad ü"], "label": np.array([1, 0])}))
    assert frame_sha256(frame) != frame_sha256(frame.assign(label=[0, 1]))
    assert frame_sha256(frame) != frame_sha256(frame.rename(columns={"label": "y"}))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=20), st.integers(0, 1)), min_size=1, max_size=20), st.integers(0, 19))
def test_the_checksum_tells_any_change(rows, k):
    frame = pd.DataFrame(rows, columns=["text", "label"])
    changed = frame.copy()
    changed.loc[k % len(frame), "text"] = frame["text"].iloc[k % len(frame)] + "x"
    assert frame_sha256(frame) == frame_sha256(pd.DataFrame(rows, columns=["text", "label"]))
    assert frame_sha256(frame) != frame_sha256(changed)


@pytest.mark.parametrize("data, error, match", [
    ((["a", "b"], [1]), DataError, "2 texts but 1 labels"),
    (("a text", [1]), DataError, "one string"),
    ((["a"], [1], [2]), ConfigError, "must be a pandas DataFrame, a \\(texts, labels\\) pair or a path"),
    (pd.DataFrame({"text": ["a"], "y": [1]}), ConfigError, "no column 'label'"),
    (pd.DataFrame({"text": []}), DataError, "no rows"),
])
def test_bad_data_is_one_line(data, error, match):
    with pytest.raises(error, match=match) as err:
        attach_data(_config(), data)
    assert "\n" not in str(err.value)


def test_only_tables_come_from_memory():
    with pytest.raises(ConfigError, match="data.dataset = 'jigsaw'"):
        attach_data(_config({"data.dataset": "jigsaw"}), pd.DataFrame({"text": ["a"], "label": [1]}))


def test_a_saved_memory_reference_is_no_path(tmp_path):
    """The saved config keeps the reference as it is; reading data with it names the fix."""
    toml = tmp_path / "config.toml"
    toml.write_text('[model]\nembedding = { dim = 8 }\nlayers = [{ type = "Dense" }]\n'
                    '[data]\npath = "memory:DataFrame:sha256=0123456789abcdef"\n'
                    'text_column = "text"\nlabel_columns = ["label"]\n')
    cfg = load_config(toml)
    assert cfg.data.path == "memory:DataFrame:sha256=0123456789abcdef"
    with pytest.raises(ConfigError, match="was in memory when the run trained.*data=frame"):
        load_splits(cfg)
