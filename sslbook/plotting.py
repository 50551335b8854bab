"""One figure style for every chapter, legible in the book theme's light and dark modes.

Figures are drawn at twice the pixel density in notebooks (sharp at the column width), with text
of at least 9 pt at the size they are displayed (``figure.figsize`` of at most 7 inches wide for
two panels, seaborn's ``notebook`` context).

Figures are drawn on an opaque white background with dark text, so they read the same whichever
mode the reader's theme is in (a transparent figure with black text vanishes in dark mode). The
palette is seaborn's colour-blind-safe one.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import numpy as np

__all__ = ["use_style", "PALETTE", "COLORS", "band"]

PALETTE = "colorblind"
COLORS: list = []


def use_style(context: str = "notebook", font_scale: float = 0.95) -> None:
    """Apply the book's style (seaborn whitegrid, colour-blind palette, opaque white figures)."""
    import seaborn as sns

    if context not in ("paper", "notebook", "talk", "poster"):
        raise ValueError(f"context must be one of paper, notebook, talk, poster; got {context!r}")
    sns.set_theme(context=context, style="whitegrid", palette=PALETTE, font_scale=font_scale)
    mpl.rcParams.update(
        {
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "savefig.transparent": False,
            "figure.dpi": 100,
            "savefig.dpi": 110,
            "figure.figsize": (7.0, 3.6),
            "figure.autolayout": False,
            "figure.constrained_layout.use": True,
            "axes.titlesize": "medium",
            "legend.frameon": True,
            "legend.framealpha": 0.9,
        }
    )
    # seaborn's colour-blind palette, with its pale yellow (index 8, unreadable as a line on white)
    # replaced by a dark olive of the same hue
    COLORS[:] = sns.color_palette(PALETTE)
    COLORS[8] = (0.55, 0.52, 0.0)
    mpl.rcParams["axes.prop_cycle"] = mpl.cycler(color=list(COLORS))
    _retina()


def _retina() -> None:
    """Inside Jupyter, draw figures at twice the pixel density (sharp on high-resolution screens and
    in the book, at the same displayed size)."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # pragma: no cover - no IPython: plain scripts
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def band(ax, x: Sequence[float], runs: np.ndarray, label: str | None = None, color=None, q: float = 0.0) -> None:
    """Plot the median of ``runs`` (shape ``(n_runs, len(x))``) with a band from quantile ``q`` to
    ``1 - q`` (``q = 0``: min to max)."""
    from . import _checks

    xs = _checks.array(x, "x", ndim=1)
    r = _checks.array(runs, "runs", ndim=2, finite=False)  # NaN marks a missing value; the quantiles skip nothing
    if r.shape[0] < 1 or r.shape[1] != len(xs):
        raise ValueError(f"runs must have shape (n_runs, {len(xs)}) with n_runs >= 1, got {r.shape}")
    q = _checks.positive(q, "q", allow_zero=True)
    if not q < 0.5:
        raise ValueError(f"q must lie in [0, 0.5), got {q}")
    med = np.median(r, axis=0)
    (line,) = ax.plot(xs, med, label=label, color=color)
    ax.fill_between(
        xs, np.quantile(r, q, axis=0), np.quantile(r, 1 - q, axis=0), color=line.get_color(), alpha=0.2, lw=0
    )
