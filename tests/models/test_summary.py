"""`summary` shows Keras-equal parameter counts and shapes for the same architectures."""

import pytest

from helpers import keras_fixture
from rnnlab.config import load_config
from rnnlab.models import build_model, summary_rows

FIX = {c["name"]: c for c in keras_fixture("summary")["cases"]}

# our config for each Keras model in summary.json: (input, vocab/depth, maxlen, embedding dim, layers)
OURS = {
    "blog_onehot": ("onehot", 500, 100, None, [{"type": "SimpleRNN", "units": 8}, {"type": "Dense", "units": 1, "activation": "sigmoid"}]),
    "blog_embedding": ("embedding", 500, 100, 16, [{"type": "SimpleRNN", "units": 8}, {"type": "Dense", "units": 1, "activation": "sigmoid"}]),
    "notebook_lstm": ("embedding", 1000, 250, 3, [{"type": "LSTM", "units": 32}, {"type": "Dense", "units": 6, "activation": "sigmoid"}]),
    "gru32": ("embedding", 1000, 250, 3, [{"type": "GRU", "units": 32}, {"type": "Dense", "units": 6, "activation": "sigmoid"}]),
    "bn_after_embedding": ("embedding", 1000, 250, 3, [{"type": "BatchNormalization"}, {"type": "LSTM", "units": 32}, {"type": "Dense", "units": 1, "activation": "sigmoid"}]),
    "bn_after_lstm": ("embedding", 1000, 250, 3, [{"type": "LSTM", "units": 32}, {"type": "BatchNormalization"}, {"type": "Dense", "units": 1, "activation": "sigmoid"}]),
    "bn_after_dense": ("embedding", 1000, 250, 3, [{"type": "LSTM", "units": 32}, {"type": "Dense", "units": 1, "activation": "sigmoid"}, {"type": "BatchNormalization"}]),
    "bigru_pool": ("embedding", 5000, 200, 128, [{"type": "GRU", "units": 64, "bidirectional": True, "return_sequences": True}, {"type": "GlobalPooling1D", "modes": ["max", "average"]}, {"type": "Dense", "units": 6, "activation": "sigmoid"}]),
    "stacked_bilstm": ("embedding", 300, 50, 8, [{"type": "LSTM", "units": 16, "bidirectional": True, "return_sequences": True}, {"type": "LSTM", "units": 8}, {"type": "Dropout", "rate": 0.5}, {"type": "Dense", "units": 16, "activation": "relu"}, {"type": "Dense", "units": 3, "activation": "softmax"}]),
    "no_rnn": ("embedding", 300, 40, 8, [{"type": "GlobalAveragePooling1D"}, {"type": "Dense", "units": 1, "activation": "sigmoid"}]),
    "flatten": ("embedding", 300, 40, 8, [{"type": "Flatten"}, {"type": "Dense", "units": 1, "activation": "sigmoid"}]),
    "bi_simplernn": ("onehot", 20, 30, None, [{"type": "SimpleRNN", "units": 4, "bidirectional": True}, {"type": "Dense", "units": 2, "activation": "softmax"}]),
}


def _model(name):
    inp, vocab, maxlen, dim, layers = OURS[name]
    raw = {"text": {"maxlen": maxlen}, "model": {"input": inp, "layers": layers},
           "fit": {"bucketing": name != "flatten"}}
    if dim:
        raw["model"]["embedding"] = {"dim": dim}
    cfg = load_config(None, base=raw)
    return build_model(cfg.model, vocab_size=vocab, maxlen=maxlen)


@pytest.mark.parametrize("name", list(OURS))
def test_param_counts_equal_keras(name):
    keras = FIX[name]
    model = _model(name)
    trainable, frozen = model.param_counts()
    assert (trainable + frozen, trainable, frozen) == (keras["total"], keras["trainable"], keras["non_trainable"])
    ours = [(r["class"], r["params"]) for r in summary_rows(model)]
    theirs = [(layer["class"], layer["params"]) for layer in keras["layers"]
              if layer["class"] not in ("InputLayer", "Concatenate", "GlobalMaxPooling1D", "GlobalAveragePooling1D")
              or name != "bigru_pool"]
    if name == "bigru_pool":  # one GlobalPooling1D row stands for Keras's two pools + Concatenate
        theirs.insert(2, ("GlobalPooling1D", 0))
    assert ours == theirs


@pytest.mark.parametrize("name", ["blog_onehot", "blog_embedding", "notebook_lstm", "stacked_bilstm", "flatten"])
def test_output_shapes_equal_keras(name):
    shapes = [r["output_shape"] for r in summary_rows(_model(name))]
    expected = ["(" + ", ".join("None" if s is None else str(s) for s in layer["output_shape"]) + ")"
                for layer in FIX[name]["layers"]]
    assert shapes == expected


def test_blog_numbers():
    assert [r["params"] for r in summary_rows(_model("blog_onehot"))] == [4072, 9]
    assert [r["params"] for r in summary_rows(_model("blog_embedding"))] == [8000, 200, 9]
