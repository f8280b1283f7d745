"""Search over ranges: ``[sweep.space]`` sampled by Optuna (TPE, random or grid), one run per trial.

A sweep is a *search* when it has a ``[sweep.space]`` or ``sweep.mode = "tpe"``; its dotted
lists in ``[sweep]`` then join the space as ``{ choices = [...] }``. The fixed variants (the
explicit ``[[sweep.variants]]`` and the two baselines) are queued and run first, as in every
sweep; then each worker asks the study's sampler for a trial, builds the sampled config, lets
the config doctor check it (a blocked sample is recorded with its reason and the search goes
on) and trains it, reporting the monitored metric every epoch to the pruner, until the study
holds ``n_trials`` sampled trials or ``timeout`` seconds have passed. The sampled values are
the trial's Optuna params, so Optuna's own plots and importance evaluators read the study.
With ``sweep.start_from_base`` the first trial is the base config's own values at every key of
the space (enqueued once, when the study is new): "trial 0 (base config)".
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

from ..config import Config, from_dict, set_dotted
from ..config.space import Dist, parse_space
from ..errors import ConfigError, RnnlabError
from ..train.progress import Reporter
from .variants import Variant

SAMPLED = "sampled"  # user attr of the trials drawn from the space (fixed variants lack it)
BASE = "base config"  # user attr "enqueued" of the trial sweep.start_from_base queues
PRIMITIVE = (type(None), bool, int, float, str)


def is_search(cfg: Config) -> bool:
    """Whether ``cfg``'s sweep samples a space (a ``[sweep.space]``, or mode 'tpe')."""
    return bool(cfg.sweep.space) or cfg.sweep.mode == "tpe"


def space_of(cfg: Config) -> dict[str, Dist]:
    """The search space: ``[sweep.space]``, plus the dotted lists of ``[sweep]`` as choices."""
    space = {key: Dist(key, "choice", choices=tuple(values)) for key, values in cfg.sweep.params.items()}
    space.update(parse_space(cfg.sweep.space))
    return space


def _base(cfg: Config) -> dict:
    raw = cfg.to_dict()
    raw.pop("sweep", None)
    raw["name"] = cfg.name or "sweep"
    return raw


def sampled_config(cfg: Config, overrides: dict) -> Config:
    """The base config of ``cfg`` (no ``[sweep]``) with the sampled ``overrides``, validated."""
    raw = json.loads(json.dumps(_base(cfg)))
    for key, value in overrides.items():
        set_dotted(raw, key, value)
    return from_dict(raw)


def check_space(cfg: Config) -> None:
    """Every key of the space set to each end of its range (each choice), one at a time, must
    give a valid config: an unknown key or a value the key refuses is a one-line error now,
    not a failed trial later."""
    for key, dist in space_of(cfg).items():
        values = dist.choices if dist.kind == "choice" else (dist.low, dist.high)
        for value in values:
            try:
                sampled_config(cfg, {key: value})
            except RnnlabError as exc:
                shown = json.dumps(value, default=str) if not isinstance(value, str) else value
                raise ConfigError(f'sweep.space."{key}" = {shown}: {exc}') from None
    if cfg.sweep.start_from_base:
        base_params(cfg)


def _dotted(raw, key: str):
    """The value at dotted ``key`` of a config dict (list parts are indices), or KeyError."""
    node = raw
    for part in key.split("."):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(key)
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(key)
    return node


def _inside(dist: Dist, value) -> bool:
    if dist.kind == "choice":
        return _encode(value) in {_encode(c) for c in dist.choices}
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not dist.low <= value <= dist.high:
        return False
    if dist.kind == "int" and value != int(value):
        return False
    return dist.step is None or abs((value - dist.low) / dist.step - round((value - dist.low) / dist.step)) < 1e-9


def base_params(cfg: Config) -> dict:
    """The base config's own value at every key of the space (``sweep.start_from_base``), as
    Optuna params.

    Raises:
        ConfigError: a key whose base value is unset or outside its range / choices (the
            message names both and how to fix it).
    """
    base, params = cfg.to_dict(), {}
    for key, dist in space_of(cfg).items():
        try:
            value = _dotted(base, key)
        except KeyError:
            raise ConfigError(f'sweep.start_from_base: the base config has no value at "{key}"; set it, or set '
                              f'sweep.start_from_base = false.') from None
        if dist.kind == "choice":
            value = _base_choice(cfg, key, dist, value)
        if value is None or not _inside(dist, value):
            shown = json.dumps(value, default=str, sort_keys=True)
            raise ConfigError(f'sweep.start_from_base: the base config\'s "{key}" = {shown} is not in '
                              f'sweep.space."{key}" ({dist.describe()}); widen the space or change the base value.')
        params[key] = _encode(value) if dist.kind == "choice" else value
    return params


def _base_choice(cfg: Config, key: str, dist: Dist, value):
    """The choice that, applied to the base config, gives the base's own value at ``key`` (a
    table choice may name only some keys: the config fills in the rest), else ``value`` itself."""
    for choice in dist.choices:
        try:
            applied = _dotted(sampled_config(cfg, {key: choice}).to_dict(), key)
        except (RnnlabError, KeyError):
            continue
        if _encode(applied) == _encode(value):
            return choice
    return value


def enqueue_base(study, cfg: Config) -> bool:
    """Queue the base config as the search's first trial, once: only in a study that holds no
    sampled or queued trial yet (a resumed search does not queue it again). Returns whether it did."""
    from optuna.trial import TrialState

    if not cfg.sweep.start_from_base:
        return False
    trials = study.get_trials(deepcopy=False)
    if any(t.user_attrs.get(SAMPLED) or t.state == TrialState.WAITING for t in trials):
        return False
    study.enqueue_trial(base_params(cfg), user_attrs={"enqueued": BASE})
    return True


def _encode(value):
    """A choice as an Optuna categorical value (lists and tables as JSON text)."""
    return value if isinstance(value, PRIMITIVE) else json.dumps(value, sort_keys=True)


def suggest(trial, dist: Dist):
    """Draw ``dist``'s value for ``trial`` with the matching ``suggest_*`` call."""
    if dist.kind == "choice":
        encoded = {_encode(c): c for c in dist.choices}
        return encoded[trial.suggest_categorical(dist.key, list(encoded))]
    if dist.kind == "int":
        return trial.suggest_int(dist.key, int(dist.low), int(dist.high), step=int(dist.step or 1), log=dist.log)
    return trial.suggest_float(dist.key, dist.low, dist.high, step=dist.step, log=dist.log)


def grid_size(space: dict[str, Dist]) -> int:
    n = 1
    for dist in space.values():
        n *= len(dist.grid())
    return n


def make_sampler(cfg: Config, seed: int | None):
    """Optuna's sampler for ``sweep.mode``: TPESampler, RandomSampler or GridSampler."""
    import optuna

    mode = cfg.sweep.mode
    if mode == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if mode == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    grid = {key: [_encode(v) for v in dist.grid()] for key, dist in space_of(cfg).items()}
    return optuna.samplers.GridSampler(grid, seed=seed)


def pruner_name(cfg: Config) -> str:
    """``sweep.pruner``, or its default: 'median' when ``prune_after_epoch`` is set, else 'none'."""
    return cfg.sweep.pruner or ("median" if cfg.sweep.prune_after_epoch else "none")


def make_pruner(cfg: Config):
    """Optuna's pruner for ``sweep.pruner``; epochs are the resource (``fit.epochs`` the most)."""
    import optuna

    name, k = pruner_name(cfg), cfg.sweep.prune_after_epoch
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=(k or 1) - 1)
    if name == "hyperband":
        top = max([cfg.fit.epochs] + [int(d.high) for key, d in space_of(cfg).items()
                                      if key == "fit.epochs" and d.kind == "int"])
        return optuna.pruners.HyperbandPruner(min_resource=k or 1, max_resource=max(top, (k or 1) + 1),
                                              reduction_factor=3)
    return optuna.pruners.NopPruner()


def prune_reason(pruner, metric: str, value: float, epoch: int) -> str:
    """Why a trial was pruned, in words, for the run's metrics and the comparison."""
    if type(pruner).__name__ == "HyperbandPruner":
        return (f"pruned by Hyperband after epoch {epoch}: {metric} {value:.4f} is not in the top third of its "
                f"bracket at that epoch")
    return f"pruned after epoch {epoch}: {metric} {value:.4f} is below the median of the other variants at that epoch"


def _counted(study) -> int:
    """Sampled trials that count towards n_trials: finished (any outcome but interrupted) or running."""
    from optuna.trial import TrialState

    n = 0
    for t in study.get_trials(deepcopy=False):
        if not t.user_attrs.get(SAMPLED):
            continue
        if t.state == TrialState.RUNNING or t.user_attrs.get("outcome") in ("ok", "failed", "blocked", "pruned"):
            n += 1
    return n


def target_trials(cfg: Config) -> int:
    """How many sampled trials the search runs: n_trials, or (grid) the grid's size at most."""
    if cfg.sweep.mode == "grid":
        size = grid_size(space_of(cfg))
        return min(size, cfg.sweep.n_trials or size)
    return int(cfg.sweep.n_trials)


def search_loop(store, cfg: Config, base_dir: Path, *, force: bool, threads, rep: Reporter, started: float,
                run_variant, tracker=None, nproc: int = 1) -> int:
    """Ask the study for trials and train them until ``n_trials`` are recorded or the timeout
    passes; returns how many this worker ran. ``run_variant`` trains one trial (the sweep's)."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    space, target, timeout = space_of(cfg), target_trials(cfg), cfg.sweep.timeout
    ran = 0
    while True:
        if timeout is not None and time.time() - started >= timeout:
            rep.message(f"search: timeout of {timeout:g} s reached; no new trial is started")
            return ran
        if _counted(store.study) >= target:
            return ran
        with warnings.catch_warnings():  # GridSampler: "all grids visited" when workers race at the end
            warnings.simplefilter("ignore")
            trial = store.study.ask()
        overrides = {key: suggest(trial, dist) for key, dist in space.items()}
        tid = store.trial_id(trial)
        name = f"trial {trial.number}"  # the sampled values are the comparison's parameter columns
        if trial.user_attrs.get("enqueued") == BASE:
            name += f" ({BASE})"
        store.set(tid, **{SAMPLED: True, "variant_key": f"trial-{trial.number}", "variant_name": name,
                          "overrides": json.dumps(overrides, default=str)})
        try:
            config = sampled_config(cfg, overrides)
        except RnnlabError as exc:  # a combination the config refuses: recorded, the search goes on
            store.set(tid, outcome="failed", reason=f"invalid config: {exc}", seconds=0.0)
            store.finish(tid, TrialState.FAIL)
            rep.message(f"== {name}: failed — invalid config: {exc}")
            continue
        variant = Variant(trial.number, name, overrides, config)
        try:
            run_variant(store, trial, variant, base_dir, force=force, threads=threads, rep=rep, tracker=tracker,
                        nproc=nproc)
        except UpdateFinishedTrialError:
            continue
        ran += 1


# ----------------------------------------------------------------------------------- reading a search
def sampled_trials(study) -> list:
    """The study's sampled trials (not the fixed variants), as FrozenTrials."""
    return [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get(SAMPLED)]


def search_study(study):
    """An in-memory copy of ``study`` holding only its sampled trials, for Optuna's plots and
    importance evaluators (the baselines have no params and would distort both)."""
    import optuna

    copy = optuna.create_study(direction=study.direction)
    copy.add_trials(sampled_trials(study))
    return copy


def importances(study) -> list[tuple[str, float]]:
    """Optuna's parameter importances (fANOVA) over the completed sampled trials, most
    important first; [] when fewer than two completed trials or nothing varied."""
    import optuna
    from optuna.trial import TrialState

    copy = search_study(study)
    done = [t for t in copy.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if len(done) < 2:
        return []
    params = [k for k in done[0].params if all(k in t.params for t in done)
              and len({json.dumps(t.params[k]) for t in done}) > 1]
    if not params:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = optuna.importance.get_param_importances(copy, params=params)
    return [(k, float(v)) for k, v in result.items()]
