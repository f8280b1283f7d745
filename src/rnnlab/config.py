"""The typed configuration: one object that flows from data to training to the run folder.

A config is a TOML file (``tomllib``) with the tables ``[data]``, ``[text]``, ``[model]``
(with ``[model.embedding]`` and ``[[model.layers]]``), ``[compile]`` and ``[fit]``, plus
``name`` and ``seed`` at the top. ``--set key.path=value`` overrides any key, list items
included (``--set model.layers.0.units=64``). Every value is checked up front; an error names
the key, the value received and what is expected ("The 'text.maxlen' parameter must be an int
>= 1. Got 0 instead."). Unknown keys are errors with a did-you-mean hint. The resolved config
(defaults filled in, paths absolute) is saved as ``config.toml`` in every run folder.

See docs/config.md for every key, its type and default.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import ConfigError, param_error
from .text.tokenizer import KERAS_FILTERS

ACTIVATIONS = ("linear", "sigmoid", "softmax", "relu", "tanh", "elu", "selu", "gelu", "swish", "softplus")
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "nadam", "adamax")
LOSSES = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "mse")
LOSS_ALIASES = {"mean_squared_error": "mse", "bce": "binary_crossentropy"}
METRICS = ("accuracy", "auc")
METRIC_ALIASES = {"acc": "accuracy", "binary_accuracy": "accuracy", "categorical_accuracy": "accuracy", "roc_auc": "auc"}


# ----------------------------------------------------------------------------------- checks
def _check(expected: str, ok) -> dict:
    return {"expected": expected, "ok": ok}


def ge(n, what="an int"):
    return _check(f"{what} >= {n}", lambda v: v >= n)


def frac(lo_open=False, hi_open=True):
    lo, hi = ("(" if lo_open else "["), (")" if hi_open else "]")
    return _check(f"a float in {lo}0, 1{hi}",
                  lambda v: (v > 0 if lo_open else v >= 0) and (v < 1 if hi_open else v <= 1))


def one_of(*choices):
    return _check("one of " + ", ".join(repr(c) for c in choices), lambda v: v in choices)


def positive(what="a float"):
    return _check(f"{what} > 0", lambda v: v > 0)


def _f(default=dataclasses.MISSING, check=None, factory=None, doc=""):
    meta = {"doc": doc}
    if check:
        meta.update(check)
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


# ----------------------------------------------------------------------------------- sections
@dataclass
class DataConfig:
    dataset: str = _f("table", one_of("table", "jigsaw", "imdb"),
                      doc="'table' (any CSV/TSV/JSONL/parquet), 'jigsaw' (Kaggle toxic comments) or 'imdb'")
    path: Optional[str] = _f(None, doc="training file (imdb: CSV, aclImdb folder/tar.gz or imdb.npz; empty = $RNNLAB_IMDB or download)")
    format: str = _f("auto", one_of("auto", "csv", "tsv", "jsonl", "parquet"), doc="table format; auto = from the file name")
    text_column: Optional[str] = _f(None, doc="column holding the text (jigsaw: comment_text; imdb CSV: text)")
    label_columns: Optional[list[str]] = _f(None, doc="0/1 label columns (one: binary, several: multi-label) or one multi-class column")
    id_column: Optional[str] = _f(None, doc="column of unique ids; default 'id' when present, else row numbers")
    task: str = _f("auto", one_of("auto", "binary", "multilabel", "multiclass"), doc="how to read the labels")
    classes: Optional[list] = _f(None, doc="expected classes of a multi-class column (others are an error)")
    positive_class: Optional[str] = _f(None, doc="makes one column binary: 1 where the value equals this")
    empty_text: str = _f("keep", one_of("keep", "drop", "error"), doc="missing/blank texts: keep as '', drop the rows, or fail")
    validation_split: float = _f(0.2, frac(lo_open=True), doc="share of rows held out for validation (stratified, seeded)")
    split_seed: Optional[int] = _f(None, ge(0), doc="seed of the validation split (default: the top-level seed); fix it to compare models on one split")
    validation_path: Optional[str] = _f(None, doc="a separate validation file instead of a split")
    stratify: str = _f("auto", doc="'auto' (the label; multi-label: the rarest label column), 'none', or a label column")
    test_path: Optional[str] = _f(None, doc="unlabelled test texts (Kaggle test.csv); read only when text.fit_on includes test")
    imdb_skip_top: int = _f(0, ge(0), doc="imdb.npz only: Keras load_data skip_top")
    imdb_maxlen: Optional[int] = _f(None, ge(1), doc="imdb.npz only: Keras load_data maxlen (drops longer reviews)")
    fold: Optional[int] = _f(None, ge(1), doc="set by fit.folds on each member run: the fold (1..K) held out for validation")
    download: bool = _f(True, doc="imdb: download the official file when no path is given")
    cache_dir: Optional[str] = _f(None, doc="download cache (default $RNNLAB_CACHE_DIR or ~/.cache/rnnlab)")


@dataclass
class TextConfig:
    num_words: Optional[int] = _f(None, ge(1), doc="Keras num_words: keep word indices < num_words (None = all)")
    oov_token: Optional[str] = _f(None, doc="token for out-of-vocabulary words (index 1); None drops them, as Keras")
    filters: str = _f(KERAS_FILTERS, doc="characters turned into separators (Keras default)")
    lower: bool = _f(True, doc="lower-case texts")
    split: str = _f(" ", _check("a single character", lambda v: len(v) == 1), doc="word separator")
    maxlen: Optional[int] = _f(None, ge(1), doc="pad/truncate to this many tokens (None = longest in the batch)")
    padding: str = _f("pre", one_of("pre", "post"), doc="where padding goes (Keras default 'pre')")
    truncating: str = _f("pre", one_of("pre", "post"), doc="which end long texts lose (Keras default 'pre')")
    fit_on: str = _f("train", one_of("train", "train+validation", "train+validation+test"),
                     doc="texts the tokenizer is fitted on; including test leaks (the notebook did it)")


@dataclass
class EmbeddingConfig:
    dim: Optional[int] = _f(None, ge(1), doc="Keras Embedding output_dim (required with input = 'embedding')")
    input_dim: Optional[int] = _f(None, ge(1), doc="rows of the table; default = vocabulary size (num_words or fitted words + 1)")
    mask_zero: bool = _f(False, doc="Keras mask_zero: RNNs skip padding (index 0) steps")
    trainable: bool = _f(True, doc="train the embedding table")
    pretrained: Optional[str] = _f(None, doc="word vectors that initialise the table: fastText .vec or GloVe .txt (optionally .gz), streamed; exact word match, else lower-case; words without a vector keep Keras's uniform init; coverage is reported")


@dataclass
class LayerConfig:
    """One layer of ``model.layers``; which keys apply depends on ``type``."""

    type: str
    units: Optional[int] = None
    activation: Optional[str] = None
    return_sequences: bool = False
    bidirectional: bool = False
    merge_mode: str = "concat"
    dropout: float = 0.0
    rate: Optional[float] = None
    momentum: float = 0.99
    epsilon: float = 0.001
    modes: Optional[list[str]] = None

    def to_dict(self) -> dict:
        keys = LAYER_KEYS[self.type]
        return {"type": self.type, **{k: getattr(self, k) for k in keys if getattr(self, k) is not None}}


RNN_TYPES = ("SimpleRNN", "LSTM", "GRU")
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
LAYER_ALIASES = {**{k.lower(): k for k in LAYER_KEYS}, "globalmaxpool1d": "GlobalMaxPooling1D",
                 "globalaveragepool1d": "GlobalAveragePooling1D", "globalavgpool1d": "GlobalAveragePooling1D",
                 "batchnorm": "BatchNormalization", "rnn": "SimpleRNN"}


@dataclass
class BaselineConfig:
    """Options of the linear baselines (model.type = 'tfidf_lr' or 'nbsvm')."""

    c: float = _f(4.0, positive(), doc="inverse L2 regularisation of the logistic regressions (scikit-learn C)")
    word_ngrams: list[int] = _f(factory=lambda: [1, 2], doc="word n-gram range [min, max]; [] turns word features off")
    char_ngrams: list[int] = _f(factory=lambda: [2, 5], doc="character n-gram range [min, max]; [] turns them off")
    word_max_features: Optional[int] = _f(50000, ge(1), doc="keep the most frequent word n-grams (unset: all)")
    char_max_features: Optional[int] = _f(50000, ge(1), doc="keep the most frequent character n-grams (unset: all)")
    sublinear_tf: bool = _f(True, doc="1 + log(tf) instead of raw counts")
    max_iter: int = _f(1000, ge(1), doc="solver iterations per logistic regression")


@dataclass
class ModelConfig:
    type: str = _f("rnn", one_of("rnn", "tfidf_lr", "nbsvm", "blend"),
                   doc="'rnn' (the layers below), or a linear baseline: 'tfidf_lr' (TF-IDF + logistic regression) or 'nbsvm' (Wang & Manning); 'blend' marks a run made by `rnnlab blend` (not trainable)")
    input: str = _f("embedding", one_of("embedding", "onehot"), doc="'embedding' or 'onehot' (Keras to_categorical input)")
    embedding: EmbeddingConfig = _f(factory=EmbeddingConfig)
    layers: list[LayerConfig] = _f(factory=list, doc="the layers after the input, in order (see docs/config.md)")
    baseline: BaselineConfig = _f(factory=BaselineConfig)


@dataclass
class CompileConfig:
    optimizer: str = _f("rmsprop", one_of(*OPTIMIZERS), doc="Keras optimizer name (Keras defaults)")
    learning_rate: Optional[float] = _f(None, positive(), doc="default: the optimizer's Keras default")
    optimizer_options: dict = _f(factory=dict, doc="other optimizer arguments by Keras name (momentum, rho, beta_1, ...)")
    loss: Optional[str] = _f(None, doc="default: binary_crossentropy (binary/multi-label) or sparse_categorical_crossentropy (multi-class)")
    metrics: list[str] = _f(factory=lambda: ["accuracy", "auc"], doc="metrics shown during training (all are always saved)")
    clipnorm: Optional[float] = _f(None, positive(), doc="clip each gradient to this norm (Keras clipnorm)")
    global_clipnorm: Optional[float] = _f(None, positive(), doc="clip all gradients together to this norm")


@dataclass
class EarlyStoppingConfig:
    enabled: bool = _f(False, doc="stop when the monitored value stops improving")
    monitor: str = _f("val_loss", doc="val_loss, val_accuracy, val_auc, loss, accuracy")
    mode: str = _f("auto", one_of("auto", "min", "max"), doc="auto: max for accuracy/auc, else min")
    patience: int = _f(0, ge(0), doc="epochs without improvement before stopping (Keras default 0)")
    min_delta: float = _f(0.0, ge(0, "a float"), doc="smallest change that counts as an improvement")
    restore_best_weights: bool = _f(False, doc="end with the best epoch's weights (Keras default False)")


@dataclass
class CheckpointConfig:
    monitor: str = _f("val_loss", doc="value that picks the best epoch for checkpoints/best.safetensors")
    mode: str = _f("auto", one_of("auto", "min", "max"))
    save_best_only: bool = _f(True, doc="true: only checkpoints/best.safetensors; false: also checkpoints/epoch-N.safetensors after every epoch")


@dataclass
class FitConfig:
    epochs: int = _f(1, ge(1), doc="passes over the training data (Keras default 1)")
    batch_size: int = _f(32, ge(1), doc="examples per step (Keras default 32)")
    shuffle: bool = _f(True, doc="shuffle every epoch")
    bucketing: bool = _f(True, doc="batches of similar lengths padded to their longest (fast on CPU); false = fixed-length padded batches like Keras")
    bucket_chunk: int = _f(50, ge(1), doc="bucketing sorts lengths within chunks of this many batches")
    validation_batch_size: Optional[int] = _f(None, ge(1), doc="default: max(batch_size, 1024)")
    early_stopping: EarlyStoppingConfig = _f(factory=EarlyStoppingConfig)
    checkpoint: CheckpointConfig = _f(factory=CheckpointConfig)
    device: str = _f("auto", one_of("auto", "cpu", "cuda"), doc="auto: CUDA when available (cuDNN RNN kernels, pinned-memory batches)")
    precision: str = _f("float32", one_of("float32", "bf16", "fp16"), doc="training precision: 'bf16' or 'fp16' train under torch.autocast (fp16 with loss scaling, CUDA only); weights, optimizer state and evaluation stay float32")
    threads: Optional[int] = _f(None, ge(1), doc="CPU threads for torch (default: all cores)")
    folds: int = _f(1, ge(1), doc="k-fold cross-validation: K >= 2 trains K models, each validated on one fold of the data (data.validation_split is not used), reports mean ± std and saves out-of-fold predictions; the run predicts with the mean of the K models. 1 = one validation split")
    verbose: str = _f("auto", one_of("auto", "bar", "line", "quiet"), doc="progress: bar in a terminal, one line per epoch otherwise")


SWEEP_KEYS = ("mode", "n_trials", "seed", "baselines", "metric", "prune_after_epoch", "variants")


@dataclass
class SweepConfig:
    """``[sweep]``: dotted config keys mapped to lists of values, plus these settings."""

    mode: str = _f("grid", one_of("grid", "random"), doc="'grid': every combination; 'random': n_trials sampled combinations")
    n_trials: Optional[int] = _f(None, ge(1), doc="random mode: how many variants to sample")
    seed: int = _f(0, ge(0), doc="random mode: sampler seed")
    baselines: bool = _f(True, doc="add the TF-IDF + LR and NB-SVM baselines to the study")
    metric: str = _f("val_auc", one_of("val_auc", "val_loss", "val_accuracy"), doc="ranks variants and drives pruning")
    prune_after_epoch: Optional[int] = _f(None, ge(1), doc="stop variants below the median after this epoch (Optuna MedianPruner); unset: never")
    variants: list[dict] = _f(factory=list, doc="explicit variants: tables of dotted keys (and an optional name), crossed with the grid")
    params: dict = _f(factory=dict, doc="dotted key -> list of values (written directly in [sweep])")


@dataclass
class Config:
    name: Optional[str] = _f(None, doc="run name (default: the config file's name)")
    seed: int = _f(42, ge(0), doc="seed for the split, initial weights and shuffling")
    runs_dir: str = _f("runs", doc="folder that receives run folders")
    data: DataConfig = _f(factory=DataConfig)
    text: TextConfig = _f(factory=TextConfig)
    model: ModelConfig = _f(factory=ModelConfig)
    compile: CompileConfig = _f(factory=CompileConfig)
    fit: FitConfig = _f(factory=FitConfig)
    sweep: SweepConfig = _f(factory=SweepConfig)

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict:
        """Plain dict without None values (TOML has no null); sweep parameters are written back
        as dotted keys of [sweep], and an empty sweep is left out."""
        d = dataclasses.asdict(self)
        d["model"]["layers"] = [layer.to_dict() for layer in self.model.layers]
        sweep = d.pop("sweep")
        params = sweep.pop("params")
        if params or sweep["variants"]:
            d["sweep"] = {**sweep, **params}
        return _drop_none(d)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    def replace(self, overrides: dict[str, Any] | list[str]) -> "Config":
        """A new config with dotted-key overrides applied (values as Python objects or
        'key=value' strings)."""
        raw = self.to_dict()
        items = parse_overrides(overrides) if isinstance(overrides, list) else overrides
        for key, value in items.items():
            set_dotted(raw, key, value)
        return from_dict(raw)


def _drop_none(obj):
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------------- loading
def load_config(path: str | os.PathLike | None = None, overrides: list[str] | dict | None = None,
                base: dict | None = None) -> Config:
    """Read a TOML config, apply ``--set`` style overrides, validate, resolve paths.

    Paths written in the file are relative to the file's folder; paths given as overrides
    are relative to the current directory.
    """
    raw: dict = copy.deepcopy(base) if base else {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"Config file '{path}' does not exist.")
        try:
            file_raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"'{path}' is not valid TOML: {exc}.") from None
        except UnicodeDecodeError:
            raise ConfigError(f"'{path}' is not UTF-8 text.") from None
        _resolve_paths(file_raw, path.resolve().parent)
        _deep_merge(raw, file_raw)
        raw.setdefault("name", path.stem)
    if overrides:
        items = parse_overrides(overrides) if isinstance(overrides, list) else dict(overrides)
        for key, value in items.items():
            set_dotted(raw, key, value)
        _resolve_paths(raw, Path.cwd())
    return from_dict(raw)


PATH_KEYS = ("path", "validation_path", "test_path", "cache_dir")


def _resolve_paths(raw: dict, folder: Path) -> None:
    data = raw.get("data")
    if isinstance(data, dict):
        for k in PATH_KEYS:
            v = data.get(k)
            if isinstance(v, str) and v and not os.path.isabs(os.path.expanduser(v)):
                data[k] = str((folder / v).resolve())
            elif isinstance(v, str) and v:
                data[k] = os.path.expanduser(v)
    emb = (raw.get("model") or {}).get("embedding") if isinstance(raw.get("model"), dict) else None
    v = emb.get("pretrained") if isinstance(emb, dict) else None
    if isinstance(v, str) and v:
        v = os.path.expanduser(v)
        emb["pretrained"] = v if os.path.isabs(v) else str((folder / v).resolve())


def _deep_merge(dst: dict, src: dict) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _deep_merge(dst[k], v)
        else:
            dst[k] = v


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """'a.b=value' strings → {'a.b': value}; the value is read as a TOML value when it is one
    (3, 0.5, true, "x", [1, 2]), else kept as a string."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r} (e.g. --set fit.epochs=3).")
        key, _, text = item.partition("=")
        key = key.strip()
        if not key:
            raise ConfigError(f"--set {item!r} has an empty key.")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        out[key] = value
    return out


def set_dotted(raw: dict, key: str, value: Any) -> None:
    """Set ``raw['a']['b'][0]['c'] = value`` for key 'a.b.0.c' (creating tables as needed)."""
    parts = key.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            idx = _index(part, node, key)
            node = node[idx]
            continue
        if part not in node or node[part] is None:
            node[part] = [] if nxt.isdigit() else {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[_index(last, node, key)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"Cannot set '{key}': '{'.'.join(parts[:-1])}' is not a table.")


def _index(part: str, node: list, key: str) -> int:
    if not part.lstrip("-").isdigit():
        raise ConfigError(f"Cannot set '{key}': '{part}' must be a list index (0..{len(node) - 1}).")
    idx = int(part)
    if not -len(node) <= idx < len(node):
        raise ConfigError(f"Cannot set '{key}': index {idx} is out of range; the list has {len(node)} items.")
    return idx


def from_dict(raw: dict) -> Config:
    """Build and validate a :class:`Config` from a plain dict."""
    raw = _split_sweep(raw)
    cfg = _build(Config, raw, "")
    validate(cfg)
    return cfg


def _split_sweep(raw: dict) -> dict:
    """Move the dotted keys of [sweep] into sweep.params (lists of values, checked here)."""
    sweep = raw.get("sweep")
    if not isinstance(sweep, dict):
        return raw
    sweep = dict(sweep)
    params = dict(sweep.pop("params", {}) or {})
    for key in [k for k in sweep if "." in k]:
        params[key] = sweep.pop(key)
    for key, values in params.items():
        if not isinstance(values, list) or not values:
            raise param_error(f"sweep.{key}", "a non-empty list of values", values,
                              f'e.g. "{key}" = [...]; a single value belongs in the config itself.')
        if key.split(".")[0] in ("sweep", "name", "runs_dir"):
            raise ConfigError(f"sweep.\"{key}\": '{key.split('.')[0]}' cannot be swept.")
    for i, v in enumerate(sweep.get("variants", []) or []):
        if not isinstance(v, dict) or not v:
            raise param_error(f"sweep.variants.{i}", "a table of dotted keys", v)
    sweep["params"] = params
    return {**raw, "sweep": sweep}


def _unknown(key: str, known: list[str], prefix: str) -> ConfigError:
    full = f"{prefix}.{key}" if prefix else key
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    where = f"{prefix}." if prefix else ""
    hint = f" Did you mean '{where}{close[0]}'?" if close else f" Known keys: {', '.join(known)}."
    return ConfigError(f"Unknown config key '{full}'.{hint}")


def _build(cls, raw: Any, prefix: str):
    if not isinstance(raw, dict):
        raise ConfigError(f"'{prefix or 'config'}' must be a table (got {raw!r}).")
    hints = typing.get_type_hints(cls)
    flds = {f.name: f for f in dataclasses.fields(cls)}
    for k in raw:
        if k not in flds:
            raise _unknown(k, list(flds), prefix)
    kwargs = {}
    for name, f in flds.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in raw:
            continue
        value = _coerce(raw[name], hints[name], key)
        check = f.metadata.get("ok")
        if value is not None and check is not None and not check(value):
            raise param_error(key, f.metadata["expected"], raw[name])
        kwargs[name] = value
    return cls(**kwargs)


def _type_name(tp) -> str:
    return {int: "an int", float: "a float", bool: "true or false", str: "a string", dict: "a table"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, key: str):
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if origin is list:
        if not isinstance(value, list):
            if isinstance(value, str) and typing.get_args(tp) and typing.get_args(tp)[0] is str:
                return [value]
            raise param_error(key, "a list", value)
        (item_tp,) = typing.get_args(tp) or (Any,)
        if item_tp is LayerConfig:
            return [_layer(v, f"{key}.{i}") for i, v in enumerate(value)]
        return [_coerce(v, item_tp, f"{key}.{i}") for i, v in enumerate(value)]
    if tp is Any or tp is list:
        return value
    if tp is dict:
        if not isinstance(value, dict):
            raise param_error(key, "a table", value)
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise param_error(key, "true or false", value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise param_error(key, "an int", value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise param_error(key, "a number", value)
        if not math.isfinite(value):
            raise param_error(key, "a finite number", value)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise param_error(key, "a string", value)
        return value
    return value


def _layer(raw: Any, prefix: str) -> LayerConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"'{prefix}' must be a table like {{type = \"LSTM\", units = 32}} (got {raw!r}).")
    if "type" not in raw:
        raise ConfigError(f"'{prefix}' has no 'type'; use one of: {', '.join(LAYER_KEYS)}.")
    name = raw["type"]
    canonical = LAYER_ALIASES.get(str(name).lower()) if isinstance(name, str) else None
    if canonical is None:
        close = difflib.get_close_matches(str(name), list(LAYER_KEYS), n=1, cutoff=0.5)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"The '{prefix}.type' parameter must be one of {', '.join(LAYER_KEYS)}. "
                          f"Got {name!r} instead.{hint}")
    allowed = LAYER_KEYS[canonical]
    for k in raw:
        if k != "type" and k not in allowed:
            if k == "recurrent_dropout":
                raise ConfigError(f"'{prefix}.recurrent_dropout' is not supported (it rules out the fast "
                                  f"fused RNN kernels); use 'dropout' or a SpatialDropout1D layer.")
            raise ConfigError(f"'{prefix}' ({canonical}) has no key '{k}'. Keys for {canonical}: "
                              f"{', '.join(allowed) or '(none)'}.")
    hints = typing.get_type_hints(LayerConfig)
    kwargs = {"type": canonical}
    for k in allowed:
        if k in raw:
            kwargs[k] = _coerce(raw[k], hints[k], f"{prefix}.{k}")
    layer = LayerConfig(**kwargs)
    _validate_layer(layer, prefix)
    return layer


def _validate_layer(layer: LayerConfig, prefix: str) -> None:
    t = layer.type
    if t in RNN_TYPES:
        if layer.units is None or layer.units < 1:
            raise param_error(f"{prefix}.units", "an int >= 1", layer.units, f"{t} needs units, e.g. units = 32.")
        act = layer.activation or "tanh"
        if act not in (("tanh", "relu") if t == "SimpleRNN" else ("tanh",)):
            raise param_error(f"{prefix}.activation", "'tanh'" + (" or 'relu'" if t == "SimpleRNN" else ""), act,
                              "Fused RNN kernels support only these.")
        if layer.merge_mode not in ("concat", "sum", "ave", "mul"):
            raise param_error(f"{prefix}.merge_mode", "one of 'concat', 'sum', 'ave', 'mul'", layer.merge_mode)
        if not 0 <= layer.dropout < 1:
            raise param_error(f"{prefix}.dropout", "a float in [0, 1)", layer.dropout)
    elif t == "Dense":
        if layer.units is not None and layer.units < 1:
            raise param_error(f"{prefix}.units", "an int >= 1", layer.units)
        if layer.activation is not None and layer.activation not in ACTIVATIONS:
            close = difflib.get_close_matches(layer.activation, ACTIVATIONS, n=1)
            raise param_error(f"{prefix}.activation", "one of " + ", ".join(ACTIVATIONS), layer.activation,
                              f"Did you mean '{close[0]}'?" if close else None)
    elif t in ("Dropout", "SpatialDropout1D"):
        if layer.rate is None or not 0 <= layer.rate < 1:
            raise param_error(f"{prefix}.rate", "a float in [0, 1)", layer.rate)
    elif t == "BatchNormalization":
        if not 0 <= layer.momentum < 1:
            raise param_error(f"{prefix}.momentum", "a float in [0, 1)", layer.momentum)
        if layer.epsilon <= 0:
            raise param_error(f"{prefix}.epsilon", "a float > 0", layer.epsilon)
    elif t == "GlobalPooling1D":
        modes = layer.modes or []
        if not modes or any(m not in ("max", "average") for m in modes):
            raise param_error(f"{prefix}.modes", "a non-empty list of 'max' / 'average'", layer.modes)


def validate(cfg: Config) -> None:
    """Cross-field checks that need more than one value."""
    c = cfg.compile
    c.loss = LOSS_ALIASES.get(c.loss, c.loss) if c.loss else None
    if c.loss is not None and c.loss not in LOSSES:
        raise param_error("compile.loss", "one of " + ", ".join(LOSSES), c.loss)
    metrics = []
    for m in c.metrics:
        m2 = METRIC_ALIASES.get(m, m)
        if m2 not in METRICS:
            raise param_error("compile.metrics", "a list of " + " / ".join(METRICS), c.metrics)
        if m2 not in metrics:
            metrics.append(m2)
    c.metrics = metrics
    m = cfg.model
    f = cfg.fit
    if f.folds > 1 and cfg.data.validation_path:
        raise ConfigError(f"fit.folds = {f.folds} splits one file into folds, but data.validation_path is set; "
                          f"unset one of them.")
    if cfg.data.fold is not None and cfg.data.fold > f.folds:
        raise ConfigError(f"data.fold = {cfg.data.fold} is outside 1..fit.folds ({f.folds}); data.fold is set by "
                          f"fit.folds on its member runs — leave it unset.")
    if m.type != "rnn":
        _validate_baseline(m.baseline)
        return _validate_monitors(cfg)
    if m.embedding.pretrained and m.input != "embedding":
        raise ConfigError("model.embedding.pretrained needs model.input = 'embedding' (one-hot inputs have no "
                          "table to initialise).")
    if m.input == "embedding" and m.embedding.dim is None and m.embedding.pretrained:
        from .models.pretrained import vectors_dim  # the file's vector size (its first line)

        m.embedding.dim = vectors_dim(m.embedding.pretrained)
    if m.input == "embedding" and m.embedding.dim is None:
        raise param_error("model.embedding.dim", "an int >= 1", None,
                          "Set the embedding size, e.g. [model.embedding] dim = 128.")
    if m.input == "onehot" and m.embedding.mask_zero:
        raise ConfigError("model.embedding.mask_zero needs model.input = 'embedding'.")
    if not m.layers:
        raise ConfigError("model.layers is empty; add at least the output layer, e.g. "
                          "[[model.layers]] type = \"Dense\".")
    if m.layers[-1].type not in ("Dense", "BatchNormalization") or not any(l.type == "Dense" for l in m.layers):
        raise ConfigError(f"The last layer of model.layers is {m.layers[-1].type}; the model must end with a "
                          f"Dense output layer (optionally followed by BatchNormalization).")
    for i, layer in enumerate(m.layers):
        if layer.type == "Dense" and layer.units is None and i != _output_index(m.layers):
            raise param_error(f"model.layers.{i}.units", "an int >= 1", None,
                              "Only the output Dense layer may leave units unset (= number of labels).")
    if any(l.type == "Flatten" for l in m.layers) and (cfg.fit.bucketing or cfg.text.maxlen is None):
        raise ConfigError("A Flatten layer needs fixed-length input: set text.maxlen and fit.bucketing = false "
                          "(or use GlobalMaxPooling1D / GlobalAveragePooling1D, which accept any length).")
    if cfg.data.dataset == "table" and not cfg.data.label_columns:
        if cfg.data.path is not None:
            raise ConfigError("data.label_columns is not set; name the label column(s), e.g. "
                              "label_columns = [\"label\"].")
    _validate_monitors(cfg)


def _validate_monitors(cfg: Config) -> None:
    for es_key, monitor in (("fit.early_stopping.monitor", cfg.fit.early_stopping.monitor),
                            ("fit.checkpoint.monitor", cfg.fit.checkpoint.monitor)):
        if monitor not in MONITORS:
            raise param_error(es_key, "one of " + ", ".join(MONITORS), monitor)
    if cfg.sweep.mode == "random" and cfg.sweep.n_trials is None:
        raise param_error("sweep.n_trials", "an int >= 1 in random mode", None)


def _validate_baseline(b: BaselineConfig) -> None:
    for key, rng in (("word_ngrams", b.word_ngrams), ("char_ngrams", b.char_ngrams)):
        if rng and (len(rng) != 2 or rng[0] < 1 or rng[1] < rng[0]):
            raise param_error(f"model.baseline.{key}", "[] or [min, max] with 1 <= min <= max", rng)
    if not b.word_ngrams and not b.char_ngrams:
        raise ConfigError("model.baseline: word_ngrams and char_ngrams are both empty; the baseline needs features.")


MONITORS = ("val_loss", "val_accuracy", "val_auc", "loss", "accuracy")


def _output_index(layers: list[LayerConfig]) -> int:
    return max(i for i, l in enumerate(layers) if l.type == "Dense")


def output_layer(cfg: Config) -> LayerConfig:
    """The Dense layer that produces the predictions."""
    return cfg.model.layers[_output_index(cfg.model.layers)]


def coerce_config(config: "Config | str | os.PathLike | dict", overrides=None) -> Config:
    """Accept a Config, a TOML path or a dict (the library API takes any of them)."""
    if isinstance(config, Config):
        return config.replace(overrides) if overrides else config
    if isinstance(config, dict):
        return load_config(None, overrides, base=config)
    return load_config(config, overrides)


def _type_label(tp) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (Union, types.UnionType):
        return _type_label(args[0])
    if typing.get_origin(tp) is list:
        inner = typing.get_args(tp)
        return f"list of {_type_label(inner[0])}" if inner else "list"
    return {int: "int", float: "float", bool: "bool", str: "string", dict: "table", list: "list"}.get(tp, str(tp))


def describe_keys() -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every key: the source of docs/config.md."""
    rows = []

    def walk(cls, prefix):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            key = f"{prefix}.{f.name}" if prefix else f.name
            tp = hints[f.name]
            if dataclasses.is_dataclass(tp):
                walk(tp, key)
                continue
            if f.default is not dataclasses.MISSING:
                default = f.default
            else:
                default = f.default_factory()  # type: ignore[misc]
            doc = f.metadata.get("doc", "")
            if "expected" in f.metadata:
                doc += f" ({f.metadata['expected']})"
            rows.append((key, _type_label(tp), "unset" if default is None else repr(default), doc))
    walk(Config, "")
    return rows


def preset_path(name: str) -> Path:
    """The bundled config ``rnnlab/presets/<name>.toml`` (see ``rnnlab presets``)."""
    from importlib import resources

    folder = resources.files("rnnlab") / "presets"
    names = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))
    name = name.replace("-", "_")  # `--preset imdb-strong` names imdb_strong.toml
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"Unknown preset {name!r}; presets: {', '.join(names)}.{hint}")
    return Path(str(folder / f"{name}.toml"))
