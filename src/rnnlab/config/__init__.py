"""The typed configuration: one object that flows from data to training to the run folder.

A config is a TOML file (``tomllib``) with the tables ``[data]``, ``[text]``, ``[model]``
(with ``[model.embedding]`` and ``[[model.layers]]``), ``[compile]`` and ``[fit]``, plus
``name`` and ``seed`` at the top. ``--set key.path=value`` overrides any key, list items
included (``--set model.layers.0.units=64``). Every value is checked up front; an error names
the key, the value received and what is expected ("The 'text.maxlen' parameter must be an int
>= 1. Got 0 instead."). Unknown keys are errors with a did-you-mean hint. The resolved config
(defaults filled in, paths absolute) is saved as ``config.toml`` in every run folder.

The package, bottom up: ``choices`` (the names a config may use), ``constraints`` (checks and
the typed builder), ``vectors`` (named vector sources and the dim of a word-vector file), ``validate`` (rules between
values), ``build`` (raw dict -> valid config, step by step; ``--set`` overrides), ``schema``
(the sections as dataclasses), ``load`` (files, dicts, presets) and ``keys`` (the key reference).
It imports nothing from rnnlab but :mod:`rnnlab.errors`.

See docs/config.md for every key, its type and default.
"""

from .build import parse_overrides, set_dotted, tomllib
from .choices import (
    ACTIVATIONS,
    DATASETS,
    KERAS_FILTERS,
    LAYER_ALIASES,
    LAYER_KEYS,
    LOSS_ALIASES,
    LOSSES,
    LR_SCHEDULES,
    METRIC_ALIASES,
    MAX_PARAMS,
    MAX_SEED,
    MAX_UNITS,
    METRICS,
    MEMORY_PREFIX,
    MONITORS,
    OPTIMIZERS,
    PATH_KEYS,
    RNN_TYPES,
)
from .keys import describe_keys
from .load import coerce_config, from_dict, load_config, load_vectors_config, preset_names, preset_path
from .schema import (
    BaselineConfig,
    CheckpointConfig,
    CompileConfig,
    Config,
    DataConfig,
    EarlyStoppingConfig,
    EmbeddingConfig,
    FitConfig,
    LayerConfig,
    LearningRateScheduleConfig,
    ModelConfig,
    ReduceLROnPlateauConfig,
    OwnVectorsConfig,
    SweepConfig,
    TextConfig,
    TrackConfig,
)
from .validate import is_own_vectors, output_layer, validate, validate_baseline

__all__ = [
    "ACTIVATIONS", "DATASETS", "KERAS_FILTERS", "LAYER_ALIASES", "LAYER_KEYS", "LOSSES", "LOSS_ALIASES", "LR_SCHEDULES",
    "MAX_PARAMS", "MAX_SEED", "MAX_UNITS", "MEMORY_PREFIX",
    "METRICS", "METRIC_ALIASES", "MONITORS", "OPTIMIZERS", "PATH_KEYS", "RNN_TYPES",
    "BaselineConfig", "CheckpointConfig", "CompileConfig", "Config", "DataConfig", "EarlyStoppingConfig",
    "EmbeddingConfig", "FitConfig", "LayerConfig", "LearningRateScheduleConfig", "ModelConfig", "OwnVectorsConfig",
    "ReduceLROnPlateauConfig", "SweepConfig", "TextConfig", "TrackConfig",
    "coerce_config", "describe_keys", "from_dict", "is_own_vectors", "load_config", "load_vectors_config",
    "output_layer", "parse_overrides", "preset_names", "preset_path", "set_dotted", "tomllib", "validate",
    "validate_baseline",
]
