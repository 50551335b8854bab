"""The book's figure style: opaque light figures (legible in dark mode) and the band helper."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sslbook import plotting  # noqa: E402


def test_style_is_opaque_and_light():
    plotting.use_style()
    rc = matplotlib.rcParams
    assert rc["figure.facecolor"] == "white" and rc["savefig.facecolor"] == "white"
    assert rc["savefig.transparent"] is False
    assert len(plotting.COLORS) >= 6
    with pytest.raises(ValueError, match="context"):
        plotting.use_style("huge")


def test_band():
    fig, ax = plt.subplots()
    plotting.band(ax, [0, 1, 2], np.arange(9.0).reshape(3, 3), label="runs")
    assert len(ax.lines) == 1 and np.allclose(ax.lines[0].get_ydata(), [3, 4, 5])
    with pytest.raises(ValueError, match="runs must have shape"):
        plotting.band(ax, [0, 1], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="q must lie"):
        plotting.band(ax, [0, 1, 2], np.zeros((2, 3)), q=0.6)
    plt.close(fig)
