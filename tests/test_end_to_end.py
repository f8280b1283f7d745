"""End to end on real data from ../shared/data (skipped with a visible reason when absent):
the README's Jigsaw quickstart, a Kaggle submission on a held-out slice, and the demo."""

import json

import pandas as pd
import pytest

from helpers import ROOT, run_cli, shared_file
from rnnlab.data.jigsaw import LABELS
from rnnlab.use.submission import check_submission


@pytest.fixture(scope="module")
def jigsaw_run(tmp_path_factory):
    path = shared_file("jigsaw_toxic", "train_subset.csv.gz")
    tmp = tmp_path_factory.mktemp("jigsaw")
    from rnnlab.train.trainer import train

    run = train(ROOT / "examples" / "jigsaw_lstm.toml", [f"data.path={path}", "fit.verbose=line"],
                run_dir=tmp / "jigsaw_lstm")
    return run, path, tmp


def test_jigsaw_lstm_example_reaches_auc_0_90(jigsaw_run):
    run, _, _ = jigsaw_run
    v = run.metrics["validation"]
    assert v["auc"] >= 0.90, v
    assert set(v["auc_per_label"]) == set(LABELS)
    assert v["majority_accuracy"] > 0.85 and v["accuracy"] > v["majority_accuracy"]
    log = (run.dir / "log.txt").read_text()
    assert "AUC per label: toxic" in log and "(majority " in log


def test_kaggle_submission_on_a_held_out_slice(jigsaw_run, capsys):
    run, path, tmp = jigsaw_run
    frame = pd.read_csv(path)
    held = frame.iloc[-1500:]
    held[["id", "comment_text"]].to_csv(tmp / "test.csv", index=False)
    sample = held[["id"]].iloc[::-1].assign(**{label: 0.5 for label in LABELS})  # Kaggle's column order
    sample.to_csv(tmp / "sample_submission.csv", index=False)
    code, out, err = run_cli(["submission", run.dir, tmp / "test.csv", "--sample", tmp / "sample_submission.csv",
                              "--out", tmp / "submission.csv"], capsys)
    assert code == 0, err
    assert check_submission(tmp / "submission.csv", tmp / "sample_submission.csv") == 1500
    sub = pd.read_csv(tmp / "submission.csv")
    assert list(sub.columns) == ["id", *LABELS] and sub["id"].tolist() == sample["id"].tolist()
    # the held-out rows' labels are known: the submission scores like the model
    from sklearn.metrics import roc_auc_score

    truth = held.set_index("id").loc[sub["id"]]
    aucs = [roc_auc_score(truth[c], sub[c]) for c in LABELS if truth[c].nunique() == 2]
    assert sum(aucs) / len(aucs) > 0.85


def test_demo_on_a_sample_of_real_imdb(tmp_path, capsys):
    path = shared_file("imdb", "aclImdb_train.csv.gz")
    sample = pd.read_csv(path).sample(2000, random_state=0)
    sample.to_csv(tmp_path / "imdb_sample.csv", index=False)
    code, out, err = run_cli(["demo", "--data", tmp_path / "imdb_sample.csv", "--out", tmp_path / "demo"], capsys)
    assert code == 0, err
    rows = json.loads((tmp_path / "demo" / "comparison.json").read_text())
    assert [r["model"] for r in rows] == ["imdb_simplernn_onehot", "imdb_simplernn_embedding", "imdb_bigru"]
    assert [r["params"] for r in rows][:2] == [4081, 8209]
    for r in rows:
        assert (tmp_path / "demo" / r["model"] / "curves.png").exists()
        assert 0.45 <= r["majority_accuracy"] <= 0.55
    assert "imdb_bigru" in out and "comparison.md" in out
    assert "majority accuracy" in (tmp_path / "demo" / "comparison.md").read_text()


def test_every_example_config_is_valid_and_sized_like_keras(capsys):
    """Each file in examples/ loads and builds (summary) without reading data."""
    for path in sorted((ROOT / "examples").glob("*.toml")):
        args = ["summary", path]
        if path.name.startswith("jigsaw"):
            args += ["--set", "text.num_words=50000"]
        code, out, err = run_cli(args, capsys)
        assert code == 0, (path.name, err)
        assert "Total params" in out
