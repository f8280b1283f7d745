"""The rnnlab command: thin wrappers, clear one-line errors and exit codes, no tracebacks."""

import json

import pandas as pd
import pytest

from helpers import run_cli, toy_config, write_toy_csv


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A toy config file and its data, written once for the module."""
    import tomli_w

    tmp = tmp_path_factory.mktemp("cli")
    data = write_toy_csv(tmp / "toy.csv", multilabel=True)
    cfg = toy_config(data, tmp / "runs", data__label_columns=["pos", "loud"])
    (tmp / "toy.toml").write_text(tomli_w.dumps(cfg))
    return tmp


@pytest.fixture(scope="module")
def trained(project):
    from rnnlab.train.trainer import train

    run = train(project / "toy.toml", run_dir=project / "runs" / "trained")
    return run


def test_train_prints_epochs_and_writes_the_run(project, capsys):
    code, out, err = run_cli(["train", project / "toy.toml", "--set", "fit.epochs=2", "--set", "fit.verbose=line",
                               "--out", project / "r1"], capsys)
    assert code == 0, err
    assert "epoch 2/2" in out and "val_auc" in out and "majority" in out
    assert "AUC per label: pos" in out
    assert (project / "r1" / "metrics.json").exists()


@pytest.mark.parametrize("args,message", [
    (["--set", "fit.epoch=3"], "Unknown config key 'fit.epoch'. Did you mean 'fit.epochs'?"),
    (["--set", "text.maxlen=0"], "The 'text.maxlen' parameter must be an int >= 1. Got 0 instead."),
    (["--set", "model.layers.0.type=LSMT"], "Did you mean 'LSTM'?"),
    (["--set", "data.text_column=txt"], "has no column 'txt'"),
    (["--set", "compile.optimizer=adamm"], "'compile.optimizer' parameter must be one of"),
    (["--set", "data.label_columns=['pos','Loud']"], "Did you mean 'loud'?"),
    (["--set", "fitepochs"], "--set expects key=value"),
])
def test_user_mistakes_get_one_line_and_exit_2(project, capsys, args, message):
    code, out, err = run_cli(["train", project / "toy.toml", *args], capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1


def test_missing_config_file(capsys, tmp_path):
    code, _, err = run_cli(["train", tmp_path / "nope.toml"], capsys)
    assert code == 2 and "does not exist" in err


def test_invalid_toml(capsys, tmp_path):
    (tmp_path / "bad.toml").write_text("[data\npath = 1")
    code, _, err = run_cli(["train", tmp_path / "bad.toml"], capsys)
    assert code == 2 and "not valid TOML" in err


def test_summary_of_the_blog_models(capsys):
    code, out, _ = run_cli(["summary", "examples/imdb_simplernn_onehot.toml"], capsys)
    assert code == 0 and "4,072" in out and "│       9 │" in out and "Total params: 4,081" in out
    code, out, _ = run_cli(["summary", "examples/imdb_simplernn_embedding.toml"], capsys)
    assert code == 0 and "8,000" in out and "200" in out and "Total params: 8,209" in out


def test_evaluate_prints_and_saves_metrics(trained, project, capsys):
    code, out, err = run_cli(["evaluate", trained.dir, project / "toy.csv", "--out", project / "eval.json"], capsys)
    assert code == 0, err
    m = json.loads((project / "eval.json").read_text())
    assert m["n"] == 400 and "auc_per_label" in m and "majority_accuracy" in m
    assert "mean ROC AUC" in out and "majority baseline" in out


def test_predict_writes_ids_and_one_column_per_label(trained, project, capsys):
    code, out, err = run_cli(["predict", trained.dir, project / "toy.csv", "--out", project / "pred.csv"], capsys)
    assert code == 0, err
    pred = pd.read_csv(project / "pred.csv")
    assert list(pred.columns) == ["id", "pos", "loud"] and len(pred) == 400
    assert pred["id"].iloc[0] == "r0"


def test_submission_command(trained, project, capsys):
    frame = pd.read_csv(project / "toy.csv")
    frame[["id", "text"]].to_csv(project / "test.csv", index=False)
    frame[["id"]].assign(pos=0.5, loud=0.5).to_csv(project / "sample.csv", index=False)
    code, out, err = run_cli(["submission", trained.dir, project / "test.csv", "--sample", project / "sample.csv",
                              "--out", project / "submission.csv"], capsys)
    assert code == 0, err
    assert "checked against" in out
    frame[["id"]].assign(Pos=0.5, loud=0.5).to_csv(project / "sample_bad.csv", index=False)
    code, out, err = run_cli(["submission", trained.dir, project / "test.csv", "--sample", project / "sample_bad.csv",
                              "--out", project / "s2.csv"], capsys)
    assert code == 2 and "case matters" in err and not (project / "s2.csv").exists()


def test_bad_run_folder(capsys, tmp_path):
    code, _, err = run_cli(["predict", tmp_path, tmp_path / "x.csv", "--out", tmp_path / "o.csv"], capsys)
    assert code == 2 and "is not a run folder (it has no config.toml)" in err


def test_unwritable_output_is_a_clear_error(trained, project, capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")  # a file where a folder should be: cannot be written, even as root
    code, _, err = run_cli(["predict", trained.dir, project / "toy.csv", "--out", blocker / "p.csv"], capsys)
    assert code == 1 and "Cannot write" in err and "Traceback" not in err


def test_jigsaw_test_file_with_test_labels(tmp_path, capsys):
    """evaluate on Kaggle's test.csv + test_labels.csv: rows marked -1 are not scored."""
    from rnnlab.data.jigsaw import LABELS
    from rnnlab.train.trainer import train

    rng = __import__("numpy").random.default_rng(0)
    words = ["you", "are", "idiot", "nice", "thanks", "stupid", "article", "edit"]
    rows = []
    for i in range(240):
        text = " ".join(rng.choice(words, 6))
        bad = int("idiot" in text or "stupid" in text)
        rows.append({"id": f"{i:04x}", "comment_text": text, **{label: (bad if label in ("toxic", "insult") else
                                                                       int(rng.random() < 0.1)) for label in LABELS}})
    frame = pd.DataFrame(rows)
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame[["id", "comment_text"]].to_csv(tmp_path / "test.csv", index=False)
    labels = frame[["id", *LABELS]].copy()
    labels.loc[labels.index % 4 == 0, LABELS] = -1
    labels.to_csv(tmp_path / "test_labels.csv", index=False)
    run = train({"data": {"dataset": "jigsaw", "path": str(tmp_path / "train.csv")},
                 "model": {"embedding": {"dim": 4}, "layers": [{"type": "GRU", "units": 4}, {"type": "Dense"}]},
                 "fit": {"epochs": 2, "verbose": "quiet"}, "runs_dir": str(tmp_path / "runs")})
    code, out, err = run_cli(["evaluate", run.dir, tmp_path / "test.csv", "--labels", tmp_path / "test_labels.csv",
                              "--out", tmp_path / "e.json"], capsys)
    assert code == 0, err
    m = json.loads((tmp_path / "e.json").read_text())
    assert m["n"] == 180 and set(m["auc_per_label"]) == set(LABELS)
    assert "60 of 240 test rows are marked -1" in out
    code, _, err = run_cli(["evaluate", run.dir, tmp_path / "test.csv"], capsys)
    assert code == 2 and "looks like Kaggle's test.csv: pass its labels with --labels" in err


def test_the_doctor_blocks_a_broken_config_unless_forced(project, capsys, tmp_path):
    args = ["train", project / "toy.toml", "--set", "model.layers.1.activation=softmax", "--set", "fit.epochs=1"]
    code, _, err = run_cli([*args, "--out", tmp_path / "a"], capsys)
    assert code == 2 and "[softmax-multilabel]" in err and "--force" in err
    assert not (tmp_path / "a").exists()
    code, out, err = run_cli([*args, "--force", "--set", "fit.verbose=line", "--out", tmp_path / "b"], capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert {(d["rule"], d["severity"]) for d in metrics["doctor"]} >= {("softmax-multilabel", "error")}
    assert "doctor: error [softmax-multilabel]" in out


def test_train_with_a_preset(capsys, tmp_path):
    from rnnlab.config import load_config, preset_path

    for name in ("imdb-strong", "jigsaw_strong", "imdb-bigru"):
        cfg = load_config(preset_path(name))  # both spellings; every bundled preset is a valid config
        assert cfg.model.layers
    code, _, err = run_cli(["train", "--preset", "imdb-strnog"], capsys)
    assert code == 2 and "Unknown preset 'imdb_strnog'" in err and "Did you mean 'imdb_strong'" in err
    code, _, err = run_cli(["train", tmp_path / "x.toml", "--preset", "imdb-strong"], capsys)
    assert code == 2 and "--preset replaces CONFIG" in err
    code, _, err = run_cli(["train", "--preset", "jigsaw-strong"], capsys)  # no data.path in the preset
    assert code == 2 and "data.path is not set" in err
