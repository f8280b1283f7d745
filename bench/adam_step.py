"""Keras's Adam step on M3's parameters: the one-pass kernel (train/adam.c) against torch's
_foreach path (``RNNLAB_COMPILE=off``), measured alternately in the same process.

    python bench/adam_step.py                 # M3: Embedding(50000, 128) -> BiGRU(64) -> Dense(6)
    python bench/adam_step.py --threads 1,2 --steps 50 --out bench/results/adam-step.json

Prints ms per step for each path and thread count and the ratio torch / kernel; --out writes
them as JSON with the machine and load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import date


def m3_parameters(vocab: int = 50000, dim: int = 128, units: int = 64, labels: int = 6) -> list:
    import torch

    gru = torch.nn.GRU(dim, units, batch_first=True, bidirectional=True)
    return [torch.nn.Parameter(torch.empty(vocab, dim).uniform_(-0.05, 0.05)), *gru.parameters(),
            torch.nn.Parameter(torch.zeros(2 * units, labels)), torch.nn.Parameter(torch.zeros(labels))]


def time_steps(compiled: bool, threads: int, steps: int) -> float:
    """Median milliseconds of one Adam step over ``steps`` steps (gradients fixed, as the update
    does not depend on their values)."""
    import torch

    from rnnlab.train.optimizers import make_optimizer

    os.environ["RNNLAB_COMPILE"] = "auto" if compiled else "off"
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    params = m3_parameters()
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    opt = make_optimizer("adam", params, 0.001)
    opt.step()  # the moments are allocated, the kernel built
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--steps", type=int, default=40, help="timed steps per measurement (default 40)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is kept (default 3)")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    args = ap.parse_args(argv)

    from rnnlab._machine import load_average, machine
    from rnnlab.train.optimizers import fused_adam_library

    if fused_adam_library() is None:
        raise SystemExit("the one-pass Adam kernel cannot be built here (no C compiler, or RNNLAB_COMPILE=off)")
    load_before = load_average()
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch_ms, kernel_ms = [], []
        for _ in range(args.rounds):
            torch_ms.append(time_steps(False, threads, args.steps))
            kernel_ms.append(time_steps(True, threads, args.steps))
        row = {"threads": threads, "torch_ms": statistics.median(torch_ms), "kernel_ms": statistics.median(kernel_ms)}
        row["ratio"] = row["torch_ms"] / row["kernel_ms"]
        rows.append(row)
        print(f"threads {threads}: torch _foreach {row['torch_ms']:.1f} ms/step, one-pass kernel "
              f"{row['kernel_ms']:.1f} ms/step: {row['ratio']:.2f}x")
    result = {"date": date.today().isoformat(), "machine": machine(),
              "load_average": {"before": load_before, "after": load_average()},
              "parameters": "M3: Embedding(50000, 128), bidirectional GRU(64), Dense(6)", "steps": args.steps,
              "rounds": args.rounds, "rows": rows}
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1)
    return result


if __name__ == "__main__":
    main()
