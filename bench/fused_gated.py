"""Where rnnlab's fused LSTM / GRU inference (``rnnlab.models.fused.gated``, ``fused_rnn.c``) beats
torch's own kernel (oneDNN's RNN primitive), and where projecting the inputs inside its loop beats
one matrix product first: the measurements behind ``fused.gated_limits`` and
``fused.MAX_INLINE_INPUTS``.

    python bench/fused_gated.py [--threads 1] [--seconds 0.4] [--steps 60]

Prints, per layer (kind, units, inputs, direction) and rows per forward pass, the rows/s of
``fused.gated`` and of the torch layer on the same random inputs in inference mode, their ratio
(> 1: fused faster), the ratio of the inline input projection over the projected one, and the
largest difference between the two kernels' last states. The limits in force are not used:
``gated`` is called directly.
"""

from __future__ import annotations

import argparse
import time

import torch

from rnnlab.models import fused

CASES = [  # (kind, units, inputs, bidirectional)
    ("LSTM", 32, 3, False), ("GRU", 32, 3, False), ("LSTM", 32, 50, False), ("GRU", 32, 50, False),
    ("LSTM", 64, 3, False), ("LSTM", 64, 50, False), ("GRU", 64, 50, False), ("LSTM", 64, 50, True),
    ("LSTM", 128, 50, False), ("GRU", 128, 50, False),
]
ROWS = (8, 64, 256, 1024)


def rate(fn, rows: int, seconds: float) -> float:
    """Rows per second of ``fn`` run for about ``seconds``, after one warm-up call."""
    fn()
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        fn()
        n += 1
    return rows * n / (time.perf_counter() - t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--seconds", type=float, default=0.4, help="seconds per measurement (default 0.4)")
    ap.add_argument("--steps", type=int, default=60, help="time steps per row (default 60)")
    args = ap.parse_args(argv)
    if fused.gated_library() is None:
        print(f"the fused library is unavailable here: {fused.status()}")
        return 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.steps} steps; fused: {fused.status()}")
    print(f"{'layer':<24} {'rows':>5} {'fused rows/s':>13} {'torch rows/s':>13} {'fused/torch':>11} "
          f"{'inline/projected':>16} {'max |diff|':>10}")
    saved = fused.MAX_INLINE_INPUTS
    try:
        for kind, units, inputs, bi in CASES:
            rnn = getattr(torch.nn, kind)(inputs, units, batch_first=True, bidirectional=bi).eval()
            name = f"{kind}({units}) in={inputs}" + (" bi" if bi else "")
            for rows in ROWS:
                x = torch.randn(rows, args.steps, inputs)
                with torch.inference_mode():
                    fused.MAX_INLINE_INPUTS = 10**6
                    inline = rate(lambda: fused.gated(rnn, x, False), rows, args.seconds)
                    fused.MAX_INLINE_INPUTS = 0
                    projected = rate(lambda: fused.gated(rnn, x, False), rows, args.seconds)
                    fused.MAX_INLINE_INPUTS = saved
                    fast = rate(lambda: fused.gated(rnn, x, False), rows, args.seconds)
                    own = rate(lambda: rnn(x), rows, args.seconds)
                    _, last = fused.gated(rnn, x, False)
                    state = rnn(x)[1]
                    state = state[0] if kind == "LSTM" else state
                    diff = float((last - state).abs().max())
                print(f"{name:<24} {rows:>5} {fast:>13,.0f} {own:>13,.0f} {fast / own:>11.2f} "
                      f"{inline / projected:>16.2f} {diff:>10.1e}", flush=True)
    finally:
        fused.MAX_INLINE_INPUTS = saved
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
