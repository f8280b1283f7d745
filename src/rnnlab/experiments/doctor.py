"""``rnnlab check``: the config doctor (:mod:`rnnlab.train.doctor`) on a config, or on every
variant of its ``[sweep]``, before anything trains.

- ``profile_data(cfg)`` / ``profile_many(cfgs)``: the data profiled as training would see it,
  each distinct ``[data]`` loaded once and each distinct tokenizer fitted once;
- ``diagnose(cfg)``: the config, or every variant of its sweep, profiled and examined;
- ``format_report(diagnoses, sweep)``: the plain-text report.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from ..config import Config
from ..data import Splits, load_splits
from ..train import prepare
from ..train.doctor import DataProfile, Finding, describe_profile, examine, format_findings, has_errors, profile_from
from .variants import expand

__all__ = ["Diagnosis", "diagnose", "format_report", "has_sweep", "profile_data", "profile_many"]


@dataclass(frozen=True)
class Diagnosis:
    """One examined config: its name (the variant's, in a sweep), its data and its findings."""

    name: str
    profile: DataProfile
    findings: list[Finding]


def profile_data(cfg: Config) -> DataProfile:
    """Load, split and tokenize the data as training does, and profile it."""
    return profile_many([cfg])[0]


def profile_many(cfgs: list[Config]) -> list[DataProfile]:
    """One profile per config, loading each distinct ``[data]`` once and fitting each distinct
    tokenizer once (sweep variants mostly share both; ``text.maxlen`` changes only the
    truncated share)."""
    splits: dict[str, Splits] = {}
    tokenized: dict[str, prepare.Tokenized] = {}
    profiles = []
    for cfg in cfgs:
        data_key = _data_key(cfg)
        if data_key not in splits:
            splits[data_key] = load_splits(cfg)
        text_key = data_key + _text_key(cfg)
        if text_key not in tokenized:
            tokenized[text_key] = prepare.tokenize_splits(cfg, splits[data_key])
        profiles.append(profile_from(cfg, splits[data_key], tokenized[text_key]))
    return profiles


def _data_key(cfg: Config) -> str:
    # the split depends on the seed; the imdb loader reads text.num_words (imdb.npz ids)
    seed = cfg.seed if cfg.data.split_seed is None else cfg.data.split_seed
    return json.dumps([dataclasses.asdict(cfg.data), seed, cfg.text.num_words], sort_keys=True, default=str)


def _text_key(cfg: Config) -> str:
    text = {k: v for k, v in dataclasses.asdict(cfg.text).items() if k not in ("maxlen", "padding", "truncating")}
    return json.dumps(text, sort_keys=True)


def has_sweep(cfg: Config) -> bool:
    return bool(cfg.sweep.params or cfg.sweep.variants)


def diagnose(cfg: Config) -> list[Diagnosis]:
    """Profile and examine ``cfg``, or, when it has a ``[sweep]``, every variant of it (in
    ``rnnlab.experiments.variants.expand`` order, baselines included)."""
    if has_sweep(cfg):
        variants = expand(cfg)
        names, configs = [v.name for v in variants], [v.config for v in variants]
    else:
        names, configs = [cfg.name or "config"], [cfg]
    return [Diagnosis(name, profile, examine(config, profile))
            for name, config, profile in zip(names, configs, profile_many(configs))]


def format_report(diagnoses: list[Diagnosis], sweep: bool) -> str:
    """One block per config / variant, each after its data line when that differs from the
    previous one (variants may read other labels); a sweep ends with "N of M variants have
    errors"."""
    blocks, data_line = [], ""
    n = len(diagnoses)
    for i, d in enumerate(diagnoses, 1):
        if describe_profile(d.profile) != data_line:
            data_line = describe_profile(d.profile)
            blocks.append(data_line)
        blocks.append(format_findings(d.findings, f"variant {i}/{n} '{d.name}'" if sweep else d.name))
    if sweep:
        bad = sum(has_errors(d.findings) for d in diagnoses)
        blocks.append(f"{bad} of {n} variants have errors")
    return "\n".join(blocks)
