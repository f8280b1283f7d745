"""A live bar in a terminal, one plain line per epoch otherwise; everything lands in log.txt."""

import io

from rich.console import Console

from rnnlab.train.progress import Reporter


def _reporter(terminal: bool):
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=terminal, width=100)
    return Reporter("auto", console), buf


def test_plain_lines_when_not_a_terminal():
    rep, buf = _reporter(False)
    assert rep.mode == "line"
    rep.epoch_start(1, 2, 10)
    for _ in range(10):
        rep.step(0.5)
    rep.epoch_end("epoch 1/2  loss 0.5000")
    assert buf.getvalue() == "epoch 1/2  loss 0.5000\n"
    assert rep.lines[-1].endswith("epoch 1/2  loss 0.5000")


def test_bar_with_live_loss_in_a_terminal():
    rep, buf = _reporter(True)
    assert rep.mode == "bar"
    rep.epoch_start(1, 2, 10)
    rep.step(0.4321)
    rep._progress.refresh()
    rep.epoch_end("epoch 1/2  loss 0.4321")
    out = buf.getvalue()
    assert "epoch 1/2" in out and "loss 0.4321" in out and "1/10" in out


def test_quiet_prints_nothing_but_still_logs():
    buf = io.StringIO()
    rep = Reporter("quiet", Console(file=buf))
    rep.message("hello")
    assert buf.getvalue() == "" and rep.lines[-1].endswith("hello")
