r"""Stiefel and Grassmann helpers: orthonormal frames, projections, retractions, eigenspaces.

A *frame* is a matrix ``w`` of shape ``(d, k)`` with orthonormal columns (a point of the Stiefel
manifold :math:`\mathrm{St}(d, k)`); its column span is a point of the Grassmannian
:math:`\mathrm{Gr}(d, k)`. Functions take and return torch tensors (use float64 for geometry
experiments: principal angles near zero need it).
"""

from __future__ import annotations

import torch

from . import _checks

__all__ = [
    "random_frame",
    "orthonormalize",
    "projector",
    "tangent_project_stiefel",
    "grassmann_gradient",
    "qr_retraction",
    "grassmann_step",
    "top_eigenspace",
    "is_orthonormal",
]


def random_frame(
    d: int, k: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """A uniformly random frame of shape ``(d, k)`` (QR of a Gaussian matrix), ``1 <= k <= d``."""
    d = _checks.integer(d, "d", minimum=1)
    k = _checks.integer(k, "k", minimum=1, maximum=d)
    dtype = _checks.float_dtype(dtype)
    return orthonormalize(torch.randn(d, k, generator=generator, dtype=dtype))


def orthonormalize(w: torch.Tensor) -> torch.Tensor:
    """The Q factor of ``w`` (shape ``(d, k)``, ``k <= d``), with signs fixed so ``diag(R) > 0``.

    The sign convention makes the map continuous, so it is a proper retraction.
    """
    _checks.tensor(w, "w", ndim=2)
    if w.shape[1] > w.shape[0]:
        raise ValueError(f"w must have at most as many columns as rows, got shape {tuple(w.shape)}")
    if w.shape[1] < 1:
        raise ValueError(f"w must have at least one column, got shape {tuple(w.shape)}")
    q, r = torch.linalg.qr(w)
    signs = torch.sign(torch.diagonal(r))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return q * signs


def is_orthonormal(w: torch.Tensor, tol: float = 1e-8) -> bool:
    """Whether :math:`\\|W^\\top W - I\\|_\\infty \\le` ``tol``."""
    _checks.tensor(w, "w", ndim=2)
    t = _checks.positive(tol, "tol", allow_zero=True)
    if w.shape[1] < 1:
        raise ValueError(f"w must have at least one column, got shape {tuple(w.shape)}")
    eye = torch.eye(w.shape[1], dtype=w.dtype, device=w.device)
    return bool((w.T @ w - eye).abs().max() <= t)


def projector(w: torch.Tensor) -> torch.Tensor:
    r"""Orthogonal projector :math:`W (W^\top W)^{-1} W^\top` onto the column span of ``w`` ``(d, k)``.

    ``w`` must have full column rank (otherwise :math:`W^\top W` is singular): ``ValueError``."""
    q = orthonormalize(w)
    r = torch.linalg.qr(w)[1].diagonal().abs()
    if not float(r.min()) > max(w.shape) * torch.finfo(w.dtype).eps * float(r.max()):
        raise ValueError("the columns of w are linearly dependent: W^T W is singular and the projector undefined")
    return q @ q.T


def tangent_project_stiefel(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    r"""Project a Euclidean gradient ``g`` onto the tangent space of the Stiefel manifold at ``w``:
    :math:`G - W\,\mathrm{sym}(W^\top G)` (Edelman, Arias & Smith 1998; embedded metric).

    Shapes: ``w`` and ``g`` are ``(d, k)``.
    """
    _checks.tensor(w, "w", ndim=2)
    _checks.tensor(g, "g", ndim=2)
    _checks.same_shape(w, g, "w", "g")
    _checks.compatible(w=w, g=g)
    wg = w.T @ g
    return g - w @ (0.5 * (wg + wg.T))


def grassmann_gradient(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    r"""Riemannian gradient on the Grassmannian at the frame ``w``: :math:`(I - W W^\top) G`.

    Shapes: ``w`` and ``g`` are ``(d, k)``; ``w`` must be orthonormal.
    """
    _checks.tensor(w, "w", ndim=2)
    _checks.tensor(g, "g", ndim=2)
    _checks.same_shape(w, g, "w", "g")
    _checks.compatible(w=w, g=g)
    return g - w @ (w.T @ g)


def qr_retraction(w: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
    """Retract the tangent step ``xi`` at the frame ``w``: ``orthonormalize(w + xi)``. Shapes ``(d, k)``."""
    _checks.tensor(w, "w", ndim=2)
    _checks.tensor(xi, "xi", ndim=2)
    _checks.same_shape(w, xi, "w", "xi")
    _checks.compatible(w=w, xi=xi)
    return orthonormalize(w + xi)


def grassmann_step(w: torch.Tensor, g: torch.Tensor, lr: float, ascent: bool = False) -> torch.Tensor:
    """One Riemannian gradient step on the Grassmannian with QR retraction.

    Parameters
    ----------
    w
        Orthonormal frame, shape ``(d, k)``.
    g
        Euclidean gradient of the objective at ``w``, shape ``(d, k)``.
    lr
        Step size (> 0).
    ascent
        Step uphill (maximise) instead of downhill.
    """
    eta = _checks.positive(lr, "lr")
    ascent = _checks.boolean(ascent, "ascent")
    xi = grassmann_gradient(w, g)
    return _checks.finite_output(qr_retraction(w, eta * xi if ascent else -eta * xi), "grassmann_step", w=w, g=g)


def top_eigenspace(a: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending) and an orthonormal basis ``(d, k)`` of the top-``k`` eigenspace of
    the symmetric matrix ``a`` ``(d, d)``."""
    _checks.symmetric(a)
    k = _checks.integer(k, "k", minimum=1, maximum=a.shape[0])
    vals, vecs = torch.linalg.eigh(a)
    idx = torch.argsort(vals, descending=True)[:k]
    return vals[idx], vecs[:, idx]
