"""Length statistics and the histogram PNG."""

import numpy as np

from rnnlab.text import length_stats, plot_length_histogram


def test_share_truncated_and_percentiles():
    lengths = np.array([10, 20, 30, 40, 300])
    s = length_stats(lengths, maxlen=35)
    assert s["truncated_share"] == 0.4
    assert s["p50"] == 30 and s["max"] == 300 and s["count"] == 5
    assert s["tokens_lost_share"] == round((5 + 265) / 400, 4)


def test_histogram_is_a_png(tmp_path):
    path = plot_length_histogram(np.random.default_rng(0).integers(0, 500, 1000), tmp_path / "h.png", maxlen=250)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
