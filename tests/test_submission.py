"""Kaggle submissions: exactly the sample's columns and ids; label-name mistakes are refused."""

import numpy as np
import pandas as pd
import pytest

import rnnlab
from helpers import toy_config, write_toy_csv
from rnnlab.errors import DataError
from rnnlab.use.submission import check_submission, write_submission


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sub")
    data = write_toy_csv(tmp / "train.csv", multilabel=True)
    run = rnnlab.train(toy_config(data, tmp / "runs", data__label_columns=["pos", "loud"]))
    test = pd.read_csv(data)[["id", "text"]].iloc[::-1]  # another order than the sample
    test.to_csv(tmp / "test.csv", index=False)
    sample = pd.DataFrame({"id": sorted(test["id"]), "pos": 0.5, "loud": 0.5})
    sample.to_csv(tmp / "sample.csv", index=False)
    return run, tmp


def test_submission_matches_the_sample(setup):
    run, tmp = setup
    info = write_submission(run, tmp / "test.csv", tmp / "sample.csv", tmp / "submission.csv")
    sub = pd.read_csv(tmp / "submission.csv")
    sample = pd.read_csv(tmp / "sample.csv")
    assert list(sub.columns) == ["id", "pos", "loud"] and info["rows"] == len(sample)
    assert sub["id"].tolist() == sample["id"].tolist()
    values = sub[["pos", "loud"]].to_numpy()
    assert not np.isnan(values).any() and ((values >= 0) & (values <= 1)).all()
    assert check_submission(tmp / "submission.csv", tmp / "sample.csv") == len(sample)
    # values are the model's predictions for the right ids
    test = pd.read_csv(tmp / "test.csv").set_index("id")
    expected = run.predict(test.loc[sub["id"], "text"].tolist())
    np.testing.assert_allclose(sub[["pos", "loud"]].to_numpy(), expected, atol=1e-5)


def test_misspelt_label_column_is_refused(setup):
    run, tmp = setup
    sample = pd.read_csv(tmp / "sample.csv").rename(columns={"pos": "Pos"})
    sample.to_csv(tmp / "bad_sample.csv", index=False)
    with pytest.raises(DataError, match="'Pos' vs 'pos'.*case matters"):
        write_submission(run, tmp / "test.csv", tmp / "bad_sample.csv", tmp / "s.csv")
    assert not (tmp / "s.csv").exists()


def test_sample_ids_missing_from_test_are_refused(setup):
    run, tmp = setup
    sample = pd.read_csv(tmp / "sample.csv")
    sample.loc[0, "id"] = "not-in-test"
    sample.to_csv(tmp / "sample2.csv", index=False)
    with pytest.raises(DataError, match="not-in-test"):
        write_submission(run, tmp / "test.csv", tmp / "sample2.csv", tmp / "s.csv")


@pytest.mark.parametrize("damage,match", [
    (lambda f: f.rename(columns={"loud": "Loud"}), "columns"),
    (lambda f: pd.concat([f, f.iloc[:1]]), "more than once"),
    (lambda f: f.iloc[1:], "missing"),
    (lambda f: f.assign(pos=np.where(f.index == 3, np.nan, f["pos"])), "row 4, column 'pos'"),
    (lambda f: f.assign(pos=2.0), r"outside \[0, 1\]"),
])
def test_checker_finds_each_problem(setup, damage, match):
    run, tmp = setup
    good = tmp / "submission_ok.csv"
    write_submission(run, tmp / "test.csv", tmp / "sample.csv", good)
    bad = tmp / "bad.csv"
    damage(pd.read_csv(good)).to_csv(bad, index=False)
    with pytest.raises(DataError, match=match):
        check_submission(bad, tmp / "sample.csv")
