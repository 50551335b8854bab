"""Angles and distances between subspaces, and projections onto them.

A subspace is given by a basis matrix of shape ``(d, p)`` whose columns span it; the columns need
not be orthonormal. Inputs may be torch tensors or NumPy arrays; results are NumPy arrays or
floats. Principal angles are computed so that they stay accurate when they are tiny.
"""

from __future__ import annotations

import numpy as np

from . import _checks

__all__ = ["principal_angles", "subspace_distance", "projection_length"]


_EPS = float(np.finfo(float).eps)


def _check_basis(m: np.ndarray, name: str) -> None:
    if m.shape[1] == 0 or m.shape[0] < m.shape[1]:
        raise ValueError(f"{name} must have shape (d, p) with 1 <= p <= d, got {m.shape}")
    if not np.abs(m).max() > 0:
        raise ValueError(f"{name} is zero: its columns span no subspace")


def _qr_basis(m: np.ndarray, name: str) -> np.ndarray:
    """Q factor of a checked ``(d, p)`` matrix; ``ValueError`` naming it when its columns are dependent."""
    q, r = np.linalg.qr(m)
    diag = [abs(v) for v in r.diagonal().tolist()]  # p numbers: Python beats three NumPy reductions here
    if min(diag) <= max(m.shape) * _EPS * max(diag):
        raise ValueError(f"the columns of {name} are linearly dependent; they do not span a {m.shape[1]}-dim subspace")
    return q


def principal_angles(a, b) -> np.ndarray:
    r"""Principal angles (radians, ascending) between the column spans of ``a`` and ``b``.

    Accurate at small angles: cosines come from the SVD of :math:`Q_a^\top Q_b` and sines from the
    SVD of :math:`Q_b - Q_a Q_a^\top Q_b`; each angle is taken from whichever of the two is
    better conditioned (Björck & Golub 1973; Knyazev & Argentati 2002).

    Parameters
    ----------
    a, b
        Bases of shapes ``(d, p)`` and ``(d, q)`` (full column rank, same ``d``).

    Returns
    -------
    numpy.ndarray
        ``min(p, q)`` angles in :math:`[0, \pi/2]`, ascending.
    """
    ma = _checks.array(a, "a", ndim=2)
    mb = _checks.array(b, "b", ndim=2)
    _check_basis(ma, "a")
    _check_basis(mb, "b")
    if ma.shape[0] != mb.shape[0]:
        raise ValueError(f"a and b must live in the same ambient dimension, got {ma.shape[0]} and {mb.shape[0]}")
    qa, qb = _qr_basis(_checks.pow2_rescale(ma)[0], "a"), _qr_basis(_checks.pow2_rescale(mb)[0], "b")
    if qa.shape[1] < qb.shape[1]:
        qa, qb = qb, qa
    m = qa.T @ qb
    cos = np.clip(np.linalg.svd(m, compute_uv=False), 0.0, 1.0)  # descending
    sin = np.clip(np.sort(np.linalg.svd(qb - qa @ m, compute_uv=False)), 0.0, 1.0)  # ascending
    ang_cos = np.arccos(cos)
    ang_sin = np.arcsin(sin)
    return np.where(cos**2 < 0.5, ang_cos, ang_sin)


def subspace_distance(a, b, kind: str = "sin_max") -> float:
    r"""Distance between the column spans of ``a`` ``(d, p)`` and ``b`` ``(d, q)``.

    ``kind``:

    * ``"sin_max"``: :math:`\sin\theta_{\max}`, the spectral norm of :math:`P_a - P_b` when
      ``p == q`` (0 = same subspace, 1 = some direction of one is orthogonal to the other);
    * ``"projection"``: :math:`\|\sin\theta\|_2 = \|P_a - P_b\|_F/\sqrt2` when ``p == q``;
    * ``"geodesic"``: :math:`\|\theta\|_2`, the Grassmann geodesic distance.
    """
    _checks.choice(kind, "kind", ("sin_max", "projection", "geodesic"))
    th = principal_angles(a, b)
    if kind == "sin_max":
        return float(np.sin(th.max()))
    if kind == "projection":
        return float(np.linalg.norm(np.sin(th)))
    return float(np.linalg.norm(th))


def projection_length(basis, directions, rtol: float = 1e-10) -> np.ndarray:
    r"""Length of the orthogonal projection of unit directions onto the column span of ``basis``.

    For a direction :math:`v` and a subspace :math:`S = \operatorname{span}(A)` this is
    :math:`\|\Pi_S v\| / \|v\| = \cos\angle(v, S)`: 1 when :math:`v \in S`, 0 when
    :math:`v \perp S`. With :math:`A = [w_1\ w_2]` the weight vectors of a two-neuron layer and
    :math:`v = e_j`, this is the measure :math:`P(e_j) = \|A(A^\top A)^{-1}A^\top e_j\|` of
    Yang, Li, Jiang and Li (AAAI-23) of how much of feature :math:`e_j` the layer has learned.
    It ignores the scale of the weights. Columns of ``basis`` may be linearly dependent: the span
    is computed from the singular vectors with singular value above ``rtol`` times the largest.

    Parameters
    ----------
    basis
        Spanning vectors as columns, shape ``(d, p)``, or a stack ``(r, d, p)`` of ``r`` such
        matrices (e.g. one per seed).
    directions
        One direction, shape ``(d,)``, or several as columns, shape ``(d, q)``; nonzero.
    rtol
        Relative threshold for the numerical rank of ``basis``.

    Returns
    -------
    numpy.ndarray
        Shape ``(...,)`` or ``(..., q)``: leading dimension ``r`` for a stack of bases, trailing
        dimension ``q`` for several directions; values in :math:`[0, 1]`.
    """
    a = _checks.array(basis, "basis", ndim=(2, 3))
    v = _checks.array(directions, "directions", ndim=(1, 2))
    rt = _checks.positive(rtol, "rtol")
    if a.shape[-1] < 1 or a.shape[-2] < 1:
        raise ValueError(f"basis must have shape (d, p) or (r, d, p) with d, p >= 1, got {a.shape}")
    single_dir = v.ndim == 1
    vv = v[:, None] if single_dir else v
    if vv.shape[0] != a.shape[-2]:
        raise ValueError(f"directions must have {a.shape[-2]} rows (the dimension of basis), got shape {v.shape}")
    norms = np.linalg.norm(vv, axis=0)
    if np.any(norms == 0):
        raise ValueError("directions must be nonzero")
    single_basis = a.ndim == 2
    aa = a[None] if single_basis else a
    u, s, _ = np.linalg.svd(aa, full_matrices=False)  # u: (r, d, p), s: (r, p)
    if np.any(s[:, 0] == 0):
        raise ValueError("basis must not be all zeros")
    keep = s > rt * s[:, :1]  # numerical rank, per stacked basis
    coef = np.einsum("rdp,dq->rpq", u, vv / norms) * keep[:, :, None]
    out = np.clip(np.linalg.norm(coef, axis=1), 0.0, 1.0)  # (r, q)
    if single_dir:
        out = out[:, 0]
    return out[0] if single_basis else out
