"""Cross-field checks of a built config: rules that need more than one value.

Pure functions: they read the config and raise a :class:`~rnnlab.errors.ConfigError`; they
never change it and never read files (the vectors file's dim is filled in before, by
:func:`rnnlab.config.build.fill_embedding_dim`).
"""

from __future__ import annotations

from ..errors import ConfigError, param_error
from .choices import LOSSES, METRICS, MONITORS
from .space import parse_space

# The functions take the dataclasses of rnnlab.config.schema without importing that module: the
# schema calls the build, which calls these checks (an import back, even for annotations, would
# be a cycle).


def validate(cfg) -> None:
    """Check the rules that involve several values of a built config.

    Loss and metric names must already be canonical (the build maps aliases such as 'bce'
    and 'acc'), and ``model.embedding.dim`` already read from a pretrained file if unset.

    Args:
        cfg: the :class:`~rnnlab.config.Config` to check; it is not changed.

    Raises:
        ConfigError: the first rule broken (naming the keys involved).
    """
    validate_settings(cfg)
    m = cfg.model
    if is_own_vectors(m.embedding.pretrained):
        validate_own_vectors(m.embedding.pretrained)
    if m.type != "rnn":
        validate_baseline(m.baseline)
        return _validate_monitors(cfg)
    if m.embedding.pretrained and m.input != "embedding":
        raise ConfigError("model.embedding.pretrained needs model.input = 'embedding' (one-hot inputs have no "
                          "table to initialise).")
    if m.input == "embedding" and m.embedding.dim is None:
        raise param_error("model.embedding.dim", "an int >= 1", None,
                          "Set the embedding size, e.g. [model.embedding] dim = 128.")
    if m.input == "onehot" and m.embedding.mask_zero:
        raise ConfigError("model.embedding.mask_zero needs model.input = 'embedding'.")
    if not m.layers:
        raise ConfigError("model.layers is empty; add at least the output layer, e.g. "
                          "[[model.layers]] type = \"Dense\".")
    if m.layers[-1].type not in ("Dense", "BatchNormalization") or not any(lay.type == "Dense" for lay in m.layers):
        raise ConfigError(f"The last layer of model.layers is {m.layers[-1].type}; the model must end with a "
                          f"Dense output layer (optionally followed by BatchNormalization).")
    for i, layer in enumerate(m.layers):
        if layer.type == "Dense" and layer.units is None and i != output_index(m.layers):
            raise param_error(f"model.layers.{i}.units", "an int >= 1", None,
                              "Only the output Dense layer may leave units unset (= number of labels).")
    if any(lay.type == "Flatten" for lay in m.layers) and (cfg.fit.bucketing or cfg.text.maxlen is None):
        raise ConfigError("A Flatten layer needs fixed-length input: set text.maxlen and fit.bucketing = false "
                          "(or use GlobalMaxPooling1D / GlobalAveragePooling1D, which accept any length).")
    if cfg.data.dataset == "table" and not cfg.data.label_columns and cfg.data.path is not None:
        raise ConfigError("data.label_columns is not set; name the label column(s), e.g. "
                          "label_columns = [\"label\"].")
    if cfg.fit.class_weight is not None and cfg.compile.loss == "mse":
        raise ConfigError("fit.class_weight weights the rows of a classification loss, but compile.loss = 'mse' "
                          "regresses the labels as numbers; use a cross-entropy loss (leave compile.loss unset) or "
                          "unset fit.class_weight.")
    _validate_monitors(cfg)


def validate_settings(cfg) -> None:
    """The checks that do not involve the model: loss and metric names, ``fit.folds``
    against ``data.validation_path`` and ``data.fold``, and the learning-rate schedule.

    :func:`validate` runs them first; the build also runs them before it reads a pretrained
    vectors file, so that their errors keep coming first.

    Raises:
        ConfigError: an unknown loss or metric, or folds that contradict the data settings.
    """
    c = cfg.compile
    if c.loss is not None and c.loss not in LOSSES:
        raise param_error("compile.loss", "one of " + ", ".join(LOSSES), c.loss)
    if any(m not in METRICS for m in c.metrics):
        raise param_error("compile.metrics", "a list of " + " / ".join(METRICS), c.metrics)
    f = cfg.fit
    if f.folds > 1 and cfg.data.validation_path:
        raise ConfigError(f"fit.folds = {f.folds} splits one file into folds, but data.validation_path is set; "
                          f"unset one of them.")
    if cfg.data.fold is not None and cfg.data.fold > f.folds:
        raise ConfigError(f"data.fold = {cfg.data.fold} is outside 1..fit.folds ({f.folds}); data.fold is set by "
                          f"fit.folds on its member runs — leave it unset.")
    validate_learning_rate(cfg)


def validate_learning_rate(cfg) -> None:
    """A schedule and ``fit.reduce_lr_on_plateau`` are exclusive (Keras cannot set the rate of an
    optimizer that follows a schedule), and a warm-up needs the rate it warms up to.

    Raises:
        ConfigError: both are set, or CosineDecay's ``warmup_steps`` without ``warmup_target``.
    """
    schedule = cfg.compile.learning_rate_schedule
    if schedule is None:
        return
    if cfg.fit.reduce_lr_on_plateau.enabled:
        raise ConfigError(f"compile.learning_rate_schedule ({schedule.type}) and fit.reduce_lr_on_plateau both set "
                          f"the learning rate (Keras cannot change a schedule's rate); use one of them.")
    if schedule.type == "CosineDecay" and schedule.warmup_steps and schedule.warmup_target is None:
        raise ConfigError(f"compile.learning_rate_schedule.warmup_steps = {schedule.warmup_steps} needs "
                          f"warmup_target, the rate the warm-up reaches (Keras ignores warmup_steps without it).")


def is_own_vectors(pretrained) -> bool:
    """Whether ``model.embedding.pretrained`` is the table that trains vectors (not a name or path)."""
    return pretrained is not None and not isinstance(pretrained, str)


FASTTEXT_ONLY = ("min_n", "max_n", "bucket")


def validate_own_vectors(own, prefix: str = "model.embedding.pretrained") -> None:
    """Check the keys of the table that trains word vectors against each other.

    Args:
        own: the table (a :class:`~rnnlab.config.OwnVectorsConfig`).
        prefix: its dotted key, for the messages.

    Raises:
        ConfigError: a fastText-only key with ``train = 'word2vec'``, ``min_n > max_n``, or an
            empty corpus path.
    """
    if own.train != "fasttext":
        for key in FASTTEXT_ONLY:
            if getattr(own, key) is not None:
                raise ConfigError(f"{prefix}.{key} is a fastText setting (character n-grams), but {prefix}.train = "
                                  f"'{own.train}'; set train = 'fasttext' or remove {key}.")
    if own.min_n is not None and own.max_n is not None and own.min_n > own.max_n:
        raise param_error(f"{prefix}.max_n", f"an int >= min_n ({own.min_n})", own.max_n)
    for i, path in enumerate(own.corpus):
        if not path.strip():
            raise param_error(f"{prefix}.corpus.{i}", "a file or folder path", path)


def _validate_monitors(cfg) -> None:
    for es_key, monitor in (("fit.early_stopping.monitor", cfg.fit.early_stopping.monitor),
                            ("fit.reduce_lr_on_plateau.monitor", cfg.fit.reduce_lr_on_plateau.monitor),
                            ("fit.checkpoint.monitor", cfg.fit.checkpoint.monitor)):
        if monitor not in MONITORS:
            raise param_error(es_key, "one of " + ", ".join(MONITORS), monitor)
    _validate_search(cfg.sweep)


def _validate_search(sweep) -> None:
    """The rules between the settings of ``[sweep]`` and its search space."""
    if sweep.mode == "tpe" and not (sweep.space or sweep.params):
        raise ConfigError("sweep.mode = 'tpe' has nothing to search: add [sweep.space] (or dotted lists in [sweep]).")
    if sweep.mode in ("random", "tpe") and sweep.n_trials is None:
        raise param_error("sweep.n_trials", f"an int >= 1 in {sweep.mode} mode", None)
    searching = bool(sweep.space) or sweep.mode == "tpe"
    if sweep.timeout is not None and not searching:
        raise ConfigError("sweep.timeout limits a search: add [sweep.space] or set sweep.mode = 'tpe', or remove it.")
    if sweep.pruner == "none" and sweep.prune_after_epoch is not None:
        raise ConfigError("sweep.prune_after_epoch is set but sweep.pruner = 'none'; remove one of them.")
    if sweep.mode == "grid" and sweep.space:
        for key, dist in parse_space(sweep.space).items():
            if not dist.discrete:
                raise ConfigError(f'sweep.space."{key}": grid mode needs listed values, but this is a continuous '
                                  f"range; add step, use choices, or set sweep.mode = 'tpe' or 'random'.")


def validate_baseline(b) -> None:
    """Check the options of a linear baseline (``model.baseline``).

    Args:
        b: the baseline options (a :class:`~rnnlab.config.BaselineConfig`).

    Raises:
        ConfigError: an n-gram range that is not ``[]`` or ``[min, max]`` with
            ``1 <= min <= max``, or no features at all.
    """
    for key, rng in (("word_ngrams", b.word_ngrams), ("char_ngrams", b.char_ngrams)):
        if rng and (len(rng) != 2 or rng[0] < 1 or rng[1] < rng[0]):
            raise param_error(f"model.baseline.{key}", "[] or [min, max] with 1 <= min <= max", rng)
    if not b.word_ngrams and not b.char_ngrams:
        raise ConfigError("model.baseline: word_ngrams and char_ngrams are both empty; the baseline needs features.")


def output_index(layers: list) -> int:
    """The position of the output layer in ``model.layers``: the last Dense layer."""
    return max(i for i, lay in enumerate(layers) if lay.type == "Dense")


def output_layer(cfg):
    """The Dense layer that produces the predictions (the :class:`~rnnlab.config.LayerConfig` of
    ``cfg.model.layers`` at :func:`output_index`)."""
    return cfg.model.layers[output_index(cfg.model.layers)]
