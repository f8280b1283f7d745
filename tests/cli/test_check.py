"""`rnnlab check`: findings per config / sweep variant, exit 1 on errors, 0 when clean, 2 on a bad config."""

import pytest
import tomli_w
from helpers import ROOT, run_cli, shared_file, toy_config, write_toy_csv

import rnnlab.cli.check  # noqa: F401  (registers the command)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("check")
    data = write_toy_csv(tmp / "toy.csv")
    (tmp / "toy.toml").write_text(tomli_w.dumps(toy_config(data, tmp / "runs")))
    sweep = {"model.layers.1.activation": ["sigmoid", "softmax", "relu"], "baselines": False}
    (tmp / "sweep.toml").write_text(tomli_w.dumps(toy_config(data, tmp / "runs", sweep=sweep)))
    return tmp


def test_a_correct_config_has_no_findings(project, capsys):
    code, out, err = run_cli(["check", project / "toy.toml"], capsys)
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].startswith("data: table, binary, 1 label (pos); 320 train / 80 validation rows")
    assert lines[1] == "toy: no findings"


def test_a_broken_config_exits_1_with_the_finding_and_its_fix(project, capsys):
    code, out, _ = run_cli(["check", project / "toy.toml", "--set", "model.layers.1.activation=softmax",
                            "--set", "compile.loss=sparse_categorical_crossentropy"], capsys)
    assert code == 1
    assert "toy: 2 errors" in out
    assert "softmax-one-unit (model.layers.1.activation)" in out and "scce-too-few-units" in out
    assert "fix: Use activation = \"sigmoid\"" in out


def test_warnings_alone_exit_0(project, capsys):
    code, out, _ = run_cli(["check", project / "toy.toml", "--set", "compile.loss=mse"], capsys)
    assert code == 0 and "toy: 1 warning" in out and "mse-classification" in out


def test_a_sweep_gets_one_block_per_variant_and_a_summary(project, capsys):
    code, out, _ = run_cli(["check", project / "sweep.toml"], capsys)
    assert code == 1
    assert "variant 1/3 'layers.1.activation=sigmoid': no findings" in out
    assert "variant 2/3 'layers.1.activation=softmax': 1 error" in out
    assert "variant 3/3 'layers.1.activation=relu': 1 error" in out and "bce-not-probability" in out
    assert out.strip().splitlines()[-1] == "2 of 3 variants have errors"


def test_each_variant_follows_the_data_it_reads(tmp_path, capsys):
    data = write_toy_csv(tmp_path / "toy.csv", multilabel=True)
    pos_only = {"data.label_columns": ["pos"]}
    sweep = {"variants": [{"name": "both"}, {"name": "pos only", **pos_only},
                          {"name": "pos, softmax", **pos_only, "model.layers.1.activation": "softmax"}],
             "baselines": False}
    (tmp_path / "v.toml").write_text(tomli_w.dumps(toy_config(data, tmp_path / "runs", sweep=sweep,
                                                              data__label_columns=["pos", "loud"])))
    code, out, _ = run_cli(["check", tmp_path / "v.toml"], capsys)
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith("data: table, multilabel, 2 labels (pos, loud)")
    assert lines[1] == "variant 1/3 'both': no findings"
    assert lines[2].startswith("data: table, binary, 1 label (pos)")
    assert lines[3] == "variant 2/3 'pos only': no findings"
    assert lines[4] == "variant 3/3 'pos, softmax': 1 error"  # same data: no second data line
    assert lines[-1] == "1 of 3 variants have errors"


def test_a_bad_config_is_one_error_line_and_exit_2(project, capsys):
    code, out, err = run_cli(["check", project / "toy.toml", "--set", "fit.epoch=3"], capsys)
    assert code == 2 and out == ""
    assert err.strip() == "error: Unknown config key 'fit.epoch'. Did you mean 'fit.epochs'?"


@pytest.mark.slow
def test_the_jigsaw_example_on_the_real_subset_is_clean(capsys):
    data = shared_file("jigsaw_toxic", "train_subset.csv.gz")
    code, out, err = run_cli(["check", ROOT / "examples" / "jigsaw_lstm.toml", "--set", f"data.path={data}"], capsys)
    assert code == 0, out + err
    assert "data: jigsaw, multilabel, 6 labels (toxic, severe_toxic" in out and "majority share 0.869" in out
    assert out.splitlines()[1] == "jigsaw_lstm: no findings"


@pytest.mark.slow
def test_the_notebooks_model_on_the_real_subset_is_refused(capsys, tmp_path):
    data = shared_file("jigsaw_toxic", "train_subset.csv.gz")
    code, out, _ = run_cli(["check", ROOT / "examples" / "jigsaw_lstm.toml", "--set", f"data.path={data}",
                            "--set", "data.label_columns=['toxic']", "--set", "model.layers.1.units=1",
                            "--set", "model.layers.1.activation=softmax",
                            "--set", "compile.loss=sparse_categorical_crossentropy"], capsys)
    assert code == 1
    assert "jigsaw_lstm: 2 errors, 1 warning" in out
    for rule in ("softmax-one-unit", "scce-too-few-units", "jigsaw-label-subset"):
        assert rule in out


def test_pretrained_vectors_without_dim_are_checked_and_summarised(project, capsys, tmp_path):
    """Regression: with model.embedding.pretrained and no dim, check and summary crashed on dim None."""
    vec = tmp_path / "v.vec"
    vec.write_text("2 5\ngood 1 2 3 4 5\nbad 5 4 3 2 1\n")
    cfg = toy_config(project / "toy.csv", tmp_path / "runs", model__embedding={"pretrained": str(vec)})
    (tmp_path / "p.toml").write_text(tomli_w.dumps(cfg))
    code, out, err = run_cli(["check", tmp_path / "p.toml"], capsys)
    assert code == 0, out + err
    code, out, err = run_cli(["summary", tmp_path / "p.toml"], capsys)
    assert code == 0 and "(None, 30, 5)" in out and "embedding dim 5 from" in out, out + err
