"""The learning rate of every epoch in history.csv (``learning_rate``, as Keras 3 logs it) with
and without a schedule, the learning-curves panel drawn only when the rate changed, and k-fold
members each following the schedule from their own step 0."""

import csv
import math

import pytest
import torch

import rnnlab
from helpers import toy_config, write_toy_csv
from rnnlab.runs import RunFolder
from rnnlab.train.plots import learning_rate_varies, plot_learning_curves

COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "val_majority_accuracy", "val_auc",
           "learning_rate", "seconds", "train_seconds"]


@pytest.fixture()
def one_thread():
    """fit.threads = 1 (fast on a busy machine); torch's thread count is restored afterwards."""
    n = torch.get_num_threads()
    yield {"fit__threads": 1}
    torch.set_num_threads(n)


def _header(run) -> list[str]:
    with open(RunFolder(run.dir).history, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh))


def test_a_constant_rate_is_logged_every_epoch_and_gets_no_panel(tmp_path, one_thread):
    data = write_toy_csv(tmp_path / "toy.csv", n=200)
    run = rnnlab.train(toy_config(data, tmp_path / "runs", fit__epochs=2, **one_thread))
    assert _header(run) == COLUMNS
    assert [h["learning_rate"] for h in run.history] == [0.02, 0.02]
    assert not learning_rate_varies(run.history)
    assert "learning_rate" not in (run.dir / "log.txt").read_text()  # the epoch line shows it only when it changes


def test_a_schedule_is_logged_at_each_epoch_end_and_shown(tmp_path, one_thread):
    data = write_toy_csv(tmp_path / "toy.csv", n=200)
    schedule = {"type": "ExponentialDecay", "decay_steps": 4, "decay_rate": 0.5, "staircase": True}
    run = rnnlab.train(toy_config(data, tmp_path / "runs", fit__epochs=2, compile__learning_rate_schedule=schedule,
                                  **one_thread))
    steps = math.ceil(run.metrics["train_rows"] / 32)
    assert [h["learning_rate"] for h in run.history] == pytest.approx(
        [0.02 * 0.5 ** math.floor(e * steps / 4) for e in (1, 2)], rel=1e-12)
    log = (run.dir / "log.txt").read_text()
    assert "adam with ExponentialDecay" in log and f"learning_rate {run.history[0]['learning_rate']:.4g}" in log


def _width(path) -> int:
    from matplotlib.image import imread

    return imread(path).shape[1]


def test_the_curves_get_a_learning_rate_panel_when_the_rate_changed(tmp_path):
    rows = [{"epoch": e, "loss": 1 / e, "accuracy": 0.5, "val_loss": 1 / e, "val_accuracy": 0.5,
             "val_majority_accuracy": 0.5, "val_auc": 0.6, "learning_rate": lr}
            for e, lr in ((1, 0.1), (2, 0.01), (3, 0.001))]
    assert learning_rate_varies(rows)
    plot_learning_curves(rows, tmp_path / "varies.png")
    plot_learning_curves([{**r, "learning_rate": 0.1} for r in rows], tmp_path / "constant.png")
    plot_learning_curves([{k: v for k, v in r.items() if k != "learning_rate"} for r in rows], tmp_path / "old.png")
    assert _width(tmp_path / "varies.png") == 2000  # four 5-inch panels at 100 dpi
    assert _width(tmp_path / "constant.png") == _width(tmp_path / "old.png") == 1500  # histories before the column


def test_every_fold_follows_the_schedule_from_its_own_start(tmp_path, one_thread):
    data = write_toy_csv(tmp_path / "toy.csv", n=120)
    schedule = {"type": "CosineDecay", "decay_steps": 6, "alpha": 0.1, "warmup_target": 0.05, "warmup_steps": 2}
    run = rnnlab.train(toy_config(data, tmp_path / "runs", fit__folds=2, fit__epochs=2,
                                  compile__learning_rate_schedule=schedule, **one_thread), run_dir=tmp_path / "k")
    assert run.metrics["folds"] == 2
    for i in (1, 2):
        fold = rnnlab.load_run(run.dir / "folds" / f"fold-{i}")
        assert fold.config.compile.learning_rate_schedule.type == "CosineDecay"
        steps = math.ceil(fold.metrics["train_rows"] / 32)  # 60 rows: 2 steps an epoch

        def keras(step):
            step = min(step, 6 + 2)
            if step < 2:
                return 0.02 + (0.05 - 0.02) * step / 2
            return 0.05 * (0.9 * 0.5 * (1 + math.cos(math.pi * (step - 2) / 6)) + 0.1)

        assert [h["learning_rate"] for h in fold.history] == pytest.approx([keras(e * steps) for e in (1, 2)],
                                                                           rel=1e-12)
