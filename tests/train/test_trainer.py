"""rnnlab.train end to end on small data the tests write: run folder, determinism, resolve,
NaN stop, interruption, early stopping, checkpoints."""

import json

import numpy as np
import pytest

import rnnlab
from helpers import toy_config, write_toy_csv
from rnnlab.errors import ConfigError, TrainingFailed
from rnnlab.train import prepare


@pytest.fixture()
def toy(tmp_path):
    return write_toy_csv(tmp_path / "toy.csv")


def test_run_folder_has_every_artifact(toy, tmp_path):
    run = rnnlab.train(toy_config(toy, tmp_path / "runs"))
    names = {p.name for p in run.dir.iterdir()}
    assert {"config.toml", "labels.json", "vocab.json", "model.safetensors", "history.csv", "metrics.json",
            "run.json", "curves.png", "lengths.png", "log.txt", "checkpoints"} <= names
    assert (run.dir / "checkpoints" / "best.safetensors").exists()
    assert not [p for p in run.dir.rglob("*.tmp")]
    m = run.metrics
    assert m["status"] == "completed" and m["epochs_run"] == 5
    assert m["validation"]["accuracy"] > 0.8  # the toy data is learnable
    assert "majority_accuracy" in m["validation"] and "auc_per_label" in m["validation"]
    assert len(run.history) == 5


def test_resolved_config_fills_output_and_loss(toy, tmp_path):
    run = rnnlab.train(toy_config(toy, tmp_path / "runs"))
    cfg = rnnlab.load_config(run.dir / "config.toml")
    out = cfg.model.layers[-1]
    assert (out.units, out.activation, cfg.compile.loss) == (1, "sigmoid", "binary_crossentropy")


def test_same_seed_gives_identical_metrics_json(toy, tmp_path):
    a = rnnlab.train(toy_config(toy, tmp_path / "a"))
    b = rnnlab.train(toy_config(toy, tmp_path / "b"))
    assert (a.dir / "metrics.json").read_bytes() == (b.dir / "metrics.json").read_bytes()
    c = rnnlab.train(toy_config(toy, tmp_path / "c", seed=4))
    assert (a.dir / "metrics.json").read_bytes() != (c.dir / "metrics.json").read_bytes()


def test_padded_batches_without_bucketing_train_too(toy, tmp_path):
    run = rnnlab.train(toy_config(toy, tmp_path / "r", fit__bucketing=False))
    assert run.metrics["validation"]["accuracy"] > 0.8


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_run(toy, tmp_path):
    cfg = toy_config(toy, tmp_path / "r", compile__optimizer="sgd", compile__learning_rate=1e10, compile__loss="mse")
    cfg["model"]["layers"][-1]["activation"] = "linear"
    with pytest.raises(TrainingFailed, match=r"loss became (nan|inf).*epoch 1"):
        rnnlab.train(cfg)
    run_dir = next((tmp_path / "r").iterdir())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "failed" and "learning rate" in metrics["reason"]


def test_ctrl_c_stops_cleanly_and_leaves_a_usable_run(toy, tmp_path, monkeypatch):
    from rnnlab.train import fit as fit_module

    real = fit_module.compute_metrics
    calls = {"n": 0}

    def interrupt_after_first_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(fit_module, "compute_metrics", interrupt_after_first_epoch)
    run = rnnlab.train(toy_config(toy, tmp_path / "r", fit__epochs=5))
    assert run.metrics["status"] == "interrupted"
    assert len(run.history) == 1
    again = rnnlab.load_run(run.dir)
    assert again.predict(["good great"]).shape == (1, 1)


def test_early_stopping_restores_the_best_epoch(toy, tmp_path):
    cfg = toy_config(toy, tmp_path / "r", fit__epochs=30, compile__learning_rate=0.05,
                     fit__early_stopping={"enabled": True, "monitor": "val_loss", "patience": 1, "min_delta": 0.01,
                                          "restore_best_weights": True})
    run = rnnlab.train(cfg)
    m = run.metrics
    assert m["status"] == "early_stopped" and m["epochs_run"] < 30
    # the best epoch is the last one that improved by more than min_delta, and its weights are restored
    losses = [h["val_loss"] for h in run.history]
    best_epoch = 1 + max(i for i in range(len(losses)) if all(losses[i] < before - 0.01 for before in losses[:i]))
    assert m["validation"]["loss"] == pytest.approx(losses[best_epoch - 1], rel=1e-5)


def test_softmax_over_multiclass_labels(tmp_path):
    import pandas as pd

    path = write_toy_csv(tmp_path / "t.csv", n=240)
    frame = pd.read_csv(path)
    frame["mood"] = np.where(frame["pos"] == 1, "happy", "sad")
    frame.loc[frame.index % 3 == 0, "mood"] = "meh"
    frame.to_csv(path, index=False)
    run = rnnlab.train(toy_config(path, tmp_path / "r", data__label_columns=["mood"]))
    cfg = rnnlab.load_config(run.dir / "config.toml")
    assert cfg.model.layers[-1].units == 3 and cfg.model.layers[-1].activation == "softmax"
    assert cfg.compile.loss == "sparse_categorical_crossentropy"
    m = run.metrics["validation"]
    assert {"macro_f1", "confusion_matrix", "majority_accuracy"} <= set(m)
    assert run.labels == ["happy", "meh", "sad"]
    assert run.predict(["good fine"]).sum() == pytest.approx(1.0, abs=1e-5)


def test_sparse_categorical_on_one_unit_is_refused_not_nan(toy, tmp_path):
    cfg = toy_config(toy, tmp_path / "r", compile__loss="sparse_categorical_crossentropy")
    with pytest.raises(ConfigError, match="one output unit per class.*loss: nan"):
        rnnlab.train(cfg)


def test_output_units_must_match_labels(toy, tmp_path):
    cfg = toy_config(toy, tmp_path / "r")
    cfg["model"]["layers"][-1]["units"] = 6
    with pytest.raises(ConfigError, match="6 unit.*1 label"):
        rnnlab.train(cfg)


def test_multilabel_needs_no_sparse_loss(tmp_path):
    path = write_toy_csv(tmp_path / "m.csv", multilabel=True)
    cfg = toy_config(path, tmp_path / "r", data__label_columns=["pos", "loud"],
                     compile__loss="sparse_categorical_crossentropy")
    with pytest.raises(ConfigError, match="multi-label"):
        rnnlab.train(cfg)


def test_mask_zero_and_pooling_model_trains(tmp_path):
    path = write_toy_csv(tmp_path / "m.csv", multilabel=True)
    cfg = toy_config(path, tmp_path / "r", data__label_columns=["pos", "loud"], text__padding="post",
                     text__filters="", fit__epochs=4)
    cfg["model"] = {"embedding": {"dim": 8, "mask_zero": True},
                    "layers": [{"type": "LSTM", "units": 8, "bidirectional": True, "return_sequences": True},
                               {"type": "GlobalPooling1D", "modes": ["max", "average"]}, {"type": "Dense"}]}
    run = rnnlab.train(cfg)
    assert run.metrics["validation"]["auc"] > 0.9


def test_existing_run_folder_is_not_overwritten(toy, tmp_path):
    first = rnnlab.train(toy_config(toy, tmp_path / "runs"))
    second = rnnlab.train(toy_config(toy, tmp_path / "runs"))
    assert first.dir.name == "toy" and second.dir.name == "toy-2"
    with pytest.raises(ConfigError, match="already exists"):
        rnnlab.train(toy_config(toy, tmp_path / "runs"), run_dir=first.dir)


def test_summary_without_data_uses_num_words(tmp_path):
    cfg = toy_config(tmp_path / "absent.csv", tmp_path / "r", text__num_words=500)
    cfg["model"]["layers"][-1]["units"] = 1
    model, notes = prepare.summary_model(cfg)
    assert model.param_counts() == (500 * 8 + 3 * (8 * 8 + 8 * 8 + 2 * 8) + 9, 0)
    assert notes == []


def test_tokenizer_is_fitted_on_the_training_split_only_by_default(tmp_path):
    import pandas as pd

    path = write_toy_csv(tmp_path / "t.csv")
    frame = pd.read_csv(path)
    frame["text"] = frame["text"] + " " + frame.index.map(lambda i: f"uniq{i}")  # one word per row
    frame.to_csv(path, index=False)
    run = rnnlab.train(toy_config(path, tmp_path / "r"))
    vocab = run.tokenizer.word_index
    from rnnlab.data import load_splits

    splits = load_splits(run.config)
    val_only = {t.split()[-1] for t in splits.validation.texts}
    assert not val_only & set(vocab)  # no validation word leaked into the vocabulary
    run2 = rnnlab.train(toy_config(path, tmp_path / "r2", text__fit_on="train+validation"))
    assert val_only <= set(run2.tokenizer.word_index)


def test_fitting_on_test_texts_needs_a_test_file(toy, tmp_path):
    with pytest.raises(ConfigError, match="data.test_path"):
        rnnlab.train(toy_config(toy, tmp_path / "r", text__fit_on="train+validation+test"))


def test_per_epoch_checkpoints_when_not_best_only(toy, tmp_path):
    run = rnnlab.train(toy_config(toy, tmp_path / "r", fit__epochs=2, fit__checkpoint={"save_best_only": False}))
    assert {p.name for p in (run.dir / "checkpoints").iterdir()} == {"best.safetensors", "epoch-1.safetensors",
                                                                     "epoch-2.safetensors"}


def test_two_unit_softmax_on_a_binary_label(toy, tmp_path):
    """sparse_categorical_crossentropy with 2 softmax units is the valid form of the notebook's
    broken 1-unit variant: it trains and reports accuracy for the positive class."""
    cfg = toy_config(toy, tmp_path / "r", compile__loss="sparse_categorical_crossentropy")
    cfg["model"]["layers"][-1].update(units=2, activation="softmax")
    run = rnnlab.train(cfg)
    assert all(h["accuracy"] == h["accuracy"] for h in run.history)  # not NaN
    assert run.metrics["validation"]["accuracy"] > 0.8 and run.metrics["validation"]["auc"] > 0.9


@pytest.mark.parametrize("kind", ["tfidf_lr", "nbsvm"])
def test_baselines_train_through_the_same_pipeline(toy, tmp_path, kind):
    cfg = toy_config(toy, tmp_path / "r")
    cfg["model"] = {"type": kind, "baseline": {"word_max_features": 500, "char_max_features": 500}}
    run = rnnlab.train(cfg)
    m = run.metrics
    assert m["status"] == "completed" and m["validation"]["auc"] > 0.95 and m["params"]["trainable"] > 0
    assert {"baseline.json", "baseline.safetensors", "validation_predictions.csv", "metrics.json"} <= \
        {p.name for p in run.dir.iterdir()}
    loaded = rnnlab.load_run(run.dir)
    assert loaded.is_baseline
    import numpy as np

    np.testing.assert_allclose(loaded.predict(["good great", "bad awful"]), run.predict(["good great", "bad awful"]))
    assert loaded.predict(["good great fine"])[0, 0] > 0.5


def test_forced_broken_loss_fails_with_the_reason_and_keeps_the_run(toy, tmp_path):
    """The notebook's sparse_categorical_crossentropy on one output unit, forced past the doctor:
    a clear failure (not a crash in the final evaluation), and metrics.json written."""
    cfg = toy_config(toy, tmp_path / "r", compile__loss="sparse_categorical_crossentropy")
    cfg["model"]["layers"][-1].update(units=1, activation="softmax")
    with pytest.raises(TrainingFailed, match=r"epoch 1, step 1: .*out of range for the 1-unit output.*loss: nan"):
        rnnlab.train(cfg, force=True)
    metrics = json.loads(next((tmp_path / "r").iterdir()).joinpath("metrics.json").read_text())
    assert metrics["status"] == "failed" and "not evaluated" in metrics["validation"]["note"]
    assert {d["rule"] for d in metrics["doctor"]} >= {"softmax-one-unit", "scce-too-few-units"}


def test_pretrained_vectors_initialise_the_embedding(tmp_path):
    import json

    import numpy as np

    from rnnlab.runs import load_weights

    data = write_toy_csv(tmp_path / "toy.csv", n=120)
    rng = np.random.default_rng(0)
    vectors = {"good": rng.normal(size=5), "Awful": rng.normal(size=5), "zzz": rng.normal(size=5)}
    path = tmp_path / "vec.txt"  # GloVe style (no header); "Awful" reaches "awful" by the lower-case fallback
    path.write_text("".join(f"{w} {' '.join(f'{x:.6f}' for x in v)}\n" for w, v in vectors.items()))
    cfg = toy_config(data, tmp_path, model__embedding={"pretrained": str(path), "trainable": False}, fit__epochs=1)
    run = rnnlab.train(cfg, run_dir=tmp_path / "r")
    assert run.config.model.embedding.dim == 5  # taken from the file
    table = load_weights(run.dir / "model.safetensors")["input_layer.table.weight"].numpy()
    wi = run.tokenizer.word_index
    assert table[wi["good"]] == pytest.approx(vectors["good"], abs=1e-6)
    assert table[wi["awful"]] == pytest.approx(vectors["Awful"], abs=1e-6)
    assert np.abs(table[wi["w1"]]).max() <= 0.05  # no vector: Keras's uniform init
    cov = json.loads((run.dir / "metrics.json").read_text())["pretrained_vectors"]
    assert cov["exact"] == 1 and cov["lowercase"] == 1 and cov["words_found"] == 2
    assert "2 of" in (run.dir / "log.txt").read_text()
    with pytest.raises(ConfigError, match="must be 5 to match the pretrained vectors"):
        rnnlab.train(toy_config(data, tmp_path, model__embedding={"pretrained": str(path), "dim": 8}))
    with pytest.raises(ConfigError, match="needs model.input = 'embedding'"):
        rnnlab.train(toy_config(data, tmp_path, model__input="onehot", model__embedding={"pretrained": str(path)}))


def test_bf16_autocast_trains_and_fp16_needs_cuda(tmp_path):
    data = write_toy_csv(tmp_path / "toy.csv", n=200)
    run = rnnlab.train(toy_config(data, tmp_path, fit__precision="bf16", fit__epochs=4), run_dir=tmp_path / "bf16")
    m = run.metrics
    assert m["status"] == "completed" and m["validation"]["auc"] > 0.8  # learns the toy task in bf16
    assert all(str(t.dtype) == "torch.float32" for t in run.model.state_dict().values())  # weights stay float32
    if not __import__("torch").cuda.is_available():
        with pytest.raises(ConfigError, match="'fp16' needs a CUDA device"):
            rnnlab.train(toy_config(data, tmp_path, fit__precision="fp16"))
