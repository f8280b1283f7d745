"""The config doctor: find the configs that train without learning anything, before they train.

The Jigsaw notebook's "9 compile experiments" all ran and all printed numbers, and every one
was broken: softmax over one unit (constant 1.0), ``sparse_categorical_crossentropy`` on one
unit (``loss: nan``), ``categorical_crossentropy`` on one unit (loss always 0), an accuracy of
0.9042 that is just the share of non-toxic rows, one label trained out of six. The doctor
reads a config and a :class:`DataProfile` of its data and returns findings (:class:`Finding`),
each with a severity, what will happen (with the numbers) and the fix.

- ``profile_from(cfg, splits, tokenized)``: labels, class balance, lengths and vocabulary of
  data loaded and tokenized by :mod:`rnnlab.train.prepare` (as training does);
- ``examine(cfg, profile)``: the findings (pure, no I/O); errors make training meaningless,
  warnings waste it or mislead, infos are worth knowing;
- ``consult(...)``: what training calls: findings shown, errors refused unless forced
  (``raise_on_errors``).

``rnnlab check`` runs the same rules on a config or every variant of its ``[sweep]``
(:mod:`rnnlab.experiments.doctor`). Linear baselines (``model.type != "rnn"``) only get the
data rules.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..data import Splits, source_for
from ..data.dataset import LabelSchema
from ..errors import DoctorBlocked
from .optimizers import DEFAULTS as OPTIMIZER_DEFAULTS
from .prepare import Tokenized, resolve, vocab_size_of
from .progress import Reporter

__all__ = ["DataProfile", "Finding", "consult", "describe_profile", "examine", "format_findings", "has_errors",
           "profile_from", "raise_on_errors"]

SEVERITIES = ("error", "warning", "info")
CROSS_ENTROPIES = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy")
IMBALANCED = 0.80  # majority share from which accuracy alone says little
RARE = 0.02  # share of training rows below which a class / label is rare enough for class weights
MAX_TRUNCATED = 0.20  # share of texts maxlen may cut before it is worth a warning
MAXLEN_OVER_P95 = 4.0  # maxlen this many times the 95th percentile of lengths is mostly padding
MEMORY_WARN_MB = 500.0  # embedding training state / one-hot batch size worth a warning
SUGGESTED_NUM_WORDS = 20000
# typical learning rates per optimizer; a rate more than 10x outside is "far" (a warning)
TYPICAL_LR = {"sgd": (1e-3, 1e-1), "adagrad": (1e-3, 1e-1), "adadelta": (1e-2, 1.0),
              **{name: (1e-4, 1e-2) for name in ("rmsprop", "adam", "adamw", "nadam", "adamax")}}
FAR = 10.0
# value ranges of output activations that are not probabilities
RANGES = {"linear": "(-inf, inf)", "relu": "[0, inf)", "tanh": "(-1, 1)", "elu": "(-1, inf)",
          "selu": "(-1.76, inf)", "gelu": "(-0.17, inf)", "swish": "(-0.28, inf)", "softplus": "(0, inf)"}


@dataclass(frozen=True)
class Finding:
    rule: str  # stable id, kebab-case, e.g. "softmax-one-unit"
    severity: str  # "error" | "warning" | "info"
    key: str  # the config key concerned, e.g. "model.layers.1.activation" ("" if none)
    message: str  # what is wrong and what will happen, with the numbers
    fix: str  # how to fix it, concretely


@dataclass(frozen=True)
class DataProfile:
    """What the rules need to know about the data (train split unless said otherwise)."""

    task: str
    labels: list[str]
    n_train: int
    n_validation: int
    positive_rates: dict[str, float] | None  # binary / multi-label: share of 1s per label
    class_shares: dict[str, float] | None  # multi-class: share of each class
    majority_share: float  # mean over labels of max(p, 1 - p); multi-class: the top class's share
    vocabulary: int  # distinct words the tokenizer saw (before num_words)
    vocab_size: int  # model input size (what the embedding gets)
    length_p50: float
    length_p95: float
    length_max: int
    truncated_share: float | None  # share of train texts longer than text.maxlen (None: no maxlen)
    dataset: str  # cfg.data.dataset

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DataProfile:
        return cls(**d)


# ------------------------------------------------------------------------------- profiling
def profile_from(cfg: Config, splits: Splits, tokenized: Tokenized) -> DataProfile:
    """The profile of data already loaded (``load_splits``) and tokenized
    (:func:`~rnnlab.train.prepare.tokenize_splits`) — training has both in hand. The split is
    never empty (``load_splits`` refuses that)."""
    tok, train_seqs, val_seqs = tokenized
    schema = splits.train.schema
    targets = np.asarray(splits.train.targets)
    lengths = train_seqs.lengths
    positive_rates = class_shares = None
    if schema.task == "multiclass":
        shares = np.bincount(targets.astype(np.int64), minlength=schema.n_outputs) / len(targets)
        class_shares = {name: float(s) for name, s in zip(schema.labels, shares)}
        majority = float(shares.max())
    else:
        rates = targets.reshape(len(targets), -1).mean(0)
        positive_rates = {name: float(r) for name, r in zip(schema.labels, rates)}
        majority = float(np.maximum(rates, 1 - rates).mean())
    p50, p95 = np.percentile(lengths, [50, 95])
    maxlen = cfg.text.maxlen
    return DataProfile(
        task=schema.task, labels=list(schema.labels), n_train=len(splits.train), n_validation=len(splits.validation),
        positive_rates=positive_rates, class_shares=class_shares, majority_share=majority,
        vocabulary=len(tok.word_index), vocab_size=vocab_size_of(tok, train_seqs, val_seqs),
        length_p50=float(p50), length_p95=float(p95), length_max=int(lengths.max()),
        truncated_share=None if maxlen is None else float((lengths > maxlen).mean()), dataset=cfg.data.dataset)


# ------------------------------------------------------------------------------- examining
@dataclass(frozen=True)
class _Case:
    """What every rule looks at: the config (defaults resolved), the data and the output layer."""

    cfg: Config
    profile: DataProfile
    schema: LabelSchema
    out_index: int = -1

    @property
    def out(self):
        return self.cfg.model.layers[self.out_index]

    @property
    def out_key(self) -> str:
        return f"model.layers.{self.out_index}"


def examine(cfg: Config, profile: DataProfile) -> list[Finding]:
    """Every finding for ``cfg`` on data described by ``profile``, errors first. Pure: the
    output layer's units/activation and the loss are resolved from the profile's labels as
    training would."""
    schema = LabelSchema(profile.task, profile.labels)
    case = _Case(cfg, profile, schema)
    rules = DATA_RULES
    if cfg.model.type == "rnn":
        resolved = resolve(cfg, schema)
        out_index = max(i for i, layer in enumerate(resolved.model.layers) if layer.type == "Dense")
        case = _Case(resolved, profile, schema, out_index)
        rules = DATA_RULES + MODEL_RULES
    return _sorted([f for rule in rules for f in rule(case)])


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def raise_on_errors(findings: list[Finding], force: bool = False) -> None:
    """Raise :class:`DoctorBlocked` (a ConfigError) naming every error finding and its fix, unless ``force``
    (default False) or there are none."""
    errors = [f for f in findings if f.severity == "error"]
    if force or not errors:
        return
    parts = " ".join(f"({i}) [{f.rule}] {f.message} Fix: {f.fix}" for i, f in enumerate(errors, 1))
    raise DoctorBlocked(f"The config doctor found {_count(len(errors), 'error')} (training would be meaningless): "
                        f"{parts} Run 'rnnlab check' on the config for every finding, or pass --force to train anyway.")


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))


def _finding(rule: str, severity: str, key: str, message: str, fix: str) -> list[Finding]:
    return [Finding(rule, severity, key, message, fix)]


# ---------------------------------------------------------------------------- data rules
def _label_subset(c: _Case) -> list[Finding]:
    """Training some of a dataset's fixed labels where all of them are scored (Jigsaw's six)."""
    source = source_for(c.profile.dataset)
    trained = set(c.profile.labels)
    if not source.labels or not source.all_labels_needed or not trained < set(source.labels):
        return []
    missing = [name for name in source.labels if name not in trained]
    return _finding(
        f"{source.name}-label-subset", "warning", "data.label_columns",
        f"Only {', '.join(c.profile.labels)} of the {len(source.labels)} {source.title} labels "
        f"{'is' if len(trained) == 1 else 'are'} trained; {source.all_labels_needed}, so the missing ones "
        f"({', '.join(missing)}) cannot score better than 0.5.",
        f"Remove data.label_columns to train all {_in_words(len(source.labels))} labels at once (one sigmoid "
        f"output each, the same model but for the output layer).")


def _accuracy_only(c: _Case) -> list[Finding]:
    """Accuracy as the only metric shown, on labels where the majority already scores high."""
    maj = c.profile.majority_share
    if c.cfg.compile.metrics != ["accuracy"] or maj < IMBALANCED:
        return []
    return _finding(
        "accuracy-only-imbalanced", "warning", "compile.metrics",
        f"compile.metrics shows only accuracy, but the labels are imbalanced: always predicting the majority "
        f"scores {maj:.3f} ({_majority_detail(c.profile)}), so an accuracy near {maj:.3f} means nothing was "
        f"learnt (the notebook's 'acc: 0.9042' was exactly this).",
        "Show ROC AUC too: compile.metrics = [\"accuracy\", \"auc\"] (a constant prediction scores AUC 0.5), and "
        "early-stop on val_auc.")


def _majority_detail(p: DataProfile) -> str:
    if p.class_shares:
        top = max(p.class_shares, key=p.class_shares.get)
        return f"{p.class_shares[top]:.1%} of the texts are '{top}'"
    rates = p.positive_rates or {}
    if len(rates) == 1:
        (name, rate), = rates.items()
        return f"{max(rate, 1 - rate):.1%} of the texts have {name} = {int(rate > 0.5)}"
    return "mean over " + ", ".join(f"{name} {max(r, 1 - r):.3f}" for name, r in rates.items())


DATA_RULES = (_label_subset, _accuracy_only)


# --------------------------------------------------------------------------- model rules
def _softmax(c: _Case) -> list[Finding]:
    """Softmax over one unit (constant 1.0) or over labels that are not exclusive."""
    if c.out.activation != "softmax":
        return []
    key = f"{c.out_key}.activation"
    if c.out.units == 1:
        return _finding(
            "softmax-one-unit", "error", key,
            "softmax over 1 output unit returns exactly 1.0 for every text (exp(x) / exp(x)): predictions never "
            "change, no gradient reaches the weights and ROC AUC is 0.5.",
            "Use activation = \"sigmoid\" for one unit (with binary_crossentropy); softmax needs one unit per "
            "class (units = 2 with sparse_categorical_crossentropy).")
    if c.schema.task == "multilabel":
        return _finding(
            "softmax-multilabel", "error", key,
            f"softmax makes the {c.out.units} outputs sum to 1, as if exactly one of {', '.join(c.schema.labels)} "
            f"were true, but these labels are not exclusive (a text can have several, or none): the scores "
            f"compete and no label can be predicted independently.",
            "Use activation = \"sigmoid\" (one independent probability per label) with binary_crossentropy.")
    return []


def _output_shape(c: _Case) -> list[Finding]:
    """Output units, loss and label layout that cannot be computed (the checks of
    shape mismatches and class ids out of range, plus categorical_crossentropy on one unit)."""
    units, loss, task, k = c.out.units, c.cfg.compile.loss, c.schema.task, c.schema.n_outputs
    labels, key = ", ".join(c.schema.labels), f"{c.out_key}.units"
    if loss == "sparse_categorical_crossentropy":
        if task == "multilabel":
            return _finding(
                "scce-multilabel", "error", "compile.loss",
                f"sparse_categorical_crossentropy needs one class per text, but the data is multi-label ({labels}: "
                f"several can be 1 at once).",
                f"Use binary_crossentropy with {k} sigmoid units.")
        classes = k if task == "multiclass" else 2
        if units < classes:
            return _finding(
                "scce-too-few-units", "error", key,
                f"sparse_categorical_crossentropy needs one output unit per class: the data has {classes} classes but "
                f"the output layer has {units} unit(s), so class ids >= {units} are out of range (Keras trains on "
                f"NaN losses here, the notebook's 'loss: nan').",
                f"Use units = {classes} with softmax, or binary_crossentropy with 1 sigmoid unit.")
        return _units_mismatch(c, classes, f"{classes} classes")
    if loss == "categorical_crossentropy":
        if units == 1:
            return _finding(
                "cce-one-unit", "error", key,
                "categorical_crossentropy over 1 output unit is always 0: a single unit is the whole distribution "
                "(probability 1 after normalising), so every text has loss 0 and nothing is learnt (the notebook's "
                "'loss: 0.0000').",
                "For a 0/1 label use binary_crossentropy with 1 sigmoid unit (or sparse_categorical_crossentropy "
                "with units = 2 and softmax).")
        if task == "multilabel":
            return _finding(
                "cce-multilabel", "error", "compile.loss",
                f"categorical_crossentropy treats the {units} outputs as one distribution over exclusive classes, "
                f"but the labels are multi-label ({labels}): texts with no label add nothing to the loss and texts "
                f"with several split one unit of probability between them.",
                f"Use binary_crossentropy with {k} sigmoid units.")
        if task == "binary" and units == 2:
            return _finding(
                "cce-binary-two-units", "error", "compile.loss",
                "categorical_crossentropy with 2 units needs one-hot labels, but the label is one 0/1 column.",
                "Use sparse_categorical_crossentropy with 2 softmax units, or binary_crossentropy with 1 sigmoid unit.")
    what = f"{k} classes" if task == "multiclass" else f"{k} label(s) ({labels})"
    return _units_mismatch(c, k, what)


def _units_mismatch(c: _Case, expected: int, what: str) -> list[Finding]:
    if c.out.units == expected:
        return []
    return _finding(
        "units-mismatch", "error", f"{c.out_key}.units",
        f"The output layer has {c.out.units} unit(s) but the data has {what}; {c.cfg.compile.loss} compares them "
        f"one to one.",
        f"Set the output Dense units = {expected} (or leave units unset), or change data.label_columns.")


def _not_probability(c: _Case) -> list[Finding]:
    """Cross-entropy on an output activation that does not give probabilities."""
    act, loss, units = c.out.activation, c.cfg.compile.loss, c.out.units
    key = f"{c.out_key}.activation"
    if loss == "binary_crossentropy" and act not in ("sigmoid", "softmax"):
        return _finding(
            "bce-not-probability", "error", key,
            f"binary_crossentropy needs probabilities in (0, 1), but the output activation is {act} (values in "
            f"{RANGES[act]}): Keras clips them to [1e-7, 1 - 1e-7], so every output outside that range gets a "
            f"constant loss and no gradient.",
            "Use activation = \"sigmoid\" on the output layer (the loss is then computed stably on the logits).")
    if loss in CROSS_ENTROPIES[1:] and units > 1 and act not in ("softmax", "sigmoid", "softplus"):
        return _finding(
            "categorical-not-probability", "error", key,
            f"{loss} needs a probability distribution, but the output activation {act} (values in {RANGES[act]}) "
            f"can be negative or all zero: Keras divides the outputs by their sum, so the loss is meaningless or NaN.",
            "Use activation = \"softmax\" on the output layer.")
    return []


def _mse(c: _Case) -> list[Finding]:
    """Mean squared error for a classification task."""
    if c.cfg.compile.loss != "mse":
        return []
    better = "sparse_categorical_crossentropy" if c.schema.task == "multiclass" else "binary_crossentropy"
    return _finding(
        "mse-classification", "warning", "compile.loss",
        f"mse treats the {c.schema.task} targets as numbers to regress: with a sigmoid/softmax output its gradient "
        f"vanishes as predictions saturate, so it learns more slowly than cross-entropy, and its loss is not "
        f"comparable with other runs.",
        f"Use compile.loss = \"{better}\".")


def _batchnorm_after_output(c: _Case) -> list[Finding]:
    """BatchNormalization after the output Dense: the outputs stop being probabilities."""
    after = [i for i in range(c.out_index + 1, len(c.cfg.model.layers))
             if c.cfg.model.layers[i].type == "BatchNormalization"]
    if not after:
        return []
    loss = c.cfg.compile.loss
    cross_entropy = loss in CROSS_ENTROPIES
    effect = (f"{loss} clips them to [1e-7, 1 - 1e-7], so most texts get a constant loss and no gradient"
              if cross_entropy else "scores are thresholded at 0.5 as if they were probabilities")
    return _finding(
        "batchnorm-after-output", "error" if cross_entropy else "warning", f"model.layers.{after[0]}",
        f"BatchNormalization after the output layer rescales the {c.out.activation} outputs to zero mean and unit "
        f"variance, so they are no longer probabilities (negative and > 1 values): {effect}.",
        "Remove it, or move it before the output Dense layer (e.g. right after the RNN).")


def _vocabulary_memory(c: _Case) -> list[Finding]:
    """An uncapped vocabulary that makes the embedding table (or one-hot batches) huge."""
    if c.cfg.text.num_words is not None:
        return []
    if c.cfg.model.input == "onehot":
        return _onehot_memory(c)
    emb = c.cfg.model.embedding
    rows = emb.input_dim or c.profile.vocab_size
    copies, what = (4, "weights, gradients and two optimizer moments") if emb.trainable else (1, "frozen weights")
    mb = rows * emb.dim * 4 * copies / 1e6
    if mb <= MEMORY_WARN_MB:
        return []
    capped = SUGGESTED_NUM_WORDS * emb.dim * 4 * copies / 1e6
    return _finding(
        "large-vocabulary", "warning", "text.num_words",
        f"text.num_words is unset, so the embedding gets a row for every word the tokenizer saw: {rows:,} rows x "
        f"{emb.dim} = {rows * emb.dim:,} weights, about {mb:,.0f} MB to train (rows x dim x 4 bytes x {copies}: "
        f"{what}).",
        f"Set text.num_words, e.g. {SUGGESTED_NUM_WORDS} (the {SUGGESTED_NUM_WORDS - 1:,} most frequent words: "
        f"{capped:,.0f} MB).")


def _onehot_memory(c: _Case) -> list[Finding]:
    steps = min(c.cfg.text.maxlen or c.profile.length_max, c.profile.length_max)
    batch = c.cfg.fit.batch_size
    mb = batch * steps * c.profile.vocab_size * 4 / 1e6
    if mb <= MEMORY_WARN_MB:
        return []
    capped = batch * steps * SUGGESTED_NUM_WORDS * 4 / 1e6
    return _finding(
        "large-vocabulary", "warning", "text.num_words",
        f"text.num_words is unset, so every one-hot input vector has {c.profile.vocab_size:,} entries: a batch of "
        f"{batch} texts x {steps} steps takes about {mb:,.0f} MB (batch x steps x vocabulary x 4 bytes).",
        f"Set text.num_words, e.g. {SUGGESTED_NUM_WORDS} ({capped:,.0f} MB per batch), or use "
        f"model.input = \"embedding\".")


def _maxlen(c: _Case) -> list[Finding]:
    """A maxlen that cuts many texts, or that is far longer than nearly all of them."""
    p, maxlen = c.profile, c.cfg.text.maxlen
    if maxlen is None:
        return []
    lengths = f"median {p.length_p50:.0f} tokens, 95th percentile {p.length_p95:.0f}, longest {p.length_max:,}"
    if p.truncated_share is not None and p.truncated_share > MAX_TRUNCATED:
        end = "first" if c.cfg.text.truncating == "pre" else "last"
        return _finding(
            "maxlen-truncates", "warning", "text.maxlen",
            f"text.maxlen = {maxlen} truncates {p.truncated_share:.1%} of the training texts ({lengths}); "
            f"truncating = '{c.cfg.text.truncating}' drops their {end} tokens.",
            f"Raise text.maxlen to about the 95th percentile ({_round_up(p.length_p95)}), or keep it knowingly.")
    if p.length_p95 > 0 and maxlen > MAXLEN_OVER_P95 * p.length_p95:
        ratio = maxlen / p.length_p95
        fix = f"Set text.maxlen near the 95th percentile, e.g. {_round_up(p.length_p95)}."
        if c.cfg.fit.bucketing:
            return _finding(
                "maxlen-too-long", "info", "text.maxlen",
                f"text.maxlen = {maxlen} is {ratio:.1f}x the 95th percentile of training lengths ({lengths}); "
                f"bucketing pads each batch only to its longest text, so it costs little, but the few long texts "
                f"still make their batches up to {min(maxlen, p.length_max):,} steps long.", fix)
        return _finding(
            "maxlen-too-long", "warning", "text.maxlen",
            f"text.maxlen = {maxlen} is {ratio:.1f}x the 95th percentile of training lengths ({lengths}); with "
            f"fit.bucketing = false every batch is padded to {maxlen} steps, so a median text fills "
            f"{p.length_p50 / maxlen:.0%} of them and the RNN spends the rest stepping through padding.", fix)
    return []


def _round_up(x: float, step: int = 10) -> int:
    return int(max(step, -(-x // step) * step))


def _learning_rate(c: _Case) -> list[Finding]:
    """A learning rate more than 10x outside the optimizer's typical range."""
    lr, name = c.cfg.compile.learning_rate, c.cfg.compile.optimizer
    if lr is None:
        return []
    lo, hi = TYPICAL_LR[name]
    default = OPTIMIZER_DEFAULTS[name]["learning_rate"]
    typical = f"{name}'s typical range {lo:g} to {hi:g} (Keras default {default:g})"
    if lr > hi * FAR:
        effect = f"{lr / hi:,.0f}x above {typical}: updates this large usually diverge (loss nan/inf) or saturate"
    elif lr < lo / FAR:
        effect = (f"{lo / lr:,.0f}x below {typical}: the weights barely move in {c.cfg.fit.epochs} epoch(s), so the "
                  f"model stays near its initial guess")
    else:
        return []
    return _finding(
        "learning-rate-range", "warning", "compile.learning_rate",
        f"compile.learning_rate = {lr:g} is {effect}.",
        f"Use a rate between {lo:g} and {hi:g}, e.g. the default {default:g} (leave compile.learning_rate unset).")


def _fit_on_test(c: _Case) -> list[Finding]:
    """The tokenizer fitted on test texts: a leak (allowed: it has to be set explicitly)."""
    if "test" not in c.cfg.text.fit_on:
        return []
    return _finding(
        "tokenizer-fit-on-test", "warning", "text.fit_on",
        f"text.fit_on = '{c.cfg.text.fit_on}' fits the tokenizer on the test texts too: word ranks (and, with "
        f"num_words, which words are kept) depend on test data, a leak that flatters test scores (the notebook did "
        f"this); it is allowed only because it was set explicitly.",
        "Use the default text.fit_on = \"train\".")


def _rare_unweighted(c: _Case) -> list[Finding]:
    """A class or label rarer than 2% of the training rows, no class weights, and the best epoch
    (or early stopping) judged by a loss or accuracy, which barely see it."""
    weak = [(key, monitor) for key, monitor in _monitors(c.cfg) if "auc" not in monitor]
    rare = _rare(c.profile)
    if c.cfg.fit.class_weight is not None or not weak or not rare:
        return []
    by = " and ".join(f"{key} = '{monitor}'" for key, monitor in weak)
    what = "label" if c.schema.task == "multilabel" else "class"
    balanced = ("each label's positives weighted by negatives / positives, capped at fit.class_weight_cap"
                if what == "label" else "each class weighted by rows / (classes x its rows)")
    return _finding(
        "rare-class-unweighted", "warning", "fit.class_weight",
        f"{_list(rare)} {'is' if len(rare) == 1 else 'are'} rarer than {RARE:.0%} of the {c.profile.n_train:,} "
        f"training rows, without class weights, and {by}: a model that never predicts the rare {what} scores "
        f"almost as well on {weak[0][1]}, so the {what} is barely learnt.",
        f"Set fit.class_weight = \"balanced\" ({balanced}) and monitor the mean ROC AUC: "
        f"{' and '.join(key for key, _ in weak)} = \"val_auc\".")


def _monitors(cfg: Config) -> list[tuple[str, str]]:
    """The values that judge epochs: the checkpoint monitor, and early stopping's when it is on."""
    es = cfg.fit.early_stopping
    return [("fit.checkpoint.monitor", cfg.fit.checkpoint.monitor)] + (
        [("fit.early_stopping.monitor", es.monitor)] if es.enabled else [])


def _rare(p: DataProfile) -> list[str]:
    """The classes / labels with 0 < share of training rows < RARE, rarest first, with their share."""
    if p.class_shares is not None:
        shares = {f"class '{name}'": share for name, share in p.class_shares.items()}
    elif p.task == "binary":
        (name, rate), = (p.positive_rates or {}).items()
        shares = {f"{name} = {int(rate < 0.5)}": min(rate, 1 - rate)}
    else:
        shares = {f"'{name}'": rate for name, rate in (p.positive_rates or {}).items()}
    rare = sorted((share, name) for name, share in shares.items() if 0 < share < RARE)
    return [f"{name} ({share:.1%})" for share, name in rare]


def _list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


MODEL_RULES = (_softmax, _output_shape, _not_probability, _mse, _batchnorm_after_output, _vocabulary_memory,
               _maxlen, _learning_rate, _fit_on_test, _rare_unweighted)


# ---------------------------------------------------------------------------- reporting
def _in_words(n: int) -> str:
    """Small counts in words ("six"), larger ones in digits."""
    words = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    return words[n] if n < len(words) else str(n)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}{'es' if word.endswith('s') else 's'}"


def format_findings(findings: list[Finding], title: str | None = None) -> str:
    """Plain text: an optional title line with the counts, then one line per finding (errors
    first) followed by its fix; "no findings" when there are none."""
    findings = _sorted(findings)
    counts = ", ".join(_count(n, sev) for sev in SEVERITIES if (n := sum(f.severity == sev for f in findings)))
    lines = [f"{title}: {counts or 'no findings'}"] if title else ([] if findings else ["no findings"])
    for f in findings:
        where = f" ({f.key})" if f.key else ""
        lines.append(f"  {f.severity:<7} {f.rule}{where}: {f.message}")
        lines.append(f"          fix: {f.fix}")
    return "\n".join(lines)


def describe_profile(p: DataProfile) -> str:
    """One line about the data the findings refer to."""
    labels = ", ".join(p.labels) if len(p.labels) <= 8 else ", ".join(p.labels[:8]) + ", ..."
    return (f"data: {p.dataset}, {p.task}, {_count(len(p.labels), 'label' if p.task != 'multiclass' else 'class')} "
            f"({labels}); {p.n_train:,} train / {p.n_validation:,} validation rows; majority share "
            f"{p.majority_share:.3f}; vocabulary {p.vocabulary:,} words (model input {p.vocab_size:,}); tokens per "
            f"text: median {p.length_p50:.0f}, p95 {p.length_p95:.0f}, max {p.length_max:,}")


def consult(cfg: Config, splits: Splits, tokenized: Tokenized, reporter: Reporter, force: bool) -> list[Finding]:
    """Run the doctor on the data training loaded: errors stop training (DoctorBlocked) unless
    ``force``; the findings are shown (infos only when not forced). Returns them (they go to
    metrics.json)."""
    findings = examine(cfg, profile_from(cfg, splits, tokenized))
    for f in findings:
        if f.severity != "info" or not force:
            reporter.message(f"doctor: {f.severity} [{f.rule}] {f.message} Fix: {f.fix}")
    raise_on_errors(findings, force)
    return findings
