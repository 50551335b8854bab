r"""Coding rates and their reductions (Ma et al. 2007; Yu et al. 2020, MCR²; Qiang et al. 2024).

The coding rate :math:`R(Z, \epsilon)` counts the nats needed to code the rows of ``z`` up to
distortion :math:`\epsilon`; its reduction for a partition of the rows is the rate of the whole
minus the rates of the parts. Every function takes torch tensors of shape ``(n, k)`` (rows are
samples), is differentiable, and returns scalar tensors.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import _checks

__all__ = ["coding_rate", "coding_rate_reduction", "coding_rate_reduction_soft", "pair_coding_rate_reduction"]


def coding_rate(z: torch.Tensor, eps: float = 0.5) -> torch.Tensor:
    r"""Coding rate :math:`R(Z, \epsilon) = \tfrac12 \log\det\big(I + \tfrac{k}{n\epsilon^2} Z^\top Z\big)`
    (Ma et al. 2007; Yu et al. 2020, MCR²), in nats.

    ``z`` has shape ``(n, k)``, rows are samples. The smaller of the ``k x k`` covariance form and
    the ``n x n`` Gram form is used (they are equal by Sylvester's determinant identity); the
    log-determinant is twice the sum of the log-diagonal of the Cholesky factor.
    Differentiable; returns a scalar tensor.
    """
    _checks.tensor(z, "z", ndim=2, finite=False)
    n, k = z.shape
    if n < 1 or k < 1:
        raise ValueError(f"z must have at least one row and one column, got shape {tuple(z.shape)}")
    e = _checks.positive(eps, "eps")
    a, b = (z.T, z) if k <= n else (z, z.T)
    eye = torch.eye(a.shape[0], dtype=z.dtype, device=z.device)
    try:
        chol = torch.linalg.cholesky(torch.addmm(eye, a, b, alpha=k / (n * e * e)))  # I + c Z^T Z in one kernel
    except torch.linalg.LinAlgError:  # a non-finite z, or one so large that c Z^T Z overflows
        _checks.tensor(z, "z")
        raise ValueError(
            f"coding_rate: I + c Z^T Z is not positive definite in {z.dtype}: z is too large for eps "
            f"(its Gram matrix overflows or loses all precision); rescale z or raise eps"
        ) from None
    return _checks.finite_output(torch.log(torch.diagonal(chol)).sum(), "coding_rate", z=z)


def _group_rates(a: torch.Tensor, fn: str, what: str) -> torch.Tensor:
    """Half the log-determinant of each matrix of the batch ``a`` ``(groups, m, m)``, symmetric
    positive definite, via its Cholesky factor; ``ValueError`` if one is not (``z`` too large)."""
    try:
        chol = torch.linalg.cholesky(a)
    except torch.linalg.LinAlgError:
        raise ValueError(
            f"{fn}: a group's {what} is not positive definite in {a.dtype}: "
            f"z is too large for eps; rescale z or raise eps"
        ) from None
    return torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)


def coding_rate_reduction(z: torch.Tensor, labels, eps: float = 0.5) -> dict[str, torch.Tensor]:
    r"""Coding-rate reduction :math:`\Delta R = R(Z) - \sum_j \tfrac{n_j}{n} R(Z_j)` for the partition
    of the rows of ``z`` given by ``labels`` (Yu et al. 2020).

    With class labels this is MCR²'s objective; with sample identities as labels (the two views of
    each image share a label) it is the label-free, augmentation-pair version.

    Parameters
    ----------
    z
        Shape ``(n, k)``.
    labels
        Integer group of each row, shape ``(n,)``.
    eps
        Distortion :math:`\epsilon > 0`.

    Returns
    -------
    dict
        ``"expansion"`` (:math:`R(Z)`), ``"compression"`` (:math:`\sum_j \tfrac{n_j}{n} R(Z_j)`)
        and ``"reduction"`` (their difference), each a scalar tensor.
    """
    _checks.tensor(z, "z", ndim=2)
    _checks.rows(z, "z")
    y = _checks.labels(labels, "labels", n=z.shape[0])
    e = _checks.positive(eps, "eps")
    n, k = z.shape
    expansion = coding_rate(z, e)
    # Groups of equal size are stacked and handled by one batched Cholesky factorisation, so the
    # sample-pair partition (n/2 groups of two) costs no Python loop over samples.
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    group_size = counts[inverse[order]]
    compression = z.new_zeros(())
    for m in np.unique(counts):
        rows = torch.as_tensor(order[group_size == m], device=z.device)
        zg = z[rows].reshape(-1, int(m), k)  # (groups, m, k), rows of one group are contiguous
        gram = zg.transpose(1, 2) @ zg if k <= m else zg @ zg.transpose(1, 2)
        eye = torch.eye(gram.shape[-1], dtype=z.dtype, device=z.device)
        rates = _group_rates(eye + (k / (m * e * e)) * gram, "coding_rate_reduction", "I + c Z^T Z")
        compression = compression + (m / n) * rates.sum()
    return {"expansion": expansion, "compression": compression, "reduction": expansion - compression}


def coding_rate_reduction_soft(z: torch.Tensor, memberships: torch.Tensor, eps: float = 0.5) -> dict[str, torch.Tensor]:
    r"""Coding-rate reduction for a soft partition of the rows of ``z`` (Yu et al. 2020, MCR²).

    With memberships :math:`\pi_{ij} \ge 0`, :math:`\sum_j \pi_{ij} = 1`, and
    :math:`\Pi_j = \operatorname{diag}(\pi_{1j}, \dots, \pi_{nj})`,

    .. math::
        R_c(Z \mid \Pi) = \sum_j \frac{\operatorname{tr}\Pi_j}{2n}
        \log\det\Big(I + \frac{k}{\operatorname{tr}(\Pi_j)\,\epsilon^2} Z^\top \Pi_j Z\Big),
        \qquad \Delta R = R(Z) - R_c(Z \mid \Pi).

    One-hot memberships give :func:`coding_rate_reduction`; uniform memberships
    :math:`\pi_{ij} = 1/C` give :math:`\Delta R = 0`. Qiang et al. (2024) use this quantity with
    memberships read off a frozen early layer (the book's reconstruction). All groups are handled
    by one batched Cholesky factorisation; differentiable in ``z`` and ``memberships``.

    Parameters
    ----------
    z
        Shape ``(n, k)``, rows are samples.
    memberships
        Shape ``(n, C)``, non-negative rows summing to 1.
    eps
        Distortion :math:`\epsilon > 0`.

    Returns
    -------
    dict
        ``"expansion"``, ``"compression"`` and ``"reduction"``, each a scalar tensor.
    """
    _checks.tensor(z, "z", ndim=2)
    _checks.rows(z, "z")
    _checks.tensor(memberships, "memberships", ndim=2)
    if memberships.device != z.device:
        raise ValueError(f"z and memberships must be on the same device, got {z.device} and {memberships.device}")
    e = _checks.positive(eps, "eps")
    n, k = z.shape
    if memberships.shape[1] < 1:
        raise ValueError(f"memberships needs at least one column (group), got shape {tuple(memberships.shape)}")
    if memberships.shape[0] != n:
        raise ValueError(f"memberships must have one row per row of z ({n}), got shape {tuple(memberships.shape)}")
    if bool((memberships < 0).any()) or not torch.allclose(
        memberships.sum(1), torch.ones_like(memberships[:, 0]), atol=1e-5
    ):
        raise ValueError("memberships must be non-negative with rows summing to 1")
    w = memberships.to(z.dtype)
    mass = w.sum(0)  # (C,) = tr(Pi_j)
    keep = mass > 1e-12 * n
    w, mass = w[:, keep], mass[keep]
    cov = torch.einsum("nc,nk,nl->ckl", w, z, z)  # Z^T Pi_j Z for every group at once
    eye = torch.eye(k, dtype=z.dtype, device=z.device)
    rates = _group_rates(
        eye + (k / (e * e)) * cov / mass[:, None, None], "coding_rate_reduction_soft", "I + c Z^T Pi Z"
    )
    compression = (mass / n * rates).sum()
    expansion = coding_rate(z, e)
    return {"expansion": expansion, "compression": compression, "reduction": expansion - compression}


def pair_coding_rate_reduction(z1: torch.Tensor, z2: torch.Tensor, eps: float = 0.5) -> dict[str, torch.Tensor]:
    r"""Label-free coding-rate reduction of augmentation pairs in closed form: uniformity minus alignment.

    The rows of ``z1`` and ``z2`` are normalised to unit length and the two views of sample
    :math:`i` form one group of size two in :math:`Z = [z^{(1)}; z^{(2)}]` (``2N`` rows). With
    :math:`c = k/(2\epsilon^2)`, :math:`\kappa = c^2/(1+2c)` and :math:`\theta_i` the angle between
    the views of sample :math:`i`,

    .. math::
        \Delta R_{\rm pair} = \underbrace{R(Z, \epsilon)}_{\text{uniformity}}
        - \underbrace{\tfrac{1}{2N}\sum_i \log\big(1 + \kappa \sin^2\theta_i\big)}_{\text{alignment}}
        - \tfrac12\log(1 + 2c).

    This equals :func:`coding_rate_reduction` of the normalised ``Z`` with one label per sample
    (Qiang et al. 2024 use this pair partition; the decomposition is the book's). The alignment
    term is 0 exactly when every pair is aligned or antipodal (it sees cos^2 only; two vectors span a plane).

    Parameters
    ----------
    z1, z2
        The two views' features, shape ``(N, k)``, ``N >= 1``, nonzero rows.
    eps
        Distortion :math:`\epsilon > 0`.

    Returns
    -------
    dict
        ``"expansion"`` (:math:`R(Z)`, the uniformity term), ``"alignment"``, ``"constant"``
        (:math:`\tfrac12\log(1+2c)`), ``"compression"`` (alignment + constant) and
        ``"reduction"``, each a scalar tensor.
    """
    _checks.pair(z1, z2, "z1", "z2")
    _checks.finite(z1, "z1")
    _checks.finite(z2, "z2")
    e = _checks.positive(eps, "eps")
    n, k = z1.shape
    for name, zz in (("z1", z1), ("z2", z2)):
        if bool((zz.detach().abs().amax(dim=1) == 0).any()):  # not the norm: it underflows at 1e-30
            raise ValueError(f"{name} must have nonzero rows (they are normalised)")
    f1 = _checks.unit_rows(z1)
    f2 = _checks.unit_rows(z2)
    c = k / (2.0 * e * e)
    kappa = c * c / (1.0 + 2.0 * c)
    cos = (f1 * f2).sum(1).clamp(-1.0, 1.0)
    align = 0.5 * torch.log1p(kappa * (1.0 - cos * cos)).mean()
    const = z1.new_tensor(0.5 * math.log1p(2.0 * c))
    expansion = coding_rate(torch.cat([f1, f2], dim=0), e)
    compression = align + const
    return {
        "expansion": expansion,
        "alignment": align,
        "constant": const,
        "compression": compression,
        "reduction": expansion - compression,
    }
