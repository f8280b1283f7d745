"""Sequence-length statistics and the length histogram (the notebook's ``displot``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._io import pyplot, save_figure


def length_stats(lengths: np.ndarray, maxlen: int | None = None) -> dict:
    """Percentiles of token counts and, given ``maxlen``, the share of texts it truncates."""
    lengths = np.asarray(lengths)
    if len(lengths) == 0:
        return {"count": 0}
    p = np.percentile(lengths, [50, 90, 95, 99])
    out = {
        "count": int(len(lengths)), "mean": round(float(lengths.mean()), 2),
        "min": int(lengths.min()), "p50": float(p[0]), "p90": float(p[1]), "p95": float(p[2]),
        "p99": float(p[3]), "max": int(lengths.max()), "empty": int((lengths == 0).sum()),
    }
    if maxlen is not None:
        out["maxlen"] = int(maxlen)
        out["truncated_share"] = round(float((lengths > maxlen).mean()), 4)
        out["tokens_lost_share"] = round(float(np.maximum(lengths - maxlen, 0).sum() / max(lengths.sum(), 1)), 4)
    return out


def format_length_stats(stats: dict) -> str:
    """One line for the console."""
    if not stats.get("count"):
        return "no texts"
    s = (f"{stats['count']:,} texts, tokens: median {stats['p50']:.0f}, mean {stats['mean']:.0f}, "
         f"p95 {stats['p95']:.0f}, max {stats['max']:,}")
    if "maxlen" in stats:
        s += f"; maxlen {stats['maxlen']} truncates {stats['truncated_share']:.1%} of texts"
    return s


def plot_length_histogram(lengths: np.ndarray, path: str | Path, maxlen: int | None = None,
                          title: str = "Tokens per text") -> Path:
    """Write a histogram PNG of ``lengths`` (x axis clipped at the 99.5th percentile so the
    bulk stays visible, as the notebook's ``plt.xlim``), with ``maxlen`` marked."""
    plt = pyplot()

    lengths = np.asarray(lengths)
    hi = float(np.percentile(lengths, 99.5)) if len(lengths) else 1.0
    if maxlen is not None:
        hi = max(hi, maxlen * 1.1)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(np.minimum(lengths, hi), bins=60, range=(0, hi), color="#4C72B0")
    if maxlen is not None:
        share = float((lengths > maxlen).mean()) if len(lengths) else 0.0
        ax.axvline(maxlen, color="#C44E52", linestyle="--", label=f"maxlen {maxlen} (truncates {share:.1%})")
        ax.legend()
    ax.set_xlabel("tokens per text")
    ax.set_ylabel("texts")
    ax.set_title(title)
    return save_figure(fig, path)
