"""Spectra of representations: how many directions a representation uses.

A representation is a matrix ``z`` of shape ``(n, k)``, one row per sample. Its singular values
say how its variance spreads over directions; :func:`effective_rank` sums that up in one number
between 1 (collapse onto a line) and ``min(n, k)`` (every direction used equally).
"""

from __future__ import annotations

import numpy as np

from . import _checks

__all__ = ["effective_rank"]


def effective_rank(z, center: bool = False, eps: float = 1e-12) -> float:
    r"""Effective rank :math:`\exp(H(p))` with :math:`p_i = \sigma_i / \sum_j \sigma_j` the normalised
    singular values of ``z`` (Roy & Vetterli 2007; RankMe, Garrido et al. 2023).

    Between 1 (rank one, e.g. complete collapse) and ``min(n, k)`` (all directions used
    equally). Returns ``0.0`` for the zero matrix.

    Parameters
    ----------
    z
        Representation, shape ``(n, k)``.
    center
        Subtract the column means first (measures spread around the mean rather than around 0).
    eps
        Singular values below ``eps`` times the largest are ignored, ``0 <= eps < 1``.
    """
    a = _checks.array(z, "z", ndim=2)
    center = _checks.boolean(center, "center")
    e = _checks.positive(eps, "eps", allow_zero=True)
    if e >= 1:
        raise ValueError(f"eps must be < 1 (it is relative to the largest singular value), got {eps!r}")
    (a,) = _checks.pow2_rescale(a)  # exact; keeps the SVD away from overflow and underflow
    if center:
        a = a - a.mean(0)
    s = np.linalg.svd(a, compute_uv=False)
    if s.size == 0 or s[0] <= 0:
        return 0.0
    s = s[s > e * s[0]]
    p = s / s.sum()
    return float(np.exp(-(p * np.log(p)).sum()))
