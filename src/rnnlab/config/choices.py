"""The names a config may use: datasets, activations, optimizers, losses, metrics, monitors,
learning-rate schedules and layer types with their keys, and the Keras tokenizer's default filters.

Plain constants; this module imports nothing from rnnlab.
"""

from __future__ import annotations

DATASETS = ("table", "jigsaw", "imdb")  # one source each in rnnlab.data.sources
ACTIVATIONS = ("linear", "sigmoid", "softmax", "relu", "tanh", "elu", "selu", "gelu", "swish", "softplus")
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "nadam", "adamax")
LOSSES = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "mse")
LOSS_ALIASES = {"mean_squared_error": "mse", "bce": "binary_crossentropy"}
METRICS = ("accuracy", "auc")
METRIC_ALIASES = {"acc": "accuracy", "binary_accuracy": "accuracy", "categorical_accuracy": "accuracy",
                  "roc_auc": "auc"}
MONITORS = ("val_loss", "val_accuracy", "val_auc", "loss", "accuracy")
# Keras's keras.optimizers.schedules by class name -> the keys each takes besides 'type' (the
# initial learning rate is compile.learning_rate), in the order they are checked and written.
LR_SCHEDULES: dict[str, tuple[str, ...]] = {
    "ExponentialDecay": ("decay_steps", "decay_rate", "staircase"),
    "CosineDecay": ("decay_steps", "alpha", "warmup_target", "warmup_steps"),
}
LR_SCHEDULE_ALIASES = {k.lower(): k for k in LR_SCHEDULES}

RNN_TYPES = ("SimpleRNN", "LSTM", "GRU")
MAX_SEED = 2**32 - 1  # what NumPy and scikit-learn accept as a seed
MAX_UNITS = 65_536  # layer units and embedding dim: far above any text RNN, far below what cannot be allocated
MAX_PARAMS = 1_000_000_000  # parameters of a model (4 GB of float32 weights): more is refused before allocating
# The keys each layer type accepts besides 'type', in the order they are checked and written.
LAYER_KEYS: dict[str, tuple[str, ...]] = {
    **{t: ("units", "activation", "return_sequences", "bidirectional", "merge_mode", "dropout") for t in RNN_TYPES},
    "Dense": ("units", "activation"),
    "Dropout": ("rate",),
    "SpatialDropout1D": ("rate",),
    "BatchNormalization": ("momentum", "epsilon"),
    "GlobalMaxPooling1D": (),
    "GlobalAveragePooling1D": (),
    "GlobalPooling1D": ("modes",),
    "Flatten": (),
}
# Lower-case spellings (and a few Keras/PyTorch nicknames) -> the layer type.
LAYER_ALIASES = {**{k.lower(): k for k in LAYER_KEYS}, "globalmaxpool1d": "GlobalMaxPooling1D",
                 "globalaveragepool1d": "GlobalAveragePooling1D", "globalavgpool1d": "GlobalAveragePooling1D",
                 "batchnorm": "BatchNormalization", "rnn": "SimpleRNN"}

# [data] keys holding file or folder paths (resolved relative to the config file).
PATH_KEYS = ("path", "validation_path", "test_path", "cache_dir")
# ``data.path`` of a run trained on a table in memory (``rnnlab.train(config, data=frame)``):
# "memory:DataFrame:sha256=<16 hex>" records where the data came from; it is no file path
MEMORY_PREFIX = "memory:"

# model.embedding.pretrained = {train = ...}: the gensim models that train word vectors, and the
# vector size when neither the table nor model.embedding.dim sets one (gensim's vector_size default).
OWN_VECTORS = ("word2vec", "fasttext")
DEFAULT_OWN_DIM = 100

# Keras Tokenizer's default ``filters``: characters turned into separators.
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
