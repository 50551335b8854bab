"""Alignment and uniformity of features on the unit hypersphere (Wang & Isola 2020).

Wang and Isola split what a contrastive loss asks of L2-normalised features into two measurable
properties: positive pairs should land close together (*alignment*) and all features should spread
evenly over the sphere (*uniformity*). Both functions take torch tensors of shape ``(n, k)``,
normalise the rows and return a differentiable scalar tensor; lower is better for both.

The functions carry the authors' names because the word "alignment" is also used, more loosely,
for the pair term of :func:`sslbook.coding_rate.pair_coding_rate_reduction` and for the
non-contrastive loss ``"alignment"`` of :mod:`sslbook.dynamics` and :mod:`sslbook.objectives`.
InfoNCE's two terms (:func:`sslbook.losses.info_nce_terms`) are named ``"positive"`` and
``"log_partition"``: with cosine similarity the first is an affine function of the alignment with
``alpha = 2``, and the second tends to a uniformity-like term as the number of negatives grows
(Wang & Isola 2020, Theorem 1), which is not the same function as :func:`wang_isola_uniformity`.
"""

from __future__ import annotations

import math

import torch

from . import _checks

__all__ = ["wang_isola_alignment", "wang_isola_uniformity"]


def wang_isola_alignment(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    r"""Mean distance :math:`\mathbb{E}\|f(x) - f(x^+)\|^\alpha` between the unit-normalised
    features of positive pairs (Wang & Isola 2020).

    Parameters
    ----------
    z1, z2
        Features of the two members of each pair, shape ``(n, k)`` each, ``n >= 1``.
    alpha
        Power of the distance, ``> 0``.

    Returns
    -------
    torch.Tensor
        Scalar, between 0 (every pair coincides) and :math:`2^\alpha`; lower is better. The rows
        are divided by their largest entry before they are normalised, so the value does not
        change when ``z1`` or ``z2`` is multiplied by a positive number.
    """
    _checks.pair(z1, z2, "z1", "z2")
    _checks.finite(z1, "z1")
    _checks.finite(z2, "z2")
    a = _checks.positive(alpha, "alpha")
    f1 = _checks.unit_rows(z1)
    f2 = _checks.unit_rows(z2)
    return (f1 - f2).norm(dim=1).pow(a).mean()


def wang_isola_uniformity(z: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    r"""Log of the mean Gaussian potential :math:`\log \mathbb{E}_{i<j} e^{-t\|f_i - f_j\|^2}`
    over all pairs of unit-normalised features (Wang & Isola 2020).

    Parameters
    ----------
    z
        Features, shape ``(n, k)``, ``n >= 2``.
    t
        Scale of the potential, ``> 0``.

    Returns
    -------
    torch.Tensor
        Scalar, at most 0 (reached when every feature points the same way); lower means the
        features cover the sphere more evenly.
    """
    _checks.tensor(z, "z", ndim=2)
    if z.shape[0] < 2 or z.shape[1] < 1:
        raise ValueError(f"z needs at least two rows and one column, got shape {tuple(z.shape)}")
    tt = _checks.positive(t, "t")
    f = _checks.unit_rows(z)
    sq = torch.pdist(f).pow(2)
    return torch.logsumexp(-tt * sq, dim=0) - math.log(sq.numel())
