"""The prepared GPU check (run by bench/gpu.sh): M1 and M3 at Jigsaw scale on CUDA in float32,
bf16 and fp16 (epoch time, validation mean AUC and its change against float32), the same under
DistributedDataParallel (NCCL) on every GPU when there are two or more, ``Run.predict`` rows/s,
and the serve load (bench/serve_load.py) — results as one JSON file. Installs nothing: it uses
the project as installed and the data already on the machine.

    bench/gpu.sh                         # on a CUDA machine; < 5 minutes on one modern GPU
    bench/gpu.sh --dry-run               # the same plumbing on the CPU, tiny data (gloo, no fp16)
    python bench/gpu.py --only m1,ddp --out /tmp/gpu.json

- M1 = examples/jigsaw_lstm.toml: Embedding(V, 3) + LSTM(32) + Dense(6, sigmoid), batch 128,
  maxlen 250, RMSprop;
- M3 = Embedding(50000, 128) + Bidirectional(GRU(64, return_sequences)) + GlobalMaxPool1D +
  Dense(6, sigmoid), batch 256, maxlen 200, Adam (bench/run.py's M3).

Data: ``--data`` (default $RNNLAB_JIGSAW, else ../shared/data/jigsaw_toxic/train_subset.csv.gz);
``--dry-run`` writes 600 Jigsaw-shaped rows to a temporary folder instead and shrinks the models.
Epoch time is ``train_seconds`` from the run's history (training only, no validation); the DDP
runs use ``rnnlab train --nproc N`` (torchrun's agent, NCCL on CUDA, gloo on the CPU) with the
same global batch.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PARTS = ("m1", "m3", "precision", "ddp", "predict", "serve")
LABELS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]



CPU_BF16_LSTM = ("bf16 LSTM not run on the CPU: oneDNN refused it on 2026-12-01 ('could not create a primitive "
                 "descriptor for the LSTM forward propagation primitive'); checked on CUDA")


def cpu_low(name: str) -> list[str]:
    """Low precisions the CPU dry run trains: bf16 for M3 (GRU); not for M1's LSTM (CPU_BF16_LSTM)."""
    return ["bf16"] if name == "m3" else []


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny generated data and models: checks the plumbing.")
    p.add_argument("--data", type=Path, default=None, help="Jigsaw train file (default $RNNLAB_JIGSAW or "
                                                           "../shared/data/jigsaw_toxic/train_subset.csv.gz).")
    p.add_argument("--epochs", type=int, default=2, help="Epochs per training (default 2; the second is timed).")
    p.add_argument("--only", default=",".join(PARTS), help=f"Parts, comma-separated: {', '.join(PARTS)}.")
    p.add_argument("--serve-seconds", type=float, default=15, help="Serve load duration (default 15).")
    p.add_argument("--out", type=Path, default=None, help="Result JSON (default bench/results/<date>-gpu.json).")
    args = p.parse_args(argv)
    args.parts = [x.strip() for x in args.only.split(",") if x.strip()]
    bad = sorted(set(args.parts) - set(PARTS))
    if bad:
        p.error(f"unknown part(s) {', '.join(bad)}; choose from {', '.join(PARTS)}")
    return args


def fake_jigsaw(path: Path, rows: int = 600) -> Path:
    """Jigsaw-shaped rows with learnable labels (the dry run's data)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    bad = dict(zip(LABELS, ["idiot", "scum", "crap", "kill", "loser", "bigot"]))
    out = []
    for i in range(rows):
        labels = {k: int(rng.random() < (0.3 if k == "toxic" else 0.1)) for k in LABELS}
        words = list(rng.choice([f"w{j}" for j in range(200)], int(rng.integers(3, 60))))
        words += [bad[k] for k, v in labels.items() if v]
        rng.shuffle(words)
        out.append({"id": f"{i:016x}", "comment_text": " ".join(words), **labels})
    pd.DataFrame(out).to_csv(path, index=False)
    return path


def model(name: str, dry: bool) -> tuple[Path, list[str]]:
    """(config, --set overrides) of M1 / M3 (tiny in a dry run)."""
    if name == "m1":
        return ROOT / "examples" / "jigsaw_lstm.toml", ["model.layers.0.units=4", "text.maxlen=40"] if dry else []
    sets = ['model.layers.1.modes=["max"]', "fit.early_stopping.enabled=false"]  # GlobalMaxPool1D, as bench M3
    if dry:
        sets += ["model.layers.0.units=4", "model.embedding.dim=8", "text.maxlen=40"]
    return ROOT / "examples" / "jigsaw_bigru.toml", sets


def train_one(cfg: Path, sets: list[str], out: Path, nproc: int = 1, timeout: float = 600) -> dict:
    """``rnnlab train`` (here; data-parallel: ``rnnlab train --nproc`` in a fresh interpreter);
    epoch times, validation AUC and the wall time, or the error line."""
    t0 = time.perf_counter()
    if nproc == 1:
        from rnnlab.errors import RnnlabError
        from rnnlab.train.trainer import train

        try:
            train(cfg, [*sets, "fit.verbose=quiet"], run_dir=out)
        except RnnlabError as exc:
            return {"error": str(exc), "wall_seconds": round(time.perf_counter() - t0, 1)}
    else:
        cmd = [sys.executable, "-m", "rnnlab", "train", str(cfg), *sum((["--set", s] for s in sets), []),
               "--out", str(out), "--quiet", "--nproc", str(nproc)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            return {"error": (done.stderr.strip().splitlines() or ["(no output)"])[-1],
                    "wall_seconds": round(time.perf_counter() - t0, 1)}
    wall = time.perf_counter() - t0
    metrics = json.loads((out / "metrics.json").read_text())
    info = json.loads((out / "run.json").read_text())
    import pandas as pd

    hist = pd.read_csv(out / "history.csv")
    return {"epoch_seconds": [round(float(x), 3) for x in hist["train_seconds"]],
            "val_auc": metrics["validation"].get("auc"), "device": info.get("device"), "nproc": nproc,
            "wall_seconds": round(wall, 1)}


def predict_speed(run_dir: Path, data: Path) -> dict:
    import pandas as pd

    import rnnlab

    run = rnnlab.Run.load(run_dir)
    texts = pd.read_csv(data)["comment_text"].fillna("").astype(str).tolist()
    run.predict(texts[:256])  # warm-up
    t0 = time.perf_counter()
    run.predict(texts)
    secs = time.perf_counter() - t0
    return {"rows": len(texts), "rows_per_second": round(len(texts) / secs)}


def serve_load(run_dir: Path, data: Path, seconds: float, out: Path) -> dict:
    cmd = [sys.executable, str(HERE / "serve_load.py"), str(run_dir), "--data", str(data), "--clients", "64",
           "--texts-per-request", "8", "--seconds", str(seconds), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 240)
    if not out.exists():
        return {"error": (done.stderr.strip().splitlines() or ["(no output)"])[-1]}
    return json.loads(out.read_text())


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    cuda = torch.cuda.is_available() and not args.dry_run
    if not cuda and not args.dry_run:
        print("error: no CUDA device (torch.cuda.is_available() is False); use --dry-run to check the plumbing "
              "on the CPU", file=sys.stderr)
        return 2
    gpus = torch.cuda.device_count() if cuda else 0
    tmp = Path(tempfile.mkdtemp(prefix="rnnlab-gpu-"))
    if args.dry_run:
        data = fake_jigsaw(tmp / "jigsaw.csv")
        epochs = 1
    else:
        data = args.data or Path(os.environ.get("RNNLAB_JIGSAW") or ROOT.parent / "shared" / "data" / "jigsaw_toxic"
                                 / "train_subset.csv.gz")
        epochs = args.epochs
        if not data.exists():
            print(f"error: no Jigsaw data at {data}; pass --data or set RNNLAB_JIGSAW", file=sys.stderr)
            return 2
    device = "cuda" if cuda else "cpu"
    base = [f"data.path={data}", f"fit.epochs={epochs}", f"fit.device={device}", "fit.early_stopping.enabled=false"]
    if not cuda:
        base.append("fit.threads=1")
    doc: dict = {"date": dt.date.today().isoformat(), "dry_run": args.dry_run, "device": device,
                 "gpu": torch.cuda.get_device_name(0) if cuda else None, "gpus": gpus,
                 "torch": torch.__version__, "python": platform.python_version(), "data": str(data),
                 "parts": args.parts, "results": {}}
    res = doc["results"]
    t_start = time.perf_counter()
    for name in ("m1", "m3"):
        if name not in args.parts:
            continue
        cfg, extra = model(name, args.dry_run)
        sets = base + extra
        runs = {}
        precisions = ["float32", *(cpu_low(name) if not cuda else ["bf16", "fp16"])] if "precision" in args.parts \
            else ["float32"]
        for prec in precisions:
            runs[prec] = train_one(cfg, [*sets, f"fit.precision={prec}"], tmp / f"{name}-{prec}")
            print(f"[{name}] {prec}: {runs[prec]}", flush=True)
        f32 = runs["float32"].get("val_auc")
        for prec, r in runs.items():
            if prec != "float32" and f32 is not None and r.get("val_auc") is not None:
                r["auc_change_vs_float32"] = round(r["val_auc"] - f32, 5)
        if not cuda and "precision" in args.parts:
            runs["fp16"] = {"skipped": "fp16 needs CUDA"}
            if "bf16" not in runs:
                runs["bf16"] = {"skipped": CPU_BF16_LSTM}
        res[name] = runs
        if "ddp" in args.parts:
            nproc = gpus if cuda else 2
            if cuda and gpus < 2:
                res[f"{name}_ddp"] = {"skipped": f"{gpus} GPU: DistributedDataParallel over NCCL needs 2 or more"}
            else:
                res[f"{name}_ddp"] = train_one(cfg, sets, tmp / f"{name}-ddp", nproc=nproc)
            print(f"[{name}] ddp: {res[f'{name}_ddp']}", flush=True)
    m1 = tmp / "m1-float32"
    if ("predict" in args.parts or "serve" in args.parts) and not (m1 / "manifest.json").exists():
        cfg, extra = model("m1", args.dry_run)
        train_one(cfg, base + extra, m1)
    if "predict" in args.parts:
        res["predict"] = predict_speed(m1, data)
        print(f"[predict] {res['predict']}", flush=True)
    if "serve" in args.parts:
        res["serve"] = serve_load(m1, data, 2 if args.dry_run else args.serve_seconds, tmp / "serve.json")
        print(f"[serve] {res['serve']}", flush=True)
    doc["total_seconds"] = round(time.perf_counter() - t_start, 1)
    out = args.out or HERE / "results" / f"{doc['date']}-gpu{'-dry-run' if args.dry_run else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out} ({doc['total_seconds']} s)")
    errors = [k for k, v in res.items() if isinstance(v, dict) and ("error" in v or any(
        isinstance(x, dict) and "error" in x for x in v.values()))]
    if errors:
        print(f"error: part(s) failed: {', '.join(errors)} (see {out})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
