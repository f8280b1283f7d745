"""Does pruning pay? One search config run twice — with its pruner and with ``pruner = "none"`` —
on the same data, seed and sampler, plus the reference (the search's base config trained once,
e.g. jigsaw-strong); prints wall times and best values side by side and writes JSON.

    python bench/search_pruning.py examples/jigsaw_search.toml \\
        --set data.path=../shared/data/jigsaw_toxic/train_subset.csv.gz --out bench/results/search.json

A reduced setting (what fits in minutes on a shared machine): ``--rows 3000`` trains on the
first 3,000 rows of the data file (written to a temporary CSV), ``--n-trials 6``,
``--set fit.epochs=4``. Baselines are left out of both searches (they cost the same in each).
``--only pruned`` / ``--only unpruned`` runs one half and keeps the other half's figures in the
``--out`` file: the two searches of the full setting take hours each on 2 cores.

``--preset jigsaw-strong`` also trains that preset once, on the same data (the ``data.*``
overrides), with the same ``--threads``, on the same machine, for the search's best to be
compared with it under the same conditions (threads change the last bits of every float);
``--only preset`` trains just that one, keeping the searches' figures already in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path


def _slice(path: str, rows: int, folder: Path) -> str:
    import pandas as pd

    out = folder / f"first{rows}.csv"
    pd.read_csv(path, nrows=rows).to_csv(out, index=False)
    return str(out)


def config_of(preset: str) -> Path:
    """The bundled preset named ``preset`` (dashes stand for underscores, as in ``--preset``), else
    ``preset`` as a config file's path."""
    from rnnlab.config import preset_names, preset_path

    return preset_path(preset) if preset.replace("-", "_") in preset_names() else Path(preset)


def _summary(name: str, runs: Path) -> dict:
    import optuna

    from rnnlab.experiments.search import BASE, sampled_trials
    from rnnlab.experiments.sweep import open_storage

    study = optuna.load_study(study_name=name, storage=open_storage(None, runs / name / "study.journal"))
    trials = sampled_trials(study)
    states = {s: sum(t.user_attrs.get("outcome") == s for t in trials) for s in ("ok", "pruned", "failed", "blocked")}
    done = [t for t in trials if t.value is not None]
    best = max(done, key=lambda t: t.value) if done else None
    epochs = sum(int((t.user_attrs.get("metrics") or {}).get("epochs") or 0) for t in trials)
    base = next((t for t in trials if t.user_attrs.get("enqueued") == BASE), None)  # sweep.start_from_base
    return {"trials": len(trials), **states, "epochs_trained": epochs,
            "best_value": None if best is None else best.value,
            "best_params": None if best is None else best.params,
            **({"base_value": base.value} if base is not None else {})}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", help="a search config ([sweep.space], a pruner)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="KEY=VALUE (repeatable)")
    ap.add_argument("--rows", type=int, default=None, help="train on the data file's first ROWS rows")
    ap.add_argument("--n-trials", type=int, default=None, help="override sweep.n_trials")
    ap.add_argument("--threads", type=int, default=1, help="fit.threads (default 1)")
    ap.add_argument("--no-reference", action="store_true", help="skip training the base config once")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    ap.add_argument("--preset", default=None, help="also train this preset (or config file) once (data.* from --set, "
                                                    "the same --threads) for the search's best to be compared with it")
    ap.add_argument("--only", choices=("pruned", "unpruned", "preset"), default=None,
                    help="run one of the two searches (or only --preset); with --out, the other figures already in "
                         "that file are kept (the parts may run at different times on the same quiet machine)")
    args = ap.parse_args(argv)

    from rnnlab._machine import load_average, machine
    from rnnlab.config import load_config
    from rnnlab.experiments.search import pruner_name
    from rnnlab.experiments.sweep import run_sweep
    from rnnlab.train.progress import Reporter
    from rnnlab.train.trainer import train

    work = Path(tempfile.mkdtemp(prefix="rnnlab-search-bench-"))
    overrides = list(args.overrides) + [f"fit.threads={args.threads}", f"runs_dir={work / 'runs'}",
                                        "sweep.baselines=false", "fit.verbose=quiet"]
    if args.n_trials:
        overrides.append(f"sweep.n_trials={args.n_trials}")
    if args.rows:
        base = load_config(args.config, overrides)
        overrides.append(f"data.path={_slice(base.data.path, args.rows, work)}")
    cfg = load_config(args.config, overrides)
    pruner = pruner_name(cfg)
    out = {"config": args.config, "overrides": args.overrides, "rows": args.rows, "n_trials": cfg.sweep.n_trials,
           "mode": cfg.sweep.mode, "epochs": cfg.fit.epochs, "threads": args.threads,
           "machine": {"name": platform.node(), **machine()}, "date": date.today().isoformat(), "runs": {},
           "runs_dir": str(work / "runs")}
    if args.only and args.out and Path(args.out).exists():
        kept = json.loads(Path(args.out).read_text())
        out["runs"] = kept["runs"]
        out.update({k: kept[k] for k in ("reference", "preset") if k in kept})
    if args.only == "preset" and not args.preset:
        ap.error("--only preset needs --preset NAME")
    labels = {"pruned": (pruner,), "unpruned": ("none",), "preset": ()}.get(args.only, (pruner, "none"))
    for label in labels:
        name = f"search-{label}"
        c = load_config(args.config, overrides + [f"name={name}"])
        if label == "none":  # the same search without pruning
            c = replace(c, sweep=replace(c.sweep, pruner="none", prune_after_epoch=None))
        t0, load = time.time(), load_average()
        run_sweep(c, reporter=Reporter("line"))
        seconds = time.time() - t0
        out["runs"][label] = {"seconds": round(seconds, 1), "load_average": {"before": load, "after": load_average()},
                              **_summary(name, work / "runs")}
        print(f"{label:>10}: {seconds:7.1f} s, best {out['runs'][label]['best_value']}", flush=True)
    if args.preset:
        data = [o for o in args.overrides if o.startswith("data.")]
        c = load_config(config_of(args.preset), data + [f"fit.threads={args.threads}", "fit.verbose=quiet",
                                                        f"runs_dir={work / 'runs'}", "name=preset"])
        t0 = time.time()
        run = train(c, run_dir=work / "runs" / "preset")
        out["preset"] = {"name": args.preset, "overrides": data, "threads": args.threads,
                         "seconds": round(time.time() - t0, 1), "val_auc": run.metrics["validation"]["auc"],
                         "best_epoch": run.metrics["best_epoch"], "date": date.today().isoformat()}
        print(f"{args.preset}: {out['preset']['seconds']:7.1f} s, val_auc {out['preset']['val_auc']}")
    if not args.no_reference and args.only != "preset":
        ref = load_config(args.config, overrides + ["name=reference"])
        ref = replace(ref, sweep=type(ref.sweep)())
        t0 = time.time()
        run = train(ref, run_dir=work / "runs" / "reference")
        out["reference"] = {"seconds": round(time.time() - t0, 1), "val_auc": run.metrics["validation"]["auc"]}
        print(f" reference: {out['reference']['seconds']:7.1f} s, val_auc {out['reference']['val_auc']}")
    print(f"\n{'':>12}{'wall s':>9}{'epochs':>8}{'pruned':>8}{'best':>9}")
    for label, r in ((k, out["runs"][k]) for k in (pruner, "none") if k in out["runs"]):
        best = "" if r["best_value"] is None else f"{r['best_value']:.4f}"
        print(f"{label:>12}{r['seconds']:9.1f}{r['epochs_trained']:8d}{r['pruned']:8d}{best:>9}")
    if "preset" in out:
        print(f"{'preset':>12}{out['preset']['seconds']:9.1f}{'':>8}{'':>8}{out['preset']['val_auc']:9.4f}")
    if "reference" in out:
        print(f"{'reference':>12}{out['reference']['seconds']:9.1f}{'':>8}{'':>8}{out['reference']['val_auc']:9.4f}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2, default=str) + "\n")
        print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
