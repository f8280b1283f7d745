"""Console output of a run: a live bar per epoch in a terminal, one plain line per epoch
otherwise; every message is also kept for the run's ``log.txt``."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class Reporter:
    """``verbose``: 'auto' (bar on a terminal, lines otherwise), 'bar', 'line' or 'quiet'."""

    def __init__(self, verbose: str = "auto", console: Console | None = None):
        self.console = console or Console(stderr=False, highlight=False)
        if verbose == "auto":
            verbose = "bar" if self.console.is_terminal else "line"
        self.mode = verbose
        self.lines: list[str] = []
        self._progress: Progress | None = None
        self._task = None

    def message(self, text: str, style: str | None = None) -> None:
        self.lines.append(f"{time.strftime('%H:%M:%S')} {text}")
        if self.mode != "quiet":
            self.console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    def print(self, renderable) -> None:
        """Show a rich renderable (tables); not logged."""
        if self.mode != "quiet":
            self.console.print(renderable)

    def epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
        if self.mode != "bar":
            return
        self._progress = Progress(TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                  console=self.console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task("train", total=steps, info="")

    def step(self, loss: float, every: int = 1) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=every, info=f"loss {loss:.4f}")

    def epoch_end(self, line: str) -> None:
        self.close()
        self.message(line)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()
