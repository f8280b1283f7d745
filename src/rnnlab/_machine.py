"""Where a figure was measured: this machine's cores and CPU model, and its load average.

Every run's ``run.json`` records both (``machine``, ``load_average``), so a time read from a run
says what it was measured on and beside how much other work; ``docs/figures.py`` records them
with every figure it measures."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> dict:
    """``{"cores": os.cpu_count(), "cpu_model": ..., "platform": ..., "python": ...}``."""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu_model": model or platform.processor() or "unknown",
            "platform": platform.platform(), "python": platform.python_version()}


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages, rounded to 0.01; None where the OS has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None
