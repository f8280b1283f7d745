"""Expand a config's ``[sweep]`` table into concrete variants.

Variants = (each explicit ``[[sweep.variants]]`` table, or one empty variant) × (the grid of
the dotted keys in ``[sweep]``, or ``n_trials`` combinations drawn by Optuna's seeded
RandomSampler), plus the two linear baselines when ``sweep.baselines`` is true. Every variant
is a full, validated :class:`~rnnlab.config.Config`. In a search (a ``[sweep.space]`` or mode
'tpe') the variants are only the explicit ones and the baselines: the space is sampled trial by
trial (:mod:`rnnlab.experiments.search`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass

from ..config import Config, from_dict, set_dotted
from ..errors import ConfigError, RnnlabError

BASELINES = ({"model.type": "tfidf_lr"}, {"model.type": "nbsvm"})


@dataclass(frozen=True)
class Variant:
    index: int
    name: str  # readable: the explicit name or "optimizer=adam, loss=mse"
    overrides: dict  # dotted key -> value
    config: Config  # the base config with the overrides applied, [sweep] removed

    @property
    def key(self) -> str:
        """Stable identity of the variant (its overrides), for the study store."""
        blob = json.dumps(self.overrides, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


def label(overrides: dict) -> str:
    """A readable name of a variant's overrides: 'optimizer=adam, layers.0.units=8'."""
    def short(key):
        parts = key.split(".")
        return ".".join(parts[1:]) if len(parts) > 1 else key

    if overrides.get("model.type") in ("tfidf_lr", "nbsvm"):
        return f"baseline {overrides['model.type']}"
    return ", ".join(f"{short(k)}={_show(v)}" for k, v in overrides.items()) or "base"


def _show(value) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))[:40]
    return str(value)


def _combinations(cfg: Config) -> list[dict]:
    params = cfg.sweep.params
    if not params:
        return [{}]
    keys = list(params)
    if cfg.sweep.mode == "grid":
        return [dict(zip(keys, values)) for values in itertools.product(*(params[k] for k in keys))]
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=cfg.sweep.seed))
    total = 1
    for k in keys:
        total *= len(params[k])
    picks, seen = [], set()
    tries = 0
    while len(picks) < min(cfg.sweep.n_trials, total) and tries < 100 * cfg.sweep.n_trials:
        tries += 1
        trial = study.ask()
        idx = tuple(trial.suggest_categorical(k, list(range(len(params[k])))) for k in keys)
        study.tell(trial, 0.0)
        if idx not in seen:
            seen.add(idx)
            picks.append({k: params[k][i] for k, i in zip(keys, idx)})
    return picks


def expand(cfg: Config) -> list[Variant]:
    """All variants of ``cfg``'s sweep (one variant, the config itself, when it has none)."""
    base = cfg.to_dict()
    base.pop("sweep", None)
    search = bool(cfg.sweep.space) or cfg.sweep.mode == "tpe"  # the space is sampled later (experiments.search)
    explicit = [dict(v) for v in cfg.sweep.variants] or ([] if search else [{}])
    combos = [({k: v for k, v in e.items() if k != "name"}, e.get("name"), g)
              for e in explicit for g in ([{}] if search else _combinations(cfg))]
    rows = [({**e, **g}, name) for e, name, g in combos]
    if cfg.sweep.baselines and (cfg.sweep.params or cfg.sweep.variants or search):
        rows += [(dict(b), None) for b in BASELINES]
    variants, seen = [], set()
    for overrides, name in rows:
        raw = json.loads(json.dumps(base))
        for key, value in overrides.items():
            try:
                set_dotted(raw, key, value)
            except RnnlabError as exc:
                raise ConfigError(f"sweep variant {label(overrides)!r}: {exc}") from None
        shown = name or label(overrides)
        raw["name"] = f"{cfg.name or 'sweep'}"
        try:
            config = from_dict(raw)
        except RnnlabError as exc:
            raise ConfigError(f"sweep variant {shown!r}: {exc}") from None
        v = Variant(len(variants), shown, overrides, config)
        if v.key in seen:
            continue
        seen.add(v.key)
        variants.append(v)
    return variants
